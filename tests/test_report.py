"""``nnconform report`` and ``nnconform.reports.build_report`` on synthetic documents: every
section with the charts its data calls for, every document string escaped, nothing fetched
from anywhere, and a report written whole or not at all.

The documents follow the contract of ``nnconform bench --json`` (schema nnconform-bench/1),
``nnconform check --json`` and ``pytest --benchmark-json``; their numbers are made up from a
simple cost model (time = overhead + bytes / bandwidth), not measured."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nnconform import units
from nnconform.cli import main
from nnconform.reports import svg
from nnconform.reports.documents import load_json, validate_bench, validate_check
from nnconform.reports.html import build_report

ROOT = Path(__file__).resolve().parents[1]

# Planted in target names, reasons and messages: each must come out escaped, never as markup.
XSS = "<script>window.__xss=1</script>"
ALERT = "<script>alert(1)</script>"
QUOTES = "\"&'"
EVIL = f'{XSS}{QUOTES}<img src=x onerror="window.__xss=2">'

BYTES_PER_ELEMENT = {"adam": 28, "gelu": 8}
FLAT_SIZES = (2**16, 2**18, 2**20, 2**22)
BATCHES = (1, 10, 100, 1000, 10000)
TRIAD = {"cpu": 12.0, "cuda": 1500.0}
# GB/s each implementation reaches in the cost model
BANDWIDTH = {
    "reference": 2.5,
    "torch": 8.0,
    "torch-forloop": 6.0,
    "torch-foreach": 9.0,
    "torch-fused": 11.0,
    EVIL: 4.0,
}


# The fields of a bench result that are null until the result says otherwise.
NULLS = (
    "reason", "median_s", "q1_s", "q3_s", "rel_iqr", "noisy", "bytes", "gbs",
    "fraction_of_bandwidth", "flops", "gflops", "speedup_vs_reference", "slowdown_vs_fastest",
    "per_epoch_s", "dataset_size",
)  # fmt: skip


def _result(kernel: str, implementation: str, device: str, size: int, **fields) -> dict:
    """A result as nnconform bench writes it, its derived numbers computed from median_s."""
    row = dict.fromkeys(NULLS) | {
        "kernel": kernel,
        "family": "?",
        "implementation": implementation,
        "device": device,
        "size": size,
        "size_label": "batch size" if kernel == "mlp_step" else "elements",
        "status": "ok",
        "samples_s": [],
        "number": 1,
    }
    row.update(fields)
    if row["status"] == "ok":
        median = row["median_s"]
        spread = 0.3 if row.get("noisy") else 0.02
        row.update(q1_s=median * (1 - spread / 2), q3_s=median * (1 + spread / 2), rel_iqr=spread)
        row["noisy"] = spread > 0.10
        row["samples_s"] = [median] * 15
        if row["bytes"]:
            row["gbs"] = row["bytes"] / median / 1e9
            row["fraction_of_bandwidth"] = row["gbs"] / TRIAD[device]
        if row["flops"]:
            row["gflops"] = row["flops"] / median / 1e9
    return row


def _memory_bound(kernel: str, implementation: str, device: str, size: int, **fields) -> dict:
    moved = BYTES_PER_ELEMENT[kernel] * size
    bandwidth = BANDWIDTH[implementation] * (100 if device == "cuda" else 1)
    median = 2e-6 + moved / (bandwidth * 1e9)
    return _result(kernel, implementation, device, size, median_s=median, bytes=moved, **fields)


def _ratios(results: list[dict]) -> None:
    """speed-up vs reference and × fastest, as the bench computes them."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        if r["status"] == "ok":
            groups.setdefault((r["kernel"], r["device"], r["size"]), []).append(r)
    for rows in groups.values():
        fastest = min(r["median_s"] for r in rows)
        reference = [r["median_s"] for r in rows if r["implementation"] == "reference"]
        for r in rows:
            r["slowdown_vs_fastest"] = r["median_s"] / fastest
            r["speedup_vs_reference"] = reference[0] / r["median_s"] if reference else None


