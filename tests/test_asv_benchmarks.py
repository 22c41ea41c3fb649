"""The asv suite in benchmarks/ runs: every class, every target it lists, on cpu at a tiny size.

asv itself would take minutes over the full parameter grid; here each benchmark method is called
once, as asv would call it after ``setup``, so that a kernel renamed in ``nnconform.checks.perf``, a
``track_`` figure that comes out NaN or negative, or a combination that should be skipped but
is not, fails in the project's own tests. The grid itself is checked as asv reads it: time_
over the whole sweep, the figures at its largest size, cuda only where a GPU driver is, JAX's
implementations where jax is installed. The last tests run ``asv check`` (the suite as asv
discovers it) and import the suite without torch and jax.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import math
import os
import pkgutil
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import benchmarks
from benchmarks import common
from nnconform.checks.perf import kernels, registry
from tests.test_perf_versions import nnconform_tree

ROOT = Path(__file__).resolve().parents[1]
PREFIXES = ("time_", "peakmem_", "track_")
TINY = 2**10  # elements of a flat kernel: microseconds a call, even for the oracle

MODULES = [
    importlib.import_module(f"benchmarks.{info.name}")
    for info in pkgutil.iter_modules(benchmarks.__path__)
    if info.name.startswith("bench_")
]
CLASSES = [
    cls
    for module in MODULES
    for cls in vars(module).values()
    if isinstance(cls, type)
    and cls.__module__ == module.__name__
    and any(name.startswith(PREFIXES) for name in dir(cls))
]
KERNEL_CLASSES = [cls for cls in CLASSES if issubclass(cls, common.KernelBenchmark)]


def methods(cls: type) -> list[str]:
    """What asv collects from ``cls``: its prefixed names but those ``skip_benchmark_if`` marks
    (the duet rows, without a baseline)."""
    return sorted(
        name
        for name in dir(cls)
        if name.startswith(PREFIXES) and not getattr(getattr(cls, name), "skip_benchmark", False)
    )


def tiny_size(kernel: str) -> int:
    """2**10 elements for a flat kernel, a batch of 2 for the others."""
    return TINY if kernels.KERNELS[kernel].flat else 2


def test_every_family_and_kernel_has_its_benchmark():
    families = {m.__name__.removeprefix("benchmarks.bench_") for m in MODULES}
    assert families >= {k.family for k in kernels.KERNELS.values()} | {"memory"}
    assert sorted(cls.kernel for cls in KERNEL_CLASSES) == sorted(kernels.KERNELS)
    for cls in KERNEL_CLASSES:
        assert cls.param_names == ["target", "device", "size"], cls.__name__
        assert f"time_{cls.kernel}" in methods(cls), cls.__name__
        assert f"peakmem_{cls.kernel}" in methods(cls), cls.__name__
        compute_bound = kernels.KERNELS[cls.kernel].bytes_per_element is None
        assert ("track_seconds_per_gflop" in methods(cls)) == compute_bound, cls.__name__
        assert ("track_seconds_per_gb" in methods(cls)) != compute_bound, cls.__name__


CASES = [
    pytest.param(cls, target, id=f"{cls.__name__}-{target}")
    for cls in KERNEL_CLASSES
    for target in cls.params[0]
]


@pytest.mark.parametrize(("cls", "target"), CASES)
def test_each_benchmark_runs_once_on_cpu(cls, target):
    size = tiny_size(cls.kernel)
    bench = cls()
    bench.setup(target, "cpu", size)
    for name in methods(cls):
        value = getattr(bench, name)(target, "cpu", size)
        if name.startswith("track_"):
            assert isinstance(value, float), (name, value)
            assert math.isfinite(value) and value > 0, (name, value)
        else:
            assert value is None, name  # asv times time_ and peakmem_ bodies, not their value


@pytest.mark.parametrize("cls", KERNEL_CLASSES, ids=lambda cls: cls.__name__)
def test_unavailable_combinations_are_skipped_in_setup(cls):
    """asv's skip is a NotImplementedError from setup: the reference runs on cpu only and
    stops at the middle of the default sweep; cuda is skipped where there is none."""
    size = tiny_size(cls.kernel)
    with pytest.raises(NotImplementedError, match="not on cuda"):
        cls().setup("reference", "cuda", size)
    beyond = 2 * max(kernels.KERNELS[cls.kernel].sizes)
    with pytest.raises(NotImplementedError, match="reference too slow above"):
        cls().setup("reference", "cpu", beyond)
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device: nothing to skip on cuda")
    for target in cls.params[0]:
        with pytest.raises(NotImplementedError, match="cuda"):
            cls().setup(target, "cuda", size)


def test_asv_times_each_sample_on_a_preparation_of_its_own(monkeypatch):
    """asv's own runner, as a benchmark's process uses it: asv_runner runs setup before every
    sample (asv#966), so each sample is one call on a new preparation of the kernel (new
    arrays, placed elsewhere in memory) after WARM_CALLS untimed ones: the samples that asv's
    Mann-Whitney test takes for independent do not share one placement."""
    discovery = pytest.importorskip("asv_runner.discovery")
    calls = []  # one count per preparation: the calls it got
    prepare = registry.prepare

    def counted(*args, **kwargs):
        prepared, index = prepare(*args, **kwargs), len(calls)
        calls.append(0)

        def run():
            calls[index] += 1
            return prepared.run()

        return dataclasses.replace(prepared, run=run)

    monkeypatch.setattr(registry, "prepare", counted)
    bench = discovery.get_benchmark_from_name(
        str(ROOT / "benchmarks"),
        "bench_optimizers.AdamStep.time_adam-0",  # the reference at the sweep's smallest size
        extra_params={"repeat": 5},
    )
    assert bench._current_params[0] == "reference"
    assert bench.do_setup() is False  # not skipped
    result = bench.do_run()
    assert (len(result["samples"]), result["number"]) == (5, 1)
    assert calls == [common.WARM_CALLS + 1] * 5


FREED_MIB = """
import importlib, sys
import numpy as np
if sys.argv[1] != "default":
    module, _, function = sys.argv[1].partition(":")
    getattr(importlib.import_module(module), function)()
