"""What every kernel benchmark shares: its parameters, its set-up and its derived figures.

The kernels themselves, their data and their sizes come from ``nnconform.checks.perf`` (the same
ones ``nnconform bench`` times), so asv and ``nnconform bench`` measure the same calls. asv runs
these benchmarks in an environment with the benchmarked commit installed: ``nnconform`` is that
commit's, while this directory is the working tree's.

Nothing here has a name asv collects (``time_``, ``peakmem_``, ``track_``, ``mem_``), so asv
finds no benchmark in this module or in a class that merely inherits from ``KernelBenchmark``.

Where the time of a run goes, and what keeps it short (``asv run --quick`` runs every
benchmark once, each parameter combination in a process of its own):

- processes: one per benchmark and parameter combination; asv.conf.json's "forkserver" forks
  them from one server that has imported the suite, torch and nnconform once, instead of a
  fresh interpreter importing torch each time (4 to 7 s on 2 busy cores); under asv this
  module also imports jax, optax and flax.linen (5 s per JAX process otherwise) and the
  reference target (0.6 s per process) in the server (``_under_asv``), and only there: asv's
  discovery, which imports the suite once before the server does, needs the parameter lists
  alone (``DISCOVERING``);
- JAX's compilations: ``jit`` compiles in setup, once per process; JAX's persistent cache
  (``JAX_CACHE``) lets every later process of the same kernel and size (the figures, the
  rounds, the other commit of ``asv continuous``) load the compiled code instead;
- Keras (the optimisers' ``keras`` rows): not imported in the server, unlike JAX: its torch
  backend asks ``torch.cuda.is_available()`` when it is imported, which must not happen before
  the server forks (see ``devices``); each keras process imports it in setup (about 2 s);
- the inputs: drawn once per kernel, size and seed, kept on disk (NNCONFORM_BENCH_INPUTS,
  ``INPUTS``: about 1.5 GB for the default sweeps) and read back by every later process;
- the grid: ``time_<kernel>`` runs over target × device × the kernel's default sweep but its
  largest size, the figures that need one size only at that largest one: ``peakmem_<kernel>``
  and ``track_*`` (beyond the caches: at small sizes peak memory is the interpreter's and GB/s
  the caches'), through asv's per-method ``params`` (``figure_parameters``). The largest size's
  inputs take 0.3 to 1.3 s to draw in every process that prepares it; its time is in the
  figures (s/GB is the time over a constant). torch's default optimiser path is not listed,
  being on cpu the for-loop path and on cuda the foreach one, both listed by name;
- the reference: the float64 oracle takes 0.3 to 1.3 s a call at the sweep's largest sizes;
  it is timed up to the sweep's middle size (2**20 elements, or the batch that holds as many:
  ``reference_limit``), where a commit's change to it shows as well, and skips above;
- cuda rows: listed only where a GPU driver is present (``DEVICES``), not listed to be skipped
  as n/a on every machine without one;
- the track_ figures time 3 calls after the calibration's (``TRACK_WARMUP``,
  ``TRACK_REPEATS``), not 3 + 15 + the calibration as ``nnconform bench`` does: asv already
  repeats them over rounds.

The torch, JAX and Keras rows change only when the pinned library or the machine does: across this
repository's commits they are controls, as STREAM is (``bench_memory``): if they moved with
the reference, the machine did. The reference and user targets are what a commit changes.
"""

from __future__ import annotations

import ctypes
import inspect
import math
import os
import sys
import tempfile
import time
from typing import ClassVar

import numpy as np

# Imported safely, as scipy's benchmarks import optional libraries: a commit from before the
# benchmark kernels existed, or an environment without torch, must still let asv discover (and
# `asv check`) the suite; every benchmark of it then skips in setup. Commits from before the one
# import name installed the package as a bare `checks`: asv's history reaches them too.
try:
    from nnconform.checks.perf import harness, kernels
except ImportError:  # pragma: no cover - an older commit
    try:
        from checks.perf import harness, kernels  # noqa: TID251  (commits before nnconform.*)
    except ImportError as error:
        harness = kernels = None
        _MISSING = f"nnconform.checks.perf is not importable in this environment: {error}"
try:  # the registry of providers; older commits kept prepare and implementations in kernels
    from nnconform.checks.perf import registry
except ImportError:  # pragma: no cover - an older commit
    registry = kernels
try:  # the duet rows' interval machinery (``ratio_to_baseline``): commits since interleaving
    from nnconform.checks.perf import ratios
