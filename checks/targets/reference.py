"""The reference as a target: every function of the registry under its own name.

The oracle checked against itself must pass everything; a failure here is a bug in a check.
"""

from __future__ import annotations

from types import SimpleNamespace

import nnconform
from nnconform.checks.targets import Target
from nnconform.reference.registry import REGISTRY, resolve


def make_target(*, device: str = "cpu") -> Target:
    functions = {
        spec.split(":")[1]: resolve(spec) for e in REGISTRY.values() for spec in e.functions
    }
    return Target(
        name="reference",
        namespace=SimpleNamespace(**functions),
        version=nnconform.__version__,
        dtypes=("float64",),
        devices=("cpu",),
        device=device,
    )
