"""``nnconform report``: see ``add_command``."""

from __future__ import annotations

import argparse


def add_command(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="write an HTML report of checks and benchmarks")
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