except ImportError:  # pragma: no cover - an older commit
    ratios = None


# The duet rows' baseline (``track_vs_baseline``): a tree that holds another version of
# nnconform as pip installs it, ``pip install --no-deps --target PATH CHECKOUT``. Unset, the
# duet rows are not listed.
BASELINE = os.environ.get("NNCONFORM_ASV_BASELINE", "").strip()
JAX_CACHE = os.path.join(tempfile.gettempdir(), "nnconform-asv-jax-cache")
INPUTS = os.path.join(tempfile.gettempdir(), "nnconform-asv-inputs")
# The caches below are asv's only: set when asv's runner (asv_runner) imports the suite, not
# when the project's tests or a user's script import it.
UNDER_ASV = "asv_runner" in sys.modules
# asv imports the suite twice: once to discover the benchmarks (``benchmark.py discover``), which
# needs only the parameter lists, and once in the forkserver (``run_server``), whose children
# run them. Only the server's imports save anything, so discovery skips JAX's (a third of the
# suite's import time: 4 s on 2 busy cores).
DISCOVERING = UNDER_ASV and "discover" in sys.argv[1:2]
# asv's own marks, imported after UNDER_ASV is read (importing them loads asv_runner).
try:
    from asv_runner.benchmarks.mark import SkipNotImplemented, skip_benchmark_if
except ImportError:  # the suite imported without asv's runner (a script, a test without it)
    SkipNotImplemented = NotImplementedError

    def skip_benchmark_if(condition):
        return lambda function: function


