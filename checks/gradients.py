"""Gradient correctness: a target's backward against central finite differences in float64.

For y = f(x) and a backward returning Jᵀ·dy, along a random direction d:

    ⟨Jᵀdy, d⟩  ≈  ⟨dy, f(x + h d) − f(x − h d)⟩ / 2h        (h = 1e-5)

with error O(h²) + O(u/h) (the jax ``check_grads`` / ``torch.autograd.gradcheck`` method).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from nnconform.checks.assertions import Call, assert_close, fail
from nnconform.checks.tolerances import FINITE_DIFFERENCES

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
) -> None:
    """Each gradient in ``grads`` (for the inputs ``wrt``) against central differences of
    ``forward`` along ``count`` random directions."""
    rng = np.random.default_rng(seed)
    for index, grad in zip(wrt, grads, strict=True):
        grad = np.asarray(grad, dtype=np.float64)
        for _ in range(count):
            d = rng.standard_normal(np.shape(args[index]))
            numeric = central_difference(forward, args, index, d, dy, call=call)
            analytic = float(np.sum(grad * d))
            # compare on the scale of the pairing, so that cancellation in ⟨g, d⟩ does not
            # demand more than the finite difference can give
            scale = max(abs(numeric), float(np.linalg.norm(grad) * np.linalg.norm(d)), 1.0)
            assert_close(
                np.float64(analytic / scale),
                numeric / scale,
                what=f"{what}: ⟨gradient of input {index}, d⟩ against central differences",
                call=call,
                tol=FINITE_DIFFERENCES,
            )
