"""Normalisation (catalogue section 5): batch norm's six backward formulas one by one, its
invariants, running statistics and awkward batches; group, feature, weight and spectral
normalisation and singular value bounding against the oracle, finite differences and
numpy.linalg.svd.

Every documented mode (each ``running_var_estimator``, spectral norm's guard ``variant``) is a
parameter of its check, passed as a keyword against the oracle in the same mode; the calls
without it measure which variant the target is by default. Drawn as values (Hypothesis shrinks
them): shapes, ε, the running-average weight p, the number of running-statistics steps, scale
factors. Drawn from a seed (a numpy generator; Hypothesis draws the seed): the arrays (x, γ, β,
dy, running statistics, weights), rather than from element-wise strategies: a batch whose values
Hypothesis shrinks to all-equal has no variance, which the checks of a constant channel cover on
purpose, not by accident.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnconform.checks.assertions import (
    assert_close,
    assert_matches_variant,
    call,
    derived,
    fail,
    is_close,
)
from nnconform.checks.gradients import assert_backward_matches_finite_differences
from nnconform.checks.strategies import SEEDS, modes
from nnconform.checks.tolerances import Tolerance, tolerance
from nnconform.reference import normalization as oracle

EPSILONS = st.sampled_from([1e-5, 1e-3, 0.1])
MOMENTA = st.sampled_from([0.0, 0.5, 0.9])  # p, the weight of the old running value
F64 = "float64"


# --- batch normalisation: inputs --------------------------------------------------------


@st.composite
def bn_shapes(draw, *, spatial: bool | None = None, min_n: int = 2) -> tuple[int, ...]:
    """(N, C) or (N, C, H, W) with N ≠ C on feature maps (a transposed reduction shows)."""
    n, c = draw(st.integers(min_n, 5)), draw(st.integers(1, 4))
    if spatial is None:
        spatial = draw(st.booleans())
    if not spatial:
        return (n, c)
    if n == c:
        n += 1
    return (n, c, draw(st.integers(1, 3)), draw(st.integers(1, 3)))


def spread_out(x: np.ndarray, axes: tuple[int, ...], minimum: float = 0.3) -> np.ndarray:
    """Stretch the values over ``axes`` about their mean to a std of at least ``minimum``: a
    batch of two nearly equal values makes x̂ = ±d/√(d² + ε) so curved that a central
    difference with h = 1e-5 is off by (h/d)² (the constant channel is checked on its own)."""
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    return mean + (x - mean) * np.maximum(1.0, minimum / np.maximum(std, 1e-300))


def bn_inputs(seed: int, shape: tuple[int, ...], dtype: str = F64):
    """x with a different mean and scale per channel; γ, β, running statistics: (C,)."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    per_channel = (1, c) + (1,) * (len(shape) - 2)
    offset = rng.uniform(-3, 3, c).reshape(per_channel)
    scale = rng.uniform(0.5, 2.0, c).reshape(per_channel)
    x = spread_out(offset + scale * rng.standard_normal(shape), _channel_axes(len(shape)))
    gamma = rng.uniform(0.5, 2.0, c) * rng.choice([-1.0, 1.0], c)
    beta = rng.uniform(-1, 1, c)
    running_mean, running_var = rng.uniform(-1, 1, c), rng.uniform(0.5, 2.0, c)
    return tuple(a.astype(dtype) for a in (x, gamma, beta, running_mean, running_var))


def _channel_axes(ndim: int) -> tuple[int, ...]:
    return (0, *range(2, ndim))


def _on_axis_1(a: np.ndarray, ndim: int) -> np.ndarray:
    return np.asarray(a).reshape((1, -1) + (1,) * (ndim - 2))


def _x_hat(x: np.ndarray, eps: float) -> np.ndarray:
    """x̂ in float64 from the batch statistics (biased variance), computed here."""
    axes = _channel_axes(x.ndim)
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + eps)


# --- batch normalisation: the six backward formulas, each on its own ---------------------

PARTS = ("dx_hat", "dvar", "dmean", "dx", "dgamma", "dbeta")


def _check_batch_norm_backward_part(target, part: str, data, seed: int) -> None:
    """The target's ``part`` of batch_norm_backward (from its own forward's cache) against the
    oracle's from the same inputs; dx, dgamma, dbeta also against central differences of the
    target's forward (∂ℓ/∂x̂, ∂ℓ/∂σ², ∂ℓ/∂μ are intermediates: no forward to differentiate)."""
    shape = data.draw(bn_shapes(), label="shape")
    eps, p = data.draw(EPSILONS, label="eps"), data.draw(MOMENTA, label="momentum")
    x, gamma, beta, rm, rv = bn_inputs(seed, shape)
    dy = np.random.default_rng(seed + 1).standard_normal(shape)
    kwargs = dict(training=True, momentum=p, eps=eps)
    out, c = call(target, "batch_norm", x, gamma, beta, rm, rv, **kwargs)
    grads, c_back = call(target, "batch_norm_backward", dy, out[1])
    got = grads[PARTS.index(part)]  # None where the library does not expose it: unsupported
    expected = oracle.batch_norm_backward(
        dy, oracle.batch_norm(x, gamma, beta, rm, rv, **kwargs).cache
    )
    what = f"batch_norm_backward(dy, cache).{part}"
    assert_close(got, getattr(expected, part), what=what, call=c_back, dtype=F64)
    if part in ("dx", "dgamma", "dbeta") and got is not None:
        forward = target.get("batch_norm")
        index = {"dx": 0, "dgamma": 1, "dbeta": 2}[part]
        assert_backward_matches_finite_differences(
            lambda x, gamma, beta: forward(x, gamma, beta, rm, rv, **kwargs)[0],
            [x, gamma, beta], dy, [got], [index], seed=seed, what=what, call=c,
            oracle=lambda x, gamma, beta: oracle.batch_norm(x, gamma, beta, rm, rv, **kwargs).y,
        )  # fmt: skip


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS)
def test_batch_norm_dx_hat_matches_the_oracle(target, data, seed):
    _check_batch_norm_backward_part(target, "dx_hat", data, seed)


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS)
def test_batch_norm_dvar_matches_the_oracle(target, data, seed):
    _check_batch_norm_backward_part(target, "dvar", data, seed)


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS)
def test_batch_norm_dmean_matches_the_oracle(target, data, seed):
    _check_batch_norm_backward_part(target, "dmean", data, seed)


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS)
def test_batch_norm_dx_matches_the_oracle_and_finite_differences(target, data, seed):
    _check_batch_norm_backward_part(target, "dx", data, seed)


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS)
def test_batch_norm_dgamma_matches_the_oracle_and_finite_differences(target, data, seed):
    _check_batch_norm_backward_part(target, "dgamma", data, seed)


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS)
def test_batch_norm_dbeta_matches_the_oracle_and_finite_differences(target, data, seed):
    _check_batch_norm_backward_part(target, "dbeta", data, seed)


