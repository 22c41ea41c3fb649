"""Targets: the implementations the checks run against.

A target is an *adapter* that mirrors the reference: it offers any subset of the reference's
functions (``relu``, ``relu_backward``, ``adam_init``, ``adam_step``, ...) under the same names
and signatures, numpy arrays in and numpy arrays out. It converts types, devices and argument
names at the boundary and adds no arithmetic of its own, so that a verdict describes the
library, not the adapter. A function the target lacks is *unsupported*, never a failure.

It may also declare:

    name: str                      shown in reports (default: the spec it was loaded from)
    version: str                   the library's version
    dtypes: tuple[str, ...]        numpy dtype names it computes in (default: ("float64",))
    devices: tuple[str, ...]       devices it runs on (default: ("cpu",))

Built in: ``reference`` (the oracle itself, which must pass everything), ``torch``, ``jax`` and
``keras`` (Keras 3 on its torch backend).
A user's own target is a module (``my_kernels``) or ``module:attr``: a module, a class
instance, or a factory (a function or class) that takes ``device=`` and returns one.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from nnconform.reference.registry import REGISTRY, resolve

__all__ = [
    "BUILTIN",
    "MODES",
    "BatchNormGrads",
    "BatchNormOutput",
    "Target",
    "TargetError",
    "load_target",
    "offered",
    "returns_array",
    "usable_device",
    "wrap",
]

BUILTIN = {
    "reference": "nnconform.checks.targets.reference:make_target",
    "torch": "nnconform.checks.targets.torch:make_target",
    "jax": "nnconform.checks.targets.jax:make_target",
    "keras": "nnconform.checks.targets.keras:make_target",
}


# function -> its documented mode keywords (the variants of its catalogue id): a target that
# does not take one, or answers it with a TypeError, does not offer that mode.
MODES: dict[str, set[str]] = {}
for _entry in REGISTRY.values():
    for _spec in _entry.functions:
        MODES.setdefault(_spec.partition(":")[2], set()).update(_entry.variants)


class BatchNormOutput(NamedTuple):
    """An adapter's batch_norm result, the reference's fields."""

    y: np.ndarray
    cache: Any  # opaque: what the adapter's batch_norm_backward pulls dy back through
    running_mean: np.ndarray
    running_var: np.ndarray


class BatchNormGrads(NamedTuple):
    """The reference's six gradients; a framework's autograd (torch's, jax.vjp) gives only the
    last three, so the first three are None: not exposed, never compared."""

    dx_hat: None
    dvar: None
    dmean: None
    dx: np.ndarray
    dgamma: np.ndarray
    dbeta: np.ndarray


def offered(
    library: str, function: str, keyword: str, mode: str | None, modes: Sequence[str | None]
) -> None:
    """An adapter's mode keyword: accept ``mode`` if ``library`` offers it (None, the keyword
    left out, is the library's own default), else raise TypeError, which the checks read as
    that mode unsupported."""
    if mode is not None and mode not in modes:
        shown = ", ".join(repr(m) for m in modes if m is not None) or "none"
        raise TypeError(
            f"{library} offers no {function}({keyword}={mode!r}); it offers {shown} (and its "
            "default, the keyword left out)"
        )


@functools.cache
def returns_array(function: str) -> bool:
    """Whether the reference's ``function`` returns a numpy array (its annotation says so):
    the target's must then be an array too, not a list."""
    specs = [s for e in REGISTRY.values() for s in e.functions if s.endswith(f":{function}")]
    if not specs:
        return False
    hints = typing.get_type_hints(resolve(specs[0]))
    return hints.get("return") is np.ndarray


class TargetError(Exception):
    """A target cannot be loaded or used: a usage error (exit status 2), not a failed check."""


@dataclass(frozen=True)
class Target:
    """A loaded target: where its functions come from, and what it declares about itself."""

    name: str
    namespace: Any = field(repr=False)
    version: str = "unknown"
    dtypes: tuple[str, ...] = ("float64",)
    devices: tuple[str, ...] = ("cpu",)
    device: str = "cpu"
    spec: str = ""  # how it was loaded: a built-in name or 'module:attr'

    def get(self, function: str) -> Callable[..., Any] | None:
        """The target's function of that name, or None when it does not offer one."""
        fn = getattr(self.namespace, function, None)
        return fn if callable(fn) else None

    def supports(self, *functions: str) -> bool:
        return all(self.get(f) is not None for f in functions)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "device": self.device,
            "dtypes": list(self.dtypes),
        }


