"""Bounds for the statistical checks (dropout's keep fraction, the ensemble law by Monte Carlo,
initialisation variances, bootstrap and bagging out-of-bag shares), and the check that
anything random is drawn afresh on every call, from the generator it is given.

A statistical check may fail a correct target by bad luck; the rule of the suite is that this
happens with probability at most 1e-6 per check, over every Hypothesis example it runs. So a
statistical check runs ``EXAMPLES`` examples (whatever the profile) and makes at most
``ASSERTIONS`` statistical comparisons per example, each at false-alarm rate ``ALPHA``:

    EXAMPLES · ASSERTIONS · ALPHA = 3 · 3 · 1e-7 = 9e-7 ≤ 1e-6       (a union bound)

Each bound below holds exactly (or is conservative) for a correct target: exact binomial and
chi-square quantiles, Hoeffding's and McDiarmid's inequalities, and the Dvoretzky–Kiefer–
Wolfowitz–Massart inequality for a Kolmogorov–Smirnov test of a whole distribution (it tells
a truncated normal from a normal, which moments and tail shares of a few 1e4 draws cannot).
No normal approximation is trusted out in the tails at 5 sigma. The bounds become tolerances
for ``assert_close``, so the verdict records the observed deviation next to the allowed one.

Independence across calls (``assert_drawn_afresh``): a function that draws (a dropout mask, a
resample, a shuffle, a split) is called twice with one generator, once with a fresh generator
of the same seed and once with a generator of another seed. The replay must equal the first
draw exactly: a target that draws from a global or unseeded state instead of ``rng`` cannot be
replayed from its seed. The other two must agree with the first only as often as independent
draws do by chance, a statistical comparison each; a draw cached and reused on the next call,
or made from a fixed seed, agrees everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from hypothesis import settings
from scipy import stats

from nnconform.checks.assertions import Call, assert_close, fail
from nnconform.checks.tolerances import Tolerance

__all__ = [
    "ALPHA",
    "ASSERTIONS",
    "EXAMPLES",
    "Agreement",
    "assert_at_chance",
    "assert_drawn_afresh",
    "binomial_fraction_tolerance",
    "bounded_mean_tolerance",
    "chi2_mean_tolerance",
    "hypergeometric_overlap",
    "ks_midpoints",
    "ks_tolerance",
    "mask_agreement",
    "mcdiarmid_deviation",
    "multiset_overlap",
    "other_seed",
    "statistical",
]

ALPHA = 1e-7  # false-alarm rate of one statistical comparison
ASSERTIONS = 3  # at most this many statistical comparisons per example
EXAMPLES = 3  # Hypothesis examples of a statistical check, in every profile
if EXAMPLES * ASSERTIONS * ALPHA > 1e-6:  # the suite's rule, per check
    raise ValueError("a statistical check would exceed a false-alarm rate of 1e-6")

# The decorator of a statistical check: a fixed number of examples, so that the false-alarm
# rate above holds under every profile (``thorough`` would otherwise run 300 of them); no
# deadline, as in the profiles (the per-check time limit catches a target that hangs).
statistical = settings(max_examples=EXAMPLES, deadline=None)


def binomial_fraction_tolerance(n: int, p: float, alpha: float = ALPHA) -> Tolerance:
    """The fraction K/n of K ~ Binomial(n, p) lies within ``atol`` of p with probability at
    least 1 − alpha: the exact binomial quantiles at alpha/2 on each side, widened to the
    larger side (the comparison is symmetric)."""
    low = stats.binom.ppf(alpha / 2, n, p) - 1  # P(K ≤ low) ≤ alpha/2
    high = stats.binom.isf(alpha / 2, n, p) + 1  # P(K ≥ high) ≤ alpha/2
    return Tolerance(rtol=0.0, atol=max(p - low / n, high / n - p))


def chi2_mean_tolerance(dof: int, alpha: float = ALPHA) -> Tolerance:
    """(1/dof) Σ z_i², z_i iid N(0, 1), lies within ``rtol`` of 1 with probability at least
    1 − alpha (exact chi-square quantiles at alpha/2, widened to the larger side)."""
    low = stats.chi2.ppf(alpha / 2, dof) / dof
    high = stats.chi2.isf(alpha / 2, dof) / dof
    return Tolerance(rtol=max(1 - low, high - 1), atol=0.0)


def bounded_mean_tolerance(n: int, width: float, alpha: float = ALPHA) -> Tolerance:
    """Hoeffding: the mean of n independent variables, each in an interval of length
    ``width``, lies within ``atol`` of its expectation with probability at least 1 − alpha:
    P(|mean − E| ≥ t) ≤ 2 exp(−2 n t² / width²)."""
    return Tolerance(rtol=0.0, atol=width * math.sqrt(math.log(2 / alpha) / (2 * n)))


def ks_midpoints(n: int) -> np.ndarray:
    """(i − ½)/n, i = 1…n: the midpoints of the empirical CDF's jumps at the sorted draws."""
    return (np.arange(1, n + 1) - 0.5) / n


