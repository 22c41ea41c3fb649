"""Timing prepared kernels: warm-up, calibration, repeated samples, robust statistics; and the
interleaved measurement of several implementations of one kernel and size.

One implementation (``measure``):

    1. sync, then ``warmup`` calls: first-touch page faults, lazily allocated optimiser state,
       torch's kernel selection and CUDA's context all happen here, not in a sample.
    2. calibrate ``number``: double it until one sample of ``number`` calls lasts at least
       ``min_sample_time``, as ``timeit.Timer.autorange`` does, so that the clock's resolution
       and the loop's own cost are small against a sample.
    3. ``repeats`` samples of ``number`` calls; each sample ends with ``sync()`` (CUDA calls
       and JAX's return before their work ends) and gives seconds per call = elapsed / number.

Several implementations of one kernel and size (``measure_interleaved``): steps 1 and 2 for
each, as above, then ``repeats`` blocks; a block takes one sample of every implementation, in
an order drawn afresh for each block (``rng.permutation``), all in this one process. The
machine's slow drifts (a neighbour's job starting, the clock frequency, thermal state) then
fall on every implementation of a block alike, and the per-block ratios to the baseline cancel
them (``nnconform.checks.perf.ratios``); the random order keeps a position in the block (first
after a neighbour's sample, say) from favouring anyone. This is duet benchmarking (Bulej et
al., ICPE 2020) with blocks in place of two parallel copies. With ``layouts`` the blocks are
split between several preparations of every implementation, so that where their arrays lie
is drawn anew for each and the ratio's interval covers it too (see ``measure_interleaved``).

Limits. Neighbours share caches: a sample can start with its predecessor's data in the caches
and its own evicted, which costs the first call of the sample; with ``number`` calls per sample
the cost is spread over them, and at sizes beyond the last-level cache nobody's data survives
anyway, but at sizes that fit in it a kernel after a cache-hungry neighbour pays more than
alone. The random order turns this into noise shared by all rather than a bias against one,
and the interval widens with it. A second process running in parallel (another job, another
benchmark) competes for cores and memory bandwidth: whatever it does for longer than a block
lands on all implementations alike and cancels; what it does within one sample (a burst) is
noise on that sample alone, which the median and the rank-based interval absorb unless it is
most of the run. The ratio then describes the implementations under that load, which is not
the ratio on an idle machine when one of them suffers more from it (a multithreaded kernel
loses more cores to a busy neighbour than a single-threaded one). Blocks are sequential, not
simultaneous: noise faster than a block is not cancelled, only averaged.

Calls per sample, interleaved. That first call's cost is a bias, not noise, between two
implementations timed with different ``number``s: the one with more calls per sample spreads
it thinner. Two implementations of about the same speed calibrate to the same ``number``, or,
when their calls last about ``min_sample_time`` over a power of two, to adjacent doublings by
chance. So an implementation calibrated within one doubling of the ``baseline``'s takes the
baseline's ``number`` and is compared with it like for like. Without this, the reference's SGD
with momentum at 2**18 elements, timed against an identical copy in samples of 1 ms (the asv
duet rows), read 0.87 to 1.17 in 8 processes of 100, every preparation of the process alike:
where it was recorded, exactly the processes in which the two calibrated to 2 and 4 calls.
Timed with the baseline's number, 40 processes of 40 read 0.983 to 1.029 (this project's
2-core VM).

The median and the quartiles (numpy's linear percentile) summarise each implementation's
samples: the median resists the occasional slow sample an interrupt or another process
causes, where the mean would not; a spread (IQR) above 10 % of the median flags the
measurement as noisy.

On cuda a ``Prepared`` may ask for CUDA events (``timer = "cuda-events"``, torch's paths): the
device is synchronised, an event recorded on torch's current stream, the calls queued, a second
event recorded and waited for, and the sample is the events' elapsed time: the GPU's own
clock, free of the host's launch jitter. Other implementations on cuda (JAX's, a user's) are
timed on the host clock around their calls and their ``sync``.

The process keeps the memory it frees (``keep_freed_memory``, called by ``nnconform bench``):
otherwise glibc maps every block above a threshold afresh and returns it when freed, a threshold
that moves with what was freed before (mallopt(3): M_MMAP_THRESHOLD is dynamic), so whether a
kernel's temporaries fault in new pages on every call depends on the process's history, and
changes during a run: the reference's Adam at 2**18 elements took 2.0 ms in some blocks and
3.2 ms in others of one run on this project's 2-core VM (a 95 % interval of [0.62, 1.5] for
a version against itself); [0.98, 1.01] with the memory kept. PyTorch's CPU performance
guide recommends a caching allocator (jemalloc, tcmalloc) for the same reason.

Sources: ``timeit`` (Python standard library) ``Timer.autorange``; pyperf's advice on
warm-up and on reporting medians; ``torch.utils.benchmark.Timer.blocked_autorange``;
``torch.cuda.Event(enable_timing=True)``; L. Bulej et al., "Duet Benchmarking: Improving
Measurement Accuracy in the Cloud", ICPE 2020.
"""

