"""Losses and penalties (catalogue section 2): every forward per dtype and every backward
against the oracle and central differences of the target's own forward; the documented
variants (MSE's divisor, L1's reduction, MMD's estimator) measured; binary cross-entropy finite
at saturated probabilities and at logits of ±1e4; the cross-entropy gradient in closed form;
the regularised objective; the orthogonality penalty at zero on orthonormal columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnconform.checks.assertions import assert_close, assert_matches_variant, call, fail
from nnconform.checks.gradients import assert_backward_matches_finite_differences
from nnconform.checks.strategies import SEEDS
from nnconform.checks.tolerances import tolerance
from nnconform.reference import losses as oracle

UPSTREAM = st.sampled_from([1.0, 0.5, -2.0])  # the scalar dy of a scalar loss
F64 = "float64"


class Case(NamedTuple):
    args: tuple[Any, ...]  # positional inputs of the forward (and, then dy, of the backward)
    kwargs: dict[str, Any]  # hyper-parameters (never a variant keyword)
    wrt: tuple[int, ...]  # the inputs the backward returns gradients for, in its order


def _shape(data) -> tuple[int, ...]:
    """At least two elements, so that a mean and a sum differ."""
    return data.draw(st.sampled_from([(2,), (5,), (3, 2), (2, 2, 2)]), label="shape")


def _regression(data, rng, dtype) -> Case:
    # y − ŷ bounded away from 0: the losses differ between variants and L1's kink is avoided
    shape = _shape(data)
    y_hat = rng.uniform(-3, 3, shape)
    y = y_hat + rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 2.0, shape)
    return Case((y_hat.astype(dtype), y.astype(dtype)), {}, (0,))


def _probabilities(data, rng, dtype) -> Case:
    shape = _shape(data)
    p = rng.uniform(0.05, 0.95, shape)
    y = rng.choice([0.0, 1.0, 0.3], shape)  # hard and soft targets
    return Case((p.astype(dtype), y.astype(dtype)), {}, (0,))


def _logits(data, rng, dtype) -> Case:
    shape = _shape(data)
    z = rng.uniform(-8, 8, shape)
    y = rng.choice([0.0, 1.0, 0.3], shape)
    return Case((z.astype(dtype), y.astype(dtype)), {}, (0,))


def _classes(data, rng, dtype) -> Case:
    n, k = data.draw(st.integers(1, 5), label="N"), data.draw(st.integers(2, 5), label="K")
    z = rng.uniform(-10, 10, (n, k))
    return Case((z.astype(dtype), rng.integers(0, k, n)), {}, (0,))


def _penalty(data, rng, dtype) -> Case:
    shape = _shape(data)
    W = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.05, 2.0, shape)  # away from L1's kink
    lam = data.draw(st.sampled_from([0.0, 0.01, 0.5, 3.0]), label="lam")
    return Case((W.astype(dtype),), {"lam": lam}, (0,))


def _samples(data, rng, dtype) -> Case:
    # M = N even (the linear estimator pairs them), xt shifted so that MMD² is O(0.1-1) and
    # the three estimators differ by far more than the tolerance
    n = data.draw(st.sampled_from([2, 4, 6]), label="M = N")
    d = data.draw(st.integers(1, 3), label="d")
    xs = rng.standard_normal((n, d))
    xt = rng.standard_normal((n, d)) + rng.uniform(0.5, 1.5, d)
    sigma = data.draw(st.sampled_from([0.5, 1.0, 2.0]), label="sigma")
    return Case((xs.astype(dtype), xt.astype(dtype)), {"sigma": sigma}, (0, 1))


def _matrix(data, rng, dtype) -> Case:
    m, n = data.draw(st.integers(1, 5), label="m"), data.draw(st.integers(1, 4), label="n")
    return Case((rng.uniform(-1.5, 1.5, (m, n)).astype(dtype),), {}, (0,))


class Loss(NamedTuple):
    algorithm: str
    build: Callable[..., Case]
    variant: tuple[str, tuple[str, ...]] | None = None  # (oracle keyword, its values)


LOSSES = {
    "mse": Loss("mse", _regression, ("variant", oracle.MSE_VARIANTS)),
    "l1": Loss("l1", _regression, ("reduction", oracle.L1_REDUCTIONS)),
    "binary_cross_entropy": Loss("binary_cross_entropy", _probabilities),
    "binary_cross_entropy_with_logits": Loss("binary_cross_entropy", _logits),
    "cross_entropy": Loss("cross_entropy", _classes),
    "l2_penalty": Loss("l2_penalty", _penalty),
    "l1_penalty": Loss("l1_penalty", _penalty),
    "mmd": Loss("mmd", _samples, ("estimator", oracle.MMD_ESTIMATORS)),
    "orthogonal_penalty": Loss("orthogonal_penalty", _matrix),
}
PARAMS = [pytest.param(loss.algorithm, name, id=name) for name, loss in LOSSES.items()]


def _compare(out, fn: Callable, case: Case, loss: Loss, *, what: str, c, **how) -> None:
    """The target's output against the oracle's: under every variant where there are some."""
    if loss.variant is None:
        assert_close(out, fn(*case.args, **case.kwargs), what=what, call=c, **how)
        return
    keyword, values = loss.variant
    expected = {v: fn(*case.args, **case.kwargs, **{keyword: v}) for v in values}
    assert_matches_variant(out, expected, default=values[0], what=what, call=c, **how)


@pytest.mark.parametrize(("algorithm", "function"), PARAMS)
@given(data=st.data(), seed=SEEDS)
def test_loss_forward_matches_the_oracle(target, dtype, algorithm, function, data, seed):
    loss = LOSSES[function]
    case = loss.build(data, np.random.default_rng(seed), dtype)
    out, c = call(target, function, *case.args, **case.kwargs)
    # a loss is a scalar: its dtype is not enforced (many targets return a Python float)
    _compare(out, getattr(oracle, function), case, loss, what=f"{function}(...)", c=c,
             tol=tolerance(dtype))  # fmt: skip


def _flat(grads: Any, case: Case, what: str, c) -> np.ndarray:
    """The gradient(s) a backward returns, checked for shape, as one flat vector."""
    grads = list(grads) if isinstance(grads, tuple | list) else [grads]
    if len(grads) != len(case.wrt):
        fail(f"{what}: returned {len(grads)} gradients, but should return {len(case.wrt)}", c)
    flat = []
    for grad, index in zip(grads, case.wrt, strict=True):
        grad, shape = np.asarray(grad, dtype=np.float64), np.shape(case.args[index])
        if grad.shape != shape:
            fail(f"{what}: gradient of input {index} has shape {grad.shape}, but should have "
                 f"shape {shape}", c)  # fmt: skip
        flat.append(grad.ravel())
    return np.concatenate(flat)


@pytest.mark.parametrize(("algorithm", "function"), PARAMS)
@given(data=st.data(), seed=SEEDS, dy=UPSTREAM)
def test_loss_backward_matches_the_oracle_and_finite_differences(
    target, algorithm, function, data, seed, dy
):
    loss = LOSSES[function]
    case = loss.build(data, np.random.default_rng(seed), F64)
    backward = f"{function}_backward"
    grads, c = call(target, backward, *case.args, dy, **case.kwargs)
    flat = _flat(grads, case, backward, c)

    def oracle_backward(*args, **kwargs):
        return _flat(getattr(oracle, backward)(*args, dy, **kwargs), case, backward, None)

    _compare(flat, oracle_backward, case, loss, what=f"{backward}(..., dy={dy})", c=c, dtype=F64)
    forward = target.get(function)
    if forward is not None:
        grads = list(grads) if isinstance(grads, tuple | list) else [grads]
        assert_backward_matches_finite_differences(
            lambda *args: forward(*args, **case.kwargs), list(case.args), np.float64(dy), grads,
            list(case.wrt), seed=seed, what=backward, call=c,
        )  # fmt: skip


# --- binary cross-entropy at the edges --------------------------------------------------

EXTREME_LOGITS = np.array([-1e4, -1e3, -100.0, -40.0, -1.0, 0.0, 1.0, 40.0, 100.0, 1e3, 1e4])


@pytest.mark.algorithm("binary_cross_entropy")
@given(label=st.sampled_from([0.0, 1.0, 0.25]))
def test_binary_cross_entropy_with_logits_is_finite_at_logits_of_1e4(target, label):
    # ζ((1 − 2y)z) costs |z| when the label disagrees and e^−|z| when it agrees: finite and
    # exact through max(z, 0) − y·z + log(1 + e^−|z|), while log σ(z) overflows to −inf
    for z in EXTREME_LOGITS:
        zs, ys = np.array([z]), np.array([label])
        out, c = call(target, "binary_cross_entropy_with_logits", zs, ys)
        assert_close(out, oracle.binary_cross_entropy_with_logits(zs, ys),
                     what=f"binary_cross_entropy_with_logits(z={z:g}, y={label})", call=c,
                     dtype=F64)  # fmt: skip
        grad, c = call(target, "binary_cross_entropy_with_logits_backward", zs, ys, 1.0)
        assert_close(grad, oracle.binary_cross_entropy_with_logits_backward(zs, ys, 1.0),
                     what=f"binary_cross_entropy_with_logits_backward(z={z:g}, y={label})",
                     call=c, dtype=F64)  # fmt: skip


@pytest.mark.algorithm("binary_cross_entropy")
@given(signs=st.lists(st.sampled_from([-1.0, 1.0]), min_size=1, max_size=6))
def test_binary_cross_entropy_is_finite_at_saturated_probabilities(target, signs):
    # p = σ(±1e4) rounds to exactly 0 or 1; a label that agrees costs 0 (0·log 0 = 0), and
    # p = 1e-12 with a disagreeing label costs log(1e12) ≈ 27.6, far below any clamp at 100
    signs = np.array(signs)
    p = np.where(signs > 0, 1.0, 0.0)
    out, c = call(target, "binary_cross_entropy", p, p.copy())
    assert_close(out, 0.0, what="binary_cross_entropy(p ∈ {0, 1}, y = p)", call=c, dtype=F64)
    p = np.where(signs > 0, 1 - 1e-12, 1e-12)
    y = 1.0 - np.round(p)
    out, c = call(target, "binary_cross_entropy", p, y)
    assert_close(out, oracle.binary_cross_entropy(p, y),
                 what="binary_cross_entropy(p = 1e-12 or 1 − 1e-12, y disagreeing)", call=c,
                 dtype=F64)  # fmt: skip


# --- cross-entropy ----------------------------------------------------------------------


@pytest.mark.algorithm("cross_entropy")
@given(data=st.data(), seed=SEEDS)
def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(target, data, seed):
    case = _classes(data, np.random.default_rng(seed), F64)
    z, y = case.args
    grad, c = call(target, "cross_entropy_backward", z, y, 1.0)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    expected = (e / e.sum(axis=1, keepdims=True) - np.eye(z.shape[1])[y]) / z.shape[0]
    assert_close(grad, expected, what="∂/∂z cross_entropy = (softmax(z) − onehot(y))/N",
                 call=c, dtype=F64)  # fmt: skip


@pytest.mark.algorithm("cross_entropy")
@given(n=st.integers(1, 4), k=st.integers(2, 5), sign=st.sampled_from([-1.0, 1.0]))
def test_cross_entropy_is_finite_at_logits_of_1e4(target, n, k, sign):
    z = np.zeros((n, k))
    z[:, 0] = sign * 1e4
    y = np.arange(n) % k
    out, c = call(target, "cross_entropy", z, y)
    assert_close(out, oracle.cross_entropy(z, y), what="cross_entropy(±1e4 logits)", call=c,
                 dtype=F64)  # fmt: skip


# --- the regularised objective ----------------------------------------------------------


@st.composite
def objectives(draw, seed: int):
    """Per-example quadratic losses l_i = Σ_l ½‖W_l − A_{l,i}‖², their gradients W_l − A_{l,i}
    and the layers' weights: a setting where the objective is a function of the weights."""
    layers = draw(st.integers(1, 3), label="layers")
    n = draw(st.integers(1, 4), label="N")
    rng = np.random.default_rng(seed)
    shapes = [tuple(rng.integers(1, 4, size=rng.integers(1, 3))) for _ in range(layers)]
    weights = [rng.standard_normal(s) for s in shapes]
    targets = [rng.standard_normal((n, *s)) for s in shapes]
    lams = draw(st.one_of(st.sampled_from([0.0, 0.1, 1.0]),
                          st.lists(st.sampled_from([0.0, 0.1, 1.0]), min_size=layers,
                                   max_size=layers)), label="lams")  # fmt: skip
    return weights, targets, lams


