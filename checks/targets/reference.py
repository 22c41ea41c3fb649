"""The reference as a target: every function of the registry under its own name.

The oracle checked against itself must pass everything; a failure here is a bug in a check.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from types import SimpleNamespace

from checks.targets import Target
from reference.registry import REGISTRY, resolve


def make_target(*, device: str = "cpu") -> Target:
    functions = {
        spec.split(":")[1]: resolve(spec) for e in REGISTRY.values() for spec in e.functions
    }
    try:
        release = version("nnconform")
    except PackageNotFoundError:
        release = "unknown"
    return Target(
        name="reference",
        namespace=SimpleNamespace(**functions),
        version=release,
        dtypes=("float64",),
        devices=("cpu",),
        device=device,
    )
