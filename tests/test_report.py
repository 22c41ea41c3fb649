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


UPDATE = {"cpu": 13.0, "cuda": 1600.0}  # STREAM update: the roof of a kernel that works in place
IN_PLACE = {"adam"}


def with_roofs(document: dict) -> dict:
    """A bench document as the interleaved bench writes it: STREAM update beside copy and
    triad, each memory-bound result against its own roof (update for adam, which works in
    place; triad for gelu), the ratio to the baseline with its 95 % interval, what each size
    means, and the settings of an interleaved run."""
    for device, stream in document["bandwidth"].items():
        stream["update_gbs"] = UPDATE[device]
    for r in document["results"]:
        r["size_meaning"] = (
            "N, the examples of one SGD step" if r["kernel"] == "mlp_step" else
            "elements of a flat float32 vector"
        )  # fmt: skip
        r["baseline"] = "reference"
        if r["status"] == "ok" and r["gbs"] is not None:
            r["roof"] = "update" if r["kernel"] in IN_PLACE else "triad"
            r["roof_gbs"] = (UPDATE if r["roof"] == "update" else TRIAD)[r["device"]]
            r["fraction_of_bandwidth"] = r["gbs"] / r["roof_gbs"]
            r["roof_note"] = None
        if r["status"] == "ok" and r["speedup_vs_reference"] is not None:
            ratio = 1 / r["speedup_vs_reference"]
            if r["implementation"] == "reference":
                r.update(ratio=1.0, ratio_ci=[1.0, 1.0], verdict=None)
            else:
                low, high = ratio * 0.95, ratio * 1.05
                verdict = "slower" if low > 1 else "faster" if high < 1 else "same"
                r.update(ratio=ratio, ratio_ci=[low, high], verdict=verdict)
    document["settings"] |= {
        "clock": "wall",
        "baseline": "reference",
        "targets": {"reference": "reference", "torch": "torch"},
        "interleaved": True,
        "confidence": 0.95,
        "false_alarm_rate": 0.05,
        "interval": "hodges-lehmann",
        "memory": {
            "needed_bytes": 203 * 2**20,
            "worst": "mlp_step at batch size 10000 on cpu (reference, torch)",
            "available_bytes": 22 * 2**30,
        },
    }
    document["notes"] = ["jax is not installed: its implementations were skipped"]
    return document


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


# Documents of several frameworks for the matrix page: a verdict per catalogue id ("variant:erf"
# is the variant erf); an id left out is one the document did not check. "flaky" stands for a
# verdict string a later nnconform may write, and my_fused_op for an id outside the catalogue.
FRAMEWORKS = {
    "torch": {
        "relu": "pass",
        "gelu": "variant:erf",
        "softmax": "pass",
        "adam": "pass",
        "batch_norm": "pass",
        "spectral_norm": "unsupported",
    },
    "jax": {
        "relu": "pass",
        "gelu": "pass",
        "softmax": "fail",
        "adam": "variant:efficient",
        "batch_norm": "fail",
        "spectral_norm": "pass",
    },
    "my_kernels": {
        "relu": "fail",
        "gelu": "unsupported",
        "softmax": "xpass",
        "adam": "flaky",
        "my_fused_op": "pass",
    },
    "keras": {"relu": "pass", "gelu": "variant:tanh_approx", "adagrad": "variant:eps_inside"},
}
# What the message of a failure says, and a record whose own maxima (over every example tried)
# are other numbers: the page must show the message's.
FAILURE_NUMBERS = "max abs err 0.0123, max rel err 0.5, tolerance rtol=1e-06, atol=1e-08"
SECOND_MACHINE = "Intel Xeon 8480"


def framework_check(
    name: str,
    version: str | None = "1.0",
    device: str = "cpu",
    machine: dict | str | None = None,
    seed: int = 0,
) -> dict:
    """A check document of target ``name`` with the verdicts FRAMEWORKS gives it."""
    summary, records = [], []
    for algorithm, verdict in FRAMEWORKS[name].items():
        verdict, _, variant = verdict.partition(":")
        status = (
            verdict if verdict in ("pass", "variant", "fail", "unsupported", "xpass") else "pass"
        )
        counts = dict.fromkeys(
            ("pass", "variant", "fail", "unsupported", "error", "xfail", "xpass"), 0
        )
        counts[status] = 1
        summary.append(
            {
                "algorithm": algorithm,
                **counts,
                "default_variant": "tanh" if variant else None,
                "variants": [variant] if variant else [],
                "consistent": True,
                "verdict": verdict,
            }
        )
        failed = status in ("fail", "xpass")
        records.append(
            {
                "algorithm": algorithm,
                "property": "forward_matches_the_oracle",
                "status": status,
                "variant": variant or None,
                "max_abs_err": 7.25 if failed else 0.0,
                "max_rel_err": "inf" if failed else 0.0,
                "tolerance": {"rtol": 1e-6, "atol": 1e-8},
                "message": f"{algorithm} of {name}: out=array([1.]), but should be roughly "
                f"array([0.9877])\nworst at index (0,): out 1.0, expected 0.9877; "
                f"{FAILURE_NUMBERS}\nReproduce with: ..."
                if failed
                else None,
                "nodeid": f"test_x.py::test_forward_matches_the_oracle[{algorithm}]",
                "duration_s": 0.01,
                "timed_out": False,
                "compared": 0 if status == "unsupported" else 5,
                "unexposed": [],
                "unsupported_examples": 0,
                "unsupported_reason": f"{name} has no {algorithm}"
                if status == "unsupported"
                else None,
            }
        )
    document = {
        "target": {"name": name, "version": version, "device": device, "dtypes": ["float32"]},
        "profile": "ci",
        "hypothesis_seed": seed,
        "strict": False,
        "exit_status": 1,
        "summary": summary,
        "records": records,
    }
    if machine is not None:
        document["machine"] = machine
    return document


