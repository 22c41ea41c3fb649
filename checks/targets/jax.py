"""JAX as a target: the reference's functions, computed by jax.nn, jax.numpy, optax and flax.linen.

Each method mirrors a reference function's name and signature (read ``reference/*.py``):
numpy arrays in, JAX arrays on the target's device in the same dtype, numpy arrays out (copies,
never views of a device buffer). Backwards are vector-Jacobian products by ``jax.vjp`` with the
given ``dy``; optimisers are optax aliases stepped once per call; schedules are optax schedules;
layers and normalisations are flax.linen modules applied to the given parameters.

Importing this module turns on 64-bit JAX (``jax.config.update("jax_enable_x64", True)``), so
that float64 arrays stay float64 (JAX computes in float32 otherwise); float32 arrays stay
float32, and Python numbers (hyper-parameters) are weakly typed, taking the array's dtype.

The adapter converts types, devices, argument names, layouts and conventions only: it adds no
arithmetic that changes a result and never chooses a variant. The conventions it maps are
names and layouts, not formulas:

    layouts           NCHW ↔ NHWC for flax.linen's Conv and pooling (transposes); a convolution
                      weight OIHW ↔ HWIO; a linear weight (out, in) ↔ flax Dense's kernel
                      (in, out); the spectral norm's W (out, in) ↔ its kernel (in, out)
    dropout           the reference's p is the KEEP probability; flax's Dropout ``rate`` is the
                      drop one, 1 − p. Its mask comes from a jax PRNGKey seeded from ``rng``
    batch_norm        flax.linen.BatchNorm(axis=1): its ``momentum`` is the reference's p, the
                      weight of the old running value (no conversion); ``training`` is
                      ``use_running_average = not training``
    step counts       optax counts steps from 0 (its schedules take the count of updates done
                      so far, 0 at the first update): the reference's step t is optax's count
                      t − 1, for optimisers and schedules alike
    leaky_relu        alpha → negative_slope;  rmsprop: rho → decay;  momentum, nesterov:
                      alpha → momentum;  adam: beta1, beta2 → b1, b2;  spectral_norm:
                      n_power_iterations → n_steps
    gelu              variant=None|"tanh"|"erf" → jax.nn.gelu(approximate= default|True|False);
                      JAX's default is the tanh form
    weight_decay      the reference's λ is the penalty λ‖W‖²; optax.add_decayed_weights adds
                      wd·θ, the gradient of (wd/2)‖θ‖²: wd = 2λ (the frameworks' convention the
                      reference's docstring states, as dropout's 1 − p is)
    adagrad           optax.adagrad starts its accumulator at 0.1; the adapter passes
                      initial_accumulator_value=0, the reference's r₀ (catalogue note)
    init              glorot_init/he_init draw the reference's (out, in) or (C_out, C_in, kH, kW)
                      layout directly, with in_axis=1, out_axis=0 (jax's fans from the shape)

Documented modes: each mode optax/flax has is an optax alias or a flax option (a mapping, no
arithmetic); the keyword left out (None) is the library's own default; a mode it lacks raises
TypeError, which the checks read as unsupported in that mode:

    adam_step         weight_decay_mode None → optax.adam (it takes no weight decay:
                      NotImplementedError for weight_decay ≠ 0); "l2" → optax.chain(
                      optax.add_decayed_weights(wd), optax.adam(...)), wd·θ added to g before
                      Adam; "decoupled" → optax.adamw(weight_decay=wd), whose −lr·wd·θ is the
                      reference's decoupled decay. optax offers Adam and AdamW as two functions:
                      the mode keyword is how the adapter offers both without choosing one
    momentum_step     variant "lr_outside" (optax.sgd(momentum=α): t ← g + αt, θ ← θ − lr·t);
                      classic, ema: TypeError
    nesterov_step     optax.sgd(momentum=α, nesterov=True) keeps the shifted variable, as
                      PyTorch does: θ here is optax's parameter (the reference's look-ahead
                      point θ + αv) and g the gradient there; no nesterov_lookahead
    adagrad_step      variant "eps_inside" (optax.adagrad: θ ← θ − lr·g/√(r + ε), the
                      catalogue variant being added); root_sum, lee: TypeError
    rmsprop_step      variant "eps_inside" → optax.rmsprop(eps_in_sqrt=True) (its default),
                      "eps_outside" → eps_in_sqrt=False
    decay             kind "step" → optax.exponential_decay(transition_steps=step_size,
                      staircase=True); "exponential" → exponential_decay(transition_steps=1);
                      "continuous" and None → exponential_decay(transition_steps=step_size (None:
                      or 1)) with its default staircase=False, lr·γ^((t − 1)/step_size);
                      inverse_time: TypeError
    warmup            then "cosine" (and None) → optax.warmup_cosine_decay_schedule(init_value=0,
                      peak_value=lr, warmup_steps=warmup, decay_steps=total); inverse_sqrt,
                      linear: TypeError (no optax schedule computes them in one function)
    batch_norm        running_var_estimator "biased" (flax updates the running variance with
                      the batch variance it normalises with); unbiased: TypeError
    max_pool          ties "first": the VJP of lax.reduce_window(max) scatters each window's
                      gradient with select_and_scatter_add under ``ge``
                      (jax/_src/lax/windowed_reductions.py, _reduce_window_chooser_jvp_rule),
                      which keeps the first maximum of the scan; split: TypeError
    spectral_norm     variant None|"eps_inside" → flax.linen.SpectralNorm, whose power
                      iteration normalises by a/√(‖a‖² + ε) (flax/linen/normalization.py:244,
                      :1162-1166); max_norm: TypeError
    avg_pool          divisor None|"window" → flax.linen.avg_pool at its default
                      count_include_pad=True, "real" → count_include_pad=False (the divisor a
                      pool of ones, flax/linen/pooling.py:98-106)
    dropout_sample    variant "inverted" (flax Dropout scales kept units by 1/(1 − rate));
                      standard: TypeError
    mse               reduction="none" only (optax's losses are unreduced: the reference's
                      reduction policy), variant "half", "half_per_example" → optax.l2_loss
                      ½(ŷ − y)²; "mean", "sum" → optax.squared_error (ŷ − y)²; the variant
                      left out: NotImplementedError (optax has both, neither is its default);
                      a reduced call: NotImplementedError, with a variant a TypeError
    binary_cross_entropy_with_logits, cross_entropy
                      reduction="none" only → optax.sigmoid_binary_cross_entropy (logits, soft
                      labels), optax.softmax_cross_entropy_with_integer_labels (one term per
                      row); the reduced call: NotImplementedError; reduction="mean": TypeError.
                      Backwards: jax.vjp of the same unreduced function with dy of the terms'
                      shape (with respect to the prediction only)
    init              distribution None|"truncated_normal" → glorot_normal / he_normal, JAX's
                      own: a normal truncated at ±2σ and rescaled to the variance;
                      "normal" → variance_scaling(1 | 2, "fan_avg" | "fan_in", "normal"), the
                      untruncated normal JAX offers by name; "uniform" → glorot_uniform /
                      he_uniform

Defaults are the reference's (the signature is the contract), so a check that leaves a
hyper-parameter out compares the same algorithm. What the library keeps of its own is left as
it is, to be measured: flax's one-pass ("fast") variance in BatchNorm and GroupNorm, jax.nn.
standardize's, and WeightNorm's ε = 1e-12 inside the root.

Not offered (unsupported), for want of a JAX function that computes them as they are, or
because JAX cannot take the input the reference's signature gives it:
    the reduced losses (summing optax's terms would be adapter arithmetic, and for mse it would
    choose the variant), binary_cross_entropy on probabilities (optax's takes logits), l1
    (optax has no absolute error), dropout/dropout_backward with a given mask (flax
    draws its own: see ``dropout_sample``), rmsprop_nesterov, unified, nesterov_lookahead
    (optax stores the look-ahead point), trajectory, noam, ckn, softplus_sum, residual,
    singular value bounding, the penalties, mmd, the evaluation functions; hessian,
    critical_point and the solvers (their gradient functions are numpy functions, which JAX
    cannot trace or differentiate); spectral_norm_backward and spectral_norm with
    n_power_iterations=0 (flax's SpectralNorm always runs its power iteration from the stored
    u, and returns W unnormalised for n_steps < 1, so a given v cannot be held).
    prelu with one slope per channel: flax.linen.PReLU learns one scalar slope
    (NotImplementedError; a size-1 slope is offered). Pooling with dilation: flax's pools take
    none (NotImplementedError). spectral_norm's v: flax keeps only u and σ (None).

Speed: every function is ``jax.jit``-compiled once per (function, static arguments); jit
caches each compiled program per input shape and dtype, and JAX's persistent compilation
cache keeps them between runs (``~/.cache/nnconform/jax``, see ``_persistent_cache``).
Element-wise activations and losses, the optimisers' steps (coordinate-wise: a padded
coordinate has θ = g = 0 and stays 0) and dropout_sample's mask are flattened and padded with
zeros to a power-of-two size (at least 8) and sliced back, so that few sizes are ever
compiled: a layout choice, no arithmetic on any result. Schedules evaluate the padded counts
likewise, and cross_entropy pads its rows (a padded row's term is sliced off). A function's
first call compiles (the gate allows it 5 times the per-call limit). dropout_sample runs
eagerly (flax compares its rate in Python), each operation compiled once per padded size.

What the platform keeps of its own: XLA's CPU backend treats subnormal inputs and results as
0 (denormals-are-zero, flush-to-zero; JAX's "Sharp bits" documents it): at a subnormal input
the activations take their derivative at 0. The adapter does not work around it.

Sources: jax.nn, jax.numpy, jax.lax (JAX 0.10 docs); optax alias.py, transform.py,
schedules/_schedule.py (optax 0.2.8); flax/linen/normalization.py, pooling.py, stochastic.py,
activation.py, linear.py (flax 0.12.8).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import jax
import numpy as np

# 64-bit JAX before any array is made: without it float64 inputs would be computed in float32
jax.config.update("jax_enable_x64", True)

import flax  # noqa: E402
import flax.linen as nn  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from flax import traverse_util  # noqa: E402

from nnconform.checks.targets import BatchNormGrads, BatchNormOutput, Target, offered  # noqa: E402

__all__ = ["JaxFunctions", "make_target"]


# --- conversions at the boundary --------------------------------------------------------


def _np(a: Any) -> Any:
    """A JAX array as numpy in its own dtype (a copy, never a view of a device buffer); a 0-d
    result as a numpy scalar, as the reference's scalars are."""
    if a is None:
        return None
    out = np.array(a, copy=True)
    return out[()] if out.ndim == 0 else out


