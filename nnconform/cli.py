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
import json
import os
import sys
from collections.abc import Sequence

from nnconform.reference.registry import FAMILIES, REGISTRY, Entry, resolve


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


class Parser(argparse.ArgumentParser):
    """A usage error is one line and exit status 2 (argparse would print the usage first)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="nnconform",
        description="Conformance and benchmark suite for neural-network training algorithms.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    catalogue = commands.add_parser("catalogue", help="print the catalogue with coverage")
    catalogue.add_argument("--json", action="store_true", help="print a JSON list instead")
    catalogue.add_argument("--family", choices=FAMILIES, help="only this family")
    catalogue.set_defaults(run=_catalogue)

    # Imported here, not at the top: `nnconform catalogue` need not import pytest, nor
    # `nnconform check` the benchmark harness.
    from nnconform.checks import cli as check
    from nnconform.checks.perf import cli as bench
    from nnconform.reports import cli as report

    check.add_command(commands)
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
