"""What every kernel benchmark shares: its parameters, its set-up and its derived figures.

The kernels themselves, their data and their sizes come from ``nnconform.checks.perf.kernels``
(the same ones ``nnconform bench`` times), so asv and ``nnconform bench`` measure the same
calls. asv runs these benchmarks in an environment with the benchmarked commit installed:
``nnconform`` is that commit's, while this directory is the working tree's.

Nothing here has a name asv collects (``time_``, ``peakmem_``, ``track_``, ``mem_``), so asv
finds no benchmark in this module or in a class that merely inherits from ``KernelBenchmark``.
"""

from __future__ import annotations

import math
import os
from typing import ClassVar

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

__all__ = ["DEVICES", "KernelBenchmark", "parameters", "targets"]

# cuda is always listed and skipped in setup where there is none: listing it only where
# torch.cuda.is_available() would make the parameter grid differ between machines, and asking
# at import time would initialise CUDA in asv's forkserver before it forks the benchmark
# processes (a forked child cannot use a CUDA context its parent created).
DEVICES = ["cpu", "cuda"]

# The derived figures (s/GB, s/GFLOP, s/epoch) come from the harness of `nnconform bench` with
# fewer repeats than its default 15: asv already repeats each track_ benchmark once per round,
# and at the reference's largest sizes a call takes about a second.
TRACK_WARMUP = 1
TRACK_REPEATS = 5


def extra_targets() -> list[str]:
    """Target specs from NNCONFORM_BENCH_TARGETS (comma-separated), e.g. a user's module."""
    specs = os.environ.get("NNCONFORM_BENCH_TARGETS", "")
    return [spec.strip() for spec in specs.split(",") if spec.strip()]


def targets(kernel: str) -> list[str]:
    """The built-in implementations that can run ``kernel`` here, then the user's targets.

    Only the CPU list is asked for (see DEVICES on why nothing here may touch CUDA); a built-in
    that exists only on CUDA is not benchmarked. Without nnconform.checks.perf the list is the
    reference alone, which then skips in setup.
    """
    try:
        builtin = list(kernels.implementations(kernel, "cpu")) if kernels else ["reference"]
    except (KeyError, ValueError):  # a commit whose nnconform.checks.perf predates this kernel
        builtin = ["reference"]
    return builtin + [spec for spec in extra_targets() if spec not in builtin]


def sizes(kernel: str) -> list[int]:
    """The kernel's default sweep (NNCONFORM_BENCH_LARGE=1 adds the larger sizes)."""
    try:
        return list(kernels.default_sizes(kernel)) if kernels else [2**16]
    except (KeyError, ValueError):
        return [2**16]


def parameters(kernel: str) -> list[list]:
    """asv's ``params`` for a kernel benchmark: ``[targets, devices, sizes]``."""
    return [targets(kernel), DEVICES, sizes(kernel)]


class KernelBenchmark:
    """One kernel of ``nnconform.checks.perf.kernels``, timed as asv times anything.

    A subclass names its ``kernel``, sets ``params = parameters(kernel)`` and writes its own
    ``time_<kernel>``, ``peakmem_<kernel>`` and ``track_*`` methods, one line each, so that each
    benchmark file reads as the list of what is measured.
    """

    kernel: str = ""
    param_names: ClassVar[list[str]] = ["target", "device", "size"]

    # A time_ sample lasts at least asv's sample_time (10 ms; asv picks `number`, the calls per
    # sample); at most 10 samples or 10 s of them per round, after 0.2 s of warm-up (allocator
    # and torch's thread pool: nothing here compiles). Two rounds, in two processes, so that
    # one unlucky process (page placement, a busy neighbour) does not decide a result.
    repeat = (1, 10, 10.0)
    warmup_time = 0.2
    rounds = 2
    # At the default sweep's largest size a reference call takes 0.3 to 1.3 s (2 cores, 2**24
    # elements; the MLP at batch 10000): set-up, warm-up, 10 s of samples and the track_
    # figure's 6 calls fit well inside this. A benchmark past it is recorded as failed.
    timeout = 180.0

    def setup(self, target: str, device: str, size: int) -> None:
        if kernels is None:
            raise NotImplementedError(_MISSING)
        if self.kernel not in kernels.KERNELS:
            raise NotImplementedError(
                f"this commit's nnconform.checks.perf has no kernel {self.kernel!r}"
            )
        # The reference is benchmarked over the default sweep only: at NNCONFORM_BENCH_LARGE's
        # sizes a call of the float64 oracle takes 4 to 15 s (2**26, 2**28 elements; the MLP
        # at batch 60000 about 8 s) and its float64 copies and temporaries need several GB.
        # Those sizes are there for the fast implementations.
        limit = max(kernels.KERNELS[self.kernel].sizes)
        if target == "reference" and size > limit:
            raise NotImplementedError(
                f"reference too slow above size {limit} for {self.kernel}: "
                "its sweep stops at the default sizes"
            )
        try:
            self.prepared = kernels.prepare(self.kernel, target, size, device, seed=0)
        except kernels.Unsupported as error:
            raise NotImplementedError(str(error)) from None  # asv records a skip
        # One untimed call belongs to the preparation: torch.optim allocates its state in the
        # first step, and the first touch of fresh pages faults them in. asv warms up before
        # sampling too, but not under --quick, whose one sample would otherwise include both.
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
