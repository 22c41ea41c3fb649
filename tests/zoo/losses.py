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


# --- reductions and the variants of issues 11 and 12 --------------------------------------


def _mse_unreduced_halves(y_hat, y, *, variant="half", reduction=None):
    if reduction == "none":  # the ½ of the default variant, whatever the variant asked for
        return 0.5 * (np.asarray(y_hat, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2
    return ref.mse(y_hat, y, variant=variant)


def _cross_entropy_ignores_reduction(z, y, *, reduction="mean"):
    return ref.cross_entropy(z, y)  # the keyword taken, never used: always the batch mean


def _bce_backward_unreduced_over_n(p, y, dy=1.0, *, variant="unclipped", reduction="mean"):
    # the unreduced gradient still divided by N, as if dy were the mean's
    g = ref.binary_cross_entropy_backward(p, y, dy, variant=variant, reduction=reduction)
    return g / np.size(p) if reduction == "none" else g


def _bce_clipped_at_float32_epsilon(p, y, *, variant="unclipped", reduction="mean"):
    # Keras clips at keras.config.epsilon() = 1e-7, not at float32's machine ε = 1.19e-7
    if variant == "clipped":
        eps = float(np.finfo(np.float32).eps)
        p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
        variant = "unclipped"
    return ref.binary_cross_entropy(p, y, variant=variant, reduction=reduction)


def _mse_half_per_example_over_elements(y_hat, y, *, variant="half", reduction=None):
    # ½‖ŷ_i − y_i‖² averaged over the n elements instead of the m rows: the half form
    half = "half" if variant == "half_per_example" else variant
    return ref.mse(y_hat, y, variant=half, reduction=reduction)


def _objective_ignores_its_variant(losses, weights, lams, *, variant="mean"):
    return ref.objective(losses, weights, lams)  # the data term always averaged


mse_unreduced_halves = planted(
    "MSE whose unreduced terms are ½(ŷ − y)² in every variant", mse=_mse_unreduced_halves
)
cross_entropy_ignores_reduction = planted(
    "cross-entropy that returns the mean for reduction='none'",
    cross_entropy=_cross_entropy_ignores_reduction,
)
bce_backward_unreduced_over_n = planted(
    "unreduced BCE backward divided by N",
    binary_cross_entropy_backward=_bce_backward_unreduced_over_n,
)
bce_clipped_at_float32_epsilon = planted(
    "BCE clipped at float32's ε = 1.19e-7 instead of 1e-7",
    binary_cross_entropy=_bce_clipped_at_float32_epsilon,
)
mse_half_per_example_over_elements = planted(
    "MSE half_per_example divided by 2n, not 2m", mse=_mse_half_per_example_over_elements
)
objective_ignores_its_variant = planted(
    "objective that ignores variant='sum'", objective=_objective_ignores_its_variant
)
