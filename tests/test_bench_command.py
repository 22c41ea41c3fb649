"""``nnconform bench`` as a user runs it: the JSON document and its ratios, a user's own target
(mirrored functions and a native ``bench_<kernel>``), a target that raises, usage errors, and a
cuda request on a machine without a GPU. Tiny sizes and few repeats: nothing here asserts a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from nnconform.checks.perf import cli as bench
from nnconform.cli import main

ROOT = Path(__file__).resolve().parents[1]
# One torch thread: two would spin against each other, and against the other tests, on a small
# machine; the sizes are far too small for threads to help.
FAST = ["--repeats", "3", "--warmup", "1", "--min-sample-time", "0.0005",
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
    return subprocess.run(
        [sys.executable, "-m", "nnconform", "bench", *args],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        check=False,
        timeout=300,
    )


def load(path: Path) -> dict:
    def no_constants(name):
        raise AssertionError(f"{name} in the JSON: strict JSON has none")

    return json.loads(path.read_text(), parse_constant=no_constants)


def by(document: dict, **fields) -> list[dict]:
    return [r for r in document["results"] if all(r[k] == v for k, v in fields.items())]


def check_ratios(document: dict, kernels: list[str]) -> None:
    """The ratios are the medians' and the throughputs follow from bytes and FLOPs."""
    triad = (document["bandwidth"].get("cpu") or {}).get("triad_gbs")
    for kernel in kernels:
        ok = by(document, kernel=kernel, status="ok")
        reference = by(document, kernel=kernel, implementation="reference")[0]
        fastest = min(ok, key=lambda r: r["median_s"])
        assert reference["speedup_vs_reference"] == 1.0
        assert fastest["slowdown_vs_fastest"] == 1.0
        for r in ok:
            assert r["q1_s"] <= r["median_s"] <= r["q3_s"]
            assert len(r["samples_s"]) == document["settings"]["repeats"]
            assert r["slowdown_vs_fastest"] >= 1.0
            assert r["speedup_vs_reference"] == pytest.approx(reference["median_s"] / r["median_s"])
            if r["bytes"] is not None:
                assert r["gbs"] == pytest.approx(r["bytes"] / r["median_s"] / 1e9)
                assert r["fraction_of_bandwidth"] == pytest.approx(r["gbs"] / triad)
                assert r["gflops"] is None
            else:
                assert r["gflops"] == pytest.approx(r["flops"] / r["median_s"] / 1e9)
                assert r["fraction_of_bandwidth"] is None


def test_a_run_writes_the_documented_json_with_consistent_ratios(tmp_path):
    """End to end, in a subprocess as a user runs it."""
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    done = nnconform(
        "--kernel", "adam", "--kernel", "rmsprop", "--kernel", "conv2d", "--size", "2^14",
        *FAST, "--json", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    document = load(out)
    assert document["schema"] == "nnconform-bench/1"
    for key in ("created", "machine", "bandwidth", "settings", "results"):
        assert key in document, key
    settings = {"warmup": 1, "repeats": 3, "seed": 0, "threads": 1, "min_sample_time": 0.0005}
    assert document["settings"] | settings == document["settings"]
    assert document["machine"]["threads"] == 1
    cpu = document["bandwidth"]["cpu"]
    assert cpu["triad_gbs"] > 0 and cpu["elements"] == 2**16 and cpu["backend"] == "torch"
    fields = set(bench._record(bench.KERNELS["adam"], "x", "cpu", 1))
    assert all(set(r) == fields for r in document["results"])

    # every torch path was tried on the optimisers, and RMSprop has no fused one
    assert {r["implementation"] for r in by(document, kernel="adam")} == {
        "reference",
        "torch",
        "torch-forloop",
        "torch-foreach",
        "torch-fused",
    }
    (fused,) = by(document, kernel="rmsprop", implementation="torch-fused")
    assert fused["status"] == "unsupported" and "fused" in fused["reason"]
    assert fused["median_s"] is None
    # the optimiser-only paths are not listed for the other kernels
    assert {r["implementation"] for r in by(document, kernel="conv2d")} == {"reference", "torch"}
    check_ratios(document, ["adam", "rmsprop", "conv2d"])

    assert "[ 1/12] adam" in done.stderr  # progress lines
    assert "adam (optimizers) on cpu, elements 2^14" in done.stdout  # a table per kernel, size
    assert "vs reference" in done.stdout and "GFLOP/s" in done.stdout


def test_the_mlp_step_reports_time_per_epoch(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    status = main(["bench", "--kernel", "mlp_step", "--size", "16", *FAST, "--quiet",
                   "--json", str(out)])  # fmt: skip
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
                   "--kernel", "gelu", "--kernel", "softmax", "--size", "4096", *FAST,
                   "--stream-elements", "0", "--quiet", "--json", str(out)])  # fmt: skip
    assert status == 0
    document = load(out)
    assert document["bandwidth"] == {}
    mine = {r["kernel"]: r for r in by(document, implementation="my_kernels")}
    assert mine["adam"]["status"] == "ok" and mine["gelu"]["status"] == "ok"
    assert mine["softmax"] == mine["softmax"] | {"status": "unsupported", "median_s": None}
    assert mine["softmax"]["reason"] == "target my-kernels has no softmax"
    assert mine["adam"]["speedup_vs_reference"] > 0
    assert mine["adam"]["fraction_of_bandwidth"] is None  # no STREAM measured


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
        (["--kernel", "softmax", "--size", "1000"], "size 1000 does not fit softmax"),
        (["--device", "tpu"], "unknown device 'tpu': use cpu or cuda"),
        (["--repeats", "0"], "--repeats must be at least 1, got 0"),
    ],
)
def test_usage_errors_exit_2_with_one_line(arguments, message, capsys, tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", *arguments, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nnconform bench: error: "), err
    assert message in err
    assert not out.exists()


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
