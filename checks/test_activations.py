"""Activations (catalogue section 1): the target against the oracle, central differences and
the identities the sources state."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnconform.checks.assertions import assert_close, assert_matches_variant, call, guarded
from nnconform.checks.gradients import assert_backward_matches_finite_differences
from nnconform.checks.strategies import SEEDS, arrays, away_from, exp_range
from nnconform.checks.tolerances import EXACT, conditioned, tolerance
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


@pytest.mark.parametrize("algorithm", list(ELEMENTWISE))
@given(data=st.data())
def test_forward_matches_the_oracle(target, dtype, algorithm, data):
    kwargs, _ = ELEMENTWISE[algorithm]
    x = data.draw(arrays(low=-8, high=8, dtype=dtype), label="x")
    out, c = call(target, algorithm, x, **kwargs)
    expected = getattr(oracle, algorithm)(x, **kwargs)
    assert_close(out, expected, what=f"{algorithm}(x)", call=c, dtype=dtype)


@pytest.mark.parametrize("algorithm", [*ELEMENTWISE, "gelu", *SOFTMAXES])
@given(data=st.data(), seed=SEEDS)
def test_backward_matches_the_oracle_and_finite_differences(target, algorithm, data, seed):
    kwargs, kinks = ELEMENTWISE.get(algorithm, ({}, ()))
    x = away_from(data.draw(arrays(low=-8, high=8), label="x"), kinks)
    dy = data.draw(arrays(x.shape, low=-2, high=2), label="dy")
    backward = f"{algorithm}_backward"
    dx, c = call(target, backward, x, dy, **kwargs)
    if algorithm == "gelu":  # its variant is measured by the forward check below
        expected = {v: oracle.gelu_backward(x, dy, variant=v) for v in oracle.GELU_VARIANTS}
        assert_matches_variant(dx, expected, default="tanh", what=f"{backward}(x, dy)", call=c)
    else:
        expected = getattr(oracle, backward)(x, dy, **kwargs)
        assert_close(dx, expected, what=f"{backward}(x, dy)", call=c, dtype="float64")
    forward = guarded(target, algorithm)
    assert_backward_matches_finite_differences(
        lambda x: forward(x, **kwargs), [x], dy, [dx], [0], seed=seed, what=backward, call=c
    )


@pytest.mark.algorithm("gelu")
@given(data=st.data())
def test_gelu_matches_a_documented_variant(target, dtype, data):
    x = data.draw(arrays(low=-6, high=6, dtype=dtype), label="x")
    x = np.concatenate([x.ravel(), np.array([-2.0, -1.0, 1.0, 2.0], dtype=dtype)])  # where
    out, c = call(target, "gelu", x)  # the two forms differ by ~1e-4: always distinguishable
    expected = {v: oracle.gelu(x, variant=v) for v in oracle.GELU_VARIANTS}
    assert_matches_variant(out, expected, default="tanh", what="gelu(x)", call=c, dtype=dtype)


@pytest.mark.algorithm("prelu")
@given(data=st.data(), seed=SEEDS)
def test_prelu_and_its_slope_gradient_match_the_oracle(target, data, seed):
    n, channels = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    x = away_from(data.draw(arrays((n, channels, 3)), label="x"), (0.0,))
    a = data.draw(arrays((channels,), low=-0.5, high=0.5), label="a")
    dy = data.draw(arrays(x.shape, low=-2, high=2), label="dy")
    out, c = call(target, "prelu", x, a)
    assert_close(out, oracle.prelu(x, a), what="prelu(x, a)", call=c, dtype="float64")
    grads, c = call(target, "prelu_backward", x, a, dy)
    expected = oracle.prelu_backward(x, a, dy)
    assert_close(grads[0], expected[0], what="prelu_backward dx", call=c, dtype="float64")
    assert_close(grads[1], expected[1], what="prelu_backward da", call=c, dtype="float64")
    forward = guarded(target, "prelu")
    assert_backward_matches_finite_differences(
        forward, [x, a], dy, grads, [0, 1], seed=seed, what="prelu_backward", call=c
    )


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
@given(sign=st.sampled_from([-1.0, 1.0]), size=st.integers(2, 6))
def test_softmax_is_finite_at_logits_of_1e4(target, algorithm, sign, size):
    z = np.zeros(size)
    z[0] = sign * 1e4
    out, c = call(target, algorithm, z)
    assert_close(out, getattr(oracle, algorithm)(z), what=f"{algorithm}(±1e4)", call=c,
                 dtype="float64")  # fmt: skip


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