ADAM_CPU = ("reference", "torch", "torch-forloop", "torch-foreach", "torch-fused", EVIL)
ADAM_CUDA = ("torch", "torch-foreach", "torch-fused")


def bench_document(machine: str = "AMD EPYC 7B13", created: str = "2026-11-23T10:00:00+00:00"):
    """Four kernels: adam (memory-bound, 6 implementations on cpu, 3 on cuda, one noisy row),
    gelu (memory-bound, an unsupported and an error row), conv2d (compute-bound) and mlp_step
    (the batch-size experiment)."""
    results = []
    for size in FLAT_SIZES:
        for implementation in ADAM_CPU:
            noisy = implementation == "torch" and size == 2**18
            results.append(_memory_bound("adam", implementation, "cpu", size, noisy=noisy))
    for size in FLAT_SIZES:
        for implementation in ADAM_CUDA:
            results.append(_memory_bound("adam", implementation, "cuda", size))
    for size in FLAT_SIZES:
        results.append(_memory_bound("gelu", "reference", "cpu", size))
        results.append(_memory_bound("gelu", "torch", "cpu", size))
        results.append(
            _result(
                "gelu",
                "torch-fused",
                "cpu",
                size,
                status="unsupported",
                reason=f"torch-fused exists for optimisers only {QUOTES}",
            )
        )
        results.append(
            _result(
                "gelu",
                EVIL,
                "cpu",
                size,
                status="error",
                reason=f"Traceback (most recent call last):\n  RuntimeError: {EVIL}",
            )
        )
    for size in (2**14, 2**16, 2**18):
        flops = 3 * 2 * (size / 16) * 16 * 9  # fwd + bwd ≈ 3 convolutions, 2 per MAC
        for implementation, rate in (("reference", 2e9), ("torch", 4e10)):
            results.append(
                _result(
                    "conv2d", implementation, "cpu", size, median_s=1e-5 + flops / rate, flops=flops
                )
            )
    for batch in BATCHES:
        flops = 3 * 2 * batch * (784 * 256 + 256 * 10)
        for implementation, overhead, per_example in (
            ("reference", 1e-4, 1e-5),
            ("torch", 4e-5, 1e-6),
        ):
            median = overhead + batch * per_example
            results.append(
                _result(
                    "mlp_step",
                    implementation,
                    "cpu",
                    batch,
                    median_s=median,
                    flops=flops,
                    dataset_size=60000,
                    per_epoch_s=median * math.ceil(60000 / batch),
                )
            )
    _ratios(results)
    return {
        "schema": "nnconform-bench/1",
        "created": created,
        "machine": {
            "cpu": machine,
            "logical_cores": 2,
            "threads": 2,
            "python": "3.11.7",
            "numpy": "2.4.6",
            "torch": f"2.13.0 {QUOTES}",
            "blas": "openblas",
            "allocator": {"LD_PRELOAD": None, "MALLOC_ARENA_MAX": "2"},
            "gpu": "NVIDIA H100",
        },
        "bandwidth": {
            device: {
                "device": device,
                "backend": "torch",
                "threads": 2,
                "elements": 2**25,
                "copy_gbs": triad * 0.9,
                "triad_gbs": triad,
            }
            for device, triad in TRIAD.items()
        },
        "settings": {"warmup": 3, "repeats": 15, "min_sample_time": 0.01, "threads": 2, "seed": 0},
        "results": results,
    }


