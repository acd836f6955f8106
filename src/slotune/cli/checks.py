"""Checks a command makes before it starts work, so that a mistake costs seconds, not a finished run: seeds,
the paths it reads and writes, and the size of the run it is asked for.

Each raises InputError naming the flag, the value and a fix that names a flag of the command.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from slotune.errors import InputError


@contextmanager
def flags_named(renames: dict[str, str]) -> Iterator[None]:
    """Library errors name the usual flags (`--format`); where a command calls one otherwise, say its name."""
    try:
        yield
    except InputError as exc:
        raise exc.with_flags(renames) from exc


def check_seed(seed: int, flag: str = "--seed") -> None:
    if seed < 0:
        raise InputError(flag, seed, f"give a seed of 0 or more, e.g. {flag} 1")


def input_file(flag: str, path: Path | None) -> None:
    """An existing, readable file (not a folder)."""
    if path is None:
        return
    if path.is_dir():
        raise InputError(flag, str(path), f"give {flag} a file, not a folder", problem="is a folder")
    if not path.exists():
        raise InputError(flag, str(path), f"give {flag} an existing file", problem="file not found")
    if not os.access(path, os.R_OK):
        raise InputError(flag, str(path), f"give {flag} a file you can read", problem="not readable")


def _writable_parent(flag: str, path: Path) -> None:
    """The nearest existing folder above `path` is a folder we may write in (missing folders are created)."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(
            flag, str(path), f"give {flag} a path whose parents are folders", problem=f"{parent} is a file"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(
            flag,
            str(path),
            f"give {flag} a path in a folder you can write to",
            problem=f"{parent} is read-only",
        )


def output_file(flag: str, path: Path | None, example: str | None = None) -> None:
    """A file to write (replaced if it exists): not a folder, in a folder we may write to. `example`: a
    command-line form of a good value, shown in the fix (e.g. `-o report.html`)."""
    if path is None:
        return
    if path.is_dir():
        fix = f"give {flag} a file name, not a folder" + (f", e.g. {example}" if example else "")
        raise InputError(flag, str(path), fix, problem="is a folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(flag, str(path), f"give {flag} a file you can write", problem="read-only")
    _writable_parent(flag, path)


def output_folder(flag: str, path: Path | None) -> None:
    """A folder to write files into (created if missing): not an existing file."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise InputError(
            flag, str(path), f"give {flag} a folder (it gets several files), not a file", problem="is a file"
        )
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise InputError(flag, str(path), f"give {flag} a folder you can write to", problem="read-only")
    _writable_parent(flag, path)


def output_file_or_folder(flag: str, path: Path | None) -> None:
    """A result path: an existing folder, a new name without a suffix (a folder), or a file name."""
    if path is None:
        return
    if path.is_dir() or (not path.exists() and path.suffix == ""):
        output_folder(flag, path)
    else:
        output_file(flag, path)
