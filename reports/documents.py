"""The documents a report reads, checked in one place before anything is drawn.

- an nnconform bench document (``nnconform bench --json``, schema ``nnconform-bench/1``),
- a pytest-benchmark document (``pytest --benchmark-json``: a top-level ``benchmarks`` list
  whose items carry ``stats``), the oracle's micro-benchmarks,
- an nnconform check document (``nnconform check --json``: ``target``, ``summary``,
  ``records``; optionally a ``machine``, a name or a machine record as a bench document has).

Each ``validate_*`` returns the document unchanged or raises ``ValueError`` naming the
document, the entry and the field, so that a report is never half drawn from a bad file.

Strict JSON has no NaN or infinity, so nnconform writes a non-finite number as the string
"nan", "inf" or "-inf" (``nnconform.files.finite_json``). Wherever a document holds a number,
the report takes such a string as that number (``number``), and so does a bare NaN or Infinity
from a more lenient writer; ``split_bench`` returns the bench documents with them read.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH_SCHEMA",
    "is_micro",
    "load_json",
    "number",
    "split_bench",
    "validate_bench",
    "validate_check",
    "validate_micro",
]

BENCH_SCHEMA = "nnconform-bench/1"
BENCH_STATUSES = ("ok", "unsupported", "error")
# The optional numbers of a bench result: each a number (finite or not) or null.
BENCH_NUMBERS = (
    "q1_s", "q3_s", "rel_iqr", "bytes", "gbs", "fraction_of_bandwidth", "flops", "gflops",
    "speedup_vs_reference", "slowdown_vs_fastest", "per_epoch_s", "dataset_size",
    "roof_gbs", "ratio", "elements",
)  # fmt: skip
# The optional texts of a bench result: each a string or null.
BENCH_TEXTS = ("reason", "roof", "roof_note", "baseline", "verdict", "size_label", "size_meaning")
CHECK_COUNTS = ("pass", "variant", "fail", "unsupported", "error", "xfail", "xpass")
# How finite_json writes the non-finite floats, and the spellings other writers use.
NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "infinity": math.inf,
              "+inf": math.inf, "-infinity": -math.inf, "+infinity": math.inf}  # fmt: skip


def load_json(path: str | Path) -> Any:
    """The parsed file, or ValueError naming the file and what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise ValueError(f"cannot read {path}: {reason}") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error


def _keys(document: Any) -> str:
    if isinstance(document, dict):
        return f"got keys {sorted(document)[:12]}"
    return f"got a JSON {type(document).__name__}"


def _hint(document: Any, wanted: str) -> str:
    """A hint when a document was given to the wrong option."""
    if not isinstance(document, dict):
        return ""
    if wanted == "bench" and "records" in document and "summary" in document:
        return " (it looks like a check document: pass it with --check)"
    if wanted == "check" and ("results" in document or is_micro(document)):
        return " (it looks like a bench document: pass it with --bench)"
    return ""


