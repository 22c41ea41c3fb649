"""The kernels that ``nnconform bench`` and the asv benchmarks time, and how each is prepared.

One kernel is one unit of training work on float32 data: one optimiser step, one forward and
backward of a layer, one SGD step of a small MLP. Every implementation of a kernel is set up by
``prepare`` from the same inputs (``inputs``, drawn from ``np.random.default_rng(seed)``), so
that their times compare like for like:

    reference      the oracle (``reference/``) through its target, numpy in and numpy out: the
                   baseline of every ratio, a transcription, never an optimisation
    torch*         PyTorch's own path on its own tensors (``nnconform.checks.perf.torch_kernels``)
    anything else  a target spec for ``nnconform.checks.targets.load_target``: its mirrored
                   functions are timed exactly as the reference's are (one recipe per kernel,
                   below), unless it offers ``bench_<kernel>(size, device, seed)``, which
                   returns a zero-argument callable: its native path (a CUDA kernel, say),
                   timed as it is

Where libraries disagree on a formula (RMSprop's ε inside or outside the root, the momentum
form, GELU's form, dropout's scaling), a recipe asks a target function that takes a ``variant``
keyword for the variant PyTorch computes, so that every implementation times one formula; a
function without the keyword is called with its own default.

Minimal bytes moved per element (``bytes_per_element``) count each float32 array read or written
once, as McCalpin's STREAM counts them (a cache-resident kernel could not do with less):
Adam reads θ, g, m, v and writes θ, m, v: 7 × 4 B. The roofline's memory-bound kernels are
compared against STREAM triad (``nnconform.checks.perf.stream``); conv2d and the MLP step are
compute-bound and report FLOP/s instead (2 per multiply-add, matrix products only).
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BUILTIN_IMPLEMENTATIONS",
    "KERNELS",
    "Kernel",
    "Prepared",
    "Unsupported",
    "check_size",
    "default_sizes",
    "implementations",
    "inputs",
    "prepare",
]

BUILTIN_IMPLEMENTATIONS = ("reference", "torch", "torch-forloop", "torch-foreach", "torch-fused")
TORCH_IMPLEMENTATIONS = BUILTIN_IMPLEMENTATIONS[1:]
DEVICES = ("cpu", "cuda")

# Hyper-parameters every implementation uses (the reference's defaults otherwise; torch's
# preparers set torch's to match, see torch_kernels).
LR = 1e-3  # the optimisers: Adam's suggested ε (Kingma & Ba 2015), used for all four
MLP_LR = 0.01  # the MLP's SGD step
KEEP = 0.9  # dropout's keep probability p (torch's p is the drop probability, 1 − 0.9)
BN_CHANNELS_2D = 256
BN_SHAPE_4D = (64, 16, 16)  # (C, H, W)
CLASSES = 1024  # cross-entropy's and softmax's K
CONV_SHAPE = (16, 32, 32)  # x is (N, 16, 32, 32); w (16, 16, 3, 3), stride 1, padding 1
MLP_WIDTHS = (784, 256, 10)  # MNIST-shaped: 28 × 28 inputs, 10 classes (seed 002)
MNIST_TRAIN = 60_000

FLAT_SIZES = (2**16, 2**18, 2**20, 2**22, 2**24)
FLAT_LARGE = (2**26, 2**28)
CONV_SIZES = (2**14, 2**16, 2**18, 2**20)
MLP_BATCHES = (1, 10, 100, 1000, 10_000)
MLP_LARGE = (MNIST_TRAIN,)


class Unsupported(Exception):  # noqa: N818  (the contract's name)
    """This implementation cannot run this kernel here; ``str(error)`` says why."""


def _conv_flops(size: int) -> float:
    """Per call: forward y = x ⋆ w, then dx and dw, each N·C_out·H·W·C_in·3·3 multiply-adds;
    with C_in = C_out = 16 on 32 × 32 that is 144 MACs per input element, 3 × 2 × 144 FLOPs."""
    return 3 * 2 * 144 * size


def _mlp_flops(batch: int) -> float:
    """Per step: the forward's two products (784·256 + 256·10 MACs per example), the backward's
    dW of both layers (as many) and dA₁ = dZ₂W₂ (256·10); the input needs no gradient."""
    d_in, hidden, out = MLP_WIDTHS
    products = d_in * hidden + hidden * out
    return 2.0 * (2 * products + hidden * out) * batch


@dataclass(frozen=True)
class Kernel:
    name: str
    family: str
    description: str
    size_label: str  # "elements" (flat / total tensor elements) or "batch size" (mlp_step)
    sizes: tuple[int, ...]  # default sweep (default_sizes adds the large ones on request)
    bytes_per_element: float | None  # minimal bytes moved per element; None if compute-bound
    flops: Callable[[int], float] | None  # floating-point operations per call (2 per MAC)
    dataset_size: int | None  # mlp_step: time per epoch = median × ceil(dataset_size / batch)
    # Beyond the contract: the shape rule, and the variant torch computes (see the docstring).
    row: int = 1  # size must be a multiple of this (the elements of one sample)
    minimum: int = 1  # and at least this
    rule: str = "any size >= 1"
    variant: tuple[tuple[str, str], ...] = ()  # keyword pairs: see _options
    large: tuple[int, ...] = ()

    def shape(self, size: int) -> tuple[int, ...]:
        """The input's shape for ``size`` (assumed valid: see ``check_size``)."""
        return _SHAPES[self.name](size)


