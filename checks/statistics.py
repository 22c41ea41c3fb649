"""Bounds for the statistical checks (dropout's keep fraction, the ensemble law by Monte Carlo,
initialisation variances, bootstrap and bagging out-of-bag shares).

A statistical check may fail a correct target by bad luck; the rule of the suite is that this
happens with probability at most 1e-6 per check, over every Hypothesis example it runs. So a
statistical check runs ``EXAMPLES`` examples (whatever the profile) and makes at most
``ASSERTIONS`` statistical comparisons per example, each at false-alarm rate ``ALPHA``:

    EXAMPLES · ASSERTIONS · ALPHA = 3 · 3 · 1e-7 = 9e-7 ≤ 1e-6       (a union bound)

Each bound below holds exactly (or is conservative) for a correct target: exact binomial and
chi-square quantiles, Hoeffding's and McDiarmid's inequalities. No normal approximation is
trusted out in the tails at 5 sigma. The bounds become tolerances for ``assert_close``, so the
verdict records the observed deviation next to the allowed one.
"""

from __future__ import annotations

import math

from hypothesis import settings
from scipy import stats

from nnconform.checks.tolerances import Tolerance

__all__ = [
    "ALPHA",
    "ASSERTIONS",
    "EXAMPLES",
    "binomial_fraction_tolerance",
    "bounded_mean_tolerance",
    "chi2_mean_tolerance",
    "mcdiarmid_deviation",
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


def mcdiarmid_deviation(draws: int, alpha: float = ALPHA, change: float = 1.0) -> float:
    """McDiarmid: a function of ``draws`` independent draws that changes by at most ``change``
    when one draw changes lies within the returned t of its expectation with probability at
    least 1 − alpha: P(|f − E f| ≥ t) ≤ 2 exp(−2 t² / (draws · change²))."""
    return change * math.sqrt(draws * math.log(2 / alpha) / 2)