def micro_document() -> dict:
    """pytest --benchmark-json, trimmed to the fields the report reads and a few more."""
    names = ["test_adam_step[1000]", "test_softmax[4096]", f"test_{QUOTES}{ALERT}"]
    return {
        "machine_info": {"node": "ci-runner", "cpu": {"brand_raw": "AMD EPYC"}},
        "commit_info": {"id": "2f94c85"},
        "benchmarks": [
            {
                "group": None,
                "name": name,
                "fullname": f"tests/test_oracle_hot_paths.py::{name}",
                "params": None,
                "extra_info": {},
                "stats": {
                    "min": m * 0.9,
                    "max": m * 1.5,
                    "mean": m * 1.05,
                    "stddev": m * 0.1,
                    "rounds": rounds,
                    "median": m,
                    "iqr": m * 0.04,
                    "q1": m * 0.98,
                    "q3": m * 1.02,
                    "ops": 1 / m,
                },
            }
            for name, m, rounds in zip(
                names, (2.1e-5, 4.4e-4, 3.0e-7), (4000, 900, 100000), strict=True
            )
        ],
        "datetime": "2026-11-23T16:15:14+00:00",
        "version": "5.3.1",
    }


def check_document() -> dict:
    """A check of a target whose name is a script, with a pass, a variant, a failure and an
    unsupported catalogue id."""

    def row(algorithm, verdict, variants=(), **counts):
        base = dict.fromkeys(
            ("pass", "variant", "fail", "unsupported", "error", "xfail", "xpass"), 0
        )
        return {
            "algorithm": algorithm,
            **(base | counts),
            "variants": list(variants),
            "consistent": True,
            "verdict": verdict,
        }

    def record(algorithm, prop, status, message=None):
        return {
            "algorithm": algorithm,
            "property": prop,
            "status": status,
            "variant": None,
            "default_variant": None,
            "matched": None,
            "max_abs_err": "inf",
            "max_rel_err": 0.5,
            "tolerance": {"rtol": 1e-6, "atol": 1e-8},
            "counterexample": None,
            "message": message,
            "nodeid": f"test_x.py::test_{prop}[{algorithm}]",
            "duration_s": 0.1,
            "closest": None,
        }

    return {
        "target": {"name": ALERT, "version": QUOTES, "device": "cpu", "dtypes": ["float32"]},
        "profile": "ci",
        "hypothesis_seed": 0,
        "strict": False,
        "exit_status": 1,
        "summary": [
            row("relu", "pass", **{"pass": 3}),
            row("gelu", "variant", ["tanh"], variant=2),
            row("softmax", "fail", fail=1, **{"pass": 2}),
            row("spectral_norm", "unsupported", unsupported=2),
        ],
        "records": [
            record("relu", "forward_matches_the_oracle", "pass"),
            record(
                "softmax",
                "softmax_is_finite_at_logits_of_1e4",
                "fail",
                f"softmax(±1e4): out=array([nan, 0.]) {QUOTES}\n</pre>{XSS}\nReproduce with:",
            ),
            record("spectral_norm", "forward_matches_the_oracle", "unsupported"),
        ],
    }


# ---------------------------------------------------------------------------------------------
# A small DOM, enough to count what each section holds


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.text: list[str] = []

    def all(self, tag: str, cls: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if child.tag == tag and (cls is None or cls in child.classes):
                found.append(child)
            found += child.all(tag, cls)
        return found

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def content(self) -> str:
        return "".join(self.text) + "".join(c.content() for c in self.children)


class _Builder(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "link", "input", "col", "wbr"})

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.node = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.node)
        self.node.children.append(node)
        if tag not in self.VOID:
            self.node = node

    def handle_startendtag(self, tag, attrs):
        self.node.children.append(Node(tag, dict(attrs), self.node))

    def handle_endtag(self, tag):
        assert self.node.tag == tag, f"</{tag}> closes <{self.node.tag}>: the page is not nested"
        self.node = self.node.parent

    def handle_data(self, data):
        self.node.text.append(data)


def parse(page: str) -> Node:
    builder = _Builder()
    builder.feed(page)
    builder.close()
    assert builder.node is builder.root, f"<{builder.node.tag}> is never closed"
    return builder.root


def section(dom: Node, key: str) -> Node:
    (found,) = [s for s in dom.all("section") if s.attrs.get("id") == key]
    return found


def plots(node: Node) -> list[Node]:
    return node.all("svg", "plot")


def title_of(plot: Node) -> str:
    return plot.all("title")[0].content()