from __future__ import annotations

import ctypes
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from nnconform.checks.perf.kernels import Prepared

__all__ = [
    "NOISY",
    "Interleaved",
    "Measurement",
    "keep_freed_memory",
    "measure",
    "measure_interleaved",
]

NOISY = 0.10  # rel_iqr above this: the machine was busy, or the kernel's time varies


def keep_freed_memory() -> bool:
    """Make glibc keep in this process the memory it frees (no mmap for large blocks, no
    trimming; see the module docstring), for the rest of the process. True where it did;
    elsewhere than glibc nothing changes and this returns False."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
    done = [mallopt(m_mmap_max, 0), mallopt(m_trim_threshold, 2**31 - 1)]  # 1 on success
    return all(done)


@dataclass
class Measurement:
    samples: list[float]  # seconds per call, one per repeat (per block when interleaved)
    number: int  # calls per sample
    median: float
    q1: float
    q3: float

    @classmethod
    def from_samples(cls, samples: Sequence[float], number: int = 1) -> Measurement:
        """The statistics of given samples (seconds per call): a pure function, for tests."""
        values = [float(s) for s in samples]
        if not values:
            raise ValueError("samples must hold at least one time, got none")
        if any(not math.isfinite(s) or s < 0 for s in values):
            raise ValueError(f"samples must be finite non-negative times, got {values}")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f"number must be a positive integer, got {number!r}")
        q1, median, q3 = np.percentile(values, [25, 50, 75], method="linear")
        return cls(values, number, float(median), float(q1), float(q3))

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def rel_iqr(self) -> float:
        """IQR / median: 0 for identical samples; inf if the median is 0 but the spread not."""
        if self.median > 0:
            return self.iqr / self.median
        return 0.0 if self.iqr == 0 else math.inf

    @property
    def noisy(self) -> bool:
        return self.rel_iqr > NOISY


def _positive_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _settings(warmup: object, repeats: object, min_sample_time: object) -> tuple[int, int, float]:
    warmup = _positive_int("warmup", warmup, 0)
    repeats = _positive_int("repeats", repeats, 1)
    if not (isinstance(min_sample_time, int | float) and min_sample_time >= 0):
        raise ValueError(f"min_sample_time must be seconds >= 0, got {min_sample_time!r}")
    return warmup, repeats, float(min_sample_time)


def _cuda_events(prepared: Prepared) -> Callable[[int], float]:
    """sample(number) timed by a pair of CUDA events (see the module docstring)."""
    import torch

    run, sync = prepared.run, prepared.sync
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)

    def sample(number: int) -> float:
        sync()
        start.record()
        for _ in range(number):
            run()
        end.record()
        end.synchronize()
        sync()
        return start.elapsed_time(end) / 1e3  # milliseconds

    return sample


def _sampler(prepared: Prepared, clock: Callable[[], float]) -> Callable[[int], float]:
    """sample(number): seconds for ``number`` calls, the device's queue drained at both ends
    (the previous sample ended with a sync, and the warm-up too)."""
    if prepared.timer == "cuda-events":
        return _cuda_events(prepared)
    if prepared.timer != "wall":
        raise ValueError(f"unknown timer {prepared.timer!r}: use 'wall' or 'cuda-events'")
    run, sync = prepared.run, prepared.sync

    def sample(number: int) -> float:
        start = clock()
        for _ in range(number):
            run()
        sync()
        return clock() - start

    return sample


def _warm(prepared: Prepared, warmup: int) -> None:
    """Step 1 of the module docstring."""
    prepared.sync()
    for _ in range(warmup):
        prepared.run()
    prepared.sync()


def _warm_and_calibrate(
    prepared: Prepared, sample: Callable[[int], float], warmup: int, min_sample_time: float
) -> int:
    """Steps 1 and 2 of the module docstring: the calls per sample."""
    _warm(prepared, warmup)
    number = 1
    while sample(number) < min_sample_time:
        number *= 2
    return number


def _like_the_baseline(numbers: dict[str, int], baseline: str | None) -> dict[str, int]:
    """The calls per sample of every implementation, those within one doubling of the
    baseline's (half, same, double) replaced by the baseline's (see the module docstring:
    a sample's first call pays for its neighbour, and ``number`` sets how thin that is
    spread). Calibrated numbers are powers of two, and one doubling apart is what chance
    makes of two implementations whose calls last about the same. The replaced samples last
    from half to four times ``min_sample_time``; two doublings or more away, each keeps its
    own."""
    if baseline not in numbers:  # none named, or the baseline failed its calibration
        return numbers
    own = numbers[baseline]
    return {name: own if own / 2 <= n <= 2 * own else n for name, n in numbers.items()}


def measure(
    prepared: Prepared,
    *,
    warmup: int = 3,
    repeats: int = 15,
    min_sample_time: float = 0.01,
    clock: Callable[[], float] = time.perf_counter,
) -> Measurement:
    """Time ``prepared.run`` alone (see the module docstring); exceptions of the kernel
    propagate. ``clock`` is for tests (a fake clock that the kernel advances)."""
    warmup, repeats, min_sample_time = _settings(warmup, repeats, min_sample_time)
    sample = _sampler(prepared, clock)
    number = _warm_and_calibrate(prepared, sample, warmup, min_sample_time)
    return Measurement.from_samples([sample(number) / number for _ in range(repeats)], number)


@dataclass
class Interleaved:
    """The outcome of ``measure_interleaved``: per implementation, its Measurement (samples in
    block order) or the error that stopped it, the order of every block, and the layout each
    block was timed in (0, 1, …: which preparation of the implementations)."""

    measurements: dict[str, Measurement] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    orders: list[list[str]] = field(default_factory=list)
    layouts: list[int] = field(default_factory=list)

    def paired(self, name: str, baseline: str) -> tuple[list[float], list[float]]:
        """The samples of ``name`` and ``baseline`` from the blocks both took part in: all of
        them, since an implementation that fails leaves the blocks from then on, and its
        samples so far are dropped with it."""
        return self.measurements[name].samples, self.measurements[baseline].samples


def measure_interleaved(
    prepared: Sequence[Prepared],
    *,
    warmup: int = 3,
    repeats: int = 15,
    min_sample_time: float = 0.01,
    rng: np.random.Generator | None = None,
    clock: Callable[[], float] = time.perf_counter,
    layouts: int = 1,
    prepare_again: Callable[[Prepared], Prepared] | None = None,
    baseline: str | None = None,
) -> Interleaved:
    """Time several implementations of one kernel and size in interleaved blocks (see the
    module docstring). An implementation whose calls raise is recorded in ``errors`` and
    leaves; the others go on. ``rng`` draws each block's order (default_rng(0) if None).
    ``baseline`` names the implementation the others will be compared with: one calibrated
    within one doubling of its calls per sample takes its number (``_like_the_baseline``).

    ``layouts`` > 1 splits the blocks into that many runs of consecutive blocks, and before
    each run but the first prepares every implementation again (``prepare_again``, given its
    current preparation, which stays alive meanwhile so that the new arrays lie elsewhere in
    memory), in a random order, and warms it up with one call (its pages' first touch, state
    allocated lazily: the process's own warm-up is done); the calls per sample stay as
    calibrated. Where each implementation's arrays lie then varies within the run, as it does
    between runs, and the layouts, not the blocks, are the units its ratio's interval counts
    (``nnconform.checks.perf.ratios.compare``). The new preparation takes the old one's place
    in ``prepared`` (a list; a tuple is copied, and the caller's keeps the first ones), so that
    the old is released, and one that fails leaves None there: only one implementation is ever
    held twice."""
    warmup, repeats, min_sample_time = _settings(warmup, repeats, min_sample_time)
    layouts = _positive_int("layouts", layouts, 1)
    if layouts > repeats:
        raise ValueError(f"layouts must be at most repeats ({repeats}), got {layouts}")
    if layouts > 1 and prepare_again is None:
        raise ValueError("layouts > 1 needs prepare_again, to prepare the implementations anew")
    names = [p.implementation for p in prepared]
    if len(set(names)) != len(names):
        raise ValueError(f"implementations must be distinct, got {names}")
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline must be one of the implementations {names}, got {baseline!r}")
    prepared = prepared if isinstance(prepared, list) else list(prepared)  # replaced in place
    rng = np.random.default_rng(0) if rng is None else rng
    outcome = Interleaved()
    position = {name: i for i, name in enumerate(names)}
    samplers, numbers = {}, {}
    samples: dict[str, list[float]] = {name: [] for name in names}

    def leave(name: str, error: BaseException) -> None:
        outcome.errors[name] = error
        samplers.pop(name, None)
        samples.pop(name, None)
        prepared[position[name]] = None

    def in_random_order() -> list[str]:
        """The implementations still measured, in an order drawn anew."""
        return [names[i] for i in rng.permutation(len(names)) if names[i] in samplers]

    for p in prepared:
        try:
            samplers[p.implementation] = _sampler(p, clock)
            numbers[p.implementation] = _warm_and_calibrate(
                p, samplers[p.implementation], warmup, min_sample_time
            )
        except Exception as error:  # a target's bug is a result, not a crash of the run
            leave(p.implementation, error)
    numbers = _like_the_baseline(numbers, baseline)
    for layout, blocks in enumerate(np.array_split(np.arange(repeats), layouts)):
        if layout:
            for name in in_random_order():
                try:
                    fresh = prepare_again(prepared[position[name]])
                    samplers[name] = _sampler(fresh, clock)
                    prepared[position[name]] = fresh  # the earlier one is released only now
                    _warm(fresh, min(warmup, 1))  # first touch, lazy state: the rest is warm
                except Exception as error:
                    leave(name, error)
        for _ in blocks:
            order = in_random_order()
            outcome.orders.append(order)
            outcome.layouts.append(layout)
            for name in order:
                try:
                    samples[name].append(samplers[name](numbers[name]) / numbers[name])
                except Exception as error:
                    leave(name, error)
    for name, values in samples.items():
        outcome.measurements[name] = Measurement.from_samples(values, numbers[name])
    return outcome
