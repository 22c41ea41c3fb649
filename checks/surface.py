"""The surface ledger: what a run of the checks exercised of its target, measured, not declared.

``call`` notes every function called and every documented keyword it was given (each mode
value too: the registry's variants, e.g. ``weight_decay_mode="decoupled"``); ``assert_close``
and ``assert_matches_variant`` note every field of a returned NamedTuple or tuple that they
compared with the oracle. At the end of the run the ledger lists what was never exercised:

    function                     a function the target offers that no check called
    function(keyword)            a documented keyword (a parameter with a default) never passed
    function(keyword=value)      a documented mode value never passed
    function.field / function[i] an output field never compared with the oracle

An entry of the exceptions file (``surface_exceptions.txt``: 'pattern  # reason', a glob of
``*`` and ``?`` over these names, brackets literal) excuses a gap: the ledger shows it apart,
with its reason.

How a compared value is tied to its field, and the limits: by identity. The object handed to
``assert_close`` is the field itself, or a numpy view of it (a slice, a row, a reshape: its
``.base`` chain reaches the field); a field that is a tuple or list (an optimiser's state in
``(params, state)``) counts as compared when any of its parts is. A value computed from a field
(``float(out.loss)``, ``out.x.astype(...)``, ``np.stack``) is a new object and is not traced:
such a check compares the field itself, or the ledger reports it as never compared. Python's
small integers and booleans are shared objects, so a compared ``True`` may be credited to
another call's ``True`` field of the same check (the ledger then errs towards "compared").
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from nnconform.reference.registry import REGISTRY, resolve

__all__ = [
    "EXCEPTIONS",
    "Ledger",
    "gaps",
    "read_exceptions",
]

EXCEPTIONS = "surface_exceptions.txt"  # the package's own accepted gaps, for the reference


@functools.cache
def _reference() -> dict[str, Any]:
    """Every function of the catalogue, by name."""
    return {s.partition(":")[2]: resolve(s) for e in REGISTRY.values() for s in e.functions}


@functools.cache
def _signature(function: str) -> inspect.Signature | None:
    fn = _reference().get(function)
    return inspect.signature(fn) if fn is not None else None


@functools.cache
def documented_keywords(function: str) -> tuple[str, ...]:
    """The reference function's parameters that have a default: what a check may vary."""
    sig = _signature(function)
    if sig is None:
        return ()
    return tuple(
        p.name for p in sig.parameters.values() if p.default is not inspect.Parameter.empty
    )


@functools.cache
def documented_modes(function: str) -> dict[str, tuple[str, ...]]:
    """keyword -> its documented values, for the mode keywords the reference function takes."""
    modes: dict[str, tuple[str, ...]] = {}
    for entry in REGISTRY.values():
        if any(s.partition(":")[2] == function for s in entry.functions):
            for keyword, values in entry.variants.items():
                if keyword in documented_keywords(function):
                    modes[keyword] = tuple(dict.fromkeys(modes.get(keyword, ()) + values))
    return modes


def _field_names(function: str, out: tuple) -> list[str]:
    """The reference's names of the output's fields (``.dmean``), else their indices
    (``[0]``): a target may return a plain tuple where the oracle returns a NamedTuple."""
    names = getattr(out, "_fields", None)
    if names is None:
        fn = _reference().get(function)
        annotation = inspect.signature(fn).return_annotation if fn is not None else None
        names = getattr(annotation, "_fields", None)
    if names is not None and len(names) == len(out):
        return [f".{n}" for n in names]
    return [f"[{i}]" for i in range(len(out))]


def _leaves(value: Any, depth: int = 0):
    """The objects a field is made of: itself, and the parts of a tuple or list field but
    their Python scalars (shared objects: a compared 0 would credit every field holding 0)."""
    if depth == 0 or not isinstance(value, int | float | str):
        yield value
    if isinstance(value, tuple | list) and depth < 3:
        for part in value:
            yield from _leaves(part, depth + 1)


