"""Azure LLM inference trace CSV (Splitwise, 2023/2024): TIMESTAMP,ContextTokens,GeneratedTokens."""

from __future__ import annotations

from pathlib import Path

from slotune.models import Workload
from slotune.workload.formats._common import ReadOptions, build_workload, read_text
from slotune.workload.formats.csv_table import length_requests, read_csv_table
from slotune.workload.formats.timestamps import seconds_since_first

NAME = "azure-csv"
COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def read(path: Path, options: ReadOptions) -> Workload:
    table = read_csv_table(path, read_text(path))
    stamps = table.column("TIMESTAMP", path=path, fmt=NAME)
    arrivals_s = seconds_since_first(stamps, table.line_numbers, path=path, field="TIMESTAMP")
    requests = length_requests(
        table,
        path=path,
        fmt=NAME,
        prompt_column="ContextTokens",
        output_column="GeneratedTokens",
        arrivals_s=arrivals_s,
    )
    return build_workload(path, NAME, requests)