@pytest.fixture(scope="module")
def page() -> str:
    return build_report(
        check=check_document(), bench=[bench_document(), micro_document()], title=f"Nightly {ALERT}"
    )


@pytest.fixture(scope="module")
def dom(page) -> Node:
    return parse(page)


# ---------------------------------------------------------------------------------------------
# The sections


def test_every_section_is_there_in_order_with_a_link(dom):
    ids = [s.attrs["id"] for s in dom.all("section")]
    assert ids == [
        "machine",
        "throughput",
        "bandwidth",
        "batch-size",
        "results",
        "conformance",
        "micro",
    ]
    assert [a.attrs["href"] for a in dom.all("nav")[0].all("a")] == [f"#{i}" for i in ids]


def test_a_section_is_left_out_when_its_data_is_not_there():
    dom = parse(build_report(check=check_document()))
    assert [s.attrs["id"] for s in dom.all("section")] == ["conformance"]
    dom = parse(build_report(bench=[micro_document()]))
    assert [s.attrs["id"] for s in dom.all("section")] == ["micro"]
    document = bench_document()
    document["results"] = [r for r in document["results"] if r["kernel"] == "conv2d"]
    ids = [s.attrs["id"] for s in parse(build_report(bench=[document])).all("section")]
    assert ids == ["machine", "throughput", "results"]  # no bandwidth, no batch size


def test_every_plot_is_an_accessible_svg(dom):
    every = plots(dom)
    assert len(every) == 5 + 3 + 2 + 1
    for plot in every:
        assert plot.attrs["role"] == "img"
        assert plot.attrs["aria-label"]
        assert plot.children[0].tag == "title" and plot.children[0].content()


def test_machine_section_shows_the_machine_and_stream_per_device(dom):
    machine = section(dom, "machine")
    text = machine.content()
    assert "AMD EPYC 7B13" in text and "MALLOC_ARENA_MAX=2" in text and "2.13.0" in text
    (_, streams) = machine.all("table")
    rows = [[td.content() for td in tr.all("td")] for tr in streams.all("tr")[1:]]
    assert [r[0] for r in rows] == ["cpu", "cuda"]
    assert rows[0][-2:] == ["10.8 GB/s", "12.0 GB/s"]


def test_one_throughput_plot_per_kernel_and_device_with_a_line_per_implementation(dom):
    charts = {title_of(p): p for p in plots(section(dom, "throughput"))}
    assert list(charts) == [
        "adam on cpu",
        "adam on cuda",
        "gelu on cpu",
        "conv2d on cpu",
        "mlp_step on cpu",
    ]
    lines = {t: len(p.all("polyline", "line")) for t, p in charts.items()}
    assert lines == {
        "adam on cpu": 6,
        "adam on cuda": 3,
        "gelu on cpu": 2,
        "conv2d on cpu": 2,
        "mlp_step on cpu": 2,
    }
    # four sizes: four markers per line, in a legend entry per implementation
    (torch,) = [
        g
        for g in charts["adam on cpu"].all("g", "series")
        if g.all("title")[0].content() == "torch"
    ]
    assert len(torch.all("polygon")) + len(torch.all("rect")) + len(torch.all("circle")) == 4
    assert len(charts["adam on cpu"].all("g", "legend")) == 6
    # GB/s plots carry the STREAM triad line; the compute-bound ones are in GFLOP/s, without it
    assert "STREAM triad 12.0 GB/s" in charts["adam on cpu"].content()
    assert "STREAM triad 1,500 GB/s" in charts["adam on cuda"].content()
    assert "GFLOP/s" in charts["conv2d on cpu"].content()
    assert not charts["conv2d on cpu"].all("g", "reference")
    # the size axis is labelled in powers of two
    assert "2¹⁶" in charts["adam on cpu"].content()


def test_a_noisy_point_is_drawn_open(dom):
    (adam,) = [p for p in plots(section(dom, "throughput")) if title_of(p) == "adam on cpu"]
    fills = [
        m.attrs.get("fill")
        for g in adam.all("g", "series")
        for m in g.all("circle") + g.all("rect") + g.all("polygon")
    ]
    assert fills.count("#fff") == 1


