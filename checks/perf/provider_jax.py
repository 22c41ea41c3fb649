"""JAX's own paths for the benchmark kernels: one ``jax.jit``-compiled function per kernel, on
JAX's arrays on the device, in float32.

    adam            optax.adam(1e-3): β = (0.9, 0.999), ε = 1e-8 outside the root, as the
                    reference's
    sgd_momentum    optax.sgd(1e-3, momentum=0.9): v ← g + 0.9 v, θ ← θ − lr v (lr outside the
                    velocity, PyTorch's form)
    rmsprop         optax.rmsprop(1e-3, decay=0.9, eps=1e-6, eps_in_sqrt=False): ε outside
                    the root, PyTorch's form
    adagrad         optax.adagrad(1e-3, initial_accumulator_value=0, eps=1e-7): optax puts ε
                    inside the root, 1/√(r + ε), and offers no option to move it (optax
                    ``scale_by_rss``); the cost is the same, the result differs only where
                    r is near ε (tests/test_perf_kernels.py compares it with that formula)
    batch_norm_*    flax.linen.BatchNorm(axis=1, momentum=0.9, epsilon=1e-5) in training,
                    forward and ``jax.vjp`` backward (dx, dγ, dβ); flax's default one-pass
                    variance (E[x²] − E[x]², ``use_fast_variance``), as flax users run it
    cross_entropy   optax.softmax_cross_entropy_with_integer_labels(z, y).mean(), with
                    ``jax.value_and_grad``
    gelu            jax.nn.gelu(x, approximate=False): the erf form (JAX's default is tanh)
    softmax         jax.nn.softmax(z, axis=-1)
    dropout         a new key each call (jax.random.split), jax.random.bernoulli(key, 0.9),
                    x / 0.9 where kept: what flax.linen.Dropout(rate=0.1) does
    conv2d          jax.lax.conv_general_dilated in NCHW / OIHW, forward and ``jax.vjp``
                    backward (dx, dw, db)
    mlp_step        784-256-10 ReLU, weights (out, in) as the reference's, the mean
                    cross-entropy, ``jax.grad`` and an optax.sgd(0.01) update

Compilation happens in ``prepare``, ahead of time (``jit(...).lower(...).compile()``), never in
a timed call. JAX dispatches asynchronously: a call returns before its result exists. A
stateful kernel (an optimiser step, dropout's key, the MLP's parameters) chains every call on
the last one's result, so waiting for the last waits for all; a stateless one waits for the
previous call's result after dispatching the next, so that at most two are in flight. ``sync``
waits for the last (``jax.block_until_ready``): each timed sample ends with it. The steps'
parameters and state are donated to the compiled step (``donate_argnums``), so that XLA updates
them in place, as a training loop with donation does.

Devices: cpu; cuda (or cuda:N) when JAX has a GPU backend, else unsupported with a one-line
reason. JAX would reserve 75 % of a GPU's memory when its backend starts; this provider sets
``XLA_PYTHON_CLIENT_PREALLOCATE=false`` first, unless it is set, so that torch and JAX can be
timed on one GPU. JAX's CPU thread pool is its own (``--threads`` sets torch's only).

Nothing here imports jax until a kernel is prepared (asv lists the implementations and then
forks: a started JAX backend does not survive a fork). Without jax the provider registers
nothing; without optax (the optimisers, cross_entropy, the MLP) or flax (batch_norm) those
kernels are unsupported.

Sources: optax (alias.py: adam, sgd, rmsprop, adagrad; transform.py: scale_by_rss), flax.linen
(normalization.py: BatchNorm; stochastic.py: Dropout), JAX's docs on asynchronous dispatch,
ahead-of-time lowering and buffer donation.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from nnconform.checks.perf import kernels
from nnconform.checks.perf.kernels import Kernel, Prepared, Provider, Unsupported, inputs

__all__ = ["PROVIDER"]

# Read when a kernel is prepared: tests plant wrong values here to see the agreement test
# catch them.
LR, MLP_LR, KEEP = kernels.LR, kernels.MLP_LR, kernels.KEEP
_NEEDS = {"optimizers": "optax", "normalization": "flax", "cross_entropy": "optax",
          "mlp_step": "optax"}  # fmt: skip


def _library(name: str) -> Any:
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise Unsupported(f"{name} is not installed ({error})") from None


def _needs(kernel: Kernel) -> str | None:
    return _NEEDS.get(kernel.name, _NEEDS.get(kernel.family))


def _device(jax: Any, device: str) -> Any:
    """The JAX device for 'cpu', 'cuda' or 'cuda:N', or Unsupported saying why not."""
    if device == "cpu":
        return jax.devices("cpu")[0]
    index = int(device.partition(":")[2] or 0)
    try:
        gpus = jax.devices("cuda")
    except RuntimeError as error:  # no CUDA backend: a CPU-only jaxlib, or no GPU
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise Unsupported(f"{device} is not available to jax here: {reason}") from None
    if index >= len(gpus):
        raise Unsupported(f"{device} is not available to jax here: it sees {len(gpus)} GPU(s)")
    return gpus[index]


def _stateful(compiled: Callable, state: tuple, fixed: tuple, main: Callable):
    """run(): state ← compiled(*state, *fixed); every call waits on the last one's state."""
    import jax

    current = [state]

    def run() -> object:
        current[0] = compiled(*current[0], *fixed)
        return main(current[0])

    return run, lambda: jax.block_until_ready(current[0])


