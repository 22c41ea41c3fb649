"""How much slower or faster one implementation is than the baseline, with a confidence interval,
from the paired samples of interleaved blocks (``nnconform.checks.perf.harness``).

Block b gives one sample of each implementation, taken within a second or so of each other,
so their quotient cancels whatever the machine did to both in that block. On the log scale the
per-block differences d_b = log t_b − log base_b are what is compared:

    ratio      exp(HL), HL = the Hodges–Lehmann estimate: the median of the Walsh averages
               (d_i + d_j)/2, i <= j (the n(n+1)/2 of them)
    ratio_ci   [exp(W_(k)), exp(W_(M+1−k))]: the exact distribution-free interval that inverts
               Wilcoxon's signed-rank test (W sorted ascending, M = n(n+1)/2, k from the exact
               null distribution of the signed-rank statistic, at 95 %)
    verdict    "slower" when the interval lies above 1, "faster" when below, "same" otherwise

Why Hodges–Lehmann and not a bootstrap. The interval is exact for any continuous distribution
of d symmetric about its centre, which an interleaved comparison provides where it matters:
for two identical implementations the random order within a block makes the pair exchangeable,
so d is symmetric about 0 and the false-alarm rate is exactly at most 5 % (2.5 % each way).
Identical means down to where their arrays lie, unless the run is timed in several layouts
(below).
A percentile bootstrap of a median on 15 blocks has no such guarantee: the resampled median
takes few distinct values and its intervals undercover at small n. HL is also robust (a block
hit by an interrupt moves it little: the estimator's breakdown point is 29 %) and nearly as
efficient as the mean for normal noise (95 %). The point estimate is HL rather than the
quotient of the two medians, so that it always lies inside its own interval; on interleaved
samples the two agree to within the noise.

A 95 % interval needs at least 6 blocks (with 5 the smallest attainable two-sided level is
2/32 = 6.25 %): with fewer, the interval and the verdict are None.

Layouts. Where each implementation's arrays lie is drawn once per preparation, and two
copies of one implementation can differ by a few per cent for a whole run for that alone
(pages, cache sets; Mytkowicz et al., ASPLOS 2009). The blocks of one run share it, so their
interval does not cover it. Timed in several layouts (``harness.measure_interleaved``,
``layouts``: every implementation prepared anew for each), the d of a layout is the median of
its blocks', and the layouts are the units: independent, and for two identical
implementations exchangeable again, so the 5 % holds with placement included. It needs 6
layouts or more.

Sources: J. L. Hodges and E. L. Lehmann, "Estimates of location based on rank tests", Ann.
Math. Statist. 34 (1963); M. Hollander, D. A. Wolfe and E. Chicken, Nonparametric Statistical
Methods, 3rd ed., Wiley 2014, section 3.2 (the estimator) and 3.3 (the interval); L. Bulej et
al., "Duet Benchmarking: Improving Measurement Accuracy in the Cloud", ICPE 2020 (pairing).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CONFIDENCE", "MIN_BLOCKS", "Ratio", "compare", "critical_rank", "walsh_averages"]

CONFIDENCE = 0.95
MIN_BLOCKS = 6


@dataclass(frozen=True)
class Ratio:
    ratio: float  # exp(HL): above 1 is slower than the baseline
    low: float | None  # the interval, None with fewer than MIN_BLOCKS blocks
    high: float | None
    verdict: str | None  # "faster", "slower", "same"; None without an interval
    blocks: int  # the units the interval counts: blocks, or layouts when given
    confidence: float  # the interval's attained level (>= the one asked for)


@functools.cache
def _signed_rank_counts(n: int) -> tuple[int, ...]:
    """counts[t] = the number of subsets of {1, ..., n} whose sum is t: under the null
    hypothesis each of the 2**n sign patterns is equally likely, so P(T+ = t) = counts[t] / 2**n."""
    counts = [1]
    for rank in range(1, n + 1):
        grown = counts + [0] * rank
        for t, c in enumerate(counts):
            grown[t + rank] += c
        counts = grown
    return tuple(counts)


def critical_rank(n: int, confidence: float = CONFIDENCE) -> tuple[int, float] | None:
    """(k, attained confidence): the interval is [W_(k), W_(M+1−k)] in the 1-based order of
    the M = n(n+1)/2 Walsh averages. k is the largest with P(T+ <= k − 1) <= α/2, so that the
    interval's level 1 − 2 P(T+ <= k − 1) is at least ``confidence``; None when even the widest
    interval, [W_(1), W_(M)], falls short of it."""
    alpha = 1.0 - confidence
    counts = _signed_rank_counts(n)
    total = 2**n
    cumulative, k = 0, 0
    for t, c in enumerate(counts):  # P(T+ <= t)
        if (cumulative + c) / total > alpha / 2:
            break
        cumulative += c
        k = t + 1
    if k == 0:
        return None
    return k, 1.0 - 2.0 * cumulative / total


def walsh_averages(d: Sequence[float]) -> np.ndarray:
    """(d_i + d_j)/2 for every i <= j, sorted."""
    d = np.asarray(d, dtype=np.float64)
    i, j = np.triu_indices(len(d))
    return np.sort((d[i] + d[j]) / 2.0)


def compare(
    times: Sequence[float],
    baseline: Sequence[float],
    confidence: float = CONFIDENCE,
    layouts: Sequence[int] | None = None,
):
    """The Ratio of paired samples: times[b] and baseline[b] come from block b. With
    ``layouts`` (block b was timed in layout layouts[b], ``harness.measure_interleaved``),
    each layout's median log ratio is one unit of the interval: blocks of one layout share
    where the arrays lie, so they are not independent of each other, and layouts are. With
    one layout the blocks stay the units (an interval that does not cover placement)."""
    t = np.asarray(times, dtype=np.float64)
    base = np.asarray(baseline, dtype=np.float64)
    if t.shape != base.shape or t.ndim != 1 or len(t) == 0:
        raise ValueError(
            f"paired samples must be two equal-length sequences, got {t.shape} and {base.shape}"
        )
    if (
        not (np.all(np.isfinite(t)) and np.all(np.isfinite(base)))
        or np.any(t <= 0)
        or np.any(base <= 0)
    ):
        raise ValueError("paired samples must be positive finite times")
    d = np.log(t) - np.log(base)
    if layouts is not None and len(layouts) != len(d):
        raise ValueError(f"layouts must name one layout per block, got {len(layouts)} "
                         f"for {len(d)} blocks")  # fmt: skip
    if layouts is not None and len(set(layouts)) > 1:
        groups = np.asarray(layouts)
        d = np.array([np.median(d[groups == g]) for g in np.unique(groups)])
    walsh = walsh_averages(d)
    ratio = math.exp(float(np.median(walsh)))
    rank = critical_rank(len(d), confidence)
    if rank is None:
        return Ratio(ratio, None, None, None, len(d), float("nan"))
    k, attained = rank
    low, high = math.exp(walsh[k - 1]), math.exp(walsh[len(walsh) - k])
    verdict = "slower" if low > 1.0 else "faster" if high < 1.0 else "same"
    return Ratio(ratio, low, high, verdict, len(d), attained)
