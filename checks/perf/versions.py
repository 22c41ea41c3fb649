"""Two versions of one target in one process: ``LABEL=PATH:MODULE[:ATTR]`` loads ``MODULE``
(and ``ATTR`` from it, as ``nnconform.checks.targets.load_target`` does) from the source tree
``PATH``, beside any other version of the same module, under the implementation name ``LABEL``.

    nnconform bench --target main=../main-checkout:my_pkg.adapter:make_target \\
                    --target branch=.:my_pkg.adapter:make_target --kernel adam

How: the version's top-level package is imported from PATH (first on ``sys.path``) while every
module of that package already loaded is set aside; once the target is built, the version's
modules are moved to private names in ``sys.modules`` (``nnconform_version_<n>.my_pkg...``) and
the set-aside ones put back. Each version's functions keep their own module globals, so the
imports a module makes when it is imported (absolute or relative) stay within its version.

Why not a subprocess per version: interleaving needs every implementation in one process,
a sample of each in turn within one block (``nnconform.checks.perf.harness``); timing across
processes would put the two versions' samples on different sides of a pipe and of the
scheduler.

Limits: a module that imports its own package lazily, inside a function at call time, finds
whichever version ``sys.modules`` holds then (the one loaded normally); C extensions of the
same name cannot be loaded twice (the second import returns the first's); PATH may not contain
':'. Each spec is loaded once per process and device.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

__all__ = ["is_versioned", "load_version", "parse"]

_LABEL = re.compile(r"^[A-Za-z0-9_.+-]+$")
_LOADED: dict[tuple[str, str], Any] = {}
_COUNT = itertools.count(1)


def is_versioned(spec: str) -> bool:
    """Whether the spec names a source tree: LABEL=PATH:MODULE[:ATTR]."""
    return "=" in spec


def parse(spec: str) -> tuple[str, Path, str]:
    """(label, source tree, 'MODULE[:ATTR]'), or a TargetError naming what is wrong."""
    from nnconform.checks.targets import TargetError

    label, _, rest = spec.partition("=")
    root, _, target = rest.partition(":")
    if not _LABEL.match(label):
        raise TargetError(
            f"target {spec!r}: the label before '=' must be letters, digits, '_', '.', '+' or "
            f"'-', e.g. old=../main-checkout:my_pkg.adapter:make_target"
        )
    if not root or not target or not target.split(":")[0]:
        raise TargetError(
            f"target {spec!r} must read LABEL=PATH:MODULE[:ATTR], "
            f"e.g. old=../main-checkout:my_pkg.adapter:make_target"
        )
    path = Path(root).expanduser()
    if not path.is_dir():
        raise TargetError(f"target {spec!r}: source tree {root!r} is not a directory")
    return label, path.resolve(), target


@contextlib.contextmanager
def _isolated(top: str, root: Path, alias: str):
    """Import ``top`` from ``root`` with any loaded version of it set aside; afterwards the new
    modules live on under ``alias.<name>`` and the set-aside ones are back."""

    def owned(name: str) -> bool:
        return name == top or name.startswith(top + ".")

    saved = {name: module for name, module in sys.modules.items() if owned(name)}
    for name in saved:
        del sys.modules[name]
    # load_target puts the current directory first when it is not on the path: put it there
    # now, so that it goes after the tree.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if owned(name)]:
            sys.modules[f"{alias}.{name}"] = sys.modules.pop(name)
        sys.modules.update(saved)
        importlib.invalidate_caches()


def load_version(spec: str, *, device: str = "cpu") -> Any:
    """The ``Target`` of LABEL=PATH:MODULE[:ATTR], named LABEL; raises TargetError."""
    from nnconform.checks.targets import TargetError, load_target

    key = (spec, device)
    if key in _LOADED:
        return _LOADED[key]
    label, root, target_spec = parse(spec)
    module = target_spec.split(":")[0]
    top = module.split(".")[0]
    alias = f"nnconform_version_{next(_COUNT)}"
    with _isolated(top, root, alias):
        try:
            target = load_target(target_spec, device=device)
        except TargetError as error:
            raise TargetError(f"target {spec!r} (from {root}): {error}") from None
        loaded = sys.modules.get(top)
        paths = list(getattr(loaded, "__path__", []))  # a namespace package has no __file__
        origin = getattr(loaded, "__file__", None) or (paths[0] if paths else "")
        if not Path(origin).resolve().is_relative_to(root):
            raise TargetError(
                f"target {spec!r}: module {top!r} was not found in {root} "
                f"(it loaded from {origin or 'elsewhere'})"
            )
    target = replace(target, name=label, spec=spec)
    _LOADED[key] = target
    return target
