"""Hypothesis strategies for the checks: small arrays of moderate values, kept away from kinks.

Inputs are drawn in float64 and rounded to the dtype under check before both the target and
the oracle see them, so that the comparison measures the target's arithmetic, not the rounding
of its inputs.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnconform.reference.registry import entry

__all__ = ["SEEDS", "arrays", "away_from", "directions", "exp_range", "modes", "shapes"]


# Seeds for numpy generators inside a check: drawn by Hypothesis, so that they shrink and replay.
SEEDS = st.integers(0, 2**32 - 1)


def shapes(*, min_dims: int = 1, max_dims: int = 3, min_side: int = 1, max_side: int = 5):
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def arrays(
    shape=None, *, low: float = -5.0, high: float = 5.0, dtype: str = "float64"
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of finite values in [low, high], rounded to ``dtype``."""
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)
    return hnp.arrays(np.float64, shape if shape is not None else shapes(), elements=elements).map(
        lambda a: a.astype(dtype)
    )


def away_from(x: np.ndarray, kinks: Iterable[float], margin: float = 1e-2) -> np.ndarray:
    """Move the points of ``x`` within ``margin`` of a kink out to 2·margin from it, so that
    neither a derivative nor a central difference straddles the kink."""
    for k in kinks:
        near = np.abs(x - k) < margin
        x = np.where(near, k + np.where(x >= k, 2, -2) * margin, x).astype(x.dtype)
    return x


def directions(seed: int, shape: tuple[int, ...], count: int = 2) -> list[np.ndarray]:
    """Random unit-variance directions for directional derivatives (seeded by Hypothesis)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(count)]


def exp_range(dtype: str) -> tuple[float, float]:
    """The arguments where exp leaves the dtype's range: below the first, exp(a) is smaller
    than the smallest subnormal (−103.3 in float32, −744.4 in float64) and rounds to 0; above
    the second, it exceeds the largest finite value (88.72, 709.78) and is inf."""
    info = np.finfo(dtype)
    return float(np.log(float(info.smallest_subnormal))), float(np.log(float(info.max)))


def modes(algorithm: str) -> list[tuple[str, str]]:
    """Every documented mode of a catalogue id, as (keyword, value) pairs: a check calls the
    target in each (``weight_decay_mode="decoupled"``) against the oracle in the same mode,
    and a target that does not take one is unsupported in that mode. The call without a
    keyword is what measures which variant the target is by default."""
    return [(keyword, v) for keyword, values in entry(algorithm).variants.items() for v in values]