def number(value: Any) -> float | None:
    """A document's number as a float: an int or float (NaN and infinities included), or the
    string "nan", "inf" or "-inf"; None for anything else (null, text, a boolean)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return NON_FINITE.get(value.strip().lower())
    return None


def _is_number(value: Any) -> bool:
    """A finite number (an int or float, not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_numeric(value: Any) -> bool:
    """A number, finite or not, as the report reads it (``number``)."""
    return number(value) is not None


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def is_micro(document: Any) -> bool:
    """pytest-benchmark's --benchmark-json format: a list of benchmarks, each with stats."""
    benchmarks = document.get("benchmarks") if isinstance(document, dict) else None
    return isinstance(benchmarks, list) and all(
        isinstance(b, dict) and "stats" in b for b in benchmarks
    )


def validate_bench(document: Any, name: str = "bench document") -> dict[str, Any]:
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        raise ValueError(
            f"{name} is not an nnconform bench document (no 'results'); "
            f"{_keys(document)}{_hint(document, 'bench')}"
        )
    schema = document.get("schema", BENCH_SCHEMA)
    _require(
        schema == BENCH_SCHEMA,
        f"{name} has schema {schema!r}; this nnconform reads {BENCH_SCHEMA!r} "
        "(re-run nnconform bench with this version)",
    )
    for key in ("machine", "bandwidth", "settings"):
        _require(
            isinstance(document.get(key, {}), dict),
            f"{name}: {key!r} must be an object, got {type(document.get(key)).__name__}",
        )
    for device, stream in document.get("bandwidth", {}).items():
        where = f"{name}: bandwidth[{device!r}]"
        _require(isinstance(stream, dict), f"{where} must be an object")
        for key in ("copy_gbs", "triad_gbs", "update_gbs"):
            value = stream.get(key)
            # a non-finite bandwidth (a "nan" from a failed STREAM) reads as unknown
            _require(
                value is None or (_is_numeric(value) and not number(value) <= 0),
                f"{where}: {key!r} must be a positive number or null, got {value!r}",
            )
    for index, result in enumerate(document["results"]):
        _validate_result(result, f"{name}: results[{index}]")
    return document


def _validate_result(result: Any, where: str) -> None:
    _require(isinstance(result, dict), f"{where} must be an object, got {result!r:.80}")
    for key in ("kernel", "implementation", "device"):
        _require(
            isinstance(result.get(key), str) and result[key] != "",
            f"{where}: {key!r} must be a non-empty string, got {result.get(key)!r:.80}",
        )
    where = f"{where} ({result['kernel']}, {result['implementation']}, {result['device']})"
    size = result.get("size")
    _require(
        isinstance(size, int) and not isinstance(size, bool) and size > 0,
        f"{where}: 'size' must be a positive integer, got {size!r}",
    )
    status = result.get("status")
    _require(
        status in BENCH_STATUSES,
        f"{where}: 'status' must be one of {BENCH_STATUSES}, got {status!r}",
    )
    if status == "ok":
        median = result.get("median_s")
        _require(
            _is_number(median) and median > 0,
            f"{where}: 'median_s' must be a positive number for a result with status 'ok', "
            f"got {median!r}",
        )
    for key in BENCH_NUMBERS:
        value = result.get(key)
        _require(
            value is None or _is_numeric(value),
            f'{where}: {key!r} must be a number ("nan", "inf" and "-inf" included) or '
            f"null, got {value!r}",
        )
    for key in BENCH_TEXTS:
        _require(
            result.get(key) is None or isinstance(result[key], str),
            f"{where}: {key!r} must be a string or null, got {result.get(key)!r:.80}",
        )
    interval = result.get("ratio_ci")
    _require(
        interval is None
        or (isinstance(interval, list) and len(interval) == 2 and all(map(_is_numeric, interval))),
        f"{where}: 'ratio_ci' must be [low, high] or null, got {interval!r:.80}",
    )


def validate_micro(document: Any, name: str = "pytest-benchmark document") -> dict[str, Any]:
    _require(
        is_micro(document),
        f"{name} is not a pytest-benchmark document (no 'benchmarks' list with 'stats'); "
        f"{_keys(document)}",
    )
    for index, benchmark in enumerate(document["benchmarks"]):
        where = f"{name}: benchmarks[{index}]"
        _require(isinstance(benchmark.get("name"), str), f"{where}: 'name' must be a string")
        stats = benchmark["stats"]
        _require(isinstance(stats, dict), f"{where}: 'stats' must be an object")
        median, iqr = stats.get("median"), stats.get("iqr")
        _require(
            _is_number(median) and median >= 0,
            f"{where} ({benchmark['name']}): stats['median'] must be a number >= 0, got {median!r}",
        )
        _require(  # a NaN IQR (too few rounds) reads as unknown
            _is_numeric(iqr) and not number(iqr) < 0,
            f"{where} ({benchmark['name']}): stats['iqr'] must be a number >= 0, got {iqr!r}",
        )
        rounds = stats.get("rounds")
        _require(
            isinstance(rounds, int) and not isinstance(rounds, bool),
            f"{where} ({benchmark['name']}): stats['rounds'] must be an integer, got {rounds!r}",
        )
    return document


def validate_check(document: Any, name: str = "check document") -> dict[str, Any]:
    if not (
        isinstance(document, dict)
        and isinstance(document.get("summary"), list)
        and isinstance(document.get("records"), list)
    ):
        raise ValueError(
            f"{name} is not an nnconform check document (no 'summary' and 'records'); "
            f"{_keys(document)}{_hint(document, 'check')}"
        )
    _require(
        isinstance(document.get("target", {}), dict),
        f"{name}: 'target' must be an object, got {document.get('target')!r:.80}",
    )
    machine = document.get("machine")
    _require(
        machine is None or isinstance(machine, str | dict),
        f"{name}: 'machine' must be a name or an object, got {machine!r:.80}",
    )
    for index, row in enumerate(document["summary"]):
        where = f"{name}: summary[{index}]"
        _require(isinstance(row, dict), f"{where} must be an object")
        for key in ("algorithm", "verdict"):
            _require(
                isinstance(row.get(key), str),
                f"{where}: {key!r} must be a string, got {row.get(key)!r:.80}",
            )
        for key in CHECK_COUNTS:
            value = row.get(key, 0)
            _require(
                isinstance(value, int) and not isinstance(value, bool) and value >= 0,
                f"{where} ({row['algorithm']}): {key!r} must be a count, got {value!r}",
            )
        _require(
            isinstance(row.get("variants", []), list),
            f"{where} ({row['algorithm']}): 'variants' must be a list",
        )
    for index, record in enumerate(document["records"]):
        where = f"{name}: records[{index}]"
        _require(isinstance(record, dict), f"{where} must be an object")
        for key in ("algorithm", "property", "status"):
            _require(
                isinstance(record.get(key), str),
                f"{where}: {key!r} must be a string, got {record.get(key)!r:.80}",
            )
        _require(
            record.get("message") is None or isinstance(record["message"], str),
            f"{where}: 'message' must be a string or null",
        )
    return document


def split_bench(
    documents: list[Any], names: list[str] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The bench documents given to a report, validated, as (nnconform runs, pytest-benchmark
    documents): copies, their numbers read (``number``: "nan", "inf" and "-inf" become floats).
    ``names`` name them in errors (file names; default 'bench document 1', ...)."""
    names = names or [f"bench document {i}" for i in range(1, len(documents) + 1)]
    runs, micros = [], []
    for document, name in zip(documents, names, strict=True):
        if is_micro(document):
            micros.append(_read_micro(validate_micro(document, name)))
        else:
            runs.append(_read_bench(validate_bench(document, name)))
    return runs, micros


def _read_bench(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of a valid bench document with its numbers read (``number``); a bandwidth that
    is not a finite number reads as unknown (None)."""
    document = copy.deepcopy(document)
    for result in document["results"]:
        for key in (*BENCH_NUMBERS, "median_s"):
            if result.get(key) is not None:
                result[key] = number(result[key])
    for result in document["results"]:
        if isinstance(result.get("ratio_ci"), list):
            result["ratio_ci"] = [number(v) for v in result["ratio_ci"]]
    for stream in document.get("bandwidth", {}).values():
        for key in ("copy_gbs", "triad_gbs", "update_gbs"):
            value = number(stream.get(key))
            stream[key] = value if value is not None and math.isfinite(value) else None
    return document


def _read_micro(document: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(document)
    for benchmark in document["benchmarks"]:
        benchmark["stats"]["iqr"] = number(benchmark["stats"]["iqr"])
    return document
