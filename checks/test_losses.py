"""Losses and penalties (catalogue section 2): every forward per dtype against the oracle in
every input regime; every backward at the edge of every regime in every dtype, and against
the oracle and central differences of the target's own forward; the documented variants
(MSE's divisor, half_per_example's included; L1's reduction; binary cross-entropy's clipping;
MMD's estimator; the objective's mean or sum) measured on the default call and checked, in
every documented mode, forward and backward; every reduction mode, reduction="none"
included: the unreduced terms (per element, per row for cross-entropy; the reference's
policy, in reference/losses.py) against the oracle in that mode, measured against each
variant's terms where the call names no variant; the subgradient at L1's kinks; binary
cross-entropy finite at saturated probabilities and at logits of ±1e4; the cross-entropy
gradient in closed form; the regularised objective; the orthogonality penalty at zero on
orthonormal columns.

Drawn as values (Hypothesis draws and shrinks them), from every input regime of the dtype
(``value_arrays``: moderate values, ±0.0, the exp thresholds ± a little, huge magnitudes,
subnormals; ``probabilities``: 0, 1, subnormals, 1 − 2^−k), with the regimes' ``edges``
appended: the predictions and targets of MSE and L1, the probabilities and logits of binary
cross-entropy, the logits of cross-entropy, the weights of the penalties, in every forward
and in every mode. Their labels are drawn as values too (hard and soft ones, class indices).
From a seed (a numpy generator whose seed Hypothesis draws), where structure matters more than
single values: the moderate, kink-free inputs of the finite-difference checks (a difference
quotient across a kink or at 1e30 measures nothing), MMD's two samples (shifted normal
clouds, so that its estimators differ), the orthogonality penalty's matrices, and the
objective's per-layer weights and per-example gradients.
Fixed points, checked once: the edges of every regime for each backward in every dtype, and
the kinks of the subgradient check. The reduction modes are checked at fixed points too, once
per dtype: the edges of every regime, then moderate inputs from a fixed seed (0), with dy a
fixed pattern (1, −0.5, 2, …) of the terms' shape times ±; the terms are elementwise (per row)
functions whose every regime the drawn checks above already search, so a mode costs one call
each of forward and backward, not a Hypothesis run (the ci profile stays fast).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnconform.checks.assertions import (
    assert_close,
    assert_matches_variant,
    call,
    derived,
    each_part,
    fail,
)
from nnconform.checks.gradients import assert_backward_matches_finite_differences
from nnconform.checks.strategies import (
    SEEDS,
    edges,
    modes,
    probabilities,
    shapes,
    value_arrays,
)
from nnconform.checks.tolerances import TOLERANCES, tolerance
from nnconform.reference import losses as oracle

UPSTREAM = st.sampled_from([1.0, 0.5, -2.0])  # the scalar dy of a scalar loss
F64 = "float64"


class Case(NamedTuple):
    args: tuple[Any, ...]  # positional inputs of the forward (and, then dy, of the backward)
    kwargs: dict[str, Any]  # hyper-parameters (never a variant keyword)
    wrt: tuple[int, ...]  # the inputs the backward returns gradients for, in its order


# --- moderate inputs from a seed: finite differences, MMD, matrices ----------------------


def _shape(data) -> tuple[int, ...]:
    """At least two elements, so that a mean and a sum differ, and rows of more than two
    elements, so that mse's divisors (n, 2n, 2m for m rows) differ; (2, 3) given no data."""
    if data is None:
        return (2, 3)
    return data.draw(st.sampled_from([(2,), (5,), (2, 3), (2, 2, 2)]), label="shape")


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
    if data is None:
        n, k = 3, 4
    else:
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


# --- every input regime, drawn as values -------------------------------------------------


# A loss sums over its elements, at most 66 here (8 drawn, then the 29 edges twice; 45 for
# one input of 4 × 4 drawn and 29 edges): the regimes' huge magnitudes stop where that sum
# would leave the dtype's range, for a loss that is linear in its inputs (|Σ| ≤ 132·M ≤
# max/3.9) and for one that is quadratic (Σ ≤ 264·M² ≤ max/3.9). Beyond, the true value
# overflows too and nothing is left to check but inf = inf.
def _linear(dtype: str) -> float:
    return float(np.finfo(dtype).max) / 512


