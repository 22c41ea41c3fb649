"""The loss landscape near a critical point: Hessians, and what their eigenvalues say.

At a critical point θ' (∇L(θ') = 0) the Taylor series is L(θ) ≈ L(θ') + ½(θ − θ')ᵀH(θ − θ'),
so the eigenvalues of the Hessian H decide: all positive, a local minimum; all negative, a local
maximum; mixed signs, a saddle point, which an eigenvector u of a negative eigenvalue λ escapes,
L(θ' + u) ≈ L(θ') + ½λ‖u‖² < L(θ').

Functions that need a Hessian take it as a matrix H: pass an exact one where it is known (a
closed form, or automatic differentiation), or build one from a gradient by ``hessian``.

Sources (catalogue section 8; seeds by file number):
    002  local minima and saddle points, the Hessian's eigenvalues, "minimum ratio", escaping a
         saddle along an eigenvector (Hung-yi Lee's lectures, Datawhale notes).
    Pearlmutter, "Fast Exact Multiplication by the Hessian", Neural Computation 1994 (the
    finite-difference Hessian-vector product and the R-operator).
    Dauphin et al., "Identifying and attacking the saddle point problem in high-dimensional
    non-convex optimization", NIPS 2014 (saddles dominate in high dimension).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnconform.reference._validate import as_array, nonnegative, positive, same_shape

__all__ = [
    "CRITICAL_POINT_KINDS",
    "critical_point",
    "escape_direction",
    "hessian",
    "hessian_vector_product",
    "minimum_ratio",
]

GradFn = Callable[[np.ndarray], Any]
CRITICAL_POINT_KINDS = ("local_minimum", "local_maximum", "saddle", "degenerate")


def _gradient(grad_fn: GradFn, theta: np.ndarray) -> np.ndarray:
    g = as_array("grad_fn(theta)", grad_fn(theta))
    same_shape(theta=theta, gradient=g)
    return g


# --- Hessian ----------------------------------------------------------------------------


def hessian_vector_product(grad_fn: GradFn, theta, v, *, h: float = 1e-5) -> np.ndarray:
    """Hv ≈ (∇L(θ + hv) − ∇L(θ − hv)) / 2h   (Pearlmutter 1994; seed 002).

    A central difference of the gradient along v: it needs two gradients, never H itself, so
    it scales to networks whose H would not fit in memory. The error is O(h²‖v‖³) from the
    third derivatives plus O(ε_mach/h) from rounding; for a quadratic L it is exact up to
    rounding. ``grad_fn(theta)`` returns ∇L at a 1-D ``theta``. Where H is known exactly,
    ``H @ v`` is the exact product (Pearlmutter's R-operator computes it by automatic
    differentiation, as ``jax.jvp`` of ``jax.grad`` does).
    """
    theta = as_array("theta", theta, ndim=1)
    v = as_array("v", v)
    same_shape(theta=theta, v=v)
    h = positive("h", h)
    return (_gradient(grad_fn, theta + h * v) - _gradient(grad_fn, theta - h * v)) / (2.0 * h)


def hessian(grad_fn: GradFn, theta, *, h: float = 1e-5) -> np.ndarray:
    """H_ij = ∂²L/∂θ_i∂θ_j, column j by central differences of the gradient along e_j,

        H[:, j] ≈ (∇L(θ + h e_j) − ∇L(θ − h e_j)) / 2h,

    then symmetrised, H ← (H + Hᵀ)/2, since a true Hessian is symmetric (Schwarz) and
    ``numpy.linalg.eigh`` reads only one triangle   (seed 002). ``theta`` is 1-D, of length n;
    the cost is 2n gradients. Where H is known exactly, use it instead.
    """
    theta = as_array("theta", theta, ndim=1)
    columns = [hessian_vector_product(grad_fn, theta, e, h=h) for e in np.eye(theta.size)]
    H = np.array(columns).T.reshape(theta.size, theta.size)  # (n, n), column j = H e_j
    return (H + H.T) / 2.0


# --- critical points --------------------------------------------------------------------


def _symmetric(H) -> np.ndarray:
    """H as a square symmetric float64 matrix, or an error: eigvalsh would silently read only
    its lower triangle."""
    H = as_array("H", H, ndim=2)
    if H.shape[0] != H.shape[1] or H.size == 0:
        raise ValueError(f"H must be a non-empty square matrix, got shape {H.shape}")
    asymmetry = float(np.max(np.abs(H - H.T)))
    if asymmetry > 1e-8 * max(1.0, float(np.max(np.abs(H)))):
        raise ValueError(
            f"H must be symmetric, got max |H − Hᵀ| = {asymmetry:.3g} "
            "(symmetrise a finite-difference Hessian: (H + Hᵀ)/2)"
        )
    return H


def critical_point(H, *, tol: float = 1e-8) -> str:
    """Classify a critical point by the eigenvalues λ of its Hessian H   (seed 002):

        some λ > tol and some λ < −tol     → "saddle" (L rises along one eigenvector, falls
                                              along another)
        otherwise, some |λ| ≤ tol           → "degenerate" (the second-order test cannot tell)
        all λ > tol                         → "local_minimum"
        all λ < −tol                        → "local_maximum"

    ``tol`` is absolute: eigenvalues within it of 0 count as zero. The caller vouches that
    ∇L = 0 at the point; H says nothing about that. Pass np.diag(λ) to classify eigenvalues.
    """
    lam = np.linalg.eigvalsh(_symmetric(H))
    tol = nonnegative("tol", tol)
    if np.any(lam > tol) and np.any(lam < -tol):
        return "saddle"
    if np.any(np.abs(lam) <= tol):
        return "degenerate"
    return "local_minimum" if lam[0] > 0 else "local_maximum"


def minimum_ratio(H, *, tol: float = 1e-8) -> float:
    """(number of positive eigenvalues of H) / (number of eigenvalues)   (seed 002).

    1 at a local minimum; in practice critical points of a network's loss mostly have a ratio
    below 1, i.e. are saddles. An eigenvalue counts as positive when it exceeds ``tol``, as in
    ``critical_point``.
    """
    lam = np.linalg.eigvalsh(_symmetric(H))
    tol = nonnegative("tol", tol)
    return float(np.count_nonzero(lam > tol)) / lam.size


def escape_direction(H, *, tol: float = 1e-8) -> tuple[float, np.ndarray]:
    """(λ, u): the most negative eigenvalue of H and a unit eigenvector of it   (seed 002).

    At a saddle θ', moving along u lowers the loss, to second order

        L(θ' + u) ≈ L(θ') + ½ uᵀHu = L(θ') + ½λ‖u‖²,

    and the most negative λ lowers it fastest. −u escapes as well as u; the sign returned makes
    the largest-magnitude component of u positive, so that the answer is deterministic.
    Raises ``ValueError`` when no eigenvalue is below −tol: there is no direction of descent
    of second order (a local minimum, or a degenerate point).
    """
    lam, U = np.linalg.eigh(_symmetric(H))  # ascending eigenvalues
    tol = nonnegative("tol", tol)
    if lam[0] >= -tol:
        raise ValueError(
            f"H has no negative eigenvalue (the smallest is {lam[0]:.6g}, tol {tol:g}): "
            "the point is not a saddle or a maximum, so there is no direction to escape along"
        )
    u = U[:, 0]
    return float(lam[0]), u * np.sign(u[np.argmax(np.abs(u))])
