"""First-order optimisers: pure ``init`` / ``step`` functions with explicit NamedTuple state.

Every optimiser ``name`` has

    name_init(theta) -> State                       the state before the first step (zeros)
    name_step(theta, g, state, *, lr, **hyper) -> (theta_new, state_new)

and the two Nesterov forms also ``name_lookahead(theta, state, *, alpha)``, the point θ̃ = θ + αv
where the gradient ``g`` handed to their step must be evaluated (Alg 8.3, 8.6). ``trajectory``
runs any of them on a gradient function. Nothing is modified in place; ``t`` counts steps from 1.

Sources (catalogue section 3; seeds by file number):
    000  gradient descent, SGD with coupled weight decay g + 2λW, momentum as an EMA.
    001, 004  minibatch SGD (Goodfellow, Bengio & Courville, "Deep Learning", Alg 8.1).
    002, 004  momentum (Alg 8.2); Nesterov momentum (Alg 8.3; Sutskever et al., ICML 2013).
    002, 004  AdaGrad (Alg 8.4; Duchi, Hazan & Singer, JMLR 2011) and Hung-yi Lee's RMS form.
    002, 004  RMSProp (Alg 8.5; Tieleman & Hinton, Coursera lecture 6.5, 2012), with Nesterov
              momentum (Alg 8.6).
    002, 003, 004  Adam (Alg 8.7; Kingma & Ba, ICLR 2015); decoupled weight decay (AdamW;
              Loshchilov & Hutter, ICLR 2019).
    002  the unified form θ ← θ − (η_t/σ_t) m_t (Hung-yi Lee, "Summary of Optimization").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

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
    "OPTIMIZERS",
    "AdagradState",
    "AdamState",
    "MomentumState",
    "NesterovState",
    "Optimizer",
    "RMSPropNesterovState",
    "RMSPropState",
    "SGDState",
    "UnifiedState",
    "adagrad_init",
    "adagrad_step",
    "adam_init",
    "adam_step",
    "gd_init",
    "gd_step",
    "momentum_init",
    "momentum_step",
    "nesterov_init",
    "nesterov_lookahead",
    "nesterov_step",
    "rmsprop_init",
    "rmsprop_nesterov_init",
    "rmsprop_nesterov_lookahead",
    "rmsprop_nesterov_step",
    "rmsprop_step",
    "sgd_init",
    "sgd_step",
    "trajectory",
    "unified_init",
    "unified_step",
    "weight_decay",
]


# --- states -----------------------------------------------------------------------------


class SGDState(NamedTuple):
    """Plain (stochastic) gradient descent keeps no state."""


class MomentumState(NamedTuple):
    v: np.ndarray  # velocity (classic), EMA of g (ema) or running sum of g (lr_outside)


class NesterovState(NamedTuple):
    v: np.ndarray  # velocity


class AdagradState(NamedTuple):
    t: int  # steps taken
    r: np.ndarray  # Σ g⊙g


class RMSPropState(NamedTuple):
    r: np.ndarray  # EMA of g⊙g


class RMSPropNesterovState(NamedTuple):
    v: np.ndarray  # velocity
    r: np.ndarray  # EMA of g⊙g


class AdamState(NamedTuple):
    t: int  # steps taken
    s: np.ndarray  # first moment, EMA of g
    r: np.ndarray  # second moment, EMA of g⊙g


class UnifiedState(NamedTuple):
    t: int  # steps taken
    m: np.ndarray  # momentum, EMA of g
    r: np.ndarray  # EMA of g⊙g (stays 0 when beta2 is None)


# --- shared checks ----------------------------------------------------------------------


def _arrays(theta, g, state, kind: type) -> tuple[np.ndarray, np.ndarray]:
    """θ and g as float64 arrays of one shape, and the state of the right kind and shape."""
    if not isinstance(state, kind):
        raise TypeError(f"state must be a {kind.__name__}, got {type(state).__name__}")
    theta, g = as_array("theta", theta), as_array("g", g)
    arrays = {k: v for k, v in state._asdict().items() if k != "t"}
    same_shape(theta=theta, g=g, **{f"state.{k}": v for k, v in arrays.items()})
    return theta, g


def _zeros(theta) -> np.ndarray:
    return np.zeros_like(as_array("theta", theta))


def _decay(name: str, value: Any) -> float:
    """A decay rate (ρ, β₁, β₂, momentum α/μ) lies in [0, 1): 1 would never forget."""
    return interval(name, value, 0.0, 1.0)


# --- gradient descent and SGD -----------------------------------------------------------


def weight_decay(g, theta, *, lam: float) -> np.ndarray:
    """Coupled weight decay: the gradient of λ‖W‖² added to g, g + 2λθ   (seed 000).

    Warning: frameworks' ``weight_decay=wd`` adds wd·θ (the gradient of (wd/2)‖θ‖²), so
    wd = 2λ; ``sgd_step`` and ``adam_step`` follow the frameworks.
    """
    g, theta = as_array("g", g), as_array("theta", theta)
    same_shape(g=g, theta=theta)
    lam = nonnegative("lam", lam)
    return g + 2.0 * lam * theta


def sgd_init(theta) -> SGDState:
    as_array("theta", theta)
    return SGDState()


def sgd_step(
    theta, g, state: SGDState, *, lr: float, weight_decay: float = 0.0
) -> tuple[np.ndarray, SGDState]:
    """θ ← θ − ε(ĝ + wd·θ), ĝ the minibatch mean gradient   (Alg 8.1; seeds 000, 001, 004).

    ``weight_decay`` is the framework's wd (PyTorch SGD ``weight_decay``); seed 000's λ is wd/2.
    """
    theta, g = _arrays(theta, g, state, SGDState)
    lr, wd = positive("lr", lr), nonnegative("weight_decay", weight_decay)
    return theta - lr * (g + wd * theta), state


def gd_init(theta) -> SGDState:
    return sgd_init(theta)


def gd_step(
    theta, g, state: SGDState, *, lr: float, weight_decay: float = 0.0
) -> tuple[np.ndarray, SGDState]:
    """W ← W − ε∇L(W) with the full-batch gradient   (seed 000): SGD's update, m = N."""
    return sgd_step(theta, g, state, lr=lr, weight_decay=weight_decay)


