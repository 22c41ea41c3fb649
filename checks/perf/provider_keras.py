"""Keras's own paths for the benchmark kernels: ``keras.optimizers`` stepping one
``keras.Variable`` of the kernel's size, in place, in float32, on Keras 3's torch backend.

    adam            keras.optimizers.Adam(1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8): the
                    "efficient" form of Kingma & Ba (§2), α_t = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ), then
                    θ ← θ − α_t·m/(√v + ε): ε outside the bias correction, the reference's
                    form="efficient" (Keras's default ε is 1e-7; set to the others' 1e-8)
    sgd_momentum    keras.optimizers.SGD(1e-3, momentum=0.9): m ← 0.9 m − lr·g, θ ← θ + m, lr
                    inside the velocity (the reference's "classic" variant; the kernel's
                    lr_outside is the same step for a constant lr, and Keras has no option)
    rmsprop         keras.optimizers.RMSprop(1e-3, rho=0.9, epsilon=1e-6): ε inside the root,
                    θ ← θ − lr·g/√(r + ε), the reference's eps_inside (Keras has no option to
                    move it; the kernel's torch form is eps_outside: same cost, and the result
                    differs only where r is near ε)
    adagrad         keras.optimizers.Adagrad(1e-3, initial_accumulator_value=0, epsilon=1e-7):
                    ε inside the root, the reference's eps_inside, as optax's (Keras's default
                    accumulator 0.1 is set to the reference's r₀ = 0)

On the torch backend these are Keras's own kernels: ``keras/src/backend/torch/optimizers``
(``TorchParallelOptimizer``) writes each update as a sequence of ``torch._foreach_*`` calls of
its own, and ``optimizer.apply`` adds Keras's per-step work (the iteration count, the learning
rate, the bias corrections as tensors). They are not torch.optim's: Keras's Adam makes ten
foreach calls, five of them into fresh vectors (g², m·α_t, √v, √v + ε and the quotient), where
torch's foreach Adam makes one (√v) and updates in place (``_foreach_addcdiv_``); RMSprop and
AdaGrad likewise, while Keras's SGD with momentum is in place throughout (and times as
torch's). One ``run`` is one
``optimizer.apply([g], [θ])``, what Keras's ``train_step`` calls; the slots (m, v, ...) are
built in ``prepare``, not in a timed call.

Not registered, and why: the other kernels' Keras ops are thin wrappers over the torch
function that ``provider_torch`` already times (on this backend ``keras.ops.gelu`` is
``torch.nn.functional.gelu``, ``keras.ops.softmax`` ``torch.softmax``, ``keras.ops.conv``
``torch.nn.functional.conv2d``, the sparse categorical cross-entropy from logits
``torch.nn.functional.cross_entropy``; ``keras/src/backend/torch/nn.py``): timing them again
would time torch plus Keras's argument conversion. BatchNormalization (``ops.moments``: a one-pass
variance, then ``x − μ`` times ``rsqrt(σ² + ε)·γ``) and dropout (a ``torch.bernoulli`` mask and
``torch.where``) are compositions of Keras's own, and a provider for them is future work: they
are layers (a ``keras.layers`` call with its bookkeeping, backward by autograd), not a step.

Timing waits for the result: on the torch backend Keras's variables are torch tensors, so a
cpu call is synchronous and a cuda one is waited for by ``torch.cuda.synchronize`` and timed
by CUDA events on torch's current stream (Keras launches there), as ``provider_torch``.
Devices: cpu, and cuda (or cuda:N) when torch sees a GPU; the variable, its slots and g are
made under ``keras.device``.

Keras is imported through the Keras target (``nnconform.checks.targets.keras``), which sets
``KERAS_BACKEND=torch`` before it imports keras and raises when this process's Keras has another
backend (Keras fixes it once per process): that is then Unsupported here, with its reason.
Nothing here imports keras until a kernel is prepared: its torch backend asks
``torch.cuda.is_available()`` at import, which must not happen in asv's forkserver before it
forks. Without keras (or torch) the provider registers nothing.

Sources: keras/src/optimizers/adam.py, sgd.py, rmsprop.py, adagrad.py and
keras/src/backend/torch/optimizers/torch_*.py (Keras 3.15); Kingma & Ba, "Adam", ICLR 2015, §2.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from nnconform.checks.perf import kernels
from nnconform.checks.perf.kernels import Kernel, Prepared, Provider, Unsupported, inputs

__all__ = ["KERNELS", "PROVIDER"]

# The kernels Keras has its own kernels for (see the module docstring for the others).
KERNELS = ("adam", "sgd_momentum", "rmsprop", "adagrad")
# Read when a kernel is prepared: tests plant wrong values here to see the agreement test
# catch them.
LR = kernels.LR


def _keras() -> Any:
    """keras on its torch backend, imported by the Keras target (which sets KERAS_BACKEND),
    or Unsupported saying why not."""
    try:
        from nnconform.checks.targets import TargetError
        from nnconform.checks.targets import keras as target
    except ImportError as error:
        raise Unsupported(f"keras is not installed ({error})") from None
    try:
        target._torch_backend()
    except TargetError as error:
        raise Unsupported(str(error)) from None
    return target.keras


def _device(torch: Any, device: str) -> Any:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise Unsupported(f"{device} is not available here: torch.cuda.is_available() is False")
    return torch.device(device)


def _optimizer(keras: Any, kernel: Kernel) -> Any:
    """The Keras optimiser with the other providers' hyper-parameters (module docstring)."""
    optimizers = keras.optimizers
    return {
        "adam": lambda: optimizers.Adam(LR, beta_1=0.9, beta_2=0.999, epsilon=1e-8),
        "sgd_momentum": lambda: optimizers.SGD(LR, momentum=0.9),
        "rmsprop": lambda: optimizers.RMSprop(LR, rho=0.9, epsilon=1e-6),
        "adagrad": lambda: optimizers.Adagrad(LR, initial_accumulator_value=0.0, epsilon=1e-7),
    }[kernel.name]()