def test_fraction_of_bandwidth_has_a_bar_per_implementation_at_the_largest_size(dom):
    charts = {title_of(p): p for p in plots(section(dom, "bandwidth"))}
    assert list(charts) == [
        "adam on cpu at 4,194,304 (2²²) elements",
        "adam on cuda at 4,194,304 (2²²) elements",
        "gelu on cpu at 4,194,304 (2²²) elements",
    ]
    bars = {t: len(p.all("rect", "bar")) for t, p in charts.items()}
    assert list(bars.values()) == [6, 3, 2]
    fused = 28 * 2**22 / (2e-6 + 28 * 2**22 / 11e9) / 1e9 / 12.0
    assert f"{100 * fused:.1f} %" in charts["adam on cpu at 4,194,304 (2²²) elements"].content()


def test_batch_size_plots_time_per_update_and_per_epoch(dom):
    batch = section(dom, "batch-size")
    charts = {title_of(p): p for p in plots(batch)}
    assert list(charts) == ["mlp_step on cpu: time per update", "mlp_step on cpu: time per epoch"]
    for chart in charts.values():
        assert len(chart.all("polyline", "line")) == 2
        points = chart.all("polyline")[0].attrs["points"].split()
        assert len(points) == len(BATCHES)
    assert "N = 60,000" in batch.content()


def test_results_tables_have_a_row_per_result_with_units_and_status(dom):
    results = section(dom, "results")
    headings = [h.content() for h in results.all("h3")]
    assert headings == ["adam", "gelu", "conv2d", "mlp_step"]
    tables = dict(zip(headings, results.all("table"), strict=True))
    adam = tables["adam"]
    header = [th.content() for th in adam.all("th")]
    assert header == [
        "device",
        "size",
        "implementation",
        "median",
        "IQR",
        "noisy",
        "GB/s",
        "% bandwidth",
        "speed-up vs reference",
        "× fastest",
        "status",
    ]
    rows = adam.all("tbody")[0].all("tr")
    assert len(rows) == len(FLAT_SIZES) * (len(ADAM_CPU) + len(ADAM_CUDA))
    assert sum("noisy" in r.content() for r in rows) == 1
    fastest = [r for r in rows if "fastest" in r.classes]
    assert len(fastest) == 2 * len(FLAT_SIZES)  # one per size on each device
    assert all("torch-fused" in r.content() for r in fastest)
    assert any(td.content().endswith(" µs") for td in rows[0].all("td"))

    gelu = tables["gelu"].all("tbody")[0].all("tr")
    statuses = [r.all("td")[-1] for r in gelu]
    assert sum("status-unsupported" in td.classes for td in statuses) == len(FLAT_SIZES)
    errors = [td for td in statuses if "status-error" in td.classes]
    assert len(errors) == len(FLAT_SIZES)
    assert errors[0].all("details") and "RuntimeError" in errors[0].all("pre")[0].content()

    assert "GFLOP/s" in [th.content() for th in tables["conv2d"].all("th")]
    mlp = [th.content() for th in tables["mlp_step"].all("th")]
    assert "per epoch" in mlp and "GFLOP/s" in mlp and "% bandwidth" not in mlp


def test_conformance_matrix_has_a_row_per_catalogue_id_and_the_failures(dom):
    conformance = section(dom, "conformance")
    (matrix,) = conformance.all("table", "matrix")
    rows = matrix.all("tbody")[0].all("tr")
    assert [r.all("td")[0].content() for r in rows] == ["relu", "gelu", "softmax", "spectral_norm"]
    verdicts = [r.all("td")[1] for r in rows]
    assert [v.classes[-1] for v in verdicts] == [
        "verdict-pass",
        "verdict-variant",
        "verdict-fail",
        "verdict-unsupported",
    ]
    assert rows[1].all("td")[-1].content() == "tanh"  # the variant matched
    (failure,) = conformance.all("details", "failure")
    assert "softmax :: softmax_is_finite_at_logits_of_1e4" in failure.all("summary")[0].content()
    assert "Reproduce with:" in failure.all("pre")[0].content()


