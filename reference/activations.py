"""Activation functions: each forward with its backward (vector-Jacobian product) beside it.

Every ``f(x, ...)`` has an ``f_backward(x, dy, ...)`` that returns ``dy`` pulled back through
``f`` at ``x``, i.e. ``dy * f'(x)`` for element-wise functions. The backward takes the same
keyword arguments as the forward.

Sources (catalogue section 1; seeds by file number):
    001, 004  sigmoid and tanh; σ' peaks at 0.25 at x = 0.
    000, 001, 004  ReLU; Krizhevsky et al., NIPS 2012.
    004  Leaky ReLU and PReLU: He et al., "Delving Deep into Rectifiers", ICCV 2015.
    004  ELU: Clevert et al., "Fast and Accurate Deep Network Learning by ELUs", ICLR 2016.
    004  ReLU6: Krizhevsky, "Convolutional Deep Belief Networks on CIFAR-10", 2010.
    004  SELU: Klambauer et al., "Self-Normalizing Neural Networks", NIPS 2017.
    004  GELU: Hendrycks & Gimpel, "Gaussian Error Linear Units", 2016.
    004  Softplus sum: Nair & Hinton, "Rectified Linear Units Improve RBMs", ICML 2010.
    001, 002, 004  softmax and log-softmax.
    004  CKN: Mairal, Koniusz, Harchaoui & Schmid, "Convolutional Kernel Networks", NIPS 2014.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

from nnconform.reference._validate import as_array, choice, finite, integer, positive, same_shape

__all__ = [
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "ckn",
    "ckn_backward",
    "elu",
    "elu_backward",
    "gelu",
    "gelu_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "log_softmax",
    "log_softmax_backward",
    "prelu",
    "prelu_backward",
    "relu",
    "relu6",
    "relu6_backward",
    "relu_backward",
    "selu",
    "selu_backward",
    "sigmoid",
    "sigmoid_backward",
    "softmax",
    "softmax_backward",
    "softplus",
    "softplus_backward",
    "softplus_sum",
    "softplus_sum_backward",
    "tanh",
    "tanh_backward",
]


def _pair(x, dy) -> tuple[np.ndarray, np.ndarray]:
    """The input and the upstream gradient of a backward, as float64 of one shape."""
    x, dy = as_array("x", x), as_array("dy", dy)
    same_shape(x=x, dy=dy)
    return x, dy


# --- sigmoid ----------------------------------------------------------------------------


def sigmoid(x) -> np.ndarray:
    """σ(x) = 1 / (1 + e^-x)   (seeds 001, 004).

    Evaluated as e^x / (1 + e^x) for x < 0 so that e^-x never overflows for large |x|:
    finite for every x, 1 for large positive x, and e^x (down through the subnormals, then 0)
    for large negative x.
    """
    x = as_array("x", x)
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_backward(x, dy) -> np.ndarray:
    """σ'(x) = σ(x)(1 − σ(x)); its maximum is 0.25, at x = 0 (seed 001). Finite for every x
    (never e^-x / (1 + e^-x)², which is inf/inf = NaN past the overflow of e^-x)."""
    x, dy = _pair(x, dy)
    s = sigmoid(x)
    return dy * s * (1.0 - s)


# --- tanh -------------------------------------------------------------------------------


def tanh(x) -> np.ndarray:
    """tanh(x) = (e^x − e^-x) / (e^x + e^-x)   (seeds 001, 004): ±1 for large ±x, never the
    inf/inf = NaN of the quotient as written."""
    return np.tanh(as_array("x", x))


def tanh_backward(x, dy) -> np.ndarray:
    """tanh'(x) = 1 − tanh²(x)."""
    x, dy = _pair(x, dy)
    return dy * (1.0 - np.tanh(x) ** 2)


# --- ReLU and its relatives -------------------------------------------------------------


def relu(x) -> np.ndarray:
    """ReLU(x) = max(0, x)   (seeds 000, 001, 004)."""
    x = as_array("x", x)
    return np.where(x > 0, x, 0.0)


def relu_backward(x, dy) -> np.ndarray:
    """ReLU'(x) = 1[x > 0]; the subgradient 0 is taken at the kink x = 0, and at −0.0
    (as PyTorch does)."""
    x, dy = _pair(x, dy)
    return np.where(x > 0, dy, 0.0)


def leaky_relu(x, *, alpha: float = 0.01) -> np.ndarray:
    """LeakyReLU(x) = x for x ≥ 0, αx for x < 0; α = 0.01   (seeds 001, 004)."""
    x = as_array("x", x)
    alpha = finite("alpha", alpha)
    return np.where(x >= 0, x, alpha * x)


