"""A small CSV table reader for the trace formats: a header row, then one request per row."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from slotune.errors import InputError


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