def _stateless(compiled: Callable, arguments: tuple, main: Callable):
    """run(): out ← compiled(*arguments); then wait for the previous call's out."""
    import jax

    last: list[Any] = [None]

    def run() -> object:
        previous, last[0] = last[0], compiled(*arguments)
        if previous is not None:
            jax.block_until_ready(previous)
        return main(last[0])

    return run, lambda: jax.block_until_ready(last[0])


def _compile(function: Callable, arguments: tuple, donate: tuple[int, ...] = ()) -> Callable:
    import jax

    return jax.jit(function, donate_argnums=donate).lower(*arguments).compile()


def _optimizer(optax: Any, kernel: Kernel) -> Any:
    """The optax transformation that computes the kernel's step (see the module docstring)."""
    return {
        "adam": lambda: optax.adam(LR),
        "sgd_momentum": lambda: optax.sgd(LR, momentum=0.9),
        "rmsprop": lambda: optax.rmsprop(LR, decay=0.9, eps=1e-6, eps_in_sqrt=False),
        "adagrad": lambda: optax.adagrad(LR, initial_accumulator_value=0.0, eps=1e-7),
    }[kernel.name]()


def _prepare_optimizer(jax, kernel, put, data):
    optax = _library("optax")
    tx = _optimizer(optax, kernel)

    def step(theta, state, g):
        updates, state = tx.update(g, state, theta)
        return optax.apply_updates(theta, updates), state

    theta, g = put(data["theta"]), put(data["g"])
    state = tx.init(theta)
    compiled = _compile(step, (theta, state, g), donate=(0, 1))
    return _stateful(compiled, (theta, state), (g,), main=lambda s: s[0])


def _prepare_batch_norm(jax, kernel, put, data):
    nn = _library("flax.linen")
    bn = nn.BatchNorm(use_running_average=False, axis=1, momentum=0.9, epsilon=1e-5)
    params = {"scale": put(data["gamma"]), "bias": put(data["beta"])}
    stats = {"mean": put(data["running_mean"]), "var": put(data["running_var"])}

    def forward_backward(params, stats, x, dy):
        def forward(x, params):
            y, updated = bn.apply(
                {"params": params, "batch_stats": stats}, x, mutable=["batch_stats"]
            )
            return y, updated["batch_stats"]

        _, vjp, updated = jax.vjp(forward, x, params, has_aux=True)
        dx, dparams = vjp(dy)
        return dx, dparams, updated

    arguments = (params, stats, put(data["x"]), put(data["dy"]))
    compiled = _compile(forward_backward, arguments)
    return _stateless(compiled, arguments, main=lambda out: out[0])


def _prepare_cross_entropy(jax, kernel, put, data):
    optax = _library("optax")

    def loss(z, y):
        return optax.softmax_cross_entropy_with_integer_labels(z, y).mean()

    arguments = (put(data["z"]), put(data["y"].astype(np.int32)))
    compiled = _compile(jax.value_and_grad(loss), arguments)
    return _stateless(compiled, arguments, main=lambda out: out[1])


def _prepare_dropout(jax, kernel, put, data, seed):
    jnp = jax.numpy
    keep = KEEP

    def dropout(key, x):
        key, draw = jax.random.split(key)
        kept = jax.random.bernoulli(draw, keep, x.shape)
        return key, jnp.where(kept, x / keep, 0.0)

    x = put(data["x"])
    key = jax.device_put(jax.random.key(seed), x.device)
    # only the key is state; x is an argument of every call, y its result
    compiled = _compile(dropout, (key, x), donate=(0,))
    state: list[Any] = [key, None]

    def run() -> object:
        state[0], state[1] = compiled(state[0], x)
        return state[1]

    return run, lambda: jax.block_until_ready(state[1])


def _prepare_conv2d(jax, kernel, put, data):
    lax = jax.lax

    def conv_backward(x, w, b, dy):
        def conv(x, w, b):
            y = lax.conv_general_dilated(
                x, w, window_strides=(1, 1), padding=((1, 1), (1, 1)),
                dimension_numbers=("NCHW", "OIHW", "NCHW"),
            )  # fmt: skip
            return y + b[None, :, None, None]

        _, vjp = jax.vjp(conv, x, w, b)
        return vjp(dy)  # (dx, dw, db)

    arguments = tuple(put(data[n]) for n in ("x", "w", "b", "dy"))
    compiled = _compile(conv_backward, arguments)
    return _stateless(compiled, arguments, main=lambda out: out)