def _kernel(name, family, description, **options) -> Kernel:
    options.setdefault("size_label", "elements")
    options.setdefault("sizes", FLAT_SIZES)
    options.setdefault("large", FLAT_LARGE if options["sizes"] == FLAT_SIZES else ())
    options.setdefault("flops", None)
    options.setdefault("dataset_size", None)
    return Kernel(name=name, family=family, description=description, **options)


KERNELS: dict[str, Kernel] = {
    k.name: k
    for k in (
        _kernel("adam", "optimizers", "one Adam step on a flat float32 vector",
                bytes_per_element=28),  # read θ, g, m, v; write θ, m, v
        _kernel("sgd_momentum", "optimizers", "one step of SGD with momentum 0.9",
                bytes_per_element=20, variant=(("variant", "lr_outside"),)),  # θ, g, v; θ, v
        _kernel("rmsprop", "optimizers", "one RMSprop step (ρ = 0.9, ε = 1e-6)",
                bytes_per_element=20, variant=(("variant", "eps_outside"),)),  # θ, g, r; θ, r
        _kernel("adagrad", "optimizers", "one AdaGrad step (ε = 1e-7)",
                bytes_per_element=20),  # θ, g, r; θ, r
        _kernel("batch_norm_2d", "normalization",
                "batch norm forward + backward in training, x (N, 256)",
                bytes_per_element=20, row=BN_CHANNELS_2D, minimum=2 * BN_CHANNELS_2D,
                rule="a multiple of 256 (x is (N, 256)) with N >= 2 (batch statistics need "
                     "two values per channel)"),  # read x; write y; read dy, x; write dx
        _kernel("batch_norm_4d", "normalization",
                "batch norm forward + backward in training, x (N, 64, 16, 16)",
                bytes_per_element=20, row=math.prod(BN_SHAPE_4D),
                rule="a multiple of 16384 (x is (N, 64, 16, 16))"),
        _kernel("cross_entropy", "losses",
                "softmax cross-entropy forward + backward (mean over N), logits (N, 1024)",
                bytes_per_element=8, row=CLASSES,
                rule="a multiple of 1024 (logits are (N, 1024))"),  # read z; write dz
        _kernel("gelu", "activations", "GELU forward on a flat float32 vector",
                bytes_per_element=8, variant=(("variant", "erf"),)),  # read x; write y
        _kernel("softmax", "activations", "softmax along the last axis, z (N, 1024)",
                bytes_per_element=8, row=CLASSES,
                rule="a multiple of 1024 (z is (N, 1024))"),
        _kernel("dropout", "regularization",
                "dropout forward in training, keep p = 0.9, a new mask each call",
                bytes_per_element=8, variant=(("variant", "inverted"),)),  # read x; write y
        _kernel("conv2d", "layers",
                "conv2d forward + backward, x (N, 16, 32, 32), w (16, 16, 3, 3), padding 1",
                sizes=CONV_SIZES, bytes_per_element=None, flops=_conv_flops,
                row=math.prod(CONV_SHAPE), rule="a multiple of 16384 (x is (N, 16, 32, 32))"),
        _kernel("mlp_step", "training",
                "one SGD step of an MLP 784-256-10 (ReLU) with cross-entropy on a batch",
                size_label="batch size", sizes=MLP_BATCHES, large=MLP_LARGE,
                bytes_per_element=None, flops=_mlp_flops, dataset_size=MNIST_TRAIN,
                rule="a batch size >= 1"),
    )
}  # fmt: skip

