"""Planted-bug targets: the reference with one function replaced by a realistic mistake.

Each family's module (``tests/zoo/<family>.py``) defines targets built with ``planted``; the
tests in ``tests/test_zoo_<family>.py`` run the checks against each one and assert that the
property meant to catch the bug fails (and says which), while the reference passes it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nnconform.checks.targets import Target
from nnconform.checks.targets.reference import make_target
from tests import forkserver

__all__ = ["assert_caught", "failed", "planted", "run_checks"]


def planted(name: str, **functions: Callable[..., Any]) -> Target:
    """The reference target with ``functions`` replaced (or removed, when given None)."""
    base = make_target()
    namespace = dict(vars(base.namespace))
    for function, replacement in functions.items():
        if function not in namespace:
            raise KeyError(f"the reference has no function {function!r} to replace")
        namespace[function] = replacement
    return replace(base, name=name, namespace=SimpleNamespace(**namespace))


def run_checks(target: str, *, k: str | None = None, extra: tuple[str, ...] = ()) -> dict:
    """Run ``nnconform check`` on ``target`` in a fresh process (quick profile, seed 0, failures
    unshrunk: which check fails is the question, not its minimal example) and
    return its JSON document, with the exit status under ``"returncode"``."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "verdicts.json"
        argv = ["check", "--target", target, "--profile", "quick", "--no-shrink",
                "--json", str(path), *extra]  # fmt: skip
        if k:
            argv += ["-k", k]
        done = forkserver.run(*argv)
        document = json.loads(path.read_text()) if path.exists() else {"records": []}
    document["returncode"] = done.returncode
    document["output"] = done.stdout + done.stderr
    return document


def failed(document: dict) -> set[str]:
    """The checks that failed, as 'algorithm::property'."""
    return {
        f"{r['algorithm']}::{r['property']}" for r in document["records"] if r["status"] == "fail"
    }


def assert_caught(
    target: str, caught_by: str | set[str], *, k: str | None, alone: bool = False
) -> None:
    """Run the checks selected by ``k`` on a planted-bug target: the run fails (exit 1), and
    the check(s) ``caught_by`` ('algorithm::property') are among the failures. With ``alone``
    they are the only failures: every other selected check passes the bug, so the gate
    without ``caught_by`` (before that property was written) would not catch it."""
    expected = {caught_by} if isinstance(caught_by, str) else set(caught_by)
    document = run_checks(target, k=k)
    assert expected <= failed(document), document["output"][-3000:]
    if alone:
        assert failed(document) == expected, document["output"][-3000:]
    assert document["returncode"] == 1
