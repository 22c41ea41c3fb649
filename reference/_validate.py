"""Argument checks shared by the reference modules.

Every message names the argument, the value it got and what is allowed, so that a user
reading a failed check knows what to change: ``ValueError("lr must be positive, got -0.1")``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "as_array",
    "choice",
    "finite",
    "generator",
    "integer",
    "interval",
    "keep_probability",
    "nonnegative",
    "positive",
    "same_shape",
]


def as_array(name: str, x: Any, *, ndim: int | Iterable[int] | None = None) -> np.ndarray:
    """Return ``x`` as a new float64 array, or raise ``TypeError`` if it is not numeric.

    ``ndim`` (an int or a collection of ints) restricts the number of dimensions.
    """
    if isinstance(x, str | bytes):
        raise TypeError(f"{name} must be a numeric array, got a string {x!r}")
    try:
        array = np.asarray(x)
    except Exception as error:  # ragged nested lists, for example
        raise TypeError(
            f"{name} must be a numeric array, got {type(x).__name__}: {error}"
        ) from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real, got dtype {array.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            shown = " or ".join(str(n) for n in allowed)
            raise ValueError(
                f"{name} must have {shown} dimensions, got shape {array.shape} ({array.ndim})"
            )
    return np.array(array, dtype=np.float64)


def generator(rng: Any) -> np.random.Generator:
    """Randomness must come in explicitly, as a numpy Generator (never the global state)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)), "
            f"got {type(rng).__name__}"
        )
    return rng


def same_shape(**arrays: np.ndarray) -> None:
    """Raise ``ValueError`` unless all arrays have one shape: no silent broadcasting."""
    shapes = {name: np.shape(a) for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"shapes must match, got {listed}")


def finite(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def positive(name: str, value: Any) -> float:
    value = finite(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def nonnegative(name: str, value: Any) -> float:
    value = finite(name, value)
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return value


def interval(name: str, value: Any, low: float, high: float, *, closed: str = "left") -> float:
    """Check ``value`` lies in an interval; ``closed`` is 'left' [a, b), 'right' (a, b],
    'both' [a, b] or 'neither' (a, b)."""
    value = finite(name, value)
    low_ok = value >= low if closed in ("left", "both") else value > low
    high_ok = value <= high if closed in ("right", "both") else value < high
    if not (low_ok and high_ok):
        left = "[" if closed in ("left", "both") else "("
        right = "]" if closed in ("right", "both") else ")"
        raise ValueError(f"{name} must be in {left}{low:g}, {high:g}{right}, got {value}")
    return value


def keep_probability(name: str, value: Any) -> float:
    """A keep probability p of dropout lies in (0, 1]: p = 0 would drop every unit."""
    return interval(name, value, 0.0, 1.0, closed="right")


def integer(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def choice(name: str, value: Any, options: Iterable[str]) -> str:
    """Check ``value`` is one of ``options`` (a variant keyword, for example)."""
    options = tuple(options)
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value
