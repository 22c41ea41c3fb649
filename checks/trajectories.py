"""Driving a target's optimiser for several steps, and the oracle's trajectory to compare with.

A target's optimiser ``name`` is ``name_init(theta) -> state`` and
``name_step(theta, g, state, *, lr, **hyper) -> (theta_new, state_new)``; its state is opaque
(the checks hand it back and never read it). When the target has ``name_lookahead(theta, state,
*, alpha)`` the gradient is taken at that point, else at the parameters themselves.

The Nesterov forms (Alg 8.3 and 8.6) and the shifted variable
---------------------------------------------------------------
Alg 8.3 keeps θ and evaluates the gradient at the look-ahead point θ̃ = θ + αv. PyTorch
(``SGD(nesterov=True)``) and Keras have no look-ahead: they store φ = θ + αv itself and take the
gradient at their stored parameter. With v₀ = 0 (φ₀ = θ₀) and a constant ε the two are the same
method under that change of variables:

    Alg 8.3:   v' = αv − ε∇L(θ + αv),   θ' = θ + v'
    ⇒          φ' = θ' + αv' = φ − αv + (1 + α)v' = φ − ε∇L(φ) + αv'

which is PyTorch's φ ← φ − ε(g + μb), b ← μb + g, with v = −εb (its ε kept out of the
velocity, so the identity needs ε constant). The checks therefore measure a target without a
look-ahead as the documented parametrisation ``"lookahead"`` (its parameters equal the oracle's
θ_t + αv_t at every step), against ``"theta"`` (they equal θ_t), the default. The same algebra
holds for RMSProp with Nesterov momentum (Alg 8.6), whose step is θ' = θ + v' as well.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nnconform.checks.assertions import (
    Call,
    assert_close,
    assert_matches_variant,
    call,
    derived,
    fail,
)
from nnconform.checks.targets import Target
from nnconform.checks.tolerances import tolerance
from nnconform.reference import optimizers as oracle

__all__ = [
    "LOOKAHEAD_FORMS",
    "Gradient",
    "assert_trajectory_matches",
    "oracle_path",
    "quadratic",
    "run",
    "unpack",
]

# Gradient as a function of the step index k (0-based) and the point where it is evaluated.
Gradient = Callable[[int, np.ndarray], np.ndarray]
LOOKAHEAD_FORMS = ("theta", "lookahead")  # how a Nesterov target's parameters are measured


def quadratic(seed: int, shape: tuple[int, ...], scale: float = 1.0) -> Gradient:
    """∇L for L(θ) = (scale/2)(θ − c)ᵀA(θ − c), A symmetric positive definite (eigenvalues in
    about [0.5, 3]), c random: a deterministic gradient that depends on where it is taken."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    m = rng.standard_normal((n, n))
    a = m @ m.T / max(n, 1) * 0.5 + 0.5 * np.eye(n)  # (n, n)
    c = rng.standard_normal(n)

    def gradient(k: int, at: np.ndarray) -> np.ndarray:
        return (scale * (a @ (np.asarray(at, dtype=np.float64).ravel() - c))).reshape(shape)

    return gradient


def unpack(out: Any, c: Call, shape: tuple[int, ...], name: str) -> tuple[np.ndarray, Any]:
    """A step's output as (θ_new as float64, state), or a failed check naming what is wrong."""
    if not isinstance(out, tuple | list) or len(out) != 2:
        fail(f"{name}_step must return (theta_new, state), got {type(out).__name__}", c)
    theta, state = out
    if not hasattr(theta, "shape") and not np.isscalar(theta):
        fail(f"{name}_step: theta_new={theta!r} is not an array", c)
    theta = np.asarray(theta)
    if theta.shape != shape:
        fail(f"{name}_step: theta_new has shape {theta.shape}, but should have shape {shape}", c)
    if not np.issubdtype(theta.dtype, np.floating):
        fail(f"{name}_step: theta_new has dtype {theta.dtype}, which is not floating", c)
    return derived(theta.astype(np.float64), out[0]), state


