"""The machine's sustainable memory bandwidth, after McCalpin's STREAM: the roof of the roofline
against which a memory-bound kernel's GB/s is judged.

    copy    a ← b           reads b, writes a:          8 B per float32 element
    triad   a ← b + s·c     reads b and c, writes a:   12 B per float32 element

as STREAM counts them (each array once per pass; the write-allocate read of a is not counted).
So a kernel that updates its arrays in place (a fused optimiser step writes only lines it has
just read) pays no write-allocate read and can pass 100 % of triad: by up to 16/12 when the
cache reads a line before every write.
Each is run ``repeats`` times and the best time kept, as STREAM reports its best of NTIMES:
the best is the machine's capability, the others are the machine plus interference. The arrays
(2**25 float32 = 128 MiB each by default) are far larger than any last-level cache, so that the
loop streams from memory, not from cache.

With torch (when it imports) the passes are ``a.copy_(b)`` and ``torch.add(b, c, alpha=s,
out=a)``, single passes over memory on all of torch's threads, on the device; on cuda each is
bracketed by ``torch.cuda.synchronize``. Without torch, numpy: ``np.copyto(a, b)`` for copy,
and for triad ``np.multiply(c, s, out=a); a += b``, since numpy has no one-pass triad; that
moves 20 B per element (read c, write a; read a and b, write a) and is counted as 20 B, so
that its GB/s is what memory actually carried.

Source: J. D. McCalpin, "Memory Bandwidth and Machine Balance in Current High Performance
Computers", IEEE TCCA Newsletter, December 1995; https://www.cs.virginia.edu/stream/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

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


def _torch_passes(device: str, elements: int) -> tuple[Any, Any, Any, int]:
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
    return copy, triad, sync, torch.get_num_threads()


def _numpy_passes(elements: int) -> tuple[Any, Any, Any]:
    a = np.zeros(elements, np.float32)
    b = np.full(elements, 1.0, np.float32)
    c = np.full(elements, 2.0, np.float32)

    def triad() -> None:
        np.multiply(c, np.float32(SCALAR), out=a)
        a.__iadd__(b)

    return (lambda: np.copyto(a, b)), triad, (lambda: None)


def _torch_importable() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def stream(
    device: str = "cpu", *, elements: int = 2**25, repeats: int = 5, backend: str | None = None
) -> dict:
    """Copy and triad bandwidth in GB/s (10⁹ bytes per second) on ``device``.

    ``backend`` is "torch", "numpy" or None (torch when it imports, else numpy).
    """
    if isinstance(elements, bool) or not isinstance(elements, int) or elements < 1:
        raise ValueError(f"elements must be a positive integer, got {elements!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if backend is None:
        backend = "torch" if _torch_importable() else "numpy"
    if backend == "torch":
        copy, triad, sync, threads = _torch_passes(device, elements)
        triad_bytes = 12
    elif backend == "numpy":
        if device != "cpu":
            raise ValueError(f"the numpy backend runs on cpu only, got device {device!r}")
        copy, triad, sync = _numpy_passes(elements)
        threads, triad_bytes = 1, 20  # numpy's triad takes two passes: see the docstring
    else:
        raise ValueError(f"backend must be 'torch', 'numpy' or None, got {backend!r}")
    copy_s = _best(copy, sync, repeats)
    triad_s = _best(triad, sync, repeats)
    return {
        "device": device,
        "backend": backend,
        "threads": threads,
        "elements": elements,
        "copy_gbs": 8 * elements / copy_s / 1e9,
        "triad_gbs": triad_bytes * elements / triad_s / 1e9,
        "copy_bytes_per_element": 8,
        "triad_bytes_per_element": triad_bytes,
        "repeats": repeats,
    }
