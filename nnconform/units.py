"""Numbers as a reader wants them: times in ns/µs/ms/s, rates in GB/s and GFLOP/s, sizes as
powers of two. Three significant digits: the benchmarks' own spread (IQR) is rarely below 1 %.
Every formatter returns "–" for a missing value (None), so a table never shows "None"."""

from __future__ import annotations

import math

__all__ = [
    "MISSING",
    "count",
    "percent",
    "plain",
    "power",
    "rate",
    "ratio",
    "seconds",
    "size",
]

MISSING = "–"

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _number(x: float, *, trim: bool = False) -> str:
    """Three significant digits without an exponent: 1.23, 12.3, 123, 1,234. ``trim`` drops
    trailing zeros (axis ticks: '10 µs', not '10.0 µs')."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    digits = max(2 - math.floor(math.log10(abs(x))), 0)
    text = f"{x:.{digits}f}"
    return text.rstrip("0").rstrip(".") if trim and "." in text else text


def plain(x: float | None, *, trim: bool = False) -> str:
    return MISSING if x is None else _number(x, trim=trim)


def seconds(t: float | None, *, trim: bool = False) -> str:
    """0.0123 -> '12.3 ms'; 4.5e-7 -> '450 ns'."""
    if t is None:
        return MISSING
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(t) >= scale:
            return f"{_number(t / scale, trim=trim)} {unit}"
    return f"{_number(t / 1e-9, trim=trim)} ns"


def rate(x: float | None, unit: str) -> str:
    """rate(38.2, 'GB/s') -> '38.2 GB/s'."""
    return MISSING if x is None else f"{_number(x)} {unit}"


def percent(fraction: float | None, *, trim: bool = False) -> str:
    return MISSING if fraction is None else f"{_number(100 * fraction, trim=trim)} %"


def ratio(x: float | None) -> str:
    return MISSING if x is None else f"{_number(x)}×"


def power(base: int, exponent: int) -> str:
    """power(2, 20) -> '2²⁰'."""
    return f"{base}{str(exponent).translate(_SUPERSCRIPT)}"


def count(n: float) -> str:
    """Tick labels of a count axis: 1, 10, 100, 1000, 10⁴ ...; non-integers as numbers."""
    if n >= 10_000 and n == 10 ** round(math.log10(n)):
        return power(10, round(math.log10(n)))
    return f"{n:,.0f}" if n == int(n) else _number(n)


def size(n: int) -> str:
    """16777216 -> '16,777,216 (2²⁴)': the exact count, and its power of two when it is one."""
    if n > 0 and n & (n - 1) == 0 and n >= 1024:
        return f"{n:,} ({power(2, n.bit_length() - 1)})"
    return f"{n:,}"