# --- momentum ---------------------------------------------------------------------------


def momentum_init(theta) -> MomentumState:
    return MomentumState(v=_zeros(theta))


def momentum_step(
    theta, g, state: MomentumState, *, lr: float, alpha: float = 0.9, variant: str = "classic"
) -> tuple[np.ndarray, MomentumState]:
    """SGD with momentum; ``alpha`` is the catalogue's α (Alg 8.2) or μ (seed 000).

        classic     v ← αv − εg;          θ ← θ + v      (Alg 8.2; seed 002's "movement")
        ema         V ← μV + (1 − μ)g;    θ ← θ − εV     (seed 000)
        lr_outside  v ← μv + g;           θ ← θ − εv     (PyTorch SGD, dampening = 0)

    classic and lr_outside give the same θ while ε is constant (v_classic = −ε v_lr_outside)
    and differ once ε changes: classic keeps the old ε inside its velocity. ema is (1 − μ)
    times lr_outside, so it differs from the first step.

    Warning: PyTorch's ``dampening=μ`` is not ema: PyTorch sets the buffer to g (not
    (1 − μ)g) on its first step.
    """
    theta, g = _arrays(theta, g, state, MomentumState)
    lr, alpha = positive("lr", lr), _decay("alpha", alpha)
    variant = choice("variant", variant, ("classic", "ema", "lr_outside"))
    v = state.v
    if variant == "classic":
        v = alpha * v - lr * g
        return theta + v, MomentumState(v)
    if variant == "ema":
        v = alpha * v + (1.0 - alpha) * g
    else:
        v = alpha * v + g
    return theta - lr * v, MomentumState(v)


def nesterov_init(theta) -> NesterovState:
    return NesterovState(v=_zeros(theta))


