"""Request-log statistics of the MT-bench chat log, recomputed here straight from the JSON lines."""

import json

import numpy as np
import pytest

from slotune.workload import analyze, read_workload
from slotune.workload.tokenizer import load_tokenizer


def _chatml(messages):
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


@pytest.fixture
def log_lines(data_dir):
    return [json.loads(line) for line in (data_dir / "mt_bench_chat_log.jsonl").read_text().splitlines()]


def test_sampling_parameter_use(data_dir, tokenizer_path, log_lines):
    bodies = [x.get("request", x) for x in log_lines]
    s = analyze(read_workload(data_dir / "mt_bench_chat_log.jsonl", tokenizer_path=str(tokenizer_path)))
    log = s.request_log
    assert log is not None and log.num_requests == len(bodies) == 110
    assert log.temperature_set_fraction == 1.0
    assert log.temperature_positive_fraction == pytest.approx(np.mean([b["temperature"] > 0 for b in bodies]))
    assert log.stop_fraction == pytest.approx(np.mean(["stop" in b for b in bodies]))
    assert 0 < log.stop_fraction < log.temperature_positive_fraction < 1
    assert log.max_tokens_set_fraction == 1.0


def test_max_tokens_against_generated(data_dir, tokenizer_path, log_lines):
    answered = [x for x in log_lines if "response" in x]
    generated = np.array([x["response"]["usage"]["completion_tokens"] for x in answered], dtype=float)
    limit = np.array([x["request"]["max_tokens"] for x in answered], dtype=float)
    s = analyze(read_workload(data_dir / "mt_bench_chat_log.jsonl", tokenizer_path=str(tokenizer_path)))
    m = s.request_log.max_tokens
    assert m.num_requests == len(answered) == 60
    assert m.generated_tokens.mean == pytest.approx(generated.mean())
    assert m.used_fraction.p50 == pytest.approx(np.percentile(generated / limit, 50))
    assert m.hit_limit_fraction == pytest.approx(np.mean(generated >= limit))
    # Lines without a response count as estimated and stay out of the output statistics.
    assert s.num_output_estimated == 50
    assert s.output_tokens.count == 60 and s.output_tokens.p99 == pytest.approx(np.percentile(generated, 99))


def test_shared_system_prompt(data_dir, tokenizer_path, log_lines):
    tok = load_tokenizer(tokenizer_path)
    system = log_lines[0].get("request", log_lines[0])["messages"][0]["content"]
    system_tokens = len(tok.encode(f"<|im_start|>system\n{system}<|im_end|>\n").ids)
    prompt_tokens = [
        x["response"]["usage"]["prompt_tokens"]
        if "response" in x
        else len(tok.encode(_chatml(x["messages"])).ids)
        for x in log_lines
    ]
    s = analyze(read_workload(data_dir / "mt_bench_chat_log.jsonl", tokenizer_path=str(tokenizer_path)))
    sp = s.request_log.system_prompt
    assert (sp.num_distinct, sp.shared_tokens, sp.shared_request_fraction) == (1, system_tokens, 1.0)
    assert sp.shared_prompt_token_fraction == pytest.approx(
        len(log_lines) * system_tokens / sum(prompt_tokens)
    )
    assert s.total_prompt_tokens == sum(prompt_tokens)


def test_two_system_prompts_are_told_apart(write, tokenizer_path):
    lines = [
        {"messages": [{"role": "system", "content": p}, {"role": "user", "content": f"q{i}"}]}
        for i, p in enumerate(["You are A.", "You are A.", "You are A.", "You are a much longer B prompt."])
    ]
    path = write("sys.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    s = analyze(read_workload(path, tokenizer_path=str(tokenizer_path)))
    sp = s.request_log.system_prompt
    assert sp.num_distinct == 2 and sp.shared_request_fraction == 0.75
    # No temperature anywhere: the API default (1.0) samples.
    assert (
        s.request_log.temperature_set_fraction == 0.0 and s.request_log.temperature_positive_fraction == 1.0
    )
