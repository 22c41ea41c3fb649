"""``nnconform bench``: see ``add_command``."""

from __future__ import annotations

import argparse


def add_command(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="time kernels of several targets side by side")
    bench.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError
