"""Machine records as a reader wants them: readable field names with their units, and one
table per distinct machine however many documents came from it.

A machine record is the ``machine`` object of a bench document (``nnconform bench --json``,
written by ``nnconform.checks.perf.machine.machine_info``) or of a check document that carries
one. Two records are the same machine when they agree on every field of ``IDENTITY`` that
either has (host name, CPU model, logical cores); a record with none of them is a machine of
its own, since nothing says it is another's. What else a record holds (library versions, the
device benchmarked, the git commit) may differ between documents of one machine: the table
then shows each value with the documents that recorded it.

The report reads the size of the last-level cache, to say whether a working set was beyond
the caches, from ``llc_bytes`` (the CPU's, which ``machine_info`` records) and
``gpu_llc_bytes`` (a GPU's L2, for a device other than cpu), integers in bytes. Without the
one a device needs, it claims nothing about that device's caches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nnconform import units
from nnconform.reports.documents import number

__all__ = [
    "IDENTITY",
    "Machine",
    "describe",
    "group_machines",
    "last_level_cache",
    "machine_name",
    "readable_bytes",
    "setting_label",
    "setting_value",
]

IDENTITY = ("hostname", "node", "cpu_model", "cpu", "logical_cores")
NAME_KEYS = ("cpu_model", "cpu", "processor", "hostname", "node")


def readable_bytes(n: float | None) -> str:
    """33554432 -> '32 MiB': binary prefixes, as cache and memory sizes are quoted."""
    if n is None:
        return units.MISSING
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{units.plain(n / scale, trim=True)} {unit}"
    return f"{n:,.0f} B"


def _flat(value: Any) -> str:
    """A value in one line: {name, version} as 'name version', other objects as key=value,
    lists joined by commas, booleans as yes/no."""
    if isinstance(value, dict):
        if set(value) <= {"name", "version"} and value:
            return " ".join(str(value[k]) for k in ("name", "version") if value.get(k))
        return "; ".join(f"{k}={_flat(v)}" for k, v in value.items()) or "(none set)"
    if isinstance(value, list | tuple):
        return ", ".join(_flat(v) for v in value) or "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return units.MISSING if value is None else str(value)


def _count(value: Any) -> str:
    n = number(value)
    return f"{n:,.0f}" if n is not None and n == int(n) else _flat(value)


def _of(formatter: Callable[[float | None], str]) -> Callable[[Any], str]:
    """A number formatter for a field that may hold something else (then written as it is)."""

    def show(value: Any) -> str:
        n = number(value)
        return formatter(n) if n is not None else _flat(value)

    return show


def _memory(value: Any) -> str:
    """The bench's memory estimate: {needed_bytes, worst, available_bytes}."""
    if not isinstance(value, dict) or value.get("needed_bytes") is None:
        return _flat(value)
    text = f"{readable_bytes(number(value['needed_bytes']))} estimated"
    if value.get("worst"):
        text += f" ({value['worst']})"
    if value.get("available_bytes") is not None:
        text += f", {readable_bytes(number(value['available_bytes']))} available"
    return text


# key: (readable name, formatter). Names say what was recorded, with the unit in the value.
MACHINE_FIELDS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "hostname": ("host name", _flat),
    "node": ("host name", _flat),
    "cpu_model": ("CPU", _flat),
    "cpu": ("CPU", _flat),
    "logical_cores": ("logical cores", _count),
    "llc_bytes": ("last-level cache (CPU)", _of(readable_bytes)),
    "memory_bytes": ("memory", _of(readable_bytes)),
    "platform": ("operating system", _flat),
    "python": ("Python", _flat),
    "python_implementation": ("Python implementation", _flat),
    "numpy": ("NumPy", _flat),
    "torch": ("PyTorch", _flat),
    "jax": ("JAX", _flat),
    "jaxlib": ("jaxlib", _flat),
    "keras": ("Keras", _flat),
    "asv": ("asv", _flat),
    "nnconform": ("nnconform", _flat),
    "blas": ("NumPy's BLAS", _flat),
    "threads": ("torch intra-op threads", _count),
    "allocator": ("allocation and threading environment", _flat),
    "device": ("device benchmarked", _flat),
    "gpu": ("GPU", _flat),
    "gpu_llc_bytes": ("last-level cache (GPU)", _of(readable_bytes)),
    "cuda": ("CUDA", _flat),
    "git_commit": ("git commit", _flat),
}
SETTING_FIELDS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "warmup": ("warm-up calls", _count),
    "repeats": ("timed samples", _count),
    "min_sample_time": ("minimum time per sample", _of(units.seconds)),
    "clock": ("clock of the samples (wall: elapsed; cpu: the process's CPU time)", _flat),
    "threads": ("torch intra-op threads", _count),
    "seed": ("input seed", _flat),
    "stream_elements": ("STREAM elements per array", _of(lambda n: units.size(int(n)))),
    "devices": ("devices", _flat),
    "large": ("large sizes added", _flat),
    "baseline": ("baseline of the ratios", _flat),
    "targets": ("targets", _flat),
    "interleaved": ("implementations timed interleaved", _flat),
    "confidence": ("confidence of the intervals", _of(units.percent)),
    "false_alarm_rate": ("false-alarm rate of a verdict", _of(units.percent)),
    "interval": ("interval", _flat),
    "memory": ("peak memory of the plan", lambda v: _memory(v)),
}
# A field nobody named above: its unit read from the suffix of its key.
SUFFIXES: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("_bytes", "", _of(readable_bytes)),
    ("_s", "", _of(units.seconds)),
    ("_gbs", "", _of(lambda n: units.rate(n, "GB/s"))),
    ("_elements", " (elements)", _count),
)


