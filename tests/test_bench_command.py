"""``nnconform bench`` as a user runs it: the JSON document, its ratios to the baseline with
their intervals, the roofs, a user's own target (mirrored functions and a native
``bench_<kernel>``), a target that raises, sizes that mean what each kernel says, a plan too large
for memory, usage errors, and a cuda request on a machine without a GPU. Tiny sizes and few
repeats: nothing here asserts a time.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import subprocess
import sys
import types
from pathlib import Path

import pytest

from nnconform.checks.perf import cli as bench
from nnconform.cli import main
from tests import forkserver

ROOT = Path(__file__).resolve().parents[1]
# One torch thread: two would spin against each other, and against the other tests, on a small
# machine; the sizes are far too small for threads to help.
FAST = ["--repeats", "6", "--warmup", "1", "--min-sample-time", "0.0005",
        "--stream-elements", "2**16", "--threads", "1"]  # fmt: skip


@pytest.fixture(autouse=True)
def _torch_threads():
    """--threads in-process sets torch's threads for the whole process: put them back."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


USER_TARGET = '''
"""A user's target: numpy in, numpy out, the reference's names; and a native GELU."""
import numpy as np

name = "my-kernels"
version = "0.1"
dtypes = ("float32",)


def adam_init(theta):
    return (0, np.zeros_like(theta), np.zeros_like(theta))


def adam_step(theta, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = state
    t, m, v = t + 1, beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), (t, m, v)


def bench_gelu(size, device, seed):
    x = np.random.default_rng(seed).standard_normal(size, dtype=np.float32)
    return lambda: x * 0.5 * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))
'''

RAISING_TARGET = '''
"""adam_step raises: a bug of the target, recorded as an error; the run goes on."""
from nnconform.reference.activations import gelu
from nnconform.reference.optimizers import adam_init


def adam_step(theta, g, state, *, lr):
    raise RuntimeError("kernel launch failed")
'''


def nnconform(*args: str) -> subprocess.CompletedProcess:
    """``nnconform bench *args`` in a fresh process (forked from one with the checks imported)."""
    return forkserver.run("bench", *args, cwd=ROOT)


def load(path: Path) -> dict:
    def no_constants(name):
        raise AssertionError(f"{name} in the JSON: strict JSON has none")

    return json.loads(path.read_text(), parse_constant=no_constants)


def by(document: dict, **fields) -> list[dict]:
    return [r for r in document["results"] if all(r[k] == v for k, v in fields.items())]


def check_ratios(document: dict, kernels: list[str]) -> None:
    """The ratios to the reference are the medians', the ratios to the baseline come from the
    paired blocks with an interval that holds them, the verdict reads the interval, and the
    throughputs follow from bytes, FLOPs and each kernel's roof."""
    stream = document["bandwidth"].get("cpu") or {}
    baseline = document["settings"]["baseline"]
    for kernel in kernels:
        ok = by(document, kernel=kernel, status="ok")
        reference = by(document, kernel=kernel, implementation="reference")[0]
        base = by(document, kernel=kernel, implementation=baseline)[0]
        fastest = min(ok, key=lambda r: r["median_s"])
        assert reference["speedup_vs_reference"] == 1.0
        assert fastest["slowdown_vs_fastest"] == 1.0
        assert base["ratio"] == 1.0 and base["ratio_ci"] == [1.0, 1.0] and base["verdict"] is None
        for r in ok:
            assert r["q1_s"] <= r["median_s"] <= r["q3_s"]
            assert len(r["samples_s"]) == document["settings"]["repeats"] == r["blocks"]
            assert r["slowdown_vs_fastest"] >= 1.0
            assert r["speedup_vs_reference"] == pytest.approx(reference["median_s"] / r["median_s"])
            assert r["baseline"] == baseline
            low, high = r["ratio_ci"]
            assert 0 < low <= r["ratio"] <= high
            if r is not base:
                verdict = "slower" if low > 1 else "faster" if high < 1 else "same"
                assert r["verdict"] == verdict
            if r["bytes"] is not None:
                assert r["gbs"] == pytest.approx(r["bytes"] / r["median_s"] / 1e9)
                assert r["gflops"] is None
                if not stream:  # no STREAM measured: no roof
                    assert r["roof"] is r["fraction_of_bandwidth"] is r["roof_note"] is None
                    continue
                roof = "update" if r["kernel"] in OPTIMIZERS else "triad"
                assert r["roof"] == roof and r["roof_gbs"] == stream[f"{roof}_gbs"]
                assert r["fraction_of_bandwidth"] == pytest.approx(r["gbs"] / r["roof_gbs"])
                if r["fraction_of_bandwidth"] > 1:
                    assert r["roof_note"] in ("cache-resident", "unexplained")
            else:
                assert r["gflops"] == pytest.approx(r["flops"] / r["median_s"] / 1e9)
                assert r["fraction_of_bandwidth"] is None and r["roof"] is None


