"""Normalisation: of features, of activations (batch and group norm) and of weights.

Each forward has its backward (vector-Jacobian product) beside it. Statistics are per channel
on axis 1 of ``x`` (the PyTorch layout (N, C, *spatial)); variances are the biased
(population, 1/m) ones, as the sources print them.

Sources (catalogue section 5; seeds by file number):
    002  feature normalisation; batch normalisation, at test time and on CNN feature maps.
    002, 004  batch normalisation and its six backward formulas: Ioffe & Szegedy, "Batch
         Normalization: Accelerating Deep Network Training by Reducing Internal Covariate
         Shift", ICML 2015, Alg. 1 and section 3.
    000  group normalisation: Wu & He, "Group Normalization", ECCV 2018.
    004  weight normalisation: Salimans & Kingma, "Weight Normalization", NIPS 2016, eq. 2-4.
    000, 004  spectral normalisation: Miyato et al., "Spectral Normalization for Generative
         Adversarial Networks", ICLR 2018, Alg. 1.
    004  singular value bounding: Jia et al., "Improving Training of Deep Neural Networks via
         Singular Value Bounding", CVPR 2017.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nnconform.reference._validate import (
    as_array,
    choice,
    integer,
    interval,
    nonnegative,
    positive,
    same_shape,
)

__all__ = [
    "RUNNING_VAR_ESTIMATORS",
    "SPECTRAL_NORM_VARIANTS",
    "BatchNormCache",
    "BatchNormGrads",
    "BatchNormOutput",
    "SpectralNormOutput",
    "batch_norm",
    "batch_norm_backward",
    "feature_normalization",
    "feature_normalization_backward",
    "group_norm",
    "group_norm_backward",
    "singular_value_bounding",
    "spectral_norm",
    "spectral_norm_backward",
    "weight_norm",
    "weight_norm_backward",
]


# --- shared helpers ---------------------------------------------------------------------


def _activations(x) -> np.ndarray:
    """``x`` as (N, C, *spatial), with at least one value per channel."""
    x = as_array("x", x, ndim=(2, 3, 4, 5))
    if x.size == 0:
        raise ValueError(f"x must not be empty (an empty batch has no statistics), got {x.shape}")
    return x


def _per_channel(name: str, a, channels: int) -> np.ndarray:
    """A parameter or statistic with one value per channel: shape (C,)."""
    a = as_array(name, a)
    if a.shape != (channels,):
        raise ValueError(
            f"{name} must have shape ({channels},), one value per channel (x.shape[1]), "
            f"got {a.shape}"
        )
    return a


def _on_axis_1(a: np.ndarray, ndim: int) -> np.ndarray:
    """A (C,) array shaped (1, C, 1, …) to broadcast against an ndim-dimensional x."""
    return a.reshape((1, -1) + (1,) * (ndim - 2))


def _all_but_channels(ndim: int) -> tuple[int, ...]:
    """The axes a per-channel statistic runs over: batch and positions, (0, 2, 3, …)."""
    return (0, *range(2, ndim))


def _standardise_backward(x_hat: np.ndarray, dx_hat: np.ndarray, std, axes) -> np.ndarray:
    """Pull dx̂ back through x̂ = (x − mean(x)) / √(var(x) + ε), statistics over ``axes``:

        ∂ℓ/∂x = (1/√(σ² + ε)) · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)).

    The compact form of batch norm's six formulas (γ = 1); used where the sources print no
    formulas of their own (feature and group normalisation).
    """

    def mean(a: np.ndarray) -> np.ndarray:
        return a.mean(axis=axes, keepdims=True)

    return (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / std


# --- feature normalisation --------------------------------------------------------------


def _features(X, eps) -> tuple[np.ndarray, float]:
    X = as_array("X", X, ndim=2)
    if X.shape[0] == 0:
        raise ValueError(f"X must hold at least one sample (row), got shape {X.shape}")
    return X, nonnegative("eps", eps)


def _feature_std(X: np.ndarray, eps: float) -> np.ndarray:
    std = np.sqrt(X.var(axis=0, keepdims=True) + eps)  # (1, D), population variance
    if np.any(std == 0):
        constant = np.flatnonzero(std[0] == 0).tolist()
        raise ValueError(
            f"X has constant features (columns {constant}): their std is 0; pass eps > 0"
        )
    return std


def feature_normalization(X, *, eps: float = 0.0) -> np.ndarray:
    """Standardise each feature over the data set   (seed 002):

        x̃_ij = (x_ij − μ_j) / √(σ_j² + ε),  μ_j = (1/N) Σ_i x_ij,  σ_j² = (1/N) Σ_i (x_ij − μ_j)².

    ``X`` is (N, D): N samples of D features. σ is the population std (ddof = 0, as
    ``scipy.stats.zscore`` and sklearn's ``StandardScaler``); ε = 0 is the source's form, and a
    constant feature then raises.

    Warning: ``jax.nn.standardize`` computes σ² in one pass, mean(x²) − mean(x)², by default
    (jax/_src/nn/functions.py:656 ``algorithm="fast"``, :680-684, :697-702; documented as
    suffering "catastrophic cancellation"). A defect, not a variant: it is the same σ² computed
    less accurately, and it loses κ² of accuracy on a feature whose mean is κ times its spread
    (10% of σ² in float32 at κ = 2e3), where the two-pass form loses κ; ``algorithm="stable"``
    is the two-pass form.
    """
    X, eps = _features(X, eps)
    return (X - X.mean(axis=0, keepdims=True)) / _feature_std(X, eps)


def feature_normalization_backward(X, dy, *, eps: float = 0.0) -> np.ndarray:
    """The standardisation Jacobian: batch norm's backward over axis 0 with γ = 1, β = 0,

    ∂ℓ/∂x_ij = (1/σ_j) (dy_ij − mean_i(dy_ij) − x̃_ij · mean_i(dy_ij x̃_ij)).

    The mean and std depend on every sample, so each output depends on the whole column.
    """
    X, eps = _features(X, eps)
    dy = as_array("dy", dy)
    same_shape(X=X, dy=dy)
    std = _feature_std(X, eps)
    x_hat = (X - X.mean(axis=0, keepdims=True)) / std
    return _standardise_backward(x_hat, dy, std, axes=0)


# --- batch normalisation ----------------------------------------------------------------

RUNNING_VAR_ESTIMATORS = ("biased", "unbiased")


class BatchNormCache(NamedTuple):
    """What the backward needs: the input, x̂, the statistics used (batch statistics in
    training, running statistics in evaluation), γ, ε, the reduced axes and their size m."""

    x: np.ndarray  # (N, C, *spatial)
    x_hat: np.ndarray  # (N, C, *spatial)
    mean: np.ndarray  # (C,)
    var: np.ndarray  # (C,)
    gamma: np.ndarray  # (C,)
    eps: float
    axes: tuple[int, ...]  # every axis but the channel axis 1
    m: int  # values per channel: N · H · W
    training: bool


class BatchNormOutput(NamedTuple):
    y: np.ndarray
    cache: BatchNormCache
    running_mean: np.ndarray
    running_var: np.ndarray


class BatchNormGrads(NamedTuple):
    """The six gradients of batch norm, in the order seed 004 prints them; all (C,) but
    ``dx_hat`` and ``dx``, which have the shape of x."""

    dx_hat: np.ndarray
    dvar: np.ndarray
    dmean: np.ndarray
    dx: np.ndarray
    dgamma: np.ndarray
    dbeta: np.ndarray


def batch_norm(
    x,
    gamma,
    beta,
    running_mean,
    running_var,
    *,
    training: bool = True,
    momentum: float = 0.9,
    eps: float = 1e-5,
    running_var_estimator: str = "biased",
) -> BatchNormOutput:
    """Batch normalisation   (seeds 002, 004; Ioffe & Szegedy 2015, Alg. 1).

    Training, per channel over the m = N·H·W values of the batch:

        μ_B  = (1/m) Σ x_i
        σ²_B = (1/m) Σ (x_i − μ_B)²                        (biased)
        x̂_i  = (x_i − μ_B) / √(σ²_B + ε)
        y_i  = γ x̂_i + β
        μ̄  ← p μ̄  + (1 − p) μ_B
        σ̄² ← p σ̄² + (1 − p) σ²_B    (``running_var_estimator="unbiased"``: m/(m − 1) σ²_B)

    Evaluation (``training=False``): x̂ = (x − μ̄)/√(σ̄² + ε) with the running statistics,
    which are returned unchanged.

    ``x`` is (N, C) or (N, C, *spatial) (CNN feature maps: statistics per channel over
    (N, H, W), seed 002); ``gamma``, ``beta`` and the running statistics are (C,). ``momentum``
    is p, the weight of the old running value. Returns ``BatchNormOutput(y, cache,
    running_mean, running_var)``; the cache feeds ``batch_norm_backward``.

    Warning: PyTorch's ``momentum`` is 1 − p (default 0.1, i.e. p = 0.9), and PyTorch
    updates the running variance with the unbiased estimator while normalising with the
    biased one; Keras's ``momentum`` is p (default 0.99).
    Defect, not a variant: a one-pass variance σ² = E[x²] − E[x]² (flax ``BatchNorm``'s
    default ``use_fast_variance=True``; Keras ``BatchNormalization``) cancels: its relative
    error is about u·(μ/σ)², 6% in float32 when the mean is 1e3 times the spread, and on a
    constant channel it can round below −ε and give NaN. σ² is E[(x − μ)²] here, the formula
    of the sources; the checks fail the one-pass form and name it.
    """
    x = _activations(x)
    channels = x.shape[1]
    gamma = _per_channel("gamma", gamma, channels)
    beta = _per_channel("beta", beta, channels)
    running_mean = _per_channel("running_mean", running_mean, channels)
    running_var = _per_channel("running_var", running_var, channels)
    if np.any(running_var < 0):
        raise ValueError(f"running_var must be non-negative, got {running_var}")
    if not isinstance(training, bool | np.bool_):
        raise TypeError(f"training must be True or False, got {training!r}")
    p = interval("momentum", momentum, 0.0, 1.0)
    eps = positive("eps", eps)
    estimator = choice("running_var_estimator", running_var_estimator, RUNNING_VAR_ESTIMATORS)

    axes = _all_but_channels(x.ndim)
    m = x.size // channels
    if training:
        if m < 2:
            raise ValueError(
                f"batch norm in training needs at least 2 values per channel, got m = {m} "
                f"(x of shape {x.shape}): the variance of one value is 0"
            )
        mean = x.mean(axis=axes)  # μ_B, (C,)
        var = ((x - _on_axis_1(mean, x.ndim)) ** 2).mean(axis=axes)  # σ²_B, biased
        var_for_running = var * m / (m - 1) if estimator == "unbiased" else var
        new_running_mean = p * running_mean + (1 - p) * mean
        new_running_var = p * running_var + (1 - p) * var_for_running
    else:
        mean, var = running_mean, running_var
        new_running_mean, new_running_var = running_mean.copy(), running_var.copy()

    x_hat = (x - _on_axis_1(mean, x.ndim)) / np.sqrt(_on_axis_1(var, x.ndim) + eps)
    y = _on_axis_1(gamma, x.ndim) * x_hat + _on_axis_1(beta, x.ndim)
    cache = BatchNormCache(x, x_hat, mean, var, gamma, eps, axes, m, bool(training))
    return BatchNormOutput(y, cache, new_running_mean, new_running_var)


def batch_norm_backward(dy, cache: BatchNormCache) -> BatchNormGrads:
    """The six backward formulas of batch norm, exactly as seed 004 prints them (Ioffe &
    Szegedy 2015, section 3); Σ runs over the batch (and H, W) of each channel:

        ∂ℓ/∂x̂_i = ∂ℓ/∂y_i · γ
        ∂ℓ/∂σ²  = Σ ∂ℓ/∂x̂_i · (x_i − μ) · (−½)(σ² + ε)^(−3/2)
        ∂ℓ/∂μ   = (Σ ∂ℓ/∂x̂_i · (−1/√(σ² + ε))) + ∂ℓ/∂σ² · (Σ −2(x_i − μ)) / m
        ∂ℓ/∂x_i = ∂ℓ/∂x̂_i · 1/√(σ² + ε) + ∂ℓ/∂σ² · 2(x_i − μ)/m + ∂ℓ/∂μ · 1/m
        ∂ℓ/∂γ   = Σ ∂ℓ/∂y_i · x̂_i
        ∂ℓ/∂β   = Σ ∂ℓ/∂y_i

    In evaluation mode μ and σ² are the running statistics, constants of the batch: then
    ∂ℓ/∂x_i = ∂ℓ/∂x̂_i/√(σ̄² + ε), and ``dmean``, ``dvar`` are the gradients with respect to
    μ̄ and σ̄² as free inputs (σ̄² does not depend on μ̄, so ∂ℓ/∂μ has only its first term).
    """
    x, x_hat, mean, var, gamma, eps, axes, m, training = cache
    dy = as_array("dy", dy)
    same_shape(dy=dy, x=x)
    mu, var, gamma = (_on_axis_1(a, x.ndim) for a in (mean, var, gamma))  # (1, C, 1, 1)

    def total(a: np.ndarray) -> np.ndarray:  # Σ over the m values of each channel
        return a.sum(axis=axes, keepdims=True)

    dx_hat = dy * gamma
    dvar = total(dx_hat * (x - mu) * -0.5 * (var + eps) ** -1.5)
    if training:
        dmean = total(dx_hat * (-1 / np.sqrt(var + eps))) + dvar * total(-2 * (x - mu)) / m
        dx = dx_hat * 1 / np.sqrt(var + eps) + dvar * 2 * (x - mu) / m + dmean * 1 / m
    else:
        dmean = total(dx_hat * (-1 / np.sqrt(var + eps)))
        dx = dx_hat * 1 / np.sqrt(var + eps)
    dgamma = total(dy * x_hat)
    dbeta = total(dy)
    dvar, dmean, dgamma, dbeta = (a.reshape(-1) for a in (dvar, dmean, dgamma, dbeta))  # (C,)
    return BatchNormGrads(dx_hat, dvar, dmean, dx, dgamma, dbeta)


# --- group normalisation ----------------------------------------------------------------


def _groups(x, gamma, beta, num_groups, eps):
    x = _activations(x)
    channels = x.shape[1]
    gamma = _per_channel("gamma", gamma, channels)
    beta = _per_channel("beta", beta, channels)
    num_groups = integer("num_groups", num_groups, minimum=1)
    if channels % num_groups:
        raise ValueError(
            f"num_groups must divide the number of channels C = {channels}, got {num_groups}"
        )
    return x, gamma, beta, num_groups, positive("eps", eps)


def _group_standardise(x: np.ndarray, num_groups: int, eps: float):
    """x̂ in the grouped shape (N, G, C/G, *spatial) and the std of each (sample, group)."""
    grouped = x.reshape((x.shape[0], num_groups, -1, *x.shape[2:]))
    axes = tuple(range(2, grouped.ndim))  # the channels of a group and their positions
    mean = grouped.mean(axis=axes, keepdims=True)
    std = np.sqrt(((grouped - mean) ** 2).mean(axis=axes, keepdims=True) + eps)  # biased
    return (grouped - mean) / std, std, axes


def group_norm(x, gamma, beta, *, num_groups: int, eps: float = 1e-5) -> np.ndarray:
    """Group normalisation   (seed 000; Wu & He 2018, eq. 1-3 and Fig. 2):

        x̂ = (x − μ_ng)/√(σ²_ng + ε),  y = γ_c x̂ + β_c,

    with μ_ng, σ²_ng (biased) over the C/G channels of group g and all their positions, for
    each sample n separately: no dependence on the batch, the same in training and evaluation.
    ``num_groups = 1`` is layer normalisation over (C, H, W); ``num_groups = C`` is instance
    normalisation. ``x`` is (N, C, *spatial); ``gamma``, ``beta`` are (C,).

    Warning: PyTorch's ``LayerNorm`` normalises over trailing dimensions with an affine per
    element (not per channel); it matches ``num_groups = 1`` only where that γ, β is constant
    over H, W.
    """
    x, gamma, beta, num_groups, eps = _groups(x, gamma, beta, num_groups, eps)
    x_hat, _, _ = _group_standardise(x, num_groups, eps)
    return _on_axis_1(gamma, x.ndim) * x_hat.reshape(x.shape) + _on_axis_1(beta, x.ndim)


def group_norm_backward(
    x, gamma, beta, dy, *, num_groups: int, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (dx, dgamma, dbeta). Within each (sample, group) the standardisation pulls back
    like batch norm's: ∂ℓ/∂x = (1/σ)(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) with dx̂ = dy·γ;
    ∂ℓ/∂γ_c = Σ_{n, h, w} dy·x̂ and ∂ℓ/∂β_c = Σ_{n, h, w} dy."""
    x, gamma, beta, num_groups, eps = _groups(x, gamma, beta, num_groups, eps)
    dy = as_array("dy", dy)
    same_shape(x=x, dy=dy)
    x_hat, std, axes = _group_standardise(x, num_groups, eps)
    dx_hat = (dy * _on_axis_1(gamma, x.ndim)).reshape(x_hat.shape)  # (N, G, C/G, *spatial)
    dx = _standardise_backward(x_hat, dx_hat, std, axes).reshape(x.shape)
    per_channel = _all_but_channels(x.ndim)
    dgamma = (dy * x_hat.reshape(x.shape)).sum(axis=per_channel)
    return dx, dgamma, dy.sum(axis=per_channel)


# --- weight normalisation ---------------------------------------------------------------


def _weight_norm_inputs(v, g) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """v, g, ‖v‖ and g, both broadcast against v: one norm for a 1-D v (scalar g), one per
    output row (slice along axis 0) otherwise (g of shape (out,))."""
    v = as_array("v", v)
    g = as_array("g", g)
    if v.ndim == 0 or v.size == 0:
        raise ValueError(f"v must be a non-empty vector or matrix, got shape {v.shape}")
    if v.ndim == 1:
        if g.ndim != 0:
            raise ValueError(f"g must be a scalar for a 1-D v, got shape {g.shape}")
        norm = np.sqrt(np.sum(v**2))
        g_on_v = g
    else:
        if g.shape != (v.shape[0],):
            raise ValueError(
                f"g must have shape ({v.shape[0]},), one per output row of v (v.shape[0]), "
                f"got {g.shape}"
            )
        norm = np.sqrt(np.sum(v**2, axis=tuple(range(1, v.ndim)), keepdims=True))
        g_on_v = g.reshape((-1,) + (1,) * (v.ndim - 1))
    if np.any(norm == 0):
        raise ValueError("v must have a non-zero norm (in every output row): w = g·v/‖v‖")
    return v, g, norm, g_on_v


def weight_norm(v, g) -> np.ndarray:
    """w = g · v/‖v‖   (seed 004; Salimans & Kingma 2016, eq. 2).

    ``v`` a vector with a scalar ``g``, or a weight (out, in, …) with ``g`` of shape (out,)
    and one norm per output row, over all other axes: PyTorch's ``weight_norm(dim=0)``.
    ‖w‖ = |g| whatever v is.

    Warning: PyTorch stores g (``weight_g`` / ``original0``) with shape (out, 1, …); squeeze it.
    Warning: flax's ``WeightNorm`` computes v·rsqrt(‖v‖² + ε) with ε = 1e-12
    (flax/linen/normalization.py:229-244 ``_l2_normalize``, :1301 ``epsilon: float = 1e-12``,
    :1377): a guard against 0/0, not another formula, hence no variant. It moves w by
    ε/(2‖v‖²) relative and the gradients by ε/‖v‖² of their size (|g|‖∇_w‖/‖v‖ for ∂ℓ/∂v),
    below float64's tolerance (1e-10) for ‖v‖² ≥ 1e-2; the checks allow a guard up to 1e-12
    in their tolerance (ε/‖v‖² added for the drawn v) and compare the gradients in units of
    that size, not entry by entry (an entry of ∂ℓ/∂v may cancel to near 0).
    """
    v, g, norm, g_on_v = _weight_norm_inputs(v, g)
    return g_on_v * v / norm


def weight_norm_backward(v, g, dw) -> tuple[np.ndarray, np.ndarray]:
    """Returns (dv, dg)   (Salimans & Kingma 2016, eq. 3):

        ∂ℓ/∂g = ∇_w · v/‖v‖
        ∂ℓ/∂v = (g/‖v‖)(I − w wᵀ/‖w‖²) ∇_w

    per output row. Since w/‖w‖ = ±v/‖v‖, the projector is written I − v̂ v̂ᵀ with
    v̂ = v/‖v‖, which stays defined at g = 0 (where w = 0).
    """
    v, g, norm, g_on_v = _weight_norm_inputs(v, g)
    dw = as_array("dw", dw)
    same_shape(v=v, dw=dw)
    v_hat = v / norm
    row = tuple(range(v.ndim)) if v.ndim == 1 else tuple(range(1, v.ndim))
    dg_on_v = np.sum(dw * v_hat, axis=row, keepdims=True)  # ∇_w · v/‖v‖, one per row
    dv = g_on_v / norm * (dw - v_hat * dg_on_v)
    return dv, dg_on_v.reshape(g.shape)


# --- spectral normalisation -------------------------------------------------------------


class SpectralNormOutput(NamedTuple):
    weight: np.ndarray  # W / σ, (out, in)
    u: np.ndarray  # (out,), to be passed to the next call
    v: np.ndarray  # (in,)
    sigma: float  # σ = uᵀ W v


SPECTRAL_NORM_VARIANTS = ("max_norm", "eps_inside")


def _unit(a: np.ndarray, eps: float, variant: str = "max_norm") -> np.ndarray:
    """a/max(‖a‖, ε), PyTorch's ``F.normalize`` (``max_norm``), or a/√(‖a‖² + ε), flax's
    ``_l2_normalize`` (``eps_inside``): either way a zero vector stays zero, no 0/0."""
    squared = float(a @ a)
    if variant == "eps_inside":
        return a / np.sqrt(squared + eps)
    return a / max(np.sqrt(squared), eps)


def _spectral_inputs(W, u, v) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    W = as_array("W", W, ndim=2)
    u = as_array("u", u, ndim=1)
    if u.shape != (W.shape[0],):
        raise ValueError(f"u must have shape ({W.shape[0]},) (W.shape[0]), got {u.shape}")
    if v is not None:
        v = as_array("v", v, ndim=1)
        if v.shape != (W.shape[1],):
            raise ValueError(f"v must have shape ({W.shape[1]},) (W.shape[1]), got {v.shape}")
    return W, u, v


def spectral_norm(
    W, u, v=None, *, n_power_iterations: int = 1, eps: float = 1e-12, variant: str = "max_norm"
) -> SpectralNormOutput:
    """W̄ = W/σ(W), σ estimated by power iteration   (seeds 000, 004; Miyato et al. 2018, Alg. 1).

    Each iteration, from the u kept from the previous call:

        v ← Wᵀu / ‖Wᵀu‖,   u ← W v / ‖W v‖;   then σ = uᵀ W v,  W̄ = W/σ.

    The order is PyTorch's ``torch.nn.utils.spectral_norm``. ``variant`` names the guard of
    each normalisation a/‖a‖ against a vanishing ‖a‖ (a tiny W, or u orthogonal to its range):

        max_norm    (default) a/max(‖a‖, ε), PyTorch's F.normalize (torch/nn/utils/
                    spectral_norm.py:103-106; torch/nn/functional.py:6100, clamp_min(eps));
        eps_inside  a/√(‖a‖² + ε), ε inside the root: flax.linen.SpectralNorm
                    (flax/linen/normalization.py:1062 ``epsilon: float = 1e-12``, :1162-1166,
                    ``_l2_normalize`` :244 x·rsqrt(Σx² + ε)).

    A variant, not a defect: both are documented guards, and with the ε given they differ
    wherever the guard acts: at ‖a‖ ≪ √ε the first divides by ε, the second by √ε (in
    flax, ε is in the units of ‖a‖²). At ordinary ‖a‖ both are a/‖a‖: at flax's default
    ε = 1e-12 they differ by ε/(2‖a‖²) relative, below float64's tolerance for ‖a‖² ≥ 1e-2.
    With ``n_power_iterations = 0`` the given u and v are
    used as they are (v is then required); otherwise v is recomputed and the argument ignored.
    Returns ``SpectralNormOutput(weight, u, v, sigma)``; pass u (and v) to the next call.

    Warning: W is (out, in); PyTorch reshapes a convolution weight to (out, −1) first.
    """
    W, u, v = _spectral_inputs(W, u, v)
    n_power_iterations = integer("n_power_iterations", n_power_iterations, minimum=0)
    eps = positive("eps", eps)
    if n_power_iterations == 0 and v is None:
        raise ValueError("v is required when n_power_iterations is 0, got None")
    variant = choice("variant", variant, SPECTRAL_NORM_VARIANTS)
    for _ in range(n_power_iterations):
        v = _unit(W.T @ u, eps, variant)
        u = _unit(W @ v, eps, variant)
    sigma = float(u @ W @ v)
    if sigma == 0:
        raise ValueError("sigma = uᵀWv is 0: W is zero or u, v are orthogonal to its range")
    return SpectralNormOutput(W / sigma, u, v, sigma)


def spectral_norm_backward(W, u, v, dy) -> np.ndarray:
    """∂ℓ/∂W of W̄ = W/σ with σ = uᵀWv and u, v held constant (as Miyato et al. 2018 and
    PyTorch do, since u, v come from the previous step's power iteration):

        ∂ℓ/∂W = dy/σ − (⟨dy, W⟩/σ²) u vᵀ.

    ``u``, ``v`` are the vectors the forward returned. When they are the top singular vectors,
    u vᵀ = ∂σ_max/∂W and this is also the exact gradient of W/σ_max(W).
    """
    W, u, v = _spectral_inputs(W, u, v)
    if v is None:
        raise ValueError("v must be given (the v the forward returned), got None")
    dy = as_array("dy", dy)
    same_shape(W=W, dy=dy)
    sigma = float(u @ W @ v)
    if sigma == 0:
        raise ValueError("sigma = uᵀWv is 0: W is zero or u, v are orthogonal to its range")
    return dy / sigma - (np.sum(dy * W) / sigma**2) * np.outer(u, v)


# --- singular value bounding ------------------------------------------------------------


def singular_value_bounding(W, *, eps: float) -> np.ndarray:
    """Clip every singular value of W to [1/(1 + ε), 1 + ε]   (seed 004; Jia et al. 2017,
    Alg. 1): W = U diag(s) Vᵀ ↦ U diag(clip(s)) Vᵀ.

    Applied to the weights after an update every few iterations, it keeps W near orthogonal;
    ε = 0 gives the orthogonal polar factor U Vᵀ. A projection, not a differentiable layer.
    """
    W = as_array("W", W, ndim=2)
    eps = nonnegative("eps", eps)
    U, s, Vt = np.linalg.svd(W, full_matrices=False)  # W = U diag(s) Vᵀ
    return (U * np.clip(s, 1 / (1 + eps), 1 + eps)) @ Vt
