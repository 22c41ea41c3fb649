"""Planted bugs in normalisation: each a mistake that real implementations have made."""

import numpy as np

from nnconform.reference import normalization as ref
from tests.zoo import planted


def _on_axis_1(a, ndim):
    return np.asarray(a).reshape((1, -1) + (1,) * (ndim - 2))


def _bn_backward_without_the_dvar_term(dy, cache):
    # ∂ℓ/∂x_i = ∂ℓ/∂x̂_i/√(σ² + ε) + ∂ℓ/∂μ/m, forgetting ∂ℓ/∂σ²·2(x_i − μ)/m: the path
    # through the variance (a common slip when transcribing Ioffe & Szegedy's Alg. 1)
    grads = ref.batch_norm_backward(dy, cache)
    ndim = cache.x.ndim
    std = np.sqrt(_on_axis_1(cache.var, ndim) + cache.eps)
    dx = grads.dx_hat / std + _on_axis_1(grads.dmean, ndim) / cache.m
    return grads._replace(dx=dx)


def _bn_normalising_with_the_unbiased_variance(x, gamma, beta, running_mean, running_var, *,
                                               training=True, momentum=0.9, eps=1e-5):  # fmt: skip
    # np.var(ddof=1) (or torch.var's default unbiased=True) in the training normalisation
    out = ref.batch_norm(x, gamma, beta, running_mean, running_var, training=training,
                         momentum=momentum, eps=eps)  # fmt: skip
    if not training:
        return out
    x = np.asarray(x, dtype=np.float64)
    axes = (0, *range(2, x.ndim))
    var = x.var(axis=axes, ddof=1)
    x_hat = (x - _on_axis_1(out.cache.mean, x.ndim)) / np.sqrt(_on_axis_1(var, x.ndim) + eps)
    y = _on_axis_1(gamma, x.ndim) * x_hat + _on_axis_1(beta, x.ndim)
    return out._replace(y=y)


def _bn_statistics_of_x_reshaped_to_rows(x, gamma, beta, running_mean, running_var, *,
                                         training=True, momentum=0.9, eps=1e-5):  # fmt: skip
    # x.reshape(-1, C) on an (N, C, H, W) array (the NHWC recipe applied to NCHW memory): the
    # "channels" it averages mix values of every channel; right only when H = W = 1
    x = np.asarray(x, dtype=np.float64)
    channels = x.shape[1]
    rows = x.reshape(-1, channels)
    mean, var = rows.mean(axis=0), rows.var(axis=0)
    out = ref.batch_norm(x, gamma, beta, running_mean, running_var, training=training,
                         momentum=momentum, eps=eps)  # fmt: skip
    if not training:
        return out
    x_hat = (x - _on_axis_1(mean, x.ndim)) / np.sqrt(_on_axis_1(var, x.ndim) + eps)
    y = _on_axis_1(gamma, x.ndim) * x_hat + _on_axis_1(beta, x.ndim)
    p = momentum
    return out._replace(y=y, running_mean=p * np.asarray(running_mean) + (1 - p) * mean)


def _bn_running_average_with_p_and_1_minus_p_swapped(x, gamma, beta, running_mean,
                                                     running_var, *, training=True,
                                                     momentum=0.9, eps=1e-5):  # fmt: skip
    # PyTorch's momentum (1 − p) passed where the weight of the old value p is meant
    return ref.batch_norm(x, gamma, beta, running_mean, running_var, training=training,
                          momentum=1.0 - momentum, eps=eps)  # fmt: skip


def _bn_running_var_estimator_ignored(x, gamma, beta, running_mean, running_var, *,
                                      training=True, momentum=0.9, eps=1e-5,
                                      running_var_estimator="biased"):  # fmt: skip
    # the keyword accepted and dropped: the running variance always takes m/(m − 1)σ²_B, as
    # a wrapper around a framework's unbiased update does. Its default call is a documented
    # variant (unbiased); its "biased" mode is wrong.
    return ref.batch_norm(x, gamma, beta, running_mean, running_var, training=training,
                          momentum=momentum, eps=eps, running_var_estimator="unbiased")  # fmt: skip


def _group_norm_with_statistics_over_the_batch(x, gamma, beta, *, num_groups, eps=1e-5):
    # the group's mean and variance taken over every sample too (batch norm's axes)
    x = np.asarray(x, dtype=np.float64)
    grouped = x.reshape((x.shape[0], num_groups, -1, *x.shape[2:]))
    axes = (0, *range(2, grouped.ndim))
    mean = grouped.mean(axis=axes, keepdims=True)
    std = np.sqrt(grouped.var(axis=axes, keepdims=True) + eps)
    x_hat = ((grouped - mean) / std).reshape(x.shape)
    return _on_axis_1(gamma, x.ndim) * x_hat + _on_axis_1(beta, x.ndim)


