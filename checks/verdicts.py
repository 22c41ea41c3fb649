"""Verdicts: one record per (algorithm, property) that a check leaves behind.

The plugin opens a ``Record`` before each check and closes it from the check's outcome; the
assertion helpers fill in the worst error, the matched variant and the counterexample while the
check runs (Hypothesis may call the check body many times: the errors are the worst over all
of them, the counterexample is the last failing call, which is the shrunk one).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["STATUSES", "Record", "current", "open_record"]

# pass: matches the oracle's default (source) variant; variant: matches a documented
# non-default variant; fail: matches none, or a property does not hold; unsupported: the
# target lacks a function the check needs; error: the check itself broke (a bug to report);
# xfail / xpass: listed in the expected-failures file.
STATUSES = ("pass", "variant", "fail", "unsupported", "error", "xfail", "xpass")


@dataclass
class Record:
    algorithm: str
    property: str
    status: str = "pass"
    variant: str | None = None
    default_variant: str | None = None
    matched: list[str] | None = None  # the variants every input of the check matched
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    tolerance: dict[str, float] | None = None
    counterexample: dict[str, Any] | None = None
    message: str | None = None
    nodeid: str = ""
    duration_s: float = 0.0
    closest: dict[str, Any] | None = field(default=None)
    timed_out: bool = False  # the message is a call's timeout
    compared: int = 0  # comparisons with the oracle that were made
    unexposed: list[str] = field(default_factory=list)  # None fields: not compared
    unsupported_examples: int = 0  # examples the target answered with NotImplementedError
    unsupported_reason: str | None = None

    def observe(self, abs_err: float, rel_err: float, tolerance: dict[str, float]) -> None:
        """Keep the worst errors seen so far (NaN counts as worst)."""
        self.max_abs_err = _worst(self.max_abs_err, abs_err)
        self.max_rel_err = _worst(self.max_rel_err, rel_err)
        self.tolerance = tolerance

    def as_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["unexposed"] = sorted(set(self.unexposed))
        return record


def _worst(old: float | None, new: float) -> float:
    if old is None or math.isnan(new):
        return new
    return old if math.isnan(old) else max(old, new)


_current: Record | None = None


def open_record(record: Record | None) -> None:
    global _current
    _current = record


def current() -> Record:
    """The record of the running check (a throw-away one outside a checks session, so that
    the helpers also work in a plain script)."""
    return _current if _current is not None else Record("?", "?")
