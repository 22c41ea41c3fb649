"""Planted bugs in activations."""

import numpy as np

from reference import activations as ref
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