def _example_losses(weights, targets) -> np.ndarray:
    n = targets[0].shape[0]
    total = np.zeros(n)
    for W, A in zip(weights, targets, strict=True):
        total = total + 0.5 * np.sum((W - A) ** 2, axis=tuple(range(1, A.ndim)))
    return total


@pytest.mark.algorithm("objective")
@given(data=st.data(), seed=SEEDS)
def test_objective_matches_the_oracle(target, dtype, data, seed):
    weights, targets, lams = data.draw(objectives(seed))
    weights = [W.astype(dtype) for W in weights]
    losses = _example_losses(weights, targets).astype(dtype)
    out, c = call(target, "objective", losses, weights, lams)
    assert_close(out, oracle.objective(losses, weights, lams), what="objective(losses, W, λ)",
                 call=c, tol=tolerance(dtype))  # fmt: skip


@pytest.mark.algorithm("objective")
@given(data=st.data(), seed=SEEDS)
def test_objective_gradient_matches_the_oracle_and_finite_differences(target, data, seed):
    weights, targets, lams = data.draw(objectives(seed))
    example_grads = [W[None] - A for W, A in zip(weights, targets, strict=True)]
    grads, c = call(target, "objective_gradient", example_grads, weights, lams)
    expected = oracle.objective_gradient(example_grads, weights, lams)
    if len(grads) != len(expected):
        fail(f"objective_gradient returned {len(grads)} gradients for {len(expected)} layers", c)
    for layer, (got, want) in enumerate(zip(grads, expected, strict=True)):
        assert_close(got, want, what=f"objective_gradient layer {layer}", call=c, dtype=F64)
    forward = target.get("objective")
    if forward is not None:
        assert_backward_matches_finite_differences(
            lambda *ws: forward(_example_losses(ws, targets), list(ws), lams), weights,
            np.float64(1.0), list(grads), list(range(len(weights))), seed=seed,
            what="objective_gradient", call=c,
        )  # fmt: skip


# --- orthogonality penalty --------------------------------------------------------------


@pytest.mark.algorithm("orthogonal_penalty")
@given(seed=SEEDS, m=st.integers(1, 6), data=st.data())
def test_orthogonal_penalty_is_zero_on_orthonormal_columns(target, seed, m, data):
    n = data.draw(st.integers(1, m), label="n")
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((m, n)))
    out, c = call(target, "orthogonal_penalty", Q)
    # QᵀQ = I to a few ulps: the penalty is a sum of n² squares of ~1e-16
    assert_close(out, 0.0, what="‖QᵀQ − I‖_F² for orthonormal columns", call=c, dtype=F64)
    grad, c = call(target, "orthogonal_penalty_backward", Q, 1.0)
    assert_close(grad, np.zeros_like(Q), what="its gradient 4Q(QᵀQ − I)", call=c, dtype=F64)