def _prepare_mlp(jax, kernel, put, data):
    optax = _library("optax")
    tx = optax.sgd(MLP_LR)

    def loss(params, x, y):
        (W1, b1), (W2, b2) = params
        h = jax.nn.relu(x @ W1.T + b1)  # (B, 256); weights (out, in) as the reference's
        return optax.softmax_cross_entropy_with_integer_labels(h @ W2.T + b2, y).mean()

    def step(params, state, x, y):
        updates, state = tx.update(jax.grad(loss)(params, x, y), state, params)
        return optax.apply_updates(params, updates), state

    params = [(put(data["W1"]), put(data["b1"])), (put(data["W2"]), put(data["b2"]))]
    x, y = put(data["x"]), put(data["y"].astype(np.int32))
    state = tx.init(params)
    compiled = _compile(step, (params, state, x, y), donate=(0, 1))
    return _stateful(compiled, (params, state), (x, y), main=lambda s: s[0])


def _prepare(kernel: Kernel, implementation: str, size: int, device: str, seed: int) -> Prepared:
    if implementation != "jax":
        raise ValueError(f"unknown jax implementation {implementation!r}: use 'jax'")
    jax = _library("jax")
    needed = _needs(kernel)
    if needed is not None:
        _library(needed)
    dev = _device(jax, device)

    def put(array: np.ndarray) -> Any:
        # a private copy: on cpu device_put may alias the numpy array's memory, and a donated
        # buffer is written in place; the inputs are shared with the other implementations
        return jax.device_put(np.array(array, copy=True), dev)

    data = inputs(kernel.name, size, seed)
    if kernel.family == "optimizers":
        run, sync = _prepare_optimizer(jax, kernel, put, data)
    elif kernel.family == "normalization":
        run, sync = _prepare_batch_norm(jax, kernel, put, data)
    elif kernel.name == "cross_entropy":
        run, sync = _prepare_cross_entropy(jax, kernel, put, data)
    elif kernel.name == "gelu":
        arguments = (put(data["x"]),)
        compiled = _compile(lambda x: jax.nn.gelu(x, approximate=False), arguments)
        run, sync = _stateless(compiled, arguments, main=lambda out: out)
    elif kernel.name == "softmax":
        arguments = (put(data["z"]),)
        compiled = _compile(lambda z: jax.nn.softmax(z, axis=-1), arguments)
        run, sync = _stateless(compiled, arguments, main=lambda out: out)
    elif kernel.name == "dropout":
        run, sync = _prepare_dropout(jax, kernel, put, data, seed)
    elif kernel.name == "conv2d":
        run, sync = _prepare_conv2d(jax, kernel, put, data)
    elif kernel.name == "mlp_step":
        run, sync = _prepare_mlp(jax, kernel, put, data)
    else:  # pragma: no cover - a kernel added without a JAX path
        raise Unsupported(f"no JAX path for {kernel.name}")
    return kernels.prepared(kernel, implementation, device, size, run, sync)


def _available(kernel: Kernel, device: str) -> tuple[str, ...]:
    """("jax",) where jax (and the kernel's optax or flax) is installed. On cpu nothing is
    imported (asv forks after asking); on cuda JAX's GPU backend is asked."""
    needed = _needs(kernel)
    if needed is not None and importlib.util.find_spec(needed.split(".")[0]) is None:
        return ()
    if device != "cpu":
        try:
            _device(_library("jax"), device)
        except Unsupported:
            return ()
    return ("jax",)


# Peak memory while running, in units of the kernel's float32 inputs (Kernel.input_bytes),
# measured as provider_adapter's are and rounded up by a quarter: the shared draw of the
# inputs (1), the device copies (1), the outputs of two calls in flight, XLA's temporaries.
_PEAK_FACTOR = {
    "optimizers": 4.0,  # measured 3.0 (donated: updated in place)
    "normalization": 3.5,  # 2.5
    "cross_entropy": 4.0,  # 3.1
    "gelu": 4.0,  # 3.0
    "softmax": 5.0,  # 4.0
    "dropout": 7.5,  # 6.1: x, y of two calls, the mask's random bits
    "conv2d": 10.0,  # 8.1
    "mlp_step": 4.0,  # 3.1
}
_OVERHEAD = 256 * 2**20  # jaxlib, XLA's compiler and its thread pool


def _peak_bytes(kernel: Kernel, implementation: str, size: int) -> int:
    factor = _PEAK_FACTOR.get(kernel.name, _PEAK_FACTOR.get(kernel.family, 4.0))
    return int(factor * kernel.input_bytes(size)) + _OVERHEAD


if importlib.util.find_spec("jax") is None:
    PROVIDER = kernels.missing(
        "jax",
        "jax is not installed (pip install 'nnconform[jax]'): JAX's paths are not benchmarked",
        order=20,
    )
else:
    PROVIDER = Provider(
        name="jax",
        implementations=("jax",),
        available=_available,
        prepare=_prepare,
        peak_bytes=_peak_bytes,
        order=20,
    )