def _field(key: str, known: dict[str, tuple[str, Callable[[Any], str]]]):
    if key in known:
        return known[key]
    for suffix, unit, formatter in SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)].replace("_", " ") + unit, formatter
    return key.replace("_", " "), _flat


def describe(key: str, value: Any) -> tuple[str, str]:
    """A machine record's field as (readable name, value with its unit)."""
    label, formatter = _field(key, MACHINE_FIELDS)
    return label, formatter(value)


def setting_label(key: str) -> str:
    return _field(key, SETTING_FIELDS)[0]


def setting_value(key: str, value: Any) -> str:
    return _field(key, SETTING_FIELDS)[1](value)


def machine_name(record: dict[str, Any] | str | None) -> str:
    """The CPU model (or host name) of a record; a string record is its own name."""
    if isinstance(record, str):
        return record.strip() or "unknown machine"
    for key in NAME_KEYS:
        value = (record or {}).get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "unknown machine"


def last_level_cache(record: dict[str, Any], device: str) -> float | None:
    """The last-level cache of ``device`` in bytes, as the record gives it, else None."""
    key = "llc_bytes" if device.split(":")[0] == "cpu" else "gpu_llc_bytes"
    size = number(record.get(key))
    return size if size is not None and size > 0 else None


def _identity(record: dict[str, Any]) -> tuple | None:
    known = tuple((key, str(record[key])) for key in IDENTITY if record.get(key) is not None)
    return known or None


@dataclass
class Machine:
    """One distinct machine: its anchor, its name, and the documents that ran on it."""

    anchor: str
    name: str
    users: list[str] = field(default_factory=list)  # labels of the documents
    records: list[dict[str, Any]] = field(default_factory=list)  # one per document

    def rows(self) -> list[tuple[str, str]]:
        """(readable name, value) per field; a field whose documents disagree lists each value
        with the documents that recorded it."""
        keys = list(dict.fromkeys(key for record in self.records for key in record))
        rows = []
        for key in keys:
            shown = [describe(key, record.get(key))[1] for record in self.records]
            label = describe(key, None)[0]
            if len(set(shown)) == 1:
                rows.append((label, shown[0]))
                continue
            by_value: dict[str, list[str]] = {}
            for value, user in zip(shown, self.users, strict=True):
                by_value.setdefault(value, []).append(user)
            rows.append(
                (label, "; ".join(f"{v} ({', '.join(who)})" for v, who in by_value.items()))
            )
        return rows


def group_machines(
    records: Sequence[tuple[str, dict[str, Any]]],
) -> tuple[list[Machine], list[str]]:
    """One Machine per distinct record among (document label, record), in order of first
    appearance (records that agree on ``IDENTITY`` share one), and the anchor of each
    record's Machine, in the order given."""
    machines: list[Machine] = []
    seen: dict[tuple, Machine] = {}
    anchors = []
    for user, record in records:
        identity = _identity(record)
        machine = seen.get(identity) if identity is not None else None
        if machine is None:
            machine = Machine(f"machine-{len(machines) + 1}", machine_name(record))
            machines.append(machine)
            if identity is not None:
                seen[identity] = machine
        machine.users.append(user)
        machine.records.append(record)
        anchors.append(machine.anchor)
    return machines, anchors
