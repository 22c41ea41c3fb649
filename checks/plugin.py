"""The pytest plugin of the conformance suite (registered through the ``pytest11`` entry point).

    pytest --pyargs nnconform.checks --target torch [--device cuda] [--profile ci] [--xfails FILE]
           [--strict-variants] [--nnconform-json PATH] [--check-timeout SECONDS] [--no-shrink]
           [--allow-empty] [--nnconform-surface] [--surface-exceptions FILE]

It chooses the target, loads the Hypothesis profile, marks expected failures, sets the per-call
time limit, turns each check's outcome into a verdict record, prints one row per catalogue id
at the end and writes the records as JSON, with the surface ledger (``surface.py``): what the
run never exercised of the target. It does nothing in a session that collects no
checks (the project's own tests, for example).
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import Unsatisfiable

from nnconform.checks import surface
from nnconform.checks.assertions import SETTINGS, CheckTimeoutError, ConformanceError
from nnconform.checks.targets import Target, TargetError, load_target, usable_device
from nnconform.checks.tolerances import TOLERANCES
from nnconform.checks.verdicts import STATUSES, Record, open_record
from nnconform.files import write_json_atomically

PROFILES = {
    # examples per property; derandomised profiles use a fixed seed unless one is given.
    "quick": dict(max_examples=10),
    "ci": dict(max_examples=25),
    "thorough": dict(max_examples=300),
}
TIMEOUTS = {"quick": 10.0, "ci": 10.0, "thorough": 60.0}  # seconds per call of the target
CI_SEED = 0
_KEY = "nnconform"  # the user property that carries a record from a worker to the controller
_SURFACE_KEY = "nnconform_surface"  # and the check's surface ledger, the same way


def example_database() -> DirectoryBasedExampleDatabase:
    """thorough's example database: failures found in one nightly run are replayed first in
    the next. It lives in the user's cache, never in the working directory, and quick and ci
    use none, so that their runs depend on the seed alone."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return DirectoryBasedExampleDatabase(cache / "nnconform" / "hypothesis")


for _name, _values in PROFILES.items():
    settings.register_profile(
        f"nnconform-{_name}",
        deadline=None,  # a slow target is not a failure; the per-call time limit catches hangs
        # no explain phase: after shrinking, Hypothesis would re-run a failing example hundreds
        # of times to mark which of its arguments could vary (1401 runs, 14 s, for one JAX
        # prelu failure); the brief reports the shrunk counterexample and its error instead
        phases=tuple(p for p in Phase if p is not Phase.explain),
        # filter_too_much: examples a target cannot take (NotImplementedError) are rejected
        suppress_health_check=[
            HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much
        ],
        print_blob=False,  # no @reproduce_failure advice: the checks are not the user's code
        database=example_database() if _name == "thorough" else None,
        **_values,
    )  # fmt: skip


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nnconform", "nnconform conformance checks")
    group.addoption(
        "--target",
        default=os.environ.get("NNCONFORM_TARGET", "reference"),
        help="target to check: reference, torch, or module:attr (env NNCONFORM_TARGET)",
    )
    group.addoption("--device", default="cpu", help="device for the target: cpu or cuda")
    group.addoption("--profile", default="ci", choices=sorted(PROFILES), help="check profile")
    group.addoption("--xfails", default=None, help="expected-failures file: 'pattern # reason'")
    group.addoption(
        "--strict-variants",
        action="store_true",
        help="fail a check that matches a non-default variant",
    )
    group.addoption("--nnconform-json", default=None, help="write the verdicts as JSON here")
    group.addoption(
        "--check-timeout", type=float, default=None, help="time limit per call, in seconds"
    )
    group.addoption(
        "--no-shrink",
        action="store_true",
        help="report failing examples as found, without Hypothesis's shrink phase",
    )
    group.addoption(
        "--allow-empty",
        action="store_true",
        help="exit 0, not 2, when every selected check is unsupported",
    )
    group.addoption(
        "--nnconform-surface",
        action="store_true",
        help="print what the run never exercised of the target (functions, keywords, fields)",
    )
    group.addoption(
        "--surface-exceptions",
        default=None,
        help="accepted surface gaps, 'pattern  # reason' (default: the package's own file)",
    )


CHECKS_DIR = Path(__file__).resolve().parent


def _wants_checks(config: pytest.Config) -> bool:
    """Whether the session runs the checks (``--pyargs nnconform.checks``, or a path inside
    them)."""
    for arg in config.args:
        name = arg.split("::")[0]
        if name == __package__ or name.startswith(f"{__package__}."):
            return True
        path = Path(name).resolve()
        if path == CHECKS_DIR or CHECKS_DIR in path.parents:
            return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "algorithm(id): the catalogue id a check is about")
    config._nnconform = Session(config) if _wants_checks(config) else None