def framework_documents() -> tuple[list[dict], list[dict]]:
    """Three check documents (torch on the first machine's CPU, jax on the second machine's
    GPU, a user's target with no machine record) and bench documents from the two machines (the
    second as the interleaved bench writes it, with roofs and ratios)."""
    first = bench_document()
    second = with_roofs(bench_document(SECOND_MACHINE, "2026-11-24T10:00:00+00:00"))
    checks = [
        framework_check("torch", "2.13.0+cpu", "cpu", first["machine"]),
        framework_check("jax", "0.4.38", "cuda", second["machine"]),
        framework_check("my_kernels", None),
    ]
    return checks, [first, second, micro_document()]


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
    (streams,) = machine.all("table", "stream")
    rows = [[td.content() for td in tr.all("td")] for tr in streams.all("tr")[1:]]
    assert [r[0] for r in rows] == ["cpu", "cuda"]
    assert rows[0][-3:-1] == ["10.8 GB/s", "12.0 GB/s"]
    assert rows[0][4] == "384 MiB"  # the working set of STREAM's three arrays of 2²⁵ float32


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
        "% STREAM triad",
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
    assert "per epoch" in mlp and "GFLOP/s" in mlp and "% STREAM triad" not in mlp


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
# A truthful report (issue 9, item 7)

MIB = 2**20


def _figures(dom: Node, key: str) -> dict[str, Node]:
    return {title_of(f.all("svg")[0]): f for f in section(dom, key).all("figure")}


def _caption(figure: Node) -> str:
    return figure.all("figcaption")[0].content()


def _bars(chart: Node) -> dict[str, Node]:
    """The bars of a chart by their label (the tooltip up to its first ': ')."""
    return {g.all("title")[0].content().split(": ")[0]: g for g in chart.all("g", "bar-entry")}


ADAM_CPU_2_22 = "adam on cpu at 4,194,304 (2²²) elements"  # moves 112 MiB: working set ≥ 56 MiB
GELU_CPU_2_22 = "gelu on cpu at 4,194,304 (2²²) elements"  # moves 32 MiB: working set ≤ 32 MiB
ADAM_CUDA_2_22 = "adam on cuda at 4,194,304 (2²²) elements"


@pytest.mark.parametrize(
    ("cache", "adam", "gelu"),
    [
        (32 * MIB, "is beyond the caches: it exceeds the 32 MiB last-level cache of cpu",
         "fits in the 32 MiB last-level cache of cpu"),
        (80 * MIB, "is about the size of the 80 MiB last-level cache of cpu",
         "fits in the 80 MiB last-level cache of cpu"),
        (256 * MIB, "fits in the 256 MiB last-level cache of cpu",
         "fits in the 256 MiB last-level cache of cpu"),
        (None, "the machine record gives no last-level cache size for cpu",
         "the machine record gives no last-level cache size for cpu"),
    ],
)  # fmt: skip
def test_a_caption_says_beyond_the_caches_only_when_the_working_set_exceeds_the_cache(
    cache, adam, gelu
):
    document = bench_document()
    if cache is not None:
        document["machine"]["llc_bytes"] = cache
    dom = parse(build_report(bench=[document]))
    figures = _figures(dom, "bandwidth")
    assert adam in _caption(figures[ADAM_CPU_2_22])
    assert gelu in _caption(figures[GELU_CPU_2_22])
    assert "(between 56 MiB and 112 MiB: half and all of the bytes moved per call)" in _caption(
        figures[ADAM_CPU_2_22]
    )
    claims = [t for t, f in figures.items() if "beyond the caches" in _caption(f)]
    assert claims == ([ADAM_CPU_2_22] if cache == 32 * MIB else [])
    assert "well beyond the caches" not in dom.content()


def test_a_small_size_is_never_said_to_be_beyond_the_caches():
    """The issue's case: the largest size 2¹⁰, which a caption called 'well beyond the caches'."""
    document = bench_document()
    document["results"] = [
        _memory_bound("adam", i, "cpu", n) for n in (2**8, 2**9, 2**10) for i in ADAM_CPU[:3]
    ]
    _ratios(document["results"])
    document["machine"]["llc_bytes"] = 32 * MIB
    (figure,) = _figures(parse(build_report(bench=[document])), "bandwidth").values()
    assert "fits in the 32 MiB last-level cache of cpu" in _caption(figure)
    assert "beyond" not in _caption(figure)


