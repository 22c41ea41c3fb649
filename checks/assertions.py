"""Named assertion helpers: every check calls its target and compares through these.

A failure message reads ``out=..., but should be roughly ...``, names the algorithm, the
function and its inputs, the worst absolute and relative error and the tolerance, and ends with
a snippet that reproduces the call (the array-api-tests model). The helpers also feed the
running check's verdict record (``nnconform.checks.verdicts``).
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import numpy as np
import pytest

from nnconform.checks.surface import Ledger
from nnconform.checks.targets import MODES, Target, returns_array
from nnconform.checks.tolerances import Tolerance, tolerance
from nnconform.checks.verdicts import current

__all__ = [
    "SETTINGS",
    "Call",
    "CheckTimeoutError",
    "ConformanceError",
    "assert_close",
    "assert_matches_variant",
    "call",
    "derived",
    "each_part",
    "fail",
    "guarded",
    "requires_float64",
    "unsupported",
]


# A JIT (JAX, torch.compile) compiles at a function's first call: that call, once per function
# and process, may take this many times the per-call limit.
FIRST_CALL_ALLOWANCE = 5


@dataclass
class _Settings:
    strict: bool = False  # a matched non-default variant fails
    limit: float | None = None  # seconds per call of the target (None: no limit)
    hung: dict[str, str] = field(default_factory=dict)  # function -> its timeout, this check
    called: set[str] = field(default_factory=set)  # functions called at least once (process)
    outputs: list = field(default_factory=list)  # (Call, output) of this check, for snippets
    ledger: Ledger = field(default_factory=Ledger)  # what this check exercised (surface.py)

    def new_check(self) -> None:
        self.hung.clear()  # a function that timed out is given a fresh chance in each check
        self.outputs.clear()
        self.ledger.clear()


SETTINGS = _Settings()


class ConformanceError(AssertionError):
    """The target does not conform: a failed check (never an error of the suite)."""


class CheckTimeoutError(BaseException):
    """Raised inside a call of the target that runs past the per-call time limit. A
    BaseException, as KeyboardInterrupt is, so that a target's own ``except Exception``
    cannot swallow it."""


@dataclass(frozen=True)
class Call:
    """One call of a target's function: enough to print it and to run it again."""

    target: Target
    function: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]

    def inputs(self) -> dict[str, Any]:
        """The inputs as JSON-friendly values: the counterexample of a verdict."""
        named = {f"arg{i}": a for i, a in enumerate(self.args)} | dict(self.kwargs)
        return {name: _plain(value) for name, value in named.items()}

    def snippet(self) -> str:
        """Python that repeats the call: the target loaded by its spec, each input as a
        literal, and an input that a literal cannot give (a forward's opaque cache handed to
        its backward) rebuilt by repeating the earlier call that returned it."""
        lines = [
            "import numpy as np",
            "from nnconform.checks.targets import load_target",
            f"target = load_target({self.target.spec!r}, device={self.target.device!r})",
        ]
        return "\n".join(lines + self._lines("out", "arg", depth=0))

    def _lines(self, result: str, prefix: str, depth: int) -> list[str]:
        lines, names = [], []
        inputs = [(f"{prefix}{i}", v) for i, v in enumerate(self.args)]
        for name, value in inputs + list(self.kwargs.items()):
            source = _source(value) if depth < 3 and not _is_literal(value) else None
            positional = name.startswith(prefix)
            if source is not None:  # e.g. batch_norm_backward(dy, cache): run batch_norm first
                earlier, index = source
                produced = f"{earlier.function}_out"
                lines += earlier._lines(produced, f"{earlier.function}_arg", depth + 1)
                expression = produced + ("" if index is None else f"[{index}]")
            else:
                expression = _literal(value)
            if positional:
                lines.append(f"{name} = {expression}")
            names.append(name if positional else f"{name}={expression}")
        lines.append(f"{result} = target.get({self.function!r})({', '.join(names)})")
        return lines


def _source(value: Any) -> tuple[Call, int | None] | None:
    """The earlier call of this check that returned ``value`` (or a tuple holding it)."""
    for earlier, out in reversed(SETTINGS.outputs):
        if out is value:
            return earlier, None
        if isinstance(out, tuple):
            for index, part in enumerate(out):
                if part is value:
                    return earlier, index
    return None


