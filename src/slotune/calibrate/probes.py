"""The probes `slotune calibrate` sends: short workloads whose timing isolates one part of the step cost.

Each probe is a workload and a load (the same `slotune.load` schedule on the real engine and in the
simulator) plus the statistics that the fit compares, each a median over a named group of its requests:

| kind | requests | isolates |
|---|---|---|
| tiny | 1-token prompts, 1 output token, one at a time | the time outside the engine step (API server, tokenization, streaming) and the smallest step |
| prefill | one prompt of P tokens at a time, 1 output token; P from 32 to the largest the engine takes | prefill compute (MFU), steps above the largest CUDA graph |
| prefix | a prompt, then the same prompt again (all but its last half block cached) | the cost of a prefill after prefix hits (attention over cached keys) |
| decode | B requests sent together, C-token prompts, N output tokens | decode memory bandwidth (weights + KV at context C), per-sequence CPU time, graph replay (or eager launches) at batch B |
| mixed | B decoding requests, and short prompts arriving while they decode | steps that mix a prefill chunk with decodes (piecewise graphs) |

Every probe runs on the configuration being calibrated ("default"); decode and prefill probes also run with
--enforce-eager ("eager"), for what CUDA graphs save at every batch size. Sizes follow the engine's limits
(max_model_len, max_num_seqs, max_num_batched_tokens) and the probe scale ("quick" for tests, "full").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from slotune.models import LoadSpec, RequestRecord, RequestSpec, Workload
from slotune.models.calibration import ProbeStatistic as Statistic

ProbeKind = Literal["tiny", "prefill", "prefix", "decode", "mixed"]
Mode = Literal["default", "eager"]
Scale = Literal["quick", "full"]
MODES: tuple[Mode, ...] = ("default", "eager")
SCALES: tuple[str, ...] = ("quick", "full")


@dataclass(frozen=True, slots=True)
class Probe:
    name: str
    kind: ProbeKind
    workload: Workload
    load: LoadSpec
    statistics: tuple[Statistic, ...]
    concurrency: int = 1

    @property
    def prompt_tokens(self) -> int:
        return max(r.prompt_tokens for r in self.workload.requests)

    @property
    def output_tokens(self) -> int:
        return max(r.output_tokens for r in self.workload.requests)


@dataclass(frozen=True, slots=True)
class EngineLimits:
    """What the server being calibrated accepts (its resolved flags)."""

    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    block_size: int
    kv_cache_tokens: int | None = None  # what vLLM reported; None: not known


def _request(
    rid: str, prompt: int, output: int, arrival_s: float = 0.0, blocks: tuple[int, ...] = ()
) -> RequestSpec:
    return RequestSpec(
        request_id=rid,
        arrival_s=arrival_s,
        prompt_tokens=prompt,
        output_tokens=output,
        prefix_block_ids=blocks,
    )


def _sequential(
    name: str, kind: ProbeKind, requests: Sequence[RequestSpec], stats: tuple[Statistic, ...], block_size: int
) -> Probe:
    """Requests one at a time, in order (a closed loop of one user)."""
    workload = Workload(name=name, requests=tuple(requests), hash_block_size=block_size)
    load = LoadSpec(kind="concurrency", concurrency=1, num_requests=len(requests))
    return Probe(name, kind, workload, load, stats)


SERVER_PREFILL = Statistic(metric="prefill", source="server", weight=2.0)
SERVER_ITL = Statistic(metric="itl", source="server", weight=2.0)


def tiny_probe(limits: EngineLimits, num_requests: int) -> Probe:
    requests = [_request(f"t{i}", 1, 1) for i in range(num_requests)]
    stats = (Statistic(metric="ttft", weight=2.0), SERVER_PREFILL)
    return _sequential("tiny", "tiny", requests, stats, limits.block_size)


def prefill_probe(limits: EngineLimits, prompt_tokens: int, num_requests: int) -> Probe:
    requests = [_request(f"p{i}", prompt_tokens, 1) for i in range(num_requests)]
    stats = (Statistic(metric="ttft"), SERVER_PREFILL)
    return _sequential(f"prefill_{prompt_tokens}", "prefill", requests, stats, limits.block_size)


def prefix_probe(limits: EngineLimits, prompt_tokens: int, num_hits: int) -> Probe:
    """The same prompt again: every full block but the last half block is a cache hit."""
    bs = limits.block_size
    blocks = tuple(range(1, prompt_tokens // bs + 1))
    prompt = len(blocks) * bs + bs // 2
    requests = [_request("warm", prompt, 1, blocks=blocks)]
    requests += [_request(f"hit{i}", prompt, 1, blocks=blocks) for i in range(num_hits)]
    stats = (Statistic(metric="ttft", group="hit"),)
    return _sequential(f"prefix_{prompt}", "prefix", requests, stats, bs)


def decode_probe(limits: EngineLimits, batch: int, context: int, output_tokens: int) -> Probe:
    """`batch` requests sent together; their TPOT is the decode step at that batch and context."""
    requests = tuple(_request(f"d{i}", context, output_tokens) for i in range(batch))
    workload = Workload(
        name=f"decode_{batch}x{context}", requests=requests, hash_block_size=limits.block_size
    )
    load = LoadSpec(kind="concurrency", concurrency=batch, num_requests=batch)
    stats = (Statistic(metric="tpot"), Statistic(metric="ttft", weight=0.5), SERVER_ITL)
    return Probe(workload.name, "decode", workload, load, stats, concurrency=batch)


def mixed_probe(
    limits: EngineLimits, batch: int, prompt_tokens: int, output_tokens: int, step_s: float, num_injected: int
) -> Probe:
    """`batch` decoders sent at 0; short prompts arrive one by one while they decode (about `step_s` a token),
    each prefilled in a step that also decodes the batch."""
    requests = [_request(f"d{i}", 16, output_tokens) for i in range(batch)]
    decode_s = output_tokens * step_s
    for k in range(num_injected):
        at = decode_s * (k + 1) / (num_injected + 1)
        requests.append(_request(f"x{k}", prompt_tokens, 1, arrival_s=at))
    workload = Workload(
        name=f"mixed_{batch}+{prompt_tokens}", requests=tuple(requests), hash_block_size=limits.block_size
    )
    stats = (Statistic(metric="ttft", group="x"), Statistic(metric="tpot", group="d"), SERVER_ITL)
    return Probe(workload.name, "mixed", workload, LoadSpec(), stats, concurrency=batch + 1)


def _sizes(low: int, high: int, count: int) -> list[int]:
    """`count` sizes from low to high, evenly spaced in log, rounded down to 16."""
    if high <= low:
        return [low]
    values = np.geomspace(low, high, count)
    return sorted({max(16, int(v) // 16 * 16) for v in values})


@dataclass(frozen=True, slots=True)
class ProbePlan:
    """Sizes of the probes, from the engine's limits and the scale."""

    prefill_tokens: tuple[int, ...]
    decode_batches: tuple[int, ...]
    decode_contexts: tuple[int, ...]
    decode_output_tokens: int
    repeats: int
    mixed_batch: int
    mixed_prompt_tokens: int


