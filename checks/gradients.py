"""Gradient correctness: a target's backward against central finite differences in float64.

For y = f(x) and a backward returning Jᵀ·dy, along a random direction d:

    ⟨Jᵀdy, d⟩  ≈  ⟨dy, f(x + h d) − f(x − h d)⟩ / 2h        (h = 1e-5)

with error O(h²) + O(u/h) (the jax ``check_grads`` / ``torch.autograd.gradcheck`` method).

The estimate differentiates the target's own forward, so it is only as good as that forward:
one that computes in float32 inside (Keras on some backends) makes a correct gradient look
2% wrong. Given the oracle's forward (one per documented variant, where the function has
them), a target's forward that differs from the closest by more than float64 rounding, but
within float32's, is named as the cause ("forward computed at lower precision"), and the
gradient is judged against the finite differences of the oracle's forward instead. A forward
beyond float32's is wrong, not imprecise: its own check names it, and the differences are of
the target's forward. A target that declares no float64 is unsupported here (the method needs
float64).
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


def _lower_precision(
    forward: Callable, oracles: Sequence[Callable], args: Sequence
) -> tuple[float, Callable] | None:
    """Whether the target's forward at ``args`` is the oracle's computed at a lower precision:
    off every documented variant's forward (``oracles``) by more than float64 rounding, and off
    the closest by no more than float32's. Then that variant's forward and the worst relative
    error, else None: a forward within float64 rounding is differentiated as it is, and one
    beyond float32's is wrong, not imprecise (its own forward check names it)."""
    y = np.asarray(forward(*args), dtype=np.float64)
    closest = None
    for oracle in oracles:
        expected = np.asarray(oracle(*args), dtype=np.float64)
        if y.shape != expected.shape:
            return None  # the finite differences name a wrong shape
        with np.errstate(invalid="ignore"):
            diff = np.abs(y - expected)
            if np.all(diff <= _bound("float64", expected)):
                return None
            within = bool(np.all(diff <= _bound("float32", expected)))
            worst = float(np.nanmax(diff / np.maximum(np.abs(expected), 1e-12), initial=np.inf))
        if within and (closest is None or worst < closest[0]):
            closest = (worst, oracle)
    return closest


def _bound(dtype: str, expected: np.ndarray) -> np.ndarray:
    tol = tolerance(dtype)
    return tol.atol + tol.rtol * np.abs(expected)


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
    oracle: Callable | Sequence[Callable] | None = None,
) -> None:
    """Each gradient in ``grads`` (for the inputs ``wrt``) against central differences of
    ``forward`` along ``count`` random directions.

    ``oracle``, the oracle's forward of the same arguments (or one per documented variant):
    where the target's forward is the oracle's at a lower precision (off it by more than
    float64 rounding at ``args``, within float32's), the differences are taken of the oracle's
    forward, and the check fails naming the forward, with how well the gradient agrees."""
    if call is not None:
        requires_float64(call.target)
    oracles = [] if oracle is None else [oracle] if callable(oracle) else list(oracle)
    closest = _lower_precision(forward, oracles, args) if oracles else None
    lower, differentiated = closest if closest is not None else (None, forward)
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
