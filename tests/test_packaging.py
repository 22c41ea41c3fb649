"""The distribution as a user installs it: one wheel, one top-level import package, `nnconform`,
whose command line and pytest plugin work from any directory."""

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


@pytest.mark.slow
def test_the_wheel_installs_one_package_that_checks_from_an_unrelated_directory(tmp_path):
    # setuptools from this environment builds the wheel: no download of a build backend
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-q", "-w", str(tmp_path / "dist"), str(ROOT)])  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("nnconform-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"nnconform"}

    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    bin_ = venv / "bin"
    installed = _run([str(bin_ / "pip"), "install", "-q", str(wheel)])
    assert installed.returncode == 0, installed.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    check = _run([str(bin_ / "nnconform"), "check", "--target", "reference", "-k", "relu"],
                 cwd=elsewhere)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    passed = re.search(r"\b(\d+) passed", check.stdout)  # every relu check, none skipped
    assert passed and int(passed[1]) > 0 and "skipped" not in check.stdout, check.stdout
    pyargs = _run([str(bin_ / "python"), "-m", "pytest", "--pyargs", "nnconform.checks",
                   "--target", "reference", "-k", "relu", "-q", "-p", "no:cacheprovider"],
                  cwd=elsewhere)  # fmt: skip
    assert pyargs.returncode == 0, pyargs.stdout + pyargs.stderr
    catalogue = _run([str(bin_ / "python"), "-m", "nnconform", "catalogue"], cwd=elsewhere)
    assert "65 of 65 catalogue ids implemented" in catalogue.stdout
    # the folders' bare names are not importable from the installed distribution
    bare = _run([str(bin_ / "python"), "-c", "import reference"], cwd=elsewhere)
    assert "No module named 'reference'" in bare.stderr


def test_inside_the_project_every_module_has_one_name():
    """The checks run under nnconform.checks even from the source tree, where pytest alone
    would import them by path as the bare checks.test_<family>."""
    code = (
        "import sys, pytest\n"
        "from nnconform.checks.plugin import CHECKS_DIR\n"
        "status = pytest.main([str(CHECKS_DIR), f'--rootdir={CHECKS_DIR}', '-q', '-k', 'relu',\n"
        "                      '-p', 'no:cacheprovider', '--target=reference'])\n"
        "bare = sorted(m for m in sys.modules if m.split('.')[0] in ('checks', 'reference',\n"
        "              'reports'))\n"
        "print('BARE', bare)\n"
        "sys.exit(int(status))\n"
    )
    run = _run([sys.executable, "-c", code], cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "BARE []" in run.stdout
