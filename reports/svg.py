"""Three small charts as inline SVG: markers (joined by lines) on log–log axes, horizontal bars,
and intervals (a marker with its error bar per row, on a log axis, as ratios are read).

No plotting library and no script: the report must open from a file with no network, and the
charts are a few hundred elements each. Every chart is an ``<svg class="plot" role="img">``
with an ``aria-label`` and a ``<title>``; a series is a ``<g class="series">`` of markers
(``class="marker"``), joined by a ``<polyline class="line">`` only when it has at least
``JOIN_AT_LEAST`` points: a line between two measured sizes would read as if the sizes between
them had been measured too. Bars are ``<rect class="bar">``. All text (titles, names, tick
labels) goes through ``markup.element`` and is escaped there.

Log axes put their ticks at 1–2–5 × 10ᵏ (base 10) or at powers of two (base 2), as
Cleveland recommends for data spanning orders of magnitude ("The Elements of Graphing Data",
1985, §2.4: log base 2 for factors of two, the data's own doubling sweep).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nnconform.reports.markup import Markup, element

__all__ = [
    "Axis",
    "Bar",
    "Interval",
    "Reference",
    "Series",
    "bar_chart",
    "interval_chart",
    "line_chart",
]

# Okabe & Ito's colour-blind-safe palette (Color Universal Design, 2008), black last.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("circle", "square", "diamond", "triangle")

# Layout in SVG user units (the plot scales with the page: width 100 %, height auto).
WIDTH = 580  # two side by side on a wide page
LEFT, RIGHT, TOP, BOTTOM = 66, 164, 30, 46  # margins; the legend lives in the right one
ROW = 24  # one bar of a bar chart
# Longer names are cut (whole in a tooltip): the legend and the bar labels have fixed room.
LEGEND_CHARS, BAR_LABEL_CHARS = 19, 25
JOIN_AT_LEAST = 3  # points of a series before a line joins them; fewer: markers only


@dataclass(frozen=True)
class Axis:
    label: str
    base: int = 10  # 10: ticks at 1–2–5 × 10ᵏ; 2: ticks at 2ᵏ
    tick_format: Callable[[float], str] = str


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]  # (x, y), both > 0
    colour: str = PALETTE[0]
    marker: str = "circle"
    hollow: Sequence[bool] = field(default=())  # per point: an open marker (a noisy measurement)


@dataclass(frozen=True)
class Reference:
    """A horizontal line across a line chart, or a vertical one across a bar chart."""

    value: float
    label: str


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # written at the end of the bar
    colour: str = PALETTE[0]
    hollow: bool = False  # an open bar: a noisy measurement, as an open marker is
    note: str = ""  # why the bar reads as it does (in its tooltip), e.g. above 100 % of a roof


@dataclass(frozen=True)
class Interval:
    """One row of an interval chart: an estimate and its interval, low <= value <= high."""

    label: str
    value: float
    low: float
    high: float
    text: str  # written right of the interval
    colour: str = PALETTE[0]
    hollow: bool = False  # an open marker: a noisy measurement


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _f(v: float) -> str:
    return f"{v:.1f}"


def _text(content: str, x: float, y: float, **attributes: object) -> Markup:
    return element("text", content, x=_f(x), y=_f(y), **attributes)


def _reference_lines(references, sx, top: float, bottom: float) -> list[Markup]:
    """A labelled vertical line at each reference value (a roof, a ratio of 1)."""
    return [
        element(
            "g",
            element("title", r.label),
            _line(sx(r.value), top, sx(r.value), bottom),
            _text(r.label, sx(r.value), top - 6, text_anchor="middle"),
            class_="reference",
        )
        for r in references
    ]


def _line(x1: float, y1: float, x2: float, y2: float, **attributes: object) -> Markup:
    return element("line", x1=_f(x1), y1=_f(y1), x2=_f(x2), y2=_f(y2), **attributes)


def _rect(x: float, y: float, width: float, height: float, **attributes: object) -> Markup:
    return element("rect", x=_f(x), y=_f(y), width=_f(width), height=_f(height), **attributes)


def _decimal(mantissa: int, exponent: int) -> float:
    # float("5e-6") is the float nearest 5·10⁻⁶; 5 * 10.0**-6 need not be.
    return float(f"{mantissa}e{exponent}")


# ---------------------------------------------------------------------------------------------
# Log axes


def _log_domain(values: Sequence[float], base: int) -> tuple[float, float]:
    """The data's range widened by 6 % of its span on each side, and to at least a factor of 5
    (base 10) or 4 (base 2): wide enough to hold two ticks whatever the data."""
    lo, hi = math.log(min(values), base), math.log(max(values), base)
    least = math.log(5 if base == 10 else 4, base)
    if hi - lo < least:
        middle = (hi + lo) / 2
        lo, hi = middle - least / 2, middle + least / 2
    pad = 0.06 * (hi - lo)
    return base ** (lo - pad), base ** (hi + pad)


def _log_ticks(lo: float, hi: float, base: int, most: int = 9) -> list[float]:
    """Ticks inside [lo, hi]: 1, 2, 5 × 10ᵏ (denser over less than a decade, powers of 10
    only over many decades), or 2ᵏ (every second or third one when there are many)."""
    first, last = math.floor(math.log(lo, base)), math.ceil(math.log(hi, base))
    if base == 10:
        # 1–2–5 first; denser when that leaves fewer than three; powers of ten when too many.
        for mantissas in ((1, 2, 5), (1, 2, 3, 5), (1, 2, 3, 4, 5, 6, 8), (1,)):
            ticks = [_decimal(m, k) for k in range(first, last + 1) for m in mantissas]
            ticks = [t for t in ticks if lo <= t <= hi]
            if (len(ticks) >= 3 or mantissas == (1,)) and len(ticks) <= most:
                return ticks
    else:
        ticks = [float(base**k) for k in range(first, last + 1) if lo <= base**k <= hi]
    step = math.ceil(len(ticks) / most)
    return ticks[::step]


@dataclass(frozen=True)
class _Scale:
    lo: float
    hi: float
    start: float  # pixel of lo
    end: float  # pixel of hi

    def __call__(self, v: float) -> float:
        fraction = math.log(v / self.lo) / math.log(self.hi / self.lo)
        return self.start + fraction * (self.end - self.start)


def _frame(title: str, description: str, width: float, height: float, *body: object) -> Markup:
    return element(
        "svg",
        element("title", title),
        _text(title, LEFT, 18, class_="plot-title"),
        *body,
        class_="plot",
        role="img",
        aria_label=f"{title}: {description}",
        viewBox=f"0 0 {_f(width)} {_f(height)}",
        width=_f(width),
        height=_f(height),
    )


def _marker(
    shape: str, x: float, y: float, colour: str, hollow: bool, css: str | None = "marker"
) -> Markup:
    style = {
        "fill": "#fff" if hollow else colour,
        "stroke": colour,
        "stroke_width": "1.5",
        "class_": css,
    }
    r = 3.6
    d = 1.3 * r  # diamonds and triangles look smaller than a circle of the same radius
    if shape == "square":
        return _rect(x - r, y - r, 2 * r, 2 * r, **style)
    if shape == "diamond":
        corners = [(x, y - d), (x + d, y), (x, y + d), (x - d, y)]
    elif shape == "triangle":
        corners = [(x, y - d), (x + d, y + 0.8 * d), (x - d, y + 0.8 * d)]
    else:
        return element("circle", cx=_f(x), cy=_f(y), r=_f(r), **style)
    return element("polygon", points=" ".join(f"{_f(a)},{_f(b)}" for a, b in corners), **style)


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x: Axis,
    y: Axis,
    references: Sequence[Reference] = (),
    height: float = 300,
) -> Markup:
    """Markers per series on log–log axes, joined by a polyline when the series has at least
    ``JOIN_AT_LEAST`` points; a legend on the right, and dashed horizontal reference lines (e.g.
    the STREAM bandwidth)."""
    drawn = [s for s in series if s.points]
    if not drawn:
        raise ValueError(f"line_chart {title!r}: no series has a point to draw")
    xs = [px for s in drawn for px, _ in s.points]
    ys = [py for s in drawn for _, py in s.points] + [r.value for r in references]
    if min(xs) <= 0 or min(ys) <= 0:
        raise ValueError(f"line_chart {title!r}: log axes need positive values")
    left, right, top, bottom = LEFT, WIDTH - RIGHT, TOP, height - BOTTOM  # the plot area
    sx = _Scale(*_log_domain(xs, x.base), left, right)
    sy = _Scale(*_log_domain(ys, y.base), bottom, top)

    grid, ticks = [], []
    for t in _log_ticks(sx.lo, sx.hi, x.base):
        grid.append(_line(sx(t), top, sx(t), bottom))
        ticks.append(
            _text(x.tick_format(t), sx(t), bottom + 15, class_="tick", text_anchor="middle")
        )
    for t in _log_ticks(sy.lo, sy.hi, y.base):
        grid.append(_line(left, sy(t), right, sy(t)))
        ticks.append(_text(y.tick_format(t), left - 6, sy(t) + 4, class_="tick", text_anchor="end"))
    middle = (top + bottom) / 2
    axes = [
        element("g", *grid, class_="grid"),
        _rect(left, top, right - left, bottom - top, class_="frame"),
        *ticks,
        _text(x.label, (left + right) / 2, height - 8, class_="axis-label", text_anchor="middle"),
        _text(y.label, 14, middle, class_="axis-label", text_anchor="middle",
              transform=f"rotate(-90 14 {_f(middle)})"),
    ]  # fmt: skip

    references_drawn = [
        element(
            "g",
            element("title", r.label),
            _line(left, sy(r.value), right, sy(r.value)),
            _text(r.label, right - 4, sy(r.value) - 4, text_anchor="end"),
            class_="reference",
        )
        for r in references
    ]

    lines = []
    for s in drawn:
        hollow = list(s.hollow) or [False] * len(s.points)
        order = sorted(range(len(s.points)), key=lambda i: s.points[i])  # by x
        coordinates = " ".join(f"{_f(sx(s.points[i][0]))},{_f(sy(s.points[i][1]))}" for i in order)
        joined = len({px for px, _ in s.points}) >= JOIN_AT_LEAST
        lines.append(
            element(
                "g",
                element("title", s.name),
                element("polyline", points=coordinates, stroke=s.colour, fill="none", class_="line")
                if joined
                else None,
                *(
                    _marker(s.marker, sx(px), sy(py), s.colour, hollow[i])
                    for i, (px, py) in enumerate(s.points)
                ),
                class_="series",
            )
        )

    legend = []
    for i, s in enumerate(drawn):
        lx, ly = right + 14, top + 8 + 18 * i
        joined = len({px for px, _ in s.points}) >= JOIN_AT_LEAST
        legend.append(
            element(
                "g",
                element("title", s.name),
                _line(lx, ly, lx + 22, ly, stroke=s.colour) if joined else None,
                _marker(s.marker, lx + 11, ly, s.colour, False, css=None),
                _text(_cut(s.name, LEGEND_CHARS), lx + 28, ly + 4),
                class_="legend",
            )
        )
    description = f"{y.label} against {x.label}, log–log; " + "; ".join(
        f"{s.name}: {len(s.points)} point{'s' * (len(s.points) != 1)}" for s in drawn
    )
    return _frame(title, description, WIDTH, height, *axes, *references_drawn, *lines, *legend)


# ---------------------------------------------------------------------------------------------
# Bars


def _linear_ticks(hi: float, most: int = 6) -> list[float]:
    """0, step, 2 step, ... up to hi or just past it, the step a 1–2–5 × 10ᵏ giving at most
    ``most`` intervals."""
    exponent = math.floor(math.log10(hi / most))
    for k in (exponent, exponent + 1):
        for m in (1, 2, 5):
            step = _decimal(m, k)
            if math.ceil(hi / step - 1e-9) <= most:
                return [i * step for i in range(math.ceil(hi / step - 1e-9) + 1)]
    return [0.0, hi]


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    axis: Axis,
    x_max: float | None = None,
    references: Sequence[Reference] = (),
) -> Markup:
    """One horizontal bar per entry on a linear axis from 0 to at least ``x_max`` (bars are
    lengths: on a log axis their ratios would mean nothing), labels on the left, and dashed
    vertical reference lines. A hollow bar is drawn open (outline only); a bar's note joins
    its tooltip."""
    if not bars:
        raise ValueError(f"bar_chart {title!r}: no bars")
    if min(b.value for b in bars) < 0:
        raise ValueError(f"bar_chart {title!r}: bars need values >= 0")
    # The plot area; the left margin holds the labels, the right one the longest bar's value
    # (about 6 user units a character at 11 px).
    room = min(max(110, 6 * max(len(b.text) for b in bars) + 12), 220)
    left, right, top = 184, WIDTH - room, TOP + 14
    bottom = top + ROW * len(bars)
    height = bottom + BOTTOM
    largest = max([b.value for b in bars] + [r.value for r in references] + [x_max or 0.0])
    ticks = _linear_ticks(largest or 1.0)
    hi = ticks[-1]

    def sx(v: float) -> float:
        return left + v / hi * (right - left)

    parts = []
    for t in ticks:
        parts.append(_line(sx(t), top, sx(t), bottom, class_="gridline"))
        parts.append(
            _text(axis.tick_format(t), sx(t), bottom + 15, class_="tick", text_anchor="middle")
        )
    parts.append(
        _text(axis.label, (left + right) / 2, height - 8, class_="axis-label", text_anchor="middle")
    )
    parts += _reference_lines(references, sx, top, bottom)  # under the bars and their values
    for i, b in enumerate(bars):
        y = top + ROW * i
        length = max(sx(b.value) - left, 1.0)  # a sliver, so that a tiny value still shows
        tooltip = f"{b.label}: {b.text}" + (f". {b.note}" if b.note else "")
        fill = (
            {"fill": "#fff", "stroke": b.colour, "stroke_width": "1.5"}
            if b.hollow
            else {"fill": b.colour}
        )
        parts.append(
            element(
                "g",
                element("title", tooltip),
                _text(_cut(b.label, BAR_LABEL_CHARS), left - 8, y + ROW / 2 + 4, class_="bar-label",
                      text_anchor="end"),
                _rect(left, y + 4, length, ROW - 8, class_="bar hollow" if b.hollow else "bar",
                      **fill),
                _text(b.text, left + length + 5, y + ROW / 2 + 4, class_="bar-value"),
                class_="bar-entry",
            )
        )  # fmt: skip
    description = "; ".join(f"{b.label}: {b.text}" for b in bars)
    return _frame(title, description, WIDTH, height, *parts)


# ---------------------------------------------------------------------------------------------
# Intervals


def interval_chart(
    rows: Sequence[Interval],
    *,
    title: str,
    axis: Axis,
    references: Sequence[Reference] = (),
) -> Markup:
    """One row per entry: its estimate as a marker and its interval as an error bar with end
    caps, on a log axis (a ratio of 2 and one of 1/2 lie equally far from 1), labels on the
    left and dashed vertical reference lines (a ratio of 1)."""
    if not rows:
        raise ValueError(f"interval_chart {title!r}: no rows")
    values = [v for r in rows for v in (r.low, r.value, r.high)] + [r.value for r in references]
    if min(values) <= 0:
        raise ValueError(f"interval_chart {title!r}: log axes need positive values")
    if any(not r.low <= r.value <= r.high for r in rows):
        raise ValueError(f"interval_chart {title!r}: every row needs low <= value <= high")
    room = min(max(110, 6 * max(len(r.text) for r in rows) + 12), 220)
    left, right, top = 184, WIDTH - room, TOP + 14
    bottom = top + ROW * len(rows)
    height = bottom + BOTTOM
    sx = _Scale(*_log_domain(values, axis.base), left, right)

    parts = []
    for t in _log_ticks(sx.lo, sx.hi, axis.base):
        parts.append(_line(sx(t), top, sx(t), bottom, class_="gridline"))
        parts.append(
            _text(axis.tick_format(t), sx(t), bottom + 15, class_="tick", text_anchor="middle")
        )
    parts.append(
        _text(axis.label, (left + right) / 2, height - 8, class_="axis-label", text_anchor="middle")
    )
    parts += _reference_lines(references, sx, top, bottom)
    for i, r in enumerate(rows):
        y = top + ROW * i + ROW / 2
        x_low, x_high = sx(r.low), sx(r.high)
        parts.append(
            element(
                "g",
                element("title", f"{r.label}: {r.text}"),
                _text(_cut(r.label, BAR_LABEL_CHARS), left - 8, y + 4, class_="bar-label",
                      text_anchor="end"),
                _line(x_low, y, x_high, y, stroke=r.colour, class_="error-bar"),
                _line(x_low, y - 5, x_low, y + 5, stroke=r.colour, class_="error-bar"),
                _line(x_high, y - 5, x_high, y + 5, stroke=r.colour, class_="error-bar"),
                _marker("circle", sx(r.value), y, r.colour, r.hollow),
                _text(r.text, max(x_high, sx(r.value)) + 8, y + 4, class_="bar-value"),
                class_="interval",
            )
        )  # fmt: skip
    description = f"{axis.label}, log scale; " + "; ".join(f"{r.label}: {r.text}" for r in rows)
    return _frame(title, description, WIDTH, height, *parts)
