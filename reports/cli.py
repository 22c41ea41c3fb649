"""``nnconform report``: one self-contained HTML page from check and bench documents.

    nnconform report [--check PATH ...] [--bench PATH ...] --html PATH [--title TEXT]

``--check`` takes check documents (``nnconform check --json``): one gives its verdict table;
two or more (one per framework, device or machine: repeat the option, or give several paths
after it) give one matrix that compares them, a column per document. ``--bench`` takes
nnconform bench documents (``nnconform bench --json``, several machines allowed) and
pytest-benchmark documents (``pytest --benchmark-json``). Every document is read and checked
before anything is written, and the page is written whole or not at all, so a bad input
leaves an existing report as it was. Exit status 0, or 2 with a one-line message.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_command", "run"]


def add_command(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report",
        help="write an HTML report of checks and benchmarks",
        description="Write one self-contained HTML page (no network needed to view it) from "
        "check documents and/or bench documents. Several check documents give one matrix that "
        "compares them. Exit 0, or 2 on a usage error.",
    )
    report.add_argument(
        "--check",
        metavar="PATH",
        nargs="+",
        action="extend",
        default=[],
        help="check documents: nnconform check --json (repeatable; two or more give a matrix "
        "with a column per document)",
    )
    report.add_argument(
        "--bench",
        metavar="PATH",
        nargs="+",
        action="extend",
        default=[],
        help="bench documents: nnconform bench --json, or pytest --benchmark-json (repeatable)",
    )
    report.add_argument("--html", metavar="PATH", required=True, help="where to write the page")
    report.add_argument("--title", default="nnconform report", help="the page's title")
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nnconform.files import write_text_atomically
    from nnconform.reports.documents import load_json, split_bench, validate_check
    from nnconform.reports.html import build_report

    if not args.check and not args.bench:
        return _usage("give --check PATH and/or --bench PATH (nothing to report)")
    if Path(args.html).is_dir():  # refused before the rename, which would leave a temporary
        return _usage(f"--html {args.html} is a directory; give a file name such as report.html")
    try:
        checks = [validate_check(load_json(path), path) for path in args.check]
        bench = [load_json(path) for path in args.bench]
        split_bench(bench, list(args.bench))  # here, so that an error names the file
        page = build_report(checks=checks, bench=bench, title=args.title)
    except ValueError as error:
        return _usage(str(error))
    try:
        write_text_atomically(args.html, page)
    except OSError as error:
        return _usage(f"cannot write {args.html}: {error.strerror or error}")
    print(args.html)
    return 0


def _usage(message: str) -> int:
    print(f"nnconform report: error: {message}", file=sys.stderr)
    return 2