def nesterov_lookahead(theta, state: NesterovState, *, alpha: float = 0.9) -> np.ndarray:
    """θ̃ = θ + αv: where Nesterov's gradient is evaluated   (Alg 8.3)."""
    theta = as_array("theta", theta)
    if not isinstance(state, NesterovState):
        raise TypeError(f"state must be a NesterovState, got {type(state).__name__}")
    same_shape(theta=theta, **{"state.v": state.v})
    return theta + _decay("alpha", alpha) * state.v


def nesterov_step(
    theta, g, state: NesterovState, *, lr: float, alpha: float = 0.9
) -> tuple[np.ndarray, NesterovState]:
    """Nesterov momentum   (Alg 8.3; Sutskever et al. 2013):

        θ̃ = θ + αv;   g = ∇L(θ̃);   v ← αv − εg;   θ ← θ + v

    ``g`` must already be the gradient at ``nesterov_lookahead(theta, state, alpha=alpha)``.

    Warning: PyTorch (``nesterov=True``) and Keras store the shifted variable θ̃ itself and
    evaluate the gradient at their stored parameter; the look-ahead points agree with these
    only under that change of variables, and with ε constant (PyTorch keeps ε out of v).
    """
    theta, g = _arrays(theta, g, state, NesterovState)
    lr, alpha = positive("lr", lr), _decay("alpha", alpha)
    v = alpha * state.v - lr * g
    return theta + v, NesterovState(v)


# --- AdaGrad ----------------------------------------------------------------------------


def adagrad_init(theta) -> AdagradState:
    return AdagradState(t=0, r=_zeros(theta))


def adagrad_step(
    theta, g, state: AdagradState, *, lr: float, eps: float = 1e-7, variant: str = "root_sum"
) -> tuple[np.ndarray, AdagradState]:
    """AdaGrad: a per-coordinate step shrunk by the gradients seen so far.

        root_sum    r ← r + g⊙g;   θ ← θ − ε/(δ + √r) ⊙ g              (Alg 8.4, δ = 1e-7)
        lee         σ_t = √(r/t);  θ ← θ − ε/(δ + σ_t) ⊙ g             (seed 002)
        eps_inside  r ← r + g⊙g;   θ ← θ − ε/√(r + δ) ⊙ g              (optax, Keras)

    eps_inside is optax's ``adagrad`` (``scale_by_rss``: ``rsqrt(sum_of_squares + eps)``) and
    Keras's ``Adagrad`` (``g / sqrt(accumulator + epsilon)``): a variant, not a defect, since
    δ only guards the division and both forms are AdaGrad for any δ → 0; they differ by
    about δ/√r relative where r is small.

    Seed 002 (Hung-yi Lee) writes σ_i^t = sqrt(1/(t+1) Σ_{k=0}^{t} (g_i^k)²) with t counted
    from 0, i.e. the root *mean* square of the t + 1 gradients seen so far, the current one
    included; here t counts from 1, so σ_t = √(r_t/t). Lee's slide has no δ; δ is added
    outside the root, as in Alg 8.4, so that a coordinate whose gradients were all 0 does
    not divide 0 by 0 (it is invisible otherwise). lee is root_sum with the learning rate
    ε√t: Lee pairs it with the decay η_t = η/√(t+1), which gives back Alg 8.4.

    Warning: PyTorch Adagrad is root_sum with δ outside the root (default eps=1e-10);
    Keras and optax start r at 0.1 (``initial_accumulator_value``), a hyper-parameter an
    adapter sets to the reference's 0.
    """
    theta, g = _arrays(theta, g, state, AdagradState)
    lr, eps = positive("lr", lr), positive("eps", eps)
    variant = choice("variant", variant, ("root_sum", "lee", "eps_inside"))
    t, r = state.t + 1, state.r + g * g
    if variant == "eps_inside":
        return theta - lr / np.sqrt(r + eps) * g, AdagradState(t, r)
    sigma = np.sqrt(r) if variant == "root_sum" else np.sqrt(r / t)
    return theta - lr / (eps + sigma) * g, AdagradState(t, r)


# --- RMSProp ----------------------------------------------------------------------------


def rmsprop_init(theta) -> RMSPropState:
    return RMSPropState(r=_zeros(theta))


