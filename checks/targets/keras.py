"""Keras 3 as a target: the reference's functions, computed by keras on its torch backend.

Importing this module sets ``KERAS_BACKEND=torch`` (``os.environ.setdefault``) before it
imports keras, so that Keras computes with PyTorch (no TensorFlow is needed or imported):
keras tensors are then torch tensors. If keras was already imported in this process with
another backend (or ``KERAS_BACKEND`` names another one), the target cannot be loaded: a
``TargetError`` says so, since Keras fixes its backend once per process.

Each method mirrors a reference function's name and signature (read ``reference/*.py``):
numpy arrays in, torch tensors in the same dtype, numpy arrays out (copies). Backwards are
vector-Jacobian products by ``torch.autograd`` through the keras operations (on the torch
backend a keras op is a torch op, and a layer's weights are torch parameters);
optimisers are ``keras.optimizers`` classes stepped once per call on a ``keras.Variable``;
schedules are ``keras.optimizers.schedules`` classes; layers and normalisations are
``keras.layers`` built on the given weights.

dtypes: each call runs with ``keras.config.set_floatx`` set to its input's dtype (float64 or
float32) and restored after, and every layer, loss and variable is made in that dtype: what
a Keras user does to compute in float64. What Keras still computes in float32 inside is left
as it is, to be measured: its type promotion maps float64 to float32 on every backend but
TensorFlow (keras/src/backend/common/dtypes.py, BIT64_TO_BIT32_DTYPE), so a matmul (Dense,
linear, mlp) returns float32, and ops.mean, the losses' reduction, BatchNormalization and
GroupNormalization compute float64 inputs in float32. The adapter never casts a result back.

The adapter converts types, argument names, layouts and conventions only: it adds no
arithmetic that changes a result and never chooses a variant. The conventions it maps are
names and layouts, not formulas:

    layouts           data_format="channels_first" for conv and pooling (the reference's
                      NCHW); a convolution weight OIHW ↔ Keras's kernel (kH, kW, I, O); a
                      linear weight (out, in) ↔ Dense's kernel (in, out) (transposes)
    dropout           the reference's p is the KEEP probability; keras.layers.Dropout's
                      ``rate`` is the drop one, 1 − p. Its mask comes from a Keras seed drawn
                      from ``rng``
    batch_norm        keras.layers.BatchNormalization(axis=1): its ``momentum`` is the
                      reference's p, the weight of the OLD running value (no conversion)
    step counts       a Keras schedule is evaluated at ``optimizer.iterations``, 0 at the first
                      update: the reference's step t is Keras's step t − 1
    prelu             keras.layers.PReLU with alpha = a: a size-1 a shared over every axis
                      but the batch, a per-channel a (axis 1) shared over the spatial axes
                      (shared_axes; alpha's shape (C, 1, …) a reshape of a)
    leaky_relu        alpha → negative_slope;  rmsprop: rho → rho;  momentum, nesterov:
                      alpha → momentum;  adam: beta1, beta2 → beta_1, beta_2;  eps → epsilon
    gelu              variant=None|"erf"|"tanh" → keras.activations.gelu(approximate=
                      default|False|True); Keras's default is the erf form
    losses            the prediction and target get a trailing axis of size 1 (a reshape):
                      a Keras loss is the mean over the last axis, here of one element, so
                      its per-sample losses are the reference's per-element terms and Keras's
                      reductions act on them; the unreduced terms are reshaped back
    adagrad           Keras's Adagrad starts its accumulator at 0.1; the adapter passes
                      initial_accumulator_value=0, the reference's r₀ (as the JAX target)
    init              glorot_init/he_init draw Keras's (in, out) or (kH, kW, in, out) kernel
                      layout, whose fans Keras derives from the shape, and transpose it to the
                      reference's (out, in) or (out, in, kH, kW)
    warmup            CosineDecay(initial_learning_rate=0, warmup_target=lr,
                      warmup_steps=warmup, decay_steps=total − warmup): Keras's decay_steps
                      counts the decay phase only, the reference's total the whole schedule
    padding           Keras's convolution and pools take padding="valid" or "same" only. conv2d
                      and max_pool: x padded by keras.ops.pad with the value their definition
                      pads with (0; −∞, which no maximum can be), then "valid" (a layout, as
                      keras.layers.ZeroPadding2D before a layer). avg_pool: padding 0 →
                      "valid", the symmetric (k − 1)/2 at stride 1 → "same" (whose divisor
                      leaves the padding out: the catalogue's divisor "real", measured); any
                      other: NotImplementedError.
                      conv2d with stride > 1 and dilation > 1: NotImplementedError (Conv2D
                      refuses it)

Documented modes: each mode Keras has is a Keras class or option (a mapping, no arithmetic);
the keyword left out (None) is Keras's own default; a mode Keras lacks raises TypeError,
which the checks read as unsupported in that mode:

    adam_step         weight_decay_mode None → keras.optimizers.Adam(weight_decay=wd), whose
                      weight decay is decoupled (base_optimizer._apply_weight_decay:
                      θ ← θ − θ·wd·lr before the update); "decoupled" → AdamW(weight_decay=wd);
                      "l2": TypeError (no Keras Adam adds wd·θ to the gradient).
                      form None|"efficient" → Adam (ε outside the bias-corrected step,
                      α_t = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)); algorithm_1: TypeError
    sgd_step          SGD(weight_decay=wd): θ ← θ − θ·wd·lr, then θ ← θ − lr·g, the
                      reference's θ − lr(g + wd·θ) for a given g (a renaming)
    momentum_step     variant None|"classic" → SGD(momentum=α): m ← αm − lr·g, θ ← θ + m;
                      ema, lr_outside: TypeError
    nesterov_step     SGD(momentum=α, nesterov=True) keeps the shifted variable, as PyTorch
                      does: θ here is Keras's variable (the reference's look-ahead point
                      θ + αv) and g the gradient there; no nesterov_lookahead
    adagrad_step      variant None|"eps_inside" → Adagrad (θ ← θ − lr·g/√(r + ε));
                      root_sum, lee: TypeError
    rmsprop_step      variant None|"eps_inside" → RMSprop (θ ← θ − lr·g/√(r + ε));
                      eps_outside: TypeError
    mse               variant None → MeanSquaredError() (its default reduction
                      "sum_over_batch_size"), "mean" → the same, "sum" → reduction="sum";
                      half, half_per_example: TypeError (no Keras loss halves);
                      reduction "none" → reduction=None: (ŷ − y)² per element
    l1                reduction None|"mean" → MeanAbsoluteError() ("sum_over_batch_size"),
                      "sum" → reduction="sum", "none" → reduction=None
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy
                      BinaryCrossentropy(from_logits=False|True), SparseCategoricalCrossentropy(
                      from_logits=True); reduction None|"mean" → "sum_over_batch_size", "none"
                      → None. binary_cross_entropy variant None|"clipped" (Keras clips p to
                      [ε, 1 − ε], ε = keras.config.epsilon() = 1e-7); unclipped: TypeError
    decay             kind "step" → ExponentialDecay(decay_steps=step_size, staircase=True);
                      "exponential" → ExponentialDecay(decay_steps=1); "inverse_time" →
                      InverseTimeDecay(decay_steps=1); "continuous" and None →
                      ExponentialDecay(decay_steps=step_size (None: 1)) at its default
                      staircase=False, lr·γ^((t − 1)/step_size)
    warmup            then None|"cosine" → CosineDecay with warmup_target; inverse_sqrt,
                      linear: TypeError (no Keras schedule warms up before them). counting
                      None|"from_zero" → Keras's step count (iterations, from 0); from_one:
                      TypeError
    batch_norm        running_var_estimator None|"biased" (Keras updates moving_variance with
                      the batch variance it normalises with); unbiased: TypeError
    max_pool          ties None|"first": keras.ops.max_pool is F.max_pool2d on the torch
                      backend, whose gradient goes to the first maximum; split: TypeError
    avg_pool          divisor None|"real": keras.ops.average_pool, whose "same" padding leaves
                      the padding out of the divisor (backend/torch/nn.py:453,
                      F.avg_pool2d(count_include_pad=False)); with padding 0 ("valid") the
                      divisors agree; "window": TypeError (Keras has no count_include_pad)
    dropout_sample    variant None|"inverted" (Keras scales kept units by 1/(1 − rate));
                      standard: TypeError
    init              distribution None|"truncated_normal" → GlorotNormal / HeNormal (Keras's
                      truncated normal rescaled to the variance), "normal" → the same
                      VarianceScaling with distribution="untruncated_normal", "uniform" →
                      GlorotUniform / HeUniform

Defaults are the reference's (the signature is the contract), so a check that leaves a
hyper-parameter out compares the same algorithm; Keras's own defaults differ for some (Adam
and RMSprop epsilon 1e-7, leaky_relu's slope 0.2, Adagrad's accumulator 0.1).

Not offered (unsupported), for want of a Keras function that computes them as they are, or
because Keras cannot take the input the reference's signature gives it:
    constant and noam schedules (a constant is a float learning rate, not a schedule; Keras has
    no Noam schedule), dropout/dropout_backward with a given mask (Keras draws its own: see
    ``dropout_sample``), rmsprop_nesterov, unified, nesterov_lookahead (Keras stores the
    look-ahead point), trajectory, the solvers, weight_decay (Keras's is inside its
    optimisers), ckn, softplus_sum, residual, the penalties, mmd,
    feature, weight and spectral normalisation, singular value bounding, the landscape and
    evaluation functions. Pooling with dilation: Keras's pools take none (NotImplementedError).
    batch_norm_backward returns dx_hat, dvar, dmean = None: autograd gives dx, dγ, dβ only.

Sources: keras/src/activations/activations.py, keras/src/losses/losses.py and loss.py,
keras/src/optimizers/*.py and keras/src/backend/torch/optimizers/*.py,
keras/src/optimizers/schedules/learning_rate_schedule.py, keras/src/layers/normalization/
batch_normalization.py and group_normalization.py, keras/src/layers/regularization/dropout.py,
keras/src/backend/torch/nn.py, keras/src/initializers/random_initializers.py (Keras 3.15).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from nnconform.checks.targets import BatchNormGrads, BatchNormOutput, Target, TargetError, offered

# Keras fixes its backend when it is first imported: torch, unless the user chose another
os.environ.setdefault("KERAS_BACKEND", "torch")
_ALREADY_IMPORTED = "keras" in sys.modules

import keras  # noqa: E402
import torch  # noqa: E402

__all__ = ["KerasFunctions", "make_target"]


def _torch_backend() -> None:
    """Raise TargetError unless keras runs on its torch backend in this process."""
    backend = keras.backend.backend()
    if backend != "torch":
        how = (
            "keras was already imported with it"
            if _ALREADY_IMPORTED
            else f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND')!r}"
        )
        raise TargetError(
            f"the keras target needs Keras's torch backend, but this process's Keras uses "
            f"{backend!r} ({how}); run it in a process with KERAS_BACKEND=torch (or unset)"
        )


# --- conversions at the boundary --------------------------------------------------------


def _np(t: Any) -> Any:
    """A tensor (or keras.Variable) as numpy in its own dtype, a copy; a 0-d result as a numpy
    scalar, as the reference's scalars are."""
    if t is None:
        return None
    if isinstance(t, keras.Variable):
        t = t.value
    a = np.array(t.detach().cpu().numpy(), copy=True)
    return a[()] if a.ndim == 0 else a


