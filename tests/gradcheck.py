"""Central finite differences in float64 along random directions: the ground truth for every
backward of the reference.

For an op y = f(x₁, …, x_n) with backward returning the vector-Jacobian products J_iᵀ·dy, the
directional derivative of ⟨dy, f⟩ along a random direction d_i of input i is

    ⟨J_iᵀ dy, d_i⟩  ≈  ⟨dy, f(…, x_i + h d_i, …) − f(…, x_i − h d_i, …)⟩ / 2h,

with an error O(h²) from truncation and O(ε_mach/h) from rounding; h = 1e-5 balances them
at about 1e-10 relative (jax ``check_grads`` and ``torch.autograd.gradcheck`` work the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from nnconform.checks.gradients import central_difference as directional_derivative


def assert_backward_matches_fd(
    forward: Callable,
    backward: Callable,
    args: Sequence,
    wrt: Sequence[int] = (0,),
    *,
    rng: np.random.Generator,
    directions: int = 3,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    h: float = 1e-5,
) -> None:
    """Check ``backward(*args, dy)`` against central differences of ``forward(*args)``.

    ``backward`` returns the gradient of each input in ``wrt``: one array when ``wrt`` has a
    single index, else a tuple in the order of ``wrt``. ``dy`` and the directions are standard
    normal draws from ``rng``.
    """
    y = np.asarray(forward(*args), dtype=np.float64)
    dy = rng.standard_normal(y.shape)
    grads = backward(*args, dy)
    if len(wrt) == 1:
        grads = (grads,)
    assert len(grads) == len(wrt), f"backward returned {len(grads)} gradients, wanted {len(wrt)}"
    for index, grad in zip(wrt, grads, strict=True):
        x = np.asarray(args[index], dtype=np.float64)
        grad = np.asarray(grad, dtype=np.float64)
        assert grad.shape == x.shape, (
            f"gradient of input {index} has shape {grad.shape}, input has {x.shape}"
        )
        for _ in range(directions):
            d = rng.standard_normal(x.shape)
            numeric = directional_derivative(forward, args, index, d, dy, h)
            analytic = float(np.sum(grad * d))
            scale = max(abs(numeric), float(np.linalg.norm(grad) * np.linalg.norm(d)))
            assert abs(numeric - analytic) <= atol + rtol * scale, (
                f"input {index}: backward gives ⟨grad, d⟩ = {analytic!r}, "
                f"but central differences give roughly {numeric!r} "
                f"(difference {abs(numeric - analytic):.3g}, allowed {atol + rtol * scale:.3g})"
            )