def _is_literal(value: Any) -> bool:
    if isinstance(value, np.ndarray | np.generic | str | int | float | bool | type(None)):
        return True
    if isinstance(value, tuple | list) and not hasattr(value, "_fields"):
        return all(_is_literal(v) for v in value)
    return False


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"dtype": value.dtype.name, "shape": list(value.shape), "data": value.tolist()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return repr(value)


def _numbers(text: str) -> str:
    """repr of floats as Python source: nan and inf are numpy's names."""
    return re.sub(r"\b(nan|inf)\b", r"np.\1", text)


def _array_literal(a: np.ndarray) -> str:
    """An array as source: a constant or evenly spaced one in its short form (the checks'
    grids: np.linspace(-4, 4, 801)), any other in full."""
    dtype = f"dtype=np.{a.dtype.name}"
    flat = a.ravel()
    if a.size > 1 and np.issubdtype(a.dtype, np.number):
        if np.all(flat == flat[0]):
            return _numbers(f"np.full({a.shape}, {flat[0].item()!r}, {dtype})")
        if a.ndim == 1 and a.size > 8 and np.issubdtype(a.dtype, np.floating):
            grid = np.linspace(flat[0], flat[-1], a.size, dtype=a.dtype)
            if np.array_equal(grid, flat):
                return f"np.linspace({flat[0].item()!r}, {flat[-1].item()!r}, {a.size}, {dtype})"
    return _numbers(f"np.array({a.tolist()!r}, {dtype})")


