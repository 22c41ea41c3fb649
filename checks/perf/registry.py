"""The implementations of the benchmark kernels: every ``provider_<name>.py`` module of this
package, found by name, each exposing ``PROVIDER`` (a ``kernels.Provider``).

Adding a framework is adding one file, ``provider_<name>.py``: nothing here or in the kernels
names a framework. Imports run one way: a provider imports ``kernels`` (and whatever its library
needs), this module imports the providers, and ``kernels`` imports neither, so there is no
circle. A provider module is imported when the registry is first asked; it must not start its
library's device or thread pool at import (asv forks its benchmark processes after asking which
implementations exist). A provider whose library is missing registers nothing and leaves a
one-line ``note`` (``notes()``), which ``nnconform bench`` prints.

Names resolve in order: the first provider that lists the name owns it; any other name is a
target spec for the fallback provider, the adapter (``provider_adapter``).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from nnconform.checks import perf
from nnconform.checks.perf.kernels import (
    Kernel,
    Prepared,
    Provider,
    check_device,
    check_size,
    kernel,
)

__all__ = [
    "builtin",
    "implementations",
    "notes",
    "peak_bytes",
    "prepare",
    "provider_of",
    "providers",
]

PREFIX = "provider_"


@functools.cache
def providers() -> tuple[Provider, ...]:
    """Every provider module's PROVIDER, in their declared order (the adapter's first)."""
    found = []
    for info in pkgutil.iter_modules(perf.__path__):
        if info.name.startswith(PREFIX):
            module = importlib.import_module(f"{perf.__name__}.{info.name}")
            found.append(module.PROVIDER)
    return tuple(sorted(found, key=lambda p: (p.order, p.name)))


def builtin() -> tuple[str, ...]:
    """Every name a provider answers to here (a missing library's answer to none)."""
    return tuple(name for p in providers() for name in p.implementations)


def notes() -> tuple[str, ...]:
    """One line per provider that registered nothing: why."""
    return tuple(p.note for p in providers() if p.note)


def provider_of(implementation: str) -> Provider:
    """The provider that owns the name, else the fallback (a target spec)."""
    everything = providers()
    for p in everything:
        if implementation in p.implementations:
            return p
    return next(p for p in everything if p.fallback)


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
    device = check_device(device)
    return provider_of(implementation).prepare(k, implementation, size, device, seed)


def implementations(kernel_name: str, device: str = "cpu") -> tuple[str, ...]:
    """The built-in implementations that can run ``kernel`` on ``device`` here, in the
    providers' order: the reference on cpu, torch's paths where torch imports (on cuda where
    torch sees a GPU), JAX's where jax imports, Keras's optimisers where keras imports."""
    k = kernel(kernel_name)
    device = check_device(device)
    return tuple(name for p in providers() for name in p.available(k, device))


def peak_bytes(k: Kernel, implementation: str, size: int) -> int:
    """The memory one prepared, running ``implementation`` of ``k`` at ``size`` is estimated
    to hold (inputs, its own copies, state and temporaries), in bytes."""
    return int(provider_of(implementation).peak_bytes(k, implementation, size))