def test_a_gpu_is_judged_against_its_own_cache():
    document = bench_document()
    document["machine"]["llc_bytes"] = 512 * MIB
    document["machine"]["gpu_llc_bytes"] = 50 * MIB
    figures = _figures(parse(build_report(bench=[document])), "bandwidth")
    assert "exceeds the 50 MiB last-level cache of cuda" in _caption(figures[ADAM_CUDA_2_22])
    assert "fits in the 512 MiB last-level cache of cpu" in _caption(figures[ADAM_CPU_2_22])


def _largest(document: dict, kernel: str, implementation: str, device: str = "cpu") -> dict:
    (row,) = [
        r
        for r in document["results"]
        if (r["kernel"], r["implementation"], r["device"], r["size"])
        == (kernel, implementation, device, FLAT_SIZES[-1])
    ]
    return row


@pytest.mark.parametrize(
    ("cache", "fused", "foreach"),
    [
        (None, "a kernel that updates its arrays in place writes only lines it has just read, "
         "pays no write-allocate read, and can reach 16/12 ≈ 133 % of triad",
         "more than the 133 % that in-place writes (no write-allocate read) explain"),
        (256 * MIB, "its working set fits in the last-level cache",
         "its working set fits in the last-level cache"),
    ],
)  # fmt: skip
def test_a_bar_above_100_percent_of_triad_carries_its_reason(cache, fused, foreach):
    document = bench_document()
    if cache is not None:
        document["machine"]["llc_bytes"] = cache
    _largest(document, "adam", "torch-fused")["fraction_of_bandwidth"] = 1.2
    _largest(document, "adam", "torch-foreach")["fraction_of_bandwidth"] = 1.6
    dom = parse(build_report(bench=[document]))
    figure = _figures(dom, "bandwidth")[ADAM_CPU_2_22]
    bars = _bars(figure)
    for name, reason in (("torch-fused", fused), ("torch-foreach", foreach)):
        tooltip = bars[name].all("title")[0].content()
        assert "Above 100 % of STREAM triad: " in tooltip and reason in tooltip
        assert bars[name].all("text", "bar-value")[0].content().endswith(" *")
        assert f"* {name}: Above 100 % of STREAM triad: " in _caption(figure)
    assert reason in _caption(figure)
    for name in ("reference", "torch", "torch-forloop"):  # below 100 %: no reason, no mark
        assert "Above 100 %" not in bars[name].all("title")[0].content()
        assert not bars[name].all("text", "bar-value")[0].content().endswith("*")
    cells = [td for td in section(dom, "results").all("td") if td.content() == "120 % *"]
    assert len(cells) == 1 and "above 100 % of STREAM triad" in cells[0].attrs["title"]


def _markers(node: Node) -> list[Node]:
    return [n for n in _everything(node) if "marker" in n.classes]


@pytest.mark.parametrize(("sizes", "joined"), [((2**10,), False), ((2**10, 2**12), False),
                                               ((2**10, 2**12, 2**14), True)])  # fmt: skip
def test_markers_are_joined_by_a_line_only_when_three_sizes_were_measured(sizes, joined):
    document = bench_document()
    document["results"] = [
        _memory_bound("gelu", i, "cpu", n) for n in sizes for i in ("reference", "torch")
    ]
    _ratios(document["results"])
    (chart,) = plots(section(parse(build_report(bench=[document])), "throughput"))
    for series in chart.all("g", "series"):
        assert len(_markers(series)) == len(sizes)  # every measured size has its marker
        assert len(series.all("polyline", "line")) == int(joined)
    for legend in chart.all("g", "legend"):  # the legend draws what the plot draws
        assert len(legend.all("line")) == int(joined)


def test_the_line_chart_joins_only_series_of_three_points_or_more():
    two = svg.Series("two", [(1.0, 1.0), (2.0, 2.0)])
    three = svg.Series("three", [(1.0, 1.0), (2.0, 2.0), (4.0, 3.0)])
    chart = parse(svg.line_chart([two, three], title="t", x=svg.Axis("x", 2), y=svg.Axis("y", 10)))
    series = {g.all("title")[0].content(): g for g in chart.all("g", "series")}
    assert not series["two"].all("polyline") and len(series["three"].all("polyline")) == 1


def test_documents_from_one_machine_share_one_machine_table():
    first = bench_document("AMD EPYC 7B13", "2026-11-20T09:00:00+00:00")
    second = bench_document("AMD EPYC 7B13", "2026-11-21T09:00:00+00:00")
    second["machine"]["torch"] = "2.14.0"
    other = bench_document(SECOND_MACHINE, "2026-11-22T09:00:00+00:00")
    machine = section(parse(build_report(bench=[first, second, other])), "machine")
    headings = [h.content() for h in machine.all("h3") if h.attrs.get("id")]
    assert headings == ["Machine 1: AMD EPYC 7B13", f"Machine 2: {SECOND_MACHINE}"]
    assert [h.attrs["id"] for h in machine.all("h3") if h.attrs.get("id")] == [
        "machine-1",
        "machine-2",
    ]
    tables = machine.all("table", "machine")
    assert len(tables) == 2  # not one per document
    rows = {tr.all("th")[0].content(): tr.all("td")[0].content() for tr in tables[0].all("tr")}
    assert rows["PyTorch"] == (
        "2.13.0 \"&' (bench run 1: AMD EPYC 7B13, 2026-11-20T09:00:00+00:00); "
        "2.14.0 (bench run 2: AMD EPYC 7B13, 2026-11-21T09:00:00+00:00)"
    )
    assert rows["logical cores"] == "2"  # agreed: written once
    (settings,) = machine.all("table", "settings")  # a column per run
    machine_row = settings.all("tbody")[0].all("tr")[0]
    links = [a.attrs["href"] for a in machine_row.all("a")]
    assert links == ["#machine-1", "#machine-1", "#machine-2"]
    assert len(machine.all("table", "stream")[0].all("tbody")[0].all("tr")) == 3 * len(TRIAD)