def _is_check(item: pytest.Item) -> bool:
    module = getattr(item, "module", None)
    return module is not None and module.__name__.startswith(f"{__package__}.")


# The checks are collected under their one import name, nnconform.checks.test_<family>. Left to
# itself, pytest would name a module after the folders above it that hold an __init__.py, which
# in a source tree is the bare checks.test_<family>: a second copy of every module, with its own
# settings and records.


class CheckModule(pytest.Module):
    """A module of checks, imported by its package name rather than by its path."""

    def _getobj(self):
        relative = self.path.relative_to(CHECKS_DIR).with_suffix("")
        return importlib.import_module(".".join((__package__, *relative.parts)))


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if path == CHECKS_DIR or CHECKS_DIR in path.parents:
        return pytest.Dir.from_parent(parent, path=path)  # not a Package: no import by path
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> pytest.Module | None:
    if CHECKS_DIR in module_path.parents:
        return CheckModule.from_parent(parent, path=module_path)
    return None


class Session:
    """What a checks session knows: its target, options and records."""

    def __init__(self, config: pytest.Config):
        self.config = config
        option = config.option
        try:
            self.target: Target = load_target(option.target, device=option.device)
            usable_device(self.target)
        except TargetError as error:
            raise pytest.UsageError(str(error)) from None
        self.profile = option.profile
        self.timeout = option.check_timeout or TIMEOUTS[self.profile]
        SETTINGS.limit = self.timeout
        seed = config.getoption("hypothesis_seed", None)
        if isinstance(seed, str) and seed.lstrip("-").isdigit():
            seed = int(seed)  # Hypothesis takes any string; record integers as integers
        if seed is None and self.profile != "thorough":
            seed = CI_SEED  # quick and ci are derandomised: the same seed unless one is given
            from hypothesis import core

            core.global_force_seed = seed
        self.seed = seed
        profile = f"nnconform-{self.profile}"
        if option.no_shrink:  # every phase but shrinking: a failure costs its examples only
            phases = tuple(p for p in settings.get_profile(profile).phases if p is not Phase.shrink)
            settings.register_profile(f"{profile}-unshrunk", settings.get_profile(profile),
                                      phases=phases)  # fmt: skip
            profile += "-unshrunk"
        settings.load_profile(profile)
        SETTINGS.strict = option.strict_variants
        try:
            self.xfails = read_xfails(option.xfails) if option.xfails else []
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None
        self.xfail_used: set[int] = set()
        self.records: list[dict[str, Any]] = []
        try:
            self.surface_exceptions = surface.read_exceptions(option.surface_exceptions)
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None

    def header(self) -> str:
        t = self.target
        return (
            f"nnconform: target {t.name} (version {t.version}) on {t.device} "
            f"({', '.join(t.dtypes)}), "
            f"profile {self.profile}, hypothesis seed {self.seed}, "
            f"time limit {self.timeout:g} s per call"
        )


def read_xfails(path: str) -> list[tuple[str, str]]:
    """Entries 'pattern  # reason', one per line; the pattern is a glob over the check's node
    id or 'algorithm::property'. A reason is required: an expected failure must say why.
    Raises ``ValueError`` with a one-line message for a file that cannot be used."""
    entries = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ValueError(f"cannot read --xfails {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ValueError(
            f"cannot read --xfails {path}: not UTF-8 text (byte 0x{error.object[error.start]:02x} "
            f"at offset {error.start}); save it as UTF-8"
        ) from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pattern, _, reason = line.partition("#")
        if not reason.strip():
            raise ValueError(
                f"{path}:{number}: entry {pattern.strip()!r} has no reason; write "
                f"'{pattern.strip()}  # why it is expected to fail'"
            )
        entries.append((pattern.strip(), reason.strip()))
    return entries


def _algorithm(item: pytest.Item) -> str:
    """The catalogue id of a check: its ``algorithm`` parameter, else its marker."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "algorithm" in params:
        return params["algorithm"]
    marker = item.get_closest_marker("algorithm")
    return marker.args[0] if marker else item.module.__name__.rpartition("test_")[2]


def _property(item: pytest.Item) -> str:
    return item.originalname.removeprefix("test_") if hasattr(item, "originalname") else item.name


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Before pytest applies -k: each check answers to its catalogue id, so that `-k adam`
    selects every check of adam whatever its name; expected failures are marked."""
    session = config._nnconform
    if session is None:
        return
    for item in filter(_is_check, items):
        item.extra_keyword_matches.add(_algorithm(item))
        names = (item.nodeid, f"{_algorithm(item)}::{_property(item)}")
        for index, (pattern, reason) in enumerate(session.xfails):
            if any(fnmatch.fnmatchcase(name, pattern) for name in names):
                item.add_marker(pytest.mark.xfail(reason=reason, strict=False))
                session.xfail_used.add(index)


