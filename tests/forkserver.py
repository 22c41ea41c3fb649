"""``nnconform`` commands run in fresh processes forked from one that has the checks imported.

A test that runs ``nnconform check`` wants a fresh process, as a user's would be, but most of
such a run's time went to importing numpy, scipy, Hypothesis, pytest and the checks (about 4
of 5.5 CPU seconds of a planted-bug run). ``run`` sends the command to a server, started once
per test process, that has imported them; the server forks a child that starts from that
state, runs the command with its output sent to files, and exits with the command's status.
The server is single-threaded, so that forking it is safe.

``run_python`` does the same for a Python script, from a server that has also imported the
libraries it names (``preload``): a script that measures a library's kernel in a fresh
process then pays no import of torch (3 to 4 s of CPU) per run. Importing torch starts no
thread, so forking after it is safe too; nothing on the server touches a GPU.

Protocol: one JSON request per line on the server's stdin, ``{"argv", "cwd", "out", "err"}``
and, for a script, ``"code"``; one JSON reply per line on its stdout, ``{"returncode": N}``.
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


def _main(request: dict) -> int:
    """The request's command (``nnconform *argv``) or script (``python -c code *argv``)."""
    if "code" not in request:
        from nnconform.cli import main

        return main(request["argv"])
    sys.argv = ["-c", *request["argv"]]
    exec(compile(request["code"], "<string>", "exec"), {"__name__": "__main__"})
    return 0


def _child(request: dict) -> None:
    """In the forked child: the request, in its directory, its output to files; never
    returns."""
    status = 3
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # not the server's request pipe
        for fd, name in ((1, "out"), (2, "err")):
            os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        if request["cwd"]:
            os.chdir(request["cwd"])
        status = _main(request)
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def serve(preload: list[str]) -> None:
    import importlib

    import hypothesis  # noqa: F401  (imported once, for every child)
    import pytest  # noqa: F401
    import scipy.optimize
    import scipy.stats  # noqa: F401

    import nnconform.checks.plugin
    import nnconform.cli  # noqa: F401

    for module in preload:
        importlib.import_module(module)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)


_SERVERS: dict[tuple[str, ...], subprocess.Popen] = {}  # this test process's, by preload


def _server(preload: tuple[str, ...]) -> subprocess.Popen:
    """The server with ``preload`` imported, started on first use and kept for the rest of
    this test process."""
    server = _SERVERS.get(preload)
    if server is None or server.poll() is not None:
        path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        server = _SERVERS[preload] = subprocess.Popen(
            [sys.executable, "-m", "tests.forkserver", *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ | {"PYTHONPATH": path},
        )
    return server


def run(*argv: str, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """``nnconform *argv`` in a fresh process (in ``cwd``): its exit status and output."""
    return _request({"argv": list(argv), "cwd": str(cwd or "")}, (), ["nnconform", *argv])


def run_python(code: str, *argv: str, preload: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``python -c code *argv`` in a fresh process forked after importing ``preload``."""
    request = {"argv": list(argv), "cwd": "", "code": code}
    return _request(request, preload, ["python", "-c", code, *argv])


def _request(
    request: dict, preload: tuple[str, ...], args: list[str]
) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as directory:
        out, err = Path(directory) / "stdout", Path(directory) / "stderr"
        request |= {"out": str(out), "err": str(err)}
        server = _server(preload)
        server.stdin.write(json.dumps(request) + "\n")
        server.stdin.flush()
        reply = server.stdout.readline()
        if not reply:
            raise RuntimeError(f"the nnconform fork server exited ({server.poll()})")
        return subprocess.CompletedProcess(
            args,
            json.loads(reply)["returncode"],
            out.read_text(errors="replace"),
            err.read_text(errors="replace"),
        )


if __name__ == "__main__":
    serve(sys.argv[1:])