def test_micro_benchmarks_get_a_table_and_a_bar_per_benchmark(dom):
    micro = section(dom, "micro")
    rows = micro.all("table")[0].all("tbody")[0].all("tr")
    assert [r.all("td")[1].content() for r in rows] == ["21.0 µs", "440 µs", "300 ns"]
    assert rows[0].all("td")[-1].content() == "4,000"
    (chart,) = plots(micro)
    assert len(chart.all("rect", "bar")) == 3


def test_several_bench_documents_are_labelled_by_machine_and_time():
    first = bench_document("Intel Xeon 8480", "2026-11-20T09:00:00+00:00")
    second = bench_document("AMD EPYC 9654", "2026-11-21T09:00:00+00:00")
    dom = parse(build_report(bench=[first, second]))
    headings = [h.content() for h in section(dom, "throughput").all("h3")]
    assert headings == [
        "run 1: Intel Xeon 8480, 2026-11-20T09:00:00+00:00",
        "run 2: AMD EPYC 9654, 2026-11-21T09:00:00+00:00",
    ]
    assert len(plots(section(dom, "throughput"))) == 10
    assert len(section(dom, "results").all("table")) == 8


# ---------------------------------------------------------------------------------------------
# Escaping and self-containment


def test_document_text_is_escaped_everywhere(page):
    for planted in (XSS, ALERT, QUOTES, "<img", 'onerror="'):
        assert planted not in page
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;&quot;&amp;&#x27;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()  # the page has no script of its own either


def test_escaped_names_survive_inside_svg_text_and_attributes(dom):
    (adam,) = [p for p in plots(section(dom, "throughput")) if title_of(p) == "adam on cpu"]
    names = [g.all("title")[0].content() for g in adam.all("g", "series")]
    assert EVIL in names  # parsed back to the original: escaped once, not twice
    assert EVIL in adam.attrs["aria-label"]
    assert dom.all("title")[0].content() == f"Nightly {ALERT}"


def _everything(node: Node) -> list[Node]:
    return [node] + [n for child in node.children for n in _everything(child)]


def test_nothing_is_fetched_from_anywhere(page, dom):
    lowered = page.lower()
    for needle in ("http://", "https://", "url(", "@import", "<link", "<img", "<iframe"):
        assert needle not in lowered, needle
    for node in _everything(dom):
        assert "src" not in node.attrs and "xlink:href" not in node.attrs, node.tag
        assert node.attrs.get("href", "#").startswith("#"), node.attrs
        assert not any(name.startswith("on") for name in node.attrs), node.attrs
    assert " src=" not in page.replace("&lt;img src=", "")  # only the planted text, escaped
    (policy,) = [
        m for m in dom.all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    assert "default-src 'none'" in policy.attrs["content"]  # the browser would refuse a fetch


# ---------------------------------------------------------------------------------------------
# Bad documents


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"summary": [], "records": []},
            "bench document 1 is not an nnconform bench document "
            "(no 'results'); got keys ['records', 'summary'] (it looks like a check document",
        ),
        ([1, 2], "got a JSON list"),
        ({"schema": "nnconform-bench/2", "results": []}, "has schema 'nnconform-bench/2'"),
    ],
)
def test_a_document_that_is_not_a_bench_document_is_refused(document, message):
    with pytest.raises(ValueError) as error:
        build_report(bench=[document])
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"size": 0}, "'size' must be a positive integer, got 0"),
        ({"status": "fast"}, "'status' must be one of ('ok', 'unsupported', 'error'), got 'fast'"),
        ({"median_s": None}, "'median_s' must be a positive number for a result with status 'ok'"),
        ({"gbs": "fast"}, "'gbs' must be a finite number or null, got 'fast'"),
        ({"gbs": float("nan")}, "'gbs' must be a finite number or null, got nan"),
        ({"kernel": None}, "'kernel' must be a non-empty string, got None"),
    ],
)
def test_a_bad_result_is_refused_naming_its_index_and_field(change, message):
    document = bench_document()
    document["results"][3].update(change)
    with pytest.raises(ValueError) as error:
        validate_bench(document, "bench.json")
    assert str(error.value).startswith("bench.json: results[3]")
    assert message in str(error.value)