# --- batch normalisation: forward and invariants -----------------------------------------


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS)
def test_batch_norm_forward_matches_the_oracle(target, dtype, data, seed):
    shape = data.draw(bn_shapes(), label="shape")
    eps = data.draw(EPSILONS, label="eps")
    args = bn_inputs(seed, shape, dtype)
    out, c = call(target, "batch_norm", *args, training=True, eps=eps)
    expected = oracle.batch_norm(*args, training=True, eps=eps).y
    assert_close(out[0], expected, what="batch_norm(x, ...).y in training", call=c, dtype=dtype)


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS)
def test_batch_norm_input_gradient_sums_to_zero_and_is_orthogonal_to_x_hat(target, data, seed):
    # With x̂ = (x − μ)/s, s = √(σ² + ε), the six formulas reduce to
    #     ∂ℓ/∂x = (1/s)(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)),
    # so per channel Σᵢ ∂ℓ/∂xᵢ = 0 exactly, and since mean(x̂²) = σ²/s² = 1 − ε/s²,
    #     Σᵢ ∂ℓ/∂xᵢ·x̂ᵢ = (ε/s³)·Σᵢ dx̂ᵢ x̂ᵢ        (0 only as ε → 0).
    # Both sums cancel terms of size Σᵢ |∂ℓ/∂xᵢ|(1 + |x̂ᵢ|): they are compared on that scale
    # with the float64 tolerance (m ≤ 45 roundings per sum: ≈ 1e-14 of the scale).
    shape = data.draw(bn_shapes(), label="shape")
    eps = data.draw(EPSILONS, label="eps")
    x, gamma, beta, rm, rv = bn_inputs(seed, shape)
    dy = np.random.default_rng(seed + 1).standard_normal(shape)
    out, _ = call(target, "batch_norm", x, gamma, beta, rm, rv, training=True, eps=eps)
    grads, c = call(target, "batch_norm_backward", dy, out[1])
    dx = np.asarray(grads[3], dtype=np.float64)
    if dx.shape != x.shape:
        fail(f"batch_norm_backward dx has shape {dx.shape}, but should have shape {x.shape}", c)
    axes = _channel_axes(x.ndim)
    x_hat = _x_hat(x, eps)
    s = np.sqrt(x.var(axis=axes) + eps)  # (C,)
    dx_hat = dy * _on_axis_1(gamma, x.ndim)
    scale = np.sum(np.abs(dx) * (1 + np.abs(x_hat)), axis=axes) + 1.0
    assert_close(dx.sum(axis=axes) / scale, np.zeros(len(s)), what="Σᵢ ∂ℓ/∂xᵢ per channel",
                 call=c, tol=tolerance(F64))  # fmt: skip
    expected = eps / s**3 * np.sum(dx_hat * x_hat, axis=axes)
    assert_close(np.sum(dx * x_hat, axis=axes) / scale, expected / scale,
                 what="Σᵢ ∂ℓ/∂xᵢ·x̂ᵢ per channel (= ε/s³·Σᵢ dx̂ᵢx̂ᵢ)", call=c,
                 tol=tolerance(F64))  # fmt: skip


@pytest.mark.algorithm("batch_norm")
@given(
    data=st.data(),
    seed=SEEDS,
    a=st.floats(0.1, 10.0),
    b=st.floats(-10.0, 10.0),
)
def test_batch_norm_output_is_invariant_to_an_affine_change_of_the_input(target, data, seed, a, b):
    # x → a·x + b (a > 0) leaves x̂ unchanged only as ε → 0; exactly,
    #     BN(a·x + b; ε) = BN(x; ε/a²),
    # which is what is compared: the target against itself and against the oracle's prediction.
    shape = data.draw(bn_shapes(), label="shape")
    eps = data.draw(EPSILONS, label="eps")
    x, gamma, beta, rm, rv = bn_inputs(seed, shape)
    moved, c = call(target, "batch_norm", a * x + b, gamma, beta, rm, rv, training=True, eps=eps)
    plain, c_plain = call(target, "batch_norm", x, gamma, beta, rm, rv, training=True,
                          eps=eps / a**2)  # fmt: skip
    predicted = oracle.batch_norm(x, gamma, beta, rm, rv, training=True, eps=eps / a**2).y
    # the rounding of a·x + b (|b| ≤ 10 against a spread ≥ 0.03) costs ≈ 1e-14 relative
    tol = Tolerance(rtol=1e-10, atol=1e-10)
    assert_close(moved[0], predicted, what=f"BN({a!r}·x + {b!r}; ε)", call=c, tol=tol)
    assert_close(moved[0], plain[0], what=f"BN({a!r}·x + {b!r}; ε) against BN(x; ε/a²)",
                 call=c_plain, tol=tol)  # fmt: skip


def _running_inputs(data, seed: int, steps: int):
    """Small batches (m = N ∈ 2..4, no positions), which make the unbiased m/(m − 1) visible,
    and p < 1, which lets each batch reach the running values: (p, γ, β, μ̄, σ̄², batches)."""
    n, channels = data.draw(st.integers(2, 4), label="N"), data.draw(st.integers(1, 3), label="C")
    p = data.draw(st.sampled_from([0.0, 0.5, 0.9]), label="momentum")
    _, gamma, beta, rm, rv = bn_inputs(seed, (n, channels))
    rng = np.random.default_rng(seed + 2)
    batches = [bn_inputs(int(rng.integers(2**32)), (n, channels))[0] for _ in range(steps)]
    return p, gamma, beta, rm, rv, batches


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS, steps=st.integers(1, 3))
def test_batch_norm_running_statistics_follow_a_documented_estimator(target, data, seed, steps):
    p, gamma, beta, rm, rv, batches = _running_inputs(data, seed, steps)
    got_mean, got_var = [], []
    t_mean, t_var = rm, rv
    for x in batches:
        out, c = call(target, "batch_norm", x, gamma, beta, t_mean, t_var, training=True,
                      momentum=p)  # fmt: skip
        t_mean, t_var = np.asarray(out[2], np.float64), np.asarray(out[3], np.float64)
        got_mean.append(t_mean)
        got_var.append(t_var)
    expected = {}
    for estimator in oracle.RUNNING_VAR_ESTIMATORS:
        o_mean, o_var, trail = rm, rv, []
        for x in batches:
            o = oracle.batch_norm(x, gamma, beta, o_mean, o_var, training=True, momentum=p,
                                  running_var_estimator=estimator)  # fmt: skip
            o_mean, o_var = o.running_mean, o.running_var
            trail.append((o_mean, o_var))
        expected[estimator] = trail
    assert_close(np.stack(got_mean), np.stack([m for m, _ in expected["biased"]]),
                 what=f"running_mean after each of {steps} steps", call=c, dtype=F64)  # fmt: skip
    assert_matches_variant(
        np.stack(got_var),
        {e: np.stack([v for _, v in trail]) for e, trail in expected.items()},
        default="biased", what=f"running_var after each of {steps} steps", call=c,
    )  # fmt: skip


