"""``nnconform check`` as a user runs it: exit status, JSON, JUnit XML, expected failures,
--strict, workers, and targets that raise, hang, or return the wrong thing."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests import forkserver
from tests.zoo import failed, run_checks

ROOT = Path(__file__).resolve().parents[1]


def nnconform(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``nnconform *args`` in a fresh process (forked from one with the checks imported)."""
    return forkserver.run(*args, cwd=cwd)


def test_the_reference_passes_every_activation_check_and_exits_0():
    document = run_checks("reference", k="activation or relu or softmax or gelu")
    statuses = {r["status"] for r in document["records"]}
    assert document["returncode"] == 0, document["output"][-2000:]
    assert statuses == {"pass"}
    assert document["target"]["name"] == "reference"
    assert document["hypothesis_seed"] == 0
    record = document["records"][0]
    for field in ("algorithm", "property", "status", "variant", "max_abs_err", "max_rel_err",
                  "tolerance", "counterexample"):  # fmt: skip
        assert field in record


@pytest.mark.parametrize(
    ("bug", "message"),
    [
        ("raises", "raised RuntimeError: kernel launch failed"),
        ("wrong_shape", "but should have"),
        ("wrong_dtype", "but should have dtype float64"),
        ("returns_nan", "out=array([nan"),
    ],
)
def test_a_misbehaving_target_fails_its_checks_and_the_run_goes_on(bug, message):
    document = run_checks(f"tests.zoo.broken:{bug}", k="relu")
    assert document["returncode"] == 1
    relu = [r for r in document["records"] if r["algorithm"] == "relu"]
    assert relu and all(r["status"] in ("fail", "pass") for r in relu)
    failures = [r for r in relu if r["status"] == "fail"]
    assert any(message in r["message"] for r in failures), [r["message"] for r in failures]
    assert all("Reproduce with:" in r["message"] for r in failures)
    others = [r for r in document["records"] if r["algorithm"] != "relu"]
    assert all(r["status"] == "pass" for r in others)  # leaky_relu, relu6: the run went on


def test_a_target_that_hangs_fails_at_the_time_limit():
    document = run_checks(
        "tests.zoo.broken:hangs",
        k="forward_matches_the_oracle and relu and not leaky and not relu6",
        extra=("--timeout", "2"),
    )
    assert document["returncode"] == 1
    (record,) = [r for r in document["records"] if r["algorithm"] == "relu"]
    assert record["status"] == "fail"
    assert "timed out: no result within the per-call time limit" in record["message"]
    assert record["duration_s"] < 30


def test_a_failure_carries_a_snippet_that_reproduces_it():
    document = run_checks("tests.zoo.activations:softmax_without_max", k="softmax")
    (record,) = [
        r for r in document["records"]
        if r["property"] == "softmax_is_finite_at_logits_of_1e4" and r["algorithm"] == "softmax"
    ]  # fmt: skip
    snippet = record["message"].split("Reproduce with:\n\n")[1]
    assert record["counterexample"]["function"] == "softmax"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", snippet + "\nprint(out)"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    assert "nan" in run.stdout


def test_a_documented_variant_passes_unless_strict():
    lenient = run_checks("tests.zoo.broken:gelu_erf", k="gelu")
    assert lenient["returncode"] == 0
    variants = {r["variant"] for r in lenient["records"] if r["status"] == "variant"}
    assert variants == {"erf"}
    assert any(row["algorithm"] == "gelu" and row["variants"] == ["erf"]
               for row in lenient["summary"])  # fmt: skip
    strict = run_checks("tests.zoo.broken:gelu_erf", k="gelu", extra=("--strict",))
    assert strict["returncode"] == 1
    assert "gelu::gelu_matches_a_documented_variant" in failed(strict)