def test_a_bad_check_document_is_refused():
    with pytest.raises(ValueError, match=r"check\.json is not an nnconform check document"):
        validate_check({"results": []}, "check.json")
    document = check_document()
    document["summary"][2]["fail"] = -1
    with pytest.raises(ValueError, match=r"summary\[2\] \(softmax\): 'fail' must be a count"):
        validate_check(document)


def test_build_report_needs_something_to_report():
    with pytest.raises(ValueError, match="needs a check document or at least one bench document"):
        build_report()


def test_load_json_names_the_file_and_the_problem(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"results": [', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json is not valid JSON: .* line 1 column 14"):
        load_json(broken)
    with pytest.raises(ValueError, match=r"cannot read .*missing\.json: No such file"):
        load_json(tmp_path / "missing.json")


# ---------------------------------------------------------------------------------------------
# The command line


def _write(path: Path, document) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_command_writes_the_report_and_prints_its_path(tmp_path, capsys):
    bench = _write(tmp_path / "bench.json", bench_document())
    micro = _write(tmp_path / "micro.json", micro_document())
    check = _write(tmp_path / "check.json", check_document())
    out = tmp_path / "out" / "report.html"
    status = main(
        [
            "report",
            "--check",
            str(check),
            "--bench",
            str(bench),
            "--bench",
            str(micro),
            "--html",
            str(out),
            "--title",
            "Nightly",
        ]
    )
    assert status == 0
    assert capsys.readouterr().out.strip() == str(out)
    dom = parse(out.read_text(encoding="utf-8"))
    assert len(dom.all("section")) == 7
    assert dom.all("title")[0].content() == "Nightly"
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temporary left


def test_the_command_takes_several_bench_files_after_one_option(tmp_path):
    first = _write(tmp_path / "a.json", bench_document())
    second = _write(tmp_path / "b.json", bench_document("Other CPU"))
    out = tmp_path / "report.html"
    assert main(["report", "--bench", str(first), str(second), "--html", str(out)]) == 0
    assert "run 2: Other CPU" in out.read_text(encoding="utf-8")


def _fails(args: list[str], capsys) -> str:
    assert main(["report", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnconform report: error: ") and err.count("\n") == 1, err
    return err


def test_the_command_needs_a_check_or_a_bench(tmp_path, capsys):
    err = _fails(["--html", str(tmp_path / "r.html")], capsys)
    assert "give --check PATH and/or --bench PATH" in err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read {path}: No such file or directory"),
        (
            "{not json",
            "{path} is not valid JSON: Expecting property name enclosed in double "
            "quotes at line 1 column 2",
        ),
        (
            json.dumps({"summary": [], "records": []}),
            "{path} is not an nnconform bench document (no 'results')",
        ),
        (
            json.dumps({"results": [{"kernel": "adam"}]}),
            "{path}: results[0]: 'implementation' must be a non-empty string",
        ),
    ],
)
def test_a_bad_bench_file_exits_2_naming_it_and_leaves_the_report_as_it_was(
    tmp_path, capsys, content, message
):
    path = tmp_path / "bench.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    out = tmp_path / "report.html"
    out.write_text("the previous report", encoding="utf-8")
    err = _fails(["--bench", str(path), "--html", str(out)], capsys)
    assert message.format(path=path) in err
    assert out.read_text(encoding="utf-8") == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["report.html"] + (["bench.json"] if content is not None else [])
    )


def test_an_output_path_that_is_a_directory_is_refused(tmp_path, capsys):
    bench = _write(tmp_path / "bench.json", bench_document())
    err = _fails(["--bench", str(bench), "--html", str(tmp_path)], capsys)
    assert "is a directory; give a file name such as report.html" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]