def ks_tolerance(n: int, alpha: float = ALPHA) -> Tolerance:
    """The one-sample Kolmogorov–Smirnov test as a tolerance: for n sorted draws x_(i) of a
    continuous F, D_n = max_i max(i/n − F(x_(i)), F(x_(i)) − (i − 1)/n) = max_i |F(x_(i)) −
    (i − ½)/n| + 1/(2n), so ``max |F(x_(i)) − ks_midpoints(n)| ≤ atol`` is D_n ≤ d. d is
    from the Dvoretzky–Kiefer–Wolfowitz inequality with Massart's constant (Ann. Probab.
    1990), P(D_n > d) ≤ 2·exp(−2nd²) for every n and continuous F: false alarm ≤ ``alpha``.
    At n ≥ 1e4 it is within 0.1% of the exact quantile (``scipy.stats.kstwo.isf``, what
    ``scipy.stats.kstest`` uses), which takes seconds to compute at n = 1.5e5."""
    return Tolerance(rtol=0.0, atol=math.sqrt(math.log(2.0 / alpha) / (2.0 * n)) - 0.5 / n)


def mcdiarmid_deviation(draws: int, alpha: float = ALPHA, change: float = 1.0) -> float:
    """McDiarmid: a function of ``draws`` independent draws that changes by at most ``change``
    when one draw changes lies within the returned t of its expectation with probability at
    least 1 − alpha: P(|f − E f| ≥ t) ≤ 2 exp(−2 t² / (draws · change²))."""
    return change * math.sqrt(draws * math.log(2 / alpha) / 2)


# --- independence across calls ------------------------------------------------------------


class Agreement(NamedTuple):
    """How much two draws agree, what independent draws give on average, and the tolerance
    that independent draws stay within but for probability ``ALPHA`` (or the share of it the
    caller gave)."""

    statistic: float
    expected: float
    tol: Tolerance
    what: str


def mask_agreement(a: np.ndarray, b: np.ndarray, p: float, alpha: float = ALPHA) -> Agreement:
    """The share of units on which two 0/1 masks agree: for independent Bernoulli(p) masks of
    n units, K agreements are Binomial(n, q) with q = p² + (1 − p)² (exact binomial bound)."""
    q = p * p + (1 - p) * (1 - p)
    return Agreement(
        float(np.mean(a == b)),
        q,
        binomial_fraction_tolerance(a.size, q, alpha),
        f"the share of units two masks agree on (chance: p² + (1 − p)² = {q:.4g})",
    )


def _expected_multiset_overlap(n: int) -> float:
    """E Σ_i min(c_i, c'_i) for the counts c, c' of two independent resamples of n from n:
    c_i, c'_i are independent Binomial(n, 1/n), and E min = Σ_{j ≥ 1} P(c_i ≥ j)²."""
    j = np.arange(1, n + 1)
    return float(n * np.sum(stats.binom.sf(j - 1, n, 1 / n) ** 2))