def _literal(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return _array_literal(value)
    if isinstance(value, np.generic):
        return _numbers(repr(value.item()))
    if isinstance(value, float):
        return _numbers(repr(value))
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return "(" + "".join(f"{_literal(v)}, " for v in value) + ")"
    if isinstance(value, list):
        items = [_literal(v) for v in value]
        if len(items) > 1 and len(set(items)) == 1:  # e.g. one mini-batch repeated for every step
            return f"[{items[0]}] * {len(items)}"
        return "[" + ", ".join(items) + "]"
    return repr(value)


def fail(message: str, call: Call | None = None, *, timeout: bool = False) -> None:
    """Fail the running check: record the message and the counterexample, then raise.

    A timeout never replaces the message of a wrong result already found in the same check
    (Hypothesis calls the target again while it shrinks, and a slow target may time out then).
    """
    record = current()
    message = message.strip()
    if call is not None:
        message = f"{message}\n\nReproduce with:\n\n{call.snippet()}"
    if not (timeout and record.message is not None and not record.timed_out):
        if call is not None:
            record.counterexample = {"function": call.function, "inputs": call.inputs()}
        record.message, record.timed_out = message, timeout
    raise ConformanceError(message)


def unsupported(reason: str, *, example: bool = True) -> None:
    """The target cannot take these inputs (``example``: these values only, so Hypothesis
    drops the example and draws others; else the whole check is skipped), recorded as
    *unsupported*, never as a failure. A check whose every example was dropped is
    unsupported."""
    if not example or not hypothesis.currently_in_test_context():
        pytest.skip(f"unsupported: {reason}")
    record = current()
    record.unsupported_examples += 1
    record.unsupported_reason = reason
    # as many examples dropped as the profile runs, and none compared: the target takes
    # (almost) none of this check's inputs. Skipped now, not after Hypothesis has drawn ten
    # times as many to find valid ones (its limit), each a call into the target
    if record.compared == 0 and record.unsupported_examples >= hypothesis.settings().max_examples:
        pytest.skip(f"unsupported: {reason} (the first {record.unsupported_examples} examples)")
    hypothesis.reject()


def each_part(*parts: Callable[[], None]) -> None:
    """Run every part of a check (a forward and its backward, in one mode): a part the target
    does not offer (a missing function, a mode it refuses) is skipped, the others still run,
    so that a backward is called in a mode even when its forward refuses it. The check is
    unsupported only when every part is."""
    skipped = []
    for part in parts:
        try:
            part()
        except pytest.skip.Exception as skip:
            skipped.append(skip)
    if len(skipped) == len(parts):
        raise skipped[0]


def requires_float64(target: Target) -> None:
    """A check that compares in float64 (finite differences, trajectories, identities exact to
    float64 rounding) is *unsupported* for a target whose declared dtypes lack float64: it says
    nothing about a float32-only library, which must not fail it on dtype."""
    if "float64" not in target.dtypes:
        unsupported(
            f"target declares no float64 ({target.name!r}: {', '.join(target.dtypes)}); this "
            "check compares in float64",
            example=False,
        )


def _on_timeout(signum, frame):
    raise CheckTimeoutError


def _within_limit(fn, args, kwargs, limit: float | None):
    """``fn(*args, **kwargs)`` with SIGALRM armed for ``limit`` seconds: the alarm can only
    fire while the target runs, never inside Hypothesis or pytest. (Signals reach the main
    thread only; elsewhere the call runs without a limit.)"""
    if limit is None or threading.current_thread() is not threading.main_thread():
        return fn(*args, **kwargs)
    previous = signal.signal(signal.SIGALRM, _on_timeout)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call(target: Target, function: str, *args: Any, **kwargs: Any) -> tuple[Any, Call]:
    """Run ``target.function(*args, **kwargs)``; return its output and the ``Call``.

    *Unsupported*, never failed: a function the target lacks; a documented mode keyword
    (``variant=``, ``weight_decay_mode=``…) it does not take, or answers with a TypeError; and
    ``NotImplementedError`` for arguments it cannot take. *Failed*, with that message: any
    other error; a call past the per-call time limit; a list or tuple where the reference
    returns an array.
    """
    fn = target.get(function)
    if fn is None:
        pytest.skip(f"unsupported: target {target.name!r} has no {function}")
    record = Call(target, function, args, kwargs)
    SETTINGS.ledger.note_call(function, args, kwargs)  # before the call: a mode refused counts
    modes = sorted(MODES.get(function, set()) & set(kwargs))
    if function in SETTINGS.hung:  # not called again: every call would wait for the limit
        fail(SETTINGS.hung[function], record, timeout=True)
    limit = SETTINGS.limit
    if limit is not None and function not in SETTINGS.called:
        limit *= FIRST_CALL_ALLOWANCE
    SETTINGS.called.add(function)
    try:
        out = _within_limit(fn, args, kwargs, limit)
    except CheckTimeoutError:
        SETTINGS.hung[function] = (
            f"{target.name}.{function} timed out: no result within the per-call time limit of "
            f"{limit:g} s (--timeout)"
        )
        fail(SETTINGS.hung[function], record, timeout=True)
    except NotImplementedError as error:
        unsupported(
            f"target {target.name!r} does not implement {function} for these arguments: {error}"
        )
    except TypeError as error:
        if not modes:
            fail(f"{target.name}.{function} raised TypeError: {error}", record)
        shown = ", ".join(f"{k}={kwargs[k]!r}" for k in modes)
        unsupported(
            f"target {target.name!r} does not offer {function}({shown}): {error}", example=False
        )
    except Exception as error:  # the target's own error: a failed check, not a crash
        fail(f"{target.name}.{function} raised {type(error).__name__}: {error}", record)
    if out is None:
        fail(
            f"{target.name}.{function} returned None: only a field of a result (of a tuple or "
            "NamedTuple) may be None, for an output the library does not expose",
            record,
        )
    if returns_array(function) and not _is_array(out):
        fail(
            f"{target.name}.{function} returned {type(out).__name__}, but the reference returns "
            "a numpy array: convert at the adapter's boundary (np.asarray)",
            record,
        )
    SETTINGS.outputs.append((record, out))
    SETTINGS.ledger.note_output(function, out)
    return out, record


def _is_array(out: Any) -> bool:
    return isinstance(out, np.ndarray | np.generic) or (
        hasattr(out, "__array__") and hasattr(out, "shape") and not isinstance(out, tuple | list)
    )


def derived(value: Any, *sources: Any) -> Any:
    """``value``, computed from ``sources`` (fields of the target's outputs, or values derived
    from them): when a check compares it with the oracle, the surface ledger counts the fields
    as compared. For a check that stacks, casts or concatenates outputs before comparing (a
    trajectory of steps); views and the fields themselves need no such word."""
    SETTINGS.ledger.note_derived(value, sources)
    return value


def guarded(target: Target, function: str) -> Any:
    """The target's function as a plain callable whose errors fail the check like ``call``'s
    (for helpers that call it many times, such as finite differences)."""
    return lambda *args, **kwargs: call(target, function, *args, **kwargs)[0]


def _errors(out: np.ndarray, expected: np.ndarray, tol: Tolerance) -> tuple[np.ndarray, ...]:
    """The absolute and relative error of each element of ``out``.

    An infinity in ``out`` is exact where the float64 ``expected`` lies, within the relative
    tolerance, at or beyond the largest finite value of out's dtype: rounded to that dtype the
    true value overflows (3.5e38 is inf in float32), and just below the threshold a correct
    target may round either way."""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(out.astype(np.float64) - expected)
        diff = np.where(np.isnan(diff) & ~(np.isnan(out) & np.isnan(expected)), np.inf, diff)
        diff = np.where(np.isnan(out) & np.isnan(expected), 0.0, diff)
        diff = np.where(out == expected, 0.0, diff)  # equal infinities
        if np.issubdtype(out.dtype, np.floating):
            overflows = np.abs(expected) * (1 + tol.rtol) >= np.finfo(out.dtype).max
            diff = np.where(
                np.isinf(out) & overflows & (np.sign(out) == np.sign(expected)), 0.0, diff
            )
        rel = diff / np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
    return diff, rel


def _outside(diff: np.ndarray, expected: np.ndarray, tol: Tolerance) -> np.ndarray:
    """Where an error exceeds the tolerance."""
    with np.errstate(invalid="ignore"):  # 0 · inf: an exact infinity is no error
        return ~((diff == 0) | (diff <= tol.atol + tol.rtol * np.abs(expected)))


def is_close(out: Any, expected: Any, tol: Tolerance) -> bool:
    """Whether ``out`` has ``expected``'s shape and equals it within ``tol``, as
    ``assert_close`` judges it; nothing is recorded (for a check that diagnoses a failure)."""
    expected = np.asarray(expected, dtype=np.float64)
    if out is None or np.shape(out) != expected.shape:
        return False
    out = np.asarray(out)
    if not np.issubdtype(out.dtype, np.number):
        return False
    return not _outside(_errors(out, expected, tol)[0], expected, tol).any()


def _check_array(out: Any, expected: np.ndarray, what: str, dtype, call: Call | None):
    if isinstance(out, tuple | list) or (not hasattr(out, "shape") and not np.isscalar(out)):
        fail(f"{what}: out={out!r} is not an array", call)
    if call is not None and dtype is not None and np.dtype(dtype) == np.float64:
        requires_float64(call.target)
    out = np.asarray(out)
    if out.shape != expected.shape:
        fail(f"{what}: out has shape {out.shape}, but should have shape {expected.shape}", call)
    if dtype is not None and out.dtype != np.dtype(dtype):
        fail(f"{what}: out has dtype {out.dtype}, but should have dtype {np.dtype(dtype)}", call)
    if not np.issubdtype(out.dtype, np.number) and out.dtype != np.bool_:
        fail(f"{what}: out has dtype {out.dtype}, which is not numeric", call)
    return out


def _show(a: np.ndarray) -> str:
    with np.printoptions(precision=17, threshold=20, edgeitems=3, linewidth=100):
        return repr(a) if a.ndim else repr(a.item())


def assert_close(
    out: Any,
    expected: Any,
    *,
    what: str,
    call: Call | None = None,
    dtype: Any = None,
    tol: Tolerance | None = None,
) -> None:
    """Assert ``out`` equals ``expected`` within the tolerance of ``dtype`` (or ``tol``):
    same shape, the declared dtype, no NaN where the oracle has a number.

    ``out`` None is a field of a result that the library does not expose (torch's BatchNorm
    has no ∂ℓ/∂σ², its spectral norm no σ): nothing is compared, and a check that compares
    nothing else is *unsupported*."""
    if out is None:
        current().unexposed.append(what)
        return
    SETTINGS.ledger.note_compared(out)
    expected = np.asarray(expected, dtype=np.float64)
    out = _check_array(out, expected, what, dtype, call)
    tol = tol or tolerance(dtype if dtype is not None else out.dtype)
    diff, rel = _errors(out, expected, tol)
    current().observe(float(diff.max(initial=0.0)), float(rel.max(initial=0.0)), tol.as_json())
    current().compared += 1
    bad = _outside(diff, expected, tol)
    if bad.any():
        index = np.unravel_index(np.argmax(np.where(bad, diff, -1.0)), diff.shape)
        fail(
            f"{what}: out={_show(out)}, but should be roughly {_show(expected)}\n"
            f"worst at index {tuple(int(i) for i in index)}: out {out[index]!r}, expected "
            f"{expected[index]!r}; max abs err {diff.max():.3g}, max rel err {rel.max():.3g}, "
            f"tolerance rtol={tol.rtol:g}, atol={tol.atol:g}",
            call,
        )


def assert_matches_variant(
    out: Any,
    candidates: Mapping[str, Any],
    *,
    default: str,
    what: str,
    call: Call | None = None,
    dtype: Any = None,
    tol: Tolerance | None = None,
) -> str:
    """Find which documented variant ``out`` matches; return its name.

    ``candidates`` maps each variant to the oracle's output in it. The default (the source's
    form) wins when several match. A match of another variant passes as a *variant* verdict
    (a failure under ``--strict``); no match fails, naming the closest variant and its error;
    inputs of one check that no single variant explains fail too.
    """
    record = current()
    record.default_variant = default
    if out is None:  # an output the library does not expose, as in assert_close
        record.unexposed.append(what)
        return default
    SETTINGS.ledger.note_compared(out)
    expected = {v: np.asarray(e, dtype=np.float64) for v, e in candidates.items()}
    first = next(iter(expected.values()))
    out = _check_array(out, first, what, dtype, call)
    tol = tol or tolerance(dtype if dtype is not None else out.dtype)
    scores = {}
    for variant, e in expected.items():
        diff, rel = _errors(out, e, tol)
        # the worst error as a multiple of what the tolerance allows: ≤ 1 means a match
        with np.errstate(invalid="ignore", divide="ignore"):  # an exact infinity: no excess
            allowed = tol.atol + tol.rtol * np.abs(e)
            excess = float(np.max(np.where(diff == 0, 0.0, diff / allowed), initial=0.0))
        scores[variant] = (excess, float(diff.max(initial=0.0)), float(rel.max(initial=0.0)))
    matched = [v for v, s in scores.items() if s[0] <= 1.0]
    if not matched:
        closest = min(scores, key=scores.get)
        record.observe(scores[closest][1], scores[closest][2], tol.as_json())
        record.closest = {
            "variant": closest,
            "max_abs_err": scores[closest][1],
            "max_rel_err": scores[closest][2],
        }
        fail(
            f"{what}: out={_show(out)} matches none of the documented variants "
            f"({', '.join(expected)}); the closest is {closest!r}, which gives "
            f"{_show(expected[closest])} (max abs err {scores[closest][1]:.3g}, max rel err "
            f"{scores[closest][2]:.3g}, tolerance rtol={tol.rtol:g}, atol={tol.atol:g})",
            call,
        )
    # An input on which the variants agree (GELU near 0, momentum at a constant lr) matches
    # several: the verdict keeps only the variants that every input of the check matched.
    common = matched if record.matched is None else [v for v in record.matched if v in matched]
    if not common:
        fail(
            f"{what}: matches {', '.join(matched)} here, but only {', '.join(record.matched)} "
            "on earlier inputs: no one documented variant explains the target",
            call,
        )
    record.matched = common
    record.compared += 1
    chosen = default if default in common else common[0]
    record.observe(scores[chosen][1], scores[chosen][2], tol.as_json())
    record.variant = chosen
    if chosen != default and SETTINGS.strict:
        fail(f"{what}: matches variant {chosen!r}, not the default {default!r} (--strict)", call)
    return chosen
