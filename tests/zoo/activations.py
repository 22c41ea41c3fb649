"""Planted bugs in activations."""

import numpy as np

from nnconform.reference import activations as ref
from tests.zoo import planted


def _softmax_without_max(z, *, axis=-1):
    e = np.exp(np.asarray(z))  # overflows for logits past ~709 (float64), ~88 (float32)
    return e / e.sum(axis=axis, keepdims=True)


def _sigmoid_backward_without_one_minus(x, dy):
    return dy * ref.sigmoid(x)  # σ instead of σ(1 − σ)


softmax_without_max = planted("softmax without the max subtraction", softmax=_softmax_without_max)
sigmoid_backward_wrong = planted(
    "sigmoid backward missing (1 - σ)", sigmoid_backward=_sigmoid_backward_without_one_minus
)


def _ckn_sigma_not_squared(u, *, sigma=1.0):
    return np.exp((2.0 / sigma) * (np.asarray(u) - 1.0))  # 2/σ for 2/σ²: right only at σ = 1


def _ckn_factored(u, *, sigma=1.0):
    # e^{2u/σ²}·e^{−2/σ²}: algebraically the same, but the first factor overflows while the
    # value is still in range
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(2.0 * np.asarray(u) / sigma**2) * np.exp(-2.0 / sigma**2)


def _ckn_backward_without_the_factor(u, dy, *, sigma=1.0):
    return np.asarray(dy) * ref.ckn(u, sigma=sigma)  # f(u) for f'(u) = (2/σ²) f(u)


ckn_sigma_not_squared = planted("ckn with 2/σ for 2/σ²", ckn=_ckn_sigma_not_squared)
ckn_factored = planted("ckn that overflows early", ckn=_ckn_factored)
ckn_backward_without_the_factor = planted(
    "ckn backward missing 2/σ²", ckn_backward=_ckn_backward_without_the_factor
)


# --- input regimes: overflow, kinks, asymptotes, modes ------------------------------------


def _softplus_as_written(x):
    with np.errstate(over="ignore"):
        return np.log(1.0 + np.exp(np.asarray(x)))  # inf past x ≈ 709.78 (88.72 in float32)


def _tanh_as_written(x):
    x = np.asarray(x)
    with np.errstate(over="ignore", invalid="ignore"):
        return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))  # inf/inf = NaN at |x| > 710


def _sigmoid_backward_through_exp_minus_x(x, dy):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(-np.asarray(x))  # inf for x < −709.78: inf/inf² = NaN where σ' ≈ e^x
        return np.asarray(dy) * e / (1.0 + e) ** 2


def _relu_backward_one_at_zero(x, dy):
    return np.where(np.asarray(x) >= 0, dy, 0.0)  # x ≥ 0: the subgradient 1 at the kink


def _leaky_relu_backward_zero_at_zero(x, dy, *, alpha=0.01):
    # 1[x > 0] + α·1[x < 0]: at the kink neither one-sided derivative, but 0
    x = np.asarray(x)
    return np.asarray(dy) * ((x > 0) + alpha * (x < 0))


def _selu_without_lambda_above_zero(x):
    x = np.asarray(x, dtype=np.float64)  # λ forgotten on the linear branch: x, not λx
    return np.where(x > 0, x, ref.SELU_LAMBDA * ref.SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))


def _gelu_tanh_mode_as_erf(x, *, variant="tanh"):
    return ref.gelu(x, variant="erf")  # every mode computes the exact form


def _log_softmax_through_softmax(z, *, axis=-1):
    with np.errstate(divide="ignore"):
        return np.log(ref.softmax(z, axis=axis))  # −inf where softmax underflows to 0


softplus_as_written = planted("softplus as log(1 + e^x)", softplus=_softplus_as_written)
tanh_as_written = planted("tanh as (e^x − e^−x)/(e^x + e^−x)", tanh=_tanh_as_written)
sigmoid_backward_through_exp_minus_x = planted(
    "sigmoid backward e^−x/(1 + e^−x)²", sigmoid_backward=_sigmoid_backward_through_exp_minus_x
)
relu_backward_one_at_zero = planted(
    "relu backward 1 at x = 0", relu_backward=_relu_backward_one_at_zero
)
leaky_relu_backward_zero_at_zero = planted(
    "leaky relu backward 0 at x = 0", leaky_relu_backward=_leaky_relu_backward_zero_at_zero
)
selu_without_lambda_above_zero = planted("selu x for x > 0", selu=_selu_without_lambda_above_zero)
gelu_tanh_mode_as_erf = planted("gelu variant='tanh' computes erf", gelu=_gelu_tanh_mode_as_erf)
log_softmax_through_softmax = planted(
    "log_softmax as log(softmax(z))", log_softmax=_log_softmax_through_softmax
)


def _softmax_last_axis_only(z, *, axis=-1):
    # the axis argument accepted and ignored: always normalises the last axis
    return ref.softmax(z)


softmax_last_axis_only = planted("softmax ignoring its axis", softmax=_softmax_last_axis_only)


def _softplus_in_float32_inside(x):
    # computed in float32 and handed back as float64 (a library whose float64 request runs a
    # float32 kernel); its backward, the oracle's, is right
    x = np.asarray(x)
    return ref.softplus(x.astype(np.float32)).astype(np.float32).astype(x.dtype)


softplus_in_float32_inside = planted(
    "softplus computed in float32 inside", softplus=_softplus_in_float32_inside
)


def _relu_backward_flushing_subnormals(x, dy):
    # x read in a flush-to-zero mode (FTZ/DAZ: XLA on CPU, -ffast-math): a subnormal x > 0
    # is 0, where ReLU's subgradient is 0, so its derivative 1 is lost
    x = np.asarray(x)
    flushed = np.where(np.abs(x) < np.finfo(x.dtype).tiny, 0.0, x)
    return ref.relu_backward(flushed, dy).astype(np.result_type(x, dy))


relu_backward_flushing_subnormals = planted(
    "ReLU backward flushing subnormals to zero", relu_backward=_relu_backward_flushing_subnormals
)