@dataclass
class Ledger:
    """What one check exercised (the plugin merges them over the run, across workers)."""

    called: set[str] = field(default_factory=set)
    keywords: set[str] = field(default_factory=set)  # 'function(keyword)'
    modes: set[str] = field(default_factory=set)  # 'function(keyword=value)'
    fields: set[str] = field(default_factory=set)  # 'function.field' the target returned
    compared: set[str] = field(default_factory=set)
    # (object, field name, derived?): what a compared value is tied back to, by identity; the
    # list keeps each object alive, so its id stays its own while it is indexed
    _objects: list[tuple[Any, str, bool]] = field(default_factory=list, repr=False)
    _positions: dict[int, list[int]] = field(default_factory=dict, repr=False)  # id -> index

    def clear(self) -> None:
        for part in (self.called, self.keywords, self.modes, self.fields, self.compared):
            part.clear()
        self._objects.clear()
        self._positions.clear()

    def _tie(self, obj: Any, name: str, derived: bool) -> None:
        self._positions.setdefault(id(obj), []).append(len(self._objects))
        self._objects.append((obj, name, derived))

    def note_call(self, function: str, args: tuple, kwargs: dict[str, Any]) -> None:
        """A call: the function, and the documented keywords it was given, by keyword or by
        position (bound to the reference's signature)."""
        self.called.add(function)
        given = dict(kwargs)
        sig = _signature(function)
        if sig is not None:
            try:
                given = dict(sig.bind_partial(*args, **kwargs).arguments)
            except TypeError:  # a target's own signature: its keywords only
                pass
        for keyword in documented_keywords(function):
            if keyword in given:
                self.keywords.add(f"{function}({keyword})")
        for keyword, values in documented_modes(function).items():
            if isinstance(given.get(keyword), str) and given[keyword] in values:
                self.modes.add(f"{function}({keyword}={given[keyword]})")

    def note_output(self, function: str, out: Any) -> None:
        """A returned NamedTuple or tuple: each field the target exposes (None: not exposed)."""
        if not isinstance(out, tuple):
            return
        for name, value in zip(_field_names(function, out), out, strict=True):
            if value is None:
                continue
            self.fields.add(function + name)
            for leaf in _leaves(value):
                self._tie(leaf, function + name, False)

    def _names(self, value: Any) -> list[str]:
        """The fields ``value`` is, is a view of, or was derived from (``derived``)."""
        chain, seen = [], 0
        while value is not None and seen < 8:  # a view's .base chain ends at its owner
            chain.append(value)
            value, seen = getattr(value, "base", None), seen + 1
        names, fields = {}, []
        tied = {p for v in chain for p in self._positions.get(id(v), ())}
        for position in sorted(tied, reverse=True):  # the latest call first
            _, name, derived = self._objects[position]
            if derived:  # a derived value stands for all its sources
                names[name] = None
            else:
                fields.append(name)
        if fields:
            # A compared value is one field, but one object may sit in several (the 0 of
            # epoch, wait and best_epoch): each comparison credits one, uncredited ones first.
            names[next((f for f in fields if f not in self.compared), fields[0])] = None
        return list(names)

    def note_compared(self, value: Any) -> None:
        """A value compared with the oracle: credit the field(s) it stands for."""
        self.compared.update(self._names(value))

    def note_derived(self, value: Any, sources: tuple) -> None:
        """``value`` was computed from ``sources`` (a stack of a trajectory's steps, a cast, a
        concatenation): comparing it credits the fields they stand for."""
        names = {n: None for source in sources for n in self._names(source)}
        for name in names:
            self._tie(value, name, True)

    def as_json(self) -> dict[str, list[str]]:
        return {
            "called": sorted(self.called),
            "keywords": sorted(self.keywords),
            "modes": sorted(self.modes),
            "fields": sorted(self.fields),
            "compared": sorted(self.compared),
        }


