"""Each reader against an independent parse of the same file (csv/json + numpy), and format detection."""

import csv
import json

import numpy as np
import pytest

from slotune.workload import detect_format, read_workload
from slotune.workload.tokenizer import load_tokenizer


def _azure_rows(path):
    with path.open() as f:
        rows = list(csv.DictReader(f))
    stamps = np.array([r["TIMESTAMP"].replace(" ", "T") for r in rows], dtype="datetime64[ns]")
    seconds = (stamps - stamps[0]).astype(np.int64) / 1e9
    return seconds, [int(r["ContextTokens"]) for r in rows], [int(r["GeneratedTokens"]) for r in rows]


@pytest.mark.parametrize("name", ["azure_code_slice.csv", "azure_conv_slice.csv"])
def test_azure_csv_matches_an_independent_parse(name, data_dir):
    path = data_dir / name
    seconds, context, generated = _azure_rows(path)
    w = read_workload(path)
    assert w.source == f"azure-csv:{name}"
    assert len(w.requests) == len(context) == 300
    assert [r.prompt_tokens for r in w.requests] == context
    assert [r.output_tokens for r in w.requests] == generated
    # 7 fractional digits are 100 ns: kept exactly.
    assert np.array_equal(np.array([r.arrival_s for r in w.requests]), seconds)
    assert w.digest and len(w.digest) == 64


def test_azure_timestamps_keep_100ns_resolution(write):
    path = write(
        "t.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:17:03.9799600,10,1\n2023-11-16 18:17:03.9799601,10,1\n2023-11-16 18:17:05.0000000,10,1\n",
    )
    arrivals = [r.arrival_s for r in read_workload(path).requests]
    assert arrivals == [0.0, 1e-7, pytest.approx(1.02004, abs=1e-12)]


def test_mooncake_matches_an_independent_parse(data_dir):
    path = data_dir / "mooncake_slice.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    w = read_workload(path)
    assert w.hash_block_size == 512
    t0 = min(r["timestamp"] for r in rows)
    order = sorted(range(len(rows)), key=lambda i: rows[i]["timestamp"])  # stable, as the reader
    assert [r.prompt_tokens for r in w.requests] == [rows[i]["input_length"] for i in order]
    assert [r.output_tokens for r in w.requests] == [rows[i]["output_length"] for i in order]
    assert [list(r.prefix_block_ids) for r in w.requests] == [rows[i]["hash_ids"] for i in order]
    assert [r.arrival_s for r in w.requests] == pytest.approx(
        [(rows[i]["timestamp"] - t0) / 1000 for i in order]
    )


def test_etalon_csv_has_lengths_and_no_arrival_times(data_dir):
    path = data_dir / "etalon_slice.csv"
    with path.open() as f:
        rows = list(csv.DictReader(f))
    w = read_workload(path)
    assert [r.prompt_tokens for r in w.requests] == [int(r["num_prefill_tokens"]) for r in rows]
    assert [r.output_tokens for r in w.requests] == [int(r["num_decode_tokens"]) for r in rows]
    assert {r.arrival_s for r in w.requests} == {0.0}


def test_sharegpt_is_tokenized_with_the_given_tokenizer(data_dir, tokenizer_path):
    path = data_dir / "sharegpt_slice.json"
    convs = json.loads(path.read_text())
    tok = load_tokenizer(tokenizer_path)
    w = read_workload(path, tokenizer_path=str(tokenizer_path))
    expected = [len(tok.encode(c["conversations"][0]["value"]).ids) for c in convs]
    assert [r.prompt_tokens for r in w.requests] == expected
    assert [r.request_id for r in w.requests] == [c["id"] for c in convs]
    # These conversations hold no reply: the output length is a flagged stand-in.
    assert all(r.is_output_estimated and r.output_tokens == 128 for r in w.requests)


def test_sharegpt_reply_gives_the_output_length(write, tokenizer_path):
    tok = load_tokenizer(tokenizer_path)
    reply = "Paris is the capital of France."
    path = write(
        "c.json",
        json.dumps(
            [
                {
                    "id": "a",
                    "conversations": [
                        {"from": "human", "value": "Capital?"},
                        {"from": "gpt", "value": reply},
                    ],
                }
            ]
        ),
    )
    (r,) = read_workload(path, tokenizer_path=str(tokenizer_path)).requests
    assert r.output_tokens == len(tok.encode(reply).ids) and not r.is_output_estimated


def test_openai_log_chat_and_completion_bodies(write, tokenizer_path):
    tok = load_tokenizer(tokenizer_path)
    lines = [
        # A bare chat body with a timestamp and a usage block.
        {
            "timestamp": 100.0,
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "temperature": 0,
            "max_tokens": 50,
            "stop": "\n",
            "usage": {"prompt_tokens": 21, "completion_tokens": 7},
        },
        # A wrapped completion request with a response text and no usage.
        {
            "timestamp": "1970-01-01T00:01:42+00:00",
            "request": {"prompt": "Once upon a time", "max_tokens": 64, "stop_token_ids": [2]},
            "response": {"choices": [{"text": " there was a cat.", "finish_reason": "stop"}]},
        },
        # Content parts, no response: the output length falls back to max_tokens (flagged).
        {
            "timestamp": 101.5,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Describe this."}]}],
            "max_completion_tokens": 300,
        },
    ]
    path = write("log.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    w = read_workload(path, tokenizer_path=str(tokenizer_path))
    assert w.source.startswith("openai-log-jsonl:")
    first, second, third = w.requests
    assert [r.arrival_s for r in w.requests] == [0.0, 1.5, 2.0]
    assert first.prompt_tokens == 21 and first.output_tokens == 7
    assert first.sampling.temperature == 0.0 and first.sampling.stop == ("\n",)
    chatml = (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert first.prompt_token_ids == tuple(tok.encode(chatml).ids)
    assert first.system_prompt_tokens == len(tok.encode("<|im_start|>system\nBe brief.<|im_end|>\n").ids)
    # The system prompt's tokens are exactly the first tokens of the whole prompt.
    assert first.prompt_token_ids[: first.system_prompt_tokens] == tuple(
        tok.encode("<|im_start|>system\nBe brief.<|im_end|>\n").ids
    )
    assert (
        second.prompt_tokens == len(tok.encode("Describe this.").ids) + 8
    )  # ChatML user turn + generation prompt
    assert second.output_tokens == 300 and second.is_output_estimated
    assert third.prompt_tokens == len(tok.encode("Once upon a time").ids)
    assert third.output_tokens == len(tok.encode(" there was a cat.").ids) and not third.is_output_estimated
    assert third.sampling.stop_token_ids == (2,)


def test_openai_log_with_usage_needs_no_tokenizer(write):
    line = {
        "messages": [{"role": "user", "content": "x"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3},
    }
    (r,) = read_workload(write("u.jsonl", json.dumps(line) + "\n")).requests
    assert (r.prompt_tokens, r.output_tokens, r.prompt_token_ids) == (9, 3, None)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("azure_code_slice.csv", "azure-csv"),
        ("etalon_slice.csv", "etalon-csv"),
        ("mooncake_slice.jsonl", "mooncake-jsonl"),
        ("sharegpt_slice.json", "sharegpt-json"),
        ("mt_bench_chat_log.jsonl", "openai-log-jsonl"),
    ],
)
def test_detect_format(name, fmt, data_dir):
    assert detect_format(data_dir / name) == fmt


def test_explicit_format_overrides_detection(write):
    path = write("trace.txt", "num_prefill_tokens,num_decode_tokens\n5,6\n")
    assert read_workload(path, fmt="etalon-csv").requests[0].prompt_tokens == 5