def pytest_report_header(config: pytest.Config) -> str | None:
    session = config._nnconform
    return session.header() if session else None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A check that takes ``dtype`` runs once per floating dtype the target declares."""
    session = metafunc.config._nnconform
    if session is not None and "dtype" in metafunc.fixturenames:
        dtypes = [d for d in session.target.dtypes if d in TOLERANCES]
        metafunc.parametrize("dtype", dtypes)


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    """The target under check."""
    session = request.config._nnconform
    if session is None:
        pytest.skip("not a checks session")
    return session.target


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    if item.config._nnconform is None or not _is_check(item):
        yield
        return
    item._nnconform_record = Record(_algorithm(item), _property(item), nodeid=item.nodeid)
    item._nnconform_start = time.perf_counter()
    open_record(item._nnconform_record)
    SETTINGS.new_check()
    try:
        yield
    finally:
        open_record(None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    record: Record | None = getattr(item, "_nnconform_record", None)
    if record is None:
        return
    final = report.when == "call" or (report.when == "setup" and not report.passed)
    if not final:
        return
    record.duration_s = round(time.perf_counter() - item._nnconform_start, 4)
    _unsupported_by_parts(report, call, record)
    if hasattr(report, "wasxfail"):
        record.status = "xfail" if report.skipped else "xpass"
        record.message = record.message or report.wasxfail
    elif report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        record.status = "unsupported"
        record.message = reason
    elif report.failed:
        error = call.excinfo.value if call.excinfo else None
        # a helper recorded the failure (Hypothesis may wrap it, e.g. in an ExceptionGroup)
        record.status = "fail" if record.message is not None or _conformance(error) else "error"
        if record.message is None:
            record.message = str(error) if error is not None else report.longreprtext
        if record.status == "fail" and item.config.option.verbose <= 0:
            report.longrepr = _brief(record)
    else:
        varied = record.variant is not None and record.variant != record.default_variant
        record.status = "variant" if varied else "pass"
    report.user_properties.append((_KEY, json.dumps(record.as_json())))
    report.user_properties.append((_SURFACE_KEY, json.dumps(SETTINGS.ledger.as_json())))
    # JUnit XML (junit_family=xunit1) writes the teardown report's properties, which come
    # from the item's: the verdict's status and variant, beside pytest's passed/skipped
    item.user_properties.append(("nnconform_status", record.status))
    if record.variant is not None:
        item.user_properties.append(("nnconform_variant", record.variant))


def _unsupported_by_parts(report: pytest.TestReport, call: pytest.CallInfo, record: Record):
    """A check that compared nothing because the target does not expose what it compares (a
    None field), or rejected every example with NotImplementedError (Hypothesis then gives up
    with Unsatisfiable), is skipped as unsupported: in the record, and for pytest, so that the
    terminal, JUnit and the exit status agree."""
    if report.when != "call" or report.skipped or hasattr(report, "wasxfail"):
        return  # skipped already carries its reason
    error = call.excinfo.value if call.excinfo else None
    if report.failed and not (isinstance(error, Unsatisfiable) and record.unsupported_examples):
        return
    if report.passed and (record.compared or not (record.unexposed or record.unsupported_examples)):
        return
    if record.unexposed and not record.compared:
        reason = f"target does not expose {', '.join(sorted(set(record.unexposed)))}"
    else:
        reason = record.unsupported_reason
    report.outcome = "skipped"
    path, line, _ = report.location
    report.longrepr = (path, line or 0, f"Skipped: unsupported: {reason}")


MAX_FAILURE_LINES = 40


def _brief(record: Record) -> str:
    """A failed property as a user acts on it: what failed, the message (the closest variant,
    the errors, the tolerance) and the snippet that reproduces it, in at most 40 lines. No
    traceback of the suite's own frames, no dump of the target: -v and the JSON keep those."""
    lines = [f"{record.algorithm}::{record.property}", *record.message.splitlines()]
    if len(lines) > MAX_FAILURE_LINES:
        cut = len(lines) - MAX_FAILURE_LINES + 1
        lines = [*lines[: MAX_FAILURE_LINES - 1], f"… {cut} more lines: run with -v, or see --json"]
    return "\n".join(lines)


def _conformance(error: BaseException | None) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return all(_conformance(e) for e in error.exceptions)
    return isinstance(error, ConformanceError | CheckTimeoutError | AssertionError)


