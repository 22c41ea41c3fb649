"""One self-contained HTML5 page from check and bench documents.

Inline CSS, charts as inline SVG (``nnconform.reports.svg``), no script, no font, image or URL from
anywhere: the page opens from a file with no network, and its Content-Security-Policy forbids
scripts and fetches, a second wall behind the escaping of every document string
(``nnconform.reports.markup``). Sections, each only when its data is there:

    machine      machine, settings and STREAM bandwidth of each bench run
    throughput   GB/s (memory-bound) or GFLOP/s (compute-bound) against size, per kernel and device
    bandwidth    fraction of STREAM triad bandwidth per implementation at the largest size
    batch-size   mlp_step: time per update and per epoch against batch size
    results      one table per kernel: median, IQR, throughput, speed-ups, status
    conformance  the verdict matrix of a check document and its failures
    micro        pytest-benchmark documents (the oracle's micro-benchmarks)

The roofline reading of "fraction of bandwidth" follows Williams, Waterman & Patterson,
"Roofline: an insightful visual performance model for multicore architectures", CACM 52(4),
2009: a memory-bound kernel cannot beat the machine's sustainable bandwidth, which STREAM
triad measures (McCalpin, "Memory bandwidth and machine balance in current high performance
computers", IEEE TCCA Newsletter, 1995).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from nnconform import units
from nnconform.reports.documents import split_bench, validate_check
from nnconform.reports.markup import Markup, element, raw
from nnconform.reports.svg import (
    MARKERS,
    PALETTE,
    Axis,
    Bar,
    Reference,
    Series,
    bar_chart,
    line_chart,
)

__all__ = ["SECTIONS", "build_report"]

SECTIONS = {  # id: heading, in page order
    "machine": "Machine and bandwidth",
    "throughput": "Throughput against size",
    "bandwidth": "Fraction of STREAM bandwidth",
    "batch-size": "Batch size: time per update and per epoch",
    "results": "Results",
    "conformance": "Conformance",
    "micro": "Oracle micro-benchmarks",
}
BATCH_KERNEL = "mlp_step"
VERDICTS = ("pass", "variant", "fail", "unsupported", "error")  # CSS classes; others: "other"

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
.verdict-other { background: #fff3c4; }
td.bad { color: #b00020; font-weight: 600; }
details { margin: .3rem 0; }
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
svg.plot .bar-value, svg.plot .reference text { paint-order: stroke; stroke: #fff;
                                                stroke-width: 3px; }
""")

# No script, no fetch of anything; inline styles only (the page's own <style>).
CSP = "default-src 'none'; style-src 'unsafe-inline'"


# ---------------------------------------------------------------------------------------------
# Bench runs


@dataclass(frozen=True)
class Run:
    """One bench document and the label that tells it apart from the others."""

    label: str
    document: dict[str, Any]

    @property
    def results(self) -> list[dict[str, Any]]:
        return self.document["results"]

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] == "ok"]

    def triad(self, device: str) -> float | None:
        return self.document.get("bandwidth", {}).get(device, {}).get("triad_gbs")


def _machine_name(machine: dict[str, Any]) -> str:
    for key in ("cpu", "cpu_model", "processor", "hostname", "node"):
        if isinstance(machine.get(key), str) and machine[key].strip():
            return machine[key].strip()
    return "unknown machine"


def _runs(documents: list[dict[str, Any]]) -> list[Run]:
    runs = []
    for i, document in enumerate(documents, 1):
        label = _machine_name(document.get("machine", {}))
        if document.get("created"):
            label += f", {document['created']}"
        runs.append(Run(f"run {i}: {label}" if len(documents) > 1 else label, document))
    return runs