def rmsprop_step(
    theta,
    g,
    state: RMSPropState,
    *,
    lr: float,
    rho: float = 0.9,
    eps: float = 1e-6,
    variant: str = "eps_inside",
) -> tuple[np.ndarray, RMSPropState]:
    """RMSProp: AdaGrad with an exponentially decaying average   (Alg 8.5; seed 002).

        r ← ρr + (1 − ρ) g⊙g
        eps_inside   θ ← θ − ε/√(δ + r) ⊙ g       (Alg 8.5, δ = 1e-6; TensorFlow ApplyRMSProp)
        eps_outside  θ ← θ − ε/(√r + δ) ⊙ g       (PyTorch RMSprop, its ``alpha`` = ρ)

    The two differ most where r is small against δ, i.e. early and for small gradients.
    """
    theta, g = _arrays(theta, g, state, RMSPropState)
    lr, rho, eps = positive("lr", lr), _decay("rho", rho), positive("eps", eps)
    variant = choice("variant", variant, ("eps_inside", "eps_outside"))
    r = rho * state.r + (1.0 - rho) * g * g
    denominator = np.sqrt(eps + r) if variant == "eps_inside" else np.sqrt(r) + eps
    return theta - lr / denominator * g, RMSPropState(r)


def rmsprop_nesterov_init(theta) -> RMSPropNesterovState:
    zeros = _zeros(theta)
    return RMSPropNesterovState(v=zeros, r=zeros.copy())


def rmsprop_nesterov_lookahead(
    theta, state: RMSPropNesterovState, *, alpha: float = 0.9
) -> np.ndarray:
    """θ̃ = θ + αv: where the gradient of RMSProp with Nesterov momentum is evaluated (Alg 8.6)."""
    theta = as_array("theta", theta)
    if not isinstance(state, RMSPropNesterovState):
        raise TypeError(f"state must be a RMSPropNesterovState, got {type(state).__name__}")
    same_shape(theta=theta, **{"state.v": state.v})
    return theta + _decay("alpha", alpha) * state.v


def rmsprop_nesterov_step(
    theta, g, state: RMSPropNesterovState, *, lr: float, alpha: float = 0.9, rho: float = 0.9
) -> tuple[np.ndarray, RMSPropNesterovState]:
    """RMSProp with Nesterov momentum   (Alg 8.6):

        θ̃ = θ + αv;  g = ∇L(θ̃);  r ← ρr + (1 − ρ)g⊙g;  v ← αv − ε/√r ⊙ g;  θ ← θ + v

    ``g`` must already be the gradient at ``rmsprop_nesterov_lookahead``. Seed 004 prints
    "v ← αv + ε/√r ⊙ g", a sign typo: "+" would climb the loss. Alg 8.6 has no δ, and none
    is added: r > 0 wherever some gradient so far was non-zero, and where r = 0 every
    gradient, the current one included, was 0, so the 0/0 there is taken as 0.
    """
    theta, g = _arrays(theta, g, state, RMSPropNesterovState)
    lr, alpha, rho = positive("lr", lr), _decay("alpha", alpha), _decay("rho", rho)
    r = rho * state.r + (1.0 - rho) * g * g
    root = np.sqrt(r)
    scaled = np.divide(g, root, out=np.zeros_like(g), where=root > 0)  # g/√r, 0/0 := 0
    v = alpha * state.v - lr * scaled
    return theta + v, RMSPropNesterovState(v, r)


# --- Adam -------------------------------------------------------------------------------


def adam_init(theta) -> AdamState:
    zeros = _zeros(theta)
    return AdamState(t=0, s=zeros, r=zeros.copy())


