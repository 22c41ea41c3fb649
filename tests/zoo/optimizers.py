"""Planted bugs in optimisers and schedules: the reference with one realistic mistake each."""

from typing import NamedTuple

import numpy as np

from nnconform.reference import optimizers as ref
from nnconform.reference import schedules as ref_schedules
from tests.zoo import planted


def _adam_without_bias_correction(theta, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                                  weight_decay=0.0):  # fmt: skip
    theta, g = (
        np.asarray(theta, dtype=np.float64),
        np.asarray(g, dtype=np.float64) + weight_decay * theta,
    )
    s = beta1 * state.s + (1 - beta1) * g
    r = beta2 * state.r + (1 - beta2) * g * g
    return theta - lr * s / (np.sqrt(r) + eps), ref.AdamState(state.t + 1, s, r)  # no 1 − βᵗ


def _adam_eps_inside_the_root(theta, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                              weight_decay=0.0):  # fmt: skip
    theta, g = (
        np.asarray(theta, dtype=np.float64),
        np.asarray(g, dtype=np.float64) + weight_decay * theta,
    )
    t = state.t + 1
    s = beta1 * state.s + (1 - beta1) * g
    r = beta2 * state.r + (1 - beta2) * g * g
    s_hat, r_hat = s / (1 - beta1**t), r / (1 - beta2**t)
    return theta - lr * s_hat / np.sqrt(r_hat + eps), ref.AdamState(t, s, r)  # √(r̂ + δ)


def _rmsprop_rho_swapped(theta, g, state, *, lr, rho=0.9, eps=1e-6):
    theta, g = np.asarray(theta, dtype=np.float64), np.asarray(g, dtype=np.float64)
    r = (1 - rho) * state.r + rho * g * g  # ρ and 1 − ρ swapped
    return theta - lr / np.sqrt(eps + r) * g, ref.RMSPropState(r)


class _StickyMomentumState(NamedTuple):
    v: np.ndarray
    lr: float | None  # the learning rate of the first step, kept by mistake


def _momentum_init_sticky(theta):
    return _StickyMomentumState(np.zeros_like(np.asarray(theta, dtype=np.float64)), None)


def _momentum_step_sticky(theta, g, state, *, lr, alpha=0.9):
    lr0 = lr if state.lr is None else state.lr  # a schedule's later rates are ignored
    v = alpha * state.v - lr0 * np.asarray(g, dtype=np.float64)
    return np.asarray(theta, dtype=np.float64) + v, _StickyMomentumState(v, lr0)


def _nesterov_lookahead_at_theta(theta, state, *, alpha=0.9):
    return np.asarray(theta, dtype=np.float64)  # the gradient taken at θ: plain momentum


def _adagrad_accumulating_g(theta, g, state, *, lr, eps=1e-7):
    theta, g = np.asarray(theta, dtype=np.float64), np.asarray(g, dtype=np.float64)
    r = state.r + g  # g instead of g⊙g
    return theta - lr / (eps + np.sqrt(r)) * g, ref.AdagradState(state.t + 1, r)


def _sgd_weight_decay_wrong_sign(theta, g, state, *, lr, weight_decay=0.0):
    theta = np.asarray(theta, dtype=np.float64)
    return theta - lr * (np.asarray(g, dtype=np.float64) - weight_decay * theta), state


def _noam_with_max(t, *, d_model, warmup=4000):
    t = np.asarray(t, dtype=np.float64)
    out = d_model**-0.5 * np.maximum(t**-0.5, t * warmup**-1.5)  # max for min
    return float(out) if out.ndim == 0 else out


def _warmup_counting_from_zero(t, *, lr, warmup, then="inverse_sqrt", total=None):
    # nanoGPT's count from 0 (it = t − 1) carried into a 1-based schedule: one step late
    t = np.asarray(t)
    return ref_schedules.warmup(np.maximum(t - 1, 1), lr=lr, warmup=warmup, then=then, total=total)


adam_without_bias_correction = planted(
    "Adam without bias correction", adam_step=_adam_without_bias_correction
)
adam_eps_inside_the_root = planted("Adam with δ inside √r̂", adam_step=_adam_eps_inside_the_root)
rmsprop_rho_swapped = planted("RMSProp with ρ and 1 − ρ swapped", rmsprop_step=_rmsprop_rho_swapped)
momentum_keeps_the_first_lr = planted(
    "momentum that keeps the first learning rate",
    momentum_init=_momentum_init_sticky,
    momentum_step=_momentum_step_sticky,
)
nesterov_gradient_at_theta = planted(
    "Nesterov with the gradient at θ", nesterov_lookahead=_nesterov_lookahead_at_theta
)
adagrad_accumulating_g = planted(
    "AdaGrad accumulating g, not g²", adagrad_step=_adagrad_accumulating_g
)
sgd_weight_decay_wrong_sign = planted(
    "SGD with weight decay of the wrong sign", sgd_step=_sgd_weight_decay_wrong_sign
)
noam_with_max = planted("Noam with max in place of min", noam=_noam_with_max)
warmup_off_by_one = planted("warm-up counting steps from 0", warmup=_warmup_counting_from_zero)