def test_expected_failures_pass_and_stale_entries_warn(tmp_path):
    xfails = tmp_path / "xfails.txt"
    xfails.write_text(
        "softmax::softmax_is_finite_at_logits_of_1e4  # known overflow, fixed upstream in 2.0\n"
        "softmax::forward_and_backward_are_right_at_the_edge_*  # the same overflow\n"
        "adam::no_such_property  # stale entry\n"
    )
    document = run_checks(
        "tests.zoo.activations:softmax_without_max", k="softmax", extra=("--xfails", str(xfails))
    )
    assert document["returncode"] == 0, document["output"][-2000:]
    assert "xfail" in {r["status"] for r in document["records"]}
    assert "'adam::no_such_property' (stale entry) matched no check" in document["output"]


def test_an_expected_failure_without_a_reason_is_a_usage_error(tmp_path):
    xfails = tmp_path / "xfails.txt"
    xfails.write_text("softmax::softmax_is_finite_at_logits_of_1e4\n")
    run = nnconform("check", "--target", "reference", "-k", "softmax", "--xfails", str(xfails))
    assert run.returncode == 2
    assert "has no reason" in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target", "nosuchtarget"), "unknown target 'nosuchtarget'"),
        (("--target", "no_such_module:thing"), "cannot import target module 'no_such_module'"),
        (("--target", "tests.zoo:nothing_here"), "has no attribute 'nothing_here'"),
        (("--target", "reference", "-k", "no_check_has_this_name"), "no check matches"),
    ],
)
def test_usage_errors_exit_2_with_a_one_line_message(args, message, tmp_path):
    out = tmp_path / "verdicts.json"
    run = nnconform("check", *args, "--json", str(out))
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists()  # nothing, rather than a partial file