def adam_step(
    theta,
    g,
    state: AdamState,
    *,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    weight_decay_mode: str = "l2",
    form: str = "algorithm_1",
) -> tuple[np.ndarray, AdamState]:
    """Adam   (Alg 8.7; Kingma & Ba 2015, Algorithm 1; seeds 002, 003, 004):

        t ← t + 1
        s ← β₁s + (1 − β₁)g;     r ← β₂r + (1 − β₂)g⊙g
        ŝ = s/(1 − β₁ᵗ);          r̂ = r/(1 − β₂ᵗ)
        θ ← θ − ε ŝ/(√r̂ + δ)      ε = 0.001 suggested, β₁ = 0.9, β₂ = 0.999, δ = 1e-8

    Weight decay wd (framework convention: the gradient of (wd/2)‖θ‖², so wd = 2λ of
    ``weight_decay``):
        l2         g ← g + wd·θ before the moments (PyTorch ``Adam(weight_decay=wd)``)
        decoupled  θ ← θ − ε·wd·θ, then the Adam update (AdamW; Loshchilov & Hutter 2019)

    Form (where δ sits against the bias correction):
        algorithm_1  the update above (Kingma & Ba, Algorithm 1; PyTorch, optax)
        efficient    ε_t = ε√(1 − β₂ᵗ)/(1 − β₁ᵗ);  θ ← θ − ε_t s/(√r + δ)   (Kingma & Ba §2,
                     "the efficiency of Algorithm 1 can ... be improved upon by changing the
                     order of computation"; Keras 3 ``Adam``, TensorFlow 1 ``AdamOptimizer``)
    efficient is algorithm_1 with δ replaced by δ/√(1 − β₂ᵗ): a variant, not a defect (the
    paper gives both; they agree as δ → 0), which differs early on (√(1 − β₂) ≈ 0.03 at
    t = 1) and for small gradients, where δ is not negligible against √r̂.

    Warning: PyTorch AdamW scales the decay by the learning rate, θ(1 − ε·wd); Loshchilov &
    Hutter multiply it by the schedule η_t only, and optax's ``adamw`` by the learning rate.
    """
    theta, g = _arrays(theta, g, state, AdamState)
    lr, beta1, beta2 = positive("lr", lr), _decay("beta1", beta1), _decay("beta2", beta2)
    eps, wd = positive("eps", eps), nonnegative("weight_decay", weight_decay)
    mode = choice("weight_decay_mode", weight_decay_mode, ("l2", "decoupled"))
    form = choice("form", form, ("algorithm_1", "efficient"))
    if mode == "l2":
        g = g + wd * theta
    else:
        theta = theta - lr * wd * theta
    t = state.t + 1
    s = beta1 * state.s + (1.0 - beta1) * g
    r = beta2 * state.r + (1.0 - beta2) * g * g
    if form == "efficient":
        lr_t = lr * np.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)
        return theta - lr_t * s / (np.sqrt(r) + eps), AdamState(t, s, r)
    s_hat, r_hat = s / (1.0 - beta1**t), r / (1.0 - beta2**t)
    return theta - lr * s_hat / (np.sqrt(r_hat) + eps), AdamState(t, s, r)


# --- the unified form -------------------------------------------------------------------


def unified_init(theta) -> UnifiedState:
    zeros = _zeros(theta)
    return UnifiedState(t=0, m=zeros, r=zeros.copy())


def unified_step(
    theta,
    g,
    state: UnifiedState,
    *,
    lr: float,
    beta1: float = 0.9,
    beta2: float | None = 0.999,
    eps: float = 1e-8,
    bias_correction: bool = True,
) -> tuple[np.ndarray, UnifiedState]:
    """θ ← θ − (η_t/σ_t) m_t   (seed 002, Hung-yi Lee's "Summary of Optimization"):

        m ← β₁m + (1 − β₁)g      momentum: the direction, a weighted sum of past gradients
        r ← β₂r + (1 − β₂)g⊙g    σ = √r + δ: the magnitude, a root mean square (σ ≡ 1 when
                                 beta2 is None)
        with bias_correction, m and r are divided by 1 − β₁ᵗ and 1 − β₂ᵗ first;
        η_t = lr, the schedule (give ``trajectory`` one learning rate per step).

    Special cases (same numbers, not just the same idea):
        adam (weight_decay = 0)       the defaults: beta1, beta2, eps, bias_correction=True
        rmsprop eps_outside (ρ)       beta1=0, beta2=ρ, bias_correction=False
        momentum ema (μ)              beta1=μ, beta2=None, bias_correction=False
    Lee's AdaGrad is not one: its mean square weighs all gradients equally (β₂ = t/(t + 1)).
    """
    theta, g = _arrays(theta, g, state, UnifiedState)
    lr, beta1 = positive("lr", lr), _decay("beta1", beta1)
    if beta2 is not None:
        beta2 = _decay("beta2", beta2)
    eps = positive("eps", eps)
    if not isinstance(bias_correction, bool | np.bool_):
        raise TypeError(f"bias_correction must be True or False, got {bias_correction!r}")
    t = state.t + 1
    m = beta1 * state.m + (1.0 - beta1) * g
    m_hat = m / (1.0 - beta1**t) if bias_correction else m
    if beta2 is None:
        return theta - lr * m_hat, UnifiedState(t, m, state.r)
    r = beta2 * state.r + (1.0 - beta2) * g * g
    r_hat = r / (1.0 - beta2**t) if bias_correction else r
    sigma = np.sqrt(r_hat) + eps
    return theta - lr / sigma * m_hat, UnifiedState(t, m, r)