def _float_array(x: Any) -> np.ndarray:
    """numpy (or a number) as a float array, dtype kept (non-float → float64)."""
    a = np.asarray(x)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def _dtype(t: torch.Tensor) -> np.dtype:
    """A torch tensor's dtype as numpy's (torch.float64 → float64)."""
    return np.dtype(str(t.dtype).removeprefix("torch."))


def _t(x: Any, dtype: Any = None, *, grad: bool = False) -> torch.Tensor:
    """numpy → a torch tensor (a copy), dtype kept or ``dtype`` when given (a conversion)."""
    a = _float_array(x)
    if dtype is not None:
        a = a.astype(dtype)
    return torch.tensor(a).requires_grad_(grad)


@contextlib.contextmanager
def _floatx(dtype: Any) -> Iterator[str]:
    """Keras's default float type set to ``dtype`` for one call, and restored after."""
    name = np.dtype(dtype).name
    before = keras.config.floatx()
    keras.config.set_floatx(name)
    try:
        yield name
    finally:
        keras.config.set_floatx(before)


def _pair(value: Any) -> tuple[int, int]:
    """An int or a (rows, columns) pair, as a pair."""
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        return int(value[0]), int(value[1])
    return int(value), int(value)


# a mode keyword keras lacks: TypeError
_offered = functools.partial(offered, "keras")