def _machine_info_keys() -> list[str]:
    """The keys of the record machine_info returns, read from its source (calling it imports
    torch and runs git: seconds, for a list of names)."""
    import ast
    import inspect

    from nnconform.checks.perf import machine

    tree = ast.parse(inspect.getsource(machine.machine_info))
    (record,) = [n.value for n in ast.walk(tree) if isinstance(n, ast.Return)]
    assert isinstance(record, ast.Dict)
    return [key.value for key in record.keys]


def test_machine_fields_have_readable_names_with_units():
    """Every field that machine_info writes has a name chosen for it (no raw `cpu_model`), and
    the settings' times and sizes carry their units."""
    from nnconform.reports.machines import MACHINE_FIELDS, SETTING_FIELDS

    keys = _machine_info_keys()
    assert {"cpu_model", "llc_bytes", "git_commit"} <= set(keys)
    assert set(keys) <= set(MACHINE_FIELDS), set(keys) - set(MACHINE_FIELDS)
    record = dict.fromkeys(keys, "x") | {
        "cpu_model": "AMD EPYC 7B13",
        "logical_cores": 16,
        "llc_bytes": 32 * MIB,
        "memory_bytes": 64 * 2**30,
        "blas": {"name": "openblas", "version": "0.3.27"},
        "allocator": {"MALLOC_ARENA_MAX": "2"},
    }
    document = bench_document()
    document["machine"] = record
    document["settings"] |= {"stream_elements": 2**25, "devices": ["cpu"], "large": False}
    assert set(document["settings"]) <= set(SETTING_FIELDS)
    machine = section(parse(build_report(bench=[document])), "machine")
    (facts,) = machine.all("table", "machine")
    rows = {tr.all("th")[0].content(): tr.all("td")[0].content() for tr in facts.all("tr")}
    assert rows["last-level cache (CPU)"] == "32 MiB"
    assert rows["logical cores"] == "16" and rows["memory"] == "64 GiB"
    assert rows["NumPy's BLAS"] == "openblas 0.3.27"
    assert all("_" not in name for name in rows)
    (settings,) = machine.all("table", "settings")
    values = {
        tr.all("td")[0].content(): tr.all("td")[1].content()
        for tr in settings.all("tbody")[0].all("tr")
    }
    assert values["minimum time per sample"] == "10.0 ms"
    assert values["STREAM elements per array"] == "33,554,432 (2²⁵)"
    assert values["large sizes added"] == "no"
    text = machine.content()
    for raw_name in ("cpu_model", "logical_cores", "min_sample_time", "stream_elements"):
        assert raw_name not in text, raw_name


def test_a_field_nobody_named_reads_its_unit_from_its_suffix():
    from nnconform.reports.machines import describe

    assert describe("memory_bytes", 2**34) == ("memory", "16 GiB")
    assert describe("l2_cache_bytes", 2**21) == ("l2 cache", "2 MiB")
    assert describe("boot_time_s", 0.25) == ("boot time", "250 ms")
    assert describe("blas", {"name": "openblas", "version": "0.3.27"}) == (
        "NumPy's BLAS",
        "openblas 0.3.27",
    )


def _failure_footer(dom: Node, algorithm: str) -> str:
    (failure,) = [
        d
        for d in section(dom, "conformance").all("details", "failure")
        if d.all("summary")[0].content().startswith(f"{algorithm} ::")
    ]
    return failure.all("p")[0].content() if failure.all("p") else ""


def test_a_failures_numbers_are_the_ones_in_its_message():
    """The record's maxima are over every example Hypothesis tried; the message describes the
    shrunk one: the page shows the message's numbers."""
    document = framework_check("jax")
    dom = parse(build_report(check=document))
    footer = _failure_footer(dom, "softmax")
    assert f"as the message states: {FAILURE_NUMBERS}" in footer
    (record,) = [r for r in document["records"] if r["algorithm"] == "softmax"]
    assert record["max_abs_err"] == 7.25 and "7.25" not in section(dom, "conformance").content()


def test_a_failure_whose_message_states_no_numbers_shows_none():
    dom = parse(build_report(check=check_document()))  # a property failure: no error, tolerance
    footer = _failure_footer(dom, "softmax")
    assert "err" not in footer and "tolerance" not in footer
    assert footer == "test_x.py::test_softmax_is_finite_at_logits_of_1e4[softmax]"


def test_a_failure_that_timed_out_says_so():
    document = framework_check("jax")
    (record,) = [r for r in document["records"] if r["algorithm"] == "batch_norm"]
    record.update(timed_out=True, message="batch_norm timed out after 10 s per call")
    footer = _failure_footer(parse(build_report(check=document)), "batch_norm")
    assert footer.startswith("the call timed out; ")