def _steady_allocator() -> None:
    """Keep freed memory in the process (glibc's mallopt), so that a kernel's temporaries do
    not fault in fresh pages on every call.

    By default glibc serves a large block with its own mmap and returns it, and the top of
    the heap, to the system once freed, depending on a threshold that moves with what was
    freed before (mallopt(3): M_MMAP_THRESHOLD is dynamic). Whether a kernel's temporaries
    (numpy's, torch's: megabytes each) fault in new pages on every call then depends on that
    history: torch's for-loop Adam at 2**20 elements took 0.9 ms in some processes and 4.0 ms
    in others, or switched between the two within one, on this project's 2-core VM. With no
    mmap (M_MMAP_MAX 0) and no trimming (M_TRIM_THRESHOLD 2 GiB) it took 0.85 to 0.94 ms in
    every process: the kernel's own cost, which is what a commit changes (PyTorch's CPU
    performance guide recommends a caching allocator, jemalloc or tcmalloc, for the same
    reason). Elsewhere than glibc this does nothing. ``nnconform bench`` does the same
    (``harness.keep_freed_memory``); the suite keeps its own, so that every commit it times,
    older ones included, is timed in one kind of process."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return
    m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
    mallopt(m_mmap_max, 0)
    mallopt(m_trim_threshold, 2**31 - 1)


def _under_asv() -> None:
    """Import JAX's libraries and the reference target here, in asv's forkserver, so that its
    children need not: an import starts no JAX backend or thread (the first computation does,
    in a child), so the fork stays safe. Point JAX's persistent compilation cache at
    JAX_CACHE, for every compilation however short. Keep the kernels' inputs in INPUTS (an
    environment variable that the forked processes inherit; set it empty to turn this off).
    Set the allocator that the forked processes inherit (``_steady_allocator``)."""
    _steady_allocator()
    os.environ.setdefault("NNCONFORM_BENCH_INPUTS", INPUTS)
    try:  # the reference target's modules (0.6 s to import and build in every process)
        from nnconform.checks.targets import load_target

        load_target("reference")
    except Exception:  # an older commit, or a broken one: its setup says why
        pass
    if BASELINE:
        try:  # and the baseline's, for the duet rows (kept by versions.load_version)
            from nnconform.checks.perf import versions

            versions.load_version(baseline_spec())
        except Exception:  # an older commit, or a bad tree: the duet row says why
            pass
    try:
        import flax.linen  # noqa: F401
        import jax
        import optax  # noqa: F401
    except ImportError:
        return
    jax.config.update("jax_compilation_cache_dir", JAX_CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def baseline_spec() -> str:
    """The baseline's reference as a target spec: loaded from BASELINE beside this commit's
    nnconform, as ``nnconform bench --target LABEL=PATH:MODULE`` loads a version
    (``nnconform.checks.perf.versions``)."""
    return f"baseline={BASELINE}:nnconform.checks.targets.reference:make_target"


if UNDER_ASV and not DISCOVERING:
    _under_asv()

__all__ = [
    "BASELINE",
    "DEVICES",
    "KernelBenchmark",
    "duet_parameters",
    "duet_row",
    "figure_parameters",
    "parameters",
    "targets",
]


def devices() -> list[str]:
    """cpu, and cuda where a GPU driver is present (/proc/driver/nvidia/version, or
    NNCONFORM_BENCH_DEVICES=cpu,cuda). Asked without torch or CUDA: initialising CUDA in asv's
    forkserver, before it forks the benchmark processes, would leave every child unable to use
    it. A machine whose grid lists cuda keeps it listed, so that its results stay comparable
    across its own commits; a row that cannot run skips in setup."""
    chosen = os.environ.get("NNCONFORM_BENCH_DEVICES", "")
    if chosen.strip():
        return [d.strip() for d in chosen.split(",") if d.strip()]
    return ["cpu", "cuda"] if os.path.exists("/proc/driver/nvidia/version") else ["cpu"]


DEVICES = devices()

# The track_ figures (s/GB, s/GFLOP, s/epoch) come from the harness of `nnconform bench` with
# fewer calls than its defaults: asv repeats each track_ benchmark once per round already, and
# setup has made the untimed calls a warm-up needs (WARM_CALLS).
TRACK_WARMUP = 0
TRACK_REPEATS = 3
# The untimed calls that end each preparation (``KernelBenchmark.setup``).
WARM_CALLS = 3
# The duet rows (``KernelBenchmark.ratio_to_baseline``): blocks of one sample of each version,
# split between preparations (layouts) of both. Short samples, many blocks: the two samples
# of a block are then a millisecond or two apart, and a neighbour's noise that changes faster
# than a block of 10 ms samples (``nnconform bench``'s default) still falls on both. On this
# project's 2-core VM, with a second process streaming a numpy triad over 64 MiB arrays, eight
# duet rows of SGD with momentum at 2**18 spread by 1.2 % (standard deviation) with 40 blocks
# of 10 ms samples and by 0.5 % with 200 of 1 ms, in two thirds of the time. As many blocks as
# fill DUET_SECONDS of samples, within DUET_BLOCKS: a kernel whose call takes 80 ms (conv2d at
# a batch of 16) gets the fewest. Rows of calls of 5 ms and more (the reference's optimisers
# at 2**20) get more blocks from 2.4 s than from 1.2 s: under the same streaming neighbour, 25
# duet rows of AdaGrad at 2**20 spread by 1.3 % with 1.2 s and by 0.45 % with 2.4 s, where one
# row of 1.058 had made a false alarm of an unchanged commit.
DUET_BLOCKS = (48, 240)
DUET_SECONDS = 2.4
DUET_LAYOUTS = 8
DUET_MIN_SAMPLE_TIME = 0.001


def extra_targets() -> list[str]:
    """Target specs from NNCONFORM_BENCH_TARGETS (comma-separated), e.g. a user's module."""
    specs = os.environ.get("NNCONFORM_BENCH_TARGETS", "")
    return [spec.strip() for spec in specs.split(",") if spec.strip()]


def targets(kernel: str) -> list[str]:
    """The built-in implementations that can run ``kernel`` here (keras's for the optimisers,
    where keras is installed), then the user's targets.

    Only the CPU list is asked for (see ``devices`` on why nothing here may touch CUDA); a
    built-in that exists only on CUDA is not benchmarked. Without nnconform.checks.perf the list
    is the reference alone, which then skips in setup.
    """
    try:
        builtin = list(registry.implementations(kernel, "cpu")) if kernels else ["reference"]
    except (KeyError, ValueError, AttributeError):  # a commit that predates this kernel
        builtin = ["reference"]
    if "torch-forloop" in builtin:  # torch's default optimiser path is one of the named ones
        builtin.remove("torch")
    return builtin + [spec for spec in extra_targets() if spec not in builtin]