@pytest.mark.algorithm("batch_norm")
@pytest.mark.parametrize(("keyword", "estimator"), modes("batch_norm"))
@given(data=st.data(), seed=SEEDS, steps=st.integers(1, 2))
def test_batch_norm_running_statistics_match_the_oracle_in_every_estimator(
    target, keyword, estimator, data, seed, steps
):
    # running_var_estimator= passed at every step, against the oracle in the same mode: y and
    # both running statistics after each step (two steps feed a running value back in)
    p, gamma, beta, rm, rv, batches = _running_inputs(data, seed, steps)
    mode = {keyword: estimator}
    t_mean, t_var, o_mean, o_var = rm, rv, rm, rv
    for step, x in enumerate(batches, start=1):
        out, c = call(target, "batch_norm", x, gamma, beta, t_mean, t_var, training=True,
                      momentum=p, **mode)  # fmt: skip
        o = oracle.batch_norm(x, gamma, beta, o_mean, o_var, training=True, momentum=p, **mode)
        o_mean, o_var = o.running_mean, o.running_var
        what = f"batch_norm({keyword}={estimator!r}) at step {step} of {steps}:"
        assert_close(out[0], o.y, what=f"{what} y", call=c, dtype=F64)
        assert_close(out[2], o_mean, what=f"{what} running_mean", call=c, dtype=F64)
        assert_close(out[3], o_var, what=f"{what} running_var", call=c, dtype=F64)
        t_mean, t_var = np.asarray(out[2], np.float64), np.asarray(out[3], np.float64)


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS)
def test_batch_norm_in_evaluation_uses_and_keeps_the_running_statistics(target, data, seed):
    shape = data.draw(bn_shapes(min_n=1), label="shape")
    eps = data.draw(EPSILONS, label="eps")
    x, gamma, beta, rm, rv = bn_inputs(seed, shape)
    dy = np.random.default_rng(seed + 1).standard_normal(shape)
    kwargs = dict(training=False, momentum=0.9, eps=eps)
    out, c = call(target, "batch_norm", x, gamma, beta, rm, rv, **kwargs)
    expected = oracle.batch_norm(x, gamma, beta, rm, rv, **kwargs)
    assert_close(out[0], expected.y, what="batch_norm(...).y in evaluation", call=c, dtype=F64)
    assert_close(out[2], rm, what="running_mean after evaluation (unchanged)", call=c, dtype=F64)
    assert_close(out[3], rv, what="running_var after evaluation (unchanged)", call=c, dtype=F64)
    grads, c_back = call(target, "batch_norm_backward", dy, out[1])
    reference = oracle.batch_norm_backward(dy, expected.cache)
    for index, part in ((3, "dx"), (4, "dgamma"), (5, "dbeta")):
        assert_close(grads[index], reference[index], what=f"batch_norm_backward {part} in "
                     "evaluation", call=c_back, dtype=F64)  # fmt: skip
    forward = target.get("batch_norm")
    assert_backward_matches_finite_differences(
        lambda x, gamma, beta: forward(x, gamma, beta, rm, rv, **kwargs)[0],
        [x, gamma, beta], dy, list(grads[3:6]), [0, 1, 2], seed=seed,
        what="batch_norm_backward in evaluation", call=c_back,
        oracle=lambda x, gamma, beta: oracle.batch_norm(x, gamma, beta, rm, rv, **kwargs).y,
    )  # fmt: skip


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS)
def test_batch_norm_statistics_are_per_channel_on_feature_maps(target, data, seed):
    # (N, C, H, W) with N ≠ C and channels of very different means and scales: statistics over
    # the wrong axes ((N,), (N, C), (H, W), or C taken for N) cannot match
    shape = data.draw(bn_shapes(spatial=True), label="shape")
    x, gamma, beta, rm, rv = bn_inputs(seed, shape)
    channel = np.arange(shape[1]).reshape(1, -1, 1, 1)
    x = x * (1.0 + channel) + 5.0 * channel
    out, c = call(target, "batch_norm", x, gamma, beta, rm, rv, training=True, momentum=0.5)
    expected = oracle.batch_norm(x, gamma, beta, rm, rv, training=True, momentum=0.5)
    assert_close(out[0], expected.y, what=f"batch_norm(x of shape {shape}).y", call=c, dtype=F64)
    assert_close(out[2], expected.running_mean, what="running_mean (C,) of feature maps",
                 call=c, dtype=F64)  # fmt: skip


@pytest.mark.algorithm("batch_norm")
@given(seed=SEEDS, channels=st.integers(1, 4), eps=EPSILONS)
def test_batch_norm_handles_a_batch_of_two(target, seed, channels, eps):
    # m = 2: x̂ = ±σ/√(σ² + ε), the smallest batch with a variance
    x, gamma, beta, rm, rv = bn_inputs(seed, (2, channels))
    dy = np.random.default_rng(seed + 1).standard_normal(x.shape)
    out, c = call(target, "batch_norm", x, gamma, beta, rm, rv, training=True, eps=eps)
    expected = oracle.batch_norm(x, gamma, beta, rm, rv, training=True, eps=eps)
    assert_close(out[0], expected.y, what="batch_norm of a batch of two", call=c, dtype=F64)
    grads, c_back = call(target, "batch_norm_backward", dy, out[1])
    reference = oracle.batch_norm_backward(dy, expected.cache)
    assert_close(grads[3], reference.dx, what="dx of a batch of two", call=c_back, dtype=F64)