def leaky_relu_backward(x, dy, *, alpha: float = 0.01) -> np.ndarray:
    """Derivative 1 for x ≥ 0 and α for x < 0.

    Warning: at the kink x = 0 (and −0.0) the catalogue takes 1, the right derivative;
    PyTorch takes α, the left one. Both are subgradients; the checks accept either there.
    """
    x, dy = _pair(x, dy)
    alpha = finite("alpha", alpha)
    return np.where(x >= 0, dy, alpha * dy)


def _channel_slope(x: np.ndarray, a) -> np.ndarray:
    """PReLU's slope a broadcast along the channel axis 1 of x, as PyTorch lays it out.

    ``a`` holds one shared slope (size 1) or one per channel (shape (C,), C = x.shape[1]).
    """
    a = as_array("a", a)
    if a.size == 1:
        return a.reshape((1,) * x.ndim)
    if a.ndim != 1 or x.ndim < 2 or a.shape[0] != x.shape[1]:
        raise ValueError(
            f"a must hold 1 slope or one per channel (x.shape[1]), got a of shape {a.shape} "
            f"for x of shape {x.shape}"
        )
    return a.reshape((1, -1) + (1,) * (x.ndim - 2))


def prelu(x, a) -> np.ndarray:
    """PReLU(x) = x for x ≥ 0, a·x for x < 0, with a learned per channel   (seed 004).

    He et al. 2015, eq. 1. ``x`` is (N, C, ...) with channels on axis 1; ``a`` is (C,) or size 1.
    """
    x = as_array("x", x)
    return np.where(x >= 0, x, _channel_slope(x, a) * x)


def prelu_backward(x, a, dy) -> tuple[np.ndarray, np.ndarray]:
    """Returns (dx, da): dx as leaky ReLU's (1 at the kink x = 0: PyTorch takes a there);
    ∂ℓ/∂a = Σ ∂ℓ/∂y · x · 1[x < 0] over each channel (0 from x = 0 either way).

    He et al. 2015, eq. 2: the gradient of a slope sums over every position it is shared by.
    """
    x, dy = _pair(x, dy)
    slope = _channel_slope(x, a)
    dx = np.where(x >= 0, dy, slope * dy)
    per_position = np.where(x < 0, dy * x, 0.0)
    a = np.asarray(a, dtype=np.float64)
    if a.size == 1:
        da = np.full(a.shape, per_position.sum())
    else:
        da = per_position.sum(axis=tuple(i for i in range(x.ndim) if i != 1))
    return dx, da


def elu(x, *, alpha: float = 1.0) -> np.ndarray:
    """ELU(x) = x for x > 0, α(e^x − 1) otherwise; α = 1   (seed 004; Clevert et al. 2016).

    Exactly x for every x > 0 (the asymptote is the function there), −α for large negative x;
    finite everywhere.
    """
    x = as_array("x", x)
    alpha = finite("alpha", alpha)
    # expm1 of min(x, 0): accurate near 0, and the unused branch cannot overflow.
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def elu_backward(x, dy, *, alpha: float = 1.0) -> np.ndarray:
    """ELU'(x) = 1 for x > 0, α·e^x otherwise: α at the kink x = 0 (the left derivative, as
    PyTorch takes it; both sides are 1 when α = 1)."""
    x, dy = _pair(x, dy)
    alpha = finite("alpha", alpha)
    return np.where(x > 0, dy, alpha * np.exp(np.minimum(x, 0.0)) * dy)


def relu6(x) -> np.ndarray:
    """ReLU6(x) = min(max(0, x), 6)   (seed 004; Krizhevsky 2010)."""
    return np.clip(as_array("x", x), 0.0, 6.0)


def relu6_backward(x, dy) -> np.ndarray:
    """ReLU6'(x) = 1 on the open interval (0, 6), 0 elsewhere (0 at both kinks)."""
    x, dy = _pair(x, dy)
    return np.where((x > 0) & (x < 6), dy, 0.0)


# Klambauer et al. 2017, eq. 14: the fixed point (mean 0, variance 1) of the SELU map.
SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


def selu(x) -> np.ndarray:
    """SELU(x) = λx for x > 0, λα(e^x − 1) otherwise   (seed 004).

    λ = 1.0507009873554805, α = 1.6732632423543772: with these constants a standard normal
    input keeps mean 0 and variance 1 (Klambauer et al. 2017).

    Exactly λx for x > 0, −λα for large negative x; inf only where λx exceeds the dtype's
    largest value (x above max/λ), as the true value does.
    """
    with np.errstate(over="ignore"):
        return SELU_LAMBDA * elu(x, alpha=SELU_ALPHA)


def selu_backward(x, dy) -> np.ndarray:
    """SELU'(x) = λ for x > 0, λα·e^x otherwise: λα at the kink x = 0 (the left derivative,
    as PyTorch takes it)."""
    return SELU_LAMBDA * elu_backward(x, dy, alpha=SELU_ALPHA)