def _quadratic(dtype: str) -> float:
    return float(np.sqrt(np.finfo(dtype).max)) / 32


# Each builder draws values from every regime and appends the regimes' edges; given no
# ``data``, it returns the edges alone, with labels in a fixed cycle (the edge check).


def _drawn(data, strategy: st.SearchStrategy, label: str, dtype: str) -> np.ndarray:
    if data is None:
        return np.zeros(0, dtype=dtype)
    return data.draw(strategy, label=label).ravel().astype(dtype)


def _flat_values(data, dtype: str, magnitude: float, label: str) -> np.ndarray:
    x = _drawn(data, value_arrays(dtype, magnitude=magnitude), label, dtype)
    return np.concatenate([x, edges(dtype, magnitude=magnitude)])


# Strategies built once per set of arguments: Hypothesis validates a new strategy object at its
# first draw, which costs more than the draw itself.
@functools.cache
def _soft_labels(shape: tuple[int, ...], values: tuple[float, ...]) -> st.SearchStrategy:
    return hnp.arrays(np.float64, shape, elements=st.sampled_from(values))


@functools.cache
def _class_labels(n: int, k: int) -> st.SearchStrategy:
    return hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1))


@functools.cache
def _probability_arrays(dtype: str) -> st.SearchStrategy:
    return hnp.arrays(np.float64, shapes(max_dims=2, max_side=4), elements=probabilities(dtype))


def _labels(data, shape, values: tuple[float, ...], dtype: str) -> np.ndarray:
    if data is None:
        return np.resize(np.array(values), shape).astype(dtype)
    return data.draw(_soft_labels(shape, values), label="y").astype(dtype)


PAIRS = st.tuples(st.just(2), st.integers(1, 8))  # [ŷ, y] drawn as one (2, n) array


def _pairs(scale: Callable[[str], float]) -> Callable[..., Case]:
    """ŷ and y from every regime, then each edge e against itself (ŷ = y: L1's kink) and
    against 0; in rows of 3 (padded with ŷ = y = 0), so that mse's per-example divisor, the
    m rows, differs from its per-element ones."""

    def build(data, dtype, *, backward=False) -> Case:
        m, e = scale(dtype), edges(dtype, magnitude=scale(dtype))
        drawn = _drawn(data, value_arrays(dtype, magnitude=m, shape=PAIRS), "[ŷ, y]", dtype)
        y_hat, y = np.split(drawn, 2)
        pad = np.zeros((-(y_hat.size + 2 * e.size)) % 3, dtype=dtype)
        y_hat = np.concatenate([y_hat, e, e, pad]).reshape(-1, 3)
        y = np.concatenate([y, e, np.zeros_like(e), pad]).reshape(-1, 3)
        return Case((y_hat, y), {}, (0,))

    return build


# PyTorch's BCELoss clamps each log at −100 (documented in the oracle): where p < e^−100 the
# label agrees with p (y = 0), and at p = 1 (1 − p = 0) y = 1, so that no log beyond the
# clamp counts. Its backward clamps p(1 − p) at 1e-12: there p stays within [2e-12, 1 − 2e-12].
_LOG_CLAMP = float(np.exp(-100.0))


def _probability_values(data, dtype, *, backward=False) -> Case:
    info = np.finfo(dtype)
    p = _drawn(data, _probability_arrays(dtype), "p", dtype)
    below_one = 1.0 - float(info.epsneg)  # the largest value below 1
    e = [0.0, 1.0, 0.5, float(info.smallest_subnormal), float(info.tiny), info.eps, below_one]
    p = np.concatenate([p, np.array(e, dtype=dtype)])
    if backward:  # the derivative does not exist at 0 and 1; see the clamp above
        upper = np.nextafter(np.asarray(1 - 2e-12, dtype=dtype), np.asarray(0, dtype=dtype))
        p = np.clip(p, np.asarray(2e-12, dtype=dtype), upper)
    y = _labels(data, p.shape, (0.0, 1.0, 0.25), dtype)
    y = np.where(p < _LOG_CLAMP, 0.0, np.where(p == 1, 1.0, y)).astype(dtype)
    return Case((p, y), {}, (0,))