def _float_array(x: Any) -> np.ndarray:
    """numpy (or a number) as a float array, dtype kept (non-float → float64)."""
    a = np.asarray(x)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def _bucket(n: int) -> int:
    """The padded length of n elements: the next power of two, at least 8."""
    return max(8, 1 << max(n - 1, 0).bit_length())


def _padded(a: np.ndarray, size: int) -> np.ndarray:
    """``a`` flattened and padded with zeros to ``size`` elements (a layout, no arithmetic)."""
    flat = a.reshape(-1)
    return np.concatenate([flat, np.zeros(size - flat.size, dtype=flat.dtype)])


def _pair(value: Any) -> tuple[int, int]:
    """An int or a (rows, columns) pair, as a pair."""
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        return int(value[0]), int(value[1])
    return int(value), int(value)


# a mode keyword jax, optax and flax lack: TypeError
_offered = functools.partial(offered, "jax/optax/flax")


# --- activations: jax.nn, jitted once per (name, hyper-parameters' count) ----------------

# name -> f(x, *hyper): the jax.nn function, the reference's keywords renamed
_ACTIVATIONS: dict[str, Callable[..., jax.Array]] = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "leaky_relu": lambda x, alpha: jax.nn.leaky_relu(x, negative_slope=alpha),
    "elu": lambda x, alpha: jax.nn.elu(x, alpha=alpha),
    "relu6": jax.nn.relu6,
    "selu": jax.nn.selu,
    "gelu": jax.nn.gelu,  # JAX's own default form (approximate=True)
    "gelu_tanh": lambda x: jax.nn.gelu(x, approximate=True),
    "gelu_erf": lambda x: jax.nn.gelu(x, approximate=False),
    "softplus": jax.nn.softplus,
}


@functools.partial(jax.jit, static_argnums=0)
def _activation(name: str, x, *hyper):
    return _ACTIVATIONS[name](x, *hyper)


@functools.partial(jax.jit, static_argnums=0)
def _activation_backward(name: str, x, dy, *hyper):
    _, pull = jax.vjp(lambda x: _ACTIVATIONS[name](x, *hyper), x)
    return pull(dy)[0]


@functools.partial(jax.jit, static_argnames=("name", "axis"))
def _along_axis(z, *, name: str, axis: int):
    return getattr(jax.nn, name)(z, axis=axis)


@functools.partial(jax.jit, static_argnames=("name", "axis"))
def _along_axis_backward(z, dy, *, name: str, axis: int):
    _, pull = jax.vjp(lambda z: getattr(jax.nn, name)(z, axis=axis), z)
    return pull(dy)[0]


def _prelu_apply(x, slope):
    """flax.linen.PReLU with its one scalar slope set to ``slope``."""
    module = nn.PReLU(param_dtype=x.dtype)
    return module.apply({"params": {"negative_slope": slope}}, x)


_prelu = jax.jit(_prelu_apply)


@jax.jit
def _prelu_backward(x, slope, dy):
    _, pull = jax.vjp(_prelu_apply, x, slope)
    return pull(dy)


# --- losses: optax's unreduced losses (the reference's reduction="none") -------------------

# name -> optax's per-element loss f(prediction, target): mse's terms by variant (l2_loss
# ½(ŷ − y)², squared_error (ŷ − y)²) and binary cross-entropy on logits
_ELEMENTWISE_LOSSES: dict[str, Callable[..., jax.Array]] = {
    "l2_loss": optax.l2_loss,
    "squared_error": optax.squared_error,
    "sigmoid_binary_cross_entropy": optax.sigmoid_binary_cross_entropy,
}


@functools.partial(jax.jit, static_argnums=0)
def _elementwise_loss(name: str, y_hat, y):
    return _ELEMENTWISE_LOSSES[name](y_hat, y)


@functools.partial(jax.jit, static_argnums=0)
def _elementwise_loss_backward(name: str, y_hat, y, dy):
    # the target (label) gets no gradient: the VJP with respect to the prediction only
    return jax.vjp(lambda y_hat: _ELEMENTWISE_LOSSES[name](y_hat, y), y_hat)[1](dy)[0]


_cross_entropy = jax.jit(optax.softmax_cross_entropy_with_integer_labels)


@jax.jit
def _cross_entropy_backward(z, labels, dy):
    f = optax.softmax_cross_entropy_with_integer_labels
    return jax.vjp(lambda z: f(z, labels), z)[1](dy)[0]


def _unreduced_only(function: str, reduction: str | None) -> None:
    """optax's losses are unreduced: reduction="none" is offered; a reduced call (the
    keyword left out) is NotImplementedError, a reduction optax lacks a TypeError."""
    if reduction is None:
        raise NotImplementedError(
            f"optax's {function} is unreduced (one term per element or row): call it with "
            "reduction='none'; reducing it would be adapter arithmetic"
        )
    if reduction != "none":
        raise TypeError(f"optax offers no {function}(reduction={reduction!r}), only its terms")