_SHAPES: dict[str, Callable[[int], tuple[int, ...]]] = {
    "adam": lambda n: (n,),
    "sgd_momentum": lambda n: (n,),
    "rmsprop": lambda n: (n,),
    "adagrad": lambda n: (n,),
    "batch_norm_2d": lambda n: (n // BN_CHANNELS_2D, BN_CHANNELS_2D),  # (N, C)
    "batch_norm_4d": lambda n: (n // math.prod(BN_SHAPE_4D), *BN_SHAPE_4D),  # (N, C, H, W)
    "cross_entropy": lambda n: (n // CLASSES, CLASSES),  # (N, K)
    "gelu": lambda n: (n,),
    "softmax": lambda n: (n // CLASSES, CLASSES),  # (N, K)
    "dropout": lambda n: (n,),
    "conv2d": lambda n: (n // math.prod(CONV_SHAPE), *CONV_SHAPE),  # (N, C, H, W)
    "mlp_step": lambda n: (n, MLP_WIDTHS[0]),  # (batch, 784)
}


def kernel(name: str) -> Kernel:
    """The kernel of that name, or a ValueError listing the known ones."""
    try:
        return KERNELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown kernel {name!r}: choose from {', '.join(KERNELS)}") from None


def default_sizes(kernel_name: str) -> tuple[int, ...]:
    """The default sweep; ``NNCONFORM_BENCH_LARGE=1`` adds 2**26 and 2**28 elements to the flat
    kernels and a 60000 batch (a whole epoch) to mlp_step."""
    k = kernel(kernel_name)
    large = os.environ.get("NNCONFORM_BENCH_LARGE", "") not in ("", "0")
    return k.sizes + k.large if large else k.sizes


def check_size(kernel_name: str, size: Any) -> int:
    """``size`` as an int, or a ValueError naming it and the kernel's shape rule."""
    k = kernel(kernel_name)
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise ValueError(f"size must be an integer, got {size!r} for {k.name}")
    size = int(size)
    if size < k.minimum or size % k.row:
        fits = max(k.minimum, -(-size // k.row) * k.row)  # the next size that fits
        raise ValueError(f"size {size} does not fit {k.name}: it takes {k.rule}, e.g. {fits}")
    return size


@dataclass
class Prepared:
    kernel: Kernel
    implementation: str
    device: str
    size: int
    run: Callable[[], object]  # one call of the kernel; returns its main output (for tests)
    sync: Callable[[], None]  # waits for queued device work
    bytes: int | None  # minimal bytes moved per call, None if compute-bound
    flops: float | None


def _prepared(k: Kernel, implementation: str, device: str, size: int, run, sync) -> Prepared:
    moved = None if k.bytes_per_element is None else int(k.bytes_per_element * size)
    flops = None if k.flops is None else float(k.flops(size))
    return Prepared(k, implementation, device, size, run, sync, moved, flops)


# --- inputs ------------------------------------------------------------------------------


def inputs(kernel_name: str, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The kernel's inputs at ``size``, float32 (labels int64), from default_rng(seed): every
    implementation starts from these (torch's preparers copy them to the device)."""
    k = kernel(kernel_name)
    size = check_size(k.name, size)
    rng = np.random.default_rng(seed)
    shape = k.shape(size)

    def normal(*s: int, scale: float = 1.0) -> np.ndarray:
        return (scale * rng.standard_normal(s, dtype=np.float32)).astype(np.float32)

    if k.family == "optimizers":
        return {"theta": normal(size), "g": normal(size)}
    if k.family == "normalization":
        C = shape[1]
        return {
            "x": normal(*shape),
            "gamma": 1.0 + normal(C, scale=0.1),
            "beta": normal(C, scale=0.1),
            "running_mean": np.zeros(C, np.float32),
            "running_var": np.ones(C, np.float32),
            "dy": normal(*shape),
        }
    if k.name == "cross_entropy":
        return {"z": normal(*shape), "y": rng.integers(0, CLASSES, shape[0], dtype=np.int64)}
    if k.name == "softmax":
        return {"z": normal(*shape)}
    if k.name in ("gelu", "dropout"):
        return {"x": normal(*shape)}
    if k.name == "conv2d":
        C = CONV_SHAPE[0]
        return {
            "x": normal(*shape),
            "w": normal(C, C, 3, 3, scale=1 / math.sqrt(C * 9)),  # He-like: unit-scale y
            "b": normal(C, scale=0.1),
            "dy": normal(*shape),  # padding 1, stride 1: y has x's shape
        }
    d_in, hidden, out = MLP_WIDTHS  # mlp_step
    return {
        "x": rng.random(shape, dtype=np.float32),  # pixel intensities in [0, 1)
        "y": rng.integers(0, out, size, dtype=np.int64),
        "W1": normal(hidden, d_in, scale=math.sqrt(2 / d_in)),  # He et al. 2015
        "b1": normal(hidden, scale=0.01),
        "W2": normal(out, hidden, scale=math.sqrt(2 / hidden)),
        "b2": normal(out, scale=0.01),
    }


# --- recipes: one code path for the reference and every user target ---------------------


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


def _check_device(device: Any) -> str:
    if not isinstance(device, str) or device.split(":")[0] not in DEVICES:
        raise ValueError(f"unknown device {device!r}: use cpu or cuda (or cuda:N)")
    return device


def _target_prepare(k: Kernel, spec: str, size: int, device: str, seed: int) -> Prepared:
    from nnconform.checks.targets import load_target

    target = load_target(spec, device=device)
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
        run = _RECIPES[k.name](k, target, inputs(k.name, size, seed), seed)
    return _prepared(k, spec, device, size, run, sync)


def prepare(
    kernel_name: str, implementation: str, size: int, device: str = "cpu", seed: int = 0
) -> Prepared:
    """Everything a timing needs, allocated and set up here from default_rng(seed).

    Raises ``Unsupported`` when the implementation cannot run the kernel on the device here,
    ``ValueError`` for an unknown kernel or device or a size that does not fit the kernel, and
    ``nnconform.checks.targets.TargetError`` for a target spec that does not load.
    """
    k = kernel(kernel_name)
    size = check_size(k.name, size)
    device = _check_device(device)
    if implementation in TORCH_IMPLEMENTATIONS:
        from nnconform.checks.perf import torch_kernels

        run, sync = torch_kernels.prepare(k, implementation, size, device, seed)
        return _prepared(k, implementation, device, size, run, sync)
    return _target_prepare(k, implementation, size, device, seed)


def implementations(kernel_name: str, device: str = "cpu") -> tuple[str, ...]:
    """The built-in implementations that can run ``kernel`` on ``device`` in this environment:
    the reference on cpu (numpy), torch's where torch imports, on cuda only when
    torch.cuda.is_available(), and the optimisers' foreach/fused paths only where torch has them."""
    from nnconform.checks.perf import torch_kernels

    k = kernel(kernel_name)
    device = _check_device(device)
    reference = ("reference",) if device == "cpu" else ()
    return reference + torch_kernels.available(k, device)
