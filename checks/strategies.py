"""Hypothesis strategies for the checks: small arrays of moderate values, kept away from kinks
(``arrays``, ``away_from``), and values in every input regime of a dtype (``values``,
``value_arrays``, ``edges``, ``probabilities``): the kinks and ±0.0, the thresholds where exp
overflows and underflows, huge magnitudes and subnormals, where real implementations break.

Inputs are drawn in float64 and rounded to the dtype under check before both the target and
the oracle see them, so that the comparison measures the target's arithmetic, not the rounding
of its inputs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnconform.reference.registry import entry

__all__ = [
    "SEEDS",
    "arrays",
    "away_from",
    "directions",
    "edges",
    "exp_range",
    "long_runs",
    "modes",
    "probabilities",
    "shapes",
    "value_arrays",
    "values",
]


# Seeds for numpy generators inside a check: drawn by Hypothesis, so that they shrink and replay.
SEEDS = st.integers(0, 2**32 - 1)


def long_runs(share: int = 5) -> settings:
    """The settings of a check whose every example is a long run (thousands of solver steps,
    each a call into the target): 1/``share`` of the profile's examples (5 of ci's 25, 60 of
    thorough's 300, at least 2). The profile is loaded before the checks are imported, so the
    loaded one is read here."""
    return settings(max_examples=max(2, settings.default.max_examples // share))


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


# --- every input regime of a dtype ------------------------------------------------------


def _thresholds(dtype: str) -> tuple[float, ...]:
    """Where exp leaves the dtype's normal range: it overflows above log(max) (88.72 in
    float32, 709.78 in float64), turns subnormal below log(tiny) (−87.34, −708.40) and rounds
    to 0 below log(smallest subnormal) (−103.28, −744.44)."""
    underflow, overflow = exp_range(dtype)
    return overflow, float(np.log(float(np.finfo(dtype).tiny))), underflow


def values(
    dtype: str = "float64", *, kinks: Iterable[float] = (), magnitude: float | None = None
) -> st.SearchStrategy[float]:
    """Single values, drawn as values (Hypothesis shrinks them), from every input regime of
    ``dtype``, each branch about equally often:

    - moderate values in [−10, 10];
    - the ``kinks`` and ±0.0, exactly;
    - the thresholds of exp (``_thresholds``), of either sign, ± up to 1;
    - huge magnitudes, log-uniform from 100 up to ``magnitude`` (default: the dtype's
      largest finite value; a function whose true value overflows for inputs far below it,
      a sum of squares, say, passes a bound where its value stays finite);
    - subnormals of the dtype, of either sign.

    Floats in float64, representable in ``dtype`` once rounded (``value_arrays`` rounds)."""
    return _values(np.dtype(dtype).name, tuple(kinks), magnitude)


# Hypothesis validates a strategy object at its first draw, which costs more than the draw: one
# object per set of arguments, built once and reused by every example of every check.
@functools.cache
def _values(dtype: str, kinks: tuple[float, ...], magnitude: float | None):
    info = np.finfo(dtype)
    top = float(info.max) if magnitude is None else float(magnitude)
    moderate = st.floats(-10.0, 10.0)
    at_kinks = st.sampled_from([0.0, -0.0, *kinks])
    signed = [s * t for t in _thresholds(dtype) for s in (1.0, -1.0)]
    near = st.builds(lambda t, d: t + d, st.sampled_from(signed), st.floats(-1, 1))
    tiny = float(info.tiny)  # the subnormals lie in (−tiny, tiny), 0 excepted; floats of
    # the dtype's own width, or most would be float64 numbers that round to 0 in float32
    subnormal = st.floats(-tiny, tiny, exclude_min=True, exclude_max=True, width=info.bits)
    if top <= 100.0:
        return st.one_of(moderate, at_kinks, near, subnormal)
    low, high = float(np.log(100.0)), float(np.log(top))  # |v| = e^(low + |u|), sign of u
    huge = st.floats(low - high, high - low).map(
        lambda u: float(np.copysign(min(float(np.exp(low + abs(u))), top), u))
    )
    return st.one_of(moderate, at_kinks, near, huge, subnormal)


def value_arrays(
    dtype: str = "float64",
    *,
    kinks: Iterable[float] = (),
    magnitude: float | None = None,
    shape=None,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``values`` (small: at most 2 dimensions of at most 4), rounded to ``dtype``.
    ``shape``: a tuple, or a strategy for one (kept in a variable, so that it is reused)."""
    return _value_arrays(np.dtype(dtype).name, tuple(kinks), magnitude, shape)


@functools.cache
def _value_arrays(dtype: str, kinks: tuple[float, ...], magnitude: float | None, shape):
    shape = shape if shape is not None else shapes(max_dims=2, max_side=4)
    elements = _values(dtype, kinks, magnitude)
    return hnp.arrays(np.float64, shape, elements=elements).map(lambda a: a.astype(dtype))


def edges(
    dtype: str = "float64", *, kinks: Iterable[float] = (), magnitude: float | None = None
) -> np.ndarray:
    """The edge of every regime, as one array in ``dtype`` (29 points and the kinks), for a
    check to append to the values it draws, so that each example reaches them all, or to
    check once: ±0.0 and the kinks; each exp threshold (``_thresholds``), of either sign, and
    0.5 on either side of it; ±1e4 (large logits); ±the largest ``magnitude`` (default: the
    dtype's largest value); the smallest subnormal and the smallest normal, of either sign."""
    info = np.finfo(dtype)
    top = float(info.max) if magnitude is None else float(magnitude)
    near = [s * t + d for t in _thresholds(dtype) for s in (1.0, -1.0) for d in (-0.5, 0.0, 0.5)]
    huge = [v for v in (1e4, top) if v <= top]
    small = [float(info.smallest_subnormal), float(info.tiny)]
    points = [0.0, -0.0, *kinks, *near, *huge, *(-v for v in huge), *small, *(-v for v in small)]
    return np.array(points, dtype=np.float64).astype(dtype)


def probabilities(dtype: str = "float64") -> st.SearchStrategy[float]:
    """Probabilities in [0, 1], drawn as values, from every regime of ``dtype``: moderate ones;
    exactly 0, ½ and 1; subnormals and the smallest normal; and 1 − 2^−k up to the last one
    below 1 (saturated sigmoid outputs, where log(1 − p) loses its digits)."""
    return _probabilities(np.dtype(dtype).name)


@functools.cache
def _probabilities(dtype: str) -> st.SearchStrategy[float]:
    info = np.finfo(dtype)
    bits = info.nmant + 1  # 1 − 2^−bits is the largest value below 1
    return st.one_of(
        st.floats(0.0, 1.0),
        st.sampled_from([0.0, 0.5, 1.0]),
        st.floats(0.0, float(info.tiny), width=info.bits),
        st.integers(1, bits).map(lambda k: 1.0 - 2.0**-k),
    )