def test_a_noisy_oracle_micro_benchmark_is_flagged():
    document = micro_document()
    stats = document["benchmarks"][1]["stats"]
    stats["iqr"] = 1.36 * stats["median"]  # the 136 %
    micro = section(parse(build_report(bench=[document])), "micro")
    rows = micro.all("table")[0].all("tbody")[0].all("tr")
    flagged = [[td for td in tr.all("td") if "noisy" in td.classes] for tr in rows]
    assert [len(f) for f in flagged] == [0, 1, 0]
    assert flagged[1][0].content() == "noisy" and rows[1].all("td")[3].content() == "136 %"
    (chart,) = plots(micro)
    bars = _bars(chart)
    assert [name for name, g in bars.items() if g.all("rect", "hollow")] == ["test_softmax[4096]"]
    assert bars["test_softmax[4096]"].all("text", "bar-value")[0].content().endswith(", noisy")


def test_a_noisy_bandwidth_bar_is_drawn_open():
    document = bench_document()
    row = _largest(document, "adam", "torch")
    row.update(rel_iqr=0.4, noisy=True)
    figure = _figures(parse(build_report(bench=[document])), "bandwidth")[ADAM_CPU_2_22]
    hollow = [name for name, g in _bars(figure).items() if g.all("rect", "hollow")]
    assert hollow == ["torch"]
    assert "Noisy: IQR 40.0 % of the median." in _bars(figure)["torch"].all("title")[0].content()


def test_non_finite_numbers_written_as_strings_are_read():
    """nnconform writes NaN and infinities as "nan", "inf" and "-inf" (strict JSON)."""
    from nnconform.files import finite_json

    document = bench_document()
    row = _largest(document, "adam", "torch")
    row.update(rel_iqr=math.inf, noisy=False, speedup_vs_reference=math.nan)
    written = json.loads(json.dumps(finite_json(document), allow_nan=False))
    assert _largest(written, "adam", "torch")["rel_iqr"] == "inf"
    results = section(parse(build_report(bench=[written])), "results")
    adam = results.all("table")[0].all("tbody")[0].all("tr")
    (cells,) = [
        [td.content() for td in tr.all("td")]
        for tr in adam
        if tr.all("td")[0].content() == "cpu" and tr.all("td")[1].content() == "4,194,304 (2²²)"
        and tr.all("td")[2].content() == "torch"
    ]  # fmt: skip
    assert cells[4:6] == ["inf %", "noisy"]  # an infinite IQR is noisy
    assert cells[8] == "nan×"
    micro = micro_document()
    micro["benchmarks"][0]["stats"]["iqr"] = "nan"
    rows = section(parse(build_report(bench=[micro])), "micro").all("tbody")[0].all("tr")
    assert [td.content() for td in rows[0].all("td")[2:5]] == [units.MISSING, units.MISSING, ""]


def _results_tables(dom: Node) -> dict[str, Node]:
    results = section(dom, "results")
    headings = [h.content() for h in results.all("h3")]
    return dict(zip(headings, results.all("table"), strict=True))


def _header(table: Node) -> list[str]:
    return [th.content() for th in table.all("th")]


def test_a_kernel_is_judged_against_its_own_roof():
    """STREAM update for a kernel that works in place (adam), triad for one that writes fresh
    arrays (gelu): in the bandwidth bars, the throughput lines, the results and STREAM."""
    dom = parse(build_report(bench=[with_roofs(bench_document())]))
    figures = _figures(dom, "bandwidth")
    adam, gelu = figures[ADAM_CPU_2_22].content(), figures[GELU_CPU_2_22].content()
    assert "fraction of STREAM update bandwidth" in adam and "STREAM update 13.0 GB/s" in adam
    assert "fraction of STREAM triad bandwidth" in gelu and "STREAM triad 12.0 GB/s" in gelu
    fused = 28 * 2**22 / (2e-6 + 28 * 2**22 / 11e9) / 1e9 / UPDATE["cpu"]
    assert f"{100 * fused:.1f} %" in adam
    charts = {title_of(p): p for p in plots(section(dom, "throughput"))}
    assert "STREAM update 13.0 GB/s" in charts["adam on cpu"].content()
    assert "STREAM triad 12.0 GB/s" in charts["gelu on cpu"].content()
    tables = _results_tables(dom)
    assert "% STREAM update" in _header(tables["adam"])
    assert "% STREAM triad" in _header(tables["gelu"])
    (stream,) = section(dom, "machine").all("table", "stream")
    assert _header(stream)[5:8] == ["STREAM copy", "STREAM triad", "STREAM update"]
    assert stream.all("tbody")[0].all("tr")[0].all("td")[7].content() == "13.0 GB/s"


def test_a_document_without_roofs_is_read_against_triad():
    dom = parse(build_report(bench=[bench_document()]))
    (stream,) = section(dom, "machine").all("table", "stream")
    assert "STREAM update" not in _header(stream)
    assert "% STREAM triad" in _header(_results_tables(dom)["adam"])


