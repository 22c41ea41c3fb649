"""The normalisation of the reference against ground truth that does not come from it:
scipy.stats.zscore, scipy.linalg.polar, numpy.linalg.svd, loops over channels and groups
written out by hand, hand-computed numbers, and central finite differences for every backward
(batch norm's six intermediate gradients each against its own independent derivation)."""

import math

import numpy as np
import pytest
from scipy import linalg, stats

from nnconform.reference import normalization as nrm
from tests.gradcheck import assert_backward_matches_fd, directional_derivative

# --- feature normalisation --------------------------------------------------------------


def test_feature_normalization_equals_scipy_zscore(rng):
    X = rng.normal(3.0, 2.0, size=(7, 4))
    np.testing.assert_allclose(nrm.feature_normalization(X), stats.zscore(X, axis=0), rtol=1e-13)


def test_feature_normalization_of_hand_numbers():
    X = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 40.0]])  # means 3, 20; pop. var 8/3, 200
    expected = np.array([[-2, -10], [0, -10], [2, 20]]) / np.sqrt([8 / 3, 200])
    np.testing.assert_allclose(nrm.feature_normalization(X), expected, rtol=1e-14)


def test_feature_normalization_with_eps_keeps_a_constant_feature_finite():
    X = np.array([[1.0, 2.0], [1.0, 4.0]])
    y = nrm.feature_normalization(X, eps=1e-3)
    np.testing.assert_array_equal(y[:, 0], 0.0)
    np.testing.assert_allclose(y[:, 1], [-1, 1] / np.sqrt(1 + 1e-3), rtol=1e-14)


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_feature_normalization_backward_matches_finite_differences(rng, eps):
    X = rng.normal(size=(6, 3))
    assert_backward_matches_fd(
        lambda X: nrm.feature_normalization(X, eps=eps),
        lambda X, dy: nrm.feature_normalization_backward(X, dy, eps=eps),
        [X],
        rng=rng,
    )


# --- batch normalisation: forward -------------------------------------------------------


def bn_by_hand(x, gamma, beta, eps):
    """A loop over channels: the statistics of channel c over every value of x[:, c]."""
    y = np.empty_like(x)
    means, variances = [], []
    for c in range(x.shape[1]):
        values = x[:, c].ravel()
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)
        y[:, c] = gamma[c] * (x[:, c] - mean) / np.sqrt(var + eps) + beta[c]
        means.append(mean)
        variances.append(var)
    return y, np.array(means), np.array(variances)


def bn_inputs(rng, shape):
    channels = shape[1]
    x = rng.normal(2.0, 3.0, size=shape)
    gamma = rng.uniform(0.5, 2.0, channels)
    beta = rng.normal(size=channels)
    return x, gamma, beta, np.zeros(channels), np.ones(channels)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3), (4, 3, 2, 5), (2, 5, 3, 3)])
def test_batch_norm_in_training_equals_a_loop_over_channels(rng, shape):
    x, gamma, beta, rm, rv = bn_inputs(rng, shape)
    out = nrm.batch_norm(x, gamma, beta, rm, rv, eps=1e-3)
    y, means, variances = bn_by_hand(x, gamma, beta, 1e-3)
    np.testing.assert_allclose(out.y, y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.cache.mean, means, rtol=1e-12)
    np.testing.assert_allclose(out.cache.var, variances, rtol=1e-12)
    assert out.cache.m == x.size // shape[1]


def test_batch_norm_output_has_mean_beta_and_std_gamma_per_channel(rng):
    x, gamma, beta, rm, rv = bn_inputs(rng, (8, 3, 4, 4))
    y = nrm.batch_norm(x, gamma, beta, rm, rv, eps=1e-12).y
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), beta, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), gamma, rtol=1e-9)