def probe_plan(limits: EngineLimits, scale: Scale) -> ProbePlan:
    quick = scale == "quick"
    # Prompt + output (and the prefix probe's extra half block) must fit max_model_len; a prefill above the
    # token budget runs in chunks (measured too).
    longest = min(limits.max_model_len - limits.block_size, 2 * limits.max_num_batched_tokens) // 16 * 16
    prefill = _sizes(32, longest, 3 if quick else 6)
    batches = [b for b in ((1, 8) if quick else (1, 4, 16, 64, 256)) if b <= limits.max_num_seqs]
    if limits.max_num_seqs not in batches and not quick and limits.max_num_seqs < 256:
        batches.append(limits.max_num_seqs)
    output = 16 if quick else 64
    long_context = min(limits.max_model_len - output - 1, 2048 if quick else 4096)
    contexts = (32,) if quick else tuple(sorted({32, long_context // 4, long_context}))
    mixed_batch = min(8 if quick else 32, limits.max_num_seqs - 1)
    return ProbePlan(
        prefill_tokens=tuple(prefill),
        decode_batches=tuple(sorted(batches)),
        decode_contexts=contexts,
        decode_output_tokens=output,
        repeats=2 if quick else 3,
        mixed_batch=max(1, mixed_batch),
        mixed_prompt_tokens=min(256, limits.max_num_batched_tokens - mixed_batch),
    )


# A decode probe prefills batch x context tokens first; more than this many token budgets would take minutes.
MAX_DECODE_PREFILL_STEPS = 16


def decode_probes(limits: EngineLimits, plan: ProbePlan) -> list[Probe]:
    """Every batch x context whose prompts take at most MAX_DECODE_PREFILL_STEPS steps to prefill and whose
    sequences fit 90 % of the KV cache (so the probe measures decode steps, not preemptions)."""
    out = []
    for batch in plan.decode_batches:
        for context in plan.decode_contexts:
            if batch * context > MAX_DECODE_PREFILL_STEPS * limits.max_num_batched_tokens:
                continue
            held = batch * (context + plan.decode_output_tokens + limits.block_size)
            if limits.kv_cache_tokens is not None and held > 0.9 * limits.kv_cache_tokens:
                continue
            out.append(decode_probe(limits, batch, context, plan.decode_output_tokens))
    return out


def first_probes(limits: EngineLimits, plan: ProbePlan, mode: Mode) -> list[Probe]:
    """Every probe of a mode but the mixed one (which is timed from the measured decode step)."""
    probes = [tiny_probe(limits, 4 * plan.repeats)]
    probes += [prefill_probe(limits, p, plan.repeats) for p in plan.prefill_tokens]
    if mode == "default":
        probes.append(prefix_probe(limits, max(plan.prefill_tokens), plan.repeats))
    probes += decode_probes(limits, plan)
    return probes


def select(records: Sequence[RequestRecord], group: str) -> list[RequestRecord]:
    return [r for r in records if r.ok and r.request_id.startswith(group)]


def measure(statistic: Statistic, records: Sequence[RequestRecord]) -> float | None:
    """A client statistic over the records (None where no request of the group has the metric)."""
    values = [
        v for r in select(records, statistic.group) if (v := getattr(r, f"{statistic.metric}_s")) is not None
    ]
    return float(np.median(values)) if values else None


def engine_side(statistic: Statistic, records: Sequence[RequestRecord]) -> float | None:
    """A server statistic as vLLM's histograms define it, from simulated records (engine times): the mean
    inter-token gap over every output step, or the mean time from first scheduled to first token."""
    done = [(r.first_token_s, r.finish_s, r) for r in records if r.ok]
    timed = [(first, finish, r) for first, finish, r in done if first is not None and finish is not None]
    if statistic.metric == "itl":
        steps = sum(r.output_tokens - 1 for _, _, r in timed)
        spans = sum(finish - first for first, finish, _ in timed)
        return spans / steps if steps else None
    values = [first - r.scheduled_s for first, _, r in timed if r.scheduled_s is not None]
    return float(np.mean(values)) if values else None


SERVER_KEYS = {"itl": "itl_s", "prefill": "prefill_time_s"}


def measured_value(
    statistic: Statistic, records: Sequence[RequestRecord], server_s: dict[str, float]
) -> float | None:
    """The statistic as the real engine's run gives it: client records, or the server's histogram mean."""
    if statistic.source == "server":
        return server_s.get(SERVER_KEYS[statistic.metric])
    return measure(statistic, records)


def simulated_value(statistic: Statistic, records: Sequence[RequestRecord]) -> float | None:
    """The statistic from simulated records."""
    if statistic.source == "server":
        return engine_side(statistic, records)
    return measure(statistic, records)


def samples(
    statistics: Sequence[Statistic], records: Sequence[RequestRecord]
) -> dict[str, tuple[float, ...]]:
    """Per-request values of every metric the statistics use, in send order (microsecond precision)."""
    ordered = sorted(records, key=lambda r: (r.arrival_s, r.request_id))
    out: dict[str, tuple[float, ...]] = {}
    for stat in statistics:
        if stat.source == "server":
            continue
        values = [getattr(r, f"{stat.metric}_s") for r in select(ordered, stat.group)]
        out[stat.name] = tuple(round(v, 6) for v in values if v is not None)
    return out