def _logit_values(data, dtype, *, backward=False) -> Case:
    z = _flat_values(data, dtype, _linear(dtype), "z")
    return Case((z, _labels(data, z.shape, (0.0, 1.0, 0.25, 0.5), dtype)), {}, (0,))


LOGIT_SHAPES = st.tuples(st.integers(1, 3), st.integers(2, 4))  # (rows, K): one object, reused


def _class_values(data, dtype, *, backward=False) -> Case:
    """Logits (rows, K) from every regime, then each edge e as a row [e, 0, …, 0]."""
    m, e = _linear(dtype), edges(dtype, magnitude=_linear(dtype))
    if data is None:
        z = np.zeros((0, 3), dtype=dtype)
    else:
        z = data.draw(value_arrays(dtype, magnitude=m, shape=LOGIT_SHAPES), label="z")
    rows = np.zeros((e.size, z.shape[1]), dtype=dtype)
    rows[:, 0] = e
    z = np.concatenate([z, rows])
    if data is None:
        return Case((z, np.arange(len(z)) % z.shape[1]), {}, (0,))
    return Case((z, data.draw(_class_labels(*z.shape), label="y")), {}, (0,))


def _penalty_values(scale: Callable[[str], float]) -> Callable[..., Case]:
    def build(data, dtype, *, backward=False) -> Case:
        W = _flat_values(data, dtype, scale(dtype), "W")
        lam = 0.5 if data is None else data.draw(st.sampled_from([0.0, 0.01, 0.5, 3.0]), "lam")
        return Case((W,), {"lam": lam}, (0,))

    return build


class Loss(NamedTuple):
    algorithm: str
    build: Callable[..., Case]  # from a seed: moderate, away from kinks
    values: Callable[..., Case] | None = None  # every regime, drawn (no data: the edges)
    variant: tuple[str, tuple[str, ...]] | None = None  # (oracle keyword, its values)
    kinks: Callable[[Case], np.ndarray] | None = None  # where the subgradient is taken


# The reductions a default call may apply, measured as variants ("none" is no scalar loss)
_REDUCED = tuple(r for r in oracle.L1_REDUCTIONS if r != "none")

LOSSES = {
    "mse": Loss("mse", _regression, _pairs(_quadratic), ("variant", oracle.MSE_VARIANTS)),
    "l1": Loss("l1", _regression, _pairs(_linear), ("reduction", _REDUCED),
               kinks=lambda case: case.args[0] == case.args[1]),
    "binary_cross_entropy": Loss("binary_cross_entropy", _probabilities, _probability_values,
                                 ("variant", oracle.BCE_VARIANTS)),
    "binary_cross_entropy_with_logits": Loss("binary_cross_entropy", _logits, _logit_values),
    "cross_entropy": Loss("cross_entropy", _classes, _class_values),
    "l2_penalty": Loss("l2_penalty", _penalty, _penalty_values(_quadratic)),
    "l1_penalty": Loss("l1_penalty", _penalty, _penalty_values(_linear),
                       kinks=lambda case: case.args[0] == 0),
    "mmd": Loss("mmd", _samples, variant=("estimator", oracle.MMD_ESTIMATORS)),
    "orthogonal_penalty": Loss("orthogonal_penalty", _matrix),
}  # fmt: skip
PARAMS = [pytest.param(loss.algorithm, name, id=name) for name, loss in LOSSES.items()]


def _inputs(loss: Loss, data, seed: int, dtype: str, *, backward: bool = False) -> Case:
    """Values from every regime where the loss has them, else (MMD, matrices) from the seed."""
    if loss.values is not None:
        return loss.values(data, dtype, backward=backward)
    return loss.build(data, np.random.default_rng(seed), dtype)