def _first_seen(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


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
    """One series per implementation: (size, y) for each row where y is known and positive."""
    series = []
    for (implementation,), group in _grouped(rows, "implementation").items():
        points = [(r["size"], y(r)) for r in group]
        keep = [i for i, (_, v) in enumerate(points) if v is not None and v > 0]
        if keep:
            series.append(
                styles.series(
                    implementation,
                    [points[i] for i in keep],
                    [bool(group[i].get("noisy")) for i in keep],
                )
            )
    return series


def _run_heading(run: Run, runs: Sequence[Run]) -> Markup | None:
    return element("h3", run.label) if len(runs) > 1 else None


def _section(key: str, *body: object) -> Markup:
    return element("section", element("h2", SECTIONS[key]), *body, id=key)


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    numeric: set[int],
    classes: Sequence[str | None] = (),
    css: str | None = None,
) -> Markup:
    """A table; cells of the ``numeric`` columns right-aligned, row i of class ``classes[i]``.
    A Markup cell is a whole ``<td>`` built by the caller; anything else is escaped into one."""
    head = element(
        "tr",
        *(element("th", h, class_="num" if i in numeric else None) for i, h in enumerate(header)),
    )
    body = []
    for index, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            if isinstance(cell, Markup):
                cells.append(cell)
            else:
                cells.append(element("td", cell, class_="num" if i in numeric else None))
        body.append(element("tr", *cells, class_=classes[index] if classes else None))
    table = element("table", element("thead", head), element("tbody", *body), class_=css)
    return element("div", table, class_="wide")  # a wide table scrolls, not the page


def _facts(pairs: Iterable[tuple[str, object]]) -> Markup:
    """A two-column table of names and values, the names as row headers."""
    rows = [element("tr", element("th", k, scope="row"), element("td", v)) for k, v in pairs]
    return element("table", element("tbody", *rows), class_="facts")


def _flat(value: Any) -> str:
    """A machine-info value in one line: objects as key=value, lists joined by commas."""
    if isinstance(value, dict):
        return "; ".join(f"{k}={_flat(v)}" for k, v in value.items()) or "(none)"
    if isinstance(value, list | tuple):
        return ", ".join(_flat(v) for v in value) or "(none)"
    return units.MISSING if value is None else str(value)


def _stream_row(device: str, stream: dict[str, Any]) -> list[str]:
    elements = stream.get("elements")
    return [
        device,
        _flat(stream.get("backend")),
        _flat(stream.get("threads")),
        units.size(elements) if isinstance(elements, int) else _flat(elements),
        units.rate(stream.get("copy_gbs"), "GB/s"),
        units.rate(stream.get("triad_gbs"), "GB/s"),
    ]


def _machine(runs: Sequence[Run]) -> Markup:
    parts = []
    for run in runs:
        document = run.document
        parts.append(element("h3", run.label))
        info = [(k, _flat(v)) for k, v in document.get("machine", {}).items()]
        if document.get("created"):
            info.insert(0, ("created", document["created"]))
        info += [(f"settings: {k}", _flat(v)) for k, v in document.get("settings", {}).items()]
        parts.append(_facts(info) if info else None)
        streams = document.get("bandwidth", {})
        if streams:
            header = ("device", "backend", "threads", "elements", "STREAM copy", "STREAM triad")
            rows = [_stream_row(device, stream) for device, stream in streams.items()]
            parts.append(_table(header, rows, {2, 3, 4, 5}))
    return _section(
        "machine",
        element(
            "p",
            "STREAM copy and triad (McCalpin) measure the sustainable memory bandwidth: the "
            "ceiling of every memory-bound kernel below.",
            class_="note",
        ),
        *parts,
    )


def _throughput(runs: Sequence[Run], styles: Styles) -> Markup | None:
    parts = []
    for run in runs:
        plots = []
        for (kernel, device), rows in _grouped(run.ok, "kernel", "device").items():
            key, unit, _ = _metric(rows)
            series = _series(rows, styles, lambda r, key=key: r.get(key))
            if not series:
                continue
            triad = run.triad(device) if key == "gbs" else None
            references = (
                [Reference(triad, f"STREAM triad {units.rate(triad, 'GB/s')}")] if triad else []
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
            "compute-bound ones in GFLOP/s, against problem size on log axes. The dashed line is "
            "the STREAM triad bandwidth of the device; an open marker is a noisy measurement "
            "(IQR above 10 % of the median).",
            class_="note",
        ),
        *parts,
    )


def _percent_tick(t: float) -> str:
    return units.percent(t, trim=True)


