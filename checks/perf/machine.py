"""A record of the machine and software a benchmark ran on, stored with its results: timings
from two runs compare only when these agree (or differ in the one thing being compared).

Keys of ``machine_info``:

    cpu_model       /proc/cpuinfo's "model name" (Linux), else platform.processor()
    logical_cores   os.cpu_count()
    threads         torch.get_num_threads(): torch's intra-op threads (None where the run did
                    not load torch: the record never imports it, 2 s of a 4 s check run)
    platform        platform.platform()
    python, numpy, torch, asv, nnconform   versions (None when not installed)
    blas            numpy's BLAS from numpy.show_config(mode="dicts"): {"name", "version"}
    allocator       the environment variables that change allocation and threading, as set
                    (LD_PRELOAD of jemalloc or tcmalloc, MALLOC_*, OMP_NUM_THREADS, ...)
    llc_bytes       the last-level cache's size in bytes (the highest level in
                    /sys/devices/system/cpu/cpu0/cache; None where unknown): a working set
                    larger than this streams from memory
    memory_bytes    the machine's memory (MemTotal in /proc/meminfo; None where unknown)
    jax             jax's version (None when not installed)
    device          the device benchmarked
    gpu             torch.cuda.get_device_name on cuda (None on cpu)
    cuda            torch.version.cuda on cuda (None on cpu)
    git_commit      the commit checked out in the working directory (None outside git)
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["ALLOCATOR_VARIABLES", "available_memory", "last_level_cache", "machine_info"]

ALLOCATOR_VARIABLES = (
    "LD_PRELOAD",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "PYTORCH_CUDA_ALLOC_CONF",
)


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def last_level_cache() -> int | None:
    """The size in bytes of cpu0's highest-level cache (Linux sysfs), None where unknown."""
    best: tuple[int, int] | None = None
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = int((index / "level").read_text())
            size = _bytes((index / "size").read_text())
        except (OSError, ValueError):
            continue
        if best is None or level > best[0]:
            best = (level, size)
    return None if best is None else best[1]


def _bytes(text: str) -> int:
    """'32768K' (sysfs) or '22825384 kB' (/proc/meminfo) as bytes."""
    text = text.strip().removesuffix("B").removesuffix("b").strip()
    scale = {"K": 2**10, "k": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    return int(text.rstrip("KkMG").strip()) * scale


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                name, _, value = line.partition(":")
                if name == key:
                    return _bytes(value)
    except (OSError, ValueError):
        pass
    return None


def _cgroup_headroom() -> int | None:
    """What the memory cgroup (v2, else v1) still allows, None when it sets no limit."""
    v1 = "/sys/fs/cgroup/memory/memory"
    for limit, usage in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (f"{v1}.limit_in_bytes", f"{v1}.usage_in_bytes"),
    ):
        try:
            cap, used = Path(limit).read_text().strip(), Path(usage).read_text().strip()
        except OSError:
            continue
        if cap == "max" or int(cap) >= 2**60:  # v1 writes "no limit" as a huge number
            return None
        return max(0, int(cap) - int(used))
    return None


def available_memory(device: str = "cpu") -> int | None:
    """Bytes a new allocation can take without swapping or being killed, None where unknown:
    on cpu the smaller of MemAvailable and the memory cgroup's headroom; on cuda the device's
    free memory (torch.cuda.mem_get_info)."""
    if device.startswith("cuda"):
        try:
            import torch
        except ImportError:
            return None
        if not torch.cuda.is_available():
            return None
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    known = [v for v in (_meminfo("MemAvailable"), _cgroup_headroom()) if v is not None]
    return min(known) if known else None


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _blas() -> dict | None:
    """numpy's BLAS as numpy reports it (numpy >= 1.25 returns a dict in mode="dicts")."""
    import numpy as np

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # older numpy prints as well
            config = np.show_config(mode="dicts")
    except TypeError:  # numpy < 1.25: no mode
        return None
    blas = ((config or {}).get("Build Dependencies") or {}).get("blas") or {}
    return {"name": blas.get("name"), "version": blas.get("version")} if blas else None


def _allocator() -> dict[str, str]:
    names = [n for n in os.environ if n.startswith("MALLOC_")] + list(ALLOCATOR_VARIABLES)
    return {n: os.environ[n] for n in sorted(set(names)) if n in os.environ}


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def machine_info(device: str = "cpu") -> dict:
    """The record described in the module docstring."""
    torch = sys.modules.get("torch")  # loaded by the run's target or implementations, if any
    if torch is None and device.startswith("cuda"):
        try:  # a GPU's name and CUDA version, for a run on cuda that did not load torch
            import torch
        except ImportError:
            pass
    cuda = torch is not None and device.startswith("cuda") and torch.cuda.is_available()
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "threads": torch.get_num_threads() if torch is not None else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": _version("numpy"),
        "torch": _version("torch"),
        "jax": _version("jax"),
        "asv": _version("asv"),
        "nnconform": _version("nnconform"),
        "blas": _blas(),
        "llc_bytes": last_level_cache(),
        "memory_bytes": _meminfo("MemTotal"),
        "allocator": _allocator(),
        "device": device,
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "cuda": torch.version.cuda if cuda else None,
        "git_commit": _git_commit(),
    }
