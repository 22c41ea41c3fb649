"""The README's examples, run as written, so that the README cannot drift from the code.

Every fenced ``sh`` block and every ``run:`` step of the README's CI snippet is split into its
command lines, and each line is either run or excused here with its reason; a line that is
neither fails ``test_every_readme_command_is_run_or_excused``, so a new README command must be
handled. The commands run in order, as a user would run them, in a copy of the repository's
files (what a fresh clone holds) prepared as the README says: the files it shows by name
(``my_kernels.py``) written from its code blocks, plus the adapter package and expected-failures
file its CI snippet names. Each must exit with the status the README gives (0 unless a comment
on the line says ``# exit N``), print no traceback, and write every output file it names
(``--json``, ``--junit-xml``, ``--html``, ``--benchmark-json``), from which the next commands
read (``nnconform report --check check.json --bench bench.json``). Every ``python`` block runs
in a subprocess there too.

Commands run with options appended that make them quick without changing what they do:
``--profile quick`` for ``nnconform check`` (fewer examples), few short samples and a small
STREAM array for ``nnconform bench``, one round of each pytest-benchmark. Nothing else is added:
no ``-k`` beyond what the README shows, no ``--no-shrink``.

The quick start's lines are not run here (each installs into a fresh venv and runs a whole
suite): CI runs them verbatim, which ``test_the_quick_start_is_what_ci_runs`` asserts. A usage
synopsis (``nnconform check [--target ...] ...``) is not a command: every option it shows must be
one the command accepts.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent  # the environment's nnconform, python and asv come first

# Options appended to a command that make it quick; argparse keeps the last value of an option.
FASTER = {
    "nnconform check": "--profile quick",
    "nnconform bench": "--repeats 6 --warmup 1 --min-sample-time 0.001 --stream-elements 2**20",
    "python -m pytest": "--benchmark-max-time=0 --benchmark-min-rounds=1 --benchmark-warmup=off",
}

# What the tests run, by how the command line starts.
RUN = ("nnconform ", "python -m nnconform ", "python -m pytest tests/", "asv machine ")

# What they do not run, by how the command line starts, each with its reason.
EXCUSED = {
    "pip install ": "an install: tests/test_packaging.py installs the wheel into a fresh venv, "
    ".ci/run installs the project editable with its extras",
    "asv run ": "asv's long runs (minutes); tests/test_asv_benchmarks.py calls every benchmark "
    "once and runs `asv check`",
    "asv continuous ": "asv's long runs: two builds and a full run of each commit",
    "asv check ": "tests/test_asv_benchmarks.py runs `asv check --python=same`",
    "asv publish ": "publishes results of asv runs, which are not made here; `asv preview` "
    "serves the site until interrupted",
    "rsync ": "copies results from other machines",
    "git worktree add ": "checks out the baseline commit of the asv gate beside this one",
    "export NNCONFORM_ASV_BASELINE=": "names the baseline of the asv gate, whose `asv continuous` "
    "is not run here; tests/test_asv_benchmarks.py times the duet rows against a baseline tree",
}
CUDA = "needs a CUDA device"
JAX = (
    "installs JAX (not in CI's environment) and checks the whole catalogue against it, "
    "minutes of compiling; tests/test_jax_target.py tests the adapter's mappings"
)
KERAS = (
    "installs Keras (not in CI's environment) and checks the whole catalogue against it, "
    "minutes of checks; tests/test_keras_target.py tests the adapter's mappings"
)

# What the README's CI snippet names but a user writes: their adapter package (here a factory
# around the README's own my_kernels.py) and their expected-failures file.
PREPARED = {
    "my_package/__init__.py": "",
    "my_package/adapter.py": (
        '"""The user\'s adapter: a factory taking device=, as the README describes."""\n\n'
        "import my_kernels\n\n\n"
        'def make_target(device="cpu"):\n'
        "    return my_kernels\n"
    ),
    ".nnconform-xfails.txt": "# pattern  # reason: none expected to fail\n",
}
SHELLS = ("sh", "bash", "shell", "console")
KNOWN = (*SHELLS, "python", "yaml", "yml")  # a block in another language fails the parse test
OUTPUT_OPTIONS = ("--json", "--junit-xml", "--html", "--benchmark-json")


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    section: str  # the nearest heading above it
    lead: str  # the last line of prose before it
    line: int


@dataclass(frozen=True)
class Command:
    text: str  # as the README writes it, comment included
    section: str
    line: int

    @property
    def bare(self) -> str:
        """The command without its trailing comment."""
        return re.sub(r"\s+#.*$", "", self.text).strip()

    @property
    def status(self) -> int:
        """The exit status the README documents: `# exit N` in its comment, else 0."""
        found = re.search(r"#.*\bexit (\d+)", self.text)
        return int(found[1]) if found else 0


