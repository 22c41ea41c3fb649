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


# --- input regimes: overflow, kinks, modes ------------------------------------------------


def _l1_backward_sign_by_division(y_hat, y, dy=1.0, *, reduction="mean"):
    d = np.asarray(y_hat, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        g = float(dy) * d / np.abs(d)  # sign as d/|d|: 0/0 = NaN where ŷ = y
    return g / d.size if reduction == "mean" else g


def _l1_penalty_backward_sign_by_division(W, dy=1.0, *, lam):
    W = np.asarray(W, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return float(dy) * lam * W / np.abs(W)  # NaN at W = 0


def _mse_ignores_its_variant(y_hat, y, *, variant="half"):
    return ref.mse(y_hat, y)  # the keyword taken, never used: always 1/(2n) Σ(ŷ − y)²


def _mmd_ignores_its_estimator(xs, xt, *, sigma=1.0, estimator="biased"):
    return ref.mmd(xs, xt, sigma=sigma)  # every estimator computes the biased one


def _bce_with_logits_through_log1p_exp(z, y):
    z, y = np.asarray(z, dtype=np.float64), np.asarray(y, dtype=np.float64)
    with np.errstate(over="ignore"):
        return float(np.mean(np.log1p(np.exp(z)) - y * z))  # ζ(z) − yz: inf past z ≈ 709.78


def _cross_entropy_backward_without_max(z, y, dy=1.0):
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)  # softmax without the max subtracted: inf/inf = NaN past z ≈ 709.78
        p = e / e.sum(axis=1, keepdims=True)
    return float(dy) * (p - np.eye(z.shape[1])[np.asarray(y)]) / z.shape[0]


l1_backward_sign_by_division = planted(
    "L1 backward sign(ŷ − y) as (ŷ − y)/|ŷ − y|", l1_backward=_l1_backward_sign_by_division
)
l1_penalty_backward_sign_by_division = planted(
    "L1 penalty backward λW/|W|", l1_penalty_backward=_l1_penalty_backward_sign_by_division
)
mse_ignores_its_variant = planted("MSE that ignores variant=", mse=_mse_ignores_its_variant)
mmd_ignores_its_estimator = planted("MMD that ignores estimator=", mmd=_mmd_ignores_its_estimator)
bce_with_logits_through_log1p_exp = planted(
    "BCE with logits as log(1 + e^z) − yz",
    binary_cross_entropy_with_logits=_bce_with_logits_through_log1p_exp,
)
cross_entropy_backward_without_max = planted(
    "cross-entropy backward through e^z / Σ e^z",
    cross_entropy_backward=_cross_entropy_backward_without_max,
)
