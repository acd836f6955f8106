"""A small CSV table reader for the trace formats: a header row, then one request per row."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slotune.errors import InputError
from slotune.models import RequestSpec
from slotune.workload.formats._common import parse_count


@dataclass(frozen=True, slots=True)
class CsvTable:
    header: tuple[str, ...]
    rows: list[list[str]]
    # File line number of each row (the header is line 1).
    line_numbers: list[int]

    def column(self, name: str, *, path: Path, fmt: str) -> list[str]:
        wanted = {h.strip().lower(): i for i, h in enumerate(self.header)}
        index = wanted.get(name.lower())
        if index is None:
            raise InputError(
                f"{path.name} header",
                ",".join(self.header),
                f"add a {name!r} column (the {fmt} format needs it) or pass --format for another format",
                problem=f"missing column {name!r}",
            )
        return [row[index] if index < len(row) else "" for row in self.rows]


def read_csv_table(path: Path, text: str) -> CsvTable:
    reader = csv.reader(io.StringIO(text))
    header: tuple[str, ...] | None = None
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    for row in reader:
        if not row or all(not cell.strip() for cell in row):
            continue
        if header is None:
            header = tuple(cell.strip() for cell in row)
            continue
        rows.append(row)
        line_numbers.append(reader.line_num)
    if header is None or not rows:
        raise InputError(
            "FILE",
            str(path),
            "give a CSV file with a header row and at least one request row",
            problem="no rows",
        )
    return CsvTable(header=header, rows=rows, line_numbers=line_numbers)


def length_requests(
    table: CsvTable,
    *,
    path: Path,
    fmt: str,
    prompt_column: str,
    output_column: str,
    arrivals_s: Sequence[float] | np.ndarray | None = None,
) -> list[RequestSpec]:
    """One request per row, from its prompt and output token counts; at t=0 without arrival times."""
    prompt = table.column(prompt_column, path=path, fmt=fmt)
    output = table.column(output_column, path=path, fmt=fmt)
    return [
        RequestSpec(
            request_id=str(i),
            arrival_s=0.0 if arrivals_s is None else float(arrivals_s[i]),
            prompt_tokens=parse_count(prompt[i], field=prompt_column, path=path, line_no=line_no, minimum=1),
            output_tokens=parse_count(output[i], field=output_column, path=path, line_no=line_no, minimum=1),
        )
        for i, line_no in enumerate(table.line_numbers)
    ]
