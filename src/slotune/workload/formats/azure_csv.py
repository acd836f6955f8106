"""Azure LLM inference trace CSV (Splitwise, 2023/2024): TIMESTAMP,ContextTokens,GeneratedTokens."""

from __future__ import annotations

from pathlib import Path

from slotune.models import RequestSpec, Workload
from slotune.workload.formats._common import ReadOptions, build_workload, parse_count, read_text
from slotune.workload.formats.csv_table import read_csv_table
from slotune.workload.formats.timestamps import seconds_since_first

NAME = "azure-csv"
COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def read(path: Path, options: ReadOptions) -> Workload:
    table = read_csv_table(path, read_text(path))
    stamps = table.column("TIMESTAMP", path=path, fmt=NAME)
    context = table.column("ContextTokens", path=path, fmt=NAME)
    generated = table.column("GeneratedTokens", path=path, fmt=NAME)
    arrivals_s = seconds_since_first(stamps, table.line_numbers, path=path, field="TIMESTAMP")
    requests = [
        RequestSpec(
            request_id=str(i),
            arrival_s=float(arrivals_s[i]),
            prompt_tokens=parse_count(
                context[i], field="ContextTokens", path=path, line_no=line_no, minimum=1
            ),
            output_tokens=parse_count(
                generated[i], field="GeneratedTokens", path=path, line_no=line_no, minimum=1
            ),
        )
        for i, line_no in enumerate(table.line_numbers)
    ]
    return build_workload(path, NAME, requests)