def blocks(text: str) -> list[Block]:
    found, section, lead, fence = [], "", "", None
    for number, line in enumerate(text.splitlines(), 1):
        opening = re.match(r"^(\s*)```(\w*)\s*$", line)
        if fence is None and opening:
            fence = (opening[1], opening[2], number, [])
        elif fence is not None and line.strip() == "```":
            indent, lang, start, body = fence
            code = "\n".join(b.removeprefix(indent) for b in body)
            found.append(Block(lang, code + "\n", section, lead, start))
            fence = None
        elif fence is not None:
            fence[3].append(line)
        elif line.startswith("#"):
            section = line.lstrip("#").strip()
        elif line.strip():
            lead = line.strip()
    assert fence is None, f"README.md:{fence[2]}: unclosed code fence"
    return found


def is_synopsis(block: Block) -> bool:
    return block.lang in SHELLS and re.match(r"nnconform \w+ \[", block.text) is not None


def yaml_runs(block: Block) -> list[Command]:
    """The `run:` steps of a workflow, a folded (`>-`) step joined into one line."""
    commands, lines = [], block.text.splitlines()
    for i, line in enumerate(lines):
        step = re.match(r"^(\s*)- run: (.*)$", line)
        if not step:
            continue
        if step[2] in (">-", ">", "|"):
            indent = len(step[1])
            body = []
            for later in lines[i + 1 :]:
                if len(later) - len(later.lstrip()) <= indent + 2:
                    break
                body.append(later.strip())
            if step[2] == "|":  # a literal script: one command a line
                commands += [Command(b, block.section, block.line + i + 1) for b in body if b]
            else:
                commands.append(Command(" ".join(body), block.section, block.line + i + 1))
        else:
            commands.append(Command(step[2], block.section, block.line + i + 1))
    return commands


def commands(readme_blocks: list[Block]) -> list[Command]:
    found = []
    for block in readme_blocks:
        if block.lang in SHELLS and not is_synopsis(block):
            # a line ending in a backslash goes on: one command over several lines
            text = re.sub(r"\\\n\s*", " ", block.text)
            numbers = [
                n for n, line in enumerate(block.text.splitlines()) if not line.endswith("\\")
            ]
            for n, line in zip(numbers, text.splitlines(), strict=True):
                if line.strip() and not line.lstrip().startswith("#"):
                    found.append(Command(line.strip(), block.section, block.line + n + 1))
        elif block.lang in ("yaml", "yml"):
            found += yaml_runs(block)
    return found


def quick_start(command: Command) -> bool:
    return command.section == "Quick start"


def excuse(command: Command) -> str | None:
    """Why a command is not run here, or None if it is."""
    if quick_start(command):
        return "the quick start: .ci/run runs it verbatim (test_the_quick_start_is_what_ci_runs)"
    if re.search(r"--device[ =]cuda", command.bare):
        return CUDA
    if "--target jax" in command.bare:
        return JAX
    if "--target keras" in command.bare:
        return KERAS
    for start, reason in EXCUSED.items():
        if command.bare.startswith(start):
            return reason
    return None


def faster(command: str) -> str:
    for start, options in FASTER.items():
        if command.startswith(start):
            return f"{command} {options}"
    return command


def outputs(command: str) -> list[str]:
    words = shlex.split(command, comments=True)
    named = [words[i + 1] for i, w in enumerate(words[:-1]) if w in OUTPUT_OPTIONS]
    joined = [w.split("=", 1) for w in words if "=" in w]
    return named + [value for option, value in joined if option in OUTPUT_OPTIONS]


README_BLOCKS = blocks(README.read_text(encoding="utf-8"))
COMMANDS = commands(README_BLOCKS)


def test_the_readme_parses_into_its_examples():
    # the parser sees what a reader sees: the blocks and the commands, none lost
    langs = [b.lang for b in README_BLOCKS]
    assert {"sh", "python", "yaml"} <= set(langs)
    assert set(langs) <= set(KNOWN), "a block this test does not read: handle its language"
    assert sum(is_synopsis(b) for b in README_BLOCKS) >= 2  # check's and bench's
    assert any(c.bare.startswith("nnconform check --target my_kernels") for c in COMMANDS)
    assert any(c.bare.startswith("nnconform check --target my_package") for c in COMMANDS)
    assert any(c.status == 1 for c in COMMANDS)  # asv continuous: "# exit 1" on a regression


def test_every_readme_command_is_run_or_excused():
    unhandled = [
        f"README.md:{c.line}: {c.bare}"
        for c in COMMANDS
        if excuse(c) is None and not c.bare.startswith(RUN)
    ]
    assert not unhandled, "run these in test_readme.py or excuse them with a reason:\n" + "\n".join(
        unhandled
    )
    # a command the tests run is one command: the options they append go to its end
    chained = [c.bare for c in COMMANDS if excuse(c) is None and re.search(r"&&|\|\||;|\|", c.bare)]
    assert not chained, chained


def test_the_quick_start_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    lines = [c.bare for c in COMMANDS if quick_start(c)]
    assert len(lines) >= 2  # the check and the tests
    missing = [line for line in lines if line not in ci]
    assert not missing, f".ci/run does not run these quick-start lines verbatim: {missing}"


