"""PyTorch's own paths for the benchmark kernels: torch tensors on the device, allocated here from
the kernel's ``inputs``, and one call of torch per ``run``.

    torch           torch's default path (for the optimisers: torch.optim with its default
                    foreach/fused choice, which on cpu is the for-loop)
    torch-forloop   torch.optim with foreach=False: one kernel launch per tensor and operation
    torch-foreach   foreach=True: torch._foreach_* over the list of tensors
    torch-fused     fused=True: the whole update in one kernel per tensor

Each optimiser holds one flat float32 parameter of ``size`` elements with a fixed ``.grad``.
Its hyper-parameters are set to the reference's (torch's defaults differ for RMSprop, α 0.99
and ε 1e-8, and Adagrad, ε 1e-10), so that the two compute the same step
(``tests/test_perf_kernels.py`` checks that they do).

On cuda a sample is timed by a pair of CUDA events on torch's current stream, recorded after
a synchronisation (``Prepared.timer = "cuda-events"``; ``nnconform.checks.perf.harness``).

torch is imported lazily, when a kernel is prepared or the paths are listed; without it the
provider registers nothing.

Sources: torch.optim (``foreach``/``fused`` in the PyTorch 2.x docs), torch.nn.functional,
torch.cuda.Event.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from typing import Any

from nnconform.checks.perf import kernels
from nnconform.checks.perf.kernels import Kernel, Prepared, Provider, Unsupported, inputs

__all__ = ["FLAVOURS", "PROVIDER"]

FLAVOURS: dict[str, dict[str, bool]] = {
    "torch": {},  # torch's defaults
    "torch-forloop": {"foreach": False},
    "torch-foreach": {"foreach": True},
    "torch-fused": {"fused": True},
}
# Read from kernels when a kernel is prepared (tests plant wrong values here to see the
# agreement test catch them).
LR, MLP_LR, KEEP = kernels.LR, kernels.MLP_LR, kernels.KEEP


def _torch() -> Any:
    try:
        import torch
    except ImportError as error:
        raise Unsupported(f"torch is not installed ({error})") from None
    return torch


def _device(torch: Any, device: str) -> Any:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise Unsupported(f"{device} is not available here: torch.cuda.is_available() is False")
    return torch.device(device)


def _sync(torch: Any, device: Any) -> Callable[[], None]:
    """CUDA calls return before the kernel ends: a timing must wait for the device."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def _optimizer(torch: Any, kernel: Kernel) -> tuple[type, dict[str, Any]]:
    """The torch.optim class and the options that make it compute the reference's step."""
    optim = torch.optim
    return {
        # torch's defaults β = (0.9, 0.999), ε = 1e-8 are the reference's
        "adam": (optim.Adam, {"lr": LR}),
        # torch keeps lr outside the velocity: the reference's lr_outside variant
        "sgd_momentum": (optim.SGD, {"lr": LR, "momentum": 0.9}),
        # torch's alpha is the reference's ρ; torch's ε sits outside the root (eps_outside)
        "rmsprop": (optim.RMSprop, {"lr": LR, "alpha": 0.9, "eps": 1e-6}),
        "adagrad": (optim.Adagrad, {"lr": LR, "eps": 1e-7}),
    }[kernel.name]


def _describe(cls: type, options: dict[str, Any]) -> str:
    return f"torch.optim.{cls.__name__}({', '.join(f'{k}={v}' for k, v in options.items())})"


@functools.cache
def _flavour_error(kernel_name: str, implementation: str, device: str) -> str | None:
    """Why torch cannot take this optimiser path here (None if it can), from one step on a
    4-element parameter: torch raises at construction (a ``fused`` keyword RMSprop lacks) or
    at the first step (a fused kernel missing for the device or dtype)."""
    torch = _torch()
    dev = _device(torch, device)
    cls, options = _optimizer(torch, kernels.kernel(kernel_name))
    flavour = FLAVOURS[implementation]
    probe = torch.nn.Parameter(torch.zeros(4, dtype=torch.float32, device=dev))
    probe.grad = torch.ones_like(probe)
    try:
        cls([probe], **options, **flavour).step()
    except (RuntimeError, TypeError, ValueError) as error:
        return f"{_describe(cls, flavour)}: {error}"
    return None


def _prepare_optimizer(torch, kernel, implementation, dev, data) -> Callable[[], object]:
    error = _flavour_error(kernel.name, implementation, str(dev))
    if error is not None:
        raise Unsupported(error)
    cls, options = _optimizer(torch, kernel)
    param = torch.nn.Parameter(torch.tensor(data["theta"], device=dev))  # a copy of θ
    param.grad = torch.tensor(data["g"], device=dev)
    optimizer = cls([param], **options, **FLAVOURS[implementation])
    # torch allocates the state (m, v, ...) at the first step, i.e. in the first warm-up call.

    def run() -> object:
        optimizer.step()
        return param

    return run


