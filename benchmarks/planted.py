"""A planted slowdown, to measure what ``nnconform bench`` and ``asv continuous`` can detect.

Each attribute is a target (``benchmarks.planted:same``, ``...:slow5``, ...) whose
``bench_adam`` runs one Adam step in place on float32 numpy arrays (the same work for all of
them: Kingma & Ba 2015, Algorithm 1, in PyTorch's form), then spins for a planted fraction of
the CPU time that step took: ``slow5`` does 5 % more work than ``same``. CPU time, not wall
time: on a busy machine the step's wall time includes the time it waited for a core, and a
spin until a wall-clock deadline ends up to a scheduler slice late (milliseconds), which
planted 40 % instead of 5 % on 2 cores at load 16; the thread's CPU clock counts only the work.
``same`` and ``twin`` are identical (an A-against-A comparison must read "same").

``planted`` takes its fraction from NNCONFORM_PLANTED (default 0), for asv, which compares one
benchmark across two runs: run once with it unset and once with NNCONFORM_PLANTED=0.10, each
saved under its own commit hash, and ``asv compare`` the two (README: "Benchmarks across
commits").

    nnconform bench --target benchmarks.planted:same --target benchmarks.planted:slow10 \\
        --kernel adam --size 2^20
"""

from __future__ import annotations

import os
import time

import numpy as np

__all__ = ["Planted", "planted", "same", "slow5", "slow10", "slow50", "twin"]

BETA1, BETA2, EPS, LR = 0.9, 0.999, 1e-8, 1e-3


class Planted:
    """A target with one native kernel, ``bench_adam``, slowed by ``extra`` (a fraction)."""

    devices = ("cpu",)
    version = "planted"

    def __init__(self, name: str, extra: float) -> None:
        self.name = name
        self.extra = extra

    def bench_adam(self, size: int, device: str, seed: int):
        rng = np.random.default_rng(seed)
        theta = rng.standard_normal(size, dtype=np.float32)
        g = rng.standard_normal(size, dtype=np.float32)
        m, v, scratch = np.zeros_like(theta), np.zeros_like(theta), np.empty_like(theta)
        step = [0]
        extra = self.extra

        def run() -> np.ndarray:
            start = time.thread_time()
            step[0] += 1
            t = step[0]
            # in place, with out=: the arrays belong to the closure (an augmented assignment
            # would make them its locals)
            np.multiply(m, BETA1, out=m)
            np.multiply(g, 1 - BETA1, out=scratch)
            np.add(m, scratch, out=m)
            np.multiply(v, BETA2, out=v)
            np.multiply(g, g, out=scratch)
            np.multiply(scratch, 1 - BETA2, out=scratch)
            np.add(v, scratch, out=v)
            # θ ← θ − lr · m̂ / (√v̂ + ε), the bias corrections folded into the step size
            np.sqrt(v, out=scratch)
            np.divide(scratch, np.sqrt(1 - BETA2**t), out=scratch)
            np.add(scratch, EPS, out=scratch)
            np.divide(m, scratch, out=scratch)
            np.multiply(scratch, LR / (1 - BETA1**t), out=scratch)
            np.subtract(theta, scratch, out=theta)
            if extra:
                now = time.thread_time()
                until = now + extra * (now - start)
                while time.thread_time() < until:
                    pass
            return theta

        return run


same = Planted("same", 0.0)
twin = Planted("twin", 0.0)
slow5 = Planted("slow5", 0.05)
slow10 = Planted("slow10", 0.10)
slow50 = Planted("slow50", 0.50)
planted = Planted("planted", float(os.environ.get("NNCONFORM_PLANTED", "0") or 0))