def test_batch_norm_of_a_batch_of_two_is_plus_or_minus_one():
    x = np.array([[1.0, -4.0], [3.0, 6.0]])  # each channel: two values, x̂ = ∓1
    y = nrm.batch_norm(x, [1.0, 1.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0], eps=1e-12).y
    np.testing.assert_allclose(y, [[-1, -1], [1, 1]], rtol=1e-10)


def test_batch_norm_of_a_constant_channel_is_beta_and_its_gradient_finite(rng):
    x = rng.normal(size=(4, 2))
    x[:, 1] = 7.0
    out = nrm.batch_norm(x, [2.0, 3.0], [0.5, -1.0], [0.0, 0.0], [1.0, 1.0])
    np.testing.assert_array_equal(out.y[:, 1], -1.0)
    grads = nrm.batch_norm_backward(rng.normal(size=x.shape), out.cache)
    assert all(np.all(np.isfinite(g)) for g in grads)


@pytest.mark.parametrize(
    ("estimator", "expected_var"),
    # x = 1, 2, 3, 6: mean 3, biased variance (4 + 1 + 0 + 9)/4 = 3.5, unbiased 14/3.
    [("biased", 0.9 * 1.0 + 0.1 * 3.5), ("unbiased", 0.9 * 1.0 + 0.1 * 14 / 3)],
)
def test_running_statistics_are_updated_with_the_chosen_estimator(estimator, expected_var):
    x = np.array([[1.0], [2.0], [3.0], [6.0]])
    out = nrm.batch_norm(x, [1.0], [0.0], [0.0], [1.0], running_var_estimator=estimator)
    np.testing.assert_allclose(out.running_mean, [0.3], rtol=1e-15)
    np.testing.assert_allclose(out.running_var, [expected_var], rtol=1e-15)


def test_running_statistics_of_feature_maps_count_m_as_n_h_w():
    # One channel of N = 2 maps 1 × 2: values 0, 2, 4, 6: mean 3, biased var 5, unbiased 20/3.
    x = np.array([0.0, 2.0, 4.0, 6.0]).reshape(2, 1, 1, 2)
    out = nrm.batch_norm(
        x, [1.0], [0.0], [1.0], [2.0], momentum=0.5, running_var_estimator="unbiased"
    )
    np.testing.assert_allclose(out.running_mean, [0.5 * 1 + 0.5 * 3], rtol=1e-15)
    np.testing.assert_allclose(out.running_var, [0.5 * 2 + 0.5 * 20 / 3], rtol=1e-15)


def test_batch_norm_in_evaluation_uses_and_keeps_the_running_statistics(rng):
    x, gamma, beta, _, _ = bn_inputs(rng, (3, 2, 2, 2))
    rm, rv = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    out = nrm.batch_norm(x, gamma, beta, rm, rv, training=False, eps=1e-5)
    for c in range(2):
        expected = gamma[c] * (x[:, c] - rm[c]) / np.sqrt(rv[c] + 1e-5) + beta[c]
        np.testing.assert_allclose(out.y[:, c], expected, rtol=1e-13)
    np.testing.assert_array_equal(out.running_mean, rm)
    np.testing.assert_array_equal(out.running_var, rv)
    # A batch of one is fine at test time.
    one = nrm.batch_norm(x[:1, :, :1, :1], gamma, beta, rm, rv, training=False).y
    np.testing.assert_allclose(one.ravel(), out.y[0, :, 0, 0], rtol=1e-13)


def test_batch_norm_does_not_modify_its_inputs(rng):
    args = bn_inputs(rng, (4, 3))
    copies = [a.copy() for a in args]
    out = nrm.batch_norm(*args)
    nrm.batch_norm_backward(np.ones((4, 3)), out.cache)
    for a, c in zip(args, copies, strict=True):
        np.testing.assert_array_equal(a, c)
    assert out.running_mean is not args[3] and out.running_var is not args[4]


# --- batch normalisation: the six backward formulas -------------------------------------

