"""The benchmark kernels know no framework: each implementation family is one provider module
(``provider_<name>.py``), found by the registry; no module of ``nnconform.checks.perf`` imports
one that imports it back; a provider whose library is missing registers nothing and says so in
one line; and a framework is added by adding one file.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nnconform.checks import perf
from nnconform.checks.perf import kernels, registry

PERF = Path(perf.__file__).parent
FRAMEWORKS = {"torch", "jax", "jaxlib", "optax", "flax", "keras"}


def imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def perf_imports(path: Path) -> set[str]:
    prefix = "nnconform.checks.perf."
    return {name.removeprefix(prefix).split(".")[0] for name in imports(path)
            if name.startswith(prefix)}  # fmt: skip


def test_the_kernel_definitions_name_no_framework_and_no_provider():
    assert not {name.split(".")[0] for name in imports(PERF / "kernels.py")} & FRAMEWORKS
    assert perf_imports(PERF / "kernels.py") == set()
    assert perf_imports(PERF / "registry.py") == {"kernels"}


def test_no_import_circle_in_the_perf_package():
    """The module graph of nnconform.checks.perf, lazy imports included, has no cycle."""
    graph = {path.stem: perf_imports(path) for path in PERF.glob("*.py")}
    for provider in [name for name in graph if name.startswith("provider_")]:
        assert "registry" not in graph[provider] and "cli" not in graph[provider], provider
        assert not any(p.startswith("provider_") for p in graph[provider]), provider

    def visit(node: str, path: tuple[str, ...]) -> None:
        for successor in graph.get(node, ()):
            assert successor not in path, f"import circle: {' -> '.join((*path, successor))}"
            visit(successor, (*path, successor))

    for name in graph:
        visit(name, (name,))


def test_every_provider_module_registers_a_provider():
    names = sorted(p.stem for p in PERF.glob("provider_*.py"))
    assert names == ["provider_adapter", "provider_jax", "provider_keras", "provider_torch"]
    found = registry.providers()
    assert [p.name for p in found][:1] == ["adapter"]  # the reference first
    assert sum(p.fallback for p in found) == 1
    assert registry.provider_of("reference").name == "adapter"
    assert registry.provider_of("my_kernels:make_target").name == "adapter"  # a spec
    pytest.importorskip("torch")
    assert registry.provider_of("torch-fused").name == "torch"


def test_keras_registers_exactly_the_kernels_it_claims():
    """The optimisers, Keras's own kernels on its torch backend, and nothing else: asked for
    another kernel by name, keras is unsupported and says why."""
    pytest.importorskip("nnconform.checks.targets.keras", exc_type=ImportError)
    from nnconform.checks.perf import provider_keras

    assert registry.provider_of("keras").name == "keras"
    optimisers = {k.name for k in kernels.KERNELS.values() if k.family == "optimizers"}
    assert set(provider_keras.KERNELS) == optimisers
    listed = {name for name in kernels.KERNELS if "keras" in registry.implementations(name)}
    assert listed == optimisers
    with pytest.raises(kernels.Unsupported, match="keras has no kernel of its own for gelu"):
        registry.prepare("gelu", "keras", 8)


def test_keras_on_another_backend_is_unsupported_with_its_reason():
    """Keras fixes its backend once per process: the provider's keras is the Keras target's,
    which refuses any backend but torch, and prepare says so instead of timing it."""
    pytest.importorskip("nnconform.checks.targets.keras", exc_type=ImportError)
    script = textwrap.dedent("""
        from nnconform.checks.perf import registry
        from nnconform.checks.perf.kernels import Unsupported
        try:
            registry.prepare("adam", "keras", 8)
        except Unsupported as error:
            print(error)
    """)
    env = {**os.environ, "KERAS_BACKEND": "numpy"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
        check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "needs Keras's torch backend" in done.stdout and "'numpy'" in done.stdout


def test_a_framework_is_added_by_adding_one_file(tmp_path, monkeypatch):
    """A provider_<name>.py anywhere on the package's path is found and its implementation
    runs through prepare, implementations and the memory estimate like the built-ins."""
    (tmp_path / "provider_abacus.py").write_text(
        textwrap.dedent("""
        from nnconform.checks.perf import kernels

        def prepare(kernel, implementation, size, device, seed):
            x = kernels.inputs(kernel.name, size, seed)["x"]
            return kernels.prepared(kernel, implementation, device, size, lambda: x * 2,
                                    lambda: None)

        PROVIDER = kernels.Provider(
            name="abacus", implementations=("abacus",),
            available=lambda k, d: ("abacus",) if k.name == "gelu" and d == "cpu" else (),
            prepare=prepare, peak_bytes=lambda k, i, s: 2 * k.input_bytes(s), order=90)
    """)
    )
    monkeypatch.setattr(perf, "__path__", [*perf.__path__, str(tmp_path)])
    registry.providers.cache_clear()
    try:
        assert registry.builtin()[-1] == "abacus"
        assert registry.implementations("gelu")[-1] == "abacus"
        assert "abacus" not in registry.implementations("adam")
        assert registry.prepare("gelu", "abacus", 8).run().shape == (8,)
        assert registry.peak_bytes(kernels.KERNELS["gelu"], "abacus", 8) == 64
    finally:
        registry.providers.cache_clear()
        sys.modules.pop("nnconform.checks.perf.provider_abacus", None)


@pytest.mark.parametrize("library", ["jax", "torch", "keras"])
def test_a_missing_library_registers_nothing_with_a_one_line_note(library):
    script = textwrap.dedent(f"""
        import sys
        sys.modules[{library!r}] = None  # as if not installed: import and find_spec fail
        from nnconform.checks.perf import registry
        print(registry.builtin())
        print(registry.notes())
        print(registry.implementations("gelu"))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    builtin, notes, gelu = done.stdout.splitlines()
    assert f"'{library}'" not in builtin and "'reference'" in builtin
    assert f"{library} is not installed" in notes and "\\n" not in notes
    assert f"'{library}'" not in gelu


def test_the_bench_prints_the_note_of_a_missing_library(tmp_path):
    script = textwrap.dedent("""
        import sys
        sys.modules["jax"] = None
        from nnconform.cli import main
        sys.exit(main(["bench", "--kernel", "gelu", "--size", "1024", "--repeats", "1",
                       "--warmup", "0", "--stream-elements", "0", "--quiet"]))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
        check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "nnconform bench: jax is not installed (pip install 'nnconform[jax]')" in done.stderr
    assert "jax" not in done.stdout
    # asked for by name, the missing library is a usage error with the same note
    script = script.replace('"--kernel"', '"--target", "jax", "--kernel"')
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
        check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2 and "target 'jax': jax is not installed" in done.stderr
