"""What to change when a monitoring rule fires: one table, read by the generated alerts (their `flag` and
`action` annotations) and by `slotune watch` (its live findings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Condition = Literal[
    "ttft", "itl", "tpot", "e2e", "preemptions", "kv_saturated", "admission_rejections", "target_missing"
]


@dataclass(frozen=True, slots=True)
class Advice:
    condition: Condition
    flags: tuple[str, ...]  # the vLLM flags (or deployment settings) to change, most effective first
    action: str

    @property
    def flag(self) -> str:
        return self.flags[0]


ADVICE: dict[Condition, Advice] = {
    a.condition: a
    for a in (
        Advice(
            "ttft",
            ("replicas", "--max-num-batched-tokens", "--enable-prefix-caching"),
            "requests wait for their prefill: add replicas (the queue is the usual cause), raise "
            "--max-num-batched-tokens so a prompt's prefill takes fewer steps, keep --enable-prefix-caching on "
            "for shared prompt prefixes",
        ),
        Advice(
            "itl",
            ("--max-num-batched-tokens", "--max-num-seqs", "replicas"),
            "decode steps carry prefill chunks: lower --max-num-batched-tokens so each step's prefill share "
            "shrinks, or lower --max-num-seqs so fewer sequences share a step; or add replicas",
        ),
        Advice(
            "tpot",
            ("--max-num-seqs", "--max-num-batched-tokens", "replicas"),
            "each request's decode is slow: lower --max-num-seqs (smaller decode batches), lower "
            "--max-num-batched-tokens (smaller prefill chunks per step), or add replicas",
        ),
        Advice(
            "e2e",
            ("replicas", "--max-num-seqs"),
            "requests take too long end to end: add replicas; if the queue is empty, lower --max-num-seqs so "
            "each step is shorter",
        ),
        Advice(
            "preemptions",
            ("--gpu-memory-utilization", "--max-num-seqs", "--kv-cache-dtype", "--max-model-len"),
            "the KV cache ran out while requests were running and vLLM recomputes them: raise "
            "--gpu-memory-utilization, lower --max-num-seqs, use --kv-cache-dtype fp8, or lower --max-model-len",
        ),
        Advice(
            "kv_saturated",
            ("replicas", "--kv-cache-dtype", "--gpu-memory-utilization"),
            "the KV cache is full and requests queue behind it: add replicas, or give the cache more room "
            "(--kv-cache-dtype fp8, a higher --gpu-memory-utilization)",
        ),
        Advice(
            "admission_rejections",
            ("replicas", "--max-num-queued-reqs", "--max-num-queued-tokens"),
            "the server refuses requests at its queue limit: add replicas, or raise --max-num-queued-reqs / "
            "--max-num-queued-tokens if clients may wait longer",
        ),
        Advice(
            "target_missing",
            ("replicas",),
            "no vLLM server of this model is scraped: check that the pods run and that Prometheus scrapes "
            "their /metrics",
        ),
    )
}


def advice_for(condition: Condition) -> Advice:
    return ADVICE[condition]
