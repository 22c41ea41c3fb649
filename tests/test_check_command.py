"""``nnconform check`` as a user runs it: exit status, JSON, JUnit XML, expected failures,
--strict, workers, and targets that raise, hang, or return the wrong thing."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.zoo import failed, run_checks

ROOT = Path(__file__).resolve().parents[1]


def nnconform(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "nnconform", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


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
    assert "did not return" in record["message"] or "time limit" in record["message"]
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


def test_cuda_without_a_gpu_skips_cleanly():
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    document = run_checks("torch", k="relu", extra=("--device", "cuda"))
    assert document["returncode"] == 0
    assert {r["status"] for r in document["records"]} == {"unsupported"}


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