@pytest.mark.parametrize(
    ("kernel", "note", "cache", "reason"),
    [
        ("adam", "unexplained", 32 * MIB,
         "Above 100 % of STREAM update: STREAM update is the roof of a kernel that works in "
         "place (neither pays a write-allocate read), so the bytes counted do not explain it: "
         "its working set is beyond the last-level cache, so the machine's bandwidth changed "
         "between STREAM and this measurement"),
        ("adam", "unexplained", None,
         "the bytes counted do not explain it: its working set is not known to be beyond the "
         "last-level cache"),
        ("adam", "cache-resident", None,
         "Above 100 % of STREAM update: its working set fits in the last-level cache"),
        ("gelu", "unexplained", None,
         "Above 100 % of STREAM triad: STREAM triad is the roof of a kernel that writes fresh "
         "arrays (both pay a write-allocate read)"),
    ],
)  # fmt: skip
def test_a_bar_above_its_roof_carries_the_reason_the_bench_found(kernel, note, cache, reason):
    document = with_roofs(bench_document())
    if cache is not None:
        document["machine"]["llc_bytes"] = cache
    _largest(document, kernel, "torch").update(fraction_of_bandwidth=1.1, roof_note=note)
    figure = _figures(parse(build_report(bench=[document])), "bandwidth")
    chart = figure[ADAM_CPU_2_22 if kernel == "adam" else GELU_CPU_2_22]
    assert reason in _bars(chart)["torch"].all("title")[0].content()
    assert reason in _caption(chart)


def test_the_ratio_to_the_baseline_comes_with_its_interval_and_verdict():
    document = with_roofs(bench_document())
    dom = parse(build_report(bench=[document]))
    adam = _results_tables(dom)["adam"]
    header = _header(adam)
    column = header.index("vs reference (95 % interval)")
    cells = {
        (tds[0].content(), tds[1].content(), tds[2].content()): tds[column].content()
        for tds in (tr.all("td") for tr in adam.all("tbody")[0].all("tr"))
    }
    row = _largest(document, "adam", "torch-fused")
    low, high = row["ratio_ci"]
    expected = f"{units.ratio(row['ratio'])} faster [{units.plain(low)}, {units.plain(high)}]"
    assert cells[("cpu", "4,194,304 (2²²)", "torch-fused")] == expected
    assert cells[("cpu", "4,194,304 (2²²)", "reference")] == "baseline"
    meanings = [p.content() for p in section(dom, "results").all("p", "muted")]
    assert "size: elements of a flat float32 vector" in meanings
    assert "size: N, the examples of one SGD step" in meanings


def test_the_ratios_are_plotted_with_their_intervals_as_error_bars():
    document = with_roofs(bench_document())
    dom = parse(build_report(bench=[document]))
    ids = [s.attrs["id"] for s in dom.all("section")]
    assert ids.index("bandwidth") < ids.index("ratios") < ids.index("results")
    charts = {title_of(p): p for p in plots(section(dom, "ratios"))}
    compared = {
        (r["kernel"], r["device"])
        for r in document["results"]
        if r.get("ratio_ci") and r["implementation"] != "reference"
    }
    assert len(charts) == len(compared)
    (adam,) = [p for t, p in charts.items() if t.startswith("adam on cpu")]
    rows = adam.all("g", "interval")
    expected = [
        r
        for r in document["results"]
        if (r["kernel"], r["device"]) == ("adam", "cpu")
        and r.get("ratio_ci")
        and r["implementation"] != "reference"
    ]
    assert len(rows) == len(expected)  # the baseline has no row of its own
    row = _largest(document, "adam", "torch-fused")
    low, high = row["ratio_ci"]
    label = f"{units.size(row['size'])} torch-fused"
    (fused,) = [g for g in rows if g.all("title")[0].content().startswith(label + ":")]
    assert f"faster [{units.plain(low)}, {units.plain(high)}]" in fused.content()
    bar, cap_low, cap_high = fused.all("line", "error-bar")
    x = {name: float(bar.attrs[name]) for name in ("x1", "x2")}
    assert x["x1"] < x["x2"]  # an interval of width > 0 on the page
    assert float(cap_low.attrs["x1"]) == x["x1"] and float(cap_high.attrs["x1"]) == x["x2"]
    (marker,) = fused.all("circle")
    assert x["x1"] <= float(marker.attrs["cx"]) <= x["x2"]
    # ratio 1 ("same") is drawn, and a faster ratio lies left of it on the log axis
    (same,) = adam.all("g", "reference")
    assert float(same.all("line")[0].attrs["x1"]) > x["x2"]


def test_a_bench_document_without_intervals_has_no_ratio_plot(dom):
    assert "ratios" not in [s.attrs["id"] for s in dom.all("section")]


def test_the_settings_of_an_interleaved_run_are_named_with_units():
    machine = section(parse(build_report(bench=[with_roofs(bench_document())])), "machine")
    (settings,) = machine.all("table", "settings")
    values = {
        tr.all("td")[0].content(): tr.all("td")[1].content()
        for tr in settings.all("tbody")[0].all("tr")
    }
    assert values["baseline of the ratios"] == "reference"
    assert values["implementations timed interleaved"] == "yes"
    assert values["clock of the samples (wall: elapsed; cpu: the process's CPU time)"] == "wall"
    assert values["confidence of the intervals"] == "95.0 %"
    assert values["peak memory of the plan"] == (
        "203 MiB estimated (mlp_step at batch size 10000 on cpu (reference, torch)), "
        "22 GiB available"
    )
    assert values["notes"] == "jax is not installed: its implementations were skipped"