def _smooth(loss: Loss, case: Case) -> np.ndarray | None:
    """Where the (flat) gradient is a derivative: not at a kink, the subgradient check's."""
    return None if loss.kinks is None else ~np.ravel(loss.kinks(case))


def _compare(out, fn: Callable, case: Case, loss: Loss, *, what: str, c, mask=None, **how):
    """The target's output against the oracle's, where ``mask`` holds: under every variant
    where there are some (the default call, whose variant is measured)."""

    def oracle_output(**variant):
        expected = np.asarray(fn(*case.args, **case.kwargs, **variant), dtype=np.float64)
        return expected if mask is None else expected[mask]

    out = out if mask is None or np.shape(out) != mask.shape else np.asarray(out)[mask]
    if loss.variant is None:
        assert_close(out, oracle_output(), what=what, call=c, **how)
        return
    keyword, values = loss.variant
    expected = {v: oracle_output(**{keyword: v}) for v in values}
    assert_matches_variant(out, expected, default=values[0], what=what, call=c, **how)


@pytest.mark.parametrize(("algorithm", "function"), PARAMS)
@given(data=st.data(), seed=SEEDS)
def test_loss_forward_matches_the_oracle(target, dtype, algorithm, function, data, seed):
    # in every input regime: finite wherever the true loss is, exact at large logits
    loss = LOSSES[function]
    case = _inputs(loss, data, seed, dtype)
    out, c = call(target, function, *case.args, **case.kwargs)
    # a loss is a scalar: its dtype is not enforced (many targets return a Python float)
    _compare(out, getattr(oracle, function), case, loss, what=f"{function}(...)", c=c,
             tol=tolerance(dtype))  # fmt: skip


def _flat(grads: Any, case: Case, what: str, c, dtype: str | None = None) -> np.ndarray:
    """The gradient(s) a backward returns, checked for shape (and ``dtype``), as one flat
    float64 vector."""
    grads = list(grads) if isinstance(grads, tuple | list) else [grads]
    if len(grads) != len(case.wrt):
        fail(f"{what}: returned {len(grads)} gradients, but should return {len(case.wrt)}", c)
    flat = []
    for grad, index in zip(grads, case.wrt, strict=True):
        if dtype is not None and np.asarray(grad).dtype != np.dtype(dtype):
            fail(f"{what}: gradient of input {index} has dtype {np.asarray(grad).dtype}, but "
                 f"should have dtype {dtype}", c)  # fmt: skip
        grad, shape = np.asarray(grad, dtype=np.float64), np.shape(case.args[index])
        if grad.shape != shape:
            fail(f"{what}: gradient of input {index} has shape {grad.shape}, but should have "
                 f"shape {shape}", c)  # fmt: skip
        flat.append(grad.ravel())
    return derived(np.concatenate(flat), *grads)


def _oracle_backward(function: str, case: Case, dy: float, **mode) -> Callable[..., np.ndarray]:
    backward = getattr(oracle, f"{function}_backward")

    def flat(*args, **kwargs):
        return _flat(backward(*args, dy, **kwargs, **mode), case, f"{function}_backward", None)

    return flat


@pytest.mark.parametrize(("algorithm", "function"), PARAMS)
@given(data=st.data(), seed=SEEDS, dy=UPSTREAM)
def test_loss_backward_matches_the_oracle_and_finite_differences(
    target, algorithm, function, data, seed, dy
):
    # moderate inputs away from the kinks, in float64: against the oracle and central
    # differences of the target's own forward (the regimes: the edge check below)
    loss = LOSSES[function]
    backward = f"{function}_backward"
    case = loss.build(data, np.random.default_rng(seed), F64)
    grads, c = call(target, backward, *case.args, dy, **case.kwargs)
    flat = _flat(grads, case, backward, c)
    _compare(flat, _oracle_backward(function, case, dy), case, loss,
             what=f"{backward}(..., dy={dy})", c=c, dtype=F64)  # fmt: skip
    forward = target.get(function)
    if forward is not None:
        grads = list(grads) if isinstance(grads, tuple | list) else [grads]
        variants = [
            {k: v} for k, v in modes(algorithm) if k == "variant" and k in _keywords(function)
        ]
        oracles = [functools.partial(getattr(oracle, function), **case.kwargs, **v)
                   for v in variants or [{}]]  # fmt: skip
        assert_backward_matches_finite_differences(
            lambda *args: forward(*args, **case.kwargs), list(case.args), np.float64(dy), grads,
            list(case.wrt), seed=seed, what=backward, call=c, oracle=oracles,
        )  # fmt: skip


