"""One self-contained HTML5 page from check and bench documents.

Inline CSS, charts as inline SVG (``nnconform.reports.svg``), no script, no font, image or URL from
anywhere: the page opens from a file with no network, and its Content-Security-Policy forbids
scripts and fetches, a second wall behind the escaping of every document string
(``nnconform.reports.markup``). Sections, each only when its data is there:

    machine      one table per distinct machine, each run's settings and STREAM bandwidth
    throughput   GB/s (memory-bound) or GFLOP/s (compute-bound) against size, per kernel and device
    bandwidth    fraction of its STREAM roof per implementation at the largest size
    ratios       each implementation's ratio to the bench's baseline, its 95 % interval as an
                 error bar, per kernel and device (interleaved runs only)
    batch-size   mlp_step: time per update and per epoch against batch size
    results      one table per kernel: median, IQR, throughput, speed-ups, status
    conformance  the verdicts of a check document and its failures, or, given several, a
                 matrix comparing them (``nnconform.reports.conformance``)
    micro        pytest-benchmark documents (the oracle's micro-benchmarks)

The page claims only what was measured. A caption says "beyond the caches" only when the
working set exceeds the last-level cache that the machine record gives (``machines``), and
otherwise gives the sizes; a bar above 100 % of its roof says why it can be; a series is
drawn as markers only unless at least three sizes were measured; a measurement whose IQR
exceeds 10 % of its median is flagged as noisy wherever it appears (an open marker or bar, a
"noisy" cell), the oracle's micro-benchmarks included.

The roofline reading of "fraction of bandwidth" follows Williams, Waterman & Patterson,
"Roofline: an insightful visual performance model for multicore architectures", CACM 52(4),
2009: a memory-bound kernel cannot beat the machine's sustainable bandwidth, which STREAM
measures (McCalpin, "Memory bandwidth and machine balance in current high performance
computers", IEEE TCCA Newsletter, 1995) as long as its arrays are beyond the caches. A result
names its roof (``roof``: STREAM update for a kernel that works in place, triad for one that
writes fresh arrays, ``nnconform.checks.perf.stream``); a document written before roofs were
recorded is read against triad.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from nnconform import units
from nnconform.reports import conformance
from nnconform.reports.documents import number, split_bench, validate_check
from nnconform.reports.layout import facts, figure, table
from nnconform.reports.machines import (
    Machine,
    group_machines,
    last_level_cache,
    machine_name,
    readable_bytes,
    setting_label,
    setting_value,
)
from nnconform.reports.markup import Markup, element, raw
from nnconform.reports.svg import (
    MARKERS,
    PALETTE,
    Axis,
    Bar,
    Interval,
    Reference,
    Series,
    bar_chart,
    interval_chart,
    line_chart,
)

__all__ = ["SECTIONS", "build_report"]

SECTIONS = {  # id: heading, in page order
    "machine": "Machine and bandwidth",
    "throughput": "Throughput against size",
    "bandwidth": "Fraction of STREAM bandwidth",
    "ratios": "Ratios to the baseline",
    "batch-size": "Batch size: time per update and per epoch",
    "results": "Results",
    "conformance": "Conformance",
    "micro": "Oracle micro-benchmarks",
}
BATCH_KERNEL = "mlp_step"
NOISY = 0.10  # IQR / median above this is noisy: the bench's threshold (perf.harness.NOISY)
# STREAM counts triad's 12 B per element (read b, c; write a) without the write-allocate read
# of a, so 16 B cross the memory bus; a kernel that writes only lines it has just read (in
# place) pays no such read, and can reach 16/12 of triad (nnconform.checks.perf.stream).
IN_PLACE_CEILING = 16 / 12
STREAM_ARRAYS, STREAM_ITEM_BYTES = 3, 4  # a, b, c of float32

STYLE = raw("""
:root { color-scheme: light; --muted: #5a5a5a; --rule: #d8d8d8; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0 auto; padding: 0 1.5rem 3rem; max-width: 74rem; color: #1b1b1b; background: #fff; }
header { border-bottom: 1px solid var(--rule); margin-bottom: 1rem; }
h1 { font-size: 1.6rem; margin: 1.2rem 0 .3rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; border-bottom: 1px solid var(--rule); }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
nav a { margin-right: 1rem; }
p.note, .muted { color: var(--muted); }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .86rem; }
th, td { padding: .2rem .5rem; border-bottom: 1px solid var(--rule); text-align: left;
         vertical-align: top; }
