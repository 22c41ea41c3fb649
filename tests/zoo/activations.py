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