def merge(ledgers: list[dict[str, list[str]]]) -> dict[str, set[str]]:
    """The union of the checks' ledgers."""
    merged: dict[str, set[str]] = {k: set() for k in Ledger().as_json()}
    for ledger in ledgers:
        for key, names in ledger.items():
            merged[key].update(names)
    return merged


def read_exceptions(path: str | Path | None = None) -> list[tuple[str, str]]:
    """Entries 'pattern  # reason' (the package's own file when ``path`` is None); a reason is
    required. Raises ``ValueError`` with a one-line message for a file that cannot be used."""
    if path is None:
        text = resources.files("nnconform.checks").joinpath(EXCEPTIONS).read_text("utf-8")
        path = EXCEPTIONS
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read surface exceptions {path}: {error}") from None
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pattern, _, reason = line.partition("#")
        if not reason.strip():
            raise ValueError(f"{path}:{number}: entry {pattern.strip()!r} has no reason")
        entries.append((pattern.strip(), reason.strip()))
    return entries


def gaps(
    target: Any, merged: dict[str, set[str]], exceptions: list[tuple[str, str]]
) -> dict[str, Any]:
    """What the run never exercised of ``target``, unexcused and excused (with the reason).

    Functions: the catalogue's that the target offers. Keywords and modes: of the functions
    called (a function never called is one gap, not one per keyword). Fields: those the target
    returned (a None field is one it does not expose)."""
    offered = [name for name in _reference() if target.get(name) is not None]
    never = {
        "functions": [f for f in offered if f not in merged["called"]],
        "keywords": [
            f"{f}({k})"
            for f in offered
            if f in merged["called"]
            for k in documented_keywords(f)
            if k not in documented_modes(f) and f"{f}({k})" not in merged["keywords"]
        ],
        "modes": [
            f"{f}({k}={v})"
            for f in offered
            if f in merged["called"]
            for k, values in documented_modes(f).items()
            for v in values
            if f"{f}({k}={v})" not in merged["modes"]
        ],
        "fields": sorted(merged["fields"] - merged["compared"]),
    }
    surface: dict[str, Any] = {kind: [] for kind in never}
    surface["excused"] = []
    used = set()
    for kind, names in never.items():
        for name in names:
            reason = next(
                ((i, r) for i, (p, r) in enumerate(exceptions) if _matches(name, p)),
                None,
            )
            if reason is None:
                surface[kind].append(name)
            else:
                used.add(reason[0])
                surface["excused"].append({"name": name, "kind": kind, "reason": reason[1]})
    surface["counts"] = {
        "functions_offered": len(offered),
        "functions_called": len(set(offered) & merged["called"]),
        "fields_returned": len(merged["fields"]),
        "fields_compared": len(merged["fields"] & merged["compared"]),
    }
    surface["unused_exceptions"] = [p for i, (p, _) in enumerate(exceptions) if i not in used]
    return surface


def _matches(name: str, pattern: str) -> bool:
    """A glob of * and ?; brackets are literal, as in the ledger's ``adam_step[1]``."""
    return fnmatch.fnmatchcase(name, pattern.replace("[", "[[]"))


TITLES = {
    "functions": "functions the target offers that no check called",
    "keywords": "documented keywords never passed",
    "modes": "documented mode values never passed",
    "fields": "output fields never compared with the oracle",
}


def lines(surface: dict[str, Any]) -> list[str]:
    """The ledger as text, after the verdict table."""
    counts = surface["counts"]
    out = [
        f"surface: {counts['functions_called']} of {counts['functions_offered']} functions "
        f"called, {counts['fields_compared']} of {counts['fields_returned']} output fields "
        "compared"
    ]
    for kind, title in TITLES.items():
        names = surface[kind]
        out.append(f"{title}: {len(names) or 'none'}")
        out += [f"  {name}" for name in names]
    if surface["excused"]:
        out.append(f"excused ({len(surface['excused'])}):")
        out += [f"  {e['name']}  # {e['reason']}" for e in surface["excused"]]
    return out