EDGED = [pytest.param(loss.algorithm, name, id=name) for name, loss in LOSSES.items()
         if loss.values is not None]  # fmt: skip


@pytest.mark.parametrize(("algorithm", "function"), EDGED)
def test_loss_forward_and_backward_are_right_at_the_edge_of_every_regime(
    target, dtype, algorithm, function
):
    # Fixed points, the same for every example, so checked once: ±0.0, each exp threshold
    # and 0.5 either side, ±1e4, huge values, the smallest subnormal and normal (and 0, 1,
    # 1 − ε for probabilities; each edge against itself and 0 for ŷ, y). The forward in the
    # default call (its variant measured); the backward finite wherever the derivative is,
    # and at a kink the subgradient check decides.
    loss = LOSSES[function]
    case = loss.values(None, dtype)
    out, c = call(target, function, *case.args, **case.kwargs)
    _compare(out, getattr(oracle, function), case, loss, what=f"{function}(...) in {dtype}",
             c=c, tol=tolerance(dtype))  # fmt: skip
    backward = f"{function}_backward"
    case = loss.values(None, dtype, backward=True)
    for dy in (1.0, -2.5):
        grads, c = call(target, backward, *case.args, dy, **case.kwargs)
        flat = _flat(grads, case, backward, c, dtype)
        _compare(flat, _oracle_backward(function, case, dy), case, loss, c=c,
                 mask=_smooth(loss, case), what=f"{backward}(..., dy={dy}) in {dtype}",
                 tol=tolerance(dtype))  # fmt: skip


# --- every documented mode --------------------------------------------------------------


def _widest(target) -> str:
    """The widest floating dtype the target declares (float64, for the reference and torch):
    a mode is checked in it, the dtypes being covered by the call without a mode."""
    return max((d for d in target.dtypes if d in TOLERANCES), key=lambda d: np.dtype(d).itemsize)


def _keywords(function: str) -> set[str]:
    """The keywords the oracle's function takes: a mode is called only where it applies
    (binary cross-entropy's clipping is of probabilities, not of logits)."""
    return set(inspect.signature(getattr(oracle, function)).parameters)


# Every documented mode but the reductions (their fixed-point check follows)
MODED = [
    pytest.param(loss.algorithm, function, keyword, mode, id=f"{function}-{keyword}={mode}")
    for function, loss in LOSSES.items()
    for keyword, mode in modes(loss.algorithm)
    if keyword != "reduction" and keyword in _keywords(function)
]


@pytest.mark.parametrize(("algorithm", "function", "keyword", "mode"), MODED)
@given(data=st.data(), seed=SEEDS, dy=UPSTREAM)
def test_loss_matches_the_oracle_in_every_documented_mode(
    target, algorithm, function, keyword, mode, data, seed, dy
):
    # the target called with the mode keyword (mse(..., variant="sum")), forward and backward,
    # in every input regime of its widest dtype, against the oracle in the same mode; a target
    # without that mode is unsupported in it (the call without the keyword is measured, in
    # every dtype, above)
    loss, how = LOSSES[function], {keyword: mode}
    dtype = _widest(target)
    case = _inputs(loss, data, seed, dtype, backward=True)
    shown = f"{keyword}={mode!r}) in {dtype}"

    def forward():
        out, c = call(target, function, *case.args, **case.kwargs, **how)
        expected = getattr(oracle, function)(*case.args, **case.kwargs, **how)
        assert_close(out, expected, what=f"{function}(..., {shown}", call=c, tol=tolerance(dtype))

    def backward():  # called in the mode even where the forward refuses it
        name = f"{function}_backward"
        grads, c = call(target, name, *case.args, dy, **case.kwargs, **how)
        flat = _flat(grads, case, name, c, dtype)
        expected = _oracle_backward(function, case, dy, **how)(*case.args, **case.kwargs)
        mask = _smooth(loss, case)
        if mask is not None and flat.shape == mask.shape:  # at a kink, the subgradient check's
            flat, expected = flat[mask], expected[mask]
        assert_close(flat, expected, what=f"{name}(..., dy={dy}, {shown}", call=c,
                     tol=tolerance(dtype))  # fmt: skip

    each_part(forward, backward)