# --- optimisers: optax aliases, wrapped by inject_hyperparams -----------------------------

# (name, mode) -> (factory, static hyper-parameters): a factory takes optax's keyword names;
# inject_hyperparams keeps its numbers (lr among them) in the state, so that each step can set
# them (a schedule changes lr between steps) without a new compilation.
_OPTAX: dict[tuple[str, str | None], Callable[..., optax.GradientTransformation]] = {
    # SGD's weight_decay wd·θ added to g: optax's add_decayed_weights (a renaming)
    ("sgd", None): lambda learning_rate, weight_decay: optax.chain(
        optax.add_decayed_weights(weight_decay), optax.sgd(learning_rate)
    ),
    ("momentum", None): lambda learning_rate, momentum: optax.sgd(learning_rate, momentum),
    ("nesterov", None): lambda learning_rate, momentum: optax.sgd(
        learning_rate, momentum, nesterov=True
    ),
    # the accumulator starts at the reference's r₀ = 0 (optax's default is 0.1)
    ("adagrad", None): lambda learning_rate, eps: optax.adagrad(
        learning_rate, initial_accumulator_value=0.0, eps=eps
    ),
    ("rmsprop", None): lambda learning_rate, decay, eps: optax.rmsprop(
        learning_rate, decay=decay, eps=eps
    ),
    ("rmsprop", "eps_inside"): lambda learning_rate, decay, eps: optax.rmsprop(
        learning_rate, decay=decay, eps=eps, eps_in_sqrt=True
    ),
    ("rmsprop", "eps_outside"): lambda learning_rate, decay, eps: optax.rmsprop(
        learning_rate, decay=decay, eps=eps, eps_in_sqrt=False
    ),
    ("adam", None): lambda learning_rate, b1, b2, eps: optax.adam(learning_rate, b1, b2, eps),
    ("adam", "l2"): lambda learning_rate, b1, b2, eps, weight_decay: optax.chain(
        optax.add_decayed_weights(weight_decay), optax.adam(learning_rate, b1, b2, eps)
    ),
    ("adam", "decoupled"): lambda learning_rate, b1, b2, eps, weight_decay: optax.adamw(
        learning_rate, b1, b2, eps, weight_decay=weight_decay
    ),
}
# a mode that is optax's default alias under another name (no other alias for it)
_SAME_AS_DEFAULT = {
    ("momentum", "lr_outside"),  # optax.sgd(momentum=α): t ← g + αt, θ ← θ − lr·t
    ("adagrad", "eps_inside"),  # optax.adagrad: θ ← θ − lr·g/√(Σg² + ε)
}


@dataclass(frozen=True)
class OptimizerState:
    """Opaque optimiser state: which optimiser and mode, and optax's state after the last step
    (None before the first: optax builds it from the hyper-parameters, which come with the
    step). JAX arrays are immutable, so stepping twice from one state (as a check may, with g
    and −g) gives two independent results, as the reference's pure functions do."""

    name: str
    mode: str | None
    inner: Any


@functools.cache
def _transformation(name: str, mode: str | None, hyper: tuple[str, ...]):
    """The inject_hyperparams-wrapped optax transformation's init and step, jitted, built
    once (eager, optax's init would compile each of its operations per shape)."""
    key = (name, mode) if (name, mode) in _OPTAX else (name, None)
    tx = optax.inject_hyperparams(_OPTAX[key])(**dict.fromkeys(hyper, 0.0))

    @jax.jit
    def step(params, grads, state):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(tx.init), step


# --- schedules: optax, evaluated at optax's count t − 1 -----------------------------------