OPTIMIZERS = ("adam", "sgd_momentum", "rmsprop", "adagrad")


@pytest.mark.slow
def test_a_run_writes_the_documented_json_with_consistent_ratios(tmp_path):
    """End to end, in a subprocess as a user runs it, every built-in implementation."""
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    done = nnconform(
        "--kernel", "adam", "--kernel", "rmsprop", "--kernel", "conv2d", "--kernel", "softmax",
        "--size", "2^14", "--batch", "2", *FAST, "--json", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    document = load(out)
    assert document["schema"] == "nnconform-bench/1"
    for key in ("created", "machine", "bandwidth", "settings", "results", "notes"):
        assert key in document, key
    settings = {"warmup": 1, "repeats": 6, "seed": 0, "threads": 1, "min_sample_time": 0.0005,
                "baseline": "reference", "interleaved": True, "confidence": 0.95,
                "false_alarm_rate": pytest.approx(0.05), "interval": "hodges-lehmann"}  # fmt: skip
    assert document["settings"] | settings == document["settings"]
    glibc = "glibc" in " ".join(platform.libc_ver())
    assert document["settings"]["freed_memory_kept"] is glibc  # harness.keep_freed_memory
    memory = document["settings"]["memory"]
    assert memory["needed_bytes"] > 0 and memory["available_bytes"] > memory["needed_bytes"]
    assert document["machine"]["threads"] == 1
    cpu = document["bandwidth"]["cpu"]
    assert cpu["triad_gbs"] > 0 and cpu["elements"] == 2**16 and cpu["backend"] == "torch"
    assert cpu["update_gbs"] > 0
    fields = set(bench._record(bench.KERNELS["adam"], "x", "x", "cpu", 1))
    assert all(set(r) == fields for r in document["results"])

    # every built-in that runs here was timed: every torch path on Adam; RMSprop has no fused
    # one, and unasked it is not listed (asked, it is recorded unsupported: below)
    builtins = {"reference", "torch", "torch-forloop", "torch-foreach", "torch-fused"}
    jax = {"jax"} if importlib.util.find_spec("jax") else set()
    keras = {"keras"} if importlib.util.find_spec("keras") else set()  # the optimisers only
    assert {r["implementation"] for r in by(document, kernel="adam")} == builtins | jax | keras
    assert not by(document, kernel="rmsprop", implementation="torch-fused")
    # the optimiser-only paths are not listed for the other kernels
    assert {r["implementation"] for r in by(document, kernel="conv2d")} == {
        "reference",
        "torch",
    } | jax
    # sizes: elements for the flat kernels, the batch for the others
    (adam,) = by(document, kernel="adam", implementation="reference")
    (conv,) = by(document, kernel="conv2d", implementation="reference")
    (softmax,) = by(document, kernel="softmax", implementation="reference")
    assert (adam["size"], adam["size_label"], adam["elements"]) == (2**14, "elements", 2**14)
    assert (conv["size"], conv["size_label"], conv["elements"]) == (2, "images", 2 * 16384)
    assert (softmax["size"], softmax["size_label"], softmax["elements"]) == (2, "rows", 2048)
    assert softmax["size_meaning"] == "N, the rows of z (N, 1024)"
    check_ratios(document, ["adam", "rmsprop", "conv2d", "softmax"])

    total = len(document["results"])
    assert f"[ 1/{total}] adam" in done.stderr  # progress lines
    assert "adam (optimizers) on cpu, elements 2^14; roof STREAM update" in done.stdout
    assert "softmax (activations) on cpu, rows 2; roof STREAM triad" in done.stdout
    assert "vs reference (95% interval)" in done.stdout and "GFLOP/s" in done.stdout
    assert "% update" in done.stdout and "% triad" in done.stdout


def test_an_implementation_asked_for_but_unsupported_is_recorded_with_its_reason(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    status = main(["bench", "--target", "torch-foreach", "--target", "torch-fused",
                   "--kernel", "rmsprop", "--size", "1024", *FAST, "--stream-elements", "0",
                   "--quiet", "--json", str(out)])  # fmt: skip
    assert status == 0
    (fused,) = by(load(out), implementation="torch-fused")
    assert fused["status"] == "unsupported" and "fused" in fused["reason"]
    assert fused["median_s"] is None and fused["ratio"] is None
    (foreach,) = by(load(out), implementation="torch-foreach")
    assert foreach["status"] == "ok" and foreach["ratio"] == 1.0  # the baseline, first target


def test_each_group_is_timed_like_for_like_with_the_baseline_where_it_runs(tmp_path, monkeypatch):
    """The harness gives the baseline's calls per sample to an implementation calibrated within
    one doubling of it (tests/test_perf_interleave.py): the command names the baseline to it
    wherever the baseline was prepared, and no one where it was not."""
    pytest.importorskip("torch")
    from nnconform.checks.perf import harness

    named, measure_interleaved = [], harness.measure_interleaved

    def spy(prepared, **settings):
        named.append(({p.implementation for p in prepared}, settings["baseline"]))
        return measure_interleaved(prepared, **settings)

    monkeypatch.setattr(harness, "measure_interleaved", spy)
    status = main(["bench", "--target", "torch-foreach", "--target", "torch-fused",
                   "--baseline", "torch-fused", "--kernel", "adam", "--kernel", "rmsprop",
                   "--size", "1024", *FAST, "--stream-elements", "0", "--quiet",
                   "--json", str(tmp_path / "bench.json")])  # fmt: skip
    assert status == 0
    # fused Adam runs on the cpu, fused RMSprop does not (torch.optim has no fused RMSprop)
    assert named == [({"torch-foreach", "torch-fused"}, "torch-fused"), ({"torch-foreach"}, None)]


def test_clock_cpu_times_the_samples_on_the_cpu_clock(tmp_path, monkeypatch):
    ticks = iter(range(10**6))  # a fake CPU clock: one second more at every reading
    monkeypatch.setitem(bench.CLOCKS, "cpu", lambda: float(next(ticks)))
    out = tmp_path / "bench.json"
    status = main(["bench", "--target", "benchmarks.planted:same", "--target",
                   "benchmarks.planted:twin", "--kernel", "adam", "--size", "1024", *FAST,
                   "--stream-elements", "0", "--clock", "cpu", "--quiet",
                   "--json", str(out)])  # fmt: skip
    assert status == 0, out
    document = load(out)
    assert document["settings"]["clock"] == "cpu"
    rows = by(document, kernel="adam")
    assert len(rows) == 2
    # every sample read the fake clock twice, one call each: exactly 1 s per call
    assert all(r["status"] == "ok" and r["median_s"] == 1.0 for r in rows), rows


def test_the_mlp_step_reports_time_per_epoch(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    status = main(["bench", "--target", "reference", "--target", "torch", "--kernel", "mlp_step",
                   "--batch", "16", *FAST, "--quiet", "--json", str(out)])  # fmt: skip
    assert status == 0
    document = load(out)
    check_ratios(document, ["mlp_step"])
    for step in by(document, kernel="mlp_step"):
        assert step["size_label"] == "batch size" and step["dataset_size"] == 60000
        assert step["per_epoch_s"] == pytest.approx(step["median_s"] * 60000 / 16)


def test_a_users_target_is_timed_through_its_mirrored_and_native_functions(tmp_path, monkeypatch):
    (tmp_path / "my_kernels.py").write_text(USER_TARGET)
    monkeypatch.syspath_prepend(str(tmp_path))  # as PYTHONPATH=. would, in-process
    out = tmp_path / "bench.json"
    status = main(["bench", "--target", "reference", "--target", "my_kernels", "--kernel", "adam",
                   "--kernel", "gelu", "--kernel", "softmax", "--size", "4096", "--batch", "4",
                   *FAST, "--stream-elements", "0", "--quiet", "--json", str(out)])  # fmt: skip
    assert status == 0
    document = load(out)
    assert document["bandwidth"] == {}
    mine = {r["kernel"]: r for r in by(document, implementation="my_kernels")}
    assert mine["adam"]["status"] == "ok" and mine["gelu"]["status"] == "ok"
    assert mine["softmax"] == mine["softmax"] | {"status": "unsupported", "median_s": None}
    assert mine["softmax"]["reason"] == "target my-kernels has no softmax"
    assert mine["adam"]["speedup_vs_reference"] > 0
    assert mine["adam"]["fraction_of_bandwidth"] is None  # no STREAM measured
    check_ratios(document, ["adam", "gelu"])
    assert document["settings"]["baseline"] == "reference"


def test_a_target_that_raises_is_an_error_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_kernels.py").write_text(RAISING_TARGET)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "bench.json"
    status = main(["bench", "--target", "broken_kernels", "--kernel", "adam", "--kernel", "gelu",
                   "--size", "1024", *FAST, "--quiet", "--json", str(out)])  # fmt: skip
    assert status == 1
    err = capsys.readouterr().err
    document = load(out)  # written although a kernel failed: the failure is a result
    (adam,) = by(document, kernel="adam")
    assert adam["status"] == "error"
    assert adam["reason"] == "RuntimeError: kernel launch failed"
    (gelu,) = by(document, kernel="gelu")
    assert gelu["status"] == "ok" and gelu["slowdown_vs_fastest"] == 1.0
    assert "error: RuntimeError: kernel launch failed" in err  # shown even with --quiet


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--kernel", "adamw"], "unknown kernel 'adamw': choose from adam, sgd_momentum"),
        (["--target", "no_such_module_xyz"], "unknown target 'no_such_module_xyz'"),
        (["--size", "lots"], "--size must be an integer such as 65536, 2**16 or 2^16"),
        (["--kernel", "softmax", "--batch", "0"], "--batch: size 0 does not fit softmax"),
        (["--kernel", "batch_norm_2d", "--batch", "1"], "a batch N >= 2"),
        (
            ["--kernel", "softmax", "--size", "2**20"],
            "--size sets the elements of the flat kernels (adam, sgd_momentum, rmsprop, adagrad, "
            "gelu, dropout); softmax takes --batch N (N, the rows of z (N, 1024))",
        ),
        (["--kernel", "adam", "--batch", "64"], "--batch sets the batch of batch_norm_2d"),
        (["--device", "tpu"], "unknown device 'tpu': use cpu or cuda"),
        (["--repeats", "0"], "--repeats must be at least 1, got 0"),
        (["--repeats", "6", "--layouts", "7"], "--layouts 7 is more than --repeats 6"),
        (["--clock", "cpu", "--device", "cuda"], "--clock cpu times the host's work only"),
        (
            ["--target", "reference", "--baseline", "torch"],
            "--baseline 'torch' is not one of the targets: reference",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(arguments, message, capsys, tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", *arguments, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nnconform bench: error: "), err
    assert message in err
    assert not out.exists()


def test_an_unusable_results_path_is_refused_before_anything_runs(capsys, tmp_path):
    assert main(["bench", "--kernel", "gelu", "--size", "1024", "--json", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--json {tmp_path} is a directory" in err, err
    assert main(["bench", "--kernel", "gelu", "--html", str(tmp_path)]) == 2


def test_a_plan_too_large_for_memory_is_refused_before_anything_runs(monkeypatch, capsys, tmp_path):
    """mlp_step at a batch of 2**24 examples is 50 GB of float32 pixels (the run the old
    --size made of a flat size): refused, naming the worst kernel and size."""
    out = tmp_path / "bench.json"
    monkeypatch.setattr("nnconform.checks.perf.machine.available_memory", lambda device: 2**34)
    status = main(["bench", "--kernel", "mlp_step", "--kernel", "adam", "--size", "2**20",
                   "--batch", "100", "--batch", "2**24", "--json", str(out)])  # fmt: skip
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("nnconform bench: error: the plan does not fit in memory: mlp_step at "
                          "batch size 16777216 on cpu (reference, torch")  # fmt: skip
    assert "GiB, 16.0 GiB is available" in err
    assert not out.exists()


def test_the_memory_estimate_sums_a_groups_implementations():
    pytest.importorskip("torch")
    from nnconform.checks.perf import registry

    groups = bench._plan(["cpu"], ["gelu"], {"gelu": (2**20,)},
                         [("reference", "reference"), ("torch", "torch")], True)  # fmt: skip
    need, what = bench._memory(groups, 0)
    gelu = bench.KERNELS["gelu"]
    assert need == registry.peak_bytes(gelu, "reference", 2**20) + registry.peak_bytes(
        gelu, "torch", 2**20
    )
    assert what == "gelu at elements 2^20 on cpu (reference, torch)"
    assert bench._memory(groups, 2**28)[1] == "STREAM at 268435456 elements per array"


def test_the_ratio_text_reads_like_a_sentence():
    record = {"implementation": "new", "baseline": "old", "ratio": 1.0712,
              "ratio_ci": [1.0401, 1.1034], "verdict": "slower"}  # fmt: skip
    assert bench.ratio_text(record) == "1.07× slower [1.04, 1.10]"
    assert bench.ratio_text(record | {"ratio_ci": None, "verdict": None}) == "1.07×"
    assert bench.ratio_text(record | {"implementation": "old"}) == "baseline"
    assert bench.ratio_text(record | {"ratio": None}) == "-"


def test_sizes_are_read_in_three_spellings():
    assert bench.parse_size("65536") == bench.parse_size("2**16") == bench.parse_size("2^16")
    assert bench.format_size(2**16, "elements") == "2^16"
    assert bench.format_size(100, "batch size") == "100"


def test_cuda_without_a_gpu_is_skipped_and_recorded_unsupported(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    out = tmp_path / "bench.json"
    status = main(["bench", "--device", "cuda", "--kernel", "gelu", "--size", "1024",
                   "--quiet", "--json", str(out)])  # fmt: skip
    assert status == 0
    err = capsys.readouterr().err
    assert "nnconform bench: cuda is not available here; skipping device cuda" in err
    document = load(out)
    assert document["bandwidth"] == {}
    assert document["results"] and {r["status"] for r in document["results"]} == {"unsupported"}
    assert {r["device"] for r in document["results"]} == {"cuda"}


def test_html_goes_through_the_report_builder(monkeypatch, tmp_path):
    """``--html`` hands the document to nnconform.reports.html.build_report and writes what it
    returns."""
    seen = []
    fake = types.ModuleType("nnconform.reports.html")
    fake.build_report = lambda check, bench: seen.append((check, bench)) or "<html>ok</html>"
    monkeypatch.setitem(sys.modules, "nnconform.reports.html", fake)
    page = tmp_path / "out" / "bench.html"
    status = main(["bench", "--target", "reference", "--kernel", "gelu", "--size", "1024",
                   *FAST, "--stream-elements", "0", "--quiet", "--html", str(page)])  # fmt: skip
    assert status == 0
    assert page.read_text() == "<html>ok</html>"
    ((check, documents),) = seen
    assert check is None and documents[0]["schema"] == "nnconform-bench/1"
    assert documents[0]["results"][0]["kernel"] == "gelu"