def _same_padding(padding, kernel, stride) -> str:
    """avg_pool's padding as Keras's "valid" or "same", where it is one: its padded entries'
    share of the divisor is Keras's own (measured), so no padding is made here."""
    padding, kernel, stride = (_pair(v) for v in (padding, kernel, stride))
    if padding == (0, 0):
        return "valid"
    # "same" at stride 1 pads k − 1 in all, split evenly when that is even
    if stride == (1, 1) and all((k - 1) % 2 == 0 and p == (k - 1) // 2
                                for k, p in zip(kernel, padding, strict=True)):  # fmt: skip
        return "same"
    raise NotImplementedError(
        f"keras's average_pool takes padding='valid' or 'same' only; padding={padding} with "
        f"kernel {kernel} and stride {stride} is neither"
    )


def _padded(x: Any, padding, fill: float) -> Any:
    """x (N, C, H, W) padded on H and W with ``fill`` by keras.ops.pad (a layout: the value
    the operation's definition pads with, 0 for a convolution, −∞ for a max pool), for
    Keras's padding="valid" operations, which take no explicit padding."""
    ph, pw = _pair(padding)
    if (ph, pw) == (0, 0):
        return x
    return keras.ops.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)


class _Graph(NamedTuple):
    """A forward's output and the leaves its backward differentiates with respect to."""

    out: torch.Tensor
    leaves: tuple[torch.Tensor, ...]


def _vjp(graph: _Graph, dy: Any) -> list[torch.Tensor]:
    """Jᵀ·dy for each leaf, by torch.autograd (dy in the output's dtype: a conversion)."""
    out, leaves = graph
    dy = _t(dy, _dtype(out))
    if dy.shape != out.shape:
        dy = dy.reshape(out.shape)  # a scalar loss's dy given as () or (1,)
    return list(torch.autograd.grad(out, leaves, dy, retain_graph=True, allow_unused=True))


@dataclass(frozen=True)
class OptimizerState:
    """Opaque optimiser state: which optimiser and mode, and copies of the Keras optimiser's
    variables after the last step (its iteration count and slot variables, by name; None
    before the first). Copies, so that stepping twice from one state (as a check may, with g
    and −g) gives two independent results, as the reference's pure functions do."""

    name: str
    mode: str | None
    saved: dict[str, np.ndarray] | None


# --- activations --------------------------------------------------------------------------

_A = keras.activations


def _softmax(t, *, axis: int):
    """keras.activations.softmax, without its UserWarning for an axis of size 1: the checks
    draw such axes on purpose (softmax is 1 there, which the oracle gives too)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "You are using a softmax over axis", UserWarning)
        return _A.softmax(t, axis=axis)


# name -> f(x, **hyper): the keras.activations function, the reference's keywords renamed
_ACTIVATIONS: dict[str, Callable[..., Any]] = {
    "sigmoid": _A.sigmoid,
    "tanh": _A.tanh,
    "relu": _A.relu,
    "leaky_relu": lambda x, alpha: _A.leaky_relu(x, negative_slope=alpha),
    "elu": lambda x, alpha: _A.elu(x, alpha=alpha),
    "relu6": _A.relu6,
    "selu": _A.selu,
    "softplus": _A.softplus,
}

# mlp's activation names → keras.activations at the reference's default hyper-parameters
# (leaky_relu's slope 0.01, as the reference's leaky_relu; Keras's own default is 0.2)
_MLP_ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "relu": _A.relu, "tanh": _A.tanh, "sigmoid": _A.sigmoid,
    "leaky_relu": lambda x: _A.leaky_relu(x, negative_slope=0.01), "elu": _A.elu,
    "relu6": _A.relu6, "selu": _A.selu, "gelu": _A.gelu, "softplus": _A.softplus,
}  # fmt: skip


# --- optimisers: keras.optimizers classes -----------------------------------------------------

_O = keras.optimizers


def _no_decay(wd: float) -> float | None:
    """Keras's "no weight decay" is None (its default); 0 is the same optimiser."""
    return None if float(wd) == 0.0 else float(wd)


# (name, mode) -> a factory of the Keras optimiser from the reference's hyper-parameters
_OPTIMIZERS: dict[tuple[str, str | None], Callable[..., Any]] = {
    ("sgd", None): lambda lr, weight_decay: _O.SGD(lr, weight_decay=_no_decay(weight_decay)),
    ("momentum", None): lambda lr, alpha: _O.SGD(lr, momentum=alpha),
    ("nesterov", None): lambda lr, alpha: _O.SGD(lr, momentum=alpha, nesterov=True),
    # the accumulator starts at the reference's r₀ = 0 (Keras's default is 0.1)
    ("adagrad", None): lambda lr, eps: _O.Adagrad(lr, initial_accumulator_value=0.0, epsilon=eps),
    ("rmsprop", None): lambda lr, rho, eps: _O.RMSprop(lr, rho=rho, epsilon=eps),
    ("adam", None): lambda lr, beta1, beta2, eps, weight_decay: _O.Adam(
        lr, beta_1=beta1, beta_2=beta2, epsilon=eps, weight_decay=_no_decay(weight_decay)
    ),
    ("adam", "decoupled"): lambda lr, beta1, beta2, eps, weight_decay: _O.AdamW(
        lr, beta_1=beta1, beta_2=beta2, epsilon=eps, weight_decay=weight_decay
    ),
}