@pytest.mark.parametrize(
    "synopsis", [b for b in README_BLOCKS if is_synopsis(b)], ids=lambda b: b.text.split()[1]
)
def test_every_option_a_synopsis_shows_is_accepted(synopsis):
    subcommand = synopsis.text.split()[1]
    shown = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", synopsis.text))
    usage = subprocess.run(
        [sys.executable, "-m", "nnconform", subcommand, "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    accepted = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", usage))
    assert shown - accepted == set(), f"README.md:{synopsis.line}: {subcommand} has no such option"


def _fresh_copy(workdir: Path) -> None:
    """The repository's files as a clone of this working tree holds them."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no clone to copy")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (workdir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, workdir / name)


def _prepare(workdir: Path) -> None:
    for block in README_BLOCKS:  # "For example, `my_kernels.py`:" followed by its code
        named = re.search(r"`([\w/]+\.py)`:$", block.lead)
        if block.lang == "python" and named:
            (workdir / named[1]).write_text(block.text, encoding="utf-8")
    for name, text in PREPARED.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text, encoding="utf-8")
    # the two-versions step's second checkout (actions/checkout, path: main-checkout): here the
    # same adapter, which the bench loads beside the working tree's under another name
    shutil.copytree(workdir / "my_package", workdir / "main-checkout" / "my_package")
    shutil.copy2(workdir / "my_kernels.py", workdir / "main-checkout" / "my_kernels.py")


def _environment(workdir: Path) -> dict[str, str]:
    # not this test's own pytest-xdist worker variables: with them pytest-benchmark in the
    # README's command believes it runs under xdist and writes no --benchmark-json
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env = dict(inherited, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env["HOME"] = str(workdir / "home")  # asv machine writes ~/.asv-machine.json
    (workdir / "home").mkdir(exist_ok=True)
    return env


def run_readme(workdir: Path, *, quick: bool = True) -> list[tuple[str, int, int, float, str]]:
    """Prepare `workdir` and run the README's runnable examples there in order: (what, the
    status wanted, the status got, seconds, output) per command and per Python block."""
    _fresh_copy(workdir)
    _prepare(workdir)
    env, results = _environment(workdir), []
    runnable = {c.line: c for c in COMMANDS if excuse(c) is None}
    python = {b.line: b for b in README_BLOCKS if b.lang == "python"}
    for line in sorted(runnable.keys() | python.keys()):
        if line in python:
            what, wanted = f"python block at README.md:{line}", 0
            argv = [sys.executable, "-c", python[line].text]
        else:
            command = runnable[line]
            what, wanted = command.bare, command.status
            argv = ["bash", "-c", faster(command.bare) if quick else command.bare]
        start = time.perf_counter()
        done = subprocess.run(
            argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        seconds = time.perf_counter() - start
        results.append((what, wanted, done.returncode, seconds, done.stdout + done.stderr))
    return results


def _problems(workdir: Path, result: tuple[str, int, int, float, str]) -> list[str]:
    what, wanted, got, _, output = result
    problems = []
    if got != wanted:
        problems.append(f"exit {got}, the README says {wanted}")
    if "Traceback (most recent call last)" in output:
        problems.append("a traceback")
    if what.startswith("python block"):
        return problems
    for path in outputs(what):
        if not (workdir / path).is_file() or (workdir / path).stat().st_size == 0:
            problems.append(f"wrote no {path}")
    # a bench example that names its implementations times each of them on its kernels (a
    # kernel the target lacks is recorded unsupported, with exit 0)
    if what.startswith("nnconform bench") and "--target" in what and "unsupported" in output:
        problems.append("an implementation it names does not have its kernel")
    return problems


def test_what_an_example_is_held_to_can_fail(tmp_path):
    (tmp_path / "bench.json").write_text("{}")
    bench = "nnconform bench --target reference --target my_kernels --kernel gelu --json bench.json"
    assert _problems(tmp_path, (bench, 0, 0, 1.0, "my_kernels: unsupported: has no gelu")) == [
        "an implementation it names does not have its kernel"
    ]
    check = "nnconform check --target torch --json=check.json --junit-xml junit.xml"
    assert _problems(tmp_path, (check, 0, 2, 1.0, "Traceback (most recent call last):")) == [
        "exit 2, the README says 0",
        "a traceback",
        "wrote no junit.xml",
        "wrote no check.json",
    ]
    assert _problems(tmp_path, (bench, 0, 0, 1.0, "adam 2^16 ...")) == []


@pytest.mark.slow
def test_every_readme_example_runs_as_written(tmp_path):
    results = run_readme(tmp_path)
    assert any(what.startswith("nnconform check --target my_kernels") for what, *_ in results)
    failures = []
    for result in results:
        if problems := _problems(tmp_path, result):
            what, *_, output = result
            failures.append(f"{what}: {'; '.join(problems)}\n{output[-3000:]}")
    assert not failures, "\n\n".join(failures)


if __name__ == "__main__":  # the fresh-clone walkthrough: every runnable command, as written
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        for what, wanted, got, seconds, _ in run_readme(Path(scratch), quick="--quick" in sys.argv):
            print(f"| `{what}` | {got} (README: {wanted}) | {seconds:.1f} s |")
