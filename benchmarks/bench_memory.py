"""The machine's memory bandwidth, STREAM copy, triad and update (McCalpin 1995; update is the
in-place a ← a + s·b, the roof of the in-place optimiser steps), beside the kernels.

Recorded with each commit's results so that a change in a memory-bound kernel's s/GB can be
told apart from a change in the machine (a new kernel, another memory configuration, a busy
neighbour): if the STREAM figures moved too, the machine did. Reported in seconds per GB, the
inverse of GB/s, because asv reads every benchmark as lower-is-better.
"""

from typing import ClassVar

from .common import DEVICES

try:
    from nnconform.checks.perf.stream import stream
except ImportError:  # pragma: no cover - an older commit (see common.py)
    try:
        from checks.perf.stream import stream  # noqa: TID251  (commits before nnconform.*)
    except ImportError as error:
        stream = None
        _MISSING = f"nnconform.checks.perf.stream is not importable in this environment: {error}"


class Stream:
    """Best of 5 passes over 2**25-element float32 arrays (128 MiB each, far beyond any cache):
    with torch, on the device and on all of torch's threads; without it, numpy on cpu."""

    params: ClassVar[list[list[str]]] = [DEVICES]
    param_names: ClassVar[list[str]] = ["device"]
    timeout = 120.0

    def setup(self, device):
        if stream is None:
            raise NotImplementedError(_MISSING)
        if device != "cpu":
            try:
                import torch
            except ImportError:
                raise NotImplementedError(f"{device} needs torch, which is not installed") from None
            if not torch.cuda.is_available():
                raise NotImplementedError(f"{device} is not available here: no CUDA device")

    def track_copy_seconds_per_gb(self, device):
        return 1.0 / stream(device)["copy_gbs"]

    track_copy_seconds_per_gb.unit = "s/GB"

    def track_triad_seconds_per_gb(self, device):
        return 1.0 / stream(device)["triad_gbs"]

    track_triad_seconds_per_gb.unit = "s/GB"

    def track_update_seconds_per_gb(self, device):
        return 1.0 / stream(device)["update_gbs"]

    track_update_seconds_per_gb.unit = "s/GB"
