"""`plan --csv`: the table a user copies, as CSV with the same figures as --json."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from test_plan_cli import run


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_ranking_csv_matches_the_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    table = tmp_path / "plans" / "llama.csv"  # a missing folder is created
    code, out, _ = run(
        [
            "plan",
            "--model",
            "llama-3.1-8b",
            "--gpu",
            "h100,a100-80gb",
            "--rank-by",
            "throughput-per-gpu",
            "--json",
            "--csv",
            str(table),
        ],
        capsys,
    )
    assert code == 0
    options = json.loads(out)["options"]
    rows = _rows(table)
    assert [(r["gpu"], int(r["tensor_parallel_size"]), r["quantization"]) for r in rows] == [
        (o["gpu"], o["tensor_parallel_size"], o["quantization"]) for o in options
    ]
    assert float(rows[0]["output_tokens_per_s"]) == pytest.approx(
        options[0]["throughput"]["output_tokens_per_s"]
    )
    assert int(rows[0]["kv_cache_tokens"]) == options[0]["kv"]["capacity_tokens"]


def test_single_plan_is_one_row(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    table = tmp_path / "one.csv"
    code, _, _ = run(["plan", "--model", "llama-3.1-8b", "--gpu", "h100", "--csv", str(table)], capsys)
    assert code == 0
    (row,) = _rows(table)
    assert row["gpu"] == "h100-sxm" and row["fits"] == "True" and float(row["usd_per_mtok"]) > 0


def test_csv_at_a_folder_is_refused_before_planning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(["plan", "--model", "llama-3.1-8b", "--gpu", "h100", "--csv", str(tmp_path)], capsys)
    assert code == 2 and "--csv=" in err and "is a folder" in err