def test_a_bench_file_given_as_check_says_so(tmp_path, capsys):
    bench = _write(tmp_path / "bench.json", bench_document())
    err = _fails(["--check", str(bench), "--html", str(tmp_path / "r.html")], capsys)
    assert f"{bench} is not an nnconform check document" in err
    assert "pass it with --bench" in err


def test_an_interrupted_render_leaves_no_file(tmp_path, monkeypatch):
    import nnconform.reports.html

    bench = _write(tmp_path / "bench.json", bench_document())
    out = tmp_path / "report.html"
    out.write_text("the previous report", encoding="utf-8")

    def interrupted(**_):
        raise KeyboardInterrupt

    monkeypatch.setattr(nnconform.reports.html, "build_report", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["report", "--bench", str(bench), "--html", str(out)])
    assert out.read_text(encoding="utf-8") == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json", "report.html"]


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch, capsys):
    """The page goes through nnconform.files.write_text_atomically: a write that fails half way
    leaves neither half a page nor a temporary file."""
    import tempfile

    bench = _write(tmp_path / "bench.json", bench_document())
    out = tmp_path / "report.html"
    real = tempfile.NamedTemporaryFile

    class Full:
        def __init__(self, *args, **kwargs):
            self.handle = real(*args, **kwargs)
            self.name = self.handle.name

        def write(self, text):
            self.handle.write(text[:100])
            raise OSError(28, "No space left on device")

        def close(self):
            self.handle.close()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", Full)
    err = _fails(["--bench", str(bench), "--html", str(out)], capsys)
    assert "cannot write" in err and "No space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]


def test_a_real_check_document_with_a_failure_renders(tmp_path):
    """The report reads what `nnconform check --json` writes today (a planted bug's failure)."""
    verdicts = tmp_path / "verdicts.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nnconform",
            "check",
            "--target",
            "tests.zoo.activations:softmax_without_max",
            "-k",
            "softmax",
            "--json",
            str(verdicts),
        ],
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=False,
        cwd=ROOT,
    )
    document = load_json(verdicts)
    dom = parse(build_report(check=copy.deepcopy(document)))
    conformance = section(dom, "conformance")
    rows = conformance.all("table", "matrix")[0].all("tbody")[0].all("tr")
    assert len(rows) == len(document["summary"])
    failures = [d.all("summary")[0].content() for d in conformance.all("details", "failure")]
    assert any("softmax_is_finite_at_logits_of_1e4" in f for f in failures)


# ---------------------------------------------------------------------------------------------
# Units and axes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (units.seconds(0.0123), "12.3 ms"),
        (units.seconds(4.5e-7), "450 ns"),
        (units.seconds(1.5), "1.50 s"),
        (units.seconds(1e-5, trim=True), "10 µs"),
        (units.seconds(None), "–"),
        (units.rate(38.24, "GB/s"), "38.2 GB/s"),
        (units.rate(1500.0, "GB/s"), "1,500 GB/s"),
        (units.percent(0.8412), "84.1 %"),
        (units.ratio(5.1), "5.10×"),
        (units.size(2**24), "16,777,216 (2²⁴)"),
        (units.size(1000), "1,000"),
        (units.count(10000), "10⁴"),
    ],
)
def test_numbers_are_written_with_their_units(text, expected):
    assert text == expected


@pytest.mark.parametrize("base", [2, 10])
@pytest.mark.parametrize("low", [1e-7, 0.9, 3.3, 12.0, 2**16, 7e5])
@pytest.mark.parametrize("ratio", [1.0, 1.05, 3.0, 1e3, 1e9])
def test_a_log_axis_has_between_two_and_nine_ticks_inside_it(base, low, ratio):
    lo, hi = svg._log_domain([low, low * ratio], base)
    assert lo < low and hi > low * ratio  # the data sit inside the frame, not on it
    ticks = svg._log_ticks(lo, hi, base)
    assert 2 <= len(ticks) <= 9, ticks
    assert all(lo <= t <= hi for t in ticks) and ticks == sorted(ticks)
