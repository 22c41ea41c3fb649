"""``nnconform`` commands run in fresh processes forked from one that has the checks imported.

A test that runs ``nnconform check`` wants a fresh process, as a user's would be, but most of
such a run's time went to importing numpy, scipy, Hypothesis, pytest and the checks (about 4
of 5.5 CPU seconds of a planted-bug run). ``run`` sends the command to a server, started once
per test process, that has imported them; the server forks a child that starts from that
state, runs the command with its output sent to files, and exits with the command's status.
The server is single-threaded, so that forking it is safe.

Protocol: one JSON request per line on the server's stdin, ``{"argv", "cwd", "out", "err"}``;
one JSON reply per line on its stdout, ``{"returncode": N}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

__all__ = ["run"]

ROOT = Path(__file__).resolve().parents[1]


def _child(request: dict) -> None:
    """In the forked child: the command, in its directory, its output to files; never
    returns."""
    from nnconform.cli import main

    status = 3
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # not the server's request pipe
        for fd, name in ((1, "out"), (2, "err")):
            os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        if request["cwd"]:
            os.chdir(request["cwd"])
        status = main(request["argv"])
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def serve() -> None:
    import hypothesis  # noqa: F401  (imported once, for every child)
    import pytest  # noqa: F401
    import scipy.optimize
    import scipy.stats  # noqa: F401

    import nnconform.checks.plugin
    import nnconform.cli  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)


_SERVER: subprocess.Popen | None = None  # this test process's server


def _server() -> subprocess.Popen:
    """The server, started on first use and kept for the rest of this test process."""
    global _SERVER
    if _SERVER is None or _SERVER.poll() is not None:
        path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        _SERVER = subprocess.Popen(
            [sys.executable, "-m", "tests.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ | {"PYTHONPATH": path},
        )
    return _SERVER


def run(*argv: str, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """``nnconform *argv`` in a fresh process (in ``cwd``): its exit status and output."""
    with tempfile.TemporaryDirectory() as directory:
        out, err = Path(directory) / "stdout", Path(directory) / "stderr"
        request = {"argv": list(argv), "cwd": str(cwd or ""), "out": str(out), "err": str(err)}
        server = _server()
        server.stdin.write(json.dumps(request) + "\n")
        server.stdin.flush()
        reply = server.stdout.readline()
        if not reply:
            raise RuntimeError(f"the nnconform fork server exited ({server.poll()})")
        return subprocess.CompletedProcess(
            ["nnconform", *argv],
            json.loads(reply)["returncode"],
            out.read_text(errors="replace"),
            err.read_text(errors="replace"),
        )


if __name__ == "__main__":
    serve()
