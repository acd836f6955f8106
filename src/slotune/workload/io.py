"""Reading any supported workload file, and writing slotune's canonical JSONL."""

from __future__ import annotations

import os
from pathlib import Path

from slotune.errors import InputError
from slotune.files import write_atomically
from slotune.models import Workload
from slotune.workload.digest import with_digest
from slotune.workload.formats import detect_format, reader_for
from slotune.workload.formats._common import DEFAULT_OUTPUT_TOKENS, ReadOptions
from slotune.workload.formats.canonical_jsonl import render


def read_workload(
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    tokenizer_path: str | None = None,
    default_output_tokens: int = DEFAULT_OUTPUT_TOKENS,
) -> Workload:
    """Read a trace, dataset or request log (format auto-detected unless `fmt` is given).

    Requests come back in arrival order with times relative to the first; the digest is filled in.
    """
    file = Path(path)
    reader = reader_for(fmt) if fmt is not None else reader_for(detect_format(file))
    options = ReadOptions(tokenizer_path=tokenizer_path, default_output_tokens=default_output_tokens)
    workload = reader(file, options)
    return with_digest(workload)


def write_workload(workload: Workload, path: str | os.PathLike[str]) -> None:
    """Write the canonical JSONL (header line, then one request per line); same workload, same bytes. Missing
    folders are created, as for every output."""
    file = Path(path)
    if file.is_dir():
        raise InputError("--out", str(file), "give a file path, not a directory", problem="is a directory")
    write_atomically(file, render(workload))