SHAPES = [(5, 3), (2, 3), (3, 2, 2, 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_dx_dgamma_dbeta_match_finite_differences(rng, shape):
    x, gamma, beta, rm, rv = bn_inputs(rng, shape)

    def forward(x, gamma, beta):
        return nrm.batch_norm(x, gamma, beta, rm, rv, eps=1e-3).y

    def backward(x, gamma, beta, dy):
        g = nrm.batch_norm_backward(dy, nrm.batch_norm(x, gamma, beta, rm, rv, eps=1e-3).cache)
        return g.dx, g.dgamma, g.dbeta

    assert_backward_matches_fd(forward, backward, [x, gamma, beta], wrt=(0, 1, 2), rng=rng)


def _statistics_axes(ndim):
    return (0, *range(2, ndim))


def _c(a, ndim):
    return np.reshape(a, (1, -1) + (1,) * (ndim - 2))


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_intermediate_gradients_match_their_own_derivations(rng, shape):
    """dx̂ and dvar by differences of ℓ in x̂ and σ² as free inputs; dmean by differences of ℓ
    in μ with σ² = (1/m)Σ(x − μ)² following it (the chain the seed's formula encodes)."""
    x, gamma, beta, rm, rv = bn_inputs(rng, shape)
    eps, nd, axes = 1e-3, x.ndim, _statistics_axes(x.ndim)
    out = nrm.batch_norm(x, gamma, beta, rm, rv, eps=eps)
    dy = rng.normal(size=x.shape)
    grads = nrm.batch_norm_backward(dy, out.cache)
    mean, var = x.mean(axis=axes), x.var(axis=axes)

    def check(f, point, grad):  # dy is the one the backward saw: ⟨grad, d⟩ vs ⟨dy, f'·d⟩
        for _ in range(3):
            d = rng.normal(size=np.shape(point))
            numeric = directional_derivative(f, [point], 0, d, dy)
            np.testing.assert_allclose(np.sum(grad * d), numeric, rtol=1e-6, atol=1e-8)

    x_hat = out.cache.x_hat
    check(lambda xh: _c(gamma, nd) * xh + _c(beta, nd), x_hat, grads.dx_hat)

    def normalise(mu, s2):  # x̂·γ with μ and σ² as free inputs
        return _c(gamma, nd) * (x - _c(mu, nd)) / np.sqrt(_c(s2, nd) + eps)

    check(lambda s2: normalise(mean, s2), var, grads.dvar)
    check(lambda mu: normalise(mu, ((x - _c(mu, nd)) ** 2).mean(axis=axes)), mean, grads.dmean)
    np.testing.assert_allclose(grads.dgamma, (dy * x_hat).sum(axis=axes), rtol=1e-13)
    np.testing.assert_allclose(grads.dbeta, dy.sum(axis=axes), rtol=1e-13)


def test_batch_norm_dx_sums_to_zero_and_is_orthogonal_to_x_hat(rng):
    """y is invariant to shifting a channel (any ε) and to scaling it (as ε → 0), so dx is
    orthogonal to the constants and to x̂ in each channel."""
    x, gamma, beta, rm, rv = bn_inputs(rng, (4, 3, 2, 2))
    out = nrm.batch_norm(x, gamma, beta, rm, rv, eps=1e-14)
    dx = nrm.batch_norm_backward(rng.normal(size=x.shape), out.cache).dx
    np.testing.assert_allclose(dx.sum(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose((dx * out.cache.x_hat).sum(axis=(0, 2, 3)), 0.0, atol=1e-12)


def test_batch_norm_backward_in_evaluation_matches_finite_differences(rng):
    x, gamma, beta, _, _ = bn_inputs(rng, (3, 2, 2, 2))
    rm, rv = np.array([0.5, -1.0]), np.array([2.0, 0.25])

    def forward(x, gamma, beta, rm, rv):
        return nrm.batch_norm(x, gamma, beta, rm, rv, training=False).y

    def backward(x, gamma, beta, rm, rv, dy):
        g = nrm.batch_norm_backward(
            dy, nrm.batch_norm(x, gamma, beta, rm, rv, training=False).cache
        )
        return g.dx, g.dgamma, g.dbeta, g.dmean, g.dvar

    assert_backward_matches_fd(forward, backward, [x, gamma, beta, rm, rv], wrt=range(5), rng=rng)
    out = nrm.batch_norm(x, gamma, beta, rm, rv, training=False, eps=1e-5)
    dy = rng.normal(size=x.shape)
    expected = dy * _c(gamma, 4) / np.sqrt(_c(rv, 4) + 1e-5)
    np.testing.assert_allclose(nrm.batch_norm_backward(dy, out.cache).dx, expected, rtol=1e-14)


# --- group normalisation ----------------------------------------------------------------


def gn_by_hand(x, gamma, beta, num_groups, eps):
    """A loop over samples and groups."""
    y = np.empty_like(x)
    size = x.shape[1] // num_groups
    for n in range(x.shape[0]):
        for g in range(num_groups):
            block = x[n, g * size : (g + 1) * size]
            mean = block.sum() / block.size
            var = ((block - mean) ** 2).sum() / block.size
            y[n, g * size : (g + 1) * size] = (block - mean) / np.sqrt(var + eps)
    return _c(gamma, x.ndim) * y + _c(beta, x.ndim)


def gn_inputs(rng, shape):
    return (
        rng.normal(1.0, 2.0, size=shape),
        rng.uniform(0.5, 2, shape[1]),
        rng.normal(size=shape[1]),
    )


@pytest.mark.parametrize(("shape", "num_groups"), [((3, 6, 2, 2), 3), ((2, 4, 5), 2), ((2, 6), 2)])
def test_group_norm_equals_a_loop_over_samples_and_groups(rng, shape, num_groups):
    x, gamma, beta = gn_inputs(rng, shape)
    np.testing.assert_allclose(
        nrm.group_norm(x, gamma, beta, num_groups=num_groups, eps=1e-3),
        gn_by_hand(x, gamma, beta, num_groups, 1e-3),
        rtol=1e-12,
        atol=1e-12,
    )


def test_group_norm_with_one_group_is_layer_norm(rng):
    x, gamma, beta = gn_inputs(rng, (3, 4, 2, 3))
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=(1, 2, 3), keepdims=True)
    layer = _c(gamma, 4) * (x - mean) / np.sqrt(var + 1e-5) + _c(beta, 4)
    np.testing.assert_allclose(nrm.group_norm(x, gamma, beta, num_groups=1), layer, rtol=1e-12)


def test_group_norm_with_c_groups_is_instance_norm(rng):
    x, gamma, beta = gn_inputs(rng, (3, 4, 2, 3))
    mean = x.mean(axis=(2, 3), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=(2, 3), keepdims=True)
    instance = _c(gamma, 4) * (x - mean) / np.sqrt(var + 1e-5) + _c(beta, 4)
    np.testing.assert_allclose(nrm.group_norm(x, gamma, beta, num_groups=4), instance, rtol=1e-12)


def test_group_norm_of_one_sample_does_not_depend_on_the_others(rng):
    x, gamma, beta = gn_inputs(rng, (4, 4, 3))
    alone = nrm.group_norm(x[1:2], gamma, beta, num_groups=2)
    np.testing.assert_allclose(nrm.group_norm(x, gamma, beta, num_groups=2)[1:2], alone)


@pytest.mark.parametrize(("shape", "num_groups"), [((3, 6, 2, 2), 3), ((2, 4, 3), 4), ((2, 6), 1)])
def test_group_norm_backward_matches_finite_differences(rng, shape, num_groups):
    x, gamma, beta = gn_inputs(rng, shape)
    assert_backward_matches_fd(
        lambda x, g, b: nrm.group_norm(x, g, b, num_groups=num_groups, eps=1e-3),
        lambda x, g, b, dy: nrm.group_norm_backward(x, g, b, dy, num_groups=num_groups, eps=1e-3),
        [x, gamma, beta],
        wrt=(0, 1, 2),
        rng=rng,
    )


# --- weight normalisation ---------------------------------------------------------------


def test_weight_norm_has_norm_abs_g_and_the_direction_of_v(rng):
    v = rng.normal(size=(4, 3))
    g = np.array([2.0, -0.5, 1.0, 3.0])
    w = nrm.weight_norm(v, g)
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), np.abs(g), rtol=1e-14)
    for i in range(4):
        cosine = w[i] @ v[i] / (np.linalg.norm(w[i]) * np.linalg.norm(v[i]))
        assert cosine == pytest.approx(np.sign(g[i]), abs=1e-14)
    np.testing.assert_allclose(nrm.weight_norm([3.0, 4.0], 10.0), [6.0, 8.0], rtol=1e-15)


def test_weight_norm_of_a_conv_weight_takes_one_norm_per_output_channel(rng):
    v = rng.normal(size=(3, 2, 2, 2))
    w = nrm.weight_norm(v, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(np.sqrt((w**2).sum(axis=(1, 2, 3))), [1, 2, 3], rtol=1e-14)


@pytest.mark.parametrize(
    ("v_shape", "g"), [((5,), 1.7), ((4, 3), [2.0, -0.5, 1.0, 0.0]), ((2, 2, 3), [1.0, 2.0])]
)
def test_weight_norm_backward_matches_finite_differences(rng, v_shape, g):
    v, g = rng.normal(size=v_shape), np.asarray(g, dtype=float)
    assert_backward_matches_fd(
        nrm.weight_norm, nrm.weight_norm_backward, [v, g], wrt=(0, 1), rng=rng
    )


def test_weight_norm_backward_is_the_projection_of_salimans_and_kingma(rng):
    """∂ℓ/∂v = (g/‖v‖)(I − w wᵀ/‖w‖²) ∇_w with the matrix written out."""
    v, g, dw = rng.normal(size=5), -1.3, rng.normal(size=5)
    w = g * v / np.linalg.norm(v)
    projector = np.eye(5) - np.outer(w, w) / (w @ w)
    dv, dg = nrm.weight_norm_backward(v, g, dw)
    np.testing.assert_allclose(dv, g / np.linalg.norm(v) * projector @ dw, rtol=1e-13)
    assert dg == pytest.approx(dw @ v / np.linalg.norm(v), rel=1e-14)
    assert abs(dv @ v) < 1e-12  # the gradient of v is orthogonal to v


# --- spectral normalisation -------------------------------------------------------------


def test_one_power_iteration_of_hand_numbers():
    # W = diag(3, 1), u = (1, 1)/√2: v = (3, 1)/√10, u = (9, 1)/√82, σ = √82/√10.
    u0 = np.array([1.0, 1.0]) / np.sqrt(2)
    out = nrm.spectral_norm(np.diag([3.0, 1.0]), u0)
    np.testing.assert_allclose(out.v, np.array([3.0, 1.0]) / np.sqrt(10), rtol=1e-15)
    np.testing.assert_allclose(out.u, np.array([9.0, 1.0]) / np.sqrt(82), rtol=1e-15)
    assert out.sigma == pytest.approx(np.sqrt(8.2), rel=1e-15)
    np.testing.assert_allclose(out.weight, np.diag([3.0, 1.0]) / np.sqrt(8.2), rtol=1e-15)


@pytest.mark.parametrize("variant", nrm.SPECTRAL_NORM_VARIANTS)
def test_a_tiny_power_iteration_of_hand_numbers_is_guarded_by_eps(variant):
    # W = diag(3e-4, 1e-4), u = (1, 0), ε = 1e-3: Wᵀu = (3e-4, 0), of norm 3e-4 < ε.
    # max_norm: v = (3e-4, 0)/1e-3 = (0.3, 0); Wv = (9e-5, 0), u = (0.09, 0);
    # eps_inside: v = (3e-4, 0)/√(9e-8 + 1e-3); u = Wv/√(‖Wv‖² + 1e-3). σ = uᵀWv.
    W = np.diag([3e-4, 1e-4])
    out = nrm.spectral_norm(W, np.array([1.0, 0.0]), eps=1e-3, variant=variant)
    if variant == "max_norm":
        v, u = 0.3, 0.09
    else:
        v = 3e-4 / math.sqrt(9e-8 + 1e-3)
        u = 3e-4 * v / math.sqrt((3e-4 * v) ** 2 + 1e-3)
    np.testing.assert_allclose(out.v, [v, 0.0], rtol=1e-14)
    np.testing.assert_allclose(out.u, [u, 0.0], rtol=1e-14)
    assert out.sigma == pytest.approx(u * 3e-4 * v, rel=1e-14)
    np.testing.assert_allclose(out.weight, W / (u * 3e-4 * v), rtol=1e-14)


def test_spectral_norm_variants_agree_at_ordinary_norms_and_default_eps():
    # ε = 1e-12 against ‖a‖² ≈ 10: ε/(2‖a‖²) ≈ 5e-14 relative, rounding's order
    W, u = np.diag([3.0, 1.0]), np.array([1.0, 1.0]) / np.sqrt(2)
    a, b = (nrm.spectral_norm(W, u, variant=v) for v in nrm.SPECTRAL_NORM_VARIANTS)
    np.testing.assert_allclose(b.weight, a.weight, rtol=1e-12)


def test_spectral_norm_converges_to_the_top_singular_value(rng):
    W = rng.normal(size=(5, 3))
    s = np.linalg.svd(W, compute_uv=False)
    out = nrm.spectral_norm(W, rng.normal(size=5), n_power_iterations=500)
    assert out.sigma == pytest.approx(s[0], rel=1e-12)
    assert np.linalg.svd(out.weight, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-12)
    # Repeated calls that pass u along converge the same way, one iteration each.
    u = rng.normal(size=5)
    for _ in range(500):
        out = nrm.spectral_norm(W, u)
        u = out.u
    assert out.sigma == pytest.approx(s[0], rel=1e-12)


def test_spectral_norm_with_no_iteration_uses_u_and_v_as_given(rng):
    W, u, v = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    out = nrm.spectral_norm(W, u, v, n_power_iterations=0)
    sigma = sum(u[i] * W[i, j] * v[j] for i in range(3) for j in range(4))
    assert out.sigma == pytest.approx(sigma, rel=1e-13)
    np.testing.assert_allclose(out.weight, W / sigma, rtol=1e-13)


def test_spectral_norm_backward_matches_finite_differences_with_u_v_constant(rng):
    W = rng.normal(size=(4, 3))
    out = nrm.spectral_norm(W, rng.normal(size=4), n_power_iterations=2)
    assert_backward_matches_fd(
        lambda W: nrm.spectral_norm(W, out.u, out.v, n_power_iterations=0).weight,
        lambda W, dy: nrm.spectral_norm_backward(W, out.u, out.v, dy),
        [W],
        rng=rng,
    )


def test_spectral_norm_backward_at_convergence_is_the_gradient_of_w_over_its_norm(rng):
    W = rng.normal(size=(4, 3))
    out = nrm.spectral_norm(W, rng.normal(size=4), n_power_iterations=500)
    assert_backward_matches_fd(
        lambda W: W / np.linalg.svd(W, compute_uv=False)[0],
        lambda W, dy: nrm.spectral_norm_backward(W, out.u, out.v, dy),
        [W],
        rng=rng,
    )


# --- singular value bounding ------------------------------------------------------------


def test_singular_value_bounding_clips_the_singular_values_of_a_known_svd(rng):
    U = linalg.qr(rng.normal(size=(5, 5)))[0][:, :3]
    V = linalg.qr(rng.normal(size=(3, 3)))[0]
    s = np.array([3.0, 1.05, 0.2])
    W = U @ np.diag(s) @ V.T
    bounded = nrm.singular_value_bounding(W, eps=0.1)
    expected = U @ np.diag([1.1, 1.05, 1 / 1.1]) @ V.T
    np.testing.assert_allclose(bounded, expected, atol=1e-13)
    np.testing.assert_allclose(np.linalg.svd(bounded, compute_uv=False), [1.1, 1.05, 1 / 1.1])


def test_singular_value_bounding_with_eps_zero_is_the_orthogonal_polar_factor(rng):
    W = rng.normal(size=(4, 4))
    np.testing.assert_allclose(
        nrm.singular_value_bounding(W, eps=0.0), linalg.polar(W)[0], atol=1e-13
    )


def test_singular_value_bounding_leaves_values_inside_the_band_alone(rng):
    Q = linalg.qr(rng.normal(size=(3, 3)))[0]
    W = Q @ np.diag([1.04, 1.0, 0.97])
    np.testing.assert_allclose(nrm.singular_value_bounding(W, eps=0.05), W, atol=1e-14)


# --- bad input --------------------------------------------------------------------------


def test_bad_input_to_feature_normalization_raises_a_clear_error():
    with pytest.raises(ValueError, match=r"X has constant features \(columns \[1\]\).*eps > 0"):
        nrm.feature_normalization([[1.0, 2.0], [3.0, 2.0]])
    with pytest.raises(ValueError, match=r"X must have 2 dimensions, got shape \(3,\)"):
        nrm.feature_normalization([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"X must hold at least one sample"):
        nrm.feature_normalization(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"eps must be non-negative, got -1"):
        nrm.feature_normalization([[1.0], [2.0]], eps=-1)
    with pytest.raises(ValueError, match=r"shapes must match, got X \(2, 1\), dy \(1, 2\)"):
        nrm.feature_normalization_backward([[1.0], [2.0]], [[1.0, 2.0]])


def test_bad_input_to_batch_norm_raises_a_clear_error(rng):
    x, gamma, beta, rm, rv = bn_inputs(rng, (4, 3))
    with pytest.raises(ValueError, match=r"at least 2 values per channel, got m = 1"):
        nrm.batch_norm(x[:1], gamma, beta, rm, rv)
    with pytest.raises(ValueError, match=r"at least 2 values per channel, got m = 1"):
        nrm.batch_norm(np.ones((1, 2, 1, 1)), [1, 1], [0, 0], [0, 0], [1, 1])
    with pytest.raises(ValueError, match=r"x must not be empty"):
        nrm.batch_norm(np.zeros((0, 3)), gamma, beta, rm, rv)
    with pytest.raises(ValueError, match=r"x must have 2 or 3 or 4 or 5 dimensions"):
        nrm.batch_norm([1.0, 2.0, 3.0], gamma, beta, rm, rv)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1.0"):
        nrm.batch_norm(x, gamma, beta, rm, rv, momentum=1.0)
    with pytest.raises(ValueError, match=r"eps must be positive, got 0.0"):
        nrm.batch_norm(x, gamma, beta, rm, rv, eps=0.0)
    with pytest.raises(ValueError, match=r"eps must be finite, got nan"):
        nrm.batch_norm(x, gamma, beta, rm, rv, eps=float("nan"))
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\).*got \(4,\)"):
        nrm.batch_norm(x, np.ones(4), beta, rm, rv)
    with pytest.raises(ValueError, match=r"beta must have shape \(3,\).*got \(1, 3\)"):
        nrm.batch_norm(x, gamma, beta[None], rm, rv)
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\)"):
        nrm.batch_norm(x, gamma, beta, np.zeros(2), rv)
    with pytest.raises(ValueError, match=r"running_var must be non-negative"):
        nrm.batch_norm(x, gamma, beta, rm, -rv)
    with pytest.raises(ValueError, match=r"running_var_estimator must be one of 'biased', "):
        nrm.batch_norm(x, gamma, beta, rm, rv, running_var_estimator="bessel")
    with pytest.raises(TypeError, match=r"training must be True or False, got 'yes'"):
        nrm.batch_norm(x, gamma, beta, rm, rv, training="yes")
    cache = nrm.batch_norm(x, gamma, beta, rm, rv).cache
    with pytest.raises(ValueError, match=r"shapes must match, got dy \(3, 3\), x \(4, 3\)"):
        nrm.batch_norm_backward(np.ones((3, 3)), cache)


def test_bad_input_to_group_norm_raises_a_clear_error(rng):
    x, gamma, beta = gn_inputs(rng, (2, 6, 3))
    with pytest.raises(
        ValueError, match=r"num_groups must divide the number of channels C = 6, got 4"
    ):
        nrm.group_norm(x, gamma, beta, num_groups=4)
    with pytest.raises(ValueError, match=r"num_groups must be at least 1, got 0"):
        nrm.group_norm(x, gamma, beta, num_groups=0)
    with pytest.raises(ValueError, match=r"eps must be positive, got -1e-05"):
        nrm.group_norm(x, gamma, beta, num_groups=2, eps=-1e-5)
    with pytest.raises(ValueError, match=r"gamma must have shape \(6,\)"):
        nrm.group_norm(x, gamma[:3], beta, num_groups=2)
    with pytest.raises(ValueError, match=r"shapes must match, got x \(2, 6, 3\), dy \(2, 6\)"):
        nrm.group_norm_backward(x, gamma, beta, np.ones((2, 6)), num_groups=2)


def test_bad_input_to_weight_norm_raises_a_clear_error():
    with pytest.raises(ValueError, match=r"g must have shape \(2,\), one per output row"):
        nrm.weight_norm(np.ones((2, 3)), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"g must be a scalar for a 1-D v, got shape \(2,\)"):
        nrm.weight_norm(np.ones(3), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"v must have a non-zero norm"):
        nrm.weight_norm(np.array([[1.0, 2.0], [0.0, 0.0]]), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"shapes must match, got v \(3,\), dw \(2,\)"):
        nrm.weight_norm_backward(np.ones(3), 1.0, np.ones(2))


def test_bad_input_to_spectral_norm_and_svb_raises_a_clear_error():
    W = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"u must have shape \(3,\) \(W.shape\[0\]\), got \(2,\)"):
        nrm.spectral_norm(W, np.ones(2))
    with pytest.raises(ValueError, match=r"v must have shape \(2,\)"):
        nrm.spectral_norm(W, np.ones(3), np.ones(3), n_power_iterations=0)
    with pytest.raises(ValueError, match=r"v is required when n_power_iterations is 0"):
        nrm.spectral_norm(W, np.ones(3), n_power_iterations=0)
    with pytest.raises(ValueError, match=r"n_power_iterations must be at least 0, got -1"):
        nrm.spectral_norm(W, np.ones(3), n_power_iterations=-1)
    with pytest.raises(ValueError, match=r"W must have 2 dimensions"):
        nrm.spectral_norm(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"variant must be one of 'max_norm', 'eps_inside'"):
        nrm.spectral_norm(W, np.ones(3), variant="inside")
    with pytest.raises(ValueError, match=r"sigma = uᵀWv is 0"):
        nrm.spectral_norm(np.zeros((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match=r"shapes must match, got W \(3, 2\), dy \(2, 3\)"):
        nrm.spectral_norm_backward(W, np.ones(3), np.ones(2), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"eps must be non-negative, got -0.1"):
        nrm.singular_value_bounding(np.eye(2), eps=-0.1)
    with pytest.raises(ValueError, match=r"W must have 2 dimensions"):
        nrm.singular_value_bounding(np.ones(3), eps=0.1)