def resident():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096
a = np.ones(2**24)  # 128 MiB, all touched
held = resident()
del a
print((held - resident()) / 2**20)
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize(
    ("allocator", "returned"),
    [
        ("default", True),
        ("benchmarks.common:_steady_allocator", False),  # asv's processes
        ("nnconform.checks.perf.harness:keep_freed_memory", False),  # nnconform bench's
    ],
)
def test_the_benchmark_processes_keep_what_they_free(allocator, returned):
    """glibc hands a freed 128 MiB block back to the system, and the next call would fault
    its pages in again; in asv's processes (``_steady_allocator``) and in ``nnconform bench``'s
    (``keep_freed_memory``) it stays in the process."""
    out = subprocess.run(
        [sys.executable, "-c", FREED_MIB, allocator], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    if "glibc" not in " ".join(platform.libc_ver()):
        pytest.skip("the allocator's settings are glibc's")
    assert (float(out.stdout) > 100) == returned, out.stdout


PLANTED_ADAM = """

import time as _time

_adam_step = adam_step


def adam_step(*args, **kwargs):  # the same step, then as long again spinning: twice the work
    start = _time.thread_time()
    out = _adam_step(*args, **kwargs)
    elapsed = _time.thread_time() - start
    while _time.thread_time() - start < 2 * elapsed:
        pass
    return out
"""


@pytest.fixture
def duet(monkeypatch):
    """The duet row of Adam (``track_vs_baseline``) against a given baseline tree, with fewer
    blocks than asv's (12 in 6 layouts: a tenth of a second at this size), timed on this
    thread's CPU clock (as ``nnconform bench --clock cpu`` times): the tests share two cores,
    and on the wall clock an identical baseline read 0.52 to 2.5 with two more processes
    running, 0.94 to 1.12 on the CPU clock (20 rows each)."""
    from benchmarks.bench_optimizers import AdamStep

    monkeypatch.setattr(common, "DUET_BLOCKS", (12, 12))
    monkeypatch.setattr(common, "DUET_LAYOUTS", 6)
    on_the_cpu = functools.partial(common.harness.measure_interleaved, clock=time.thread_time)
    monkeypatch.setattr(common.harness, "measure_interleaved", on_the_cpu)

    def ratio(baseline: Path) -> float:
        monkeypatch.setattr(common, "BASELINE", str(baseline))
        bench = AdamStep()
        bench.setup("reference", "cpu", TINY)
        return bench.track_vs_baseline("reference", "cpu", TINY)

    return ratio


def test_the_duet_row_is_this_commit_over_the_baseline(tmp_path, duet):
    """Against a baseline whose Adam does twice the work, this commit's reads faster (below
    1); against an identical one, about 1. Wide bounds: a property of the ratio, not a time."""
    same = nnconform_tree(tmp_path / "same")
    planted = nnconform_tree(tmp_path / "planted")
    with open(planted / "nnconform" / "reference" / "optimizers.py", "a") as module:
        module.write(PLANTED_ADAM)
    assert duet(planted) < 0.75
    assert 0.8 < duet(same) < 1.25


def test_a_commit_that_cannot_time_the_baseline_skips_its_duet_rows(tmp_path, duet, monkeypatch):
    """A commit from before another version's Target loaded as its own finds no Adam in the
    baseline's target (Unsupported): its duet rows are skipped (asv's n/a), not failed."""
    prepare = registry.prepare

    def older(kernel, implementation, *args, **kwargs):
        if implementation == common.baseline_spec():
            raise kernels.Unsupported("target baseline has no adam_init")
        return prepare(kernel, implementation, *args, **kwargs)

    monkeypatch.setattr(registry, "prepare", older)
    with pytest.raises(NotImplementedError, match=r"the baseline's reference: .* no adam_init"):
        duet(nnconform_tree(tmp_path / "main"))


@pytest.mark.parametrize(("baseline", "listed"), [("", False), ("/some/tree", True)])
def test_the_duet_rows_are_listed_only_with_a_baseline(baseline, listed):
    """asv's discovery leaves out a benchmark that ``skip_benchmark_if`` marks: without
    NNCONFORM_ASV_BASELINE the duet rows are not listed (as cuda's are not without a GPU)."""
    env = {**os.environ, "NNCONFORM_ASV_BASELINE": baseline}
    probe = "from benchmarks.bench_optimizers import AdamStep as A; "
    probe += "print(getattr(A.track_vs_baseline, 'skip_benchmark', False))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    if importlib.util.find_spec("asv_runner") is None:
        pytest.skip("skip_benchmark_if is asv_runner's")
    assert out.stdout.strip() == str(not listed)


def test_stream_tracks_seconds_per_gigabyte():
    from benchmarks.bench_memory import Stream

    bench = Stream()
    bench.setup("cpu")
    for name in methods(Stream):
        value = getattr(bench, name)("cpu")
        assert math.isfinite(value) and 0 < value < 10, (name, value)  # 0.1 GB/s at the least
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        with pytest.raises(NotImplementedError, match="cuda"):
            bench.setup("cuda")


def test_extra_targets_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("NNCONFORM_BENCH_TARGETS", " my_kernels, ,pkg.adapter:make_target,reference")
    assert common.extra_targets() == ["my_kernels", "pkg.adapter:make_target", "reference"]
    listed = common.targets("gelu")
    assert listed[0] == "reference" and listed.count("reference") == 1
    assert listed[-2:] == ["my_kernels", "pkg.adapter:make_target"]


def test_time_runs_over_the_sweep_and_the_figures_at_its_largest_size():
    for cls in KERNEL_CLASSES:
        sweep = list(kernels.default_sizes(cls.kernel))
        limit = common.reference_limit(cls.kernel)
        duet = [["reference"], common.DEVICES, [size for size in sweep if size <= limit]]
        assert cls.track_vs_baseline.params == duet, cls.__name__
        grid = [common.targets(cls.kernel), common.DEVICES, sweep[:-1]]
        assert cls.params == grid, cls.__name__
        for name in methods(cls):
            params = getattr(getattr(cls, name), "params", cls.params)
            if name.startswith("time_") or name == "track_seconds_per_epoch":
                assert params[2] == sweep[:-1], (cls.__name__, name)
            else:
                assert params == [cls.params[0], common.DEVICES, sweep[-1:]], (cls.__name__, name)


def test_torchs_default_optimiser_path_is_listed_by_its_name_only():
    """On cpu torch.optim's default is the for-loop path, on cuda the foreach one: both are
    listed as such, and the duplicate 'torch' row is not."""
    pytest.importorskip("torch")
    from benchmarks.bench_activations import GELU
    from benchmarks.bench_optimizers import AdamStep

    assert "torch" not in AdamStep.params[0] and "torch-forloop" in AdamStep.params[0]
    assert "torch" in GELU.params[0]


def test_jax_is_in_the_grid_where_it_is_installed():
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    pytest.importorskip("flax")
    for cls in KERNEL_CLASSES:
        assert "jax" in cls.params[0], cls.__name__
        listed = [n for n in registry.implementations(cls.kernel, "cpu") if n in cls.params[0]]
        assert cls.params[0] == listed, cls.__name__


def test_keras_is_in_the_optimisers_grid_where_it_is_installed():
    pytest.importorskip("nnconform.checks.targets.keras", exc_type=ImportError)
    for cls in KERNEL_CLASSES:
        optimiser = kernels.KERNELS[cls.kernel].family == "optimizers"
        assert ("keras" in cls.params[0]) == optimiser, cls.__name__


def test_the_asv_only_caches_stay_off_outside_asv():
    """Imported by pytest (or a user's script) the suite sets no cache: only asv's runner."""
    assert not common.UNDER_ASV
    assert "NNCONFORM_BENCH_INPUTS" not in os.environ or os.environ["NNCONFORM_BENCH_INPUTS"] != (
        common.INPUTS
    )


def test_cuda_is_listed_only_where_a_gpu_driver_is(monkeypatch):
    monkeypatch.delenv("NNCONFORM_BENCH_DEVICES", raising=False)
    monkeypatch.setattr(common.os.path, "exists", lambda path: False)
    assert common.devices() == ["cpu"]
    monkeypatch.setattr(common.os.path, "exists", lambda p: p == "/proc/driver/nvidia/version")
    assert common.devices() == ["cpu", "cuda"]
    monkeypatch.setenv("NNCONFORM_BENCH_DEVICES", "cpu, cuda:1")
    assert common.devices() == ["cpu", "cuda:1"]


def test_the_suite_imports_without_torch():
    """As scipy's benchmarks do with optional libraries: without torch (and jax), asv still
    discovers the suite, and every class lists the reference alone."""
    script = (
        "import sys; sys.modules['torch'] = sys.modules['jax'] = None\n"  # import raises
        "import benchmarks.bench_optimizers as b, benchmarks.bench_memory\n"
        "print(b.AdamStep.params[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['reference']"


@pytest.mark.slow
def test_asv_check_passes():
    if importlib.util.find_spec("asv") is None or shutil.which("git") is None:
        pytest.skip("asv is not installed (pip install -e '.[bench]')")
    done = subprocess.run(
        [sys.executable, "-m", "asv", "check", "--python=same"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No problems found" in done.stdout