def run(
    target: Target,
    name: str,
    theta0: np.ndarray,
    gradient: Gradient,
    lrs: Sequence[float],
    hyper: Mapping[str, Any],
    *,
    lookahead: bool = True,
) -> tuple[np.ndarray, list[Call]]:
    """The target's parameters after each step, (steps, *θ₀.shape), and the step calls.

    The gradient of step k is ``gradient(k, at)`` with ``at`` the target's look-ahead point
    when it has ``name_lookahead`` (and ``lookahead`` is true), else its parameters. A fresh
    copy of θ goes in at every call, so that a target that works in place cannot alter the
    check's arrays."""
    state, _ = call(target, f"{name}_init", theta0.copy())
    use_lookahead = lookahead and target.get(f"{name}_lookahead") is not None
    theta, path, calls = theta0.copy(), [], []
    for k, lr in enumerate(lrs):
        at = theta
        if use_lookahead:
            point, c = call(target, f"{name}_lookahead", theta.copy(), state, alpha=hyper["alpha"])
            point = np.asarray(point)
            if point.shape != theta.shape:
                fail(f"{name}_lookahead returned shape {point.shape}, not {theta.shape}", c)
            at = point.astype(np.float64)
        g = np.asarray(gradient(k, at.copy()), dtype=np.float64)
        out, c = call(target, f"{name}_step", theta.copy(), g, state, lr=lr, **hyper)
        theta, state = unpack(out, c, theta0.shape, name)
        path.append(theta)
        calls.append(c)
    return derived(np.stack(path), *path), calls


def oracle_path(
    name: str,
    theta0: np.ndarray,
    gradient: Gradient,
    lrs: Sequence[float],
    hyper: Mapping[str, Any],
    *,
    lookahead: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The oracle's θ_t after each step and, for the Nesterov forms, θ_t + αv_t (else θ_t),
    both (steps, *θ₀.shape). ``hyper`` may hold the oracle's variant keyword."""
    init, step, look = oracle.OPTIMIZERS[name]
    if not lookahead:
        look = None
    state = init(theta0)
    theta, thetas, shifted = np.asarray(theta0, dtype=np.float64), [], []
    alpha = {"alpha": hyper["alpha"]} if look is not None else {}
    for k, lr in enumerate(lrs):
        at = theta if look is None else look(theta, state, **alpha)
        theta, state = step(theta, gradient(k, at.copy()), state, lr=lr, **hyper)
        thetas.append(theta)
        shifted.append(theta if look is None else look(theta, state, **alpha))
    return np.stack(thetas), np.stack(shifted)


def _first_off(out: np.ndarray, expected: np.ndarray) -> int | None:
    """The first step (0-based) where ``out`` leaves ``expected`` by more than the float64
    tolerance, or None."""
    tol = tolerance("float64")
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(out - expected) <= tol.atol + tol.rtol * np.abs(expected))
    steps = np.flatnonzero(bad.reshape(len(out), -1).any(axis=1))
    return int(steps[0]) if steps.size else None


def assert_trajectory_matches(
    path: np.ndarray,
    candidates: Mapping[str, np.ndarray],
    *,
    default: str,
    what: str,
    calls: Sequence[Call],
) -> str:
    """The whole trajectory (every step at once, so one variant must explain all of them)
    against the oracle's in each variant; the failure names the first step off each."""
    off = {v: _first_off(path, e) for v, e in candidates.items()}
    worst = [s for s in off.values() if s is not None]
    shown = ", ".join(
        f"{v}: step {s + 1}" if s is not None else f"{v}: none" for v, s in off.items()
    )
    c = calls[min(worst)] if worst else calls[-1]
    if len(candidates) == 1:  # no documented variants: a plain comparison, no variant verdict
        (expected,) = candidates.values()
        assert_close(path, expected, what=f"{what}, θ_1..θ_{len(path)} (first step off the "
                     f"oracle: {shown.partition(': ')[2]})", call=c, dtype="float64")  # fmt: skip
        return default
    return assert_matches_variant(
        path,
        candidates,
        default=default,
        what=f"{what}, θ_1..θ_{len(path)} (first step off the oracle: {shown})",
        call=c,
        dtype="float64",
    )
