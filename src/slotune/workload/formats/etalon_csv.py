"""etalon / sarathi-serve length CSV: num_prefill_tokens,num_decode_tokens[,...]. No arrival times."""

from __future__ import annotations

from pathlib import Path

from slotune.models import Workload
from slotune.workload.formats._common import ReadOptions, build_workload, read_text
from slotune.workload.formats.csv_table import length_requests, read_csv_table

NAME = "etalon-csv"
COLUMNS = ("num_prefill_tokens", "num_decode_tokens")


def read(path: Path, options: ReadOptions) -> Workload:
    table = read_csv_table(path, read_text(path))
    # A length distribution, not a trace: every request arrives at t=0 (an offline batch).
    requests = length_requests(
        table, path=path, fmt=NAME, prompt_column="num_prefill_tokens", output_column="num_decode_tokens"
    )
    return build_workload(path, NAME, requests)