# --- every reduction, "none" included: the unreduced terms ---------------------------------


def _reductions(function: str, algorithm: str):
    """The reduction modes of a loss, and for "none" each variant of a loss that has them
    besides (mse(..., variant="mean", reduction="none")): the terms differ by variant."""
    variants = [v for k, v in modes(algorithm) if k == "variant" and k in _keywords(function)]
    for keyword, value in modes(algorithm):
        if keyword != "reduction" or keyword not in _keywords(function):
            continue
        yield f"reduction={value}", {"reduction": value}
        if value == "none":
            for v in variants:
                yield f"reduction=none-variant={v}", {"reduction": "none", "variant": v}


REDUCTIONS = [
    pytest.param(loss.algorithm, function, how, id=f"{function}-{name}")
    for function, loss in LOSSES.items()
    for name, how in _reductions(function, loss.algorithm)
]


def _upstream_for(dy: float, how: dict, terms_shape: tuple[int, ...], dtype: str):
    """A scalar dy for a reduced loss; for the terms a vector of their shape, the scalar
    times a fixed pattern of signs and sizes (each term's own upstream gradient counts)."""
    if how.get("reduction") != "none":
        return dy
    return (dy * np.resize(np.array([1.0, -0.5, 2.0]), terms_shape)).astype(dtype)


def _in_mode(out, function: str, fn: Callable, case: Case, how: dict, *, what, c, dtype, mask):
    """Against the oracle in the same mode; a call in a reduction mode that names no variant
    (the target's default, as optax's squared_error or torch's reduction='none' are, and as
    Keras's always-clipped cross-entropy is in every reduction) measured against each
    variant's result instead: which one it is is the library's convention."""
    out = out if mask is None or np.shape(out) != mask.shape else np.asarray(out)[mask]

    def expected(**variant):
        e = np.asarray(fn(*case.args, **case.kwargs, **how, **variant), dtype=np.float64)
        return e if mask is None else e[mask]

    measured = "variant" not in how and "variant" in _keywords(function)
    if not measured:
        assert_close(out, expected(), what=what, call=c, tol=tolerance(dtype))
        return
    values = [v for k, v in modes(LOSSES[function].algorithm) if k == "variant"]
    candidates = {v: expected(variant=v) for v in values}
    assert_matches_variant(out, candidates, default=values[0], what=what, call=c,
                           tol=tolerance(dtype))  # fmt: skip


