"""The machine's sustainable memory bandwidth, after McCalpin's STREAM: the roofs of the roofline
against which a memory-bound kernel's GB/s is judged.

    copy    a ← b           reads b, writes a:             8 B per float32 element
    triad   a ← b + s·c     reads b and c, writes a:      12 B per float32 element
    update  a ← a + s·b     reads a and b, writes a:      12 B per float32 element, in place

as STREAM counts them (each array once per pass; the write-allocate read of a is not counted).
Copy and triad write an array they did not read, so the cache reads each of its lines before
writing it: triad really moves 16 B for the 12 it is credited with. Update writes only lines it
has just read and pays no such read: its 12 B are all it moves. A kernel that updates its
arrays in place (the optimiser steps, ``Kernel.in_place``) is in update's position, and would
pass 100 % of triad by up to 16/12; update is its roof. Every other kernel writes fresh output
arrays, as triad does, and triad is its roof. (STREAM's own four kernels, copy, scale, add
and triad, all write an array they did not read; update, BLAS's axpy, is the in-place pass
they lack.)

Each is run ``repeats`` times and the best time kept, as STREAM reports its best of NTIMES:
the best is the machine's capability, the others are the machine plus interference. The arrays
(2**25 float32 = 128 MiB each by default) are far larger than any last-level cache, so that the
loop streams from memory, not from cache.

With torch (when it imports) the passes are ``a.copy_(b)``, ``torch.add(b, c, alpha=s,
out=a)`` and ``a.add_(b, alpha=s)``, single passes over memory on all of torch's threads, on
the device; on cuda each is bracketed by ``torch.cuda.synchronize``. Without torch, numpy:
``np.copyto(a, b)`` for copy; numpy has no one-pass triad or update, so triad is
``np.multiply(c, s, out=a); a += b`` and update ``np.multiply(b, s, out=c); a += c``, each
moving 20 B per element (two passes) and counted as 20 B, so that its GB/s is what memory
actually carried.

Source: J. D. McCalpin, "Memory Bandwidth and Machine Balance in Current High Performance
Computers", IEEE TCCA Newsletter, December 1995; https://www.cs.virginia.edu/stream/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["stream"]

SCALAR = 3.0  # STREAM's scalar


def _best(operation: Callable[[], object], sync: Callable[[], None], repeats: int) -> float:
    """The shortest of ``repeats`` timed passes, after one untimed pass (first touch)."""
    operation()
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        operation()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


class Passes(NamedTuple):
    copy: Callable[[], object]
    triad: Callable[[], object]
    update: Callable[[], object]
    sync: Callable[[], None]
    threads: int
    arrays: tuple[Any, Any, Any]  # a, b, c


def _torch_passes(device: str, elements: int) -> Passes:
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} is not available here: no CUDA device")
    a = torch.zeros(elements, dtype=torch.float32, device=dev)
    b = torch.full((elements,), 1.0, dtype=torch.float32, device=dev)
    c = torch.full((elements,), 2.0, dtype=torch.float32, device=dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    copy = lambda: a.copy_(b)  # noqa: E731
    triad = lambda: torch.add(b, c, alpha=SCALAR, out=a)  # noqa: E731
    # a grows by 3 each pass (finite for 10**37 passes); the bytes moved do not depend on it
    update = lambda: a.add_(b, alpha=SCALAR)  # noqa: E731
    return Passes(copy, triad, update, sync, torch.get_num_threads(), (a, b, c))


def _numpy_passes(elements: int) -> Passes:
    a = np.zeros(elements, np.float32)
    b = np.full(elements, 1.0, np.float32)
    c = np.full(elements, 2.0, np.float32)

    def triad() -> None:
        np.multiply(c, np.float32(SCALAR), out=a)
        a.__iadd__(b)

    def update() -> None:
        np.multiply(b, np.float32(SCALAR), out=c)
        a.__iadd__(c)

    return Passes(lambda: np.copyto(a, b), triad, update, lambda: None, 1, (a, b, c))


def _torch_importable() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def stream(
    device: str = "cpu", *, elements: int = 2**25, repeats: int = 5, backend: str | None = None
) -> dict:
    """Copy, triad and update bandwidth in GB/s (10⁹ bytes per second) on ``device``.

    ``backend`` is "torch", "numpy" or None (torch when it imports, else numpy).
    """
    if isinstance(elements, bool) or not isinstance(elements, int) or elements < 1:
        raise ValueError(f"elements must be a positive integer, got {elements!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if backend is None:
        backend = "torch" if _torch_importable() else "numpy"
    if backend == "torch":
        passes = _torch_passes(device, elements)
        triad_bytes = update_bytes = 12
    elif backend == "numpy":
        if device != "cpu":
            raise ValueError(f"the numpy backend runs on cpu only, got device {device!r}")
        passes = _numpy_passes(elements)
        # numpy's triad and update take two passes each: see the docstring
        triad_bytes = update_bytes = 20
    else:
        raise ValueError(f"backend must be 'torch', 'numpy' or None, got {backend!r}")
    copy_s = _best(passes.copy, passes.sync, repeats)
    triad_s = _best(passes.triad, passes.sync, repeats)
    update_s = _best(passes.update, passes.sync, repeats)
    return {
        "device": device,
        "backend": backend,
        "threads": passes.threads,
        "elements": elements,
        "copy_gbs": 8 * elements / copy_s / 1e9,
        "triad_gbs": triad_bytes * elements / triad_s / 1e9,
        "update_gbs": update_bytes * elements / update_s / 1e9,
        "copy_bytes_per_element": 8,
        "triad_bytes_per_element": triad_bytes,
        "update_bytes_per_element": update_bytes,
        "repeats": repeats,
    }