def _bandwidth(runs: Sequence[Run], styles: Styles) -> Markup | None:
    parts = []
    for run in runs:
        plots = []
        for (kernel, device), rows in _grouped(run.ok, "kernel", "device").items():
            rows = [r for r in rows if r.get("fraction_of_bandwidth") is not None]
            if not rows:
                continue
            largest = max(r["size"] for r in rows)
            at_largest = [r for r in rows if r["size"] == largest]
            bars = [
                Bar(
                    r["implementation"],
                    r["fraction_of_bandwidth"],
                    f"{units.percent(r['fraction_of_bandwidth'])} "
                    f"({units.rate(r.get('gbs'), 'GB/s')})",
                    styles.colour(r["implementation"]),
                )
                for r in at_largest
            ]
            triad = run.triad(device)
            plots.append(
                bar_chart(
                    bars,
                    title=f"{kernel} on {device} at {units.size(largest)} "
                    f"{rows[0].get('size_label') or 'elements'}",
                    axis=Axis("fraction of STREAM triad bandwidth", 10, _percent_tick),
                    x_max=1.0,
                    references=[Reference(1.0, f"STREAM triad {units.rate(triad, 'GB/s')}")],
                )
            )
        if plots:
            parts += [_run_heading(run, runs), element("div", *plots, class_="plots")]
    if not parts:
        return None
    return _section(
        "bandwidth",
        element(
            "p",
            "Achieved bandwidth of each memory-bound kernel at the largest size measured (where "
            "the working set is well beyond the caches), as a fraction of STREAM triad: the "
            "roofline of a memory-bound kernel (Williams, Waterman & Patterson, 2009).",
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
            "time per epoch = time per update × ⌈N / batch⌉" + (f", N = {n:,}." if n else "."),
            class_="note",
        ),
        *parts,
    )


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


def _result_table(rows: list[dict[str, Any]], order: dict[str, int], devices: bool) -> Markup:
    """One kernel's rows, by device, size and implementation; the fastest at each size bold."""
    key, unit, show = _metric([r for r in rows if r["status"] == "ok"])
    throughput = key != "median_s"
    memory_bound = key == "gbs"
    batch = any(_per_epoch(r) is not None for r in rows if r["status"] == "ok")
    header = ["device"] * devices + ["size", "implementation", "median", "IQR", "noisy"]
    header += [unit] * throughput + ["% bandwidth"] * memory_bound
    header += ["speed-up vs reference", "× fastest"] + ["per epoch"] * batch + ["status"]
    text = {"device", "implementation", "noisy", "status"}
    numeric = {i for i, h in enumerate(header) if h not in text}
    rows = sorted(rows, key=lambda r: (r["device"], r["size"], order[r["implementation"]]))
    body = []
    for r in rows:
        ok = r["status"] == "ok"
        noisy = element(
            "td", "noisy", class_="noisy", title="interquartile range above 10 % of the median"
        )
        cells: list[object] = [r["device"]] * devices
        cells += [
            units.size(r["size"]),
            r["implementation"],
            units.seconds(r.get("median_s")) if ok else units.MISSING,
            units.percent(r.get("rel_iqr")) if ok else units.MISSING,
            noisy if r.get("noisy") else "",
        ]
        cells += [show(r.get(key))] * throughput
        cells += [units.percent(r.get("fraction_of_bandwidth"))] * memory_bound
        cells += [units.ratio(r.get("speedup_vs_reference"))]
        cells += [units.ratio(r.get("slowdown_vs_fastest"))]
        cells += [units.seconds(_per_epoch(r)) if ok else units.MISSING] * batch
        cells += [_status(r)]
        body.append(cells)
    fastest = ["fastest" if _is_fastest(r) else None for r in rows]
    return _table(header, body, numeric, fastest)


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
            parts += [element("h3", heading), _result_table(rows, order, devices)]
    if not parts:
        return None
    return _section(
        "results",
        element(
            "p",
            "Median of the repeats; IQR as a percentage of the median (noisy above 10 %). "
            "Speed-up vs reference = reference median / this median at the same size; "
            "× fastest = this median / the fastest median at that size (bold: the fastest).",
            class_="note",
        ),
        *parts,
    )


# ---------------------------------------------------------------------------------------------
# Conformance