# --- GELU -------------------------------------------------------------------------------

GELU_VARIANTS = ("tanh", "erf")
_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)
_GELU_CUBIC = 0.044715


def gelu(x, *, variant: str = "tanh") -> np.ndarray:
    """GELU   (seed 004; Hendrycks & Gimpel 2016).

    variant ``tanh`` (the source's form):  0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    variant ``erf`` (the exact form):      x·Φ(x) = 0.5·x·(1 + erf(x/√2))

    The two differ by at most about 4.8e-4. Warning: PyTorch's default
    (``approximate='none'``) is ``erf``; ``approximate='tanh'`` is this default.

    At the extremes both forms are finite for every finite x and reach their asymptotes:
    GELU(x) = x for large positive x and −0 for large negative x (x³ overflows past
    |x| ≈ 5.6e102 in float64, where tanh(±inf) = ±1 is then the exact saturated value).
    """
    x = as_array("x", x)
    if choice("variant", variant, GELU_VARIANTS) == "tanh":
        return 0.5 * x * (1.0 + np.tanh(_gelu_tanh_argument(x)))
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _gelu_tanh_argument(x: np.ndarray) -> np.ndarray:
    """u = √(2/π)(x + 0.044715x³); ±inf where x³ overflows, which tanh saturates exactly."""
    with np.errstate(over="ignore"):
        return _SQRT_2_OVER_PI * (x + _GELU_CUBIC * x**3)


def gelu_backward(x, dy, *, variant: str = "tanh") -> np.ndarray:
    """``tanh``: with u = √(2/π)(x + 0.044715x³), t = tanh u,
        GELU'(x) = 0.5(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²);
    ``erf``: GELU'(x) = Φ(x) + x·φ(x).

    Both are 1 for large positive x and 0 for large negative x. Where tanh has saturated
    (1 − t² = 0 exactly, |u| ≳ 19), the second term of the ``tanh`` form is taken as 0: it is
    below |x|³e^{−2|u|}, nothing in float64, while x·(1 + 3·0.044715·x²) may overflow to
    inf (|x| ≳ 1e154) and 0·inf would be NaN.
    """
    x, dy = _pair(x, dy)
    if choice("variant", variant, GELU_VARIANTS) == "tanh":
        t = np.tanh(_gelu_tanh_argument(x))
        sech2 = 1.0 - t**2
        x = np.where(sech2 > 0, x, 0.0)  # the saturated term is 0, never 0·inf
        du_dx = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * x**2)
        return dy * (0.5 * (1.0 + t) + 0.5 * x * sech2 * du_dx)
    cdf = 0.5 * (1.0 + erf(x / np.sqrt(2.0)))
    with np.errstate(over="ignore"):  # x² = inf past |x| ≈ 1.3e154: φ(x) = e^{−inf} = 0
        pdf = np.exp(-0.5 * x**2) / np.sqrt(2.0 * np.pi)
    return dy * (cdf + x * pdf)


# --- softplus ---------------------------------------------------------------------------


def softplus(x) -> np.ndarray:
    """ζ(x) = log(1 + e^x)   (seed 004), evaluated as logaddexp(0, x): stable for large |x|.

    Finite for every x: ζ(x) = x + log(1 + e^−x) → x for large positive x (exactly x once
    e^−x is below half an ulp of x: x ≳ 37 in float64, ≳ 17 in float32), and e^x for large
    negative x (never the inf of log(1 + e^x) as written, past x ≈ 709.78).
    """
    return np.logaddexp(0.0, as_array("x", x))


def softplus_backward(x, dy) -> np.ndarray:
    """ζ'(x) = σ(x)."""
    x, dy = _pair(x, dy)
    return dy * sigmoid(x)


def softplus_sum(x, *, N: int = 10) -> np.ndarray:
    """Σ_{i=1..N} σ(x − i + 0.5) ≈ log(1 + e^x)   (seed 004; Nair & Hinton 2010).

    N copies of a binary unit with shared weights and biases offset by −0.5, −1.5, …: the
    motivation of ReLU. For x ≤ N − 5 the error against softplus stays below 0.02. It
    saturates at N for large positive x and is 0 for large negative x.
    """
    x = as_array("x", x)
    N = integer("N", N, minimum=1)
    offsets = np.arange(1, N + 1) - 0.5  # i − 0.5 for i = 1..N
    return sigmoid(x[..., None] - offsets).sum(axis=-1)


def softplus_sum_backward(x, dy, *, N: int = 10) -> np.ndarray:
    """d/dx Σ σ(x − i + 0.5) = Σ σ(x − i + 0.5)(1 − σ(x − i + 0.5))."""
    x, dy = _pair(x, dy)
    N = integer("N", N, minimum=1)
    s = sigmoid(x[..., None] - (np.arange(1, N + 1) - 0.5))
    return dy * (s * (1.0 - s)).sum(axis=-1)


