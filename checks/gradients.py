"""Gradient correctness: a target's backward against central finite differences in float64.

For y = f(x) and a backward returning Jᵀ·dy, along a random direction d:

    ⟨Jᵀdy, d⟩  ≈  ⟨dy, f(x + h d) − f(x − h d)⟩ / 2h        (h = 1e-5)

with error O(h²) + O(u/h) (the jax ``check_grads`` / ``torch.autograd.gradcheck`` method).

The estimate differentiates the target's own forward, so it is only as good as that forward:
one that computes in float32 inside (Keras on some backends) makes a correct gradient look
2% wrong. Given the oracle's forward, a target's forward that differs from it by more than
float64 rounding is named as the cause ("forward computed at lower precision"), and the
gradient is judged against the finite differences of the oracle's forward instead. A target
that declares no float64 is unsupported here (the method needs float64).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from nnconform.checks.assertions import Call, assert_close, fail, requires_float64
from nnconform.checks.tolerances import FINITE_DIFFERENCES, tolerance

__all__ = ["assert_backward_matches_finite_differences", "central_difference"]


def central_difference(
    f: Callable,
    args: Sequence,
    index: int,
    direction: np.ndarray,
    dy: np.ndarray,
    h: float = 1e-5,
    call: Call | None = None,
) -> float:
    """⟨dy, ∂f/∂args[index] · direction⟩ by central differences."""

    def at(step: float) -> np.ndarray:
        moved = list(args)
        moved[index] = np.asarray(args[index], dtype=np.float64) + step * direction
        y = np.asarray(f(*moved), dtype=np.float64)
        if y.shape != np.shape(dy):  # never let broadcasting turn a wrong shape into a number
            fail(f"the forward returned shape {y.shape}, but should have {np.shape(dy)}", call)
        return y

    return float(np.sum(dy * (at(h) - at(-h))) / (2 * h))


def _lower_precision(forward: Callable, oracle: Callable, args: Sequence) -> float | None:
    """The worst relative error of the target's forward against the oracle's at ``args`` when
    it exceeds the float64 tolerance (the target computes at a lower precision), else None."""
    y = np.asarray(forward(*args), dtype=np.float64)
    expected = np.asarray(oracle(*args), dtype=np.float64)
    if y.shape != expected.shape:
        return None  # the finite differences name a wrong shape
    tol = tolerance("float64")
    with np.errstate(invalid="ignore"):
        diff = np.abs(y - expected)
        if np.all(diff <= tol.atol + tol.rtol * np.abs(expected)):
            return None
        return float(np.nanmax(diff / np.maximum(np.abs(expected), tol.atol), initial=np.inf))


def assert_backward_matches_finite_differences(
    forward: Callable,
    args: Sequence,
    dy: np.ndarray,
    grads: Sequence[np.ndarray],
    wrt: Sequence[int],
    *,
    seed: int,
    what: str,
    call: Call | None = None,
    count: int = 2,
    oracle: Callable | None = None,
) -> None:
    """Each gradient in ``grads`` (for the inputs ``wrt``) against central differences of
    ``forward`` along ``count`` random directions.

    ``oracle``, the oracle's forward of the same arguments: where the target's forward is off
    it by more than float64 rounding at ``args``, the differences are taken of the oracle's
    forward, and the check fails naming the forward, with how well the gradient agrees."""
    if call is not None:
        requires_float64(call.target)
    lower = _lower_precision(forward, oracle, args) if oracle is not None else None
    differentiated = forward if lower is None else oracle
    rng = np.random.default_rng(seed)
    worst = 0.0
    for index, grad in zip(wrt, grads, strict=True):
        grad = np.asarray(grad, dtype=np.float64)
        for _ in range(count):
            d = rng.standard_normal(np.shape(args[index]))
            numeric = central_difference(differentiated, args, index, d, dy, call=call)
            analytic = float(np.sum(grad * d))
            # compare on the scale of the pairing, so that cancellation in ⟨g, d⟩ does not
            # demand more than the finite difference can give
            scale = max(abs(numeric), float(np.linalg.norm(grad) * np.linalg.norm(d)), 1.0)
            worst = max(worst, abs(analytic - numeric) / scale)
            against = "central differences" if lower is None else (
                "central differences of the oracle's forward (the target's forward is at "
                f"lower precision: off the oracle's by up to {lower:.3g} relative)"
            )  # fmt: skip
            assert_close(
                np.float64(analytic / scale),
                numeric / scale,
                what=f"{what}: ⟨gradient of input {index}, d⟩ against {against}",
                call=call,
                tol=FINITE_DIFFERENCES,
            )
    if lower is not None:
        fail(
            f"{what}: forward computed at lower precision; gradient agrees with the oracle to "
            f"{worst:.2g} relative (central differences of the oracle's forward, tolerance "
            f"{FINITE_DIFFERENCES.rtol:g}). The target's forward at float64 is off the oracle's "
            f"by up to {lower:.3g} relative, beyond float64 rounding (rtol "
            f"{tolerance('float64').rtol:g}): it computes at a lower precision inside.",
            call,
        )