def _counts(t: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """The reference's steps t ≥ 1 as optax's counts t − 1, flattened and padded to a
    power-of-two length, and the shape to give the values back."""
    steps = np.asarray(t)
    if steps.dtype == np.bool_ or not np.issubdtype(steps.dtype, np.number):
        raise TypeError(f"t must hold integer step counts, got {t!r}")
    if steps.size and (np.any(steps != np.round(steps)) or steps.min() < 1):
        raise ValueError(f"t must hold whole step counts >= 1, got {t!r}")
    # int64, the integers' own type: at optax's int32 count JAX divides in float32, even
    # with x64 on, which would round every value of a schedule to float32
    counts = steps.astype(np.int64).reshape(-1) - 1  # optax counts updates done: t − 1
    return _padded(counts, _bucket(counts.size)), steps.shape


def _evaluate(schedule: Callable[[Any], Any], t: Any) -> float | np.ndarray:
    counts, shape = _counts(t)
    values = np.asarray(jax.vmap(schedule)(jnp.asarray(counts)), dtype=np.float64)
    out = values[: int(np.prod(shape))].reshape(shape).copy()
    return float(out) if out.ndim == 0 else out


# --- normalisation: flax.linen modules on the given parameters -----------------------------


def _batch_norm_apply(x, gamma, beta, running_mean, running_var, momentum, eps, *, training):
    """flax.linen.BatchNorm on axis 1 (the channel axis of (N, C, *spatial)) with γ, β and the
    running statistics given: (y, running_mean, running_var) after the call."""
    module = nn.BatchNorm(
        use_running_average=not training, axis=1, momentum=momentum, epsilon=eps,
        param_dtype=x.dtype,
    )  # fmt: skip
    variables = {
        "params": {"scale": gamma, "bias": beta},
        "batch_stats": {"mean": running_mean, "var": running_var},
    }
    y, updated = module.apply(variables, x, mutable=["batch_stats"])
    return y, updated["batch_stats"]["mean"], updated["batch_stats"]["var"]


_batch_norm = jax.jit(_batch_norm_apply, static_argnames="training")


@functools.partial(jax.jit, static_argnames="training")
def _batch_norm_backward(x, gamma, beta, running_mean, running_var, momentum, eps, dy, *, training):
    def y(x, gamma, beta):
        return _batch_norm_apply(
            x, gamma, beta, running_mean, running_var, momentum, eps, training=training
        )[0]

    return jax.vjp(y, x, gamma, beta)[1](dy)


def _group_norm_apply(x, gamma, beta, eps, *, num_groups):
    """flax.linen.GroupNorm on (N, *spatial, C): x comes as (N, C, *spatial) and goes back."""
    to_last = (0, *range(2, x.ndim), 1)  # NC… → N…C
    back = (0, x.ndim - 1, *range(1, x.ndim - 1))  # N…C → NC…
    module = nn.GroupNorm(num_groups=num_groups, epsilon=eps, param_dtype=x.dtype)
    y = module.apply({"params": {"scale": gamma, "bias": beta}}, jnp.transpose(x, to_last))
    return jnp.transpose(y, back)


_group_norm = jax.jit(_group_norm_apply, static_argnames="num_groups")


@functools.partial(jax.jit, static_argnames="num_groups")
def _group_norm_backward(x, gamma, beta, dy, eps, *, num_groups):
    def y(x, gamma, beta):
        return _group_norm_apply(x, gamma, beta, eps, num_groups=num_groups)

    return jax.vjp(y, x, gamma, beta)[1](dy)


def _feature_normalization_apply(X, eps):
    return jax.nn.standardize(X, axis=0, epsilon=eps)


_feature_normalization = jax.jit(_feature_normalization_apply)


@jax.jit
def _feature_normalization_backward(X, dy, eps):
    return jax.vjp(lambda X: _feature_normalization_apply(X, eps), X)[1](dy)[0]


class _Weight(nn.Module):
    """A module that only holds a parameter ``kernel`` and returns it, for flax's weight
    re-parametrisations (WeightNorm, SpectralNorm), which wrap a module's variables."""

    shape: tuple[int, ...]
    dtype: Any

    @nn.compact
    def __call__(self):
        return self.param("kernel", nn.initializers.zeros, self.shape, self.dtype)


def _leaves(variables: dict) -> dict[tuple[str, ...], Any]:
    return traverse_util.flatten_dict(flax.core.unfreeze(variables))


def _named(variables: dict, suffix: str) -> Any:
    """The one leaf of ``variables`` whose name ends in ``suffix`` (flax names a wrapper's
    variables 'layer_instance/kernel/scale', '…/u', '…/sigma')."""
    (leaf,) = (value for path, value in _leaves(variables).items() if path[-1].endswith(suffix))
    return leaf


def _replaced(variables: dict, values: dict[str, Any]) -> dict:
    """``variables`` with each leaf whose name ends in a key of ``values`` replaced."""
    flat = _leaves(variables)
    for path in flat:
        for suffix, value in values.items():
            if path[-1].endswith(suffix):
                flat[path] = value
    return traverse_util.unflatten_dict(flat)


def _weight_norm_apply(v, g):
    """flax.linen.WeightNorm of a kernel v with scale g: one norm per output row (feature
    axis 0) for a matrix, one of the whole for a vector (feature_axes=None, scalar scale)."""
    module = nn.WeightNorm(
        _Weight(v.shape, v.dtype), feature_axes=0 if v.ndim > 1 else None, param_dtype=v.dtype
    )
    variables = module.init(jax.random.PRNGKey(0))
    return module.apply(_replaced(variables, {"kernel": v, "/scale": g}))


_weight_norm = jax.jit(_weight_norm_apply)


@jax.jit
def _weight_norm_backward(v, g, dw):
    return jax.vjp(_weight_norm_apply, v, g)[1](dw)


@functools.partial(jax.jit, static_argnames="n_steps")
def _spectral_norm(kernel, u, eps, *, n_steps):
    """flax.linen.SpectralNorm of a kernel (in, out) with its stored u (1, out) set: the
    normalised kernel, u and σ after the power iteration (update_stats=True)."""
    module = nn.SpectralNorm(
        _Weight(kernel.shape, kernel.dtype), n_steps=n_steps, epsilon=eps, param_dtype=kernel.dtype
    )
    variables = module.init(jax.random.PRNGKey(0), update_stats=False)
    variables = _replaced(variables, {"kernel": kernel, "/u": u})
    out, updated = module.apply(variables, update_stats=True, mutable=["batch_stats"])
    return out, _named(updated, "/u"), _named(updated, "/sigma")


# --- layers: flax.linen ------------------------------------------------------------------


def _linear_apply(x, kernel, bias):
    module = nn.Dense(kernel.shape[1], use_bias=bias is not None, param_dtype=x.dtype)
    params = {"kernel": kernel} | ({"bias": bias} if bias is not None else {})
    return module.apply({"params": params}, x)


_linear = jax.jit(_linear_apply)


@jax.jit
def _linear_backward(x, kernel, bias, dz):
    if bias is None:
        return (*jax.vjp(lambda x, k: _linear_apply(x, k, None), x, kernel)[1](dz), None)
    return jax.vjp(_linear_apply, x, kernel, bias)[1](dz)


# mlp's activation names → jax.nn at their default keywords (the reference's defaults too)
_MLP_ACTIVATIONS = {
    "relu": jax.nn.relu, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid,
    "leaky_relu": jax.nn.leaky_relu, "elu": jax.nn.elu, "relu6": jax.nn.relu6,
    "selu": jax.nn.selu, "gelu": jax.nn.gelu, "softplus": jax.nn.softplus,
}  # fmt: skip


def _mlp_apply(x, kernels_and_biases, activation):
    sigma = _MLP_ACTIVATIONS[activation]
    a = x
    for i, (kernel, bias) in enumerate(kernels_and_biases):
        a = _linear_apply(a, kernel, bias)
        if i < len(kernels_and_biases) - 1:
            a = sigma(a)
    return a


_mlp = jax.jit(_mlp_apply, static_argnums=2)


@functools.partial(jax.jit, static_argnums=3)
def _mlp_backward(x, kernels_and_biases, dy, activation):
    return jax.vjp(lambda x, p: _mlp_apply(x, p, activation), x, kernels_and_biases)[1](dy)


_NHWC, _NCHW, _HWIO = (0, 2, 3, 1), (0, 3, 1, 2), (2, 3, 1, 0)  # transposes from NCHW / OIHW


def _conv2d_apply(x, w, b, stride, padding, dilation):
    """flax.linen.Conv on NHWC with an HWIO kernel; x (N, C, H, W) and w (O, I, kH, kW) are
    transposed in and the output back (layouts only). flax adds the bias itself."""
    (ph, pw), kernel = padding, jnp.transpose(w, _HWIO)
    module = nn.Conv(
        w.shape[0], kernel_size=w.shape[2:], strides=stride, padding=((ph, ph), (pw, pw)),
        kernel_dilation=dilation, use_bias=b is not None, param_dtype=x.dtype,
    )  # fmt: skip
    params = {"kernel": kernel} | ({"bias": b} if b is not None else {})
    y = module.apply({"params": params}, jnp.transpose(x, _NHWC))
    return jnp.transpose(y, _NCHW)


_conv2d = jax.jit(_conv2d_apply, static_argnums=(3, 4, 5))


@functools.partial(jax.jit, static_argnums=(4, 5, 6))
def _conv2d_backward(x, w, b, dy, stride, padding, dilation):
    if b is None:
        f = lambda x, w: _conv2d_apply(x, w, None, stride, padding, dilation)  # noqa: E731
        return (*jax.vjp(f, x, w)[1](dy), None)
    return jax.vjp(lambda x, w, b: _conv2d_apply(x, w, b, stride, padding, dilation), x, w, b)[1](
        dy
    )


def _pool_apply(x, name, kernel, stride, padding, options=()):
    """flax.linen.max_pool / avg_pool on NHWC (x transposed in and back: layouts only), with
    ``options`` the pool's keywords as (name, value) pairs (hashable, for jit's cache):
    avg_pool's count_include_pad, left out at flax's default True."""
    (ph, pw) = padding
    pool = getattr(nn, name)
    y = pool(
        jnp.transpose(x, _NHWC), kernel, strides=stride, padding=((ph, ph), (pw, pw)),
        **dict(options),
    )  # fmt: skip
    return jnp.transpose(y, _NCHW)


_pool = jax.jit(_pool_apply, static_argnums=(1, 2, 3, 4, 5))


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5, 6))
def _pool_backward(x, dy, name, kernel, stride, padding, options=()):
    return jax.vjp(lambda x: _pool_apply(x, name, kernel, stride, padding, options), x)[1](dy)[0]


# --- the target -----------------------------------------------------------------------------


class _BatchNormCache(NamedTuple):
    """The forward's inputs and options: the backward is jax.vjp of the same flax call."""

    arrays: tuple  # (x, γ, β, running_mean, running_var) on the device
    momentum: float
    eps: float
    training: bool


class SpectralNormOutput(NamedTuple):
    weight: np.ndarray
    u: np.ndarray
    v: None  # flax's SpectralNorm keeps u and σ between calls, not v
    sigma: Any


