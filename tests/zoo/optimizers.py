"""Planted bugs in optimisers, solvers and schedules: the reference with one realistic mistake
each."""

from dataclasses import replace
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from nnconform.reference import optimizers as ref
from nnconform.reference import schedules as ref_schedules
from nnconform.reference import solvers as ref_solvers
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


# --- bugs in a non-default mode: the default call is right, the mode keyword is not -----


def _adam_decoupled_decay_without_lr(theta, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                                     weight_decay=0.0, weight_decay_mode="l2"):  # fmt: skip
    # AdamW's θ ← θ − η_t·λ·θ read with the schedule multiplier η_t = 1 and the learning
    # rate left out: θ(1 − λ) (Loshchilov & Hutter's Alg. 2 without PyTorch's lr·λ)
    hyper = dict(beta1=beta1, beta2=beta2, eps=eps)
    if weight_decay_mode != "decoupled":
        return ref.adam_step(theta, g, state, lr=lr, weight_decay=weight_decay,
                             weight_decay_mode=weight_decay_mode, **hyper)  # fmt: skip
    theta = np.asarray(theta, dtype=np.float64) * (1.0 - weight_decay)
    return ref.adam_step(theta, g, state, lr=lr, weight_decay=0.0, **hyper)


def _momentum_ema_weights_swapped(theta, g, state, *, lr, alpha=0.9, variant="classic"):
    if variant != "ema":
        return ref.momentum_step(theta, g, state, lr=lr, alpha=alpha, variant=variant)
    # V ← (1 − μ)V + μg: the (1 − μ) on the old velocity instead of on g
    v = (1.0 - alpha) * state.v + alpha * np.asarray(g, dtype=np.float64)
    return np.asarray(theta, dtype=np.float64) - lr * v, ref.MomentumState(v)


def _adagrad_lee_mean_over_t_plus_1(theta, g, state, *, lr, eps=1e-7, variant="root_sum"):
    if variant != "lee":
        return ref.adagrad_step(theta, g, state, lr=lr, eps=eps, variant=variant)
    # Lee's σ = √(Σ g²/(t + 1)) copied with his t counted from 0 into a t counted from 1
    theta, g = np.asarray(theta, dtype=np.float64), np.asarray(g, dtype=np.float64)
    t, r = state.t + 1, state.r + g * g
    return theta - lr / (eps + np.sqrt(r / (t + 1))) * g, ref.AdagradState(t, r)


def _decay_inverse_time_one_step_late(t, *, lr, kind="step", gamma, step_size=None):
    if kind != "inverse_time":
        return ref_schedules.decay(t, lr=lr, kind=kind, gamma=gamma, step_size=step_size)
    # Keras's step counted from 0 used with t counted from 1: lr/(1 + γt), below lr at t = 1
    t = np.asarray(t, dtype=np.float64)
    out = lr / (1.0 + gamma * t)
    return float(out) if out.ndim == 0 else out


def _warmup_cosine_that_rises_again(t, *, lr, warmup, then="inverse_sqrt", total=None):
    if then != "cosine":
        return ref_schedules.warmup(t, lr=lr, warmup=warmup, then=then, total=total)
    # the cosine's progress not clipped at 1 (CosineAnnealingLR is periodic): after ``total``
    # the rate climbs back up instead of staying at 0
    t = np.asarray(t, dtype=np.float64)
    progress = (t - warmup) / (total - warmup)
    out = np.where(t <= warmup, lr * t / warmup, lr * 0.5 * (1.0 + np.cos(np.pi * progress)))
    return float(out) if out.ndim == 0 else out


def _conjugate_gradient_ignoring_beta(f, grad, x0, *, beta="polak_ribiere", steps=1000,
                                      tol=1e-6):  # fmt: skip
    # the keyword accepted and dropped on the way to the solver: Fletcher–Reeves runs PR+
    return ref_solvers.conjugate_gradient(f, grad, x0, steps=steps, tol=tol)


adam_decoupled_decay_without_lr = planted(
    "AdamW decaying θ by λθ without the learning rate",
    adam_step=_adam_decoupled_decay_without_lr,
)
momentum_ema_weights_swapped = planted(
    "momentum ema with μ and 1 − μ swapped", momentum_step=_momentum_ema_weights_swapped
)
adagrad_lee_off_by_one = planted(
    "Lee's AdaGrad averaging over t + 1 gradients", adagrad_step=_adagrad_lee_mean_over_t_plus_1
)
decay_inverse_time_off_by_one = planted(
    "inverse-time decay one step late", decay=_decay_inverse_time_one_step_late
)
warmup_cosine_rises_again = planted(
    "cosine decay that rises again after total", warmup=_warmup_cosine_that_rises_again
)
conjugate_gradient_ignores_beta = planted(
    "conjugate gradient that always computes Polak–Ribière",
    conjugate_gradient=_conjugate_gradient_ignoring_beta,
)


# --- bugs in the library conventions' variants, and targets whose default is one ----------


