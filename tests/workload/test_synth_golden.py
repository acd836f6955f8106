"""`workload synth` writes the same requests as before arrival generation moved to slotune.load: the files in
tests/data/workload/synth_before were written by the earlier code with these exact commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from slotune.workload import read_workload

BEFORE = Path(__file__).parents[1] / "data" / "workload" / "synth_before"

CASES = {
    "chatbot_poisson_duration.jsonl": ["--preset", "chatbot", "--duration", "10", "--seed", "3"],
    "chatbot_gamma_count.jsonl": ["--preset", "chatbot", "--num-requests", "30", "--arrival", "gamma", "--seed", "6"],
    "rag_poisson_count.jsonl": ["--preset", "rag", "--num-requests", "12", "--seed", "1"],
    "code_constant_duration.jsonl": [
        "--preset", "code-completion", "--rate", "13.7", "--duration", "4", "--arrival", "constant", "--seed", "2",
    ],
    "summarization_gamma_duration.jsonl": [
        "--preset", "summarization", "--rate", "3", "--duration", "8", "--arrival", "gamma", "--cv", "2.5",
        "--seed", "7",
    ],
    "mooncake_profile_count.jsonl": [
        "--profile", str(BEFORE.parent / "mooncake_slice.jsonl"), "--num-requests", "40", "--seed", "5",
    ],
    "offline_batch.jsonl": ["--preset", "offline-batch", "--num-requests", "20", "--seed", "4"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_synth_writes_the_same_requests_as_before(cli, tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    result = cli("workload", "synth", *CASES[name], "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    before, now = read_workload(BEFORE / name), read_workload(out)
    # Requests and source line compared, not the header's digest: the digest's algorithm is not what is pinned.
    assert now.requests == before.requests
    assert (now.name, now.source, now.hash_block_size) == (before.name, before.source, before.hash_block_size)