# ---------------------------------------------------------------------------------------------
# A page that compares frameworks (issue 8, item 6; issue 12, item 6)


@pytest.fixture(scope="module")
def matrix_dom() -> Node:
    checks, bench = framework_documents()
    return parse(build_report(checks=checks, bench=bench, title="Frameworks"))


def _matrix(dom: Node) -> Node:
    (matrix,) = section(dom, "conformance").all("table", "matrix")
    return matrix


def _columns(dom: Node) -> list[str]:
    return [th.content() for th in _matrix(dom).all("th", "target")]


def _cells(dom: Node) -> dict[str, list[Node]]:
    """id: its cells, one per document."""
    cells = {}
    for tbody in _matrix(dom).all("tbody"):
        for tr in tbody.all("tr"):
            if "family" not in tr.classes:
                cells[tr.all("th")[0].content()] = tr.all("td")
    return cells


def test_the_matrix_has_a_column_per_document_labelled_with_what_it_says_of_itself(matrix_dom):
    heads = _matrix(matrix_dom).all("th", "target")
    lines = [[t for t in h.content().split("\n")] for h in heads]
    assert _columns(matrix_dom) == [
        "torch 2.13.0+cpuon cpufloat32profile ci, seed 0machine: AMD EPYC 7B13",
        f"jax 0.4.38on cudafloat32profile ci, seed 0machine: {SECOND_MACHINE}",
        "my_kernels version unknownon cpufloat32profile ci, seed 0",
    ]
    assert len(heads[0].all("br")) == 4 and lines  # a line each
    # the machine links to its table on the same page
    assert [h.all("a")[0].attrs["href"] if h.all("a") else None for h in heads] == [
        "#machine-1",
        "#machine-2",
        None,
    ]


def test_the_matrix_groups_the_catalogue_by_family(matrix_dom):
    from nnconform.reference.registry import FAMILIES, REGISTRY

    groups = []
    for tbody in _matrix(matrix_dom).all("tbody"):
        (family, *rows) = tbody.all("tr")
        groups.append((family.content(), [r.all("th")[0].content() for r in rows]))
    expected = [(f, [e.id for e in REGISTRY.values() if e.family == f]) for f in FAMILIES]
    assert groups == [*expected, ("not in this catalogue", ["my_fused_op"])]


def test_each_cell_is_the_verdict_the_variant_or_a_link_to_the_failure(matrix_dom):
    cells = _cells(matrix_dom)

    def column(i):
        return [cells[a][i].content() for a in ("relu", "gelu", "softmax", "adam", "batch_norm",
                                                "spectral_norm", "cross_entropy")]  # fmt: skip

    assert column(0) == ["pass", "erf", "pass", "pass", "pass", "unsupported", "not checked"]
    assert column(1) == ["pass", "pass", "fail", "efficient", "fail", "pass", "not checked"]
    assert column(2) == ["fail", "unsupported", "xpass", "flaky", "not checked",
                         "not checked", "not checked"]  # fmt: skip
    assert cells["gelu"][0].classes[-1] == "verdict-variant"
    assert cells["adam"][2].classes[-1] == "verdict-other"  # a verdict it does not know, as is
    assert cells["spectral_norm"][0].attrs["title"] == "torch has no spectral_norm"
    assert cells["my_fused_op"][2].content() == "pass"
    links = {(a, i): c.all("a") for a, row in cells.items() for i, c in enumerate(row)}
    linked = sorted(key for key, found in links.items() if found)
    assert linked == [("batch_norm", 1), ("relu", 2), ("softmax", 1), ("softmax", 2)]


def test_every_failure_link_resolves_to_its_failure_on_the_page(matrix_dom):
    by_id = {n.attrs["id"]: n for n in _everything(matrix_dom) if n.attrs.get("id")}
    cells = _cells(matrix_dom)
    for algorithm, row in cells.items():
        for cell in row:
            for link in cell.all("a"):
                target = by_id[link.attrs["href"][1:]]
                assert target.tag == "details" and "failure" in target.classes
                summary = target.all("summary")[0].content()
                assert summary.startswith(f"{algorithm} :: "), summary
                assert FAILURE_NUMBERS in target.content()


def test_the_coverage_of_each_target_is_out_of_the_catalogue(matrix_dom):
    from nnconform.reference.registry import REGISTRY

    n = len(REGISTRY)
    (table,) = section(matrix_dom, "conformance").all("table", "coverage")
    header = [th.content() for th in table.all("th")]
    rows = [[td.content() for td in tr.all("td")] for tr in table.all("tbody")[0].all("tr")]
    assert header == ["target", "coverage", "pass", "variant", "fail", "unsupported", "xpass",
                      "flaky", "not checked"]  # fmt: skip
    # torch: relu gelu softmax adam batch_norm; jax: those and spectral_norm; my_kernels:
    # relu softmax adam (my_fused_op is not the catalogue's, gelu is unsupported)
    assert [r[:2] for r in rows] == [
        ["torch 2.13.0+cpu on cpu", f"5 of {n} catalogue ids ({units.percent(5 / n)})"],
        ["jax 0.4.38 on cuda", f"6 of {n} catalogue ids ({units.percent(6 / n)})"],
        ["my_kernels version unknown on cpu", f"3 of {n} catalogue ids ({units.percent(3 / n)})"],
    ]
    assert rows[0][2:] == ["4", "1", "0", "1", "0", "0", str(n + 1 - 6)]  # + my_fused_op
    (chart,) = plots(section(matrix_dom, "conformance"))
    assert [b.all("text", "bar-value")[0].content() for b in chart.all("g", "bar-entry")] == [
        f"5 of {n} ({units.percent(5 / n)})",
        f"6 of {n} ({units.percent(6 / n)})",
        f"3 of {n} ({units.percent(3 / n)})",
    ]


