"""Two versions of one target in one process (``LABEL=PATH:MODULE[:ATTR]``): two copies of a
small target package in temporary source trees load side by side, each with its own modules
(an absolute and a relative import inside the package stay within its version), the module
loaded normally is left as it was, and ``nnconform bench`` compares the two in one interleaved
run and prints their ratio with its interval. Nothing here asserts a time.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from nnconform.checks.perf import versions
from nnconform.checks.targets import Target, TargetError
from nnconform.cli import main

HELPERS = """
VERSION = "{version}"
REPEAT = {repeat}
"""

ADAPTER = '''
"""A user's adapter, version {version}: GELU in the erf form, numpy in and numpy out."""
import math

import numpy as np

from twinpkg import helpers  # an absolute import of its own package
from . import helpers as same_helpers  # and a relative one

name = "twin"
version = helpers.VERSION
dtypes = ("float32",)
_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x, variant="erf"):
    for _ in range(same_helpers.REPEAT):  # version b does the work twice
        y = 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    return y
'''


REPO = Path(__file__).resolve().parents[1]


def nnconform_tree(root: Path) -> Path:
    """This checkout's nnconform laid out as pip installs it (pyproject.toml's package-dir puts
    reference/, checks/ and reports/ inside nnconform/), as ``pip install --target`` would."""
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "nnconform", root / "nnconform", ignore=skip)
    for part in ("reference", "checks", "reports"):
        shutil.copytree(REPO / part, root / "nnconform" / part, ignore=skip)
    return root


def tree(root: Path, version: str, repeat: int) -> Path:
    package = root / "twinpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(HELPERS.format(version=version, repeat=repeat))
    (package / "adapter.py").write_text(ADAPTER.format(version=version))
    return root


@pytest.fixture
def trees(tmp_path, monkeypatch):
    """Two source trees of twinpkg (a, and b doing twice the work), and a third version
    imported the normal way, as the checked-out package would be."""
    a, b = tree(tmp_path / "a", "a", 1), tree(tmp_path / "b", "b", 2)
    current = tree(tmp_path / "current", "current", 1)
    monkeypatch.syspath_prepend(str(current))
    monkeypatch.chdir(tmp_path)
    for name in [n for n in sys.modules if n.split(".")[0] == "twinpkg"]:
        monkeypatch.delitem(sys.modules, name)
    return a, b


def test_two_versions_load_side_by_side(trees):
    import twinpkg.adapter as current

    a, b = trees
    old = versions.load_version(f"old={a}:twinpkg.adapter")
    new = versions.load_version(f"new={b}:twinpkg.adapter")
    assert (old.name, old.version, new.name, new.version) == ("old", "a", "new", "b")
    for target, version, repeat in ((old, "a", 1), (new, "b", 2)):
        gelu = target.get("gelu")
        assert Path(gelu.__code__.co_filename).is_relative_to(a if version == "a" else b)
        assert gelu.__globals__["helpers"].VERSION == version
        assert gelu.__globals__["same_helpers"].REPEAT == repeat
    # the normally imported version is untouched, and still the one `import` finds
    assert sys.modules["twinpkg.adapter"] is current and current.version == "current"
    import twinpkg.helpers

    assert twinpkg.helpers.VERSION == "current"
    x = np.linspace(-3, 3, 7, dtype=np.float32)
    np.testing.assert_allclose(old.get("gelu")(x), new.get("gelu")(x))
    # loaded once per spec and device
    assert versions.load_version(f"old={a}:twinpkg.adapter") is old


def test_another_commits_oracle_loads_beside_this_one(tmp_path):
    """nnconform's own reference from another tree: its make_target builds that version's
    Target, taken field by field as this version's (``targets._as_target``), with that
    version's functions; this process's nnconform is left as it was."""
    import nnconform.reference.optimizers as ours

    main = nnconform_tree(tmp_path / "main")
    target = versions.load_version(f"main={main}:nnconform.checks.targets.reference:make_target")
    assert isinstance(target, Target) and target.name == "main"
    step = inspect.unwrap(target.get("adam_step"))
    assert Path(inspect.getsourcefile(step)).is_relative_to(main)
    assert not Path(ours.__file__).is_relative_to(main)
    assert sys.modules["nnconform.reference.optimizers"] is ours


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("old=/no/such/tree:twinpkg.adapter", "is not a directory"),
        ("old=.", "must read LABEL=PATH:MODULE"),
        ("o ld=.:twinpkg", "the label before '='"),
        ("old={a}:nosuchpkg.adapter", "no module 'nosuchpkg'"),
    ],
)
def test_a_bad_versioned_spec_is_a_target_error(trees, spec, message):
    with pytest.raises(TargetError, match=re.escape(message)):
        versions.load_version(spec.format(a=trees[0]))


def test_a_module_found_outside_its_tree_is_refused(trees, tmp_path):
    """twinpkg is importable from elsewhere (the current tree), not from this empty one."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TargetError, match="was not found in"):
        versions.load_version(f"old={empty}:twinpkg.adapter")
    import twinpkg.helpers

    assert twinpkg.helpers.VERSION == "current"


def test_bench_compares_two_versions_in_one_interleaved_run(trees, tmp_path, capsys):
    a, b = trees
    out = tmp_path / "bench.json"
    status = main([
        "bench", "--target", f"old={a}:twinpkg.adapter", "--target", f"new={b}:twinpkg.adapter",
        "--kernel", "gelu", "--size", "2**10", "--repeats", "8", "--warmup", "1",
        "--min-sample-time", "0.0005", "--stream-elements", "0", "--quiet", "--json", str(out),
    ])  # fmt: skip
    assert status == 0
    stdout = capsys.readouterr().out
    assert "ratios to old from 8 interleaved blocks" in stdout
    line = re.search(
        r"gelu 2\^10 new: ([\d.]+)× (slower|same|faster) \[([\d.]+), ([\d.]+)\]", stdout
    )
    assert line, stdout
    document = json.loads(out.read_text())
    assert document["settings"]["baseline"] == "old"
    assert document["settings"]["targets"] == {
        "old": f"old={a}:twinpkg.adapter", "new": f"new={b}:twinpkg.adapter",
    }  # fmt: skip
    new = next(r for r in document["results"] if r["implementation"] == "new")
    low, high = new["ratio_ci"]
    assert low <= new["ratio"] <= high and new["baseline"] == "old" and new["blocks"] == 8
    assert new["verdict"] == ("slower" if low > 1 else "faster" if high < 1 else "same")


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (["x={a}:twinpkg.adapter", "x={a}:twinpkg.adapter:name"], "two targets are named 'x'"),
        (["torch={a}:twinpkg.adapter"], "label 'torch' is a built-in's name"),
        (["old=/no/such/tree:twinpkg.adapter"], "is not a directory"),
    ],
)
def test_versioned_usage_errors_exit_2(trees, targets, message, capsys):
    arguments = [f"--target={t.format(a=trees[0])}" for t in targets]
    assert main(["bench", *arguments, "--kernel", "gelu", "--size", "1024"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