def _weight_norm_dividing_by_the_squared_norm(v, g):
    # g·v/‖v‖² (v·v in place of its square root)
    v, g = np.asarray(v, dtype=np.float64), np.asarray(g, dtype=np.float64)
    if v.ndim == 1:
        return g * v / np.sum(v**2)
    squared = np.sum(v**2, axis=tuple(range(1, v.ndim)), keepdims=True)
    return g.reshape((-1,) + (1,) * (v.ndim - 1)) * v / squared


def _weight_norm_backward_guard_1e6_inside_the_root(v, g, dw):
    # a hand-written backward whose normaliser is √(‖v‖² + 1e-6): a guard a million times
    # flax's 1e-12, which moves dv by about 1e-6/‖v‖² of its size at ordinary ‖v‖
    v, g, dw = (np.asarray(a, dtype=np.float64) for a in (v, g, dw))
    row = tuple(range(v.ndim)) if v.ndim == 1 else tuple(range(1, v.ndim))
    norm = np.sqrt(np.sum(v**2, axis=row, keepdims=True) + 1e-6)
    g_on_v = g if v.ndim == 1 else g.reshape((-1,) + (1,) * (v.ndim - 1))
    v_hat = v / norm
    dg = np.sum(dw * v_hat, axis=row, keepdims=True)
    return g_on_v / norm * (dw - v_hat * dg), dg.reshape(g.shape)


def _spectral_norm_eps_beside_the_norm(
    W, u, v=None, *, n_power_iterations=1, eps=1e-12, variant="max_norm"
):
    # "eps_inside" written as a/(‖a‖ + ε), the guard beside the norm, not inside the root
    if variant != "eps_inside":
        return ref.spectral_norm(W, u, v, n_power_iterations=n_power_iterations, eps=eps)
    W, u = np.asarray(W, dtype=np.float64), np.asarray(u, dtype=np.float64)
    for _ in range(n_power_iterations):
        v = W.T @ u / (np.linalg.norm(W.T @ u) + eps)
        u = W @ v / (np.linalg.norm(W @ v) + eps)
    sigma = float(u @ W @ v)
    return ref.SpectralNormOutput(W / sigma, u, v, sigma)


def _spectral_norm_that_returns_the_old_u(W, u, v=None, *, n_power_iterations=1, eps=1e-12):
    # the power iteration's u is computed but the caller gets the u it passed in: nothing is
    # carried between calls, so σ never converges
    out = ref.spectral_norm(W, u, v, n_power_iterations=n_power_iterations, eps=eps)
    return out._replace(u=np.asarray(u, dtype=np.float64).copy())


bn_backward_without_dvar_term = planted(
    "batch norm dx missing the 2(x − μ)/m term",
    batch_norm_backward=_bn_backward_without_the_dvar_term,
)
bn_unbiased_variance_in_training = planted(
    "batch norm normalising with the unbiased variance",
    batch_norm=_bn_normalising_with_the_unbiased_variance,
)
bn_statistics_over_wrong_axes = planted(
    "batch norm statistics of x.reshape(-1, C) on NCHW",
    batch_norm=_bn_statistics_of_x_reshaped_to_rows,
)
bn_running_momentum_swapped = planted(
    "batch norm running average with p and 1 − p swapped",
    batch_norm=_bn_running_average_with_p_and_1_minus_p_swapped,
)
bn_running_var_estimator_ignored = planted(
    "batch norm whose biased running variance is the unbiased one",
    batch_norm=_bn_running_var_estimator_ignored,
)
group_norm_over_the_batch = planted(
    "group norm with statistics over the batch",
    group_norm=_group_norm_with_statistics_over_the_batch,
)
weight_norm_squared_norm = planted(
    "weight norm dividing by ‖v‖²", weight_norm=_weight_norm_dividing_by_the_squared_norm
)
weight_norm_backward_guard_1e6 = planted(
    "weight norm backward with ε = 1e-6 inside the root",
    weight_norm_backward=_weight_norm_backward_guard_1e6_inside_the_root,
)
spectral_norm_eps_beside_the_norm = planted(
    "spectral norm whose eps_inside guard is a/(‖a‖ + ε)",
    spectral_norm=_spectral_norm_eps_beside_the_norm,
)
spectral_norm_forgets_u = planted(
    "spectral norm that does not carry u between calls",
    spectral_norm=_spectral_norm_that_returns_the_old_u,
)