def _import(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(module)
    except ImportError as error:
        raise TargetError(f"cannot import target module {module!r}: {error}") from None
    except SyntaxError as error:
        raise TargetError(
            f"target module {module!r} has a syntax error at {error.filename}:{error.lineno}: "
            f"{error.msg}"
        ) from None
    except Exception as error:  # the module's own code raised while it was imported
        where = _last_frame_in(error)
        raise TargetError(
            f"target module {module!r} raised {type(error).__name__} when imported{where}: {error}"
        ) from None
    for part in filter(None, attr.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"target module {module!r} has no attribute {attr!r}") from None
    return obj


def _last_frame_in(error: BaseException) -> str:
    """' (at file:line)' of the deepest traceback frame, for a one-line message."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f" (at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})" if tb is not None else ""


def load_target(spec: str, *, device: str = "cpu") -> Target:
    """Load a built-in target by name or a user's own as ``module:attr``.

    A user's module is looked for in the current directory first, as ``python -m`` and
    pytest do. Raises ``TargetError`` with a one-line message when the target cannot be used.
    """
    if spec in BUILTIN:
        return replace(_import(BUILTIN[spec])(device=device), spec=spec)
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if ":" not in spec and importlib.util.find_spec(spec.split(".")[0]) is None:
        known = ", ".join(BUILTIN)
        raise TargetError(
            f"unknown target {spec!r}: no module {spec.split('.')[0]!r} in the current directory "
            f"or on the import path; use a built-in target ({known}), a module, or 'module:attr'"
        )
    obj = _import(spec)
    if isinstance(obj, types.FunctionType | type):  # a factory: build it for the device
        obj = obj(device=device)
    return replace(_as_target(obj, name=spec, device=device), spec=spec)


def _as_target(obj: Any, *, name: str, device: str) -> Target:
    """``obj`` as a Target: itself; field by field, a Target that another version of nnconform
    built (one loaded from a source tree beside this one, ``nnconform.checks.perf.versions``,
    has a Target class of its own: the oracle of another commit, say); anything else wrapped."""
    if isinstance(obj, Target):
        return obj
    if type(obj).__name__ == Target.__name__ and is_dataclass(obj):
        shared = [f.name for f in fields(Target) if hasattr(obj, f.name)]
        return Target(**{field_name: getattr(obj, field_name) for field_name in shared})
    return wrap(obj, name=name, device=device)


def usable_device(target: Target) -> None:
    """Raise ``TargetError`` unless the target runs on its device here: a gate that would
    check nothing on a missing GPU must stop, not pass."""
    if target.device not in target.devices:
        raise TargetError(
            f"target {target.name!r} does not run on device {target.device!r} here: it runs on "
            f"{', '.join(target.devices)} (is the device present and visible to the library?)"
        )


def wrap(namespace: Any, *, name: str, device: str = "cpu") -> Target:
    """A ``Target`` for a module or object, reading what it declares about itself."""
    return Target(
        name=str(getattr(namespace, "name", name)),
        namespace=namespace,
        version=str(getattr(namespace, "version", "unknown")),
        dtypes=tuple(getattr(namespace, "dtypes", ("float64",))),
        devices=tuple(getattr(namespace, "devices", ("cpu",))),
        device=device,
    )