def test_a_fourth_document_is_one_more_column_drawn_the_same_way():
    """Nothing depends on the framework: the columns follow the documents, in their order."""
    checks, _ = framework_documents()
    checks.append(framework_check("keras", "3.8.0", "cpu", "keras-box"))
    forward = parse(build_report(checks=checks))
    backward = parse(build_report(checks=checks[::-1]))
    assert len(_columns(forward)) == 4 and _columns(backward) == _columns(forward)[::-1]
    cells, reversed_cells = _cells(forward), _cells(backward)
    for algorithm, row in cells.items():
        assert [c.content() for c in row] == [c.content() for c in reversed_cells[algorithm][::-1]]
    assert cells["adagrad"][3].content() == "eps_inside"
    assert "machine: keras-box" in _columns(forward)[3]  # a machine given by name only


def test_documents_from_several_machines_and_devices_merge_into_one_page(matrix_dom):
    machine = section(matrix_dom, "machine")
    headings = [h.content() for h in machine.all("h3") if h.attrs.get("id")]
    assert headings == ["Machine 1: AMD EPYC 7B13", f"Machine 2: {SECOND_MACHINE}"]
    users = [p.content() for p in machine.all("p", "muted")]
    assert users == [
        "Documents from this machine: bench run 1: AMD EPYC 7B13, 2026-11-23T10:00:00+00:00; "
        "check of torch 2.13.0+cpu on cpu",
        f"Documents from this machine: bench run 2: {SECOND_MACHINE}, 2026-11-24T10:00:00+00:00; "
        "check of jax 0.4.38 on cuda",
    ]
    ids = [s.attrs["id"] for s in matrix_dom.all("section")]
    assert ids == ["machine", "throughput", "bandwidth", "ratios", "batch-size", "results",
                   "conformance", "micro"]  # fmt: skip


def test_one_check_document_keeps_its_own_page():
    dom = parse(build_report(checks=[framework_check("torch")]))
    conformance = section(dom, "conformance")
    assert not conformance.all("th", "target") and not conformance.all("table", "coverage")
    rows = conformance.all("table", "matrix")[0].all("tbody")[0].all("tr")
    assert [r.all("td")[0].content() for r in rows] == list(FRAMEWORKS["torch"])


def test_documents_with_the_same_title_get_labels_that_tell_them_apart():
    checks = [framework_check("torch", seed=0), framework_check("torch", seed=1)]
    (table,) = section(parse(build_report(checks=checks)), "conformance").all("table", "coverage")
    labels = [tr.all("td")[0].content() for tr in table.all("tbody")[0].all("tr")]
    assert labels == [
        "torch 1.0, on cpu, float32, profile ci, seed 0",
        "torch 1.0, on cpu, float32, profile ci, seed 1",
    ]
    twins = parse(build_report(checks=[framework_check("torch")] * 2))
    (table,) = section(twins, "conformance").all("table", "coverage")
    labels = [tr.all("td")[0].content() for tr in table.all("tbody")[0].all("tr")]
    assert labels[0].endswith("(document 1)") and labels[1].endswith("(document 2)")


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
        ({"gbs": "fast"}, '\'gbs\' must be a number ("nan", "inf" and "-inf" included)'),
        ({"gbs": True}, "'gbs' must be a number"),
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


def test_the_command_compares_several_check_documents(tmp_path):
    checks, bench = framework_documents()
    paths = [_write(tmp_path / f"{c['target']['name']}.json", c) for c in checks]
    bench_paths = [_write(tmp_path / f"bench{i}.json", b) for i, b in enumerate(bench)]
    out = tmp_path / "page.html"
    repeated = [part for path in paths for part in ("--check", str(path))]
    assert main(["report", *repeated, "--bench", *map(str, bench_paths), "--html", str(out)]) == 0
    dom = parse(out.read_text(encoding="utf-8"))
    assert [c.split(" ")[0] for c in _columns(dom)] == ["torch", "jax", "my_kernels"]
    assert len(section(dom, "machine").all("table", "machine")) == 2
    # several paths after one --check read the same
    again = tmp_path / "again.html"
    assert main(["report", "--check", *map(str, paths), "--html", str(again)]) == 0
    assert _columns(parse(again.read_text(encoding="utf-8"))) == _columns(dom)


def test_a_bad_check_document_among_several_is_named(tmp_path, capsys):
    good = _write(tmp_path / "torch.json", framework_check("torch"))
    bad = _write(tmp_path / "jax.json", {"summary": [{"algorithm": "relu"}], "records": []})
    out = tmp_path / "page.html"
    err = _fails(["--check", str(good), "--check", str(bad), "--html", str(out)], capsys)
    assert f"{bad}: summary[0]: 'verdict' must be a string" in err
    assert not out.exists()


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