def _prepare_function(torch, kernel, dev, data, seed) -> Callable[[], object]:
    F = torch.nn.functional

    def tensor(name: str, *, grad: bool = False) -> Any:
        return torch.tensor(data[name], device=dev, requires_grad=grad)

    name = kernel.name
    if name in ("batch_norm_2d", "batch_norm_4d"):
        x, gamma, beta = (tensor(n, grad=True) for n in ("x", "gamma", "beta"))
        mean, var, dy = tensor("running_mean"), tensor("running_var"), tensor("dy")

        def batch_norm() -> object:
            # momentum 0.1 is torch's name for the reference's p = 0.9 (the old value's weight)
            y = F.batch_norm(x, mean, var, gamma, beta, training=True, momentum=0.1, eps=1e-5)
            dx, _, _ = torch.autograd.grad(y, (x, gamma, beta), dy)
            return dx

        return batch_norm
    if name == "cross_entropy":
        z, y = tensor("z", grad=True), tensor("y")

        def cross_entropy() -> object:
            loss = F.cross_entropy(z, y)  # the mean over N, as the reference's
            (dz,) = torch.autograd.grad(loss, z)
            return dz

        return cross_entropy
    if name == "gelu":
        x = tensor("x")
        return lambda: F.gelu(x)  # approximate="none": the erf form
    if name == "softmax":
        z = tensor("z")
        return lambda: torch.softmax(z, dim=-1)
    if name == "dropout":
        x = tensor("x")
        # torch's p is the DROP probability, the catalogue's p = 0.9 the KEEP one: 1 − 0.9.
        # torch draws the mask from its global generator and scales by 1/0.9 (inverted).
        return lambda: F.dropout(x, p=1.0 - KEEP, training=True)
    if name == "conv2d":
        x, w, b = (tensor(n, grad=True) for n in ("x", "w", "b"))
        dy = tensor("dy")

        def conv2d() -> object:
            y = F.conv2d(x, w, b, stride=1, padding=1)
            return torch.autograd.grad(y, (x, w, b), dy)  # (dx, dw, db)

        return conv2d
    if name == "mlp_step":
        return _prepare_mlp(torch, dev, data)
    raise AssertionError(f"no torch preparer for {name}")  # pragma: no cover


def _prepare_mlp(torch, dev, data) -> Callable[[], object]:
    """nn.Linear 784-256-10 with ReLU, F.cross_entropy, backward, SGD(lr=0.01).step()."""
    nn, F = torch.nn, torch.nn.functional
    first, second = nn.Linear(784, 256, device=dev), nn.Linear(256, 10, device=dev)
    with torch.no_grad():  # the reference's initial weights, not torch's own draw
        for layer, W, b in ((first, "W1", "b1"), (second, "W2", "b2")):
            layer.weight.copy_(torch.tensor(data[W]))
            layer.bias.copy_(torch.tensor(data[b]))
    model = nn.Sequential(first, nn.ReLU(), second)
    optimizer = torch.optim.SGD(model.parameters(), lr=MLP_LR)
    x = torch.tensor(data["x"], device=dev)
    y = torch.tensor(data["y"], device=dev)
    params = (first.weight, first.bias, second.weight, second.bias)

    def mlp_step() -> object:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return params

    return mlp_step


def _prepare(kernel: Kernel, implementation: str, size: int, device: str, seed: int) -> Prepared:
    """torch's path, everything on the device; raises Unsupported."""
    torch = _torch()
    dev = _device(torch, device)
    if implementation not in FLAVOURS:
        raise ValueError(f"unknown torch implementation {implementation!r}: use {list(FLAVOURS)}")
    if kernel.family != "optimizers" and implementation != "torch":
        raise Unsupported(f"{implementation} is a torch.optim path: {kernel.name} has only 'torch'")
    data = inputs(kernel.name, size, seed)
    if kernel.family == "optimizers":
        run = _prepare_optimizer(torch, kernel, implementation, dev, data)
    else:
        run = _prepare_function(torch, kernel, dev, data, seed)
    timer = "cuda-events" if dev.type == "cuda" else "wall"
    return kernels.prepared(
        kernel, implementation, device, size, run, _sync(torch, dev), timer=timer
    )


def _available(kernel: Kernel, device: str) -> tuple[str, ...]:
    """torch's implementations of ``kernel`` that run on ``device`` here."""
    try:
        torch = _torch()
        _device(torch, device)
    except Unsupported:
        return ()
    if kernel.family != "optimizers":
        return ("torch",)
    return tuple(f for f in FLAVOURS if _flavour_error(kernel.name, f, device) is None)


# Peak memory while running, in units of the kernel's float32 inputs (Kernel.input_bytes),
# measured as provider_adapter's are and rounded up by a quarter: the shared draw of the
# inputs (1), torch's copies (1), its state and outputs, and autograd's saved tensors.
_PEAK_FACTOR = {
    "adam": 5.0,  # measured 4.0: θ, g and the draw; m and v
    "sgd_momentum": 3.5,  # 2.5
    "rmsprop": 4.0,  # 3.0
    "adagrad": 4.0,  # 3.0
    "normalization": 4.0,  # 3.0
    "cross_entropy": 6.5,  # 5.0
    "gelu": 4.0,  # 3.0
    "softmax": 4.0,  # 3.0
    "dropout": 5.0,  # 4.0: x, y and the mask
    "conv2d": 6.0,  # 4.7
    "mlp_step": 5.0,  # 4.0
}
_OVERHEAD = 128 * 2**20  # torch's own allocations: thread pools, kernels, the caching allocator


def _peak_bytes(kernel: Kernel, implementation: str, size: int) -> int:
    factor = _PEAK_FACTOR.get(kernel.name, _PEAK_FACTOR.get(kernel.family, 4.0))
    return int(factor * kernel.input_bytes(size)) + _OVERHEAD


if importlib.util.find_spec("torch") is None:
    PROVIDER = kernels.missing(
        "torch", "torch is not installed: torch's paths are not benchmarked", order=10
    )
else:
    PROVIDER = Provider(
        name="torch",
        implementations=tuple(FLAVOURS),
        available=_available,
        prepare=_prepare,
        peak_bytes=_peak_bytes,
        order=10,
    )