def multiset_overlap(a: np.ndarray, b: np.ndarray, n: int, alpha: float = ALPHA) -> Agreement:
    """The size of the multiset intersection Σ_i min(c_i, c'_i) of paired resamples, rows of
    ``a`` against rows of ``b`` (each row n indices drawn with replacement from range(n); the
    order of a row does not matter). For independent rows it is a function of 2·rows·n
    independent draws that one draw changes by at most 1 (a draw moved from example u to v
    lowers min at u by ≤ 1 and raises it at v by ≤ 1), so McDiarmid bounds it; its expectation
    is exact. About 0.48·n per pair of rows by chance; a reused resample gives n."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    overlap = sum(
        int(np.minimum(np.bincount(r, minlength=n), np.bincount(s, minlength=n)).sum())
        for r, s in zip(a, b, strict=True)
    )
    return Agreement(
        float(overlap),
        a.shape[0] * _expected_multiset_overlap(n),
        Tolerance(rtol=0.0, atol=mcdiarmid_deviation(2 * a.size, alpha)),
        f"the examples two resamples of {n} share, over {a.shape[0]} pair(s)",
    )


def hypergeometric_overlap(
    groups: Sequence[tuple[int, int, int]], observed: int, alpha: float = ALPHA
) -> Agreement:
    """The overlap of two subsets drawn independently and uniformly within each group:
    ``groups`` lists (population N_g, size a_g, size b_g), the overlap in a group is
    Hypergeometric(N_g, a_g, b_g) and the groups are independent, so the exact distribution of
    the total is the convolution of their distributions. Two-sided exact quantiles at alpha/2,
    widened to the larger side (as ``binomial_fraction_tolerance``)."""
    pmf = np.ones(1)
    for population, a, b in groups:
        pmf = np.convolve(pmf, stats.hypergeom.pmf(np.arange(min(a, b) + 1), population, a, b))
    cdf = np.cumsum(pmf)
    values = np.arange(pmf.size)
    low = int(np.argmax(cdf >= alpha / 2))  # P(X < low) < alpha/2
    high = int(np.argmax(1.0 - cdf <= alpha / 2))  # P(X > high) ≤ alpha/2
    expected = float(np.sum(values * pmf))
    return Agreement(
        float(observed),
        expected,
        Tolerance(rtol=0.0, atol=max(expected - low, high - expected)),
        "the overlap of two random subsets",
    )


def other_seed(seed: int) -> int:
    """A seed other than ``seed``, for a second generator (seeds run over 0 … 2³² − 1)."""
    return (seed + 1) % 2**32


def assert_at_chance(
    agreements: Agreement | Sequence[Agreement],
    *,
    what: str,
    call: Call,
    identical: bool,
    cause: str,
) -> None:
    """Assert that two draws agree only as much as independent draws do by chance: each of
    ``agreements`` within its tolerance. Where they do not and the draws are ``identical``,
    the message names the ``cause`` (a reused draw, an ignored generator)."""
    agreements = [agreements] if isinstance(agreements, Agreement) else list(agreements)
    for a in agreements:
        beyond = abs(a.statistic - a.expected) > a.tol.atol + a.tol.rtol * abs(a.expected)
        if beyond and identical:
            fail(f"{what}: the two draws are identical: {cause}", call)
        assert_close(
            np.float64(a.statistic),
            a.expected,
            what=f"{what}: {a.what}, against its chance level",
            call=call,
            tol=a.tol,
        )


def assert_drawn_afresh(
    draw: Callable[[np.random.Generator], tuple[np.ndarray, Call]],
    seed: int,
    agreement: Callable[[np.ndarray, np.ndarray], Agreement | Sequence[Agreement]],
    *,
    what: str,
) -> tuple[np.ndarray, Call]:
    """Call ``draw`` (the target's function on a generator; it returns its draw as one array
    and the ``Call``) four times and assert:

    1. a fresh generator of the same seed replays the first draw exactly (exact: no false
       alarm): else the target draws from a state other than ``rng``;
    2. a second call with the same generator agrees with the first at chance level;
    3. a generator of another seed gives a draw that agrees with the first at chance level.

    Two statistical comparisons (``agreement``, each at ``ALPHA``). Returns the first draw and
    its call, for a comparison inside one call (``repeated_holdout``'s splits, bagging's rows).
    """
    rng = np.random.default_rng(seed)
    first, c = draw(rng)
    second, c_second = draw(rng)
    replay, c_replay = draw(np.random.default_rng(seed))
    if first.shape != replay.shape or not np.array_equal(first, replay):
        fail(
            f"{what}: two generators of the same seed {seed} gave different draws: the target "
            "does not draw from the generator it is given (a global or unseeded random state?), "
            "so a run cannot be replayed from its seed",
            c_replay,
        )
    assert_at_chance(
        agreement(first, second),
        what=f"{what}, two successive calls with one generator",
        call=c_second,
        identical=np.array_equal(first, second),
        cause="the second call returned the first call's draw, reused (cached, or made from a "
        "copy of the generator that leaves it where it was, or from a fixed seed) instead of "
        "drawn afresh",
    )
    seed_b = other_seed(seed)
    other, c_other = draw(np.random.default_rng(seed_b))
    assert_at_chance(
        agreement(first, other),
        what=f"{what}, generators of seeds {seed} and {seed_b}",
        call=c_other,
        identical=np.array_equal(first, other),
        cause="generators of different seeds gave the same draw: the target ignores the "
        "generator it is given (a fixed seed?)",
    )
    return first, c
