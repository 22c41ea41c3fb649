"""A record of the machine and software a benchmark ran on, stored with its results: timings
from two runs compare only when these agree (or differ in the one thing being compared).

Keys of ``machine_info``:

    cpu_model       /proc/cpuinfo's "model name" (Linux), else platform.processor()
    logical_cores   os.cpu_count()
    threads         torch.get_num_threads() (None without torch): torch's intra-op threads
    platform        platform.platform()
    python, numpy, torch, asv, nnconform   versions (None when not installed)
    blas            numpy's BLAS from numpy.show_config(mode="dicts"): {"name", "version"}
    allocator       the environment variables that change allocation and threading, as set
                    (LD_PRELOAD of jemalloc or tcmalloc, MALLOC_*, OMP_NUM_THREADS, ...)
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
from importlib.metadata import PackageNotFoundError, version

__all__ = ["ALLOCATOR_VARIABLES", "machine_info"]

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
    try:
        import torch
    except ImportError:
        torch = None
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
        "asv": _version("asv"),
        "nnconform": _version("nnconform"),
        "blas": _blas(),
        "allocator": _allocator(),
        "device": device,
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "cuda": torch.version.cuda if cuda else None,
        "git_commit": _git_commit(),
    }
