"""The tolerance table: how far a target's output may lie from the oracle's, per dtype.

A target's output o passes against the oracle's value r when, element-wise,

    |o − r| ≤ atol + rtol·|r|        (numpy.isclose's rule)

The oracle computes in float64 from the same inputs the target saw (already rounded to the
target's dtype), so the table bounds only the target's own rounding. Every verdict records the
worst error it observed, so that these can be tightened from evidence.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "EXACT",
    "FINITE_DIFFERENCES",
    "MINIMISERS",
    "TOLERANCES",
    "Tolerance",
    "conditioned",
    "tolerance",
]


class Tolerance(NamedTuple):
    rtol: float
    atol: float

    def as_json(self) -> dict[str, float]:
        return {"rtol": self.rtol, "atol": self.atol}


TOLERANCES: dict[str, Tolerance] = {
    # float64: unit roundoff 1.1e-16. A few hundred roundings, or a reduction re-associated
    # over ~1e4 terms (pairwise vs. sequential summation), stay well below 1e-10; the
    # smallest difference between documented variants that the checks rely on (RMSProp's
    # ε inside or outside the root at r ≈ 1e-6) is about 1e-4, so 1e-10 separates them.
    "float64": Tolerance(rtol=1e-10, atol=1e-12),
    # float32: unit roundoff 6.0e-8. Transcendental functions in vendor libraries are
    # accurate to a few ulps (2-4 ulps for SLEEF/MKL exp, log, tanh, erf); reductions over up
    # to 1e3 terms add about sqrt(1e3)·u ≈ 2e-6 relative. atol covers results that cancel
    # to near zero (softmax's tail, BatchNorm's Σ dx).
    "float32": Tolerance(rtol=2e-5, atol=1e-6),
    # float16: unit roundoff 4.9e-4, and accumulation is often in float32; a few roundings.
    "float16": Tolerance(rtol=5e-3, atol=1e-3),
}

# Central finite differences in float64 with h = 1e-5: truncation O(h²) ≈ 1e-10 times the
# third derivative, rounding O(u/h) ≈ 1e-11 times |f|: the estimate is good to about 1e-7
# relative on the smooth, O(1)-scaled inputs the strategies draw.
FINITE_DIFFERENCES = Tolerance(rtol=1e-6, atol=1e-8)

# Minimisers found by iterative solvers (Newton, nonlinear CG, BFGS, ADMM) against scipy's, on
# the smooth strongly convex O(1)-scaled problems of checks/test_solvers.py (μ ≥ 0.5). A line
# search stops at f's rounding floor, ‖∇f‖ ≈ √(u·|f|·L) ≈ 1e-8, so ‖x − x*‖ ≤ ‖∇f‖/μ ≈ 2e-8
# (nonlinear CG measured at up to 3.6e-8 over six ci seeds); 500 linearised ADMM steps on the
# lasso reach ~1e-8.
# 1e-6 leaves a margin of 25 and still rejects a solver that stops early or at a wrong point.
MINIMISERS = Tolerance(rtol=1e-6, atol=1e-6)


# Integers and booleans (indices, counts, masks) have no rounding: they must be equal.
EXACT = Tolerance(rtol=0.0, atol=0.0)


def tolerance(dtype: np.dtype | str) -> Tolerance:
    if np.issubdtype(np.dtype(dtype), np.integer) or np.dtype(dtype) == np.bool_:
        return EXACT
    name = np.dtype(dtype).name
    try:
        return TOLERANCES[name]
    except KeyError:
        known = ", ".join(TOLERANCES)
        raise ValueError(f"no tolerance for dtype {name!r}; known dtypes: {known}") from None


def conditioned(tol: Tolerance, kappa: float) -> Tolerance:
    """``tol`` for a function of condition number κ = |x f'(x) / f(x)|, which turns a relative
    rounding error δ of its argument into κδ in its value (Higham, "Accuracy and Stability of
    Numerical Algorithms", §1.6). exp(a) has κ = |a|: at a = 88 (float32's overflow threshold)
    the rounding of a alone is worth 88 ulps of the result, however exp itself is computed."""
    return Tolerance(rtol=tol.rtol * max(1.0, float(kappa)), atol=tol.atol)