# --- trajectories -----------------------------------------------------------------------


class Optimizer(NamedTuple):
    init: Callable[..., Any]
    step: Callable[..., Any]
    lookahead: Callable[..., np.ndarray] | None  # where the gradient is evaluated, if not θ


OPTIMIZERS: dict[str, Optimizer] = {
    "gd": Optimizer(gd_init, gd_step, None),
    "sgd": Optimizer(sgd_init, sgd_step, None),
    "momentum": Optimizer(momentum_init, momentum_step, None),
    "nesterov": Optimizer(nesterov_init, nesterov_step, nesterov_lookahead),
    "adagrad": Optimizer(adagrad_init, adagrad_step, None),
    "rmsprop": Optimizer(rmsprop_init, rmsprop_step, None),
    "rmsprop_nesterov": Optimizer(
        rmsprop_nesterov_init, rmsprop_nesterov_step, rmsprop_nesterov_lookahead
    ),
    "adam": Optimizer(adam_init, adam_step, None),
    "unified": Optimizer(unified_init, unified_step, None),
}


def _learning_rates(lr: float | Sequence[float], steps: int) -> list[float]:
    """One positive learning rate per step, from a number or a sequence of ``steps`` numbers."""
    if np.ndim(lr) == 0:
        return [positive("lr", lr)] * steps
    rates = list(lr)
    if len(rates) != steps:
        raise ValueError(
            f"lr must be a number or hold one learning rate per step ({steps}), "
            f"got {len(rates)} of them"
        )
    return [positive(f"lr[{k}]", rate) for k, rate in enumerate(rates)]


def trajectory(
    name: str,
    theta0,
    grad_fn: Callable[[np.ndarray], Any],
    steps: int,
    *,
    lr: float | Sequence[float],
    **hyper: Any,
) -> np.ndarray:
    """The parameters after each of ``steps`` steps of optimiser ``name``: (steps, *θ₀.shape).

    ``grad_fn(theta) -> g``. ``lr`` is one learning rate or a sequence of one per step (a
    schedule); ``hyper`` are the optimiser's other keywords. Nesterov forms evaluate
    ``grad_fn`` at their look-ahead point θ + αv, everything else at θ.
    """
    name = choice("name", name, OPTIMIZERS)
    init, step, lookahead = OPTIMIZERS[name]
    theta = as_array("theta0", theta0)
    steps = integer("steps", steps, minimum=1)
    rates = _learning_rates(lr, steps)
    alpha = {"alpha": hyper["alpha"]} if "alpha" in hyper else {}
    state = init(theta)
    path = np.empty((steps, *theta.shape))  # (steps, *θ.shape)
    for k, rate in enumerate(rates):
        # 1. where the gradient is taken: θ, or the look-ahead point θ̃ = θ + αv
        at = theta if lookahead is None else lookahead(theta, state, **alpha)
        # 2. the gradient there (a copy in: grad_fn cannot alter the optimiser's θ)
        g = as_array("grad_fn(theta)", grad_fn(at.copy()))
        # 3. the step
        theta, state = step(theta, g, state, lr=rate, **hyper)
        path[k] = theta
    return path