class KerasFunctions:
    """The functions of the Keras target (CPU: the torch backend's default device here)."""

    # --- helpers ------------------------------------------------------------------------

    def _unary(self, f: Callable[[Any], Any], x) -> np.ndarray:
        x = _t(x)
        with _floatx(_dtype(x)):
            return _np(f(x))

    def _unary_backward(self, f: Callable[[Any], Any], x, dy) -> np.ndarray:
        x = _t(x, grad=True)
        with _floatx(_dtype(x)):
            return _np(_vjp(_Graph(f(x), (x,)), dy)[0])

    def _activation(self, name: str, x, dy=None, **hyper) -> np.ndarray:
        f = _ACTIVATIONS[name]
        g = (lambda t: f(t, **hyper)) if hyper else f
        return self._unary(g, x) if dy is None else self._unary_backward(g, x, dy)

    # --- activations --------------------------------------------------------------------

    def sigmoid(self, x):
        return self._activation("sigmoid", x)

    def sigmoid_backward(self, x, dy):
        return self._activation("sigmoid", x, dy)

    def tanh(self, x):
        return self._activation("tanh", x)

    def tanh_backward(self, x, dy):
        return self._activation("tanh", x, dy)

    def relu(self, x):
        return self._activation("relu", x)

    def relu_backward(self, x, dy):
        return self._activation("relu", x, dy)

    def leaky_relu(self, x, *, alpha=0.01):
        return self._activation("leaky_relu", x, alpha=alpha)

    def leaky_relu_backward(self, x, dy, *, alpha=0.01):
        return self._activation("leaky_relu", x, dy, alpha=alpha)

    def _prelu(self, x, a) -> tuple[_Graph, tuple[int, ...]]:
        """keras.layers.PReLU with its alpha set to a: one slope shared over every axis but
        the batch (a of size 1), or one per channel of axis 1, shared over the others
        (shared_axes counts the batch axis as 0)."""
        x = _t(x, grad=True)
        dtype, a_shape = _dtype(x), np.shape(a)
        slope = _float_array(a).astype(dtype)
        if x.ndim < 1 or (slope.size != 1 and x.ndim < 2):
            raise ValueError(f"a of shape {a_shape} does not fit x of shape {tuple(x.shape)}")
        shared = list(range(1 if slope.size == 1 else 2, x.ndim))
        with _floatx(dtype) as name:
            layer = keras.layers.PReLU(shared_axes=shared or None, dtype=name)
            layer.build(tuple(x.shape))
            layer.alpha.assign(slope.reshape(tuple(layer.alpha.shape)))  # a reshape only
            return _Graph(layer(x), (x, layer.alpha.value)), a_shape

    def prelu(self, x, a):
        return _np(self._prelu(x, a)[0].out)

    def prelu_backward(self, x, a, dy):
        graph, a_shape = self._prelu(x, a)
        dx, da = _vjp(graph, dy)
        return _np(dx), _np(da.reshape(a_shape))

    def elu(self, x, *, alpha=1.0):
        return self._activation("elu", x, alpha=alpha)

    def elu_backward(self, x, dy, *, alpha=1.0):
        return self._activation("elu", x, dy, alpha=alpha)

    def relu6(self, x):
        return self._activation("relu6", x)

    def relu6_backward(self, x, dy):
        return self._activation("relu6", x, dy)

    def selu(self, x):
        return self._activation("selu", x)

    def selu_backward(self, x, dy):
        return self._activation("selu", x, dy)

    # GELU's documented variants as keras.activations.gelu's ``approximate`` (a mapping, no
    # arithmetic); None, the keyword left out, is Keras's own default (approximate=False)
    _GELU: ClassVar[dict[str | None, dict[str, bool]]] = {
        None: {},
        "erf": {"approximate": False},
        "tanh": {"approximate": True},
    }

    def _gelu(self, variant: str | None) -> Callable[[Any], Any]:
        _offered("gelu", "variant", variant, ["erf", "tanh"])
        return lambda t: _A.gelu(t, **self._GELU[variant])

    def gelu(self, x, *, variant=None):
        return self._unary(self._gelu(variant), x)

    def gelu_backward(self, x, dy, *, variant=None):
        return self._unary_backward(self._gelu(variant), x, dy)

    def softplus(self, x):
        return self._activation("softplus", x)

    def softplus_backward(self, x, dy):
        return self._activation("softplus", x, dy)

    def softmax(self, z, *, axis=-1):
        return self._unary(functools.partial(_softmax, axis=int(axis)), z)

    def softmax_backward(self, z, dy, *, axis=-1):
        return self._unary_backward(functools.partial(_softmax, axis=int(axis)), z, dy)

    def log_softmax(self, z, *, axis=-1):
        return self._unary(lambda t: _A.log_softmax(t, axis=int(axis)), z)

    def log_softmax_backward(self, z, dy, *, axis=-1):
        return self._unary_backward(lambda t: _A.log_softmax(t, axis=int(axis)), z, dy)

    # --- losses: keras.losses classes, per-element terms via a trailing axis ---------------

    # the reference's reduction modes → Keras's ``reduction`` (None is Keras's "no reduction")
    _REDUCTIONS: ClassVar[dict[str | None, dict[str, Any]]] = {
        None: {},
        "mean": {"reduction": "sum_over_batch_size"},
        "sum": {"reduction": "sum"},
        "none": {"reduction": None},
    }

    def _loss(self, make: Callable[..., Any], mode: str | None, y_hat, y, dy=None):
        """The Keras loss ``make(dtype=..., **reduction)`` of (y, ŷ), each with a trailing axis
        of size 1 (Keras's loss is the mean over the last axis: here of one element), or its
        vector-Jacobian product with dy."""
        y_hat = _t(y_hat, grad=dy is not None)
        dtype = _dtype(y_hat)
        with _floatx(dtype) as name:
            loss = make(dtype=name, **self._REDUCTIONS[mode])
            out = loss(_t(y, dtype)[..., None], y_hat[..., None])
            if mode == "none":
                out = out.reshape(y_hat.shape)  # the trailing axis off again
            if dy is None:
                return _np(out)
            return _np(_vjp(_Graph(out, (y_hat,)), dy)[0])

    @staticmethod
    def _mse_mode(variant, reduction) -> str | None:
        _offered("mse", "variant", variant, ["mean", "sum"])
        _offered("mse", "reduction", reduction, ["none"])
        return reduction or variant

    def mse(self, y_hat, y, *, variant=None, reduction=None):
        mode = self._mse_mode(variant, reduction)
        return self._loss(keras.losses.MeanSquaredError, mode, y_hat, y)

    def mse_backward(self, y_hat, y, dy=1.0, *, variant=None, reduction=None):
        mode = self._mse_mode(variant, reduction)
        return self._loss(keras.losses.MeanSquaredError, mode, y_hat, y, dy)

    def l1(self, y_hat, y, *, reduction=None):
        _offered("l1", "reduction", reduction, ["mean", "sum", "none"])
        return self._loss(keras.losses.MeanAbsoluteError, reduction, y_hat, y)

    def l1_backward(self, y_hat, y, dy=1.0, *, reduction=None):
        _offered("l1", "reduction", reduction, ["mean", "sum", "none"])
        return self._loss(keras.losses.MeanAbsoluteError, reduction, y_hat, y, dy)

    @staticmethod
    def _bce(variant, reduction, *, from_logits: bool) -> Callable[..., Any]:
        if not from_logits:
            # Keras clips p to [ε, 1 − ε] (ε = keras.config.epsilon()): the "clipped" variant
            _offered("binary_cross_entropy", "variant", variant, ["clipped"])
        _offered("binary_cross_entropy", "reduction", reduction, ["mean", "none"])
        return lambda **options: keras.losses.BinaryCrossentropy(from_logits=from_logits, **options)

    def binary_cross_entropy(self, p, y, *, variant=None, reduction=None):
        make = self._bce(variant, reduction, from_logits=False)
        return self._loss(make, reduction, p, y)

    def binary_cross_entropy_backward(self, p, y, dy=1.0, *, variant=None, reduction=None):
        make = self._bce(variant, reduction, from_logits=False)
        return self._loss(make, reduction, p, y, dy)

    def binary_cross_entropy_with_logits(self, z, y, *, reduction=None):
        return self._loss(self._bce(None, reduction, from_logits=True), reduction, z, y)

    def binary_cross_entropy_with_logits_backward(self, z, y, dy=1.0, *, reduction=None):
        return self._loss(self._bce(None, reduction, from_logits=True), reduction, z, y, dy)

    def _cross_entropy(self, z, y, reduction, dy=None):
        """SparseCategoricalCrossentropy(from_logits=True) of integer labels: one term per
        row already (no trailing axis needed)."""
        _offered("cross_entropy", "reduction", reduction, ["mean", "none"])
        z = _t(z, grad=dy is not None)
        labels = torch.tensor(np.asarray(y).astype(np.int64))
        with _floatx(_dtype(z)) as name:
            loss = keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, dtype=name, **self._REDUCTIONS[reduction]
            )
            out = loss(labels, z)
            if dy is None:
                return _np(out)
            return _np(_vjp(_Graph(out, (z,)), dy)[0])

    def cross_entropy(self, z, y, *, reduction=None):
        return self._cross_entropy(z, y, reduction)

    def cross_entropy_backward(self, z, y, dy=1.0, *, reduction=None):
        return self._cross_entropy(z, y, reduction, dy)

    # --- optimisers: keras.optimizers, one step per call ---------------------------------

    def _init(self, name: str, theta) -> OptimizerState:
        _float_array(theta)  # nothing to allocate: Keras builds its slots on the first step
        return OptimizerState(name, None, None)

    def _step(
        self, name: str, theta, g, state, lr, hyper: dict[str, float], mode: str | None = None
    ) -> tuple[np.ndarray, OptimizerState]:
        """One ``apply`` of the Keras optimiser of (name, mode), built on a keras.Variable
        holding θ, its iteration count and slot variables set from ``state``."""
        if not isinstance(state, OptimizerState) or state.name != name:
            raise TypeError(f"state must come from {name}_init, got {state!r}")
        if state.saved is not None and state.mode != mode:
            raise ValueError(f"{name}_step: this state was stepped in mode {state.mode!r}")
        theta = _float_array(theta)
        g = np.asarray(g, dtype=theta.dtype)
        if g.shape != theta.shape:
            raise ValueError(f"g must have theta's shape {theta.shape}, got {g.shape}")
        with _floatx(theta.dtype) as dtype:
            variable = keras.Variable(theta.copy(), dtype=dtype, name="theta")
            optimizer = _OPTIMIZERS[name, mode](float(lr), **hyper)
            optimizer.build([variable])
            for slot in optimizer.variables:
                if state.saved is not None and slot.name in state.saved:
                    slot.assign(state.saved[slot.name])  # the step count and the moments
            optimizer.apply([_t(g)], [variable])
            saved = {
                slot.name: _np(slot) for slot in optimizer.variables
                if slot.name != "learning_rate"  # this step's lr is set when it is built
            }  # fmt: skip
            return _np(variable), OptimizerState(name, mode, saved)

    def sgd_init(self, theta):
        return self._init("sgd", theta)

    def sgd_step(self, theta, g, state, *, lr, weight_decay=0.0):
        return self._step("sgd", theta, g, state, lr, {"weight_decay": weight_decay})

    def gd_init(self, theta):
        return self._init("sgd", theta)

    def gd_step(self, theta, g, state, *, lr, weight_decay=0.0):
        """Full-batch gradient descent is SGD's update with the full gradient."""
        return self._step("sgd", theta, g, state, lr, {"weight_decay": weight_decay})

    def momentum_init(self, theta):
        return self._init("momentum", theta)

    def momentum_step(self, theta, g, state, *, lr, alpha=0.9, variant=None):
        _offered("momentum_step", "variant", variant, ["classic"])
        return self._step("momentum", theta, g, state, lr, {"alpha": alpha})

    def nesterov_init(self, theta):
        return self._init("nesterov", theta)

    def nesterov_step(self, theta, g, state, *, lr, alpha=0.9):
        """theta is Keras's variable (the reference's look-ahead point θ̃ = θ + αv) and g the
        gradient there: SGD(nesterov=True) keeps no separate θ."""
        return self._step("nesterov", theta, g, state, lr, {"alpha": alpha})

    def adagrad_init(self, theta):
        return self._init("adagrad", theta)

    def adagrad_step(self, theta, g, state, *, lr, eps=1e-7, variant=None):
        _offered("adagrad_step", "variant", variant, ["eps_inside"])
        return self._step("adagrad", theta, g, state, lr, {"eps": eps})

    def rmsprop_init(self, theta):
        return self._init("rmsprop", theta)

    def rmsprop_step(self, theta, g, state, *, lr, rho=0.9, eps=1e-6, variant=None):
        _offered("rmsprop_step", "variant", variant, ["eps_inside"])
        return self._step("rmsprop", theta, g, state, lr, {"rho": rho, "eps": eps})

    def adam_init(self, theta):
        return self._init("adam", theta)

    def adam_step(
        self, theta, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
        weight_decay_mode=None, form=None,
    ):  # fmt: skip
        """weight_decay_mode: None → keras.optimizers.Adam(weight_decay=wd) (decoupled, as
        every Keras optimiser's weight decay); "decoupled" → AdamW; "l2": TypeError. form:
        None or "efficient" (Keras's Adam); "algorithm_1": TypeError."""
        _offered("adam_step", "weight_decay_mode", weight_decay_mode, ["decoupled"])
        _offered("adam_step", "form", form, ["efficient"])
        hyper = {"beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": weight_decay}
        return self._step("adam", theta, g, state, lr, hyper, weight_decay_mode)

    # --- schedules: keras.optimizers.schedules, at Keras's step t − 1 ---------------------

    @staticmethod
    def _evaluate(schedule: Callable[[Any], Any], t) -> float | np.ndarray:
        """The schedule at each of the reference's steps t ≥ 1, i.e. at Keras's iterations
        t − 1, in float64 (Keras computes a schedule in its initial rate's dtype, floatx for a
        Python float)."""
        steps = np.asarray(t)
        if steps.dtype == np.bool_ or not np.issubdtype(steps.dtype, np.number):
            raise TypeError(f"t must hold integer step counts, got {t!r}")
        if steps.size and (np.any(steps != np.round(steps)) or steps.min() < 1):
            raise ValueError(f"t must hold whole step counts >= 1, got {t!r}")
        counts = steps.astype(np.int64).reshape(-1) - 1  # Keras's iterations: t − 1
        with _floatx(np.float64):
            values = [float(_np(schedule(torch.tensor(int(c))))) for c in counts]
        out = np.asarray(values, dtype=np.float64).reshape(steps.shape)
        return float(out) if out.ndim == 0 else out

    def decay(self, t, *, lr, gamma, step_size=None, kind=None):
        """ExponentialDecay (kind "step": staircase=True every step_size; "exponential": every
        step; "continuous" and None: its default staircase=False over step_size, or 1 when
        None is given none) or InverseTimeDecay (kind "inverse_time", every step)."""
        _offered("decay", "kind", kind, ["step", "exponential", "inverse_time", "continuous"])
        if kind in ("step", "continuous") and step_size is None:
            raise ValueError(f"step_size must be given for kind={kind!r} (decay_steps)")
        S = keras.optimizers.schedules
        if kind == "inverse_time":
            schedule = S.InverseTimeDecay(float(lr), decay_steps=1, decay_rate=float(gamma))
        else:
            steps = 1 if kind == "exponential" or step_size is None else int(step_size)
            schedule = S.ExponentialDecay(
                float(lr), decay_steps=steps, decay_rate=float(gamma),
                **({"staircase": True} if kind == "step" else {}),
            )  # fmt: skip
        return self._evaluate(schedule, t)

    def warmup(self, t, *, lr, warmup, then=None, total=None, counting=None):
        """CosineDecay from initial_learning_rate 0 (the reference's warm-up starts at 0),
        warming up to warmup_target=lr over ``warmup`` steps, then a cosine to 0 over the
        decay_steps = total − warmup that follow (Keras counts the decay phase only)."""
        _offered("warmup", "then", then, ["cosine"])
        _offered("warmup", "counting", counting, ["from_zero"])
        if total is None:
            raise NotImplementedError(
                "Keras's CosineDecay needs the decay's length (decay_steps); got total=None"
            )
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=int(total) - int(warmup), warmup_target=float(lr),
            warmup_steps=int(warmup),
        )  # fmt: skip
        return self._evaluate(schedule, t)

    # --- normalisation ------------------------------------------------------------------

    def batch_norm(
        self, x, gamma, beta, running_mean, running_var, *, training=True, momentum=0.9,
        eps=1e-5, running_var_estimator=None,
    ):  # fmt: skip
        """keras.layers.BatchNormalization(axis=1) with γ, β and the moving statistics set.
        running_var_estimator: None (Keras's) or "biased", what Keras does."""
        _offered("batch_norm", "running_var_estimator", running_var_estimator, ["biased"])
        x = _t(x, grad=True)
        dtype = _dtype(x)
        with _floatx(dtype) as name:
            layer = keras.layers.BatchNormalization(
                axis=1, momentum=float(momentum), epsilon=float(eps), dtype=name
            )
            layer.build(tuple(x.shape))
            for weight, value in zip(
                (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance),
                (gamma, beta, running_mean, running_var),
                strict=True,
            ):
                weight.assign(_float_array(value).astype(dtype))
            y = layer(x, training=bool(training))
            cache = _Graph(y, (x, layer.gamma.value, layer.beta.value))
            return BatchNormOutput(
                _np(y), cache, _np(layer.moving_mean), _np(layer.moving_variance)
            )

    def batch_norm_backward(self, dy, cache):
        if not isinstance(cache, _Graph):
            raise TypeError(f"cache must come from this target's batch_norm, got {cache!r}")
        dx, dgamma, dbeta = _vjp(cache, dy)
        return BatchNormGrads(None, None, None, _np(dx), _np(dgamma), _np(dbeta))

    def _group_norm(self, x, gamma, beta, num_groups, eps) -> _Graph:
        x = _t(x, grad=True)
        dtype = _dtype(x)
        with _floatx(dtype) as name:
            layer = keras.layers.GroupNormalization(
                groups=int(num_groups), axis=1, epsilon=float(eps), dtype=name
            )
            layer.build(tuple(x.shape))
            layer.gamma.assign(_float_array(gamma).astype(dtype))
            layer.beta.assign(_float_array(beta).astype(dtype))
            return _Graph(layer(x), (x, layer.gamma.value, layer.beta.value))

    def group_norm(self, x, gamma, beta, *, num_groups, eps=1e-5):
        return _np(self._group_norm(x, gamma, beta, num_groups, eps).out)

    def group_norm_backward(self, x, gamma, beta, dy, *, num_groups, eps=1e-5):
        return tuple(_np(d) for d in _vjp(self._group_norm(x, gamma, beta, num_groups, eps), dy))

    # --- regularisation -----------------------------------------------------------------

    def dropout_sample(self, x, *, p, rng, training=True, variant=None):
        """keras.layers.Dropout with rate = 1 − p (the reference's p is the keep probability),
        seeded from ``rng``. Keras's Dropout is inverted dropout: ``variant`` None (Keras's
        own) or "inverted"."""
        _offered("dropout_sample", "variant", variant, ["inverted"])
        x = _t(x)
        with _floatx(_dtype(x)) as name:
            layer = keras.layers.Dropout(
                rate=1.0 - float(p), seed=int(rng.integers(2**31)), dtype=name
            )
            return _np(layer(x, training=bool(training)))

    # --- layers -------------------------------------------------------------------------

    def _dense(self, x: torch.Tensor, W, b, activation=None) -> tuple[Any, tuple]:
        """keras.layers.Dense with the reference's W (out, in) as its kernel (in, out)."""
        dtype = _dtype(x)
        W = _float_array(W).astype(dtype)
        layer = keras.layers.Dense(
            W.shape[0], use_bias=b is not None, activation=activation, dtype=dtype.name
        )
        layer.build((None, W.shape[1]))
        layer.kernel.assign(W.T)
        leaves = (layer.kernel.value,)
        if b is not None:
            layer.bias.assign(_float_array(b).astype(dtype))
            leaves += (layer.bias.value,)
        return layer(x), leaves

    def _linear(self, x, W, b) -> _Graph:
        x = _t(x, grad=True)
        with _floatx(_dtype(x)):
            out, leaves = self._dense(x, W, b)
            return _Graph(out, (x, *leaves))

    def linear(self, x, W, b=None):
        return _np(self._linear(x, W, b).out)

    def linear_backward(self, x, W, b, dz):
        dx, dkernel, *db = _vjp(self._linear(x, W, b), dz)
        return _np(dx), _np(dkernel.T), _np(db[0]) if db else None

    def _mlp(self, x, params, activation: str) -> _Graph:
        sigma = _MLP_ACTIVATIONS[activation]
        a = x = _t(x, grad=True)
        leaves: list[torch.Tensor] = [x]
        with _floatx(_dtype(x)):
            for i, (W, b) in enumerate(params):
                a, layer_leaves = self._dense(a, W, b, sigma if i < len(params) - 1 else None)
                leaves += layer_leaves
            return _Graph(a, tuple(leaves))

    def mlp(self, x, params, *, activation="relu"):
        return _np(self._mlp(x, params, activation).out)

    def mlp_backward(self, x, params, dy, *, activation="relu"):
        dx, *rest = _vjp(self._mlp(x, params, activation), dy)
        return _np(dx), [(_np(rest[i].T), _np(rest[i + 1])) for i in range(0, len(rest), 2)]

    def _conv2d(self, x, w, b, stride, padding, dilation) -> _Graph:
        x = _t(x, grad=True)
        dtype = _dtype(x)
        w = _float_array(w).astype(dtype)
        if max(_pair(stride)) > 1 and max(_pair(dilation)) > 1:
            raise NotImplementedError(
                f"keras's Conv2D takes no stride > 1 with a dilation > 1 (stride={stride!r}, "
                f"dilation={dilation!r})"
            )
        with _floatx(dtype) as name:
            layer = keras.layers.Conv2D(
                w.shape[0], kernel_size=w.shape[2:], strides=_pair(stride), padding="valid",
                data_format="channels_first", dilation_rate=_pair(dilation),
                use_bias=b is not None, dtype=name,
            )  # fmt: skip
            inputs = _padded(x, padding, 0.0)
            layer.build(tuple(inputs.shape))
            layer.kernel.assign(np.transpose(w, (2, 3, 1, 0)))  # OIHW → (kH, kW, I, O)
            leaves = (x, layer.kernel.value)
            if b is not None:
                layer.bias.assign(_float_array(b).astype(dtype))
                leaves += (layer.bias.value,)
            return _Graph(layer(inputs), leaves)

    def conv2d(self, x, w, b=None, *, stride=1, padding=0, dilation=1):
        return _np(self._conv2d(x, w, b, stride, padding, dilation).out)

    def conv2d_backward(self, x, w, b, dy, *, stride=1, padding=0, dilation=1):
        dx, dkernel, *db = _vjp(self._conv2d(x, w, b, stride, padding, dilation), dy)
        dw = dkernel.permute(3, 2, 0, 1)  # (kH, kW, I, O) → OIHW
        return _np(dx), _np(dw), _np(db[0]) if db else None

    def _pool(self, op: str, x, kernel_size, stride, padding, dilation=1) -> _Graph:
        if _pair(dilation) != (1, 1):
            raise NotImplementedError(f"keras's pools take no dilation, got {dilation!r}")
        kernel = _pair(kernel_size)
        strides = kernel if stride is None else _pair(stride)
        x = _t(x, grad=True)
        with _floatx(_dtype(x)):
            if op == "max_pool":  # padded with −∞, which no window's maximum can be
                inputs, mode = _padded(x, padding, -np.inf), "valid"
            else:
                inputs, mode = x, _same_padding(padding, kernel, strides)
            pool = getattr(keras.ops, op)
            out = pool(inputs, kernel, strides=strides, padding=mode, data_format="channels_first")
            return _Graph(out, (x,))

    def max_pool(self, x, *, kernel_size, stride=None, padding=0, dilation=1, ties=None):
        _offered("max_pool", "ties", ties, ["first"])
        return _np(self._pool("max_pool", x, kernel_size, stride, padding, dilation).out)

    def max_pool_backward(
        self, x, dy, *, kernel_size, stride=None, padding=0, dilation=1, ties=None
    ):
        _offered("max_pool_backward", "ties", ties, ["first"])
        return _np(_vjp(self._pool("max_pool", x, kernel_size, stride, padding, dilation), dy)[0])

    def avg_pool(self, x, *, kernel_size, stride=None, padding=0, divisor=None):
        _offered("avg_pool", "divisor", divisor, ["real"])
        return _np(self._pool("average_pool", x, kernel_size, stride, padding).out)

    def avg_pool_backward(self, x, dy, *, kernel_size, stride=None, padding=0, divisor=None):
        _offered("avg_pool_backward", "divisor", divisor, ["real"])
        return _np(_vjp(self._pool("average_pool", x, kernel_size, stride, padding), dy)[0])

    # --- initialisation -----------------------------------------------------------------

    # GlorotNormal is VarianceScaling(1, "fan_avg", "truncated_normal") and HeNormal
    # VarianceScaling(2, "fan_in", "truncated_normal") (initializers/random_initializers.py):
    # the plain normal is the same VarianceScaling with Keras's "untruncated_normal"
    _INITIALIZERS: ClassVar[dict[tuple[str, str | None], Any]] = {
        ("glorot", None): keras.initializers.GlorotNormal,
        ("glorot", "truncated_normal"): keras.initializers.GlorotNormal,
        ("glorot", "normal"): functools.partial(
            keras.initializers.VarianceScaling, 1.0, "fan_avg", "untruncated_normal"
        ),
        ("glorot", "uniform"): keras.initializers.GlorotUniform,
        ("he", None): keras.initializers.HeNormal,
        ("he", "truncated_normal"): keras.initializers.HeNormal,
        ("he", "normal"): functools.partial(
            keras.initializers.VarianceScaling, 2.0, "fan_in", "untruncated_normal"
        ),
        ("he", "uniform"): keras.initializers.HeUniform,
    }

    def _init_weights(self, family, fan_in, fan_out, rng, distribution, shape):
        _offered(f"{family}_init", "distribution", distribution,
                 ["normal", "uniform", "truncated_normal"])  # fmt: skip
        shape = (int(fan_out), int(fan_in)) if shape is None else tuple(int(s) for s in shape)
        if len(shape) < 2:
            raise NotImplementedError(f"keras's initialisers need a shape of 2+ axes, got {shape}")
        # Keras's kernel layout: (in, out) or (*receptive field, in, out); its fans from that
        keras_shape = (*shape[2:], shape[1], shape[0])
        receptive = int(np.prod(shape[2:]))
        if (shape[1] * receptive, shape[0] * receptive) != (int(fan_in), int(fan_out)):
            raise NotImplementedError(
                f"keras derives fan_in, fan_out = {shape[1] * receptive}, "
                f"{shape[0] * receptive} from the shape {shape}, not the given {fan_in}, "
                f"{fan_out}"
            )
        init = self._INITIALIZERS[family, distribution](seed=int(rng.integers(2**31)))
        with _floatx(np.float64):
            kernel = _np(init(keras_shape, dtype="float64"))
        # (*receptive, in, out) → (out, in, *receptive): a transpose
        axes = (kernel.ndim - 1, kernel.ndim - 2, *range(kernel.ndim - 2))
        return np.ascontiguousarray(np.transpose(kernel, axes))

    def glorot_init(self, fan_in, fan_out, rng, *, distribution=None, shape=None):
        return self._init_weights("glorot", fan_in, fan_out, rng, distribution, shape)

    def he_init(self, fan_in, fan_out, rng, *, distribution=None, shape=None):
        return self._init_weights("he", fan_in, fan_out, rng, distribution, shape)


def make_target(*, device: str = "cpu") -> Target:
    """The Keras target (torch backend, CPU). In a pytest-xdist worker, torch's intra-op
    threads are the worker's share of the cores, as for the torch target."""
    _torch_backend()
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    return Target(
        name="keras",
        namespace=KerasFunctions(),
        version=f"keras {keras.__version__} (torch {torch.__version__})",
        dtypes=("float64", "float32"),
        devices=("cpu",),
        device=device,
    )
