"""Planted bugs in losses: each a mistake that real implementations have made."""

import numpy as np

from nnconform.reference import losses as ref
from nnconform.reference.activations import sigmoid
from tests.zoo import planted


def _bce_with_logits_through_probabilities(z, y):
    # −y log σ(z) − (1 − y) log(1 − σ(z)): σ(z) rounds to 1 (or 0) past |z| ≈ 37 and a log
    # of 0 follows: inf at z = 1e4 where the loss is 1e4
    z, y = np.asarray(z, dtype=np.float64), np.asarray(y, dtype=np.float64)
    p = sigmoid(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)))


def _cross_entropy_backward_without_1_over_n(z, y, dy=1.0):
    # softmax(z) − onehot(y) per example, summed instead of averaged over the batch
    return ref.cross_entropy_backward(z, y, dy) * np.asarray(z).shape[0]


def _mse_mean(y_hat, y):
    return ref.mse(y_hat, y, variant="mean")


def _orthogonal_penalty_backward_with_2(W, dy=1.0):
    # 2W(WᵀW − I): the derivative of ‖WᵀW − I‖² taken as if WᵀW were linear in W
    return ref.orthogonal_penalty_backward(W, dy) / 2


bce_with_logits_naive = planted(
    "BCE with logits through log σ(z)",
    binary_cross_entropy_with_logits=_bce_with_logits_through_probabilities,
)
cross_entropy_backward_without_mean = planted(
    "cross-entropy gradient without the 1/N",
    cross_entropy_backward=_cross_entropy_backward_without_1_over_n,
)
mse_forward_mean_backward_half = planted(
    "MSE forward 1/n Σ(ŷ − y)², backward (ŷ − y)/n (the half form's)", mse=_mse_mean
)
orthogonal_penalty_backward_halved = planted(
    "orthogonal penalty gradient 2W(WᵀW − I)",
    orthogonal_penalty_backward=_orthogonal_penalty_backward_with_2,
)