@pytest.mark.algorithm("batch_norm")
@given(seed=SEEDS, data=st.data(), value=st.floats(-100, 100))
def test_batch_norm_keeps_a_constant_channel_finite(target, seed, data, value):
    # σ² = 0 in channel 0: x̂ = 0/√ε, y = β, and ∂ℓ/∂x = (dx̂ − mean dx̂)/√ε, finite
    shape = data.draw(bn_shapes(), label="shape")
    x, gamma, beta, rm, rv = bn_inputs(seed, shape)
    x[:, 0] = value
    dy = np.random.default_rng(seed + 1).standard_normal(shape)
    out, c = call(target, "batch_norm", x, gamma, beta, rm, rv, training=True, eps=1e-5)
    expected = oracle.batch_norm(x, gamma, beta, rm, rv, training=True, eps=1e-5)
    # the mean of m equal values may be off by an ulp of |value| ≤ 100: x − μ ≈ 1e-14, /√ε
    # gives 5e-12 in x̂ (times |γ| ≤ 2)
    tol = Tolerance(rtol=1e-10, atol=1e-10)
    y = np.asarray(out[0], dtype=np.float64)
    if y.shape == shape and np.isnan(y[:, 0]).any() and not np.isnan(y[:, 1:]).any():
        fail(f"batch_norm with a constant channel (every value {value!r}) returns NaN there: "
             f"{ONE_PASS}. Its variance, 0 here, rounds to a negative number beyond −ε, and "
             "√(σ² + ε) of it is NaN; compute σ² as E[(x − μ)²]", c)  # fmt: skip
    assert_close(out[0], expected.y, what="batch_norm with a constant channel", call=c, tol=tol)
    grads, c_back = call(target, "batch_norm_backward", dy, out[1])
    reference = oracle.batch_norm_backward(dy, expected.cache)
    # the same x − μ error reaches dx through dvar·2(x − μ)/m ≈ |Σ dx̂ (x − μ)| ε^(-3/2)/m
    tol = Tolerance(rtol=1e-8, atol=1e-7)
    assert_close(grads[3], reference.dx, what="dx with a constant channel", call=c_back, tol=tol)


SPREADS = st.sampled_from([1e-2, 1.0, 1e2])


def _standardised(z: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """z with mean 0 and std 1 over ``axes``: σ(κ + z) then has mean exactly κσ and spread σ."""
    return (z - z.mean(axis=axes, keepdims=True)) / z.std(axis=axes, keepdims=True)


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS, spread=SPREADS)
def test_batch_norm_is_accurate_when_the_mean_is_1e3_times_the_spread(
    target, dtype, data, seed, spread
):
    # Inputs σ(κ + z) with z standardised per channel (batch mean 0, batch std 1), so that
    # every channel's mean is exactly κ = 1e3 times its spread, rounded to the dtype; the
    # oracle sees the same rounded values.
    kappa = 1e3
    shape = data.draw(bn_shapes(), label="shape")
    x, gamma, beta, rm, rv = bn_inputs(seed, shape)
    z = _standardised(np.random.default_rng(seed + 3).standard_normal(shape),
                      _channel_axes(len(shape)))  # fmt: skip
    x = (spread * (kappa + z)).astype(dtype)
    eps = 1e-5 * spread**2  # ε stays small against σ² at every scale
    gamma, beta, rm, rv = (a.astype(dtype) for a in (gamma, beta, rm, rv))
    out, c = call(target, "batch_norm", x, gamma, beta, rm, rv, training=True, eps=eps)
    expected = oracle.batch_norm(x, gamma, beta, rm, rv, training=True, eps=eps).y
    ndim = len(shape)
    g, b = (_on_axis_1(a.astype(np.float64), ndim) for a in (gamma, beta))

    def x_hat_of(y):  # the target's x̂
        return (y - b) / g

    _assert_accurate_at_a_large_mean(
        out[0], expected, kappa=kappa, x_hat_of=x_hat_of, x_hat=_x_hat(x, float(eps)),
        axes=_channel_axes(ndim), what="batch_norm of inputs with mean 1e3 × spread", call=c,
        dtype=dtype,
    )  # fmt: skip


ONE_PASS = (
    "one-pass variance E[x²] − E[x]² loses accuracy when the mean is large against the spread"
)


def _assert_accurate_at_a_large_mean(
    out, expected, *, kappa, x_hat_of, x_hat, axes, what, call, dtype
) -> None:
    """``out`` against ``expected`` on inputs whose mean is κ times their spread along
    ``axes``; a failure that is the right x̂ times a wrong factor per channel (per feature)
    names the one-pass variance as its cause.

    x − μ loses log10(κ) digits whatever the method (its condition number is |μ|/σ = κ), so
    the tolerance is the dtype's times κ (float32: rtol 2e-2·κ/1e3, atol 1e-3·κ/1e3 ≈ 16κu on
    an output of size ≤ 2). Measured for torch's batch norm over 3000 draws: at most 2.2κu·|γ|
    in float32, 1.0κu·|γ| in float64. A one-pass E[x²] − E[x]² loses κ² instead (≈ 6% of the
    variance in float32 at κ = 1e3). ``x_hat_of(y)`` is the target's x̂ from its output
    ((y − β)/γ for batch norm), ``x_hat`` the right one."""
    base = tolerance(dtype)
    tol = Tolerance(rtol=kappa * base.rtol, atol=kappa * base.atol)
    if out is not None and np.shape(out) == expected.shape and not is_close(out, expected, tol):
        factor = _variance_off_by(x_hat_of(np.asarray(out, dtype=np.float64)), x_hat, axes)
        if factor is not None:
            fail(f"{what}: {ONE_PASS}. The output is the right x̂ times a wrong factor per "
                 f"channel or feature (up to {factor:.3g} off 1, or NaN): the mean is right "
                 f"and the variance is not, as when σ² = E[x²] − E[x]² cancels "
                 f"κ² = {kappa**2:.3g} times σ² (flax's use_fast_variance, Keras, "
                 "jax.nn.standardize's default algorithm='fast'); compute it as "
                 "E[(x − μ)²]", call)  # fmt: skip
    assert_close(out, expected, what=what, call=call, dtype=dtype, tol=tol)