@pytest.mark.parametrize(("algorithm", "function", "how"), REDUCTIONS)
def test_loss_matches_the_oracle_in_every_reduction_mode(target, dtype, algorithm, function, how):
    # Fixed points, checked once per dtype: the edges of every regime, then moderate inputs
    # from a fixed seed (where no huge term swamps a mean). reduction="none" returns the
    # unreduced terms, per element (per row for cross-entropy), which compare with a
    # library's unreduced losses with no arithmetic in its adapter; the backward then takes
    # dy of the terms' shape. Forward and backward against the oracle in the same mode.
    loss = LOSSES[function]
    shown = ", ".join(f"{k}={v!r}" for k, v in how.items())
    forward, backward = getattr(oracle, function), f"{function}_backward"
    moderate = loss.build(None, np.random.default_rng(0), dtype)
    cases = [
        (loss.values(None, dtype), loss.values(None, dtype, backward=True), "at the edges"),
        (moderate, moderate, "moderate"),
    ]
    for case, smooth, inputs in cases:
        out, c = call(target, function, *case.args, **case.kwargs, **how)
        _in_mode(out, function, forward, case, how, c=c, dtype=dtype, mask=None,
                 what=f"{function}(..., {shown}) {inputs} in {dtype}")  # fmt: skip
        terms = np.shape(forward(*smooth.args, **smooth.kwargs, reduction="none"))
        # one dy, of either sign and not 1 across the terms: a backward that drops dy, or
        # its sign, fails (the default call's checks above take several)
        dy = _upstream_for(-2.5, how, terms, dtype)
        grads, c = call(target, backward, *smooth.args, dy, **smooth.kwargs, **how)
        flat = _flat(grads, smooth, backward, c, dtype)
        _in_mode(
            flat,
            function,
            _oracle_backward(function, smooth, dy),
            smooth,
            how,
            c=c,
            dtype=dtype,
            mask=_smooth(loss, smooth),
            what=f"{backward}(..., dy=−2.5·(1, −0.5, 2, …), {shown}) {inputs} in {dtype}",
        )


# --- the subgradient at a kink ------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["l1", "l1_penalty"])
def test_loss_backward_takes_the_documented_subgradient_at_each_kink(target, dtype, algorithm):
    # |ŷ − y| at ŷ = y and |W| at W = 0 (and −0.0): the subgradient sign(0) = 0, as the
    # oracle and PyTorch take it; never NaN (a sign computed as x/|x|) nor ±1
    if algorithm == "l1":
        args = (
            np.array([0.0, -0.0, 1.5, -2.0, 3.0], dtype=dtype),
            np.array([0.0, 0.0, 1.5, -2.0, 1.0], dtype=dtype),
        )  # four ties, one not
        kwargs = {}
    else:
        args, kwargs = (np.array([0.0, -0.0, 1.0, -2.0], dtype=dtype),), {"lam": 0.5}
    out, c = call(target, algorithm, *args, **kwargs)
    assert_close(out, getattr(oracle, algorithm)(*args, **kwargs), what=f"{algorithm} at its kinks",
                 call=c, tol=tolerance(dtype))  # fmt: skip
    backward = f"{algorithm}_backward"
    for dy in (1.0, -2.5):
        grad, c = call(target, backward, *args, dy, **kwargs)
        assert_close(grad, getattr(oracle, backward)(*args, dy, **kwargs),
                     what=f"{backward}(..., dy={dy}) at its kinks: sign(0) = 0", call=c,
                     dtype=dtype)  # fmt: skip


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
    # (a clipped target, as Keras is, costs −log(1 − 1e-7) ≈ 1e-7 and −log(1e-7) ≈ 16.1:
    # measured as the variant "clipped")
    signs = np.array(signs)
    p = np.where(signs > 0, 1.0, 0.0)
    out, c = call(target, "binary_cross_entropy", p, p.copy())
    _bce_variant(out, p, p.copy(), what="binary_cross_entropy(p ∈ {0, 1}, y = p)", c=c)
    p = np.where(signs > 0, 1 - 1e-12, 1e-12)
    y = 1.0 - np.round(p)
    out, c = call(target, "binary_cross_entropy", p, y)
    _bce_variant(out, p, y, what="binary_cross_entropy(p = 1e-12 or 1 − 1e-12, y disagreeing)",
                 c=c)  # fmt: skip


