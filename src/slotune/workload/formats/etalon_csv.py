"""etalon / sarathi-serve length CSV: num_prefill_tokens,num_decode_tokens[,...]. No arrival times."""

from __future__ import annotations

from pathlib import Path

from slotune.models import RequestSpec, Workload
from slotune.workload.formats._common import ReadOptions, build_workload, parse_count, read_text
from slotune.workload.formats.csv_table import read_csv_table

NAME = "etalon-csv"
COLUMNS = ("num_prefill_tokens", "num_decode_tokens")


def read(path: Path, options: ReadOptions) -> Workload:
    table = read_csv_table(path, read_text(path))
    prefill = table.column("num_prefill_tokens", path=path, fmt=NAME)
    decode = table.column("num_decode_tokens", path=path, fmt=NAME)
    requests = [
        # A length distribution, not a trace: every request arrives at t=0 (an offline batch).
        RequestSpec(
            request_id=str(i),
            arrival_s=0.0,
            prompt_tokens=parse_count(
                prefill[i], field="num_prefill_tokens", path=path, line_no=line_no, minimum=1
            ),
            output_tokens=parse_count(
                decode[i], field="num_decode_tokens", path=path, line_no=line_no, minimum=1
            ),
        )
        for i, line_no in enumerate(table.line_numbers)
    ]
    return build_workload(path, NAME, requests)
