"""The request log as evidence: the light pass agrees with slotune's workload reader, columns cover every line,
the sample carries prefix blocks from its text, and bad lines are bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from builders import chat_log, log_line, write_log

from slotune.audit.prompts import analyze_prompts, chunks, text_prefix_blocks
from slotune.audit.request_log import read_request_log
from slotune.errors import InputError
from slotune.workload import read_workload

MOONCAKE = Path(__file__).parents[1] / "data" / "workload" / "mooncake_slice.jsonl"


def test_the_light_pass_reads_what_the_workload_reader_reads(tmp_path: Path) -> None:
    path = chat_log(tmp_path / "log.jsonl", n=40, temperature=0.5, stop=["}"])
    log = read_request_log(path, sample_size=25)
    reference = read_workload(path)
    assert log.format == "openai-log-jsonl" and log.num_requests == 40
    assert np.array_equal(log.columns.prompt_tokens, [r.prompt_tokens for r in reference.requests])
    assert np.array_equal(log.columns.output_tokens, [r.output_tokens for r in reference.requests])
    assert log.columns.has_stop.all() and np.all(log.columns.temperature == 0.5)
    assert len(log.sample.requests) == 25 and log.sample_note == "the first 25 of 40 requests"
    for ours, theirs in zip(log.sample.requests, reference.requests, strict=False):
        assert ours.text == theirs.text and ours.arrival_s == pytest.approx(theirs.arrival_s)
        assert ours.sampling == theirs.sampling
    # Text blocks stand for token blocks: every sampled prompt shares its leading system-prompt blocks.
    assert log.chars_per_token is not None
    assert log.sample_stats.prefix_reuse.unbounded_token_fraction > 0.5


def test_a_log_without_usage_goes_through_the_reader_and_its_tokenizer(tmp_path: Path) -> None:
    line = log_line("sys", "hello there", completion=None)
    del line["usage"]
    path = write_log(tmp_path / "log.jsonl", [line])
    with pytest.raises(InputError, match="--tokenizer"):
        read_request_log(path)
    tokenizer = Path(__file__).parents[1] / "data" / "tokenizers" / "qwen3" / "tokenizer.json"
    log = read_request_log(path, tokenizer_path=str(tokenizer))
    assert log.columns.prompt_tokens[0] > 3 and np.isnan(log.columns.output_tokens[0])


def test_other_formats_keep_their_own_prefix_blocks() -> None:
    log = read_request_log(MOONCAKE, sample_size=100)
    assert log.format == "mooncake-jsonl" and log.sample.hash_block_size == 512
    assert log.prompts is None and log.chars_per_token is None and not log.columns.has_sampling
    assert log.num_requests == 300 and len(log.sample.requests) == 100


def test_bad_lines_are_bad_input(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        '{"request": {"messages": [{"role": "user", "content": "x"}]}, "usage": {"prompt_tokens": 3}}\n{oops\n'
    )
    with pytest.raises(InputError, match="line 2"):
        read_request_log(tmp_path / "a.jsonl")
    (tmp_path / "b.jsonl").write_text(
        '{"request": {"messages": []}, "usage": {"prompt_tokens": 3}}\n{"x": 1, "usage": {"prompt_tokens": 3}}\n'
    )
    with pytest.raises(InputError, match="line 2"):
        read_request_log(tmp_path / "b.jsonl")
    with pytest.raises(InputError, match="--sample-requests"):
        read_request_log(tmp_path / "a.jsonl", sample_size=0)


def test_chunks_keep_every_character() -> None:
    text = "Hello. You are: a bot!\nAnswer? yes; no"
    assert "".join(chunks(text)) == text
    assert chunks(text) == ["Hello.", " You are:", " a bot!", "\n", "Answer?", " yes;", " no"]


def test_static_text_behind_varying_text_is_found_and_moved_first() -> None:
    static = "Follow the rules. Rule one applies. Rule two applies. "
    texts = [f"Id {i:04d} at 10:0{i}. " + static + f"Question {i}?" for i in range(10)]
    s = analyze_prompts(texts)
    assert s is not None and s.blocked_request_fraction == 1.0
    assert s.blocked_static_fraction > 0.5 and s.leading_static_fraction == 0.0
    assert s.example_blocking_text is not None and s.example_blocking_text.startswith("Id 0000")
    fixed = analyze_prompts([s.reordered(t) for t in texts])
    assert fixed is not None and fixed.blocked_static_fraction == 0.0 and fixed.leading_static_fraction > 0.5
    assert analyze_prompts(["only one"]) is None


def test_text_blocks_share_exactly_the_leading_full_blocks_of_shared_text() -> None:
    a, b = "x" * 40 + "A" * 20, "x" * 40 + "B" * 20
    blocks = text_prefix_blocks([a, b], [15, 15], block_size=4, ratio=4.0)  # 16 characters per block
    assert len(blocks[0]) == 4  # ceil(15 / 4) token blocks
    assert blocks[0][:2] == blocks[1][:2] and blocks[0][2] != blocks[1][2]
    # Text that runs out before the tokens do shares nothing past its end.
    short = text_prefix_blocks(["x" * 20, "x" * 20], [12, 12], block_size=4, ratio=4.0)
    assert short[0][0] == short[1][0] and short[0][1:] != short[1][1:]