def _bce_variant(out, p, y, *, what: str, c) -> None:
    expected = {v: oracle.binary_cross_entropy(p, y, variant=v) for v in oracle.BCE_VARIANTS}
    assert_matches_variant(out, expected, default=oracle.BCE_VARIANTS[0], what=what, call=c,
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


def _objective_gradients(grads, c, expected: dict[str, list[np.ndarray]]) -> np.ndarray:
    """The layers' gradients as one flat vector, after checking there is one per layer."""
    layers = len(next(iter(expected.values())))
    if not isinstance(grads, tuple | list) or len(grads) != layers:
        fail(f"objective_gradient returned {grads!r:.80}, not one gradient for each of the "
             f"{layers} layers", c)  # fmt: skip
    for layer, (got, want) in enumerate(zip(grads, expected["mean"], strict=True)):
        if np.shape(got) != np.shape(want):
            fail(f"objective_gradient layer {layer} has shape {np.shape(got)}, but should have "
                 f"shape {np.shape(want)}", c)  # fmt: skip
    return np.concatenate([np.ravel(g) for g in grads])


def _flat_expected(expected: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(g) for g in expected])


@pytest.mark.algorithm("objective")
@given(data=st.data(), seed=SEEDS)
def test_objective_matches_the_oracle(target, dtype, data, seed):
    # the default call's data term measured: the mean (seed 000) or the sum (seed 001)
    weights, targets, lams = data.draw(objectives(seed))
    weights = [W.astype(dtype) for W in weights]
    losses = _example_losses(weights, targets).astype(dtype)
    out, c = call(target, "objective", losses, weights, lams)
    expected = {v: oracle.objective(losses, weights, lams, variant=v)
                for v in oracle.OBJECTIVE_VARIANTS}  # fmt: skip
    assert_matches_variant(out, expected, default="mean", what="objective(losses, W, λ)",
                           call=c, tol=tolerance(dtype))  # fmt: skip


@pytest.mark.algorithm("objective")
@given(data=st.data(), seed=SEEDS)
def test_objective_gradient_matches_the_oracle_and_finite_differences(target, data, seed):
    weights, targets, lams = data.draw(objectives(seed))
    example_grads = [W[None] - A for W, A in zip(weights, targets, strict=True)]
    grads, c = call(target, "objective_gradient", example_grads, weights, lams)
    expected = {v: oracle.objective_gradient(example_grads, weights, lams, variant=v)
                for v in oracle.OBJECTIVE_VARIANTS}  # fmt: skip
    flat = _objective_gradients(grads, c, expected)
    assert_matches_variant(flat, {v: _flat_expected(e) for v, e in expected.items()},
                           default="mean", what="objective_gradient (every layer)", call=c,
                           dtype=F64)  # fmt: skip
    forward = target.get("objective")
    if forward is not None:
        assert_backward_matches_finite_differences(
            lambda *ws: forward(_example_losses(ws, targets), list(ws), lams), weights,
            np.float64(1.0), list(grads), list(range(len(weights))), seed=seed,
            what="objective_gradient", call=c,
            oracle=[lambda *ws, v=v: oracle.objective(_example_losses(ws, targets), list(ws), lams,
                                                      variant=v)
                    for v in oracle.OBJECTIVE_VARIANTS],
        )  # fmt: skip


@pytest.mark.algorithm("objective")
@pytest.mark.parametrize(("keyword", "mode"), modes("objective"))
@given(data=st.data(), seed=SEEDS)
def test_objective_matches_the_oracle_in_every_documented_mode(target, keyword, mode, data, seed):
    # objective(..., variant="sum") and its gradient against the oracle in the same mode
    weights, targets, lams = data.draw(objectives(seed))
    how = {keyword: mode}
    losses = _example_losses(weights, targets)
    out, c = call(target, "objective", losses, weights, lams, **how)
    expected = oracle.objective(losses, weights, lams, **how)
    assert_close(out, expected, what=f"objective(losses, W, λ, {keyword}={mode!r})", call=c,
                 dtype=F64)  # fmt: skip
    example_grads = [W[None] - A for W, A in zip(weights, targets, strict=True)]
    grads, c = call(target, "objective_gradient", example_grads, weights, lams, **how)
    expected = oracle.objective_gradient(example_grads, weights, lams, **how)
    flat = _objective_gradients(grads, c, {"mean": expected})
    assert_close(flat, _flat_expected(expected), call=c, dtype=F64,
                 what=f"objective_gradient(..., {keyword}={mode!r}) (every layer)")  # fmt: skip


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