def _variance_off_by(u, x_hat, axes) -> float | None:
    """How far from 1 the per-channel factor r of u = r·x̂ is, when the target's x̂ ``u`` is
    the right ``x_hat`` up to that factor alone (a wrong variance, the right mean: the one-pass
    signature), NaN or inf counting as infinitely far; None when it is wrong in some other
    way."""
    if not np.isfinite(u).all():
        return float("inf")
    with np.errstate(invalid="ignore", divide="ignore"):  # a channel whose x̂ is all 0
        r = np.sum(u * x_hat, axis=axes, keepdims=True) / np.sum(x_hat * x_hat, axis=axes,
                                                                  keepdims=True)  # fmt: skip
        if not np.max(np.abs(u - r * x_hat)) <= 1e-3 * np.max(np.abs(x_hat)):
            return None  # not a per-channel scale of the right x̂
    return float(np.max(np.abs(r - 1.0)))


# --- group normalisation ----------------------------------------------------------------


@st.composite
def gn_inputs(draw, seed: int, dtype: str = F64):
    groups = draw(st.integers(1, 3), label="num_groups")
    per_group = draw(st.integers(1, 3), label="channels per group")
    n = draw(st.integers(1, 3), label="N")
    spatial = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2), label="spatial")
    shape = (n, groups * per_group, *spatial)
    if per_group * int(np.prod(spatial)) < 2:
        # at least two values per (sample, group): a group of one value has no spread
        # (the oracle gives β; torch refuses it as "more than 1 value per channel")
        shape = (n, groups * per_group, 2)
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.uniform(-2, 2, (n, 1) + (1,) * (len(shape) - 2)) + rng.standard_normal(shape)
    grouped = x.reshape((n, groups, -1))  # (N, G, values of a group)
    x = spread_out(grouped, (2,)).reshape(shape)
    gamma, beta = rng.uniform(0.5, 2.0, c), rng.uniform(-1, 1, c)
    return tuple(a.astype(dtype) for a in (x, gamma, beta)), groups


@pytest.mark.algorithm("group_norm")
@given(data=st.data(), seed=SEEDS, eps=EPSILONS)
def test_group_norm_matches_the_oracle(target, dtype, data, seed, eps):
    (x, gamma, beta), groups = data.draw(gn_inputs(seed, dtype))
    out, c = call(target, "group_norm", x, gamma, beta, num_groups=groups, eps=eps)
    expected = oracle.group_norm(x, gamma, beta, num_groups=groups, eps=eps)
    assert_close(out, expected, what=f"group_norm(x, num_groups={groups})", call=c, dtype=dtype)


@pytest.mark.algorithm("group_norm")
@given(data=st.data(), seed=SEEDS, eps=EPSILONS)
def test_group_norm_normalises_each_sample_on_its_own(target, data, seed, eps):
    # no statistic crosses the batch: the first sample alone gives the same output
    (x, gamma, beta), groups = data.draw(gn_inputs(seed))
    out, c = call(target, "group_norm", x, gamma, beta, num_groups=groups, eps=eps)
    alone, c_alone = call(target, "group_norm", x[:1], gamma, beta, num_groups=groups, eps=eps)
    expected = oracle.group_norm(x[:1], gamma, beta, num_groups=groups, eps=eps)
    assert_close(alone, expected, what="group_norm of the first sample alone", call=c_alone,
                 dtype=F64)  # fmt: skip
    assert_close(np.asarray(out)[:1], expected, what="group_norm of the first sample in its "
                 "batch", call=c, dtype=F64)  # fmt: skip


@pytest.mark.algorithm("group_norm")
@given(data=st.data(), seed=SEEDS, eps=EPSILONS)
def test_group_norm_backward_matches_the_oracle_and_finite_differences(target, data, seed, eps):
    (x, gamma, beta), groups = data.draw(gn_inputs(seed))
    dy = np.random.default_rng(seed + 1).standard_normal(x.shape)
    kwargs = dict(num_groups=groups, eps=eps)
    grads, c = call(target, "group_norm_backward", x, gamma, beta, dy, **kwargs)
    expected = oracle.group_norm_backward(x, gamma, beta, dy, **kwargs)
    for got, want, part in zip(grads, expected, ("dx", "dgamma", "dbeta"), strict=True):
        assert_close(got, want, what=f"group_norm_backward {part}", call=c, dtype=F64)
    forward = target.get("group_norm")
    if forward is not None:
        assert_backward_matches_finite_differences(
            lambda x, gamma, beta: forward(x, gamma, beta, **kwargs), [x, gamma, beta], dy,
            list(grads), [0, 1, 2], seed=seed, what="group_norm_backward", call=c,
            oracle=lambda x, gamma, beta: oracle.group_norm(x, gamma, beta, **kwargs),
        )  # fmt: skip


# --- feature normalisation --------------------------------------------------------------


def _features(seed: int, data, dtype: str = F64) -> np.ndarray:
    n, d = data.draw(st.integers(2, 8), label="N"), data.draw(st.integers(1, 4), label="D")
    rng = np.random.default_rng(seed)
    X = spread_out(
        rng.uniform(-5, 5, d) + rng.uniform(0.5, 3, d) * rng.standard_normal((n, d)), (0,)
    )
    return X.astype(dtype)


@pytest.mark.algorithm("feature_normalization")
@given(data=st.data(), seed=SEEDS, eps=st.sampled_from([0.0, 1e-3]))
def test_feature_normalization_matches_the_oracle(target, dtype, data, seed, eps):
    X = _features(seed, data, dtype)
    out, c = call(target, "feature_normalization", X, eps=eps)
    expected = oracle.feature_normalization(X, eps=eps)
    assert_close(out, expected, what="feature_normalization(X)", call=c, dtype=dtype)


@pytest.mark.algorithm("feature_normalization")
@given(data=st.data(), seed=SEEDS, spread=SPREADS)
def test_feature_normalization_is_accurate_when_the_mean_is_1e3_times_the_spread(
    target, dtype, data, seed, spread
):
    # Each feature σ_j(κ_j ± z_j), z standardised per feature and κ_j ≥ 1e3 drawn: its mean
    # is κ_j times its spread, the regime where a one-pass variance fails (the ordinary
    # draws reach it only now and then); the tolerance is κ = max κ_j times the dtype's.
    n, d = data.draw(st.integers(2, 8), label="N"), data.draw(st.integers(1, 4), label="D")
    rng = np.random.default_rng(seed)
    kappas = rng.uniform(1e3, 3e3, d) * rng.choice([-1.0, 1.0], d)
    scales = spread * rng.uniform(0.5, 2.0, d)
    X = (scales * (kappas + _standardised(rng.standard_normal((n, d)), (0,)))).astype(dtype)
    out, c = call(target, "feature_normalization", X)
    expected = oracle.feature_normalization(X)
    _assert_accurate_at_a_large_mean(
        out, expected, kappa=float(np.max(np.abs(kappas))), x_hat_of=lambda y: y,
        x_hat=expected, axes=(0,), what="feature_normalization(X) of features with mean "
        "≥ 1e3 × spread", call=c, dtype=dtype,
    )  # fmt: skip


