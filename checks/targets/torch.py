"""PyTorch as a target: the reference's functions, computed by ``torch``.

Each method mirrors a reference function's name and signature (read ``reference/*.py``):
numpy arrays in, torch tensors on the target's device in the same dtype, numpy arrays out.
Backwards are vector-Jacobian products through ``torch.autograd`` with the given ``dy``;
optimisers are ``torch.optim`` classes stepped once per call; schedules are
``torch.optim.lr_scheduler`` classes.

The adapter converts types, devices, argument names and conventions only: it adds no
arithmetic that changes a result and never chooses a variant. The conventions it maps are
names, not formulas:

    dropout           the reference's p is the KEEP probability; torch's is the drop one, 1 − p;
                      dropout_sample(variant=None|"inverted") → F.dropout ("standard": none)
    max_pool          ties=None|"first" → F.max_pool2d, whose gradient goes to the first
                      maximum of a window ("split": none)
    spectral_norm     variant=None|"max_norm" → torch.nn.utils.spectral_norm (F.normalize,
                      a/max(‖a‖, ε)); "eps_inside": TypeError
    avg_pool          divisor=None|"window"|"real" → F.avg_pool2d(count_include_pad=
                      default (True)|True|False)
    batch_norm        the reference's momentum is p, the weight of the old running value;
                      torch's momentum is 1 − p
    leaky_relu        alpha → negative_slope;   rmsprop: rho → alpha;   momentum: alpha → momentum
    gelu              variant=None|"erf"|"tanh" → F.gelu(approximate= default|"none"|"tanh")
    mse               variant=None|"mean"|"sum" → F.mse_loss(reduction= default|"mean"|"sum");
                      "half", "half_per_example": TypeError (no torch reduction divides by 2n
                      or 2m); reduction="none" → reduction='none': (ŷ − y)², the unreduced
                      terms of the mean and sum variants
    l1                reduction=None|"mean"|"sum"|"none" → F.l1_loss(reduction= the same)
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy
                      reduction=None|"mean"|"none" → reduction= default|"mean"|"none";
                      binary_cross_entropy variant=None|"unclipped" → F.binary_cross_entropy
                      (p as given); "clipped" (Keras's [1e-7, 1 − 1e-7]): TypeError
    adam              beta1, beta2 → betas=(beta1, beta2)
    decay             PyTorch's schedulers count epochs from 0: the reference's step t is
                      torch's epoch t − 1

Documented modes of the optimisers, schedules and batch norm: each mode torch has is a torch
class (a mapping, no arithmetic); the keyword left out (None) is torch's own default; a mode
torch lacks raises TypeError, which the checks read as unsupported in that mode:

    adam_step         weight_decay_mode "l2" → torch.optim.Adam, "decoupled" → AdamW, with
                      the same weight_decay (the reference's l2 adds wd·θ to g and its
                      decoupled form shrinks θ by lr·wd·θ, as torch's do: a renaming)
    momentum_step     variant "lr_outside" (SGD); classic, ema: TypeError
    adam_step         form "algorithm_1" (torch's Adam and AdamW); efficient: TypeError
    adagrad_step      variant "root_sum" (Adagrad: ε outside the root); lee, eps_inside:
                      TypeError
    rmsprop_step      variant "eps_outside" (RMSprop); eps_inside: TypeError
    decay             kind "step" → StepLR, "exponential" → ExponentialLR; inverse_time:
                      TypeError (no torch scheduler computes it without the adapter's arithmetic)
    batch_norm        running_var_estimator "unbiased" (F.batch_norm); biased: TypeError
    init              glorot_init/he_init: torch.nn.init's xavier_normal_ / kaiming_normal_
                      (mode "fan_in", nonlinearity "relu": gain √2) for distribution None and
                      "normal", xavier_uniform_ / kaiming_uniform_ for "uniform", drawn with a
                      torch.Generator seeded from ``rng``; truncated_normal: TypeError (torch's
                      trunc_normal_ cuts at absolute bounds, not at ±2 of a Glorot scale)

Defaults are the reference's (the signature is the contract), so a check that leaves a
hyper-parameter out compares the same algorithm; torch's own defaults differ for some (RMSprop
alpha 0.99 and eps 1e-8, Adagrad eps 1e-10).

Not offered (unsupported), for want of a torch function that computes them as they are, or
because torch cannot take the input the reference's signature gives it:
    dropout/dropout_backward with a given mask (torch draws its own: see ``dropout_sample``),
    rmsprop_nesterov, unified, nesterov_lookahead (torch stores the look-ahead point θ̃ itself),
    trajectory, the solvers, constant/warmup/noam schedules (no lr_scheduler class expresses
    them without arithmetic in the adapter), the penalties, mmd, feature normalisation,
    singular value bounding, residual, softplus_sum, ckn (torch has no CKN
    activation: composing it from torch.exp would be the adapter's arithmetic), the landscape
    and evaluation functions. ``spectral_norm`` returns sigma = None: torch never exposes σ.

float16 is not declared: several torch CPU kernels (conv2d, some reductions) lack it.

Sources: torch.nn.functional, torch.optim, torch.optim.lr_scheduler,
torch.nn.utils.spectral_norm, torch.nn.utils.parametrizations.weight_norm (PyTorch 2.x docs).
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812  (the PyTorch convention)

from nnconform.checks.targets import BatchNormGrads, BatchNormOutput, Target, offered

__all__ = ["TorchFunctions", "make_target"]


# --- conversions at the boundary --------------------------------------------------------


def _np(t: torch.Tensor | None) -> Any:
    """A tensor as numpy in its own dtype; a 0-d result as a numpy scalar (np.float64 is a
    Python float, as the reference's scalars are)."""
    if t is None:
        return None
    a = np.array(t.detach().cpu().numpy(), copy=True)  # never a view of a tensor kept alive
    return a[()] if a.ndim == 0 else a


class _Holder(torch.nn.Module):
    """A module that only holds a parameter ``weight``, for torch's weight re-parametrisations
    (which hook into modules)."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = torch.nn.Parameter(weight)

    def forward(self) -> torch.Tensor:
        return self.weight


class SpectralNormOutput(NamedTuple):
    weight: np.ndarray
    u: np.ndarray
    v: np.ndarray
    sigma: None  # torch.nn.utils.spectral_norm computes σ inside its hook and keeps only W/σ


class _Graph(NamedTuple):
    """A forward's output and the leaves its backward differentiates with respect to."""

    out: torch.Tensor
    leaves: tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class OptimizerState:
    """Opaque optimiser state (a class, not a tuple: no fields for the surface ledger to
    expect compared): which torch optimiser, and a deep copy of its ``state_dict`` after the
    last step (None before the first). A copy, so that stepping twice from one
    state (as a check may, with g and −g) gives two independent results, as the reference's
    pure functions do."""

    name: str
    saved: dict | None


# name -> (torch.optim class, the reference's keywords -> torch's constructor options)
_OPTIMIZERS: dict[str, tuple[type, Callable[..., dict[str, Any]]]] = {
    "sgd": (torch.optim.SGD, lambda weight_decay=0.0: {"weight_decay": weight_decay}),
    "gd": (torch.optim.SGD, lambda weight_decay=0.0: {"weight_decay": weight_decay}),
    "momentum": (torch.optim.SGD, lambda alpha=0.9: {"momentum": alpha}),
    # torch's Nesterov SGD evaluates g at its stored parameter, which is the reference's
    # look-ahead point θ̃ = θ + αv (so no nesterov_lookahead is offered).
    "nesterov": (torch.optim.SGD, lambda alpha=0.9: {"momentum": alpha, "nesterov": True}),
    "adagrad": (
        torch.optim.Adagrad,
        lambda eps=1e-7: {"eps": eps, "initial_accumulator_value": 0.0},
    ),
    "rmsprop": (torch.optim.RMSprop, lambda rho=0.9, eps=1e-6: {"alpha": rho, "eps": eps}),
    "adam": (
        torch.optim.Adam,
        lambda beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0: {
            "betas": (beta1, beta2),
            "eps": eps,
            "weight_decay": weight_decay,
        },
    ),
    # adam_step(weight_decay_mode="decoupled"): θ ← θ(1 − lr·wd), then Adam's update; the
    # reference's decoupled wd is torch's (a renaming: no arithmetic on λ)
    "adamw": (
        torch.optim.AdamW,
        lambda beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0: {
            "betas": (beta1, beta2),
            "eps": eps,
            "weight_decay": weight_decay,
        },
    ),
}

# The documented modes torch offers, each mapped to a torch class (no arithmetic). None, the
# keyword left out, is torch's own default; a mode that is not here raises TypeError, which
# the checks read as "torch does not offer this mode" (unsupported).
_ADAM_WEIGHT_DECAY_MODES = {None: "adam", "l2": "adam", "decoupled": "adamw"}
_MOMENTUM_VARIANTS = ("lr_outside",)  # SGD(momentum=μ): b ← μb + g, θ ← θ − lr·b
_ADAGRAD_VARIANTS = ("root_sum",)  # Adagrad: θ ← θ − lr·g/(√Σg² + eps)
_ADAM_FORMS = ("algorithm_1",)  # Adam, AdamW: θ ← θ − lr·ŝ/(√r̂ + eps), Kingma & Ba's Alg. 1
_RMSPROP_VARIANTS = ("eps_outside",)  # RMSprop: θ ← θ − lr·g/(√r + eps)
_DECAY_KINDS = ("step", "exponential")  # StepLR, ExponentialLR; no inverse-time scheduler
_RUNNING_VAR_ESTIMATORS = ("unbiased",)  # F.batch_norm updates running_var with m/(m − 1)


# a mode keyword torch lacks: TypeError
_offered = functools.partial(offered, "torch")


class TorchFunctions:
    """The functions of the torch target, bound to one device."""

    def __init__(self, device: str = "cpu"):
        self.device = torch.device(device)

    # --- helpers ------------------------------------------------------------------------

    def _t(self, x: Any, *, grad: bool = False) -> torch.Tensor:
        """numpy (or a number) -> a tensor on the device, dtype kept (non-float -> float64)."""
        a = np.asarray(x)
        if not np.issubdtype(a.dtype, np.floating):
            a = a.astype(np.float64)
        t = torch.tensor(a, device=self.device)  # a copy: the caller's array is never touched
        return t.requires_grad_(grad)

    def _labels(self, y: Any) -> torch.Tensor:
        return torch.tensor(np.asarray(y).astype(np.int64), device=self.device)

    def _vjp(self, graph: _Graph, dy: Any) -> list[torch.Tensor]:
        """Jᵀ·dy for each leaf, by torch.autograd (dy in the output's dtype: a conversion)."""
        out, leaves = graph
        dy = self._t(dy).to(out.dtype)
        if dy.shape != out.shape:
            dy = dy.reshape(out.shape)  # a scalar loss's dy given as () or (1,)
        return list(torch.autograd.grad(out, leaves, dy, retain_graph=True))

    def _unary(self, f: Callable[[torch.Tensor], torch.Tensor], x: Any) -> np.ndarray:
        return _np(f(self._t(x)))

    def _unary_backward(self, f, x: Any, dy: Any) -> np.ndarray:
        x = self._t(x, grad=True)
        return _np(self._vjp(_Graph(f(x), (x,)), dy)[0])

    # --- activations --------------------------------------------------------------------

    def sigmoid(self, x):
        return self._unary(torch.sigmoid, x)

    def sigmoid_backward(self, x, dy):
        return self._unary_backward(torch.sigmoid, x, dy)

    def tanh(self, x):
        return self._unary(torch.tanh, x)

    def tanh_backward(self, x, dy):
        return self._unary_backward(torch.tanh, x, dy)

    def relu(self, x):
        return self._unary(F.relu, x)

    def relu_backward(self, x, dy):
        return self._unary_backward(F.relu, x, dy)

    def leaky_relu(self, x, *, alpha=0.01):
        return self._unary(lambda t: F.leaky_relu(t, negative_slope=alpha), x)

    def leaky_relu_backward(self, x, dy, *, alpha=0.01):
        return self._unary_backward(lambda t: F.leaky_relu(t, negative_slope=alpha), x, dy)

    def _prelu(self, x, a) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], tuple]:
        a_shape = np.shape(a)
        x_t = self._t(x, grad=True)
        # torch's weight is 1-D: one slope of any size-1 shape becomes (1,) (a reshape only)
        a_t = self._t(np.reshape(a, (1,)) if np.size(a) == 1 else a, grad=True)
        return F.prelu(x_t, a_t), (x_t, a_t), a_shape

    def prelu(self, x, a):
        return _np(self._prelu(x, a)[0])

    def prelu_backward(self, x, a, dy):
        out, leaves, a_shape = self._prelu(x, a)
        dx, da = self._vjp(_Graph(out, leaves), dy)
        return _np(dx), _np(da.reshape(a_shape))

    def elu(self, x, *, alpha=1.0):
        return self._unary(lambda t: F.elu(t, alpha=alpha), x)

    def elu_backward(self, x, dy, *, alpha=1.0):
        return self._unary_backward(lambda t: F.elu(t, alpha=alpha), x, dy)

    def relu6(self, x):
        return self._unary(F.relu6, x)

    def relu6_backward(self, x, dy):
        return self._unary_backward(F.relu6, x, dy)

    def selu(self, x):
        return self._unary(F.selu, x)

    def selu_backward(self, x, dy):
        return self._unary_backward(F.selu, x, dy)

    # GELU's documented variants as F.gelu's ``approximate`` (a mapping, no arithmetic);
    # None, the keyword left out, is torch's own default form, which the checks measure
    _GELU_VARIANTS: ClassVar[dict[str | None, dict[str, str]]] = {
        None: {},
        "erf": {"approximate": "none"},
        "tanh": {"approximate": "tanh"},
    }

    def _gelu(self, variant: str | None) -> Callable[[torch.Tensor], torch.Tensor]:
        if variant not in self._GELU_VARIANTS:
            raise TypeError(f"torch offers no gelu(variant={variant!r}): only 'erf', 'tanh'")
        return lambda t: F.gelu(t, **self._GELU_VARIANTS[variant])

    def gelu(self, x, *, variant=None):
        return self._unary(self._gelu(variant), x)

    def gelu_backward(self, x, dy, *, variant=None):
        return self._unary_backward(self._gelu(variant), x, dy)

    def softplus(self, x):
        return self._unary(F.softplus, x)

    def softplus_backward(self, x, dy):
        return self._unary_backward(F.softplus, x, dy)

    def softmax(self, z, *, axis=-1):
        return self._unary(lambda t: F.softmax(t, dim=axis), z)

    def softmax_backward(self, z, dy, *, axis=-1):
        return self._unary_backward(lambda t: F.softmax(t, dim=axis), z, dy)

    def log_softmax(self, z, *, axis=-1):
        return self._unary(lambda t: F.log_softmax(t, dim=axis), z)

    def log_softmax_backward(self, z, dy, *, axis=-1):
        return self._unary_backward(lambda t: F.log_softmax(t, dim=axis), z, dy)

    # --- losses (torch's default reduction: which variant it is is measured) -------------

    def _loss(self, f, y_hat, y) -> _Graph:
        y_hat = self._t(y_hat, grad=True)
        return _Graph(f(y_hat, self._t(y).to(y_hat.dtype)), (y_hat,))

    # The documented modes of the losses as torch's ``reduction`` (a mapping, no arithmetic);
    # None, the keyword left out, is torch's own default ("mean"). MSE's "mean" and "sum"
    # variants are torch's reductions; its "half" and "half_per_example" forms divide by 2n
    # and 2m, which no torch reduction does: TypeError. reduction="none" is torch's 'none':
    # for MSE the terms (ŷ − y)², those of the mean and sum variants (the reference's policy).
    _REDUCTIONS: ClassVar[dict[str | None, dict[str, str]]] = {
        None: {},
        "mean": {"reduction": "mean"},
        "sum": {"reduction": "sum"},
        "none": {"reduction": "none"},
    }

    def _reduced(self, f, function: str, offered: tuple[str | None, ...], mode: str | None):
        if mode not in offered:
            raise TypeError(f"torch offers no {function} in mode {mode!r}")
        return lambda y_hat, y: f(y_hat, y, **self._REDUCTIONS[mode])

    def _mse(self, variant, reduction):
        if variant not in (None, "mean", "sum") or reduction not in (None, "none"):
            modes = {"variant": variant, "reduction": reduction}
            shown = ", ".join(f"{k}={v!r}" for k, v in modes.items() if v is not None)
            raise TypeError(f"torch offers no mse({shown})")
        return self._reduced(F.mse_loss, "mse", (None, "mean", "sum", "none"), reduction or variant)

    def mse(self, y_hat, y, *, variant=None, reduction=None):
        return _np(self._loss(self._mse(variant, reduction), y_hat, y).out)

    def mse_backward(self, y_hat, y, dy=1.0, *, variant=None, reduction=None):
        return _np(self._vjp(self._loss(self._mse(variant, reduction), y_hat, y), dy)[0])

    _L1 = (None, "mean", "sum", "none")
    _MEAN_OR_NONE = (None, "mean", "none")

    def l1(self, y_hat, y, *, reduction=None):
        f = self._reduced(F.l1_loss, "l1", self._L1, reduction)
        return _np(self._loss(f, y_hat, y).out)

    def l1_backward(self, y_hat, y, dy=1.0, *, reduction=None):
        f = self._reduced(F.l1_loss, "l1", self._L1, reduction)
        return _np(self._vjp(self._loss(f, y_hat, y), dy)[0])

    def _bce(self, variant, reduction):
        # F.binary_cross_entropy takes p as it is ("unclipped"; its log clamp at −100 is
        # documented in the oracle); Keras's clipping to [1e-7, 1 − 1e-7] is not torch's
        if variant not in (None, "unclipped"):
            raise TypeError(f"torch offers no binary_cross_entropy(variant={variant!r})")
        f = F.binary_cross_entropy
        return self._reduced(f, "binary_cross_entropy", self._MEAN_OR_NONE, reduction)

    def binary_cross_entropy(self, p, y, *, variant=None, reduction=None):
        return _np(self._loss(self._bce(variant, reduction), p, y).out)

    def binary_cross_entropy_backward(self, p, y, dy=1.0, *, variant=None, reduction=None):
        return _np(self._vjp(self._loss(self._bce(variant, reduction), p, y), dy)[0])

    def _bce_logits(self, reduction):
        f = F.binary_cross_entropy_with_logits
        return self._reduced(f, "binary_cross_entropy_with_logits", self._MEAN_OR_NONE, reduction)

    def binary_cross_entropy_with_logits(self, z, y, *, reduction=None):
        return _np(self._loss(self._bce_logits(reduction), z, y).out)

    def binary_cross_entropy_with_logits_backward(self, z, y, dy=1.0, *, reduction=None):
        return _np(self._vjp(self._loss(self._bce_logits(reduction), z, y), dy)[0])

    def _cross_entropy(self, z, y, reduction) -> _Graph:
        if reduction not in self._MEAN_OR_NONE:
            raise TypeError(f"torch offers no cross_entropy(reduction={reduction!r})")
        z = self._t(z, grad=True)
        return _Graph(F.cross_entropy(z, self._labels(y), **self._REDUCTIONS[reduction]), (z,))

    def cross_entropy(self, z, y, *, reduction=None):
        return _np(self._cross_entropy(z, y, reduction).out)

    def cross_entropy_backward(self, z, y, dy=1.0, *, reduction=None):
        return _np(self._vjp(self._cross_entropy(z, y, reduction), dy)[0])

    # --- optimisers: torch.optim, one step per call --------------------------------------

    def _init(self, name: str, theta) -> OptimizerState:
        np.asarray(theta)  # nothing to allocate: torch creates its buffers at the first step
        return OptimizerState(name, None)

    def _step(
        self, name: str, theta, g, state, lr, hyper, *, torch_name: str | None = None
    ) -> tuple[np.ndarray, OptimizerState]:
        """One step of ``_OPTIMIZERS[torch_name or name]`` (torch_name: a mode's class)."""
        if not isinstance(state, OptimizerState) or state.name != name:
            raise TypeError(f"state must come from {name}_init, got {state!r}")
        cls, options = _OPTIMIZERS[torch_name or name]
        options = options(**hyper)
        param = torch.nn.Parameter(self._t(theta))
        optimizer = cls([param], lr=float(lr), **options)
        if state.saved is not None:
            optimizer.load_state_dict(copy.deepcopy(state.saved))
        # load_state_dict restores the saved group's options: this step's lr (a schedule may
        # change it between steps) and hyper-parameters are set again
        optimizer.param_groups[0].update(lr=float(lr), **options)
        param.grad = self._t(g).to(param.dtype)
        optimizer.step()
        return _np(param), OptimizerState(name, copy.deepcopy(optimizer.state_dict()))

    def sgd_init(self, theta):
        return self._init("sgd", theta)

    def sgd_step(self, theta, g, state, *, lr, weight_decay=0.0):
        return self._step("sgd", theta, g, state, lr, {"weight_decay": weight_decay})

    def gd_init(self, theta):
        return self._init("gd", theta)

    def gd_step(self, theta, g, state, *, lr, weight_decay=0.0):
        return self._step("gd", theta, g, state, lr, {"weight_decay": weight_decay})

    def momentum_init(self, theta):
        return self._init("momentum", theta)

    def momentum_step(self, theta, g, state, *, lr, alpha=0.9, variant=None):
        _offered("momentum_step", "variant", variant, _MOMENTUM_VARIANTS)
        return self._step("momentum", theta, g, state, lr, {"alpha": alpha})

    def nesterov_init(self, theta):
        return self._init("nesterov", theta)

    def nesterov_step(self, theta, g, state, *, lr, alpha=0.9):
        """theta is torch's stored parameter (the reference's look-ahead point θ̃ = θ + αv)
        and g the gradient there; torch has no separate θ."""
        return self._step("nesterov", theta, g, state, lr, {"alpha": alpha})

    def adagrad_init(self, theta):
        return self._init("adagrad", theta)

    def adagrad_step(self, theta, g, state, *, lr, eps=1e-7, variant=None):
        _offered("adagrad_step", "variant", variant, _ADAGRAD_VARIANTS)
        return self._step("adagrad", theta, g, state, lr, {"eps": eps})

    def rmsprop_init(self, theta):
        return self._init("rmsprop", theta)

    def rmsprop_step(self, theta, g, state, *, lr, rho=0.9, eps=1e-6, variant=None):
        _offered("rmsprop_step", "variant", variant, _RMSPROP_VARIANTS)
        return self._step("rmsprop", theta, g, state, lr, {"rho": rho, "eps": eps})

    def adam_init(self, theta):
        return self._init("adam", theta)

    def adam_step(
        self, theta, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
        weight_decay_mode=None, form=None,
    ):  # fmt: skip
        """weight_decay_mode: None (torch's default) or "l2" → torch.optim.Adam;
        "decoupled" → torch.optim.AdamW (both with the same weight_decay). form: None or
        "algorithm_1" (torch has no efficient form)."""
        offered = [mode for mode in _ADAM_WEIGHT_DECAY_MODES if mode is not None]
        _offered("adam_step", "weight_decay_mode", weight_decay_mode, offered)
        _offered("adam_step", "form", form, _ADAM_FORMS)
        hyper = {"beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": weight_decay}
        torch_name = _ADAM_WEIGHT_DECAY_MODES[weight_decay_mode]
        return self._step("adam", theta, g, state, lr, hyper, torch_name=torch_name)

    # --- schedules ----------------------------------------------------------------------

    def decay(self, t, *, lr, gamma, step_size=None, kind=None):
        """kind "step" → StepLR, "exponential" → ExponentialLR (inverse_time: torch has no
        such scheduler, TypeError). Left out (None): StepLR when a step_size is given, else
        ExponentialLR, the torch scheduler that takes exactly these arguments. η at step t is
        the lr after t − 1 scheduler steps."""
        _offered("decay", "kind", kind, _DECAY_KINDS)
        if kind == "step" and step_size is None:
            raise ValueError("step_size must be given for kind='step' (StepLR's step_size)")
        steps = np.asarray(t)
        if steps.dtype == np.bool_ or not np.issubdtype(steps.dtype, np.number):
            raise TypeError(f"t must hold integer step counts, got {t!r}")
        if steps.size and (np.any(steps != np.round(steps)) or steps.min() < 1):
            raise ValueError(f"t must hold whole step counts >= 1, got {t!r}")
        param = torch.nn.Parameter(torch.zeros(1, device=self.device))
        optimizer = torch.optim.SGD([param], lr=float(lr))
        if kind == "exponential" or (kind is None and step_size is None):
            scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
        else:
            scheduler = torch.optim.lr_scheduler.StepLR(
                optimizer, step_size=int(step_size), gamma=gamma
            )
        rates = []  # rates[e] = the lr of epoch e (torch's count from 0)
        for _ in range(int(steps.max(initial=1))):
            rates.append(scheduler.get_last_lr()[0])
            optimizer.step()  # torch warns when a scheduler steps before its optimizer
            scheduler.step()
        out = np.asarray(rates, dtype=np.float64)[steps.astype(np.int64) - 1]
        return float(out) if out.ndim == 0 else out

    # --- normalisation ------------------------------------------------------------------

    def batch_norm(
        self, x, gamma, beta, running_mean, running_var, *, training=True, momentum=0.9,
        eps=1e-5, running_var_estimator=None,
    ):  # fmt: skip
        """running_var_estimator: None (torch's default) or "unbiased", what F.batch_norm
        does; "biased" is not offered (TypeError)."""
        _offered("batch_norm", "running_var_estimator", running_var_estimator,
                 _RUNNING_VAR_ESTIMATORS)  # fmt: skip
        x_t, gamma_t, beta_t = (self._t(a, grad=True) for a in (x, gamma, beta))
        # F.batch_norm updates these copies in place; the caller's arrays stay untouched
        mean_t, var_t = self._t(running_mean), self._t(running_var)
        y = F.batch_norm(
            x_t, mean_t, var_t, gamma_t, beta_t, training=bool(training),
            momentum=1.0 - momentum,  # the reference's p is torch's 1 − momentum (a convention)
            eps=eps,
        )  # fmt: skip
        cache = _Graph(y, (x_t, gamma_t, beta_t))
        return BatchNormOutput(_np(y), cache, _np(mean_t), _np(var_t))

    def batch_norm_backward(self, dy, cache):
        if not isinstance(cache, _Graph):
            raise TypeError(f"cache must come from this target's batch_norm, got {cache!r}")
        dx, dgamma, dbeta = self._vjp(cache, dy)
        return BatchNormGrads(None, None, None, _np(dx), _np(dgamma), _np(dbeta))

    def _group_norm(self, x, gamma, beta, num_groups, eps) -> _Graph:
        leaves = tuple(self._t(a, grad=True) for a in (x, gamma, beta))
        return _Graph(F.group_norm(leaves[0], num_groups, leaves[1], leaves[2], eps), leaves)

    def group_norm(self, x, gamma, beta, *, num_groups, eps=1e-5):
        return _np(self._group_norm(x, gamma, beta, num_groups, eps).out)

    def group_norm_backward(self, x, gamma, beta, dy, *, num_groups, eps=1e-5):
        return tuple(
            _np(d) for d in self._vjp(self._group_norm(x, gamma, beta, num_groups, eps), dy)
        )

    def _weight_norm(self, v, g) -> tuple[_Graph, tuple[int, ...]]:
        v_t, g_shape = self._t(v), np.shape(g)
        holder = _Holder(v_t.clone())
        # dim=0: one norm per output row; dim=None: one norm of the whole (1-D) v
        torch.nn.utils.parametrizations.weight_norm(holder, dim=0 if v_t.ndim > 1 else None)
        original = holder.parametrizations.weight
        g_t = self._t(g).reshape(original.original0.shape)  # torch's g is (out, 1, …): a reshape
        with torch.no_grad():
            original.original0.copy_(g_t)
            original.original1.copy_(v_t)
        leaves = (original.original1, original.original0)
        return _Graph(holder.weight, leaves), g_shape

    def weight_norm(self, v, g):
        return _np(self._weight_norm(v, g)[0].out)

    def weight_norm_backward(self, v, g, dw):
        graph, g_shape = self._weight_norm(v, g)
        dv, dg = self._vjp(graph, dw)
        return _np(dv), _np(dg.reshape(g_shape))

    def _spectral_norm(self, W, u, v, n_power_iterations, eps) -> tuple[_Graph, _Holder]:
        holder = _Holder(self._t(W))
        # torch.nn.utils.spectral_norm (not the parametrization): v ← Wᵀu first, then u ← Wv,
        # the order of the reference. It takes n_power_iterations ≥ 1 only; 0 ("use u and v
        # as given") is its evaluation mode, which skips the power iteration.
        torch.nn.utils.spectral_norm(
            holder, n_power_iterations=max(int(n_power_iterations), 1), eps=eps, dim=0
        )
        with torch.no_grad():
            holder.weight_u.copy_(self._t(u))
            if v is not None:
                holder.weight_v.copy_(self._t(v))
        holder.train(n_power_iterations > 0)
        return _Graph(holder(), (holder.weight_orig,)), holder

    def spectral_norm(self, W, u, v=None, *, n_power_iterations=1, eps=1e-12, variant=None):
        # torch.nn.utils.spectral_norm normalises by F.normalize, a/max(‖a‖, ε): max_norm
        _offered("spectral_norm", "variant", variant, ["max_norm"])
        if n_power_iterations == 0 and v is None:
            raise ValueError("v is required when n_power_iterations is 0, got None")
        graph, holder = self._spectral_norm(W, u, v, n_power_iterations, eps)
        return SpectralNormOutput(_np(graph.out), _np(holder.weight_u), _np(holder.weight_v), None)

    def spectral_norm_backward(self, W, u, v, dy):
        # u, v held constant (evaluation mode: no power iteration), as in the reference
        graph, _ = self._spectral_norm(W, u, v, 0, 1e-12)
        return _np(self._vjp(graph, dy)[0])

    # --- regularisation -----------------------------------------------------------------

    def dropout_sample(self, x, *, p, rng, training=True, variant=None):
        """torch's own mask, from a torch seed drawn from ``rng``: F.dropout takes no
        generator, so the global torch RNG is seeded inside fork_rng (restored after).
        F.dropout is inverted dropout: ``variant`` None (torch's own) or "inverted"."""
        if variant not in (None, "inverted"):
            raise TypeError(f"torch's F.dropout offers no variant={variant!r}, only 'inverted'")
        x_t = self._t(x)
        seed = int(rng.integers(2**63))
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            # the reference's p is the KEEP probability, torch's the drop one (a name mapping)
            return _np(F.dropout(x_t, p=1.0 - p, training=bool(training)))

    # --- layers -------------------------------------------------------------------------

    def _linear(self, x, W, b) -> _Graph:
        leaves = tuple(self._t(a, grad=True) for a in (x, W) + (() if b is None else (b,)))
        return _Graph(F.linear(*leaves), leaves)

    def linear(self, x, W, b=None):
        return _np(self._linear(x, W, b).out)

    def linear_backward(self, x, W, b, dz):
        grads = [_np(d) for d in self._vjp(self._linear(x, W, b), dz)]
        return tuple(grads) if b is not None else (*grads, None)

    def _mlp(self, x, params: Sequence, activation: str) -> _Graph:
        sigma = {
            "relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
            "leaky_relu": F.leaky_relu, "elu": F.elu, "relu6": F.relu6, "selu": F.selu,
            "gelu": F.gelu, "softplus": F.softplus,
        }[activation]  # fmt: skip
        a = x_t = self._t(x, grad=True)
        leaves = [x_t]
        for i, (W, b) in enumerate(params):
            W_t, b_t = self._t(W, grad=True), self._t(b, grad=True)
            leaves += [W_t, b_t]
            a = F.linear(a, W_t, b_t)
            if i < len(params) - 1:
                a = sigma(a)
        return _Graph(a, tuple(leaves))

    def mlp(self, x, params, *, activation="relu"):
        return _np(self._mlp(x, params, activation).out)

    def mlp_backward(self, x, params, dy, *, activation="relu"):
        dx, *rest = (_np(d) for d in self._vjp(self._mlp(x, params, activation), dy))
        return dx, [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)]

    def _conv2d(self, x, w, b, stride, padding, dilation) -> _Graph:
        leaves = tuple(self._t(a, grad=True) for a in (x, w) + (() if b is None else (b,)))
        bias = leaves[2] if b is not None else None
        out = F.conv2d(
            leaves[0], leaves[1], bias, stride=stride, padding=padding, dilation=dilation
        )
        return _Graph(out, leaves)

    def conv2d(self, x, w, b=None, *, stride=1, padding=0, dilation=1):
        return _np(self._conv2d(x, w, b, stride, padding, dilation).out)

    def conv2d_backward(self, x, w, b, dy, *, stride=1, padding=0, dilation=1):
        graph = self._conv2d(x, w, b, stride, padding, dilation)
        grads = [_np(d) for d in self._vjp(graph, dy)]
        return tuple(grads) if b is not None else (*grads, None)

    def _pool(self, f, x, **options) -> _Graph:
        x_t = self._t(x, grad=True)
        return _Graph(f(x_t, **options), (x_t,))

    @staticmethod
    def _max_pool_ties(ties):
        """max_pool2d has one tie rule: its gradient goes to the first maximum of the window
        in row-major order, the reference's ``first``. None: torch's own (that one)."""
        if ties not in (None, "first"):
            raise TypeError(f"torch's max_pool2d offers no ties={ties!r}, only 'first'")

    def max_pool(self, x, *, kernel_size, stride=None, padding=0, dilation=1, ties=None):
        self._max_pool_ties(ties)
        options = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
        return _np(self._pool(F.max_pool2d, x, **options).out)

    def max_pool_backward(
        self, x, dy, *, kernel_size, stride=None, padding=0, dilation=1, ties=None
    ):
        self._max_pool_ties(ties)
        options = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
        return _np(self._vjp(self._pool(F.max_pool2d, x, **options), dy)[0])

    # the divisor as torch's count_include_pad (None: its default, True)
    _COUNT_INCLUDE_PAD: ClassVar[dict[str | None, dict[str, bool]]] = {
        None: {}, "window": {"count_include_pad": True}, "real": {"count_include_pad": False}
    }  # fmt: skip

    def _avg_pool_options(self, kernel_size, stride, padding, divisor) -> dict[str, Any]:
        _offered("avg_pool", "divisor", divisor, list(self._COUNT_INCLUDE_PAD))
        options = dict(kernel_size=kernel_size, stride=stride, padding=padding)
        return options | self._COUNT_INCLUDE_PAD[divisor]

    def avg_pool(self, x, *, kernel_size, stride=None, padding=0, divisor=None):
        options = self._avg_pool_options(kernel_size, stride, padding, divisor)
        return _np(self._pool(F.avg_pool2d, x, **options).out)

    def avg_pool_backward(self, x, dy, *, kernel_size, stride=None, padding=0, divisor=None):
        options = self._avg_pool_options(kernel_size, stride, padding, divisor)
        return _np(self._vjp(self._pool(F.avg_pool2d, x, **options), dy)[0])

    # --- initialisation -------------------------------------------------------------------

    _INITIALIZERS: ClassVar[dict[tuple[str, str | None], Callable[..., Any]]] = {
        # Glorot: xavier_*_ (gain 1); He: kaiming_*_ with mode="fan_in", nonlinearity="relu"
        # (gain √2). None: the function named for the normal form, as for the reference
        ("glorot", None): torch.nn.init.xavier_normal_,
        ("glorot", "normal"): torch.nn.init.xavier_normal_,
        ("glorot", "uniform"): torch.nn.init.xavier_uniform_,
        ("he", None): functools.partial(torch.nn.init.kaiming_normal_, nonlinearity="relu"),
        ("he", "normal"): functools.partial(torch.nn.init.kaiming_normal_, nonlinearity="relu"),
        ("he", "uniform"): functools.partial(torch.nn.init.kaiming_uniform_, nonlinearity="relu"),
    }

    def _init_weights(self, family, fan_in, fan_out, rng, distribution, shape):
        _offered(f"{family}_init", "distribution", distribution, ["normal", "uniform"])
        shape = (int(fan_out), int(fan_in)) if shape is None else tuple(int(s) for s in shape)
        if len(shape) < 2:
            raise NotImplementedError(f"torch.nn.init needs a shape of 2+ axes, got {shape}")
        # torch derives the fans from the shape (out, in, *receptive field), as the reference
        receptive = int(np.prod(shape[2:]))
        if (shape[1] * receptive, shape[0] * receptive) != (int(fan_in), int(fan_out)):
            raise NotImplementedError(
                f"torch derives fan_in, fan_out = {shape[1] * receptive}, "
                f"{shape[0] * receptive} from the shape {shape}, not the given {fan_in}, {fan_out}"
            )
        generator = torch.Generator(device=self.device).manual_seed(int(rng.integers(2**63)))
        w = torch.empty(shape, dtype=torch.float64, device=self.device)
        return _np(self._INITIALIZERS[family, distribution](w, generator=generator))

    def glorot_init(self, fan_in, fan_out, rng, *, distribution=None, shape=None):
        return self._init_weights("glorot", fan_in, fan_out, rng, distribution, shape)

    def he_init(self, fan_in, fan_out, rng, *, distribution=None, shape=None):
        return self._init_weights("he", fan_in, fan_out, rng, distribution, shape)


def make_target(*, device: str = "cpu") -> Target:
    """The torch target on ``device``. Built even for a device torch cannot use here, so that
    the command can say which devices it has (nothing touches the device before a call).

    In a pytest-xdist worker, torch's intra-op threads are the worker's share of the cores:
    by default every worker would start one thread per core, and on 2 cores with ``-n 2``
    the checks' small tensors wait on each other's threads (a batch norm of a (3, 2) input
    measured 12–48 ms oversubscribed, 0.25 ms on one thread)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    return Target(
        name="torch",
        namespace=TorchFunctions(device if device in devices else "cpu"),
        version=torch.__version__,
        dtypes=("float64", "float32"),
        devices=devices,
        device=device,
    )