# --- softmax ----------------------------------------------------------------------------


def _logits(z, axis: int) -> np.ndarray:
    z = as_array("z", z)
    if z.ndim == 0:
        raise ValueError("z must have at least 1 dimension, got a scalar")
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(
            f"axis must be in [{-z.ndim}, {z.ndim}) for z of shape {z.shape}, got {axis}"
        )
    return z


def _shifted(z: np.ndarray, axis: int) -> np.ndarray:
    """z − max z: never positive; −inf only where the difference exceeds the dtype's range
    (z = ±max), where e^(z − m) = 0 and log_softmax = −inf are the true values rounded."""
    with np.errstate(over="ignore"):
        return z - z.max(axis=axis, keepdims=True)


def softmax(z, *, axis: int = -1) -> np.ndarray:
    """softmax(z)_i = e^{z_i} / Σ_j e^{z_j}   (seeds 001, 002, 004).

    Invariant to adding a constant to z; the maximum is subtracted first so that no
    exponent is positive and nothing overflows at logits of ±1e4, or of any finite size.
    """
    z = _logits(z, axis)
    e = np.exp(_shifted(z, axis))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(z, dy, *, axis: int = -1) -> np.ndarray:
    """Jacobian diag(y) − y yᵀ, so the pull-back of dy is y ⊙ (dy − ⟨dy, y⟩)."""
    z = _logits(z, axis)
    dy = as_array("dy", dy)
    same_shape(z=z, dy=dy)
    y = softmax(z, axis=axis)
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def log_softmax(z, *, axis: int = -1) -> np.ndarray:
    """log_softmax(z)_i = z_i − log Σ_j exp(z_j)   (seed 004), via log-sum-exp:
    log Σ_j e^{z_j} = m + log Σ_j e^{z_j − m}, m = max_j z_j.

    Exact at large |z|: log_softmax([1e4, 0]) = [−e^−1e4, −1e4], i.e. [0, −1e4] (never the
    −inf of log(softmax(z)), whose e^−1e4 underflows to 0); −inf only where z_i − m itself
    exceeds the dtype's range, as the true value does.
    """
    z = _logits(z, axis)
    shifted = _shifted(z, axis)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax_backward(z, dy, *, axis: int = -1) -> np.ndarray:
    """∂/∂z_j of Σ_i dy_i (z_i − logsumexp z) = dy_j − softmax(z)_j · Σ_i dy_i."""
    z = _logits(z, axis)
    dy = as_array("dy", dy)
    same_shape(z=z, dy=dy)
    return dy - softmax(z, axis=axis) * dy.sum(axis=axis, keepdims=True)


# --- CKN --------------------------------------------------------------------------------


def _ckn_exponent(u, sigma) -> tuple[np.ndarray, float]:
    """(2/σ²)(u − 1), and σ. Divided by σ twice rather than multiplied by 2/σ², so that a
    tiny σ cannot make 2/σ² overflow and turn u = 1 into inf·0 = NaN."""
    u = as_array("u", u)
    sigma = positive("sigma", sigma)
    with np.errstate(over="ignore"):  # ±inf: the value is then inf or 0, as it truly is
        return 2.0 * ((u - 1.0) / sigma) / sigma, sigma


def ckn(u, *, sigma: float = 1.0) -> np.ndarray:
    """f(u) = exp((2/σ²)(u − 1)), σ > 0   (seed 004; Mairal et al. 2014).

    The activation of Convolutional Kernel Networks: for unit vectors x, x' with u = ⟨x, x'⟩,
    f(u) = exp(−‖x − x'‖²/σ²) is the Gaussian kernel. f(1) = 1 for every σ.

    Large u/σ²: the value is exp of the exponent as given, so it is inf only where the true
    value exceeds the dtype's range (an exponent above log(max), ≈ 709.78 in float64 and
    88.72 in float32), and it underflows to 0 (through the subnormals) below about −745.
    """
    exponent, _ = _ckn_exponent(u, sigma)
    with np.errstate(over="ignore"):  # inf is the documented value beyond the range
        return np.exp(exponent)


def ckn_backward(u, dy, *, sigma: float = 1.0) -> np.ndarray:
    """f'(u) = (2/σ²)·f(u), evaluated as exp((2/σ²)(u − 1) + log(2/σ²)) so that it, too, is
    inf only where the true derivative exceeds the range (f finite, (2/σ²)·f not)."""
    u, dy = as_array("u", u), as_array("dy", dy)
    same_shape(u=u, dy=dy)
    exponent, sigma = _ckn_exponent(u, sigma)
    with np.errstate(over="ignore", invalid="ignore"):  # dy = 0 at an inf: NaN, as IEEE says
        return dy * np.exp(exponent + (np.log(2.0) - 2.0 * np.log(sigma)))
