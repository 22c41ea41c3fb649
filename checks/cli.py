"""``nnconform check``: the conformance checks against a target, as a pytest run.

    nnconform check [--target NAME|module:attr] [--device cpu|cuda] [--profile quick|ci|thorough]
                    [-k EXPR] [-n WORKERS] [--json PATH] [--junit-xml PATH] [--xfails FILE]
                    [--strict] [--seed N] [--timeout S] [--surface [--surface-exceptions FILE]]

Exit status: 0 when no check failed, 1 when one did, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

from nnconform.files import unwritable, whole_file

__all__ = ["add_command"]


def _default_target() -> str:
    """torch when it is installed, else the reference."""
    return "torch" if importlib.util.find_spec("torch") is not None else "reference"


def _check(args: argparse.Namespace) -> int:
    from nnconform.checks.plugin import CHECKS_DIR, read_xfails
    from nnconform.checks.surface import read_exceptions
    from nnconform.checks.targets import TargetError, load_target, usable_device

    target = args.target or _default_target()
    try:  # every usage error here, in one line, before any check runs
        usable_device(load_target(target, device=args.device))
        for option, path in (("--json", args.json), ("--junit-xml", args.junit_xml)):
            if problem := unwritable(option, path):
                raise ValueError(problem)
        if args.xfails:
            read_xfails(args.xfails)
        if args.surface_exceptions:
            read_exceptions(args.surface_exceptions)
    except (TargetError, ValueError) as error:
        print(f"nnconform check: error: {error}", file=sys.stderr)
        return 2
    argv = [
        str(CHECKS_DIR),
        f"--rootdir={CHECKS_DIR}",
        "--override-ini=addopts=",
        "-p",
        "no:cacheprovider",
        "-v" if args.verbose else "-q",
        "--assert=plain",  # the checks compare through their own helpers, not bare asserts
        # without -v a failure prints its own brief (plugin._brief), so pytest's source-quoting
        # traceback (0.2 s per failure, parsing each frame's file) would be built for nothing;
        # a check's error still gets Python's own traceback
        *(() if args.verbose else ("--tb=native",)),
        f"--target={target}",
        f"--device={args.device}",
        f"--profile={args.profile}",
    ]
    if args.k:
        argv += ["-k", args.k]
    if args.n is not None:
        # worksteal: an idle worker takes queued checks from a busy one, so that a few slow
        # checks late in a worker's share do not leave the other worker idle to the end
        argv += ["-n", str(args.n), "--dist=worksteal"]
    if args.xfails:
        argv += [f"--xfails={args.xfails}"]
    if args.strict:
        argv += ["--strict-variants"]
    if args.seed is not None:
        argv += [f"--hypothesis-seed={args.seed}"]
    if args.timeout is not None:
        argv += [f"--check-timeout={args.timeout}"]
    if args.json:
        argv += [f"--nnconform-json={args.json}"]
    if args.allow_empty:
        argv += ["--allow-empty"]
    if args.no_shrink:
        argv += ["--no-shrink"]
    if args.surface:
        argv += ["--nnconform-surface"]
    if args.surface_exceptions:
        argv += [f"--surface-exceptions={args.surface_exceptions}"]
    with whole_file(args.junit_xml) as junit:
        if junit:
            # xunit1 keeps each test case's properties: its nnconform status and variant
            argv += [f"--junit-xml={junit}", "-o", "junit_family=xunit1"]
        status = pytest.main(argv)
        if junit and status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            Path(junit).unlink(missing_ok=True)  # a usage error leaves no results file
    if status in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return int(status)
    if status == pytest.ExitCode.NO_TESTS_COLLECTED:
        print(f"nnconform check: error: no check matches -k {args.k!r}", file=sys.stderr)
    return 2


def _workers(text: str) -> str:
    """pytest-xdist's -n: a number of processes, or auto / logical (one per CPU)."""
    if text in ("auto", "logical") or (text.isdigit() and int(text) >= 1):
        return text
    raise argparse.ArgumentTypeError(
        f"must be a number of processes (1, 2, …) or auto, got {text!r}"
    )


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def add_command(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check",
        help="run the conformance checks against a target",
        description="Run the conformance checks against a target. Exit 0 when no check fails, "
        "1 when one does, 2 on a usage error.",
    )
    check.add_argument(
        "--target",
        help="reference, torch, or module:attr (default: torch when installed, else reference)",
    )
    check.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    check.add_argument("--profile", default="ci", choices=("quick", "ci", "thorough"))
    check.add_argument("-k", metavar="EXPR", help="only the checks matching EXPR (pytest -k)")
    check.add_argument(
        "-n", metavar="WORKERS", type=_workers, help="spread the checks over processes (or auto)"
    )
    check.add_argument(
        "-v", "--verbose", action="store_true", help="each check by name, and whole tracebacks"
    )
    check.add_argument("--json", metavar="PATH", help="write the verdicts as JSON")
    check.add_argument("--junit-xml", metavar="PATH", help="write JUnit XML")
    check.add_argument("--xfails", metavar="FILE", help="expected failures, one per line")
    check.add_argument(
        "--strict", action="store_true", help="a matched non-default variant is a failure"
    )
    check.add_argument("--seed", type=int, help="Hypothesis seed (ci and quick default to 0)")
    check.add_argument(
        "--timeout",
        type=_positive,
        metavar="SECONDS",
        help="time limit per call of the target (default 10, thorough 60; a function's first "
        "call, where a JIT compiles, may take 5 times as long)",
    )
    check.add_argument(
        "--allow-empty",
        action="store_true",
        help="exit 0 when every selected check is unsupported (default: exit 2, checked nothing)",
    )
    check.add_argument(
        "--no-shrink",
        action="store_true",
        help="report the first failing example as found, not shrunk to a minimal one (faster "
        "failures, larger counterexamples)",
    )
    check.add_argument(
        "--surface",
        action="store_true",
        help="after the table, list what the run never exercised of the target: functions no "
        "check called, documented keywords and mode values never passed, output fields never "
        "compared (the JSON always has this 'surface' section)",
    )
    check.add_argument(
        "--surface-exceptions",
        metavar="FILE",
        help="accepted surface gaps, 'pattern  # reason' per line (default: the package's own)",
    )
    check.set_defaults(run=_check)
