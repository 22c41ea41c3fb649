"""The activations of the reference against ground truth that does not come from it:
scipy.special (expit, erf, softmax, log_softmax, logsumexp), numerical integration
(scipy.integrate.quad), closed forms, and central finite differences for every backward."""

import math
import warnings

import numpy as np
import pytest
from scipy import integrate, special

from nnconform.reference import activations as act
from tests.gradcheck import assert_backward_matches_fd


def away_from(x: np.ndarray, kinks, margin: float = 1e-2) -> np.ndarray:
    """Move the points of x that lie within ``margin`` of a kink out by 2·margin, so that
    central differences never straddle a kink."""
    for k in kinks:
        near = np.abs(x - k) < margin
        x = np.where(near, k + np.where(x >= k, 2, -2) * margin, x)
    return x


# --- forward values against independent implementations ----------------------------------


def test_sigmoid_equals_scipy_expit_and_never_overflows():
    x = np.concatenate([np.linspace(-50, 50, 1001), [-1e4, -745.0, 745.0, 1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would raise here
        y = act.sigmoid(x)
    np.testing.assert_allclose(y, special.expit(x), rtol=1e-15, atol=1e-300)  # denormals
    assert y[-4] == 0.0 and y[-1] == 1.0


def test_sigmoid_derivative_peaks_at_a_quarter_at_zero():
    x = np.linspace(-10, 10, 20001)  # contains 0 exactly
    d = act.sigmoid_backward(x, np.ones_like(x))
    assert d.max() == pytest.approx(0.25, abs=1e-15)
    assert x[d.argmax()] == 0.0


def test_tanh_equals_its_exponential_definition():
    x = np.linspace(-5, 5, 101)
    definition = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
    np.testing.assert_allclose(act.tanh(x), definition, rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize(
    ("name", "definition"),
    [
        ("relu", lambda x: np.array([max(0.0, v) for v in x])),
        ("leaky_relu", lambda x: np.array([v if v >= 0 else 0.01 * v for v in x])),
        ("elu", lambda x: np.array([v if v > 0 else np.exp(v) - 1 for v in x])),
        ("relu6", lambda x: np.array([min(max(0.0, v), 6.0) for v in x])),
        (
            "selu",
            lambda x: (
                1.0507009873554805
                * np.array([v if v > 0 else 1.6732632423543772 * (np.exp(v) - 1) for v in x])
            ),
        ),
        ("softplus", lambda x: np.log1p(np.exp(x))),
    ],
)
def test_piecewise_activations_equal_their_catalogue_formula(name, definition):
    x = np.linspace(-8, 9, 171)
    np.testing.assert_allclose(getattr(act, name)(x), definition(x), rtol=1e-13, atol=1e-15)


def test_prelu_uses_one_slope_per_channel_on_axis_1():
    x = np.array([[[-1.0, 2.0]], [[-3.0, -4.0]]]).repeat(3, axis=1)  # (N=2, C=3, L=2)
    a = np.array([0.1, 0.2, 0.3])
    y = act.prelu(x, a)
    for c in range(3):
        np.testing.assert_allclose(y[:, c], np.where(x[:, c] >= 0, x[:, c], a[c] * x[:, c]))
    np.testing.assert_allclose(act.prelu(x, [0.25]), act.leaky_relu(x, alpha=0.25))


def test_softplus_is_stable_at_extreme_inputs():
    x = np.array([-1e4, -800.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = act.softplus(x)
    np.testing.assert_allclose(y, [0.0, np.exp(-800.0), 800.0, 1e4], rtol=1e-15)


def test_selu_keeps_mean_zero_and_variance_one_of_a_standard_normal_input():
    def moment(k: int) -> float:
        integrand = lambda z: float(act.selu(np.array(z))) ** k * np.exp(-z * z / 2)  # noqa: E731
        total = sum(
            integrate.quad(integrand, lo, hi, epsabs=1e-13)[0]
            for lo, hi in [(-np.inf, 0.0), (0.0, np.inf)]
        )  # split at the kink
        return total / np.sqrt(2 * np.pi)

    mean, second = moment(1), moment(2)
    assert mean == pytest.approx(0.0, abs=1e-6)
    assert second - mean**2 == pytest.approx(1.0, abs=1e-6)


def test_gelu_erf_equals_x_times_the_normal_cdf_by_integration():
    x = np.linspace(-6, 6, 49)
    cdf = np.array(
        [
            integrate.quad(lambda z: np.exp(-z * z / 2) / np.sqrt(2 * np.pi), -np.inf, v)[0]
            for v in x
        ]
    )
    np.testing.assert_allclose(act.gelu(x, variant="erf"), x * cdf, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        act.gelu(x, variant="erf"),
        x * 0.5 * (1 + special.erf(x / np.sqrt(2))),
        rtol=1e-14,
        atol=1e-16,
    )


def test_gelu_variants_differ_by_at_most_4_8e_4():
    x = np.linspace(-10, 10, 200001)
    gap = np.abs(act.gelu(x, variant="tanh") - act.gelu(x, variant="erf")).max()
    assert 4.0e-4 < gap < 4.8e-4  # the bound is tight: the variants are distinguishable


MAX = float(np.finfo(np.float64).max)


@pytest.mark.parametrize("variant", ["tanh", "erf"])
def test_gelu_and_its_derivative_reach_their_asymptotes_at_every_magnitude(variant):
    # x³ overflows past 5.6e102 and x² past 1.3e154: GELU is still x (or −0) and its
    # derivative 1 (or 0), with no NaN from 0·inf and no warning
    x = np.array([40.0, 1e3, 1e103, 1e160, MAX])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        up, down = act.gelu(x, variant=variant), act.gelu(-x, variant=variant)
        d_up = act.gelu_backward(x, np.ones_like(x), variant=variant)
        d_down = act.gelu_backward(-x, np.ones_like(x), variant=variant)
    np.testing.assert_array_equal(up, x)
    np.testing.assert_array_equal(down, np.zeros_like(x))
    np.testing.assert_array_equal(d_up, np.ones_like(x))
    np.testing.assert_array_equal(d_down, np.zeros_like(x))


def test_gelu_tanh_derivative_where_tanh_saturates_matches_central_differences():
    # around |u| ≈ 19, where 1 − tanh²(u) first rounds to 0 in float64 (|x| ≈ 7.2)
    x = np.array([-7.5, -7.2, -7.0, 7.0, 7.2, 7.5])
    h = 1e-6
    fd = (act.gelu(x + h) - act.gelu(x - h)) / (2 * h)
    np.testing.assert_allclose(act.gelu_backward(x, np.ones_like(x)), fd, rtol=1e-8, atol=1e-9)


def test_activations_reach_their_asymptotes_past_the_overflow_of_exp():
    x = np.array([709.79, 800.0, 1e4, 1e300])
    lam, alpha = act.SELU_LAMBDA, act.SELU_ALPHA
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(act.softplus(x), x)  # x + log(1 + e^−x), e^−x < ulp/2
        np.testing.assert_array_equal(act.elu(x), x)
        np.testing.assert_array_equal(act.selu(x), lam * x)
        np.testing.assert_array_equal(act.sigmoid(x), 1.0)
        np.testing.assert_array_equal(act.tanh(x), 1.0)
        np.testing.assert_array_equal(act.softplus_sum(x, N=10), 10.0)
        np.testing.assert_array_equal(act.softplus(-x), [np.exp(-709.79), 0.0, 0.0, 0.0])
        np.testing.assert_array_equal(act.elu(-x), -1.0)
        np.testing.assert_allclose(act.selu(-x), -lam * alpha, rtol=1e-15)
        np.testing.assert_array_equal(act.tanh(-x), -1.0)


def test_selu_is_inf_only_where_lambda_x_exceeds_the_range():
    below = MAX / act.SELU_LAMBDA * (1 - 1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = act.selu(np.array([below, MAX]))
    assert np.isfinite(y[0]) and y[0] == pytest.approx(act.SELU_LAMBDA * below, rel=1e-15)
    assert y[1] == np.inf


def test_softmax_and_log_softmax_at_logits_of_the_largest_magnitude():
    # z − max z = −2·max overflows: its exponential is 0, its log-softmax −inf (the true
    # value −3.6e308 rounded), and the other entries exact
    z = np.array([[MAX, -MAX, 0.0], [1e4, 0.0, -1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, log_y = act.softmax(z), act.log_softmax(z)
    np.testing.assert_array_equal(y, [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(log_y, [[0.0, -np.inf, -MAX], [0.0, -1e4, -2e4]])


@pytest.mark.parametrize(
    ("name", "kwargs", "x", "expected"),
    [
        ("relu", {}, [-0.0, 0.0], [0.0, 0.0]),
        ("relu6", {}, [-0.0, 0.0, 6.0], [0.0, 0.0, 0.0]),
        ("leaky_relu", {"alpha": 0.1}, [-0.0, 0.0], [1.0, 1.0]),  # the catalogue's 1
        ("elu", {"alpha": 0.5}, [-0.0, 0.0], [0.5, 0.5]),  # α·e^0, the left derivative
        ("selu", {}, [-0.0, 0.0], [1.0507009873554805 * 1.6732632423543772] * 2),
    ],
)
def test_backward_takes_the_documented_subgradient_at_each_kink(name, kwargs, x, expected):
    x = np.array(x)
    dy = np.full_like(x, -2.5)
    got = getattr(act, f"{name}_backward")(x, dy, **kwargs)
    np.testing.assert_allclose(got, -2.5 * np.array(expected), rtol=1e-15)


@pytest.mark.parametrize(("N", "worst"), [(5, 0.017), (10, 0.0106), (20, 0.0106)])
def test_softplus_sum_approximates_softplus_below_n_minus_5(N, worst):
    x = np.linspace(-20, N - 5, 20001)
    error = np.abs(act.softplus_sum(x, N=N) - act.softplus(x)).max()
    assert error < 0.02
    assert error == pytest.approx(worst, abs=5e-4)


def test_softmax_and_log_softmax_equal_scipy():
    z = np.random.default_rng(0).normal(scale=5, size=(7, 11))
    for axis in (0, 1, -1):
        np.testing.assert_allclose(
            act.softmax(z, axis=axis), special.softmax(z, axis=axis), rtol=1e-13
        )
        np.testing.assert_allclose(
            act.log_softmax(z, axis=axis), special.log_softmax(z, axis=axis), rtol=1e-13, atol=1e-13
        )
        np.testing.assert_allclose(
            act.log_softmax(z, axis=axis),
            z - special.logsumexp(z, axis=axis, keepdims=True),
            rtol=1e-13,
            atol=1e-13,
        )


def test_softmax_is_invariant_to_a_shift_and_finite_at_logits_of_1e4():
    z = np.array([[1e4, -1e4, 0.0, 1e4 - 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, logy = act.softmax(z), act.log_softmax(z)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(logy[:, [0, 3]]))
    np.testing.assert_allclose(y, special.softmax(z, axis=-1), rtol=1e-13, atol=0)
    np.testing.assert_allclose(logy, special.log_softmax(z, axis=-1), rtol=1e-13)
    w = np.random.default_rng(1).normal(size=(3, 5))
    np.testing.assert_allclose(act.softmax(w + 123.25), act.softmax(w), rtol=1e-13)


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5])
def test_ckn_is_the_gaussian_kernel_of_unit_vectors(sigma, rng):
    # Mairal et al. 2014, §2: for ‖x‖ = ‖x'‖ = 1, exp(−‖x − x'‖²/σ²) = f(⟨x, x'⟩)
    x, x2 = rng.normal(size=(2, 50, 4))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x2 /= np.linalg.norm(x2, axis=1, keepdims=True)
    kernel = np.exp(-np.sum((x - x2) ** 2, axis=1) / sigma**2)
    np.testing.assert_allclose(act.ckn(np.sum(x * x2, axis=1), sigma=sigma), kernel, rtol=1e-13)


def test_ckn_hand_computed_values_and_its_range():
    assert act.ckn(np.array([1.0]), sigma=1e-200)[0] == 1.0  # f(1) = 1 for every σ
    np.testing.assert_allclose(act.ckn([0.0, 2.0, 3.0], sigma=2.0), np.exp([-0.5, 0.5, 1.0]))
    np.testing.assert_allclose(act.ckn_backward([0.0], [3.0], sigma=2.0), [3 * 0.5 * np.exp(-0.5)])
    # e^709 is finite in float64 and e^710 beyond its range; e^−745 is its last subnormal; the
    # derivative 2·e^709.5 is beyond the range while e^709.5 is not
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # documented infinities raise no overflow warning
        y = act.ckn(1.0 + np.array([709.0, 710.0, -745.0, -746.0]) / 2)
        dy = act.ckn_backward(1.0 + np.array([708.0, 709.5]) / 2, np.ones(2))
    assert y[0] == pytest.approx(math.exp(709.0), rel=1e-13) and y[1] == np.inf
    assert 0 < y[2] < np.finfo(np.float64).tiny and y[3] == 0.0
    assert dy[0] == pytest.approx(2 * math.exp(708.0), rel=1e-12) and dy[1] == np.inf


# --- every backward against central finite differences -----------------------------------

KINKS = {"relu": [0.0], "leaky_relu": [0.0], "elu": [0.0], "relu6": [0.0, 6.0], "selu": [0.0]}
ELEMENTWISE = [
    ("sigmoid", {}),
    ("tanh", {}),
    ("relu", {}),
    ("leaky_relu", {"alpha": 0.1}),
    ("elu", {"alpha": 1.3}),
    ("relu6", {}),
    ("selu", {}),
    ("gelu", {"variant": "tanh"}),
    ("gelu", {"variant": "erf"}),
    ("softplus", {}),
    ("softplus_sum", {"N": 7}),
    ("ckn", {"sigma": 1.7}),
    ("softmax", {"axis": -1}),
    ("softmax", {"axis": 0}),
    ("log_softmax", {"axis": -1}),
    ("log_softmax", {"axis": 0}),
]


@pytest.mark.parametrize(("name", "kwargs"), ELEMENTWISE)
def test_backward_matches_central_differences(name, kwargs, rng):
    x = away_from(rng.normal(scale=3.0, size=(4, 5)) + 2.0, KINKS.get(name, []))
    forward, backward = getattr(act, name), getattr(act, f"{name}_backward")
    assert_backward_matches_fd(
        lambda x: forward(x, **kwargs), lambda x, dy: backward(x, dy, **kwargs), (x,), rng=rng
    )


@pytest.mark.parametrize("a", [np.array([0.2]), np.array([0.1, -0.3, 0.5])])
def test_prelu_backward_matches_central_differences_in_x_and_a(a, rng):
    x = away_from(rng.normal(size=(4, 3, 2, 2)), [0.0])
    assert_backward_matches_fd(act.prelu, act.prelu_backward, (x, a), wrt=(0, 1), rng=rng)


# --- bad input ---------------------------------------------------------------------------


def test_bad_input_raises_a_clear_error():
    with pytest.raises(ValueError, match=r"alpha must be finite, got nan"):
        act.leaky_relu([1.0], alpha=float("nan"))
    with pytest.raises(TypeError, match=r"alpha must be a real number, got '0.1'"):
        act.elu([1.0], alpha="0.1")
    with pytest.raises(ValueError, match=r"variant must be one of 'tanh', 'erf', got 'exact'"):
        act.gelu([1.0], variant="exact")
    with pytest.raises(ValueError, match=r"shapes must match, got x \(3,\), dy \(2,\)"):
        act.sigmoid_backward(np.zeros(3), np.zeros(2))
    with pytest.raises(TypeError, match=r"x must be a numeric array, got a string"):
        act.relu("1.0")
    with pytest.raises(ValueError, match=r"a must hold 1 slope or one per channel"):
        act.prelu(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"N must be at least 1, got 0"):
        act.softplus_sum([0.0], N=0)
    with pytest.raises(ValueError, match=r"axis must be in \[-2, 2\)"):
        act.softmax(np.zeros((2, 2)), axis=2)
    with pytest.raises(ValueError, match=r"sigma must be positive, got 0.0"):
        act.ckn([1.0], sigma=0.0)
    with pytest.raises(ValueError, match=r"shapes must match, got u \(3,\), dy \(2,\)"):
        act.ckn_backward(np.zeros(3), np.zeros(2))