@pytest.mark.algorithm("feature_normalization")
@given(data=st.data(), seed=SEEDS)
def test_feature_normalization_gives_mean_zero_and_unit_variance(target, data, seed):
    X = _features(seed, data)
    out, c = call(target, "feature_normalization", X)
    out = np.asarray(out, dtype=np.float64)
    if out.shape != X.shape:
        fail(f"feature_normalization has shape {out.shape}, but should have {X.shape}", c)
    d = X.shape[1]
    assert_close(out.mean(axis=0), np.zeros(d), what="mean of each feature", call=c, dtype=F64)
    assert_close(out.var(axis=0), np.ones(d), what="population variance of each feature",
                 call=c, dtype=F64)  # fmt: skip


@pytest.mark.algorithm("feature_normalization")
@given(data=st.data(), seed=SEEDS, eps=st.sampled_from([0.0, 1e-3]))
def test_feature_normalization_backward_matches_the_oracle_and_finite_differences(
    target, data, seed, eps
):
    X = _features(seed, data)
    dy = np.random.default_rng(seed + 1).standard_normal(X.shape)
    dx, c = call(target, "feature_normalization_backward", X, dy, eps=eps)
    expected = oracle.feature_normalization_backward(X, dy, eps=eps)
    assert_close(dx, expected, what="feature_normalization_backward", call=c, dtype=F64)
    forward = target.get("feature_normalization")
    if forward is not None:
        assert_backward_matches_finite_differences(
            lambda X: forward(X, eps=eps), [X], dy, [dx], [0], seed=seed,
            what="feature_normalization_backward", call=c,
            oracle=lambda X: oracle.feature_normalization(X, eps=eps),
        )  # fmt: skip


# --- weight normalisation ---------------------------------------------------------------


@st.composite
def wn_inputs(draw, seed: int, dtype: str = F64):
    """A vector v with a scalar g, or a weight (out, in, …) with g of shape (out,)."""
    shape = draw(st.sampled_from([(4,), (3, 2), (2, 5), (3, 2, 2)]), label="v shape")
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(shape)
    g = rng.uniform(0.2, 3.0, () if len(shape) == 1 else shape[:1])
    g = g * rng.choice([-1.0, 1.0], np.shape(g))
    return v.astype(dtype), np.asarray(g).astype(dtype)


# flax's WeightNorm computes v·rsqrt(Σv² + ε) with ε = 1e-12 (flax/linen/normalization.py,
# ``_l2_normalize``; optax and jax's own l2 normalisers do the same): a guard against 0/0, not
# another formula. It moves w by the factor (1 + ε/‖v‖²)^(−1/2), i.e. ε/(2‖v‖²) relative:
# below float64's tolerance (1e-10) once ‖v‖² ≥ 5e-3, above it only for the tiny v a check
# draws on purpose (v scaled by 1e-3). A tolerance, not a variant: the tolerance grows by
# GUARD_EPS/(2‖v‖²) for the smallest row of v, so a guard up to 1e-12 passes and a guard
# that matters at ordinary scales (ε = 1e-6 inside the root) still fails.
GUARD_EPS = 1e-12


def _guarded(tol: Tolerance, v: np.ndarray, *, backward: bool = False) -> Tolerance:
    """``tol`` widened by the effect of a guard ε ≤ GUARD_EPS inside ‖v‖'s root: ε/(2‖v‖²)
    relative on w, ε/‖v‖² on ‖w‖² and on the gradients in units of their terms' size
    (``backward``: added to atol, those units being the scale)."""
    smallest = float(np.min(_row_norms(np.asarray(v, dtype=np.float64)) ** 2))
    if backward:
        return Tolerance(rtol=tol.rtol, atol=tol.rtol + GUARD_EPS / smallest)
    return Tolerance(rtol=tol.rtol + GUARD_EPS / (2 * smallest), atol=tol.atol)


def _on_rows(per_row: np.ndarray, ndim: int) -> np.ndarray:
    """One value per output row, shaped to broadcast over a weight of ``ndim`` axes."""
    return per_row if ndim <= 1 else np.reshape(per_row, (-1,) + (1,) * (ndim - 1))


def _in_units(out, scale: np.ndarray):
    """``out`` divided by ``scale`` in its own dtype, where it is an array of scale's shape
    (else as it is, for assert_close to report)."""
    if out is None or np.shape(out) != np.broadcast_shapes(np.shape(out), np.shape(scale)):
        return out
    array = np.asarray(out)
    if not np.issubdtype(array.dtype, np.floating):
        return out
    return derived((array / scale).astype(array.dtype), out)  # the field, for the ledger


def _row_norms(w: np.ndarray) -> np.ndarray:
    return (
        np.sqrt(np.sum(w**2))
        if w.ndim == 1
        else np.sqrt(np.sum(w**2, axis=tuple(range(1, w.ndim))))
    )


@pytest.mark.algorithm("weight_norm")
@given(data=st.data(), seed=SEEDS)
def test_weight_norm_matches_the_oracle(target, dtype, data, seed):
    v, g = data.draw(wn_inputs(seed, dtype))
    out, c = call(target, "weight_norm", v, g)
    assert_close(out, oracle.weight_norm(v, g), what="weight_norm(v, g)", call=c, dtype=dtype,
                 tol=_guarded(tolerance(dtype), v))  # fmt: skip


