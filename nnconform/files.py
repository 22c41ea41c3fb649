"""Results files are written whole or not at all: into a temporary file beside the final path,
then renamed onto it (an atomic rename on POSIX and Windows), so that a crash or an interrupt
never leaves half a JSON, XML or HTML file for a CI step to read."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "finite_json",
    "unwritable",
    "whole_file",
    "write_json_atomically",
    "write_text_atomically",
]


def write_text_atomically(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False,
        encoding="utf-8",
    ) as handle:  # fmt: skip
        temporary = handle.name
        try:
            handle.write(text)
        except BaseException:
            handle.close()
            os.unlink(temporary)
            raise
    # NamedTemporaryFile creates the file 0600; give it the mode an ordinary open() would
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)  # e.g. ``path`` is a directory: leave nothing behind
        raise


def write_json_atomically(path: str | Path, document: Any) -> None:
    """Strict JSON: browsers' JSON.parse rejects NaN and Infinity, so a non-finite number (a
    NaN error, an infinite output in a counterexample) is written as the string "nan", "inf"
    or "-inf"."""
    write_text_atomically(path, json.dumps(finite_json(document), indent=1, allow_nan=False))


def finite_json(value: Any) -> Any:
    """``value`` with every non-finite float, at any depth, replaced by its string."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: finite_json(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


@contextlib.contextmanager
def whole_file(path: str | None) -> Iterator[str | None]:
    """A temporary path beside ``path`` for a writer that wants a file name (pytest's JUnit
    XML), renamed onto ``path`` at the end only if it was written."""
    if path is None:
        yield None
        return
    final = Path(path)
    temporary = final.with_name(f".{final.name}.tmp")
    try:
        yield str(temporary)
        if temporary.exists():
            os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)


def unwritable(option: str, path: str | None) -> str | None:
    """Why a results file cannot be written at ``path``, as a one-line usage error, or None.

    Asked before a run, so that a long run does not end without its results: ``path`` must
    not be a directory, and a file (or the first missing folder, which the writers create)
    must be creatable where it goes. Tried, not inferred from permissions, which root
    bypasses and read-only file systems ignore."""
    if path is None:
        return None
    target = Path(path).absolute()
    if target.is_dir():
        return f"{option} {path} is a directory; give a file name inside it"
    folder, missing = target.parent, None
    while not folder.exists():
        folder, missing = folder.parent, folder
    if not folder.is_dir():
        return f"{option} {path}: {folder} is not a directory"
    try:
        if missing is not None:
            missing.mkdir()
            missing.rmdir()
        else:
            with tempfile.TemporaryFile(dir=folder):
                pass
    except OSError as error:
        return f"{option} {path}: cannot write into {folder} ({error.strerror or error})"
    return None