class JaxFunctions:
    """The functions of the JAX target, bound to one device."""

    def __init__(self, device: str = "cpu"):
        platform = "gpu" if device == "cuda" else device
        self.device = jax.devices(platform)[0]
        self._on_default = self.device == jax.devices()[0]

    def _put(self, a: Any) -> Any:
        """``a`` (numpy, or a JAX array made on the default device) bound for the device. A
        jitted function puts numpy arguments on JAX's default device itself, in C++ (about
        5 µs an array, where jax.device_put takes 70 µs): only another device (cpu where a GPU
        is the default) is put explicitly."""
        return a if self._on_default else jax.device_put(a, self.device)

    # --- helpers ------------------------------------------------------------------------

    def _in(self, x: Any, dtype: Any = None) -> Any:
        """numpy (or a number) → an array bound for the device (``_put``), dtype kept
        (non-float → float64), or ``dtype`` when given (dy in its forward's dtype: a
        conversion)."""
        a = _float_array(x)
        if dtype is not None:
            a = a.astype(dtype)
        return self._put(a)

    def _elementwise(self, name: str, x, dy=None, *hyper) -> np.ndarray:
        """An element-wise jax.nn function (or its VJP with ``dy``) on x flattened and padded
        to a power-of-two length, the padding sliced off again: few sizes to compile."""
        a = _float_array(x)
        size = _bucket(a.size)
        xs = self._put(_padded(a, size))
        hyper = tuple(float(h) for h in hyper)  # weakly typed: they take x's dtype
        if dy is None:
            out = _activation(name, xs, *hyper)
        else:
            d = np.asarray(dy, dtype=a.dtype)
            if d.size != a.size:
                raise ValueError(f"dy must have x's shape {a.shape}, got {d.shape}")
            ds = self._put(_padded(d, size))
            out = _activation_backward(name, xs, ds, *hyper)
        return _np(np.asarray(out)[: a.size].reshape(a.shape))

    # --- activations --------------------------------------------------------------------

    def sigmoid(self, x):
        return self._elementwise("sigmoid", x)

    def sigmoid_backward(self, x, dy):
        return self._elementwise("sigmoid", x, dy)

    def tanh(self, x):
        return self._elementwise("tanh", x)

    def tanh_backward(self, x, dy):
        return self._elementwise("tanh", x, dy)

    def relu(self, x):
        return self._elementwise("relu", x)

    def relu_backward(self, x, dy):
        return self._elementwise("relu", x, dy)

    def leaky_relu(self, x, *, alpha=0.01):
        return self._elementwise("leaky_relu", x, None, alpha)

    def leaky_relu_backward(self, x, dy, *, alpha=0.01):
        return self._elementwise("leaky_relu", x, dy, alpha)

    @staticmethod
    def _slope(a) -> np.ndarray:
        """flax.linen.PReLU learns one scalar slope: a size-1 slope as that scalar (a
        reshape); one slope per channel cannot be given to it."""
        if np.size(a) != 1:
            raise NotImplementedError(
                f"flax.linen.PReLU has one scalar slope, not one per channel (a of shape "
                f"{np.shape(a)})"
            )
        return _float_array(a).reshape(())

    def prelu(self, x, a):
        x = self._in(x)
        return _np(_prelu(x, self._in(self._slope(a), x.dtype)))

    def prelu_backward(self, x, a, dy):
        x = self._in(x)
        dx, da = _prelu_backward(x, self._in(self._slope(a), x.dtype), self._in(dy, x.dtype))
        return _np(dx), _np(np.reshape(np.asarray(da), np.shape(a)))

    def elu(self, x, *, alpha=1.0):
        return self._elementwise("elu", x, None, alpha)

    def elu_backward(self, x, dy, *, alpha=1.0):
        return self._elementwise("elu", x, dy, alpha)

    def relu6(self, x):
        return self._elementwise("relu6", x)

    def relu6_backward(self, x, dy):
        return self._elementwise("relu6", x, dy)

    def selu(self, x):
        return self._elementwise("selu", x)

    def selu_backward(self, x, dy):
        return self._elementwise("selu", x, dy)

    # GELU's documented variants as jax.nn.gelu's ``approximate`` (a mapping, no arithmetic);
    # None, the keyword left out, is JAX's own default form, which the checks measure
    _GELU: ClassVar[dict[str | None, str]] = {None: "gelu", "tanh": "gelu_tanh", "erf": "gelu_erf"}

    def _gelu(self, variant: str | None) -> str:
        _offered("gelu", "variant", variant, list(self._GELU))
        return self._GELU[variant]

    def gelu(self, x, *, variant=None):
        return self._elementwise(self._gelu(variant), x)

    def gelu_backward(self, x, dy, *, variant=None):
        return self._elementwise(self._gelu(variant), x, dy)

    def softplus(self, x):
        return self._elementwise("softplus", x)

    def softplus_backward(self, x, dy):
        return self._elementwise("softplus", x, dy)

    def softmax(self, z, *, axis=-1):
        return _np(_along_axis(self._in(z), name="softmax", axis=int(axis)))

    def softmax_backward(self, z, dy, *, axis=-1):
        z = self._in(z)
        return _np(_along_axis_backward(z, self._in(dy, z.dtype), name="softmax", axis=int(axis)))

    def log_softmax(self, z, *, axis=-1):
        return _np(_along_axis(self._in(z), name="log_softmax", axis=int(axis)))

    def log_softmax_backward(self, z, dy, *, axis=-1):
        z = self._in(z)
        dy = self._in(dy, z.dtype)
        return _np(_along_axis_backward(z, dy, name="log_softmax", axis=int(axis)))

    # --- losses: optax's unreduced losses, reduction="none" only ----------------------------

    # mse's variant names the terms: ½(ŷ − y)² (half, half_per_example) is optax.l2_loss,
    # (ŷ − y)² (mean, sum) optax.squared_error (optax/losses/_regression.py:24-72). optax has
    # no default of the two: the variant left out is NotImplementedError, never a choice
    _MSE_TERMS: ClassVar[dict[str, str]] = {
        "half": "l2_loss", "half_per_example": "l2_loss",
        "mean": "squared_error", "sum": "squared_error",
    }  # fmt: skip

    def _mse_terms(self, variant: str | None, reduction: str | None) -> str:
        if reduction is None and variant is not None:
            raise TypeError(f"optax offers no reduced mse(variant={variant!r}), only its terms")
        _unreduced_only("mse", reduction)
        if variant is None:
            raise NotImplementedError(
                "optax has two unreduced squared losses and no default: l2_loss ½(ŷ − y)² "
                "(variant='half') and squared_error (ŷ − y)² (variant='mean')"
            )
        _offered("mse", "variant", variant, list(self._MSE_TERMS))
        return self._MSE_TERMS[variant]

    def _pointwise_loss(self, name: str, y_hat, y, dy=None) -> np.ndarray:
        """An optax per-element loss (or its VJP with ``dy`` of the terms' shape) on the
        prediction and target flattened and zero-padded to a power-of-two length (the padded
        terms sliced off): few sizes to compile."""
        a = _float_array(y_hat)
        b = np.asarray(y, dtype=a.dtype)  # the target in the prediction's dtype: a conversion
        if b.shape != a.shape:
            raise ValueError(
                f"the target must have the prediction's shape {a.shape}, got {b.shape}"
            )
        size = _bucket(a.size)
        xs, ys = (self._put(_padded(v, size)) for v in (a, b))
        if dy is None:
            out = _elementwise_loss(name, xs, ys)
        else:
            d = np.broadcast_to(np.asarray(dy, dtype=a.dtype), a.shape)
            ds = self._put(_padded(d, size))
            out = _elementwise_loss_backward(name, xs, ys, ds)
        return _np(np.asarray(out)[: a.size].reshape(a.shape))

    def mse(self, y_hat, y, *, variant=None, reduction=None):
        return self._pointwise_loss(self._mse_terms(variant, reduction), y_hat, y)

    def mse_backward(self, y_hat, y, dy=1.0, *, variant=None, reduction=None):
        return self._pointwise_loss(self._mse_terms(variant, reduction), y_hat, y, dy)

    def binary_cross_entropy_with_logits(self, z, y, *, reduction=None):
        """optax.sigmoid_binary_cross_entropy: −y log σ(z) − (1 − y) log σ(−z) per element,
        on logits (optax/losses/_classification.py:78-83). The reference's binary_cross_entropy
        takes probabilities, which optax has no loss for: not offered."""
        _unreduced_only("binary_cross_entropy_with_logits", reduction)
        return self._pointwise_loss("sigmoid_binary_cross_entropy", z, y)

    def binary_cross_entropy_with_logits_backward(self, z, y, dy=1.0, *, reduction=None):
        _unreduced_only("binary_cross_entropy_with_logits", reduction)
        return self._pointwise_loss("sigmoid_binary_cross_entropy", z, y, dy)

    def _logits_and_labels(self, z, y, dy=None):
        """Logits (N, K) and labels (N,) with the rows zero-padded to a power-of-two count (a
        padded row has logits 0 and label 0; its term is sliced off): few shapes to compile."""
        z = _float_array(z)
        labels = np.asarray(y)
        if z.ndim != 2 or labels.shape != z.shape[:1]:
            raise ValueError(f"z must be (N, K) and y (N,), got {z.shape} and {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"y must hold integer class labels, got dtype {labels.dtype}")
        rows = _bucket(z.shape[0])
        padded_z = np.zeros((rows, z.shape[1]), dtype=z.dtype)
        padded_z[: z.shape[0]] = z
        padded_y = np.zeros(rows, dtype=np.int64)
        padded_y[: z.shape[0]] = labels
        arrays = [padded_z, padded_y]
        if dy is not None:
            arrays.append(_padded(np.broadcast_to(np.asarray(dy, dtype=z.dtype), labels.shape),
                                  rows))  # fmt: skip
        return [self._put(a) for a in arrays], z.shape[0]

    def cross_entropy(self, z, y, *, reduction=None):
        """optax.softmax_cross_entropy_with_integer_labels: −log softmax(z_i)_{y_i} per row."""
        _unreduced_only("cross_entropy", reduction)
        arrays, n = self._logits_and_labels(z, y)
        return _np(np.asarray(_cross_entropy(*arrays))[:n])

    def cross_entropy_backward(self, z, y, dy=1.0, *, reduction=None):
        _unreduced_only("cross_entropy", reduction)
        arrays, n = self._logits_and_labels(z, y, dy)
        return _np(np.asarray(_cross_entropy_backward(*arrays))[:n])

    # --- optimisers: optax, one step per call --------------------------------------------

    def _init(self, name: str, theta) -> OptimizerState:
        _float_array(theta)  # nothing to allocate: optax's state is built at the first step
        return OptimizerState(name, None, None)

    def _step(
        self, name: str, theta, g, state, lr, hyper: dict[str, float], mode: str | None = None
    ) -> tuple[np.ndarray, OptimizerState]:
        """One update of the optax alias of (name, mode), with this step's learning rate and
        hyper-parameters set in its injected state (optax's own names)."""
        if not isinstance(state, OptimizerState) or state.name != name:
            raise TypeError(f"state must come from {name}_init, got {state!r}")
        if state.inner is not None and state.mode != mode:
            raise ValueError(
                f"{name}_step: this state was stepped in mode {state.mode!r}, not {mode!r}"
            )
        values = {"learning_rate": lr, **hyper}
        init, step = _transformation(name, mode, tuple(values))
        theta = _float_array(theta)
        g = np.asarray(g, dtype=theta.dtype)
        if g.shape != theta.shape:
            raise ValueError(f"g must have theta's shape {theta.shape}, got {g.shape}")
        # these optimisers act coordinate by coordinate: θ and g flattened and zero-padded to a
        # power-of-two length (a padded coordinate has θ = g = 0 and stays 0), sliced back
        size = _bucket(theta.size)
        params = self._put(_padded(theta, size))
        inner = init(params) if state.inner is None else state.inner
        # this step's hyper-parameters, in the dtype optax keeps them in (the parameters')
        injected = {k: np.asarray(values[k], dtype=v.dtype) for k, v in inner.hyperparams.items()}
        grads = self._put(_padded(g, size))
        params, inner = step(params, grads, inner._replace(hyperparams=injected))
        out = np.asarray(params)[: theta.size].reshape(theta.shape)
        return _np(out), OptimizerState(name, mode, inner)

    def sgd_init(self, theta):
        return self._init("sgd", theta)

    def sgd_step(self, theta, g, state, *, lr, weight_decay=0.0):
        return self._step("sgd", theta, g, state, lr, {"weight_decay": weight_decay})

    def gd_init(self, theta):
        return self._init("sgd", theta)

    def gd_step(self, theta, g, state, *, lr, weight_decay=0.0):
        """Full-batch gradient descent is optax.sgd's update with the full gradient."""
        return self._step("sgd", theta, g, state, lr, {"weight_decay": weight_decay})

    def momentum_init(self, theta):
        return self._init("momentum", theta)

    def momentum_step(self, theta, g, state, *, lr, alpha=0.9, variant=None):
        _offered("momentum_step", "variant", variant, ["lr_outside"])
        return self._step("momentum", theta, g, state, lr, {"momentum": alpha})

    def nesterov_init(self, theta):
        return self._init("nesterov", theta)

    def nesterov_step(self, theta, g, state, *, lr, alpha=0.9):
        """theta is optax's parameter (the reference's look-ahead point θ̃ = θ + αv) and g the
        gradient there: optax.sgd(nesterov=True) keeps no separate θ."""
        return self._step("nesterov", theta, g, state, lr, {"momentum": alpha})

    def adagrad_init(self, theta):
        return self._init("adagrad", theta)

    def adagrad_step(self, theta, g, state, *, lr, eps=1e-7, variant=None):
        _offered("adagrad_step", "variant", variant, ["eps_inside"])
        return self._step("adagrad", theta, g, state, lr, {"eps": eps})

    def rmsprop_init(self, theta):
        return self._init("rmsprop", theta)

    def rmsprop_step(self, theta, g, state, *, lr, rho=0.9, eps=1e-6, variant=None):
        _offered("rmsprop_step", "variant", variant, ["eps_inside", "eps_outside"])
        hyper = {"decay": rho, "eps": eps}
        return self._step("rmsprop", theta, g, state, lr, hyper, variant)

    def adam_init(self, theta):
        return self._init("adam", theta)

    def adam_step(
        self, theta, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
        weight_decay_mode=None,
    ):  # fmt: skip
        """weight_decay_mode: None → optax.adam (no weight decay); "l2" → add_decayed_weights
        then optax.adam; "decoupled" → optax.adamw (both with the same weight_decay)."""
        _offered("adam_step", "weight_decay_mode", weight_decay_mode, ["l2", "decoupled"])
        hyper = {"b1": beta1, "b2": beta2, "eps": eps}
        if weight_decay_mode is not None:
            hyper["weight_decay"] = weight_decay
        elif weight_decay != 0:
            raise NotImplementedError(
                "optax.adam takes no weight decay; optax offers it as add_decayed_weights "
                "before adam (weight_decay_mode='l2') or as adamw ('decoupled')"
            )
        return self._step("adam", theta, g, state, lr, hyper, weight_decay_mode)

    def weight_decay(self, g, theta, *, lam):
        """optax.add_decayed_weights(wd) adds wd·θ: the reference's g + 2λθ at wd = 2λ."""
        g, theta = self._in(g), self._in(theta)
        transform = optax.add_decayed_weights(2.0 * float(lam))
        updates, _ = transform.update(g, transform.init(theta), theta)
        return _np(updates)

    # --- schedules ----------------------------------------------------------------------

    def constant(self, t, *, lr):
        return _evaluate(optax.constant_schedule(float(lr)), t)

    def decay(self, t, *, lr, gamma, step_size=None, kind=None):
        """optax.exponential_decay: kind "step" → staircase=True every step_size counts;
        "exponential" → every count; "continuous" and None → its default staircase=False
        over step_size counts (None: 1 when none is given). inverse_time: optax has none
        (TypeError)."""
        _offered("decay", "kind", kind, ["step", "exponential", "continuous"])
        if kind in ("step", "continuous") and step_size is None:
            raise ValueError(f"step_size must be given for kind={kind!r} (transition_steps)")
        transition = 1 if kind == "exponential" or step_size is None else int(step_size)
        schedule = optax.exponential_decay(
            float(lr), transition_steps=transition, decay_rate=float(gamma),
            **({"staircase": True} if kind == "step" else {}),
        )  # fmt: skip
        return _evaluate(schedule, t)

    def warmup(self, t, *, lr, warmup, then=None, total=None):
        """optax.warmup_cosine_decay_schedule, from init_value 0 (the reference's warm-up
        starts at 0) to peak lr over ``warmup`` counts, then a cosine to 0 at ``total``."""
        _offered("warmup", "then", then, ["cosine"])
        if total is None:
            raise NotImplementedError(
                "optax's warm-up schedules need the total length (decay_steps); got total=None"
            )
        schedule = optax.warmup_cosine_decay_schedule(
            init_value=0.0, peak_value=float(lr), warmup_steps=int(warmup),
            decay_steps=int(total),
        )  # fmt: skip
        return _evaluate(schedule, t)

    # --- normalisation ------------------------------------------------------------------

    def batch_norm(
        self, x, gamma, beta, running_mean, running_var, *, training=True, momentum=0.9,
        eps=1e-5, running_var_estimator=None,
    ):  # fmt: skip
        """running_var_estimator: None (flax's default) or "biased", what flax does."""
        _offered("batch_norm", "running_var_estimator", running_var_estimator, ["biased"])
        x = self._in(x)
        arrays = (x, *(self._in(a, x.dtype) for a in (gamma, beta, running_mean, running_var)))
        momentum, eps, training = float(momentum), float(eps), bool(training)
        y, mean, var = _batch_norm(*arrays, momentum, eps, training=training)
        cache = _BatchNormCache(arrays, momentum, eps, training)
        return BatchNormOutput(_np(y), cache, _np(mean), _np(var))

    def batch_norm_backward(self, dy, cache):
        if not isinstance(cache, _BatchNormCache):
            raise TypeError(f"cache must come from this target's batch_norm, got {cache!r}")
        x = cache.arrays[0]
        dx, dgamma, dbeta = _batch_norm_backward(
            *cache.arrays, cache.momentum, cache.eps, self._in(dy, x.dtype),
            training=cache.training,
        )  # fmt: skip
        return BatchNormGrads(None, None, None, _np(dx), _np(dgamma), _np(dbeta))

    def group_norm(self, x, gamma, beta, *, num_groups, eps=1e-5):
        x = self._in(x)
        gamma, beta = self._in(gamma, x.dtype), self._in(beta, x.dtype)
        return _np(_group_norm(x, gamma, beta, float(eps), num_groups=int(num_groups)))

    def group_norm_backward(self, x, gamma, beta, dy, *, num_groups, eps=1e-5):
        x = self._in(x)
        gamma, beta, dy = (self._in(a, x.dtype) for a in (gamma, beta, dy))
        grads = _group_norm_backward(x, gamma, beta, dy, float(eps), num_groups=int(num_groups))
        return tuple(_np(d) for d in grads)

    def feature_normalization(self, X, *, eps=0.0):
        return _np(_feature_normalization(self._in(X), float(eps)))

    def feature_normalization_backward(self, X, dy, *, eps=0.0):
        X = self._in(X)
        return _np(_feature_normalization_backward(X, self._in(dy, X.dtype), float(eps)))

    def weight_norm(self, v, g):
        v = self._in(v)
        return _np(_weight_norm(v, self._in(g, v.dtype)))

    def weight_norm_backward(self, v, g, dw):
        v = self._in(v)
        dv, dg = _weight_norm_backward(v, self._in(g, v.dtype), self._in(dw, v.dtype))
        return _np(dv), _np(dg)

    def spectral_norm(self, W, u, v=None, *, n_power_iterations=1, eps=1e-12, variant=None):
        """flax.linen.SpectralNorm(n_steps=n_power_iterations) from the given u; v is
        recomputed (the argument is ignored, as the reference ignores it then) and not
        returned: flax keeps u and σ only. flax normalises by a/√(‖a‖² + ε): ``variant``
        None (flax's own) or "eps_inside"."""
        _offered("spectral_norm", "variant", variant, ["eps_inside"])
        if int(n_power_iterations) < 1:
            raise NotImplementedError(
                "flax's SpectralNorm returns W unnormalised for n_steps < 1: it cannot hold a "
                "given u and v"
            )
        W = self._in(W)
        if W.ndim != 2 or np.shape(u) != (W.shape[0],):
            raise ValueError(f"W must be (out, in) and u (out,), got {W.shape} and {np.shape(u)}")
        u = self._in(np.reshape(u, (1, -1)), W.dtype)  # flax's u is (1, out)
        kernel, u_new, sigma = _spectral_norm(W.T, u, float(eps), n_steps=int(n_power_iterations))
        weight = np.asarray(kernel).T  # (in, out) → (out, in)
        return SpectralNormOutput(_np(weight), _np(np.asarray(u_new).reshape(-1)), None,
                                  _np(sigma))  # fmt: skip

    # --- regularisation -----------------------------------------------------------------

    def dropout_sample(self, x, *, p, rng, training=True, variant=None):
        """flax.linen.Dropout with rate = 1 − p (the reference's p is the keep probability),
        its key a jax PRNGKey seeded from ``rng``. flax's Dropout is inverted dropout:
        ``variant`` None (flax's own) or "inverted". Run eagerly: flax compares its rate in
        Python, and eager JAX compiles each operation once per shape, not once per p."""
        _offered("dropout_sample", "variant", variant, ["inverted"])
        a = _float_array(x)
        # flax draws one Bernoulli per element: x flattened and zero-padded to a power-of-two
        # length (the padding's draws are sliced off), so that few shapes are ever compiled
        xs = self._put(_padded(a, _bucket(a.size)))
        key = self._put(jax.random.PRNGKey(int(rng.integers(2**63))))
        module = nn.Dropout(rate=1.0 - float(p), deterministic=not bool(training))
        out = module.apply({}, xs, rngs={"dropout": key})
        return _np(np.asarray(out)[: a.size].reshape(a.shape))

    # --- layers -------------------------------------------------------------------------

    def linear(self, x, W, b=None):
        x = self._in(x)
        bias = None if b is None else self._in(b, x.dtype)
        return _np(_linear(x, self._in(W, x.dtype).T, bias))  # W (out, in) → kernel (in, out)

    def linear_backward(self, x, W, b, dz):
        x = self._in(x)
        bias = None if b is None else self._in(b, x.dtype)
        dx, dkernel, db = _linear_backward(x, self._in(W, x.dtype).T, bias, self._in(dz, x.dtype))
        return _np(dx), _np(np.asarray(dkernel).T), _np(db)

    def mlp(self, x, params, *, activation="relu"):
        x = self._in(x)
        layers = [(self._in(W, x.dtype).T, self._in(b, x.dtype)) for W, b in params]
        return _np(_mlp(x, layers, activation))

    def mlp_backward(self, x, params, dy, *, activation="relu"):
        x = self._in(x)
        layers = [(self._in(W, x.dtype).T, self._in(b, x.dtype)) for W, b in params]
        dx, grads = _mlp_backward(x, layers, self._in(dy, x.dtype), activation)
        return _np(dx), [(_np(np.asarray(dk).T), _np(db)) for dk, db in grads]

    def conv2d(self, x, w, b=None, *, stride=1, padding=0, dilation=1):
        x = self._in(x)
        bias = None if b is None else self._in(b, x.dtype)
        geometry = (_pair(stride), _pair(padding), _pair(dilation))
        return _np(_conv2d(x, self._in(w, x.dtype), bias, *geometry))

    def conv2d_backward(self, x, w, b, dy, *, stride=1, padding=0, dilation=1):
        x = self._in(x)
        bias = None if b is None else self._in(b, x.dtype)
        geometry = (_pair(stride), _pair(padding), _pair(dilation))
        grads = _conv2d_backward(x, self._in(w, x.dtype), bias, self._in(dy, x.dtype), *geometry)
        return tuple(_np(d) for d in grads)

    @staticmethod
    def _pool_geometry(kernel_size, stride, padding, dilation):
        if _pair(dilation) != (1, 1):
            raise NotImplementedError(
                f"flax.linen's pools take no dilation, got dilation={dilation!r}"
            )
        kernel = _pair(kernel_size)
        return kernel, kernel if stride is None else _pair(stride), _pair(padding)

    def max_pool(self, x, *, kernel_size, stride=None, padding=0, dilation=1, ties=None):
        _offered("max_pool", "ties", ties, ["first"])
        geometry = self._pool_geometry(kernel_size, stride, padding, dilation)
        return _np(_pool(self._in(x), "max_pool", *geometry))

    def max_pool_backward(
        self, x, dy, *, kernel_size, stride=None, padding=0, dilation=1, ties=None
    ):
        _offered("max_pool_backward", "ties", ties, ["first"])
        geometry = self._pool_geometry(kernel_size, stride, padding, dilation)
        x = self._in(x)
        return _np(_pool_backward(x, self._in(dy, x.dtype), "max_pool", *geometry))

    # the divisor as flax's count_include_pad (None: its default, True)
    _COUNT_INCLUDE_PAD: ClassVar[dict[str | None, tuple]] = {
        None: (), "window": (("count_include_pad", True),),
        "real": (("count_include_pad", False),),
    }  # fmt: skip

    def _avg_pool_options(self, divisor) -> tuple:
        _offered("avg_pool", "divisor", divisor, list(self._COUNT_INCLUDE_PAD))
        return self._COUNT_INCLUDE_PAD[divisor]

    def avg_pool(self, x, *, kernel_size, stride=None, padding=0, divisor=None):
        options = self._avg_pool_options(divisor)
        geometry = self._pool_geometry(kernel_size, stride, padding, 1)
        return _np(_pool(self._in(x), "avg_pool", *geometry, options))

    def avg_pool_backward(self, x, dy, *, kernel_size, stride=None, padding=0, divisor=None):
        options = self._avg_pool_options(divisor)
        geometry = self._pool_geometry(kernel_size, stride, padding, 1)
        x = self._in(x)
        return _np(_pool_backward(x, self._in(dy, x.dtype), "avg_pool", *geometry, options))

    # --- initialisation -----------------------------------------------------------------

    _INITIALIZERS: ClassVar[dict[tuple[str, str | None], Callable[..., Any]]] = {
        # None: jax's own glorot_normal / he_normal, a truncated normal (±2σ before rescaling)
        # of the documented variance (jax/_src/nn/initializers.py:413-445, 561-593), measured;
        # "normal": variance_scaling's untruncated "normal" distribution, same scale and fan
        ("glorot", None): jax.nn.initializers.glorot_normal,
        ("glorot", "truncated_normal"): jax.nn.initializers.glorot_normal,
        ("glorot", "normal"): functools.partial(
            jax.nn.initializers.variance_scaling, 1.0, "fan_avg", "normal"
        ),
        ("glorot", "uniform"): jax.nn.initializers.glorot_uniform,
        ("he", None): jax.nn.initializers.he_normal,
        ("he", "truncated_normal"): jax.nn.initializers.he_normal,
        ("he", "normal"): functools.partial(
            jax.nn.initializers.variance_scaling, 2.0, "fan_in", "normal"
        ),
        ("he", "uniform"): jax.nn.initializers.he_uniform,
    }

    def _init_weights(self, family, fan_in, fan_out, rng, distribution, shape):
        _offered(f"{family}_init", "distribution", distribution,
                 ["normal", "uniform", "truncated_normal"])  # fmt: skip
        shape = (int(fan_out), int(fan_in)) if shape is None else tuple(int(s) for s in shape)
        if len(shape) < 2:
            raise NotImplementedError(f"jax's initialisers need a shape of 2+ axes, got {shape}")
        # jax derives the fans from the shape: (out, in, *receptive field) with these axes
        receptive = int(np.prod(shape[2:]))
        if (shape[1] * receptive, shape[0] * receptive) != (int(fan_in), int(fan_out)):
            raise NotImplementedError(
                f"jax derives fan_in, fan_out = {shape[1] * receptive}, {shape[0] * receptive} "
                f"from the shape {shape}, not the given {fan_in}, {fan_out}"
            )
        init = self._INITIALIZERS[family, distribution](in_axis=1, out_axis=0)
        key = self._put(jax.random.PRNGKey(int(rng.integers(2**63))))
        return _np(init(key, shape, jnp.float64))

    def glorot_init(self, fan_in, fan_out, rng, *, distribution=None, shape=None):
        return self._init_weights("glorot", fan_in, fan_out, rng, distribution, shape)

    def he_init(self, fan_in, fan_out, rng, *, distribution=None, shape=None):
        return self._init_weights("he", fan_in, fan_out, rng, distribution, shape)


def _one_thread_per_worker() -> None:
    """In a pytest-xdist worker, XLA's CPU thread pool gets the worker's share of the cores
    (set before JAX starts its backend): by default every worker would use every core, and on
    2 cores with ``-n 2`` the checks' small arrays wait on each other's threads."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1 and (os.cpu_count() or 1) // workers <= 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (
                f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            ).strip()


def _cache_dir() -> str:
    """The persistent compilation cache's folder: $NNCONFORM_JAX_CACHE, else nnconform/jax
    under the user's cache folder ($XDG_CACHE_HOME, by default ~/.cache)."""
    if os.environ.get("NNCONFORM_JAX_CACHE"):
        return os.environ["NNCONFORM_JAX_CACHE"]
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "nnconform", "jax")


