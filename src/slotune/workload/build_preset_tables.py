"""Rebuild preset_tables.json from the public traces: `python -m slotune.workload.build_preset_tables DATA_DIR`.

DATA_DIR holds AzureLLMInferenceTrace_conv.csv, AzureLLMInferenceTrace_code.csv and
sharegpt_8k_filtered_stats_llama2_tokenizer.csv (see docs/workload.md for their sources).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from slotune.workload.io import read_workload
from slotune.workload.lengths import QUANTILE_GRID, TABLES_FILE, quantile_table

SOURCES = {
    "azure-conv": (
        "AzureLLMInferenceTrace_conv.csv",
        "Azure LLM inference trace 2023, conversation service (Patel et al., Splitwise, ISCA 2024), CC-BY-4.0",
    ),
    "azure-code": (
        "AzureLLMInferenceTrace_code.csv",
        "Azure LLM inference trace 2023, code service (Patel et al., Splitwise, ISCA 2024), CC-BY-4.0",
    ),
    "sharegpt-etalon": (
        "sharegpt_8k_filtered_stats_llama2_tokenizer.csv",
        "ShareGPT length statistics, project-etalon/etalon (Llama-2 tokenizer), Apache-2.0",
    ),
}


def build_tables(data_dir: Path) -> dict[str, Any]:
    tables: dict[str, Any] = {"quantile_grid": list(QUANTILE_GRID)}
    for name, (file, source) in SOURCES.items():
        workload = read_workload(data_dir / file)
        tables[name] = {
            "source": source,
            "file": file,
            "num_requests": len(workload.requests),
            "prompt": quantile_table([r.prompt_tokens for r in workload.requests]),
            "output": quantile_table([r.output_tokens for r in workload.requests]),
        }
    return tables


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    tables = build_tables(Path(argv[0]))
    out = Path(__file__).with_name(TABLES_FILE)
    # One line per key keeps the file small and its diffs readable.
    body = ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in tables.items())
    out.write_text("{\n" + body + "\n}\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