def _adam_efficient_without_the_root(theta, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                                     weight_decay=0.0, weight_decay_mode="l2",
                                     form="algorithm_1"):  # fmt: skip
    hyper = dict(beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 weight_decay_mode=weight_decay_mode)  # fmt: skip
    if form != "efficient":
        return ref.adam_step(theta, g, state, lr=lr, form=form, **hyper)
    # ε_t = ε(1 − β₂ᵗ)/(1 − β₁ᵗ): the square root of the second correction left out
    theta, g = np.asarray(theta, dtype=np.float64), np.asarray(g, dtype=np.float64)
    if weight_decay_mode == "l2":
        g = g + weight_decay * theta
    else:
        theta = theta - lr * weight_decay * theta
    t = state.t + 1
    s = beta1 * state.s + (1 - beta1) * g
    r = beta2 * state.r + (1 - beta2) * g * g
    lr_t = lr * (1 - beta2**t) / (1 - beta1**t)
    return theta - lr_t * s / (np.sqrt(r) + eps), ref.AdamState(t, s, r)


def _adagrad_eps_inside_accumulated(theta, g, state, *, lr, eps=1e-7, variant="root_sum"):
    if variant != "eps_inside":
        return ref.adagrad_step(theta, g, state, lr=lr, eps=eps, variant=variant)
    # δ added to the stored accumulator at every step (r ← r + g² + δ), not once in the root
    theta, g = np.asarray(theta, dtype=np.float64), np.asarray(g, dtype=np.float64)
    r = state.r + g * g + eps
    return theta - lr / np.sqrt(r) * g, ref.AdagradState(state.t + 1, r)


def _warmup_from_zero_only_in_the_warmup(t, *, lr, warmup, then="inverse_sqrt", total=None,
                                         counting="from_one"):  # fmt: skip
    if counting != "from_zero":
        return ref_schedules.warmup(t, lr=lr, warmup=warmup, then=then, total=total,
                                    counting=counting)  # fmt: skip
    # the warm-up shifted by one step, the decay not: lr is held for two steps at the peak
    t = np.asarray(t, dtype=np.float64)
    late = ref_schedules.warmup(t, lr=lr, warmup=warmup, then=then, total=total)
    return np.where(t <= warmup + 1, lr * (t - 1) / warmup, late) if t.ndim else float(late)


adam_efficient_without_the_root = planted(
    "Adam's efficient form without √(1 − β₂ᵗ)", adam_step=_adam_efficient_without_the_root
)
adagrad_eps_inside_accumulated = planted(
    "AdaGrad eps_inside adding δ to the accumulator", adagrad_step=_adagrad_eps_inside_accumulated
)
warmup_from_zero_only_in_the_warmup = planted(
    "warm-up from zero with the decay counted from one",
    warmup=_warmup_from_zero_only_in_the_warmup,
)


def _default(function, **mode):
    """The reference's ``function`` with a documented mode as its default (a library that
    ships that convention): a variant verdict, never a fail."""

    def library(*args, **kwargs):
        return function(*args, **(mode | kwargs))

    return library


adam_efficient_by_default = planted(
    "Adam in the efficient form (Keras 3)", adam_step=_default(ref.adam_step, form="efficient")
)
adagrad_eps_inside_by_default = planted(
    "AdaGrad with δ inside the root (optax, Keras)",
    adagrad_step=_default(ref.adagrad_step, variant="eps_inside"),
)
warmup_from_zero_by_default = planted(
    "warm-up counted from zero (optax, Keras)",
    warmup=_default(ref_schedules.warmup, counting="from_zero"),
)


# --- a float32-only library: the reference computing in float32, declaring only float32 ---


def _to_float32(value):
    """Floating arrays (also inside tuples and NamedTuples) as float32; the rest as they are."""
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return value.astype(np.float32)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_to_float32(v) for v in value))
    if isinstance(value, tuple | list):
        return type(value)(_to_float32(v) for v in value)
    return value


def _in_float32(function):
    def library(*args, **kwargs):
        args, kwargs = _to_float32(args), {k: _to_float32(v) for k, v in kwargs.items()}
        return _to_float32(function(*args, **kwargs))

    return library


def _float32_only():
    base = planted("the reference in float32 only")
    namespace = {
        name: _in_float32(f) if callable(f) and not isinstance(f, type) else f
        for name, f in vars(base.namespace).items()
    }
    return replace(base, namespace=SimpleNamespace(**namespace), dtypes=("float32",))


float32_only = _float32_only()


def _trajectory_from_theta0(name, theta0, grad_fn, steps, *, lr, **hyper):
    # θ_0..θ_{T−1}: each θ recorded before its step, not after
    path = ref.trajectory(name, theta0, grad_fn, steps, lr=lr, **hyper)
    return np.concatenate([np.asarray(theta0, dtype=np.float64)[None], path[:-1]])


def _gd_step_weight_decay_twice(theta, g, state, *, lr, weight_decay=0.0):
    # seed 000's penalty λ‖θ‖² differentiated (2λθ) with the framework's wd taken for λ
    return ref.gd_step(theta, np.asarray(g) + weight_decay * np.asarray(theta), state, lr=lr,
                       weight_decay=weight_decay)  # fmt: skip


trajectory_from_theta0 = planted(
    "trajectory recording θ before each step", trajectory=_trajectory_from_theta0
)
gd_weight_decay_twice = planted(
    "gradient descent adding weight decay twice", gd_step=_gd_step_weight_decay_twice
)
