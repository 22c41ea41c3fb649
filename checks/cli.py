"""The ``nnconform`` command line.

    nnconform catalogue [--json] [--family NAME]   the catalogue with the reference's coverage
    nnconform check [--target NAME|module:attr] [--device cpu|cuda] [--profile quick|ci|thorough]
                    [-k EXPR] [-n WORKERS] [--json PATH] [--junit-xml PATH] [--xfails FILE]
                    [--strict] [--seed N] [--timeout S]   the conformance checks (a pytest run)
    nnconform bench [--target NAME ...] [--kernel NAME ...] [--device cpu|cuda] [--size N ...]
                    [--threads N] [--json PATH] [--html PATH]   kernels timed side by side
    nnconform report [--check PATH] [--bench PATH ...] --html PATH   a self-contained HTML report

Exit status: 0 on success (no check failed), 1 when a check failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Sequence

import pytest

from checks.files import whole_file
from reference.registry import FAMILIES, REGISTRY, Entry, resolve


def _missing(entry: Entry) -> list[str]:
    """The functions of an entry that do not import: its gap in coverage."""
    missing = []
    for spec in entry.functions:
        try:
            if not callable(resolve(spec)):
                missing.append(spec)
        except (ImportError, AttributeError):
            missing.append(spec)
    return missing


def _catalogue(args: argparse.Namespace) -> int:
    entries = [e for e in REGISTRY.values() if args.family in (None, e.family)]
    rows = [(e, _missing(e)) for e in entries]
    if args.json:
        records = [e.as_json() | {"implemented": not gap, "missing": gap} for e, gap in rows]
        json.dump(records, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    header = ("id", "family", "variants", "functions", "reference", "sources")
    table = [header] + [
        (
            e.id,
            e.family,
            "; ".join(f"{k}: {'|'.join(v)}" for k, v in e.variants.items()) or "-",
            str(len(e.functions)),
            "ok" if not gap else f"missing {len(gap)}",
            ", ".join(e.sources),
        )
        for e, gap in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    implemented = sum(not gap for _, gap in rows)
    variants = sum(len(v) for e, _ in rows for v in e.variants.values())
    print(
        f"\n{implemented} of {len(rows)} catalogue ids implemented in the reference; "
        f"{variants} variant values across {sum(bool(e.variants) for e, _ in rows)} ids"
    )
    return 0


def _default_target() -> str:
    """torch when it is installed, else the reference."""
    return "torch" if importlib.util.find_spec("torch") is not None else "reference"


def _check(args: argparse.Namespace) -> int:
    from checks.plugin import CHECKS_DIR
    from checks.targets import TargetError, load_target

    target = args.target or _default_target()
    try:
        load_target(target, device=args.device)  # fail here, in one line, not in pytest
    except TargetError as error:
        print(f"nnconform check: error: {error}", file=sys.stderr)
        return 2
    argv = [
        str(CHECKS_DIR),
        f"--rootdir={CHECKS_DIR}",
        "--override-ini=addopts=",
        "-p",
        "no:cacheprovider",
        "-q",
        "--assert=plain",  # the checks compare through their own helpers, not bare asserts
        f"--target={target}",
        f"--device={args.device}",
        f"--profile={args.profile}",
    ]
    if args.k:
        argv += ["-k", args.k]
    if args.n is not None:
        argv += ["-n", str(args.n)]
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
    with whole_file(args.junit_xml) as junit:
        if junit:
            argv += [f"--junit-xml={junit}"]
        status = pytest.main(argv)
    if status in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return int(status)
    if status == pytest.ExitCode.NO_TESTS_COLLECTED:
        print(f"nnconform check: error: no check matches -k {args.k!r}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnconform",
        description="Conformance and benchmark suite for neural-network training algorithms.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    catalogue = commands.add_parser("catalogue", help="print the catalogue with coverage")
    catalogue.add_argument("--json", action="store_true", help="print a JSON list instead")
    catalogue.add_argument("--family", choices=FAMILIES, help="only this family")
    catalogue.set_defaults(run=_catalogue)

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
    check.add_argument("-n", metavar="WORKERS", help="spread the checks over processes")
    check.add_argument("--json", metavar="PATH", help="write the verdicts as JSON")
    check.add_argument("--junit-xml", metavar="PATH", help="write JUnit XML")
    check.add_argument("--xfails", metavar="FILE", help="expected failures, one per line")
    check.add_argument(
        "--strict", action="store_true", help="a matched non-default variant is a failure"
    )
    check.add_argument("--seed", type=int, help="Hypothesis seed (ci and quick default to 0)")
    check.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="time limit per check (default by profile)"
    )
    check.set_defaults(run=_check)

    # Imported here, not at the top: `nnconform check` need not import the benchmark harness.
    from checks.perf import cli as bench
    from reports import cli as report

    bench.add_command(commands)
    report.add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:
        # The reader went away (`nnconform catalogue | head`): not an error of ours. Point
        # stdout at devnull so that the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