def reference_limit(kernel: str) -> int:
    """The largest size the reference is timed at: the default sweep's middle one."""
    sweep = kernels.KERNELS[kernel].sizes
    return sweep[len(sweep) // 2]


def sizes(kernel: str) -> list[int]:
    """The kernel's default sweep (NNCONFORM_BENCH_LARGE=1 adds the larger sizes)."""
    try:
        return list(kernels.default_sizes(kernel)) if kernels else [2**16]
    except (KeyError, ValueError):
        return [2**16]


def parameters(kernel: str) -> list[list]:
    """asv's ``params`` for a kernel benchmark: ``[targets, devices, sizes]``, the default
    sweep but its largest size (see the module docstring)."""
    return [targets(kernel), DEVICES, sizes(kernel)[:-1] or sizes(kernel)]


def figure_parameters(kernel: str) -> list[list]:
    """``params`` of the peakmem_ and track_ figures: the sweep's largest size only."""
    return [targets(kernel), DEVICES, sizes(kernel)[-1:]]


def duet_parameters(kernel: str) -> list[list]:
    """``params`` of the duet rows: the reference, at the sizes it is timed at."""
    limit = reference_limit(kernel) if kernels else 2**16
    return [["reference"], DEVICES, [size for size in sizes(kernel) if size <= limit]]


def duet_row(kernel: str):
    """A kernel class's duet row, ``track_vs_baseline = duet_row(kernel)``: the commit's
    reference over the baseline's (``KernelBenchmark.ratio_to_baseline``), listed only when
    NNCONFORM_ASV_BASELINE names the baseline."""

    @skip_benchmark_if(not BASELINE)
    def track_vs_baseline(self, target, device, size):
        return self.ratio_to_baseline()

    track_vs_baseline.unit = "× baseline"
    track_vs_baseline.params = duet_parameters(kernel)
    return track_vs_baseline


class KernelBenchmark:
    """One kernel of ``nnconform.checks.perf``, timed as asv times anything.

    A subclass names its ``kernel``, sets ``params = parameters(kernel)`` and writes its own
    ``time_<kernel>``, ``peakmem_<kernel>`` and ``track_*`` methods, one line each, the figures
    with ``.params = figure_parameters(kernel)``, so that each benchmark file reads as the list
    of what is measured.
    """

    kernel: str = ""
    param_names: ClassVar[list[str]] = ["target", "device", "size"]

    # The time_ rows, tuned for `asv continuous --interleave-rounds --factor 1.05`, whose goal
    # is to flag a 10 % slowdown at 2**18 elements and above and no unchanged row (README:
    # "Benchmarks across commits" says how far they get; the duet rows, ``ratio_to_baseline``,
    # reach it).
    # asv flags a change when the two commits' medians differ by --factor and a Mann-Whitney
    # U test on their samples gives p < 0.002 (asv._stats.is_different). The test treats the
    # samples as independent; so they must be, or a commit's median moves with what they
    # share. They shared the placement of the kernel's arrays (pages, cache sets), which
    # moves a kernel's steady time by 13 to 24 % from one preparation to the next on this
    # project's 2-core VM (Mytkowicz et al. 2009 on such effects), as much within a process
    # as between processes. asv_runner 0.3 runs setup before every sample (asv#966), and
    # setup prepares the kernel anew (a placement of its own) and warms it up (WARM_CALLS);
    # a sample is then one call (asv's `number` is 1 where setup exists). 20 to 40 samples a
    # round (repeat), four rounds, each a process of its own, alternated between the two
    # commits by --interleave-rounds so that a drift of the machine falls on both: 80 to 160
    # placements a commit. asv's own warm-up would only prepare again (warmup_time 0). An
    # asv_runner before 0.3 runs setup once a sample too, then as many calls as fill
    # sample_time. --quick ignores all of this (one call each). What no setting here
    # removes is the machine's drift between rounds, a minute apart (±10 % on that VM): it
    # still moves a commit's median by about --factor at times (README), which is why the
    # gate is the duet rows.
    repeat = (20, 40, 20.0)
    sample_time = 0.02
    warmup_time = 0.0
    rounds = 4
    # At the default sweep's largest size a reference call takes 0.3 to 1.3 s (2 cores, 2**24
    # elements; the MLP at batch 10000): set-up, warm-up, 10 s of samples and the track_
    # figure's calls fit well inside this. A benchmark past it is recorded as failed.
    timeout = 180.0

    def setup(self, target: str, device: str, size: int) -> None:
        if kernels is None:
            raise NotImplementedError(_MISSING)
        if self.kernel not in kernels.KERNELS:
            raise NotImplementedError(
                f"this commit's nnconform.checks.perf has no kernel {self.kernel!r}"
            )
        # The reference is timed up to its sweep's middle size: above, a call of the float64
        # oracle takes 0.1 to 15 s (2**22 to 2**28 elements; the MLP at batch 10000 about 1 s)
        # and its float64 copies need GBs. Those sizes are there for the fast implementations.
        limit = reference_limit(self.kernel)
        if target == "reference" and size > limit:
            raise NotImplementedError(
                f"reference too slow above size {limit} for {self.kernel}: "
                "its sweep stops at the middle of the default sizes"
            )
        try:
            self.prepared = registry.prepare(self.kernel, target, size, device, seed=0)
        except kernels.Unsupported as error:
            raise NotImplementedError(str(error)) from None  # asv records a skip
        # Untimed calls belong to the preparation: torch.optim allocates its state in the
        # first step, the first touch of fresh pages faults them in, JAX's second call still
        # settles. By the third a call takes the preparation's steady time (the median over
        # 30 preparations: within 1 % for the reference, 4 to 7 % for torch's foreach Adam).
        for _ in range(WARM_CALLS):
            self.call()

    def call(self) -> None:
        """One call of the kernel, waited for: asv's timer must see the device's work end."""
        self.prepared.run()
        self.prepared.sync()

    def median_seconds(self) -> float:
        return harness.measure(self.prepared, warmup=TRACK_WARMUP, repeats=TRACK_REPEATS).median

    def seconds_per_gb(self) -> float:
        """Median seconds per call over the minimal gigabytes it moves (1/GB/s: lower is better,
        which is the direction asv reads every benchmark in)."""
        return self.median_seconds() / (self.prepared.bytes / 1e9)

    def seconds_per_gflop(self) -> float:
        return self.median_seconds() / (self.prepared.flops / 1e9)

    def seconds_per_epoch(self) -> float:
        """A pass over the kernel's data set at this batch size: ceil(N / batch) steps."""
        steps = math.ceil(self.prepared.kernel.dataset_size / self.prepared.size)
        return self.median_seconds() * steps

    def ratio_to_baseline(self) -> float:
        """This commit's reference over the baseline's (BASELINE), timed side by side in this
        process, interleaved: blocks of a sample of each version in a random order (samples
        of DUET_MIN_SAMPLE_TIME or more, as many calls in each version's as in the baseline's;
        as many blocks as DUET_SECONDS and DUET_BLOCKS allow), in DUET_LAYOUTS preparations
        of both (``harness.measure_interleaved``, as ``nnconform bench`` times them); the
        Hodges-Lehmann estimate over the layouts (``ratios.compare``). Above 1 is slower
        than the baseline.

        A duet (Bulej et al., ICPE 2020): whatever the machine does over seconds, which moves
        a ``time_`` row by 5 to 10 % between rounds on this project's 2-core VM, falls on both
        versions of a block and cancels in their quotient. Each commit of ``asv continuous``
        is timed against the same baseline, so the two commits' rows differ by their own
        change alone: their quotient is the change."""
        if ratios is None or not hasattr(harness, "measure_interleaved"):
            raise SkipNotImplemented("this commit's nnconform times no versions side by side")
        k, size, device = self.kernel, self.prepared.size, self.prepared.device
        spec = baseline_spec()

        def prepare(implementation: str):
            return registry.prepare(k, implementation, size, device, seed=0)

        try:  # a commit from before another version's Target loaded as its own cannot
            baseline = prepare(spec)
        except kernels.Unsupported as error:
            raise SkipNotImplemented(f"the baseline's reference: {error}") from None
        calls = []
        for _ in range(3):  # the commit's call, to size the blocks: the shortest of three
            start = time.perf_counter()
            self.call()
            calls.append(time.perf_counter() - start)
        sample = max(min(calls), DUET_MIN_SAMPLE_TIME)
        # both versions with the baseline's calls per sample (``harness._like_the_baseline``);
        # a commit from before that calibrates each on its own
        shared = "baseline" in inspect.signature(harness.measure_interleaved).parameters
        like_for_like = {"baseline": spec} if shared else {}
        fewest, most = DUET_BLOCKS
        outcome = harness.measure_interleaved(
            [self.prepared, baseline],
            repeats=min(max(round(DUET_SECONDS / (2 * sample)), fewest), most),
            min_sample_time=DUET_MIN_SAMPLE_TIME,
            layouts=DUET_LAYOUTS,
            rng=np.random.default_rng(),
            prepare_again=lambda p: prepare(p.implementation),
            **like_for_like,
        )
        for error in outcome.errors.values():
            raise error
        mine, theirs = outcome.paired(self.prepared.implementation, spec)
        return ratios.compare(mine, theirs, layouts=outcome.layouts).ratio