def _checked_nothing() -> bool:
    return bool(_RECORDS) and all(r["status"] == "unsupported" for r in _RECORDS)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect records (on the controller too, when pytest-xdist runs the checks)."""
    for key, value in report.user_properties:
        if key == _KEY:
            _RECORDS.append(json.loads(value))
        elif key == _SURFACE_KEY:
            _LEDGERS.append(json.loads(value))


_RECORDS: list[dict[str, Any]] = []
_LEDGERS: list[dict[str, list[str]]] = []  # one per check: what it exercised of the target


def surface_of(state: Session) -> dict[str, Any]:
    """The run's surface ledger: what it never exercised of the target."""
    return surface.gaps(state.target, surface.merge(_LEDGERS), state.surface_exceptions)


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per catalogue id: the count of each status, and the variant(s) the target
    matched: those that every passing check measuring a variant agreed on (a check on inputs
    where the variants coincide matches several; another that tells them apart narrows it)."""
    rows: dict[str, dict[str, Any]] = {}
    for r in sorted(records, key=lambda r: r["algorithm"]):
        row = rows.setdefault(
            r["algorithm"], {"algorithm": r["algorithm"]} | dict.fromkeys(STATUSES, 0)
        )
        row[r["status"]] += 1
        if r["status"] in ("pass", "variant") and r.get("matched"):
            row.setdefault("default_variant", r["default_variant"])
            row.setdefault("_matched", []).append(r["matched"])
    for row in rows.values():
        sets = row.pop("_matched", [])
        common = [v for v in sets[0] if all(v in m for m in sets)] if sets else []
        row["variants"] = common or sorted({v for m in sets for v in m})
        row["consistent"] = bool(common) or not sets
        row["verdict"] = verdict_of(row)
    return list(rows.values())


def verdict_of(row: dict[str, Any]) -> str:
    """The verdict of a catalogue id from its counts, the worst first: an expected failure
    that passed (xpass) means the expected-failures file is out of date; an xfail is a known
    failure, never a pass."""
    for status in ("error", "fail", "xpass", "xfail"):
        if row[status]:
            return status
    if row["pass"] or row["variant"]:
        # a check whose inputs tell the variants apart records the non-default one it matched
        # (a variant), of whichever mode keyword it measures (Adam's form and weight decay)
        return "variant" if row["variant"] else "pass"
    return "unsupported"


# The table's columns: each status once, so that its counts are the JSON's and JUnit's.
COLUMNS = (("pass", "pass"), ("variant", "var"), ("fail", "fail"), ("unsupported", "unsup"),
           ("xfail", "xfail"), ("xpass", "xpass"), ("error", "err"))  # fmt: skip


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    session = config._nnconform
    if session is None or hasattr(config, "workerinput") or not _RECORDS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("nnconform verdicts")
    write(session.header())
    counts = "".join(f"{title:>6}" for _, title in COLUMNS)
    write(f"{'algorithm':<26}{'verdict':<12}{counts}  variants matched")
    for row in summarise(_RECORDS):
        counts = "".join(f"{row[status]:>6}" for status, _ in COLUMNS)
        variants = ", ".join(row["variants"]) or "-"
        write(f"{row['algorithm']:<26}{row['verdict']:<12}{counts}  {variants}")
    for index, (pattern, reason) in enumerate(session.xfails):
        if index not in session.xfail_used:
            write(f"warning: expected-failures entry {pattern!r} ({reason}) matched no check",
                  yellow=True)  # fmt: skip
    for r in _RECORDS:
        if r["status"] == "xpass":
            write(f"warning: {r['algorithm']}::{r['property']} was expected to fail and passed: "
                  "remove its entry from the expected-failures file", yellow=True)  # fmt: skip
    if config.option.nnconform_surface:
        terminalreporter.section("nnconform surface")
        for line in surface.lines(surface_of(session)):
            write(line)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config._nnconform
    if state is None or hasattr(config, "workerinput"):
        return
    if exitstatus == pytest.ExitCode.OK and _checked_nothing() and not config.option.allow_empty:
        # a gate that passes having checked nothing is no gate: exit 2, and no verdicts file
        session.exitstatus = exitstatus = pytest.ExitCode.USAGE_ERROR
        print(
            f"nnconform check: error: checked nothing: all {len(_RECORDS)} selected checks are "
            f"unsupported by target {state.target.name!r} (--allow-empty accepts this)",
            file=sys.stderr,
        )
    if not config.option.nnconform_json:
        return
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return  # interrupted, or nothing ran: no verdicts rather than partial ones
    from nnconform.checks.perf.machine import machine_info  # only when a document is written

    document = {
        "target": state.target.as_json(),
        # the machine, so that documents from a CI matrix (a CPU job, a GPU job) merge into
        # one report, each column labelled with where it ran
        "machine": machine_info(state.target.device),
        "profile": state.profile,
        "hypothesis_seed": state.seed,
        "strict": config.option.strict_variants,
        "exit_status": int(exitstatus),
        "summary": summarise(_RECORDS),
        "surface": surface_of(state),
        "records": sorted(_RECORDS, key=lambda r: r["nodeid"]),
    }
    write_json_atomically(Path(config.option.nnconform_json), document)