# --- a library's numerics: the one-pass variance in float32 (Keras, flax's fast variance) --


def _bn_one_pass_variance_in_float32(x, gamma, beta, running_mean, running_var, *,
                                     training=True, momentum=0.9, eps=1e-5):  # fmt: skip
    # σ² = E[x²] − E[x]² in float32 for a float64 request (flax use_fast_variance=True; Keras
    # computes BatchNormalization in float32): y comes back as float64, the cache is right
    out = ref.batch_norm(x, gamma, beta, running_mean, running_var, training=training,
                         momentum=momentum, eps=eps)  # fmt: skip
    if not training:
        return out
    x32 = np.asarray(x, dtype=np.float32)
    axes = (0, *range(2, x32.ndim))
    mean = x32.mean(axis=axes, keepdims=True)
    var = (x32 * x32).mean(axis=axes, keepdims=True) - mean * mean  # may round below 0
    with np.errstate(invalid="ignore"):
        x_hat = (x32 - mean) / np.sqrt(var + np.float32(eps))
    y = _on_axis_1(gamma, x32.ndim) * x_hat.astype(np.float64) + _on_axis_1(beta, x32.ndim)
    return out._replace(y=y)


def _bn_nan_on_a_constant_channel(x, gamma, beta, running_mean, running_var, *,
                                  training=True, momentum=0.9, eps=1e-5):  # fmt: skip
    # what the one-pass variance does to a constant channel when E[x²] rounds below E[x]² by
    # more than ε: √(negative) = NaN there (planted outright: whether it rounds so depends on
    # the value)
    out = ref.batch_norm(x, gamma, beta, running_mean, running_var, training=training,
                         momentum=momentum, eps=eps)  # fmt: skip
    x = np.asarray(x, dtype=np.float64)
    axes = (0, *range(2, x.ndim))
    constant = _on_axis_1(np.ptp(x, axis=axes) == 0, x.ndim) & np.ones(x.shape, dtype=bool)
    return out._replace(y=np.where(constant, np.nan, out.y)) if training else out


def _feature_normalization_one_pass_in_float32(X, *, eps=0.0):
    # σ² = E[x²] − E[x]² in float32 for a float64 request (jax.nn.standardize's default
    # algorithm="fast" on float32 data): the mean is right, the variance cancels
    X32 = np.asarray(X, dtype=np.float32)
    mean = X32.mean(axis=0, keepdims=True)
    var = (X32 * X32).mean(axis=0, keepdims=True) - mean * mean
    with np.errstate(invalid="ignore"):
        return ((X32 - mean) / np.sqrt(var + np.float32(eps))).astype(np.float64)


feature_normalization_one_pass_in_float32 = planted(
    "feature normalisation with the one-pass variance in float32",
    feature_normalization=_feature_normalization_one_pass_in_float32,
)
bn_one_pass_variance_in_float32 = planted(
    "batch norm with the one-pass variance in float32",
    batch_norm=_bn_one_pass_variance_in_float32,
)
bn_nan_on_a_constant_channel = planted(
    "batch norm returning NaN on a constant channel", batch_norm=_bn_nan_on_a_constant_channel
)


def _bn_backward_training_dmean_in_evaluation(dy, cache):
    # the training formula of ∂ℓ/∂μ (with its ∂ℓ/∂σ² term) in evaluation as well: dx, dγ and
    # dβ, the gradients a network uses, are still right
    grads = ref.batch_norm_backward(dy, cache)
    if cache.training:
        return grads
    x, mu, axes = cache.x, cache.mean.reshape((1, -1) + (1,) * (cache.x.ndim - 2)), cache.axes
    extra = grads.dvar * (-2 * (x - mu)).sum(axis=axes).reshape(-1) / cache.m
    return grads._replace(dmean=grads.dmean + extra)


bn_training_dmean_in_evaluation = planted(
    "batch norm's training ∂ℓ/∂μ in evaluation mode",
    batch_norm_backward=_bn_backward_training_dmean_in_evaluation,
)


def _spectral_norm_ignoring_eps(W, u, v=None, *, n_power_iterations=1, eps=1e-12):
    # the eps argument accepted and the library's 1e-12 used
    return ref.spectral_norm(W, u, v, n_power_iterations=n_power_iterations)


spectral_norm_ignoring_eps = planted(
    "spectral norm ignoring its eps", spectral_norm=_spectral_norm_ignoring_eps
)
