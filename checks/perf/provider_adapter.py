"""The adapter path: the reference and every user target, timed through their mirrored
functions, numpy in and numpy out, by one recipe per kernel.

    reference      the oracle (``reference/``) through its target: a transcription in float64,
                   never an optimisation
    a target spec  anything ``nnconform.checks.targets.load_target`` loads (``module`` or
                   ``module:attr``), or ``LABEL=PATH:MODULE[:ATTR]``, a version of it from a
                   source tree (``nnconform.checks.perf.versions``): its mirrored functions are
                   timed exactly as the reference's are, unless it offers
                   ``bench_<kernel>(size, device, seed)``, which returns a zero-argument
                   callable: its native path (a CUDA kernel, say), timed as it is. ``size`` is
                   the kernel's own (``Kernel.size_meaning``: elements, or a batch N).

Where libraries disagree on a formula (RMSprop's ε inside or outside the root, the momentum
form, GELU's form, dropout's scaling), a recipe asks a target function that takes a ``variant``
keyword for the variant the kernel names (``Kernel.variant``, PyTorch's), so that every
implementation times one formula; a function without the keyword is called with its own
default.

This is the fallback provider: every name no other provider claims is a target spec.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from nnconform.checks.perf.kernels import (
    KEEP,
    LR,
    MLP_LR,
    Kernel,
    Prepared,
    Provider,
    Unsupported,
    inputs,
    prepared,
)

__all__ = ["PROVIDER", "device_sync", "load"]


def _need(target, *names: str) -> list[Callable[..., Any]]:
    functions = []
    for name in names:
        fn = target.get(name)
        if fn is None:
            raise Unsupported(f"target {target.name} has no {name}")
        functions.append(fn)
    return functions


def _options(fn: Callable[..., Any], wanted: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """The keywords of ``wanted`` that ``fn`` takes (all of them if it takes **kwargs)."""
    wanted = dict(wanted)
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: its defaults
        return {}
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return dict(wanted)
    names = {p.name for p in parameters}
    return {key: value for key, value in wanted.items() if key in names}


def _field(result: Any, name: str, index: int) -> Any:
    """A NamedTuple field by name, or by position for a target returning a plain tuple."""
    return getattr(result, name) if hasattr(result, name) else result[index]


# --- recipes: one code path for the reference and every user target ---------------------

_OPTIMIZER_FUNCTIONS = {
    "adam": "adam",
    "sgd_momentum": "momentum",
    "rmsprop": "rmsprop",
    "adagrad": "adagrad",
}


def _optimizer_recipe(k: Kernel, target, data: dict, seed: int) -> Callable[[], object]:
    """θ, state ← step(θ, g, state, lr=1e-3) once per call, g fixed; state from init."""
    name = _OPTIMIZER_FUNCTIONS[k.name]
    init, step = _need(target, f"{name}_init", f"{name}_step")
    options = {"lr": LR} | _options(step, k.variant)
    theta, g = data["theta"], data["g"]
    state = init(theta)

    def run() -> object:
        nonlocal theta, state
        theta, state = step(theta, g, state, **options)
        return theta

    return run


def _batch_norm_recipe(k: Kernel, target, data: dict, seed: int) -> Callable[[], object]:
    """y = batch_norm(x, ...) in training, then batch_norm_backward(dy, cache); returns dx."""
    forward, backward = _need(target, "batch_norm", "batch_norm_backward")
    x, gamma, beta, mean, var, dy = (
        data[n] for n in ("x", "gamma", "beta", "running_mean", "running_var", "dy")
    )

    def run() -> object:
        out = forward(x, gamma, beta, mean, var, training=True)
        return _field(backward(dy, _field(out, "cache", 1)), "dx", 3)

    return run


def _cross_entropy_recipe(k: Kernel, target, data: dict, seed: int) -> Callable[[], object]:
    """The mean loss over N and its gradient (softmax(z) − onehot(y))/N; returns the gradient."""
    forward, backward = _need(target, "cross_entropy", "cross_entropy_backward")
    z, y = data["z"], data["y"]

    def run() -> object:
        forward(z, y)
        return backward(z, y)

    return run


def _gelu_recipe(k: Kernel, target, data: dict, seed: int) -> Callable[[], object]:
    (gelu,) = _need(target, "gelu")
    x, options = data["x"], _options(gelu, k.variant)
    return lambda: gelu(x, **options)


def _softmax_recipe(k: Kernel, target, data: dict, seed: int) -> Callable[[], object]:
    (softmax,) = _need(target, "softmax")
    z = data["z"]
    return lambda: softmax(z, axis=-1)


def _dropout_recipe(k: Kernel, target, data: dict, seed: int) -> Callable[[], object]:
    """A new mask each call: ``dropout_sample`` (the target draws it), else ``dropout_mask``
    then ``dropout`` (the mask's draw is timed too: frameworks draw theirs in the kernel)."""
    x = data["x"]
    rng = np.random.default_rng([seed, 1])  # the masks' own stream, apart from the inputs'
    sample = target.get("dropout_sample")
    if sample is not None:
        options = {"p": KEEP, "rng": rng, "training": True} | _options(sample, k.variant)
        return lambda: sample(x, **options)
    mask, dropout = target.get("dropout_mask"), target.get("dropout")
    if mask is None or dropout is None:
        raise Unsupported(
            f"target {target.name} has no dropout_sample, nor dropout_mask and dropout"
        )
    options = {"p": KEEP, "training": True} | _options(dropout, k.variant)
    return lambda: dropout(x, mask(x.shape, p=KEEP, rng=rng), **options)


def _conv2d_recipe(k: Kernel, target, data: dict, seed: int) -> Callable[[], object]:
    """y = conv2d(x, w, b, padding 1), then conv2d_backward(...) → (dx, dw, db)."""
    forward, backward = _need(target, "conv2d", "conv2d_backward")
    x, w, b, dy = data["x"], data["w"], data["b"], data["dy"]

    def run() -> object:
        forward(x, w, b, stride=1, padding=1)
        return backward(x, w, b, dy, stride=1, padding=1)

    return run


def _mlp_recipe(k: Kernel, target, data: dict, seed: int) -> Callable[[], object]:
    """One SGD step of a 784-256-10 ReLU MLP on a batch:

    z = mlp(x, params)                          (forward, logits (B, 10))
    dz = cross_entropy_backward(z, y)           (∂ mean loss / ∂z)
    _, grads = mlp_backward(x, params, dz)      (back-propagation)
    W, b ← sgd_step(W, dW, lr=0.01), likewise b, for every layer
    """
    mlp, ce_backward, backward, sgd_init, sgd_step = _need(
        target, "mlp", "cross_entropy_backward", "mlp_backward", "sgd_init", "sgd_step"
    )
    x, y = data["x"], data["y"]
    params = [(data["W1"], data["b1"]), (data["W2"], data["b2"])]
    states = [(sgd_init(W), sgd_init(b)) for W, b in params]

    def run() -> object:
        nonlocal params, states
        dz = ce_backward(mlp(x, params, activation="relu"), y)
        _, grads = backward(x, params, dz, activation="relu")
        stepped = [
            (sgd_step(W, dW, sW, lr=MLP_LR), sgd_step(b, db, sb, lr=MLP_LR))
            for (W, b), (dW, db), (sW, sb) in zip(params, grads, states, strict=True)
        ]
        params = [(W, b) for (W, _), (b, _) in stepped]
        states = [(sW, sb) for (_, sW), (_, sb) in stepped]
        return params

    return run


_RECIPES = {
    "adam": _optimizer_recipe,
    "sgd_momentum": _optimizer_recipe,
    "rmsprop": _optimizer_recipe,
    "adagrad": _optimizer_recipe,
    "batch_norm_2d": _batch_norm_recipe,
    "batch_norm_4d": _batch_norm_recipe,
    "cross_entropy": _cross_entropy_recipe,
    "gelu": _gelu_recipe,
    "softmax": _softmax_recipe,
    "dropout": _dropout_recipe,
    "conv2d": _conv2d_recipe,
    "mlp_step": _mlp_recipe,
}


def device_sync(device: str) -> Callable[[], None]:
    """torch.cuda.synchronize for a cuda device (it waits for every stream on the device, a
    user's CuPy or Triton kernels' too); a no-op on cpu."""
    if not device.startswith("cuda"):
        return lambda: None
    try:
        import torch
    except ImportError:
        raise Unsupported(
            f"timing on {device} needs torch.cuda.synchronize: torch is not installed"
        ) from None
    if not torch.cuda.is_available():
        raise Unsupported(f"{device} is not available here: torch.cuda.is_available() is False")
    return lambda: torch.cuda.synchronize(device)


def load(spec: str, device: str = "cpu") -> Any:
    """The target of a spec: a version from a source tree (LABEL=PATH:MODULE[:ATTR]) or
    anything load_target loads; raises nnconform.checks.targets.TargetError."""
    from nnconform.checks.perf import versions

    if versions.is_versioned(spec):
        return versions.load_version(spec, device=device)
    from nnconform.checks.targets import load_target

    return load_target(spec, device=device)


def _prepare(k: Kernel, spec: str, size: int, device: str, seed: int) -> Prepared:
    target = load(spec, device)
    if device.split(":")[0] not in target.devices:
        raise Unsupported(
            f"target {target.name} runs on {', '.join(target.devices)}, not on {device}"
        )
    sync = device_sync(device)
    native = target.get(f"bench_{k.name}")
    if native is not None:
        run = native(size, device, seed)
        if not callable(run):
            raise TypeError(
                f"target {target.name}'s bench_{k.name} must return a zero-argument callable, "
                f"got {type(run).__name__}"
            )
    else:
        # private, writable copies: the shared inputs are read-only, and a target may update
        # its arguments in place (an optimiser step on θ, say)
        data = {name: array.copy() for name, array in inputs(k.name, size, seed).items()}
        run = _RECIPES[k.name](k, target, data, seed)
    return prepared(k, spec, device, size, run, sync)


def _available(k: Kernel, device: str) -> tuple[str, ...]:
    return ("reference",) if device == "cpu" else ()


# Peak memory of the reference while it runs, in units of the kernel's float32 inputs
# (Kernel.input_bytes): the growth of the peak resident set of a fresh process that prepares
# it and calls it three times, measured on every kernel at 2**24 elements (or the batch that
# holds as many; conv2d at 256 images, the MLP at 20000 examples), and rounded up by a quarter.
# It counts the shared draw of the inputs (1), this provider's private copy (1), and the
# float64 oracle's conversions (2 per input) and temporaries. A user's target is assumed to
# need as much: numpy in, numpy out, it is rarely more wasteful than a float64 transcription.
_PEAK_FACTOR = {
    "adam": 15.0,  # measured 12.5
    "sgd_momentum": 11.0,  # 8.5
    "rmsprop": 12.0,  # 9.5
    "adagrad": 12.0,  # 9.5
    "normalization": 12.5,  # 10.0 (both shapes)
    "cross_entropy": 15.0,  # 12.0
    "gelu": 12.5,  # 10.0
    "softmax": 10.0,  # 8.0
    "dropout": 15.0,  # 12.0
    "conv2d": 9.0,  # 7.2
    "mlp_step": 15.0,  # 11.9
}
_OVERHEAD = 64 * 2**20  # the interpreter's own growth: imports, allocator arenas


def _peak_bytes(k: Kernel, implementation: str, size: int) -> int:
    factor = _PEAK_FACTOR.get(k.name, _PEAK_FACTOR.get(k.family, 8.0))
    return int(factor * k.input_bytes(size)) + _OVERHEAD


PROVIDER = Provider(
    name="adapter",
    implementations=("reference",),
    available=_available,
    prepare=_prepare,
    peak_bytes=_peak_bytes,
    order=0,
    fallback=True,
    load=load,
)
