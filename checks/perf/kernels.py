"""The kernels that ``nnconform bench`` and the asv benchmarks time: what each one computes, on
what inputs, what its size means, and what it moves and computes. No framework is named here.

One kernel is one unit of training work on float32 data: one optimiser step, one forward and
backward of a layer, one SGD step of a small MLP. Every implementation of a kernel starts from
the same inputs (``inputs``, drawn from ``np.random.default_rng(seed)``), so that their times
compare like for like. The implementations themselves come from provider modules, one per
implementation family (``nnconform.checks.perf.registry`` finds them):

    provider_adapter   the reference and every user target: the mirrored functions, numpy in and
                       numpy out, called through one recipe per kernel
    provider_torch     PyTorch's own paths (torch, torch-forloop, torch-foreach, torch-fused)
    provider_jax       JAX's: jit-compiled jax.numpy, jax.nn, jax.lax, optax and flax
    provider_keras     Keras's: keras.optimizers on Keras 3's torch backend (the optimisers)

Each kernel says what its size is (``size_label``, ``size_meaning``): the elements of a flat
vector (the optimisers, gelu, dropout) or a batch N (rows of (N, 256) or (N, 1024), images of
(N, C, H, W), examples of the MLP). ``elements(size)`` is the element count of its main input,
the one ``bytes_per_element`` counts against.

Minimal bytes moved per element (``bytes_per_element``) count each float32 array read or written
once, as McCalpin's STREAM counts them (a cache-resident kernel could not do with less):
Adam reads θ, g, m, v and writes θ, m, v: 7 × 4 B. A kernel that writes only arrays it has just
read (``in_place``: the optimiser steps, which update θ and their state in place) pays no
write-allocate read, and its roof is STREAM "update" (a ← a + s·b, also in place); the others'
roof is STREAM triad (``nnconform.checks.perf.stream``). conv2d and the MLP step are
compute-bound and report FLOP/s instead (2 per multiply-add, matrix products only).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEVICES",
    "KERNELS",
    "Kernel",
    "Prepared",
    "Provider",
    "Unsupported",
    "check_device",
    "check_size",
    "default_sizes",
    "inputs",
    "kernel",
    "prepared",
]

DEVICES = ("cpu", "cuda")

# Hyper-parameters every implementation uses (the reference's defaults otherwise; the providers
# set their libraries' to match).
LR = 1e-3  # the optimisers: Adam's suggested step size (Kingma & Ba 2015), used for all four
MLP_LR = 0.01  # the MLP's SGD step
KEEP = 0.9  # dropout's keep probability p (torch's p is the drop probability, 1 − 0.9)
BN_CHANNELS_2D = 256
BN_SHAPE_4D = (64, 16, 16)  # (C, H, W)
CLASSES = 1024  # cross-entropy's and softmax's K
CONV_SHAPE = (16, 32, 32)  # x is (N, 16, 32, 32); w (16, 16, 3, 3), stride 1, padding 1
MLP_WIDTHS = (784, 256, 10)  # MNIST-shaped: 28 × 28 inputs, 10 classes (seed 002)
MNIST_TRAIN = 60_000

# Default sweeps. The batch kernels' batches span the same working sets as the flat sweep's
# 2**16 to 2**24 elements (batch_norm_2d: 256 rows of 256 = 2**16 elements, ...).
FLAT_SIZES = (2**16, 2**18, 2**20, 2**22, 2**24)
FLAT_LARGE = (2**26, 2**28)


def _batches(row: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The batches whose inputs hold FLAT_SIZES (and FLAT_LARGE) elements, rows of ``row``."""
    return tuple(n // row for n in FLAT_SIZES), tuple(n // row for n in FLAT_LARGE)


CONV_BATCHES = (1, 4, 16, 64)  # 2**14 to 2**20 elements: conv2d is compute-bound
MLP_BATCHES = (1, 10, 100, 1000, 10_000)
MLP_LARGE = (MNIST_TRAIN,)


class Unsupported(Exception):  # noqa: N818  (the contract's name)
    """This implementation cannot run this kernel here; ``str(error)`` says why."""


def _conv_flops(n: int) -> float:
    """Per call on N images: forward y = x ⋆ w, then dx and dw, each 16·32·32 outputs ×
    16·3·3 multiply-adds per image; three products, 2 FLOPs per multiply-add."""
    return 3 * 2 * (16 * 32 * 32) * (16 * 9) * n


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
    size_label: str  # the unit of size: "elements", "rows", "images" or "batch size"
    size_meaning: str  # what size is, in a sentence fragment ("N, the rows of x (N, 256)")
    sizes: tuple[int, ...]  # default sweep (default_sizes adds the large ones on request)
    bytes_per_element: float | None  # minimal bytes per element of the main input; None: compute
    flops: Callable[[int], float] | None  # floating-point operations per call (2 per MAC)
    dataset_size: int | None  # mlp_step: time per epoch = median × ceil(dataset_size / batch)
    minimum: int = 1  # the smallest size
    rule: str = "any size >= 1"
    variant: tuple[tuple[str, str], ...] = ()  # the variant every implementation computes
    large: tuple[int, ...] = ()
    in_place: bool = False  # writes only what it read: roof STREAM update, not triad

    @property
    def flat(self) -> bool:
        """Whether size counts the elements of a flat vector (``--size``), not a batch
        (``--batch``)."""
        return self.size_label == "elements"

    def shape(self, size: int) -> tuple[int, ...]:
        """The main input's shape at ``size`` (assumed valid: see ``check_size``)."""
        return _SHAPES[self.name](size)

    def elements(self, size: int) -> int:
        return math.prod(self.shape(size))

    def bytes(self, size: int) -> int | None:
        """Minimal bytes moved per call, None if compute-bound."""
        if self.bytes_per_element is None:
            return None
        return int(self.bytes_per_element * self.elements(size))

    def input_bytes(self, size: int) -> int:
        """The bytes of ``inputs(self.name, size)``, computed without drawing them: the unit of
        the providers' memory estimates."""
        return _input_bytes(self, size)


def _kernel(name, family, description, **options) -> Kernel:
    options.setdefault("size_label", "elements")
    options.setdefault("size_meaning", "elements of a flat float32 vector")
    options.setdefault("sizes", FLAT_SIZES)
    options.setdefault("large", FLAT_LARGE if options["sizes"] == FLAT_SIZES else ())
    options.setdefault("flops", None)
    options.setdefault("dataset_size", None)
    return Kernel(name=name, family=family, description=description, **options)


_BN2D, _BN2D_LARGE = _batches(BN_CHANNELS_2D)
_BN4D, _BN4D_LARGE = _batches(math.prod(BN_SHAPE_4D))
_ROWS, _ROWS_LARGE = _batches(CLASSES)
_OPTIMIZER = "elements of θ, a flat float32 vector (and of g and each state vector)"

KERNELS: dict[str, Kernel] = {
    k.name: k
    for k in (
        _kernel("adam", "optimizers", "one Adam step on a flat float32 vector",
                size_meaning=_OPTIMIZER, bytes_per_element=28,  # read θ, g, m, v; write θ, m, v
                in_place=True),
        _kernel("sgd_momentum", "optimizers", "one step of SGD with momentum 0.9",
                size_meaning=_OPTIMIZER, bytes_per_element=20,  # θ, g, v; θ, v
                variant=(("variant", "lr_outside"),), in_place=True),
        _kernel("rmsprop", "optimizers", "one RMSprop step (ρ = 0.9, ε = 1e-6)",
                size_meaning=_OPTIMIZER, bytes_per_element=20,  # θ, g, r; θ, r
                variant=(("variant", "eps_outside"),), in_place=True),
        _kernel("adagrad", "optimizers", "one AdaGrad step (ε = 1e-7)",
                size_meaning=_OPTIMIZER, bytes_per_element=20, in_place=True),  # θ, g, r; θ, r
        _kernel("batch_norm_2d", "normalization",
                "batch norm forward + backward in training, x (N, 256)",
                size_label="rows", size_meaning="N, the rows of x (N, 256)",
                sizes=_BN2D, large=_BN2D_LARGE, bytes_per_element=20, minimum=2,
                rule="a batch N >= 2 (batch statistics need two rows)"),
        # read x; write y; read dy, x; write dx
        _kernel("batch_norm_4d", "normalization",
                "batch norm forward + backward in training, x (N, 64, 16, 16)",
                size_label="images", size_meaning="N, the images of x (N, 64, 16, 16)",
                sizes=_BN4D, large=_BN4D_LARGE, bytes_per_element=20, rule="a batch N >= 1"),
        _kernel("cross_entropy", "losses",
                "softmax cross-entropy forward + backward (mean over N), logits (N, 1024)",
                size_label="rows", size_meaning="N, the rows of the logits (N, 1024)",
                sizes=_ROWS, large=_ROWS_LARGE, bytes_per_element=8,  # read z; write dz
                rule="a batch N >= 1"),
        _kernel("gelu", "activations", "GELU forward on a flat float32 vector",
                bytes_per_element=8, variant=(("variant", "erf"),)),  # read x; write y
        _kernel("softmax", "activations", "softmax along the last axis, z (N, 1024)",
                size_label="rows", size_meaning="N, the rows of z (N, 1024)",
                sizes=_ROWS, large=_ROWS_LARGE, bytes_per_element=8, rule="a batch N >= 1"),
        _kernel("dropout", "regularization",
                "dropout forward in training, keep p = 0.9, a new mask each call",
                bytes_per_element=8, variant=(("variant", "inverted"),)),  # read x; write y
        _kernel("conv2d", "layers",
                "conv2d forward + backward, x (N, 16, 32, 32), w (16, 16, 3, 3), padding 1",
                size_label="images", size_meaning="N, the images of x (N, 16, 32, 32)",
                sizes=CONV_BATCHES, bytes_per_element=None, flops=_conv_flops,
                rule="a batch N >= 1"),
        _kernel("mlp_step", "training",
                "one SGD step of an MLP 784-256-10 (ReLU) with cross-entropy on a batch",
                size_label="batch size", size_meaning="B, the examples of a batch x (B, 784)",
                sizes=MLP_BATCHES, large=MLP_LARGE, bytes_per_element=None, flops=_mlp_flops,
                dataset_size=MNIST_TRAIN, rule="a batch size >= 1"),
    )
}  # fmt: skip

_SHAPES: dict[str, Callable[[int], tuple[int, ...]]] = {
    "adam": lambda n: (n,),
    "sgd_momentum": lambda n: (n,),
    "rmsprop": lambda n: (n,),
    "adagrad": lambda n: (n,),
    "batch_norm_2d": lambda n: (n, BN_CHANNELS_2D),  # (N, C)
    "batch_norm_4d": lambda n: (n, *BN_SHAPE_4D),  # (N, C, H, W)
    "cross_entropy": lambda n: (n, CLASSES),  # (N, K)
    "gelu": lambda n: (n,),
    "softmax": lambda n: (n, CLASSES),  # (N, K)
    "dropout": lambda n: (n,),
    "conv2d": lambda n: (n, *CONV_SHAPE),  # (N, C, H, W)
    "mlp_step": lambda n: (n, MLP_WIDTHS[0]),  # (B, 784)
}


def kernel(name: str) -> Kernel:
    """The kernel of that name, or a ValueError listing the known ones."""
    try:
        return KERNELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown kernel {name!r}: choose from {', '.join(KERNELS)}") from None


def default_sizes(kernel_name: str) -> tuple[int, ...]:
    """The default sweep; ``NNCONFORM_BENCH_LARGE=1`` adds the larger ones (2**26 and 2**28
    elements, the batches that hold as many, and a 60000 batch, a whole epoch, for mlp_step)."""
    k = kernel(kernel_name)
    large = os.environ.get("NNCONFORM_BENCH_LARGE", "") not in ("", "0")
    return k.sizes + k.large if large else k.sizes


def check_size(kernel_name: str, size: Any) -> int:
    """``size`` as an int, or a ValueError naming it and the kernel's rule."""
    k = kernel(kernel_name)
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise ValueError(f"size must be an integer, got {size!r} for {k.name}")
    size = int(size)
    if size < k.minimum:
        raise ValueError(f"size {size} does not fit {k.name}: it takes {k.rule}, e.g. {k.minimum}")
    return size


def check_device(device: Any) -> str:
    if not isinstance(device, str) or device.split(":")[0] not in DEVICES:
        raise ValueError(f"unknown device {device!r}: use cpu or cuda (or cuda:N)")
    return device


@dataclass
class Prepared:
    kernel: Kernel
    implementation: str
    device: str
    size: int
    run: Callable[[], object]  # one call of the kernel; returns its main output (for tests)
    sync: Callable[[], None]  # waits for queued device work (and for run's last result)
    bytes: int | None  # minimal bytes moved per call, None if compute-bound
    flops: float | None
    # "wall": perf_counter around the calls and sync; "cuda-events": torch.cuda.Event pairs on
    # torch's current stream, recorded after a sync (nnconform.checks.perf.harness)
    timer: str = "wall"


def prepared(
    k: Kernel, implementation: str, device: str, size: int, run, sync, **extra: Any
) -> Prepared:
    """A Prepared with the kernel's bytes and FLOPs at ``size`` filled in."""
    flops = None if k.flops is None else float(k.flops(size))
    return Prepared(k, implementation, device, size, run, sync, k.bytes(size), flops, **extra)


@dataclass(frozen=True)
class Provider:
    """One implementation family: what a ``provider_<name>.py`` module exposes as ``PROVIDER``.

    ``implementations`` are the names it answers to (the adapter provider answers to every name
    no other provider claims: ``fallback``); ``available(kernel, device)`` lists those that run
    here, without starting a device or a thread pool (asv forks after asking);
    ``prepare(kernel, implementation, size, device, seed)`` returns a ``Prepared`` or raises
    ``Unsupported``; ``peak_bytes(kernel, implementation, size)`` estimates the memory one
    prepared and running implementation holds. A provider whose library is missing has no
    implementations and a one-line ``note`` that says so.
    """

    name: str
    implementations: tuple[str, ...]
    available: Callable[[Kernel, str], tuple[str, ...]]
    prepare: Callable[[Kernel, str, int, str, int], Prepared]
    peak_bytes: Callable[[Kernel, str, int], int]
    order: int = 50  # the default listing order: the adapter's reference first
    fallback: bool = False
    note: str | None = None
    load: Callable[[str], Any] | None = field(default=None)  # checks a spec before a run


def missing(name: str, note: str, order: int = 50) -> Provider:
    """The provider of a library that is not installed: it registers nothing."""

    def unavailable(*args: Any) -> Any:
        raise Unsupported(note)

    return Provider(name, (), lambda k, d: (), unavailable, lambda k, i, s: 0, order, note=note)


# --- inputs ------------------------------------------------------------------------------


def _input_bytes(k: Kernel, size: int) -> int:
    shape = k.shape(size)
    n = math.prod(shape)
    if k.family == "optimizers":
        return 2 * 4 * n  # θ, g
    if k.family == "normalization":
        return 2 * 4 * n + 4 * 4 * shape[1]  # x, dy; γ, β and the running statistics
    if k.name == "cross_entropy":
        return 4 * n + 8 * shape[0]  # z; int64 labels
    if k.name == "conv2d":
        return 2 * 4 * n + 4 * (16 * 16 * 9 + 16)  # x, dy; w, b
    if k.name == "mlp_step":
        d_in, hidden, out = MLP_WIDTHS
        return 4 * n + 8 * size + 4 * (hidden * d_in + hidden + out * hidden + out)
    return 4 * n  # softmax, gelu, dropout


def inputs(kernel_name: str, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The kernel's inputs at ``size``, float32 (labels int64), from default_rng(seed): every
    implementation starts from these, and copies them to its own arrays. They are read-only,
    and the last ones drawn are kept: the implementations of one kernel and size, prepared one
    after another, share one draw (2**24 normal deviates take 0.3 to 1.3 s to draw).

    With ``NNCONFORM_BENCH_INPUTS`` set to a folder, draws are kept there too (.npz, named by
    kernel, size, seed and a fingerprint of the drawing code and numpy's version) and read
    back by later processes: the asv suite sets it, since each of its benchmark processes
    would otherwise draw its inputs anew."""
    k = kernel(kernel_name)
    return dict(_inputs(k.name, check_size(k.name, size), int(seed)))


@functools.lru_cache(maxsize=1)
def _inputs(kernel_name: str, size: int, seed: int) -> dict[str, np.ndarray]:
    folder = os.environ.get("NNCONFORM_BENCH_INPUTS", "")
    if folder:
        data = _kept(Path(folder), KERNELS[kernel_name], size, seed)
    else:
        data = _draw(KERNELS[kernel_name], size, seed)
    for array in data.values():
        array.flags.writeable = False
    return data


def _kept(folder: Path, k: Kernel, size: int, seed: int) -> dict[str, np.ndarray]:
    """The draw from ``folder`` if it is there, else drawn and written there (whole, by a
    rename, so that a reader never sees half a file)."""
    code = inspect.getsource(_draw) + np.__version__
    fingerprint = hashlib.sha256(code.encode()).hexdigest()[:12]
    path = folder / f"{k.name}-{size}-{seed}-{fingerprint}.npz"
    try:
        with np.load(path) as kept:
            return {name: kept[name] for name in kept.files}
    except (OSError, ValueError, EOFError):
        pass
    data = _draw(k, size, seed)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as file:
            np.savez(file, **data)
        os.replace(file.name, path)
    except OSError:  # a read-only or full disk: draw every time, as without the folder
        pass
    return data


def _draw(k: Kernel, size: int, seed: int) -> dict[str, np.ndarray]:
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
