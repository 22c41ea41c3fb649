"""The command line, run as a user runs it: through the installed console script."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnconform.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_catalogue_json_lists_every_id_implemented(capsys):
    assert main(["catalogue", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 65
    assert [r["id"] for r in records if not r["implemented"]] == []
    assert {"id", "family", "functions", "variants", "sources"} <= set(records[0])


def test_catalogue_table_reports_full_coverage(capsys):
    assert main(["catalogue"]) == 0
    out = capsys.readouterr().out
    assert "65 of 65 catalogue ids implemented" in out
    assert re.search(r"^adam\s+optimizers\s+weight_decay_mode: l2\|decoupled", out, re.M)


def test_catalogue_family_filter(capsys):
    assert main(["catalogue", "--json", "--family", "schedules"]) == 0
    ids = [r["id"] for r in json.loads(capsys.readouterr().out)]
    assert ids == ["constant", "decay", "warmup", "noam"]


def test_an_unknown_family_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["catalogue", "--family", "optimisers"])
    assert exit.value.code == 2
    assert "optimisers" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("nnconform") is None, reason="the package is not installed")
def test_the_console_script_survives_a_closed_pipe():
    # `nnconform catalogue | head -1`: the reader goes away early; no traceback.
    run = subprocess.run(
        "nnconform catalogue | head -1", shell=True, capture_output=True, text=True, check=False
    )
    assert run.stdout.startswith("id")
    assert "Traceback" not in run.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"```sh\n(.*pytest.*)\n```", readme).group(1)
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_python_dash_m_runs_the_command_line():
    run = subprocess.run(
        [sys.executable, "-m", "nnconform", "catalogue", "--family", "landscape"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "hessian" in run.stdout