@pytest.mark.algorithm("weight_norm")
@given(data=st.data(), seed=SEEDS, scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_weight_norm_has_norm_abs_g_whatever_v(target, data, seed, scale):
    v, g = data.draw(wn_inputs(seed))
    out, c = call(target, "weight_norm", scale * v, g)
    w = np.asarray(out, dtype=np.float64)
    if w.shape != v.shape:
        fail(f"weight_norm has shape {w.shape}, but should have shape {v.shape}", c)
    assert_close(_row_norms(w), np.abs(g), what=f"‖w‖ per output row for v scaled by {scale}",
                 call=c, dtype=F64, tol=_guarded(tolerance(F64), scale * v))  # fmt: skip


@pytest.mark.algorithm("weight_norm")
@given(data=st.data(), seed=SEEDS)
def test_weight_norm_backward_matches_the_oracle_and_finite_differences(target, data, seed):
    v, g = data.draw(wn_inputs(seed))
    dw = np.random.default_rng(seed + 1).standard_normal(v.shape)
    grads, c = call(target, "weight_norm_backward", v, g, dw)
    expected = oracle.weight_norm_backward(v, g, dw)
    # Each row's gradients are a projection of dw: dv = (g/‖v‖)(dw − v̂(v̂·dw)), dg = v̂·dw.
    # Their rounding error (and a guard ε's effect, ε/‖v‖² of it) is relative to the size of
    # the terms, |g|‖dw‖/‖v‖ and ‖dw‖, not to an entry that cancels to near 0: compared in
    # those units, each row by its own.
    norms, dw_norms = _row_norms(v), _row_norms(dw)
    tol = _guarded(tolerance(F64), v, backward=True)
    for name, got, want, scale in (
        ("dv", grads[0], expected[0], _on_rows(np.abs(g) * dw_norms / norms, v.ndim)),
        ("dg", grads[1], expected[1], dw_norms),
    ):
        what = f"weight_norm_backward {name} in units of its terms' size per row"
        assert_close(_in_units(got, scale), want / scale, what=what, call=c, dtype=F64, tol=tol)
    forward = target.get("weight_norm")
    if forward is not None:
        assert_backward_matches_finite_differences(
            forward, [v, g], dw, list(grads), [0, 1], seed=seed, what="weight_norm_backward",
            call=c, oracle=oracle.weight_norm,
        )  # fmt: skip


# --- spectral normalisation -------------------------------------------------------------


def _matrix_with_a_gap(seed: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """W = U diag(s) Vᵀ with s₂/s₁ ≤ 0.6, so power iteration converges like 0.36 per call."""
    rng = np.random.default_rng(seed)
    k = min(shape)
    U, _ = np.linalg.qr(rng.standard_normal((shape[0], k)))
    V, _ = np.linalg.qr(rng.standard_normal((shape[1], k)))
    top = rng.uniform(0.5, 5.0)
    s = np.concatenate([[top], top * np.sort(rng.uniform(0.05, 0.6, k - 1))[::-1]])
    return (U * s) @ V.T, rng.standard_normal(shape[0])


SPECTRAL_SHAPES = st.tuples(st.integers(2, 5), st.integers(2, 5))


@pytest.mark.algorithm("spectral_norm")
@given(seed=SEEDS, shape=SPECTRAL_SHAPES)
def test_spectral_norm_matches_one_power_iteration_of_the_oracle(target, seed, shape):
    W = np.random.default_rng(seed).standard_normal(shape)
    u = np.random.default_rng(seed + 1).standard_normal(shape[0])
    u /= np.linalg.norm(u)
    out, c = call(target, "spectral_norm", W, u, n_power_iterations=1)
    expected = oracle.spectral_norm(W, u, n_power_iterations=1)
    for index, part in enumerate(("weight", "u", "v", "sigma")):  # torch keeps σ (None)
        assert_close(out[index], expected[index], what=f"spectral_norm(W, u).{part} after one "
                     "power iteration", call=c, dtype=F64)  # fmt: skip


@pytest.mark.algorithm("spectral_norm")
@given(seed=SEEDS, shape=SPECTRAL_SHAPES)
def test_spectral_norm_converges_to_the_top_singular_value(target, seed, shape):
    # 40 calls of one iteration each, u (and v) carried between calls as in training: the
    # error in σ falls like (s₂/s₁)^(2·calls) ≤ 0.36^40 ≈ 1e-18
    W, u = _matrix_with_a_gap(seed, shape)
    v = None
    for _ in range(40):
        out, c = call(target, "spectral_norm", W, u, v, n_power_iterations=1)
        u, v = np.asarray(out[1], dtype=np.float64), np.asarray(out[2], dtype=np.float64)
    weight = np.asarray(out[0], dtype=np.float64)
    if weight.shape != W.shape:
        fail(f"spectral_norm weight has shape {weight.shape}, but should have {W.shape}", c)
    # a target that keeps σ to itself (torch) still gives W/σ, hence σ = ‖W‖_F/‖W/σ‖_F
    sigma = out[3] if out[3] is not None else np.linalg.norm(W) / np.linalg.norm(weight)
    top = np.linalg.svd(W, compute_uv=False)[0]
    assert_close(np.float64(sigma), top, what="σ after 40 calls against numpy.linalg.svd",
                 call=c, dtype=F64)  # fmt: skip
    assert_close(np.linalg.svd(weight, compute_uv=False)[0], 1.0,
                 what="the top singular value of W/σ", call=c, dtype=F64)  # fmt: skip


@pytest.mark.algorithm("spectral_norm")
@given(seed=SEEDS, shape=SPECTRAL_SHAPES)
def test_spectral_norm_backward_matches_the_oracle_and_finite_differences(target, seed, shape):
    # u, v held constant (as the forward returned them): W̄ = W/(uᵀWv)
    W, u = _matrix_with_a_gap(seed, shape)
    o = oracle.spectral_norm(W, u, n_power_iterations=1)
    dy = np.random.default_rng(seed + 1).standard_normal(shape)
    dW, c = call(target, "spectral_norm_backward", W, o.u, o.v, dy)
    expected = oracle.spectral_norm_backward(W, o.u, o.v, dy)
    assert_close(dW, expected, what="spectral_norm_backward(W, u, v, dy)", call=c, dtype=F64)
    forward = target.get("spectral_norm")
    if forward is not None:
        assert_backward_matches_finite_differences(
            lambda W: forward(W, o.u, o.v, n_power_iterations=0)[0], [W], dy, [dW], [0],
            seed=seed, what="spectral_norm_backward", call=c,
        )  # fmt: skip


# --- singular value bounding ------------------------------------------------------------


@pytest.mark.algorithm("singular_value_bounding")
@given(seed=SEEDS, shape=SPECTRAL_SHAPES, eps=st.sampled_from([0.0, 0.1, 0.5, 2.0]))
def test_singular_value_bounding_clips_the_singular_values(target, seed, shape, eps):
    W = 1.5 * np.random.default_rng(seed).standard_normal(shape)
    out, c = call(target, "singular_value_bounding", W, eps=eps)
    expected = oracle.singular_value_bounding(W, eps=eps)
    assert_close(out, expected, what=f"singular_value_bounding(W, eps={eps})", call=c, dtype=F64)
    clipped = np.clip(np.linalg.svd(W, compute_uv=False), 1 / (1 + eps), 1 + eps)
    assert_close(np.linalg.svd(np.asarray(out, np.float64), compute_uv=False), clipped,
                 what="singular values of the result against numpy.linalg.svd, clipped",
                 call=c, dtype=F64)  # fmt: skip


@pytest.mark.algorithm("weight_norm")
@given(seed=SEEDS, d_o=st.integers(1, 5), d_i=st.integers(1, 5), conv=st.booleans())
def test_weight_norm_with_unit_g_has_squared_singular_values_summing_to_d_o(
    target, seed, d_o, d_i, conv
):
    # seed 004 (catalogue weight_norm): every row normalised and g = 1 ⇒ Σᵢ σᵢ(W̄)² = ‖W̄‖_F²
    # = d_o, W̄ the (d_o, ·) matrix of the rows; σ from numpy.linalg.svd, not from the target.
    # The rows have d_i ≠ d_o entries, so that normalising columns instead (Σσ² = d_i) shows.
    shape = (d_o, d_i + (d_i >= d_o)) + ((3, 3) if conv else ())
    v = np.random.default_rng(seed).standard_normal(shape)
    out, c = call(target, "weight_norm", v, np.ones(d_o))
    w = np.asarray(out, dtype=np.float64)
    if w.shape != v.shape:
        fail(f"weight_norm has shape {w.shape}, but should have shape {v.shape}", c)
    sigma = np.linalg.svd(w.reshape(d_o, -1), compute_uv=False)
    # a row of one or two entries may be short: a guard ε in the root moves ‖w‖² by ε/‖v‖²
    smallest = float(np.min(_row_norms(v) ** 2))
    tol = Tolerance(rtol=tolerance(F64).rtol + GUARD_EPS / smallest, atol=tolerance(F64).atol)
    assert_close(np.sum(sigma**2), float(d_o), what=f"Σ σᵢ(W̄)² of weight_norm(v, g = 1), v of "
                 f"shape {shape}", call=c, dtype=F64, tol=tol)  # fmt: skip


@pytest.mark.algorithm("batch_norm")
@given(data=st.data(), seed=SEEDS)
def test_batch_norm_in_evaluation_gives_the_gradients_of_the_running_statistics(target, data, seed):
    # Every field of the backward in evaluation too: ∂ℓ/∂x̂ = dy·γ, and ∂ℓ/∂σ², ∂ℓ/∂μ are the
    # gradients with respect to the running statistics as free inputs (σ̄² does not depend on
    # μ̄, so ∂ℓ/∂μ has only its first term): against the oracle, and against central
    # differences of the target's forward in running_mean and running_var.
    shape = data.draw(bn_shapes(min_n=1), label="shape")
    eps = data.draw(EPSILONS, label="eps")
    x, gamma, beta, rm, rv = bn_inputs(seed, shape)
    dy = np.random.default_rng(seed + 1).standard_normal(shape)
    kwargs = dict(training=False, eps=eps)
    out, _ = call(target, "batch_norm", x, gamma, beta, rm, rv, **kwargs)
    grads, c_back = call(target, "batch_norm_backward", dy, out[1])
    reference = oracle.batch_norm_backward(dy, oracle.batch_norm(x, gamma, beta, rm, rv,
                                                                 **kwargs).cache)  # fmt: skip
    for index, part in enumerate(PARTS[:3]):
        assert_close(grads[index], reference[index], what=f"batch_norm_backward {part} in "
                     "evaluation", call=c_back, dtype=F64)  # fmt: skip
    if grads[1] is None or grads[2] is None:
        return  # not exposed: nothing to differentiate against
    forward = target.get("batch_norm")
    assert_backward_matches_finite_differences(
        lambda mean, var: forward(x, gamma, beta, mean, var, **kwargs)[0],
        [rm, rv], dy, [grads[2], grads[1]], [0, 1], seed=seed,
        what="batch_norm_backward dmean, dvar in evaluation", call=c_back,
    )  # fmt: skip


def _tiny_power_iteration(seed: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A W so small (‖Wᵀu‖ ≈ 1e-4) that with ε ≥ 1e-3 every normalisation of the power
    iteration is in its guard's hands: a/max(‖a‖, ε) divides by ε, a/√(‖a‖² + ε) by √ε, and a
    target that ignores ε normalises by ‖a‖."""
    W = 1e-4 * np.random.default_rng(seed).standard_normal(shape)
    u = np.random.default_rng(seed + 1).standard_normal(shape[0])
    return W, u / np.linalg.norm(u)


SPECTRAL_PARTS = ("weight", "u", "v", "sigma")  # torch keeps σ (None), flax v (None)


@pytest.mark.algorithm("spectral_norm")
@given(seed=SEEDS, shape=SPECTRAL_SHAPES, eps=st.sampled_from([1e-3, 1e-1]))
def test_spectral_norm_guards_a_tiny_power_iteration_with_the_eps_given(target, seed, shape, eps):
    # the default call measures the target's guard: max_norm (PyTorch) or eps_inside (flax)
    W, u = _tiny_power_iteration(seed, shape)
    out, c = call(target, "spectral_norm", W, u, n_power_iterations=1, eps=eps)
    expected = {
        variant: oracle.spectral_norm(W, u, n_power_iterations=1, eps=eps, variant=variant)
        for variant in oracle.SPECTRAL_NORM_VARIANTS
    }
    for index, part in enumerate(SPECTRAL_PARTS):
        assert_matches_variant(
            out[index], {variant: o[index] for variant, o in expected.items()},
            default="max_norm", what=f"spectral_norm(W, u, eps={eps}).{part}", call=c, dtype=F64,
        )  # fmt: skip


@pytest.mark.algorithm("spectral_norm")
@pytest.mark.parametrize(("keyword", "mode"), modes("spectral_norm"))
@given(seed=SEEDS, shape=SPECTRAL_SHAPES, eps=st.sampled_from([1e-3, 1e-1]))
def test_spectral_norm_in_each_mode_matches_the_oracle_in_that_mode(
    target, keyword, mode, seed, shape, eps
):
    W, u = _tiny_power_iteration(seed, shape)
    options = {"n_power_iterations": 1, "eps": eps, keyword: mode}
    out, c = call(target, "spectral_norm", W, u, **options)
    expected = oracle.spectral_norm(W, u, **options)
    for index, part in enumerate(SPECTRAL_PARTS):
        assert_close(out[index], expected[index], what=f"spectral_norm(W, u, {options}).{part}",
                     call=c, dtype=F64)  # fmt: skip