def _persistent_cache() -> None:
    """JAX's persistent compilation cache, so that a run compiles only what no earlier run
    compiled (jax.readthedocs.io "Persistent compilation cache"): every program, however
    quick to compile (min_compile_time_secs = 0; the checks' programs are small and many). A
    folder set by JAX's own JAX_COMPILATION_CACHE_DIR is kept; NNCONFORM_JAX_CACHE=off turns
    it off. The cache stores XLA's compiled programs only: results are those of a compile."""
    if jax.config.jax_compilation_cache_dir or os.environ.get("NNCONFORM_JAX_CACHE") == "off":
        return
    jax.config.update("jax_compilation_cache_dir", _cache_dir())
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def make_target(*, device: str = "cpu") -> Target:
    """The JAX target on ``device`` ("cpu", or "cuda" where JAX sees a GPU)."""
    _one_thread_per_worker()
    _persistent_cache()
    try:
        has_gpu = bool(jax.devices("gpu"))
    except RuntimeError:
        has_gpu = False
    devices = ("cpu", "cuda") if has_gpu else ("cpu",)
    return Target(
        name="jax",
        namespace=JaxFunctions(device if device in devices else "cpu"),
        version=f"jax {jax.__version__}, optax {optax.__version__}, flax {flax.__version__}",
        dtypes=("float64", "float32"),
        devices=devices,
        device=device,
    )