def test_junit_xml_and_json_are_written_whole_with_workers(tmp_path):
    junit, verdicts = tmp_path / "junit.xml", tmp_path / "verdicts.json"
    run = nnconform(
        "check", "--target", "reference", "-k", "relu", "-n", "2",
        "--junit-xml", str(junit), "--json", str(verdicts),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    cases = ET.parse(junit).getroot().iter("testcase")
    document = json.loads(verdicts.read_text())
    assert len(list(cases)) == len(document["records"]) > 0
    assert not list(tmp_path.glob(".*.tmp"))
    assert "nnconform verdicts" in run.stdout and "hypothesis seed 0" in run.stdout


@pytest.mark.parametrize("device", ["cuda", "tpu"])
def test_a_device_the_target_does_not_run_on_is_exit_2_in_one_line(device, tmp_path):
    run = nnconform("check", "--target", "reference", "--device", device, "--json",
                    str(tmp_path / "v.json"))  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1
    assert f"target 'reference' does not run on device {device!r} here" in run.stderr
    assert not list(tmp_path.iterdir())


def test_a_run_that_checked_nothing_is_exit_2_unless_allowed(tmp_path):
    """Every selected check unsupported (a target with no relu): a gate that passed would have
    checked nothing."""
    out = tmp_path / "v.json"
    args = ("check", "--target", "tests.zoo.broken:never_implemented", "--profile", "quick",
            "-k", "relu and not leaky and not relu6 and not prelu", "--json", str(out))  # fmt: skip
    empty = nnconform(*args)
    assert empty.returncode == 2, empty.stdout + empty.stderr
    assert re.search(r"checked nothing: all \d+ selected checks are unsupported", empty.stderr)
    assert not out.exists()
    allowed = nnconform(*args, "--allow-empty")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert {r["status"] for r in json.loads(out.read_text())["records"]} == {"unsupported"}


def test_not_implemented_for_some_arguments_is_unsupported_for_those_only():
    k = "relu and not leaky and not relu6 and not prelu"
    partly = run_checks("tests.zoo.broken:partly_implemented", k=k)
    assert partly["returncode"] == 0, partly["output"][-2000:]
    assert {r["status"] for r in partly["records"]} == {"pass"}
    assert any(r["unsupported_examples"] for r in partly["records"])  # the rest were checked
    never = run_checks("tests.zoo.broken:never_implemented", k=k, extra=("--allow-empty",))
    assert {r["status"] for r in never["records"]} == {"unsupported"}
    assert all("no relu on this device" in r["message"] for r in never["records"])


def test_a_field_the_library_does_not_expose_is_unsupported_not_failed():
    document = run_checks("tests.zoo.broken:hides_dx", k="batch_norm and (dx_hat or dvar)")
    statuses = {r["property"]: r["status"] for r in document["records"]}
    assert statuses == {
        "batch_norm_dx_hat_matches_the_oracle": "unsupported",
        "batch_norm_dvar_matches_the_oracle": "pass",
    }
    assert document["returncode"] == 0


def test_a_list_where_an_array_is_returned_fails_every_property_with_one_message():
    document = run_checks("tests.zoo.broken:returns_list",
                          k="relu and not leaky and not relu6 and not prelu")  # fmt: skip
    assert document["returncode"] == 1
    relu = [r for r in document["records"] if r["algorithm"] == "relu"]
    assert len(relu) >= 3 and {r["status"] for r in relu} == {"fail"}
    assert all("returned list, but the reference returns a numpy array" in r["message"]
               for r in relu)  # fmt: skip


def test_selection_by_catalogue_id_reaches_every_check_of_the_id():
    """`-k <id>` selects a check whose name does not contain the id."""
    for k in ("critical_point", "model_averaging"):
        document = run_checks("reference", k=k)
        assert {r["algorithm"] for r in document["records"]} == {k}
        # those whose names lack the id are there too (the id marker, not the name, selects)
        assert any(k not in r["property"] for r in document["records"]), k


def test_non_finite_numbers_are_written_as_valid_json(tmp_path):
    from nnconform.files import write_json_atomically

    path = tmp_path / "v.json"
    write_json_atomically(path, {"err": float("nan"), "deep": [{"x": float("-inf")}]})
    assert json.loads(path.read_text()) == {"err": "nan", "deep": [{"x": "-inf"}]}


def test_the_readme_adapter_example_passes_its_checks(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Your own implementation")[1]
    code = section.split("```python\n")[1].split("```")[0]
    (tmp_path / "my_kernels.py").write_text(code)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    verdicts = tmp_path / "verdicts.json"
    run = subprocess.run(
        [sys.executable, "-m", "nnconform", "check", "--target", "my_kernels",
         "-k", "relu or softmax", "--profile", "quick", "--json", str(verdicts)],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    document = json.loads(verdicts.read_text())
    assert document["target"]["name"] == "my-kernels"
    passed = {r["algorithm"] for r in document["records"] if r["status"] == "pass"}
    assert {"relu", "softmax"} <= passed


def test_terminal_json_and_junit_agree_on_every_count(tmp_path):
    """pass, variant, fail, unsupported, xfail and xpass, counted in the terminal table, the
    JSON summary and the JUnit XML properties, are the same numbers."""
    xfails = tmp_path / "xfails.txt"
    xfails.write_text(
        "softmax::softmax_is_finite_at_logits_of_1e4  # a known overflow\n"
        "softmax::forward_and_backward_are_right_at_the_edge_*  # the same overflow\n"
        "tanh::*  # an entry for checks that pass: xpass\n",
        encoding="utf-8",
    )
    verdicts, junit = tmp_path / "v.json", tmp_path / "j.xml"
    run = nnconform("check", "--target", "tests.zoo.broken:mixed", "--profile", "quick", "-k",
                    "gelu or sigmoid or softmax or tanh", "--xfails", str(xfails),
                    "--json", str(verdicts), "--junit-xml", str(junit))  # fmt: skip
    assert run.returncode == 1, run.stdout[-3000:]
    summary = {row["algorithm"]: row for row in json.loads(verdicts.read_text())["summary"]}
    lines = run.stdout.split("variants matched\n")[1].splitlines()
    table = [line for line in lines if line.split()[:1] and line.split()[0] in summary]
    assert len(table) == len(summary)
    columns = ("pass", "variant", "fail", "unsupported", "xfail", "xpass", "error")
    for line in table:
        algorithm, verdict, *counts = line.split()[:9]
        assert verdict == summary[algorithm]["verdict"], line
        assert [int(c) for c in counts] == [summary[algorithm][c] for c in columns], line
    junit_counts: dict = {}
    for case in ET.parse(junit).iter("testcase"):
        status = next(p.get("value") for p in case.iter("property")
                      if p.get("name") == "nnconform_status")  # fmt: skip
        junit_counts[status] = junit_counts.get(status, 0) + 1
    json_counts = {c: sum(row[c] for row in summary.values()) for c in columns}
    assert junit_counts == {c: n for c, n in json_counts.items() if n}
    verdicts_by_id = {a: row["verdict"] for a, row in summary.items()}
    assert verdicts_by_id == {"gelu": "variant", "sigmoid": "fail", "softmax": "xfail",
                              "log_softmax": "pass", "cross_entropy": "pass",
                              "tanh": "xpass"}  # fmt: skip
    assert "expected to fail and passed: remove its entry" in run.stdout


def test_a_failing_property_prints_at_most_40_lines_with_its_repro(tmp_path):
    run = nnconform("check", "--target", "tests.zoo.activations:sigmoid_backward_wrong",
                    "--profile", "quick", "-k", "sigmoid")  # fmt: skip
    assert run.returncode == 1
    failures = run.stdout.split("= FAILURES =")[1].split("nnconform verdicts")[0]
    blocks = [b for b in failures.split("\n_") if "::" in b]
    assert blocks
    for block in blocks:
        assert len(block.strip().splitlines()) <= 41  # the header line, then 40
        assert "Reproduce with:" in block
    for noise in ("namespace=", "reproduce_failure", "Traceback", "site-packages", "def test_"):
        assert noise not in failures, noise
    verbose = nnconform("check", "--target", "tests.zoo.activations:sigmoid_backward_wrong",
                        "--profile", "quick", "-k", "sigmoid", "-v")  # fmt: skip
    assert "def test_" in verbose.stdout  # -v keeps the whole traceback


def test_a_backward_repro_snippet_runs_as_printed(tmp_path):
    """The snippet rebuilds the forward's opaque cache by repeating the forward."""
    document = run_checks(
        "tests.zoo.normalization:bn_backward_without_dvar_term", k="batch_norm_dx_matches"
    )
    (record,) = [r for r in document["records"] if r["status"] == "fail"]
    snippet = record["message"].split("Reproduce with:\n\n")[1]
    assert "batch_norm_out = target.get('batch_norm')(" in snippet
    script = tmp_path / "repro.py"
    script.write_text(snippet + "\nprint(type(out).__name__)\n", encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=os.environ | {"PYTHONPATH": str(ROOT)}, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "BatchNormGrads"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-n", "abc"), "argument -n: must be a number of processes"),
        (("--timeout", "-1"), "argument --timeout: must be a positive number of seconds"),
        (("--json", "{tmp}"), "is a directory; give a file name inside it"),
        (("--junit-xml", "/proc/no/such.xml"), "cannot write into /proc"),
        (("--xfails", "{tmp}/latin1.txt"), "not UTF-8 text (byte 0xe9 at offset"),
        (("--target", "broken_at_import"), "raised RuntimeError when imported (at "),
        (("--target", "bad_syntax"), "has a syntax error at "),
        (("--target", "no_such_module"), "no module 'no_such_module' in the current directory"),
        (("-k", "no_check_is_called_this"), "no check matches -k 'no_check_is_called_this'"),
    ],
)
def test_a_usage_error_is_one_line_exit_2_and_writes_nothing(args, message, tmp_path):
    (tmp_path / "latin1.txt").write_bytes("relu*  # café\n".encode("latin-1"))
    (tmp_path / "broken_at_import.py").write_text("raise RuntimeError('no GPU here')\n")
    (tmp_path / "bad_syntax.py").write_text("def relu(x:\n")
    out = tmp_path / "out"
    out.mkdir()
    args = tuple(a.format(tmp=tmp_path) for a in args)
    run = nnconform("check", "--target", "reference", "--json", str(out / "v.json"),
                    "--junit-xml", str(out / "j.xml"), *args, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr
    assert run.stderr.count("\n") == 1 and message in run.stderr, run.stderr
    assert not list(out.iterdir())
