"""The surface ledger: what a run of the checks never exercised of its target, measured by the
gate itself (checks/surface.py), and the reference's ledger empty but for excused gaps."""

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from nnconform.checks import assertions, surface
from nnconform.checks.targets import load_target
from nnconform.reference import normalization, optimizers
from tests import forkserver

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ledger():
    """The running check's ledger, fresh, as the plugin gives each check."""
    assertions.SETTINGS.new_check()
    yield assertions.SETTINGS.ledger
    assertions.SETTINGS.new_check()


@pytest.fixture(scope="module")
def reference():
    return load_target("reference")


def _bn(reference):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2))
    return assertions.call(reference, "batch_norm", x, np.ones(2), np.zeros(2), np.zeros(2),
                           np.ones(2), training=False)  # fmt: skip


def test_a_field_compared_itself_or_through_a_view_is_compared_and_no_other(ledger, reference):
    out, c = _bn(reference)
    expected = normalization.batch_norm(*c.args, **c.kwargs)
    assertions.assert_close(out.y[1:], expected.y[1:], what="y, a slice", call=c)
    assertions.assert_close(out.running_mean, expected.running_mean, what="mean", call=c)
    assert ledger.compared == {"batch_norm.y", "batch_norm.running_mean"}
    assert {"batch_norm.running_var", "batch_norm.cache"} <= ledger.fields - ledger.compared


def test_a_copy_of_a_field_is_not_traced_unless_it_is_declared_derived(ledger, reference):
    out, c = _bn(reference)
    var = out.running_var
    assertions.assert_close(var.astype(np.float64).copy(), var, what="a copy", call=c)
    assert "batch_norm.running_var" not in ledger.compared
    stacked = assertions.derived(np.stack([out.running_var.copy()]), out.running_var)
    assertions.assert_close(stacked, stacked.copy(), what="derived", call=c)
    assert "batch_norm.running_var" in ledger.compared


def test_a_part_of_a_tuple_field_credits_its_field(ledger, reference):
    state = optimizers.adam_init(np.zeros(2))
    out, c = assertions.call(reference, "adam_step", np.zeros(2), np.ones(2), state, lr=0.1)
    assertions.assert_close(out[1].s, out[1].s.copy(), what="s", call=c)
    assert ledger.compared == {"adam_step[1]"}


def test_keywords_are_noted_by_name_or_by_position_and_mode_values_by_value(ledger, reference):
    assertions.call(reference, "k_fold", 6, 3)  # k by position
    assertions.call(reference, "adam_step", np.zeros(1), np.ones(1),
                    optimizers.adam_init(np.zeros(1)), lr=0.1, weight_decay_mode="l2")  # fmt: skip
    assert {"k_fold(k)", "adam_step(weight_decay_mode)"} <= ledger.keywords
    assert "k_fold(rng)" not in ledger.keywords
    assert ledger.modes == {"adam_step(weight_decay_mode=l2)"}


def _gaps(reference, ledgers, exceptions=()):
    return surface.gaps(reference, surface.merge(ledgers), list(exceptions))


def test_gaps_name_what_was_never_exercised_and_exceptions_move_it_apart(reference):
    run = {
        "called": ["adam_step", "critical_point"],
        "keywords": ["adam_step(beta1)"],
        "modes": ["adam_step(weight_decay_mode=l2)", "adam_step(form=algorithm_1)"],
        "fields": ["adam_step[0]", "adam_step[1]"],
        "compared": ["adam_step[0]"],
    }
    gaps = _gaps(reference, [run])
    assert "relu" in gaps["functions"] and "adam_step" not in gaps["functions"]
    assert "critical_point(tol)" in gaps["keywords"] and "adam_step(beta1)" not in gaps["keywords"]
    assert set(gaps["modes"]) == {
        "adam_step(form=efficient)",
        "adam_step(weight_decay_mode=decoupled)",
    }
    assert gaps["fields"] == ["adam_step[1]"]
    excused = _gaps(reference, [run], [("adam_step[1]", "opaque state"), ("nothing*", "unused")])
    assert excused["fields"] == []
    assert excused["excused"] == [{"name": "adam_step[1]", "kind": "fields",
                                   "reason": "opaque state"}]  # fmt: skip
    assert excused["unused_exceptions"] == ["nothing*"]


def test_an_exception_without_a_reason_is_refused(tmp_path):
    path = tmp_path / "exceptions.txt"
    path.write_text("relu  # fine\ngelu\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"exceptions\.txt:2: entry 'gelu' has no reason"):
        surface.read_exceptions(path)


def test_the_package_exceptions_file_is_read_and_every_entry_has_a_reason():
    entries = surface.read_exceptions()
    assert entries and all(reason for _, reason in entries)


@pytest.mark.slow
def test_the_reference_ci_run_leaves_no_unexcused_gap_and_no_stale_exception():
    """The gate's own surface: the reference under the ci profile on two workers (each
    worker's ledger reaches the controller) calls every function, passes every documented
    keyword and mode value, and compares every output field, but for the excused gaps; and
    every exception still excuses something."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "verdicts.json"
        run = forkserver.run("check", "--target", "reference", "-n", "2", "--no-shrink",
                             "--surface", "--json", str(path))  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        ledger = json.loads(path.read_text())["surface"]
    for kind in surface.TITLES:
        assert ledger[kind] == [], f"{kind} never exercised: {ledger[kind]}"
    assert ledger["unused_exceptions"] == [], "remove the exceptions that excuse nothing"
    assert ledger["counts"]["functions_called"] == ledger["counts"]["functions_offered"]
    assert "nnconform surface" in run.stdout
    assert f"{surface.TITLES['fields']}: none" in run.stdout