def _conformance(check: dict[str, Any]) -> Markup:
    target = check.get("target", {})
    about = [
        ("target", target.get("name")),
        ("version", target.get("version")),
        ("device", target.get("device")),
        ("dtypes", ", ".join(map(str, target.get("dtypes") or [])) or None),
        ("profile", check.get("profile")),
        ("Hypothesis seed", check.get("hypothesis_seed")),
        ("strict", check.get("strict")),
        ("exit status", check.get("exit_status")),
    ]
    summary = check["summary"]
    extra = [k for k in ("xfail", "xpass") if any(row.get(k) for row in summary)]
    header = ["algorithm", "verdict", *VERDICTS, *extra, "variants matched"]
    rows = []
    for row in summary:
        verdict = row["verdict"]
        css = f"verdict verdict-{verdict if verdict in VERDICTS else 'other'}"
        counts = [
            element(
                "td",
                row.get(k, 0),
                class_="num bad" if k in ("fail", "error", "xpass") and row.get(k, 0) else "num",
            )
            for k in (*VERDICTS, *extra)
        ]
        variants = ", ".join(map(str, row.get("variants") or [])) or units.MISSING
        rows.append([row["algorithm"], element("td", verdict, class_=css), *counts, variants])
    tally = _first_seen(row["verdict"] for row in summary)
    totals = ", ".join(f"{sum(r['verdict'] == v for r in summary)} {v}" for v in tally)
    failures = [r for r in check["records"] if r["status"] in ("fail", "error", "xpass")]
    failure_list = [
        element(
            "details",
            element(
                "summary",
                f"{r['algorithm']} :: {r['property']} ",
                element("span", f"({r['status']})", class_="failure-status"),
            ),
            element("pre", r.get("message") or "(no message)"),
            element(
                "p",
                f"max abs err {_flat(r.get('max_abs_err'))}, max rel err "
                f"{_flat(r.get('max_rel_err'))}, tolerance {_flat(r.get('tolerance'))}; "
                f"{r.get('nodeid') or ''}",
                class_="muted",
            ),
            class_="failure",
        )
        for r in failures
    ]
    return _section(
        "conformance",
        _facts((k, _flat(v)) for k, v in about if v is not None),
        element("p", f"{len(summary)} catalogue ids: {totals}." if summary else "No checks ran."),
        _table(header, rows, set(), css="matrix"),
        element("h3", f"Failures ({len(failures)})"),
        failure_list or element("p", "None.", class_="muted"),
    )


# ---------------------------------------------------------------------------------------------
# pytest-benchmark


def _micro_label(document: dict[str, Any]) -> str:
    machine = document.get("machine_info") or {}
    cpu = machine.get("cpu") if isinstance(machine.get("cpu"), dict) else {}
    name = cpu.get("brand_raw") or machine.get("node") or "unknown machine"
    return f"{name}, {document['datetime']}" if document.get("datetime") else str(name)


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
        parts.append(
            _table(
                ("name", "median", "IQR", "IQR %", "rounds"),
                [
                    (
                        name,
                        units.seconds(s["median"]),
                        units.seconds(s["iqr"]),
                        units.percent(s["iqr"] / s["median"]) if s["median"] else units.MISSING,
                        f"{s['rounds']:,}",
                    )
                    for name, s in stats
                ],
                {1, 2, 3, 4},
            )
        )
        parts.append(
            bar_chart(
                [Bar(name, s["median"], units.seconds(s["median"])) for name, s in stats],
                title=f"Median time per call: {label}",
                axis=Axis("median time per call", 10, _seconds_tick),
            )
        )
    return _section(
        "micro",
        element(
            "p",
            "pytest-benchmark timings of the oracle's hot paths (pytest --benchmark-json).",
            class_="note",
        ),
        *parts,
    )


# ---------------------------------------------------------------------------------------------
# The page


def build_report(
    *,
    check: dict | None = None,
    bench: list[dict] | None = None,
    title: str = "nnconform report",
) -> str:
    """One self-contained HTML5 document from a check document and/or bench documents
    (nnconform bench documents and pytest-benchmark documents, several machines allowed).
    Raises ValueError, naming the document and field, on a document it cannot read."""
    if check is None and not bench:
        raise ValueError("build_report needs a check document or at least one bench document")
    if check is not None:
        validate_check(check)
    documents, micros = split_bench(list(bench or []))
    runs = _runs(documents)
    styles = Styles(r["implementation"] for run in runs for r in run.results)
    sections = {
        "machine": _machine(runs) if runs else None,
        "throughput": _throughput(runs, styles),
        "bandwidth": _bandwidth(runs, styles),
        "batch-size": _batch_size(runs, styles),
        "results": _results(runs),
        "conformance": _conformance(check) if check is not None else None,
        "micro": _micro(micros) if micros else None,
    }
    present = {key: section for key, section in sections.items() if section is not None}
    sources = [run.label for run in runs] + [_micro_label(m) for m in micros]
    if check is not None:
        sources.append(f"check of {check.get('target', {}).get('name', 'a target')}")
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
