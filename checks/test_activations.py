"""Activations (catalogue section 1): the target against the oracle in every input regime of
each dtype it declares, forward and backward, and in every documented mode of GELU; central
differences; the documented subgradient at each kink; the asymptotes for large |x|; the
identities the sources state.

Drawn as values (Hypothesis draws and shrinks them), from ``value_arrays`` (moderate values,
the kinks and ±0.0, the dtype's exp thresholds ± a little, huge magnitudes up to the dtype's
largest value, subnormals) with the regimes' ``edges`` appended to every example so that each
one reaches them all: the x of every forward in every dtype (GELU's default call included),
the x of GELU in each mode (forward and backward), the logits of softmax and log-softmax, the
x of PReLU (forward and both gradients, in every dtype). Drawn as values too, from moderate
ranges: the x of the finite-difference checks, PReLU's slopes, CKN's σ and exponents.
From a seed (a numpy generator whose seed Hypothesis draws): PReLU's upstream gradient in the
regimes and the directions of the finite differences: directions only, never a regime, so
that shrinking them element by element would find nothing and cost time.
Fixed points, checked once (the same in every example, they need no draw): the edges of every
regime for each backward in every dtype (NaN from inf/inf and 0·inf lives there), the kinks
of the subgradient check, the large |x| of the asymptote check.

A backward wrong at a subnormal x, but right at x flushed to a zero of its sign, is named as
flushing subnormals to zero (FTZ/DAZ): where the derivative jumps at 0 (ReLU, ReLU6, leaky
ReLU, PReLU, SELU) that mode reads the smallest inputs as the kink.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnconform.checks.assertions import (
    assert_close,
    assert_matches_variant,
    call,
    fail,
    guarded,
    is_close,
)
from nnconform.checks.gradients import assert_backward_matches_finite_differences
from nnconform.checks.strategies import (
    SEEDS,
    arrays,
    away_from,
    edges,
    exp_range,
    modes,
    value_arrays,
)
from nnconform.checks.tolerances import EXACT, TOLERANCES, Tolerance, conditioned, tolerance
from nnconform.reference import activations as oracle

# id -> (keyword arguments the check passes, kinks where the derivative jumps)
ELEMENTWISE = {
    "sigmoid": ({}, ()),
    "tanh": ({}, ()),
    "relu": ({}, (0.0,)),
    "leaky_relu": ({"alpha": 0.01}, (0.0,)),
    "elu": ({"alpha": 1.0}, (0.0,)),
    "relu6": ({}, (0.0, 6.0)),
    "selu": ({}, (0.0,)),
    "softplus": ({}, ()),
    "softplus_sum": ({"N": 10}, ()),
    "ckn": ({"sigma": 1.0}, ()),
}
SOFTMAXES = ("softmax", "log_softmax")


def _dtypes(target) -> list[str]:
    """The floating dtypes the target declares, for a check without a ``dtype`` parameter
    (one whose finite differences run in float64) to reach its other regimes in each."""
    return [d for d in target.dtypes if d in TOLERANCES]


def _widest(target) -> str:
    """The widest floating dtype the target declares (float64, for the reference and torch):
    a mode is checked in it, the dtypes being covered by the call without a mode."""
    return max(_dtypes(target), key=lambda d: np.dtype(d).itemsize)


def _regimes(data, dtype: str, kinks=(), magnitude: float | None = None) -> np.ndarray:
    """x drawn from every input regime of the dtype, then the edges of those regimes: 1-D."""
    x = data.draw(value_arrays(dtype, kinks=kinks, magnitude=magnitude), label="x")
    return np.concatenate([x.ravel(), edges(dtype, kinks=kinks, magnitude=magnitude)])


LOGIT_SHAPES = st.tuples(st.integers(1, 3), st.integers(2, 4))  # (rows, K): one object, reused


def _cancelling(tol: Tolerance, scale: float) -> Tolerance:
    """``tol`` for a difference of terms of size ``scale``, such as softmax's backward
    y ⊙ (dy − ⟨dy, y⟩): each term rounds by rtol·scale, however small the result (Higham,
    "Accuracy and Stability of Numerical Algorithms", §1.7)."""
    return Tolerance(rtol=tol.rtol, atol=tol.atol + tol.rtol * float(scale))


def _ckn_tolerance(u: np.ndarray, sigma: float, dtype: str) -> Tolerance:
    """exp amplifies the rounding of its exponent a = (2/σ²)(u − 1) by κ = |2u/σ²| (see the
    CKN check below); only where the value is neither 0 nor inf in the dtype does it count."""
    underflow, _ = exp_range(dtype)
    u = u.astype(np.float64)
    with np.errstate(over="ignore"):
        counted = np.abs(2 * ((u - 1) / sigma) / sigma) <= -underflow
        kappa = np.max(np.abs(2 * u / sigma**2)[counted], initial=1.0)
    return conditioned(tolerance(dtype), kappa)


@pytest.mark.parametrize("algorithm", list(ELEMENTWISE))
@given(data=st.data())
def test_forward_matches_the_oracle(target, dtype, algorithm, data):
    # in every input regime: inf only where the true value exceeds the dtype's range (SELU at
    # x > max/λ, CKN), NaN nowhere, the asymptote for large |x|, the value at each kink
    kwargs, kinks = ELEMENTWISE[algorithm]
    x = _regimes(data, dtype, kinks)
    out, c = call(target, algorithm, x, **kwargs)
    expected = getattr(oracle, algorithm)(x, **kwargs)
    tol = _ckn_tolerance(x, kwargs["sigma"], dtype) if algorithm == "ckn" else None
    assert_close(out, expected, what=f"{algorithm}(x)", call=c, dtype=dtype, tol=tol)


def _where(out, mask: np.ndarray):
    """out where ``mask`` holds; an out of the wrong shape whole, so that the comparison with
    the expected values says so."""
    return np.asarray(out)[mask] if np.shape(out) == mask.shape else out


@pytest.mark.parametrize("algorithm", [*ELEMENTWISE, "gelu", *SOFTMAXES])
@given(data=st.data(), seed=SEEDS)
def test_backward_matches_the_oracle_and_finite_differences(target, algorithm, data, seed):
    # moderate values away from the kinks, in float64: against the oracle and against central
    # differences of the target's own forward (the regimes: the edge check below)
    kwargs, kinks = ELEMENTWISE.get(algorithm, ({}, ()))
    backward = f"{algorithm}_backward"
    x = away_from(data.draw(arrays(low=-8, high=8), label="x"), kinks)
    dy = data.draw(arrays(x.shape, low=-2, high=2), label="dy")
    dx, c = call(target, backward, x, dy, **kwargs)
    if algorithm == "gelu":  # its variant is measured by the forward check below
        expected = {v: oracle.gelu_backward(x, dy, variant=v) for v in oracle.GELU_VARIANTS}
        assert_matches_variant(dx, expected, default="tanh", what=f"{backward}(x, dy)", call=c)
    else:
        expected = getattr(oracle, backward)(x, dy, **kwargs)
        assert_close(dx, expected, what=f"{backward}(x, dy)", call=c, dtype="float64")
    forward = guarded(target, algorithm)
    variants = [{"variant": v} for v in oracle.GELU_VARIANTS] if algorithm == "gelu" else [{}]
    assert_backward_matches_finite_differences(
        lambda x: forward(x, **kwargs), [x], dy, [dx], [0], seed=seed, what=backward, call=c,
        oracle=[functools.partial(getattr(oracle, algorithm), **kwargs, **v) for v in variants],
    )  # fmt: skip


@pytest.mark.parametrize("algorithm", [a for a in ELEMENTWISE if a != "ckn"] + ["gelu", *SOFTMAXES])
def test_forward_and_backward_are_right_at_the_edge_of_every_regime(target, dtype, algorithm):
    # Fixed points, the same for every example, so checked once: ±0.0 and the kinks, each
    # exp threshold of the dtype and 0.5 either side, ±1e4, ±the largest value, the smallest
    # subnormal and normal (softmax: each as a row [e, 0]). The forward is the oracle's there
    # (its drawn values: the forward check); the backward is finite wherever the derivative
    # is, and at a kink the subgradient check decides. Not CKN, whose derivative overflows
    # itself: its own check covers its whole exp range.
    kwargs, kinks = ELEMENTWISE.get(algorithm, ({}, ()))
    if algorithm in SOFTMAXES:
        e = edges(dtype)
        x = np.stack([e, np.zeros_like(e)], axis=1)
    else:
        bound = _gelu_derivative_bound(dtype) if algorithm == "gelu" else None
        x = edges(dtype, kinks=kinks, magnitude=bound)
    out, c = call(target, algorithm, x, **kwargs)
    if algorithm == "gelu":  # the call without a variant: either documented form
        expected = {v: oracle.gelu(x, variant=v) for v in oracle.GELU_VARIANTS}
        assert_matches_variant(out, expected, default="tanh", what=f"gelu(x) in {dtype}",
                               call=c, dtype=dtype)  # fmt: skip
    else:
        assert_close(out, getattr(oracle, algorithm)(x, **kwargs), call=c, dtype=dtype,
                     what=f"{algorithm}(x) in {dtype}")  # fmt: skip
    _backward_at(target, dtype, algorithm, kwargs, kinks, x)


def _backward_at(target, dtype, algorithm, kwargs, kinks, x: np.ndarray) -> None:
    """The target's backward at x against the oracle's, with an upstream dy of either sign;
    not at a kink (the subgradient check's). GELU's call without a variant is measured."""
    backward = f"{algorithm}_backward"
    dy = np.resize(np.array([1.0, -2.5, 0.5], dtype=dtype), x.shape)
    dx, c = call(target, backward, x, dy, **kwargs)
    what = f"{backward}(x, dy{''.join(f', {k}={v!r}' for k, v in kwargs.items())}) in {dtype}"
    tol = tolerance(dtype)
    if algorithm in SOFTMAXES:  # dy − ⟨dy, y⟩ and dy − y·Σdy cancel terms of size Σ|dy|
        tol = _cancelling(tol, np.max(np.abs(dy).sum(axis=-1)))
    away = ~np.isin(x, kinks)
    if algorithm == "gelu" and "variant" not in kwargs:
        expected = {v: oracle.gelu_backward(x, dy, variant=v)[away] for v in oracle.GELU_VARIANTS}
        assert_matches_variant(_where(dx, away), expected, default="tanh", what=what, call=c,
                               dtype=dtype, tol=tol)  # fmt: skip
    else:
        _assert_close_at(
            _where(dx, away), lambda x: getattr(oracle, backward)(x, dy, **kwargs)[away], x,
            what=what, c=c, dtype=dtype, tol=tol,
        )  # fmt: skip


FLUSHED = (
    "the target flushes subnormal inputs to zero (FTZ/DAZ, as XLA does on CPU and as code "
    "built with -ffast-math does): its result is the oracle's at x with each subnormal taken "
    "as a zero of its sign, and a derivative that jumps at 0 takes its value at 0 there"
)


def _flushed(x: np.ndarray) -> np.ndarray:
    """x with each subnormal replaced by a zero of its sign, as a flush-to-zero mode reads it."""
    return np.where(np.abs(x) < np.finfo(x.dtype).tiny, np.copysign(0.0, x), x).astype(x.dtype)


def _assert_close_at(out, expected_at: Callable, x: np.ndarray, *, what, c, dtype, tol):
    """``out`` (from the call ``c``) against the oracle's ``expected_at(x)``; a failure where
    ``out`` is instead ``expected_at`` of x flushed to zero names that cause."""
    expected = expected_at(x)
    flushed = _flushed(x)
    if (
        not np.array_equal(flushed, x)
        and not is_close(out, expected, tol)
        and is_close(out, expected_at(flushed), tol)
    ):
        fail(f"{what}: {FLUSHED}", c)
    assert_close(out, expected, what=what, call=c, dtype=dtype, tol=tol)


def _gelu_derivative_bound(dtype: str) -> float:
    """GELU's derivative holds x²: drawn up to √max/2 only. PyTorch's tanh form returns NaN
    (its x² overflows, then 0·inf) past |x| ≈ 1.8e19 in float32, 1.3e154 in float64, where
    the derivative is 1 or 0: a kernel limit far from any network, left out here; the forward
    is checked up to the dtype's largest value."""
    return float(np.sqrt(np.finfo(dtype).max)) / 2


@pytest.mark.algorithm("gelu")
@pytest.mark.parametrize(("keyword", "mode"), modes("gelu"))
@given(data=st.data())
def test_gelu_matches_the_oracle_in_every_documented_mode(target, keyword, mode, data):
    # gelu(x, variant="tanh") and gelu(x, variant="erf"), forward and backward, in every input
    # regime of the target's widest dtype, against the oracle in the same mode (the call
    # without the keyword, the target's own default, is measured in every dtype by the
    # variant check below)
    dtype = _widest(target)
    x = _regimes(data, dtype)
    out, c = call(target, "gelu", x, **{keyword: mode})
    assert_close(out, oracle.gelu(x, **{keyword: mode}), call=c, dtype=dtype,
                 what=f"gelu(x, {keyword}={mode!r}) in {dtype}")  # fmt: skip
    bound = _gelu_derivative_bound(dtype)
    _backward_at(target, dtype, "gelu", {keyword: mode}, (), np.clip(x, -bound, bound))


# --- kinks and asymptotes: fixed points ---------------------------------------------------

# id -> keyword arguments: ELU with α ≠ 1, so that its two one-sided derivatives at 0 differ
KINKED = {"relu": {}, "leaky_relu": {"alpha": 0.01}, "elu": {"alpha": 0.5}, "relu6": {},
          "selu": {}, "prelu": {}}  # fmt: skip


def _one_side(out, sides: dict[str, np.ndarray], tol: Tolerance) -> str:
    """The one-sided derivative that ``out`` takes at every kink, or the first one's name."""
    for name, e in sides.items():
        if np.shape(out) == e.shape and np.all(
            np.abs(np.asarray(out, dtype=np.float64) - e) <= tol.atol + tol.rtol * np.abs(e)
        ):
            return name
    return next(iter(sides))


@pytest.mark.parametrize("algorithm", list(KINKED))
def test_activation_takes_the_documented_subgradient_at_each_kink(target, dtype, algorithm):
    # ReLU 0 at 0, ReLU6 0 at 0 and at 6, ELU α and SELU λα at 0 (the left derivative, the
    # reference's and PyTorch's). Leaky ReLU and PReLU at 0: the catalogue says "1 or α"; the
    # reference takes 1 (the right derivative), PyTorch α (the left): either one is accepted,
    # the same at every kink, and nothing else.
    kwargs, kinks = KINKED[algorithm], ELEMENTWISE.get(algorithm, ({}, (0.0,)))[1]
    points = np.array([-0.0, 0.0, *kinks[1:]])
    x = np.repeat(points, 2).astype(dtype)  # each kink with an upstream 1 and −2.5
    dy = np.tile([1.0, -2.5], len(points)).astype(dtype)
    tol = tolerance(dtype)
    if algorithm == "prelu":
        x, dy = x.reshape(1, 2, -1), dy.reshape(1, 2, -1)  # (N, C, L): two channels
        a = np.array([0.25, -0.1], dtype=dtype)
        out, c = call(target, "prelu", x, a)
        assert_close(out, oracle.prelu(x, a), what="prelu(x, a) at the kink", call=c, dtype=dtype)
        grads, c = call(target, "prelu_backward", x, a, dy)
        slope = a.reshape(1, 2, 1).astype(np.float64) * dy
        sides = {"1 (the reference's)": dy.astype(np.float64), "a (PyTorch's)": slope}
        dx, da = grads
        chosen = _one_side(dx, sides, tol)
        assert_close(dx, sides[chosen], what=f"prelu_backward dx at the kink: {chosen}, or "
                     "the other one-sided derivative", call=c, dtype=dtype)  # fmt: skip
        assert_close(da, np.zeros(2), what="prelu_backward da at x = 0", call=c, dtype=dtype)
        return
    out, c = call(target, algorithm, x, **kwargs)
    expected = getattr(oracle, algorithm)(x, **kwargs)
    assert_close(out, expected, what=f"{algorithm}(x) at its kinks", call=c, dtype=dtype)
    dx, c = call(target, f"{algorithm}_backward", x, dy, **kwargs)
    what = f"{algorithm}_backward(x, dy) at its kinks x ∈ {{−0.0, {', '.join(map(str, kinks))}}}"
    if algorithm == "leaky_relu":
        sides = {"1 (the reference's)": dy.astype(np.float64),
                 "α (PyTorch's)": kwargs["alpha"] * dy.astype(np.float64)}  # fmt: skip
        chosen = _one_side(dx, sides, tol)
        assert_close(dx, sides[chosen], what=f"{what}: {chosen}, or the other one-sided "
                     "derivative", call=c, dtype=dtype)  # fmt: skip
        return
    expected = getattr(oracle, f"{algorithm}_backward")(x, dy, **kwargs)
    assert_close(dx, expected, what=f"{what}: the documented subgradient", call=c, dtype=dtype)


# id -> (its limit for large positive x, for large negative x): closed forms, not the oracle
ASYMPTOTES = {
    "sigmoid": (lambda x: np.ones_like(x), lambda x: np.zeros_like(x)),
    "tanh": (lambda x: np.ones_like(x), lambda x: -np.ones_like(x)),
    "elu": (lambda x: x, lambda x: -np.ones_like(x)),  # α = 1
    "selu": (lambda x: oracle.SELU_LAMBDA * x,
             lambda x: np.full_like(x, -oracle.SELU_LAMBDA * oracle.SELU_ALPHA)),
    "gelu": (lambda x: x, lambda x: np.zeros_like(x)),
    "softplus": (lambda x: x, lambda x: np.zeros_like(x)),
    "softplus_sum": (lambda x: np.full_like(x, 10.0), lambda x: np.zeros_like(x)),  # N = 10
}  # fmt: skip


@pytest.mark.parametrize("algorithm", list(ASYMPTOTES))
def test_activation_reaches_its_asymptote_for_large_x(target, dtype, algorithm):
    # At and beyond the dtype's exp overflow threshold (88.72 in float32, 709.78 in float64)
    # and up to a quarter of its largest value: softplus(x) = x, ELU(x) = x, SELU(x) = λx,
    # GELU(x) = x (either form: the call without a variant), σ = 1, tanh = 1; and their
    # limits for large negative x. Finite everywhere: log(1 + e^x) as written is inf here.
    kwargs = ELEMENTWISE.get(algorithm, ({}, ()))[0]
    _, overflow = exp_range(dtype)
    large = np.array([overflow, overflow + 1, 2 * overflow, 1e4, float(np.finfo(dtype).max) / 4])
    x = np.concatenate([large, -large]).astype(dtype)
    out, c = call(target, algorithm, x, **kwargs)
    positive, negative = ASYMPTOTES[algorithm]
    x64 = x.astype(np.float64)
    expected = np.concatenate([positive(x64[: len(large)]), negative(x64[len(large) :])])
    assert_close(out, expected, what=f"{algorithm}(x) for large |x|: its asymptote", call=c,
                 dtype=dtype)  # fmt: skip


# --- GELU's default, PReLU, softmax ----------------------------------------------------------


@pytest.mark.algorithm("gelu")
@given(data=st.data())
def test_gelu_matches_a_documented_variant(target, dtype, data):
    x = _regimes(data, dtype)  # every regime; and where the two forms differ by ~1e-4,
    x = np.concatenate([x, np.array([-2.0, -1.0, 1.0, 2.0], dtype=dtype)])  # so always told
    out, c = call(target, "gelu", x)  # apart
    expected = {v: oracle.gelu(x, variant=v) for v in oracle.GELU_VARIANTS}
    assert_matches_variant(out, expected, default="tanh", what="gelu(x)", call=c, dtype=dtype)


def _da_tolerance(x: np.ndarray, dy: np.ndarray, tol: Tolerance) -> Tolerance:
    """∂ℓ/∂a sums dy·x over a channel's negative x: terms of either sign, which cancel."""
    terms = np.abs(dy.astype(np.float64) * np.minimum(x.astype(np.float64), 0.0))
    return _cancelling(tol, np.max(terms.sum(axis=tuple(i for i in range(x.ndim) if i != 1))))


@pytest.mark.algorithm("prelu")
@given(data=st.data(), seed=SEEDS)
def test_prelu_and_its_slope_gradient_match_the_oracle(target, data, seed):
    n, channels = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    a = data.draw(arrays((channels,), low=-0.5, high=0.5), label="a")
    # 1. Every input regime, in every dtype the target declares.
    for dtype in _dtypes(target):
        _prelu_in_every_regime(target, dtype, n, channels, a.astype(dtype), data, seed)
    # 2. Moderate values away from the kink, in float64: central differences too.
    x = away_from(data.draw(arrays((n, channels, 3)), label="x moderate"), (0.0,))
    dy = data.draw(arrays(x.shape, low=-2, high=2), label="dy")
    grads, c = call(target, "prelu_backward", x, a, dy)
    expected = oracle.prelu_backward(x, a, dy)
    assert_close(grads[0], expected[0], what="prelu_backward dx", call=c, dtype="float64")
    assert_close(grads[1], expected[1], what="prelu_backward da", call=c, dtype="float64")
    forward = guarded(target, "prelu")
    assert_backward_matches_finite_differences(
        forward, [x, a], dy, grads, [0, 1], seed=seed, what="prelu_backward", call=c,
        oracle=oracle.prelu,
    )  # fmt: skip


def _prelu_in_every_regime(target, dtype, n, channels, a, data, seed) -> None:
    """Magnitudes up to max/1024, so that ∂ℓ/∂a, a sum of dy·x over up to 128 positions of a
    channel, stays within the range; at the kink, the subgradient check decides."""
    magnitude = float(np.finfo(dtype).max) / 1024
    drawn = data.draw(value_arrays(dtype, kinks=(0.0,), magnitude=magnitude,
                                   shape=(n, channels, 3)), label=f"x ({dtype})")  # fmt: skip
    e = edges(dtype, kinks=(0.0,), magnitude=magnitude)
    x = np.concatenate([drawn, np.broadcast_to(e, (n, channels, e.size))], axis=-1)
    dy = np.random.default_rng(seed).uniform(-2, 2, x.shape).astype(dtype)
    out, c = call(target, "prelu", x, a)
    assert_close(out, oracle.prelu(x, a), what=f"prelu(x, a) in {dtype}", call=c, dtype=dtype)
    grads, c = call(target, "prelu_backward", x, a, dy)
    expected = oracle.prelu_backward(x, a, dy)
    away = x != 0
    _assert_close_at(_where(grads[0], away), lambda x: oracle.prelu_backward(x, a, dy)[0][away],
                     x, what=f"prelu_backward dx in {dtype}", c=c, dtype=dtype,
                     tol=tolerance(dtype))  # fmt: skip
    assert_close(grads[1], expected[1], what=f"prelu_backward da in {dtype}", call=c,
                 dtype=dtype, tol=_da_tolerance(x, dy, tolerance(dtype)))  # fmt: skip


@pytest.mark.parametrize("algorithm", SOFTMAXES)
@given(data=st.data(), shift=st.integers(-100, 100))
def test_softmax_is_invariant_to_a_constant_shift(target, dtype, algorithm, data, shift):
    # logits on a grid of 1/8 and an integer shift: z + shift is exact in every dtype, so any
    # difference comes from the target (exp(z) overflows float32 past 88 without the max)
    k = data.draw(arrays(low=-80, high=80), label="k")
    z = (np.round(k) / 8).astype(dtype)
    out, c = call(target, algorithm, z)
    shifted, c_shifted = call(target, algorithm, (z + shift).astype(dtype))
    expected = getattr(oracle, algorithm)(z)
    assert_close(out, expected, what=f"{algorithm}(z)", call=c, dtype=dtype)
    assert_close(shifted, expected, what=f"{algorithm}(z + {shift})", call=c_shifted, dtype=dtype)


@pytest.mark.parametrize("algorithm", SOFTMAXES)
@given(sign=st.sampled_from([-1.0, 1.0]), size=st.integers(2, 6), data=st.data())
def test_softmax_is_finite_at_logits_of_1e4(target, algorithm, sign, size, data):
    # Logits of ±1e4, then, in every dtype the target declares, logits (rows, K) drawn from
    # every regime, up to the dtype's largest value (each edge e as a row [e, 0]: the edge
    # check above): finite where the true value is, and log_softmax exact at large |z| (−1e4,
    # not the −inf of log(softmax(z))).
    at_1e4 = np.zeros(size)
    at_1e4[0] = sign * 1e4
    inputs = [("float64", at_1e4)]
    for dtype in _dtypes(target):
        inputs.append((dtype, data.draw(value_arrays(dtype, shape=LOGIT_SHAPES), label="z")))
    for dtype, z in inputs:
        out, c = call(target, algorithm, z)
        assert_close(out, getattr(oracle, algorithm)(z), call=c, dtype=dtype,
                     what=f"{algorithm}(z) at large |z| in {dtype}")  # fmt: skip


@pytest.mark.algorithm("sigmoid")
def test_sigmoid_derivative_peaks_at_a_quarter_at_zero(target):
    x = np.linspace(-4.0, 4.0, 801)  # holds 0 exactly
    d, c = call(target, "sigmoid_backward", x, np.ones_like(x))
    assert_close(np.max(d), 0.25, what="max σ'(x)", call=c, dtype="float64")
    assert_close(x[np.argmax(d)], 0.0, what="argmax σ'(x)", call=c, dtype="float64")


@pytest.mark.parametrize(
    ("algorithm", "identity"),
    [
        ("tanh", "tanh(x) = 2σ(2x) − 1"),
        ("softplus", "ζ(x) − ζ(−x) = x"),
        ("relu", "relu(x) − relu(−x) = x"),
        ("sigmoid", "σ(x) + σ(−x) = 1"),
    ],
)
@given(data=st.data())
def test_activation_identities_hold(target, algorithm, identity, data):
    x = data.draw(arrays(low=-10, high=10), label="x")
    f, c = call(target, algorithm, x)
    f_neg, _ = call(target, algorithm, -x)
    if algorithm == "tanh":
        s, _ = call(target, "sigmoid", 2 * x)
        lhs, rhs = f, 2 * np.asarray(s) - 1
    elif algorithm == "sigmoid":
        lhs, rhs = np.asarray(f) + np.asarray(f_neg), np.ones_like(x)
    else:
        lhs, rhs = np.asarray(f) - np.asarray(f_neg), x
    assert_close(lhs, rhs, what=identity, call=c, dtype="float64")


@pytest.mark.algorithm("ckn")
@given(data=st.data(), sigma=st.floats(0.1, 10.0))
def test_ckn_matches_the_oracle_up_to_and_beyond_the_overflow_threshold(target, dtype, data, sigma):
    # The exponent a = (2/σ²)(u − 1) is drawn across the dtype's whole range of exp, from
    # below its subnormals to beyond its overflow, and the thresholds themselves are always
    # included: inf only where the true value exceeds the dtype's range.
    underflow, overflow = exp_range(dtype)
    a = data.draw(arrays(low=underflow - 10, high=1.05 * overflow), label="a")
    a = np.concatenate([a.ravel(), [0.999 * overflow, 1.001 * overflow, 0.999 * underflow]])
    u = (1.0 + a * sigma**2 / 2).astype(dtype)
    # dy away from 0: 0·inf is NaN in IEEE arithmetic and in every autograd
    dy = data.draw(arrays(u.shape, low=0.5, high=2, dtype=dtype), label="dy")
    dy = dy * data.draw(st.sampled_from([-1, 1]), label="sign of dy")
    # condition number: |u f'(u)/f| = |2u/σ²| for u, plus |σ ∂f/∂σ / f| = |2a| for σ
    tol = conditioned(tolerance(dtype), np.max(np.abs(2 * u / sigma**2) + 2 * np.abs(a)))
    out, c = call(target, "ckn", u, sigma=sigma)
    expected = oracle.ckn(u, sigma=sigma)
    assert_close(out, expected, what="ckn(u)", call=c, dtype=dtype, tol=tol)
    du, c = call(target, "ckn_backward", u, dy, sigma=sigma)
    expected = oracle.ckn_backward(u, dy, sigma=sigma)
    # Compared where f, (2/σ²)f, dy·f and dy·f' are all within the dtype's range or all beyond
    # it: in between, the order of the products decides, and none is documented.
    f = oracle.ckn(u, sigma=sigma)
    with np.errstate(over="ignore"):
        beyond = np.abs([f, f * (2 / sigma**2), f * dy, expected]) > np.finfo(dtype).max
    agree = beyond.all(axis=0) | ~beyond.any(axis=0)
    assert_close(np.asarray(du)[agree], expected[agree], what="ckn_backward(u, dy)", call=c,
                 dtype=dtype, tol=tol)  # fmt: skip


@pytest.mark.algorithm("ckn")
@given(data=st.data(), sigma=st.floats(0.1, 10.0))
def test_ckn_is_one_at_one_and_its_derivative_is_two_over_sigma_squared_times_itself(
    target, data, sigma
):
    a = data.draw(arrays(low=-600, high=600), label="a")  # f and f' stay finite in float64
    u = np.concatenate([1.0 + a.ravel() * sigma**2 / 2, [1.0]])
    f, c = call(target, "ckn", u, sigma=sigma)
    assert_close(np.asarray(f)[-1:], [1.0], what="ckn(1)", call=c, tol=EXACT)
    d, c = call(target, "ckn_backward", u, np.ones_like(u), sigma=sigma)
    assert_close(d, (2 / sigma**2) * np.asarray(f, dtype=np.float64),
                 what="ckn'(u) = (2/σ²) ckn(u)", call=c, dtype="float64")  # fmt: skip


@pytest.mark.parametrize("algorithm", SOFTMAXES)
@given(data=st.data())
def test_softmax_along_the_first_axis_matches_the_oracle(target, dtype, algorithm, data):
    # axis given (the default −1 is every other check's): columns, not rows, sum to one; a
    # target that ignores axis normalises the rows. Forward and backward.
    z = data.draw(arrays((3, 2), low=-4, high=4), label="z").astype(dtype)
    dy = data.draw(arrays((3, 2), low=-2, high=2), label="dy").astype(dtype)
    out, c = call(target, algorithm, z, axis=0)
    assert_close(out, getattr(oracle, algorithm)(z, axis=0), what=f"{algorithm}(z, axis=0)",
                 call=c, dtype=dtype)  # fmt: skip
    dz, c = call(target, f"{algorithm}_backward", z, dy, axis=0)
    expected = getattr(oracle, f"{algorithm}_backward")(z, dy, axis=0)
    # the backward subtracts a sum over the axis: terms of either sign, which cancel
    tol = _cancelling(tolerance(dtype), np.max(np.abs(dy.astype(np.float64)).sum(axis=0)))
    assert_close(dz, expected, what=f"{algorithm}_backward(z, dy, axis=0)", call=c, dtype=dtype,
                 tol=tol)  # fmt: skip