def _prepare_optimizer(keras: Any, torch: Any, kernel: Kernel, dev: Any, data: dict):
    with keras.device(str(dev)):
        # copies: the shared inputs are read-only, and the step updates θ in place
        theta = keras.Variable(torch.tensor(data["theta"], device=dev), name="theta")
        g = torch.tensor(data["g"], device=dev)
        optimizer = _optimizer(keras, kernel)
        optimizer.build([theta])  # m, v, ... now, not in the first timed call

    def run() -> object:
        optimizer.apply([g], [theta])
        return theta.value

    return run


def _sync(torch: Any, dev: Any) -> Callable[[], None]:
    """CUDA calls return before the kernel ends: a timing must wait for the device."""
    if dev.type == "cuda":
        return lambda: torch.cuda.synchronize(dev)
    return lambda: None


def _prepare(kernel: Kernel, implementation: str, size: int, device: str, seed: int) -> Prepared:
    if implementation != "keras":
        raise ValueError(f"unknown keras implementation {implementation!r}: use 'keras'")
    if kernel.name not in KERNELS:
        raise Unsupported(
            f"keras has no kernel of its own for {kernel.name} (its ops wrap torch's, or its "
            f"layer is not benchmarked): keras runs {', '.join(KERNELS)}"
        )
    keras = _keras()
    import torch  # the Keras target imported it: Keras's tensors are torch's here

    dev = _device(torch, device)
    run = _prepare_optimizer(keras, torch, kernel, dev, inputs(kernel.name, size, seed))
    timer = "cuda-events" if dev.type == "cuda" else "wall"
    return kernels.prepared(kernel, implementation, device, size, run, _sync(torch, dev),
                            timer=timer)  # fmt: skip


def _available(kernel: Kernel, device: str) -> tuple[str, ...]:
    """("keras",) for the optimisers; nothing imported on cpu (asv forks after asking), torch
    asked for a GPU on cuda, as provider_torch does."""
    if kernel.name not in KERNELS:
        return ()
    if device != "cpu":
        import torch

        try:
            _device(torch, device)
        except Unsupported:
            return ()
    return ("keras",)


# Peak memory while running, in units of the kernel's float32 inputs (Kernel.input_bytes),
# measured as provider_adapter's are (tests/test_perf_memory.py, 2**24 elements) and rounded up
# by a quarter: the shared draw of θ and g (1), Keras's copies (1), its slots (m and v for Adam)
# and the temporaries of its unfused foreach calls (Adam's g², m·α_t, √v + ε, their quotient).
_PEAK_FACTOR = {
    "adam": 6.0,  # measured 4.5
    "sgd_momentum": 3.5,  # 2.5
    "rmsprop": 5.0,  # 4.0
    "adagrad": 5.0,  # 4.0
}
_OVERHEAD = 256 * 2**20  # keras's modules on top of torch's own allocations


def _peak_bytes(kernel: Kernel, implementation: str, size: int) -> int:
    return int(_PEAK_FACTOR.get(kernel.name, 5.0) * kernel.input_bytes(size)) + _OVERHEAD


if importlib.util.find_spec("keras") is None or importlib.util.find_spec("torch") is None:
    PROVIDER = kernels.missing(
        "keras",
        "keras is not installed (pip install 'nnconform[torch,keras]'): Keras's optimisers are "
        "not benchmarked",
        order=30,
    )
else:
    PROVIDER = Provider(
        name="keras",
        implementations=("keras",),
        available=_available,
        prepare=_prepare,
        peak_bytes=_peak_bytes,
        order=30,
    )
