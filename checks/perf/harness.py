"""Timing one prepared kernel: warm-up, calibration, repeated samples, robust statistics.

    1. sync, then ``warmup`` calls: first-touch page faults, lazily allocated optimiser state,
       torch's kernel selection and CUDA's context all happen here, not in a sample.
    2. calibrate ``number``: double it until one sample of ``number`` calls lasts at least
       ``min_sample_time``, as ``timeit.Timer.autorange`` does, so that the clock's resolution
       and the loop's own cost are small against a sample.
    3. ``repeats`` samples of ``number`` calls; each sample ends with ``sync()`` (CUDA calls
       return before their kernels finish) and gives seconds per call = elapsed / number.

The median and the quartiles (numpy's linear percentile) summarise the samples: the median
resists the occasional slow sample an interrupt or another process causes, where the mean
would not; a spread (IQR) above 10 % of the median flags the measurement as noisy.

Sources: ``timeit`` (Python standard library) ``Timer.autorange``; pyperf's advice on
warm-up and on reporting medians; ``torch.utils.benchmark.Timer.blocked_autorange``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nnconform.checks.perf.kernels import Prepared

__all__ = ["NOISY", "Measurement", "measure"]

NOISY = 0.10  # rel_iqr above this: the machine was busy, or the kernel's time varies


@dataclass
class Measurement:
    samples: list[float]  # seconds per call, one per repeat
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


def measure(
    prepared: Prepared,
    *,
    warmup: int = 3,
    repeats: int = 15,
    min_sample_time: float = 0.01,
    clock: Callable[[], float] = time.perf_counter,
) -> Measurement:
    """Time ``prepared.run`` (see the module docstring); exceptions of the kernel propagate.
    ``clock`` is for tests (a fake clock that the kernel advances)."""
    warmup = _positive_int("warmup", warmup, 0)
    repeats = _positive_int("repeats", repeats, 1)
    if not (isinstance(min_sample_time, int | float) and min_sample_time >= 0):
        raise ValueError(f"min_sample_time must be seconds >= 0, got {min_sample_time!r}")
    run, sync = prepared.run, prepared.sync

    def sample(number: int) -> float:
        """Seconds for ``number`` calls, the device's queue drained at both ends."""
        start = clock()
        for _ in range(number):
            run()
        sync()
        return clock() - start

    sync()
    for _ in range(warmup):
        run()
    sync()
    number = 1
    while sample(number) < min_sample_time:
        number *= 2
    return Measurement.from_samples([sample(number) / number for _ in range(repeats)], number)