th { background: #f3f3f3; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
td.status { min-width: 12rem; }
.wide { overflow-x: auto; max-width: 100%; }
table.facts th { background: none; font-weight: 600; }
tr.fastest td { font-weight: 600; }
.noisy { color: #a15c00; }
.status-unsupported { color: var(--muted); }
.status-error, .failure-status { color: #b00020; }
td.verdict { font-weight: 600; text-align: center; }
.verdict-pass { background: #d8f0dc; }
.verdict-variant { background: #dce8fa; }
.verdict-fail { background: #f8d4d4; }
.verdict-unsupported { background: #ececec; }
.verdict-error { background: #f6dcf2; }
.verdict-other, .verdict-xpass { background: #fff3c4; }
.verdict-xfail { background: #efe6d2; }
td.verdict.verdict-none { background: #fff; color: var(--muted); font-weight: 400; }
td.bad { color: #b00020; font-weight: 600; }
table.matrix th.target { font-weight: 400; text-align: center; vertical-align: bottom;
                         min-width: 8rem; }
table.matrix tr.family th { background: #e8e8e8; text-align: left; }
table.matrix tbody th[scope=row] { background: none; font-weight: 400; white-space: nowrap; }
table.matrix td.verdict a { color: inherit; }
figure.chart { margin: 0; max-width: 580px; }
figure.chart figcaption { color: var(--muted); font-size: .82rem; margin: .1rem 0 .8rem; }
figure.chart figcaption p { margin: .2rem 0; }
details { margin: .3rem 0; }
details.failure:target { outline: 2px solid #b00020; outline-offset: 2px; }
summary { cursor: pointer; }
pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; white-space: pre-wrap;
      font-size: .82rem; }
.plots { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: flex-start; }
svg.plot { max-width: 100%; height: auto; background: #fff; }
svg.plot text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
                fill: #222; }
svg.plot .plot-title { font-size: 13px; font-weight: 600; }
svg.plot .axis-label { font-size: 12px; }
svg.plot .grid line, svg.plot line.gridline { stroke: #e4e4e4; stroke-width: 1; }
svg.plot rect.frame { fill: none; stroke: #9a9a9a; stroke-width: 1; }
svg.plot polyline.line { fill: none; stroke-width: 2; }
svg.plot .legend line { stroke-width: 2; }
svg.plot .reference line { stroke: #444; stroke-width: 1.3; stroke-dasharray: 6 4; }
svg.plot .reference text { fill: #444; font-style: italic; }
svg.plot line.error-bar { stroke-width: 1.6; }
svg.plot .bar-value, svg.plot .reference text { paint-order: stroke; stroke: #fff;
                                                stroke-width: 3px; }
""")

# No script, no fetch of anything; inline styles only (the page's own <style>).
CSP = "default-src 'none'; style-src 'unsafe-inline'"


# ---------------------------------------------------------------------------------------------
# Bench runs


@dataclass(frozen=True)
class Run:
    """One bench document, the label that tells it apart from the others, and the anchor of
    its machine's table."""

    label: str
    document: dict[str, Any]
    machine: str = ""

    @property
    def results(self) -> list[dict[str, Any]]:
        return self.document["results"]

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] == "ok"]

    @property
    def record(self) -> dict[str, Any]:
        return self.document.get("machine") or {}

    def triad(self, device: str) -> float | None:
        return self.document.get("bandwidth", {}).get(device, {}).get("triad_gbs")

    def roof(self, rows: list[dict[str, Any]]) -> tuple[str, float | None]:
        """The STREAM pass that is the roof of these rows (one kernel on one device) and its
        GB/s: the one they name, else triad (documents written before roofs were recorded)."""
        named = next((r for r in rows if r.get("roof")), None)
        if named is None:
            return "triad", self.triad(rows[0]["device"])
        stream = self.document.get("bandwidth", {}).get(named["device"], {})
        return named["roof"], named.get("roof_gbs") or stream.get(f"{named['roof']}_gbs")


def _runs(documents: list[dict[str, Any]]) -> list[Run]:
    runs = []
    for i, document in enumerate(documents, 1):
        label = machine_name(document.get("machine") or {})
        if document.get("created"):
            label += f", {document['created']}"
        runs.append(Run(f"run {i}: {label}" if len(documents) > 1 else label, document))
    return runs


def _first_seen(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _noisy(r: dict[str, Any]) -> bool:
    """Flagged by the bench, or an IQR above 10 % of the median (an infinite one included)."""
    rel_iqr = r.get("rel_iqr")
    return bool(r.get("noisy")) or (rel_iqr is not None and rel_iqr > NOISY)


class Styles:
    """One colour and marker per implementation across the whole report, in order of first
    appearance (the bench writes the reference first)."""

    def __init__(self, implementations: Iterable[str]):
        self.index = {name: i for i, name in enumerate(_first_seen(implementations))}

    def series(self, name: str, points: list[tuple[float, float]], hollow: list[bool]) -> Series:
        i = self.index.get(name, 0)
        return Series(name, points, PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)], hollow)

    def colour(self, name: str) -> str:
        return PALETTE[self.index.get(name, 0) % len(PALETTE)]


def _metric(rows: list[dict[str, Any]]) -> tuple[str, str, Callable[[float | None], str]]:
    """What a kernel's throughput is measured in: GB/s when it is memory-bound (the bench
    gives bytes moved), GFLOP/s when it is compute-bound, else time per call."""
    if any(r.get("gbs") is not None for r in rows):
        return "gbs", "GB/s", lambda v: units.rate(v, "GB/s")
    if any(r.get("gflops") is not None for r in rows):
        return "gflops", "GFLOP/s", lambda v: units.rate(v, "GFLOP/s")
    return "median_s", "time per call", units.seconds


def _size_axis(label: str) -> Axis:
    if label == "batch size":
        return Axis("batch size", 10, units.count)
    return Axis(f"size ({label})", 2, lambda t: units.power(2, round(math.log2(t))))


def _grouped(rows: Iterable[dict[str, Any]], *keys: str) -> dict[tuple, list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    return groups


def _series(
    rows: list[dict[str, Any]], styles: Styles, y: Callable[[dict[str, Any]], float | None]
) -> list[Series]:
    """One series per implementation: (size, y) for each row where y is finite and positive;
    a noisy row's point is drawn open."""
    series = []
    for (implementation,), group in _grouped(rows, "implementation").items():
        points = [(r["size"], y(r)) for r in group]
        keep = [i for i, (_, v) in enumerate(points) if _finite(v) and v > 0]
        if keep:
            series.append(
                styles.series(
                    implementation,
                    [points[i] for i in keep],
                    [_noisy(group[i]) for i in keep],
                )
            )
    return series


def _run_heading(run: Run, runs: Sequence[Run]) -> Markup | None:
    return element("h3", run.label) if len(runs) > 1 else None


def _section(key: str, *body: object) -> Markup:
    return element("section", element("h2", SECTIONS[key]), *body, id=key)


# ---------------------------------------------------------------------------------------------
# Caches: what a size may be said to measure


@dataclass(frozen=True)
class WorkingSet:
    """Bounds on the bytes one call touches. From the bytes a call moves (each array read or
    written once, as STREAM counts them), each array is counted at most twice (read, then
    written), so the working set is at least half of them and at most all of them; a result
    that states ``working_set_bytes`` gives it exactly."""

    low: float
    high: float

    @classmethod
    def of(cls, r: dict[str, Any]) -> WorkingSet | None:
        exact, moved = r.get("working_set_bytes"), r.get("bytes")
        if _finite(exact) and exact > 0:
            return cls(exact, exact)
        if _finite(moved) and moved > 0:
            return cls(moved / 2, moved)
        return None

    def text(self) -> str:
        if self.low == self.high:
            return f"the working set ({readable_bytes(self.low)})"
        return (
            f"the working set (between {readable_bytes(self.low)} and "
            f"{readable_bytes(self.high)}: half and all of the bytes moved per call)"
        )


def _cache_claim(ws: WorkingSet | None, cache: float | None, device: str) -> tuple[str, str]:
    """(beyond | within | around | unknown, the sentence that says so)."""
    if ws is None:
        return "unknown", "The bytes a call moves are not recorded, so its working set is unknown."
    if cache is None:
        return "unknown", (
            f"At this size {ws.text()} cannot be compared with the caches: the machine record "
            f"gives no last-level cache size for {device}."
        )
    size = readable_bytes(cache)
    if ws.low > cache:
        return "beyond", (
            f"At this size {ws.text()} is beyond the caches: it exceeds the {size} last-level "
            f"cache of {device}, so these are memory bandwidths."
        )
    if ws.high <= cache:
        return "within", (
            f"At this size {ws.text()} fits in the {size} last-level cache of {device}: these "
            "bars measure cache bandwidth, not memory bandwidth."
        )
    return "around", (
        f"At this size {ws.text()} is about the size of the {size} last-level cache of "
        f"{device}: partly cache, partly memory."
    )


def _above_roof(r: dict[str, Any], claim: str) -> str:
    """Why a kernel can pass 100 % of its roof, as far as the document can tell."""
    fraction = r["fraction_of_bandwidth"]
    if r.get("roof_note") == "cache-resident" or claim == "within":
        return "its working set fits in the last-level cache, which is faster than memory"
    if claim == "beyond":
        unexplained = (
            "its working set is beyond the last-level cache, so the machine's bandwidth "
            "changed between STREAM and this measurement (rerun on a quieter machine)"
        )
    else:
        unexplained = (
            "its working set is not known to be beyond the last-level cache: part of the data "
            "may have come from a cache, or the machine's bandwidth changed between STREAM and "
            "this measurement"
        )
    if r.get("roof") == "update":
        return (
            "STREAM update is the roof of a kernel that works in place (neither pays a "
            f"write-allocate read), so the bytes counted do not explain it: {unexplained}"
        )
    if r.get("roof") == "triad":
        return (
            "STREAM triad is the roof of a kernel that writes fresh arrays (both pay a "
            f"write-allocate read), so the bytes counted do not explain it: {unexplained}"
        )
    if fraction <= IN_PLACE_CEILING:  # a document without roofs: every kernel against triad
        return (
            "STREAM counts triad's 12 B per element but not the write-allocate read of its "
            "output (16 B cross the bus); a kernel that updates its arrays in place writes only "
            "lines it has just read, pays no write-allocate read, and can reach 16/12 ≈ 133 % "
            "of triad"
        )
    return (
        f"more than the 133 % that in-place writes (no write-allocate read) explain: {unexplained}"
    )


# ---------------------------------------------------------------------------------------------
# Machines


def _settings_table(runs: Sequence[Run]) -> Markup:
    """A row per setting, a column per run (runs differ in few settings, and a run has many)."""
    keys = _first_seen(k for run in runs for k in run.document.get("settings", {}))
    header = ["setting", *(run.label for run in runs)]
    rows: list[list[object]] = [
        ["machine", *(element("td", element("a", _machine_of(run), href=f"#{run.machine}"))
                      for run in runs)],
        ["created", *(run.document.get("created") or units.MISSING for run in runs)],
    ]  # fmt: skip
    for key in keys:
        values = [run.document.get("settings", {}).get(key) for run in runs]
        rows.append([setting_label(key), *(setting_value(key, v) for v in values)])
    notes = [[str(n) for n in run.document.get("notes") or []] for run in runs]
    if any(notes):
        rows.append(["notes", *("; ".join(n) or units.MISSING for n in notes)])
    return table(header, rows, set(), css="settings")


def _machine_of(run: Run) -> str:
    return machine_name(run.record)


STREAM_PASSES = ("copy", "triad", "update")  # the passes a bench document may hold


def _stream_rows(run: Run, runs: Sequence[Run], passes: Sequence[str]) -> list[list[object]]:
    rows = []
    for device, stream in run.document.get("bandwidth", {}).items():
        elements = stream.get("elements")
        ws = None
        if isinstance(elements, int) and not isinstance(elements, bool):
            ws = WorkingSet(*(2 * [float(STREAM_ARRAYS * STREAM_ITEM_BYTES * elements)]))
        claim, _ = _cache_claim(ws, last_level_cache(run.record, device), device)
        reading = {
            "beyond": "memory (beyond the last-level cache)",
            "within": "cache, not memory: the arrays fit in the last-level cache",
            "around": "partly cache: the arrays are about the last-level cache's size",
            "unknown": "unknown: no last-level cache size in the machine record",
        }[claim]
        rows.append(
            [run.label] * (len(runs) > 1)
            + [
                device,
                units.MISSING if stream.get("backend") is None else str(stream["backend"]),
                units.MISSING if stream.get("threads") is None else str(stream["threads"]),
                units.size(elements) if ws else units.MISSING,
                readable_bytes(ws.low) if ws else units.MISSING,
                *(units.rate(stream.get(f"{name}_gbs"), "GB/s") for name in passes),
                reading,
            ]
        )
    return rows


def _machines_part(machines: Sequence[Machine]) -> list[object]:
    parts: list[object] = []
    for i, machine in enumerate(machines, 1):
        rows = machine.rows()
        parts += [
            element("h3", f"Machine {i}: {machine.name}", id=machine.anchor),
            element(
                "p", "Documents from this machine: " + "; ".join(machine.users), class_="muted"
            ),
            facts(rows, css="facts machine")
            if rows
            else element("p", "No machine record.", class_="muted"),
        ]
    return parts


def _machine(runs: Sequence[Run], machines: Sequence[Machine]) -> Markup:
    parts = _machines_part(machines)
    if runs:
        parts += [element("h3", "Settings of each run"), _settings_table(runs)]
    measured = {
        name
        for run in runs
        for stream in run.document.get("bandwidth", {}).values()
        for name in STREAM_PASSES
        if stream.get(f"{name}_gbs") is not None
    }
    passes = [name for name in STREAM_PASSES if name in measured or name != "update"]
    streams = [row for run in runs for row in _stream_rows(run, runs, passes)]
    if streams:
        header = ["run"] * (len(runs) > 1) + [
            "device", "backend", "threads", "elements per array", "working set",
            *(f"STREAM {name}" for name in passes), "measures",
        ]  # fmt: skip
        first = len(header) - 6 - len(passes)
        parts += [
            element("h3", "STREAM bandwidth"),
            table(header, streams, set(range(first + 2, len(header) - 1)), css="stream"),
        ]
    return _section(
        "machine",
        element(
            "p",
            "One table per distinct machine: documents whose machine records agree on host "
            "name, CPU and logical cores share one, and a field they disagree on lists each "
            "value with its documents. STREAM (McCalpin) measures the sustainable memory "
            "bandwidth when its arrays are beyond the last-level cache: triad, the ceiling of a "
            "kernel that writes fresh arrays, and update (where measured), that of a kernel "
            "that works in place.",
            class_="note",
        ),
        *parts,
    )


# ---------------------------------------------------------------------------------------------
# Throughput, bandwidth, batch size


def _throughput(runs: Sequence[Run], styles: Styles) -> Markup | None:
    parts = []
    for run in runs:
        plots = []
        for (kernel, device), rows in _grouped(run.ok, "kernel", "device").items():
            key, unit, _ = _metric(rows)
            series = _series(rows, styles, lambda r, key=key: r.get(key))
            if not series:
                continue
            roof, roof_gbs = run.roof(rows) if key == "gbs" else ("", None)
            references = (
                [Reference(roof_gbs, f"STREAM {roof} {units.rate(roof_gbs, 'GB/s')}")]
                if _finite(roof_gbs) and roof_gbs > 0
                else []
            )
            tick = _seconds_tick if key == "median_s" else partial(units.plain, trim=True)
            plots.append(
                line_chart(
                    series,
                    title=f"{kernel} on {device}",
                    x=_size_axis(rows[0].get("size_label") or "elements"),
                    y=Axis(unit, 10, tick),
                    references=references,
                )
            )
        if plots:
            parts += [_run_heading(run, runs), element("div", *plots, class_="plots")]
    if not parts:
        return None
    return _section(
        "throughput",
        element(
            "p",
            "Memory-bound kernels in GB/s (minimal bytes moved per call / median time), "
            "compute-bound ones in GFLOP/s, against problem size on log axes. Each marker is a "
            "measured size; a line joins an implementation's markers only where at least three "
            "sizes were measured. The dashed line is the kernel's roof on the device: STREAM "
            "update for a kernel that works in place, triad for one that writes fresh arrays "
            "(triad for a document that names no roof); an open marker is a noisy measurement "
            "(IQR above 10 % of the median).",
            class_="note",
        ),
        *parts,
    )


def _percent_tick(t: float) -> str:
    return units.percent(t, trim=True)


def _bandwidth_figure(
    run: Run, kernel: str, device: str, rows: list[dict[str, Any]], styles: Styles
) -> Markup:
    largest = max(r["size"] for r in rows)
    at_largest = [r for r in rows if r["size"] == largest]
    ws = WorkingSet.of(at_largest[0])
    claim, sentence = _cache_claim(ws, last_level_cache(run.record, device), device)
    roof, roof_gbs = run.roof(rows)
    bars, notes = [], []
    for r in at_largest:
        fraction = r["fraction_of_bandwidth"]
        text = f"{units.percent(fraction)} ({units.rate(r.get('gbs'), 'GB/s')})"
        note = ""
        if fraction > 1:
            note = f"Above 100 % of STREAM {roof}: {_above_roof(r, claim)}"
            notes.append(element("p", f"* {r['implementation']}: {note}.", class_="above"))
            text += " *"
        if _noisy(r):
            text += ", noisy"
            noisy = f"Noisy: IQR {units.percent(r.get('rel_iqr'))} of the median."
            note = f"{note}. {noisy}" if note else noisy
        bars.append(
            Bar(
                r["implementation"],
                fraction,
                text,
                styles.colour(r["implementation"]),
                hollow=_noisy(r),
                note=note,
            )
        )
    label = rows[0].get("size_label") or "elements"
    chart = bar_chart(
        bars,
        title=f"{kernel} on {device} at {units.size(largest)} {label}",
        axis=Axis(f"fraction of STREAM {roof} bandwidth", 10, _percent_tick),
        x_max=1.0,
        references=[Reference(1.0, f"STREAM {roof} {units.rate(roof_gbs, 'GB/s')}")],
    )
    return figure(chart, element("p", sentence, class_=f"cache cache-{claim}"), *notes)


def _bandwidth(runs: Sequence[Run], styles: Styles) -> Markup | None:
    parts = []
    for run in runs:
        plots = []
        for (kernel, device), rows in _grouped(run.ok, "kernel", "device").items():
            rows = [r for r in rows if _finite(r.get("fraction_of_bandwidth"))]
            if rows:
                plots.append(_bandwidth_figure(run, kernel, device, rows, styles))
        if plots:
            parts += [_run_heading(run, runs), element("div", *plots, class_="plots")]
    if not parts:
        return None
    return _section(
        "bandwidth",
        element(
            "p",
            "Achieved bandwidth of each memory-bound kernel at the largest size measured, as a "
            "fraction of its roof, STREAM update (in place) or triad (fresh output arrays): the "
            "roofline of a memory-bound kernel (Williams, Waterman & Patterson, 2009) once its "
            "working set is beyond the caches. Each "
            "caption says whether it was, from the last-level cache size in the machine "
            "record; a bar above 100 % carries its reason (*); an open bar is noisy.",
            class_="note",
        ),
        *parts,
    )


def _has_interval(r: dict[str, Any]) -> bool:
    interval = r.get("ratio_ci")
    return (
        r["implementation"] != r.get("baseline")
        and _finite(r.get("ratio"))
        and isinstance(interval, list | tuple)
        and len(interval) == 2
        and all(_finite(v) and v > 0 for v in interval)
    )


def _ratio_figure(kernel: str, device: str, rows: list[dict[str, Any]], styles: Styles) -> Markup:
    rows = sorted(rows, key=lambda r: (r["size"], styles.index.get(r["implementation"], 0)))
    label = rows[0].get("size_label") or "elements"
    entries = []
    for r in rows:
        low, high = (number(v) for v in r["ratio_ci"])
        ratio = min(max(r["ratio"], low), high)  # inside its interval (it is, from the bench)
        text = ratio_text(r) + (", noisy" if _noisy(r) else "")
        name = f"{units.size(r['size'])} {r['implementation']}"
        entries.append(
            Interval(name, ratio, low, high, text, styles.colour(r["implementation"]), _noisy(r))
        )
    return figure(
        interval_chart(
            entries,
            title=f"{kernel} on {device}, vs {rows[0]['baseline']} ({label})",
            axis=Axis("time / the baseline's (above 1: slower)", 10, units.plain),
            references=[Reference(1.0, "same")],
        )
    )


def _ratios(runs: Sequence[Run], styles: Styles) -> Markup | None:
    parts = []
    for run in runs:
        rows = [r for r in run.ok if _has_interval(r)]
        plots = [
            _ratio_figure(kernel, device, group, styles)
            for (kernel, device), group in _grouped(rows, "kernel", "device").items()
        ]
        if plots:
            parts += [_run_heading(run, runs), element("div", *plots, class_="plots")]
    if not parts:
        return None
    return _section(
        "ratios",
        element(
            "p",
            "Each implementation's time as a ratio to the baseline's, measured interleaved (a "
            "sample of each in turn, in a random order per block), with its 95 % interval as "
            "an error bar: the Hodges–Lehmann estimate and the exact interval of Wilcoxon's "
            "signed-rank test on the per-block log ratios. An interval clear of 1 is a verdict, "
            "slower or faster; one across 1 reads same. Log scale: 2× slower and 2× faster lie "
            "equally far from 1. An open marker is noisy.",
            class_="note",
        ),
        *parts,
    )


def _per_epoch(r: dict[str, Any]) -> float | None:
    if r.get("per_epoch_s") is not None:
        return r["per_epoch_s"]
    if r.get("dataset_size"):  # the contract's definition: median × ceil(N / batch)
        return r["median_s"] * math.ceil(r["dataset_size"] / r["size"])
    return None


def _seconds_tick(t: float) -> str:
    return units.seconds(t, trim=True)


def _batch_size(runs: Sequence[Run], styles: Styles) -> Markup | None:
    parts = []
    x = Axis("batch size", 10, units.count)
    measures = (("time per update", lambda r: r["median_s"]), ("time per epoch", _per_epoch))
    for run in runs:
        rows = [r for r in run.ok if r["kernel"] == BATCH_KERNEL]
        plots = []
        for (device,), group in _grouped(rows, "device").items():
            for label, y_of in measures:
                series = _series(group, styles, y_of)
                if series:
                    title = f"{BATCH_KERNEL} on {device}: {label}"
                    plots.append(
                        line_chart(series, title=title, x=x, y=Axis(label, 10, _seconds_tick))
                    )
        if plots:
            parts += [_run_heading(run, runs), element("div", *plots, class_="plots")]
    if not parts:
        return None
    sizes = {r.get("dataset_size") for run in runs for r in run.ok if r["kernel"] == BATCH_KERNEL}
    n = next((s for s in sizes if s), None)
    return _section(
        "batch-size",
        element(
            "p",
            "One SGD step of an MLP 784-256-10 with cross-entropy (MNIST, seed 002). A larger "
            "batch costs more per update but amortises per-call overhead over more examples; "
            "time per epoch = time per update × ⌈N / batch⌉"
            + (f", N = {n:,.0f}. " if n else ". ")
            + "Markers are measured batch sizes (joined where there are at least three); an "
            "open marker is noisy.",
            class_="note",
        ),
        *parts,
    )


# ---------------------------------------------------------------------------------------------
# Results


def _status(r: dict[str, Any]) -> Markup:
    """ok, or the status and its reason: one line, or a summary line that opens to the whole
    reason (a traceback's summary is its last line, the exception)."""
    status = r["status"]
    css = f"status status-{status if status in ('ok', 'unsupported', 'error') else 'other'}"
    reason = (r.get("reason") or "").strip()
    if not reason:
        return element("td", status, class_=css)
    lines = reason.splitlines()
    headline = lines[-1].strip()
    short = headline if len(headline) <= 80 else headline[:79] + "…"
    if len(lines) == 1 and short == headline:
        return element("td", f"{status}: {headline}", class_=css)
    summary = element("summary", f"{status}: {short}")
    return element("td", element("details", summary, element("pre", reason)), class_=css)


NOISY_TITLE = "interquartile range above 10 % of the median"


def _noisy_cell(noisy: bool) -> Markup:
    if not noisy:
        return element("td", "")
    return element("td", "noisy", class_="noisy", title=NOISY_TITLE)


def _fraction_cell(fraction: float | None, roof: str) -> Markup:
    if fraction is None or not fraction > 1:
        return element("td", units.percent(fraction), class_="num")
    return element(
        "td",
        f"{units.percent(fraction)} *",
        class_="num",
        title=f"above 100 % of STREAM {roof}: the reason is under the bandwidth chart",
    )


def ratio_text(r: dict[str, Any]) -> str:
    """'1.07× slower [1.04, 1.10]' (the ratio to the baseline, its verdict and 95 % interval),
    'baseline', or '1.07×' without an interval."""
    ratio = r.get("ratio")
    if r["implementation"] == r.get("baseline"):
        return "baseline"
    if not _finite(ratio):
        return units.MISSING
    text = units.ratio(ratio)
    interval = r.get("ratio_ci")
    if not isinstance(interval, list | tuple) or len(interval) != 2:
        return text
    verdict = f" {r['verdict']}" if r.get("verdict") else ""
    low, high = (number(v) for v in interval)
    return f"{text}{verdict} [{units.plain(low)}, {units.plain(high)}]"


def _result_table(rows: list[dict[str, Any]], order: dict[str, int], devices: bool) -> Markup:
    """One kernel's rows, by device, size and implementation; the fastest at each size bold."""
    key, unit, show = _metric([r for r in rows if r["status"] == "ok"])
    throughput = key != "median_s"
    memory_bound = key == "gbs"
    batch = any(_per_epoch(r) is not None for r in rows if r["status"] == "ok")
    roof = " or ".join(_first_seen(r.get("roof") or "triad" for r in rows if r["status"] == "ok"))
    baseline = next((r["baseline"] for r in rows if r.get("ratio") is not None), None)
    versus = f"vs {baseline} (95 % interval)"
    header = ["device"] * devices + ["size", "implementation", "median", "IQR", "noisy"]
    header += [unit] * throughput + [f"% STREAM {roof}"] * memory_bound
    header += [versus] * (baseline is not None)
    header += ["speed-up vs reference", "× fastest"] + ["per epoch"] * batch + ["status"]
    text = {"device", "implementation", "noisy", "status"}
    numeric = {i for i, h in enumerate(header) if h not in text}
    rows = sorted(rows, key=lambda r: (r["device"], r["size"], order[r["implementation"]]))
    body = []
    for r in rows:
        ok = r["status"] == "ok"
        cells: list[object] = [r["device"]] * devices
        cells += [
            units.size(r["size"]),
            r["implementation"],
            units.seconds(r.get("median_s")) if ok else units.MISSING,
            units.percent(r.get("rel_iqr")) if ok else units.MISSING,
            _noisy_cell(ok and _noisy(r)),
        ]
        cells += [show(r.get(key))] * throughput
        cells += [_fraction_cell(r.get("fraction_of_bandwidth"), roof)] * memory_bound
        cells += [ratio_text(r) if ok else units.MISSING] * (baseline is not None)
        cells += [units.ratio(r.get("speedup_vs_reference"))]
        cells += [units.ratio(r.get("slowdown_vs_fastest"))]
        cells += [units.seconds(_per_epoch(r)) if ok else units.MISSING] * batch
        cells += [_status(r)]
        body.append(cells)
    fastest = ["fastest" if _is_fastest(r) else None for r in rows]
    return table(header, body, numeric, fastest)


def _is_fastest(r: dict[str, Any]) -> bool:
    return r["status"] == "ok" and r.get("slowdown_vs_fastest") == 1


def _results(runs: Sequence[Run]) -> Markup | None:
    parts = []
    for run in runs:
        order = {
            name: i for i, name in enumerate(_first_seen(r["implementation"] for r in run.results))
        }
        devices = len({r["device"] for r in run.results}) > 1
        for (kernel,), rows in _grouped(run.results, "kernel").items():
            heading = f"{kernel} ({run.label})" if len(runs) > 1 else kernel
            meaning = rows[0].get("size_meaning")  # what the kernel's size counts
            parts += [
                element("h3", heading),
                element("p", f"size: {meaning}", class_="muted") if meaning else None,
                _result_table(rows, order, devices),
            ]
    if not parts:
        return None
    return _section(
        "results",
        element(
            "p",
            "Median of the repeats; IQR as a percentage of the median (noisy above 10 %). "
            "Speed-up vs reference = reference median / this median at the same size; "
            "× fastest = this median / the fastest median at that size (bold: the fastest). "
            "Where the bench compared the implementations interleaved, the ratio to its "
            "baseline comes with a 95 % interval and a verdict (slower, faster or same). A "
            "bandwidth above 100 % of its STREAM roof is marked * (its reason is under the "
            "bandwidth chart).",
            class_="note",
        ),
        *parts,
    )


# ---------------------------------------------------------------------------------------------
# Conformance


def _conformance(checks: Sequence[dict[str, Any]], anchors: Sequence[str | None]) -> Markup:
    if len(checks) == 1:
        return _section("conformance", *conformance.single(checks[0]))
    return _section("conformance", *conformance.compared(checks, anchors))


# ---------------------------------------------------------------------------------------------
# pytest-benchmark


def _micro_label(document: dict[str, Any]) -> str:
    machine = document.get("machine_info") or {}
    cpu = machine.get("cpu") if isinstance(machine.get("cpu"), dict) else {}
    name = cpu.get("brand_raw") or machine.get("node") or "unknown machine"
    return f"{name}, {document['datetime']}" if document.get("datetime") else str(name)


def _micro_rel_iqr(stats: dict[str, Any]) -> float | None:
    median, iqr = stats["median"], stats["iqr"]
    if not _finite(iqr) or not median:  # a NaN IQR (a single round): unknown
        return None
    return iqr / median


def _micro(documents: Sequence[dict[str, Any]]) -> Markup:
    parts = []
    for document in documents:
        benchmarks = document["benchmarks"]
        label = _micro_label(document)
        parts.append(element("h3", label))
        if not benchmarks:
            parts.append(element("p", "No benchmarks in this document.", class_="muted"))
            continue
        stats = [(b["name"], b["stats"]) for b in benchmarks]
        spread = [_micro_rel_iqr(s) for _, s in stats]
        noisy = [v is not None and v > NOISY for v in spread]
        parts.append(
            table(
                ("name", "median", "IQR", "IQR %", "noisy", "rounds"),
                [
                    (
                        name,
                        units.seconds(s["median"]),
                        units.seconds(s["iqr"]) if _finite(s["iqr"]) else units.MISSING,
                        units.percent(rel),
                        _noisy_cell(flag),
                        f"{s['rounds']:,}",
                    )
                    for (name, s), rel, flag in zip(stats, spread, noisy, strict=True)
                ],
                {1, 2, 3, 5},
            )
        )
        bars = [
            Bar(
                name,
                s["median"],
                units.seconds(s["median"]) + (", noisy" if flag else ""),
                hollow=flag,
                note=f"Noisy: IQR {units.percent(rel)} of the median." if flag else "",
            )
            for (name, s), rel, flag in zip(stats, spread, noisy, strict=True)
        ]
        parts.append(
            bar_chart(
                bars,
                title=f"Median time per call: {label}",
                axis=Axis("median time per call", 10, _seconds_tick),
            )
        )
    return _section(
        "micro",
        element(
            "p",
            "pytest-benchmark timings of the oracle's hot paths (pytest --benchmark-json). A "
            "benchmark whose IQR exceeds 10 % of its median is noisy: flagged in the table and "
            "drawn as an open bar.",
            class_="note",
        ),
        *parts,
    )


# ---------------------------------------------------------------------------------------------
# The page


def build_report(
    *,
    check: dict | None = None,
    checks: Sequence[dict] | None = None,
    bench: list[dict] | None = None,
    title: str = "nnconform report",
) -> str:
    """One self-contained HTML5 document from check documents and/or bench documents
    (nnconform bench documents and pytest-benchmark documents, several machines allowed).
    ``check`` is one check document, ``checks`` several; given two or more in all, the
    conformance section compares them in one matrix. Raises ValueError, naming the document
    and field, on a document it cannot read."""
    every_check = ([check] if check is not None else []) + list(checks or [])
    if not every_check and not bench:
        raise ValueError("build_report needs a check document or at least one bench document")
    for index, document in enumerate(every_check, 1):
        validate_check(document, f"check document {index}")
    documents, micros = split_bench(list(bench or []))
    runs = _runs(documents)
    check_labels = [f"check of {conformance.check_title(c)}" for c in every_check]
    # one table per distinct machine, from the bench runs' records and the check documents'
    records = [(f"bench {run.label}", run.record) for run in runs] + [
        (label, c["machine"])
        for label, c in zip(check_labels, every_check, strict=True)
        if isinstance(c.get("machine"), dict)
    ]
    machines, anchors = group_machines(records)
    runs = [replace(run, machine=anchor) for run, anchor in zip(runs, anchors, strict=False)]
    own, by_name = iter(anchors[len(runs) :]), {m.name: m.anchor for m in machines}
    check_anchors: list[str | None] = []
    for c in every_check:  # a machine record: its table; a machine's name: that machine's
        if isinstance(c.get("machine"), dict):
            check_anchors.append(next(own))
        else:
            check_anchors.append(
                by_name.get(machine_name(c["machine"])) if c.get("machine") else None
            )
    styles = Styles(r["implementation"] for run in runs for r in run.results)
    sections = {
        "machine": _machine(runs, machines) if machines else None,
        "throughput": _throughput(runs, styles),
        "bandwidth": _bandwidth(runs, styles),
        "ratios": _ratios(runs, styles),
        "batch-size": _batch_size(runs, styles),
        "results": _results(runs),
        "conformance": _conformance(every_check, check_anchors) if every_check else None,
        "micro": _micro(micros) if micros else None,
    }
    present = {key: section for key, section in sections.items() if section is not None}
    sources = [run.label for run in runs] + [_micro_label(m) for m in micros] + check_labels
    head = element(
        "head",
        element("meta", charset="utf-8"),
        element("meta", http_equiv="Content-Security-Policy", content=CSP),
        element("meta", name="viewport", content="width=device-width, initial-scale=1"),
        element("meta", name="generator", content="nnconform report"),
        element("title", title),
        element("style", STYLE),
    )
    body = element(
        "body",
        element(
            "header",
            element("h1", title),
            element("p", "From: " + "; ".join(sources), class_="muted"),
            element("nav", *(element("a", SECTIONS[k], href=f"#{k}") for k in present)),
        ),
        element("main", *present.values()),
    )
    return "<!DOCTYPE html>\n" + element("html", head, body, lang="en") + "\n"
