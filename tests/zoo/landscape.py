"""Planted bugs in the loss-landscape functions."""

import numpy as np

from tests.zoo import planted


def _hvp_forward_difference(grad_fn, theta, v, *, h=1e-5):
    # one-sided (∇L(θ + hv) − ∇L(θ))/h: exact on a quadratic, O(h) wrong elsewhere
    theta, v = np.asarray(theta, dtype=np.float64), np.asarray(v, dtype=np.float64)
    return (np.asarray(grad_fn(theta + h * v)) - np.asarray(grad_fn(theta))) / h


def _critical_point_by_determinant(H, *, tol=1e-8):
    # the two-variable test (det > 0 and trace's sign) applied in any dimension
    H = np.asarray(H, dtype=np.float64)
    det = np.linalg.det(H)
    if abs(det) <= tol:
        return "degenerate"
    if det < 0:
        return "saddle"
    return "local_minimum" if np.trace(H) > 0 else "local_maximum"


def _minimum_ratio_counting_zero(H, *, tol=1e-8):
    lam = np.linalg.eigvalsh(np.asarray(H, dtype=np.float64))
    return float(np.count_nonzero(lam >= -tol)) / lam.size  # a zero eigenvalue counted positive


hvp_forward_difference = planted(
    "Hessian-vector product by a forward difference",
    hessian_vector_product=_hvp_forward_difference,
)
critical_point_by_determinant = planted(
    "critical points classified by det and trace", critical_point=_critical_point_by_determinant
)
minimum_ratio_counting_zero = planted(
    "minimum ratio counting zero eigenvalues as positive",
    minimum_ratio=_minimum_ratio_counting_zero,
)


def _critical_point_strict_zero(H, *, tol=1e-8):
    # an eigenvalue counts as zero only strictly inside tol: λ = tol exactly is "positive"
    # without being > tol, so a spectrum (tol, 1) reads as a minimum, not degenerate
    lam = np.linalg.eigvalsh(np.asarray(H, dtype=np.float64))
    if np.any(lam > tol) and np.any(lam < -tol):
        return "saddle"
    if np.any(np.abs(lam) < tol):
        return "degenerate"
    return "local_minimum" if lam[0] > 0 else "local_maximum"


def _minimum_ratio_default_tol(H, *, tol=1e-8):
    # an adapter that drops the caller's tol and counts with the library's default
    lam = np.linalg.eigvalsh(np.asarray(H, dtype=np.float64))
    return float(np.count_nonzero(lam > 1e-8)) / lam.size


critical_point_strict_zero = planted(
    "critical point: |λ| < tol, not ≤ tol, counts as zero",
    critical_point=_critical_point_strict_zero,
)
minimum_ratio_default_tol = planted(
    "minimum ratio ignoring the tol it is given", minimum_ratio=_minimum_ratio_default_tol
)


def _hessian_over_the_default_step(grad_fn, theta, *, h=1e-5):
    # the difference taken with the h given, divided by 2 × the default h: right only at h = 1e-5
    theta = np.asarray(theta, dtype=np.float64)
    columns = [grad_fn(theta + h * e) - grad_fn(theta - h * e) for e in np.eye(theta.size)]
    H = np.array(columns).T / (2 * 1e-5)
    return (H + H.T) / 2


hessian_over_the_default_step = planted(
    "Hessian dividing by the default step, not the h given", hessian=_hessian_over_the_default_step
)
