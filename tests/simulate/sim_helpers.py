"""Helpers for the simulator tests: a Llama-3.1-8B-sized cost profile and small workloads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slotune.models import EngineConfig, RequestSpec, Workload
from slotune.simulate import ModelCostFacts
from slotune.simulate.request_state import SimRequest

BLOCK = 16


def llama8b_facts(tp: int = 1) -> ModelCostFacts:
    return ModelCostFacts(
        num_layers=32,
        hidden_size=4096,
        tensor_parallel_size=tp,
        dense_weight_bytes=15.0e9 / tp,
        expert_weight_bytes=0.0,
        num_experts=0,
        experts_per_token=0,
        kv_bytes_per_token=131072.0 / tp,
        linear_flops_per_token=2 * 6.98e9 / tp,
        lm_head_flops_per_logit=2 * 525e6 / tp,
        attn_flops_per_pair=524288.0 / tp,
        prefill_attn_flops_per_pair=524288.0 / tp,
    )


def sim_request(
    index: int, prompt: int, *, ids: tuple[int, ...] = (), tokens: tuple[int, ...] | None = None
) -> SimRequest:
    """A waiting simulator request of `prompt` tokens (10 to generate), its prefix as block ids or token ids."""
    return SimRequest(
        index=index,
        request_id=f"r{index}",
        arrival_s=0.0,
        prompt_tokens=prompt,
        max_output_tokens=10,
        prefix_block_ids=ids,
        prompt_token_ids=tokens,
        hash_block_size=BLOCK,
    )


def workload(
    rows: Sequence[tuple[float, int, int]],
    *,
    prefix: Sequence[tuple[int, ...]] | None = None,
    hash_block_size: int = BLOCK,
) -> Workload:
    """Requests from (arrival_s, prompt_tokens, output_tokens) rows, optionally with prefix block ids."""
    reqs = []
    for i, (arrival, prompt, output) in enumerate(rows):
        ids = tuple(prefix[i]) if prefix is not None else ()
        reqs.append(
            RequestSpec(
                request_id=f"r{i}",
                arrival_s=arrival,
                prompt_tokens=prompt,
                output_tokens=output,
                prefix_block_ids=ids,
            )
        )
    return Workload(name="test", requests=tuple(reqs), hash_block_size=hash_block_size)


def poisson_workload(
    rate_rps: float,
    num_requests: int,
    *,
    seed: int = 0,
    prompt: tuple[int, int] = (200, 1200),
    output: tuple[int, int] = (20, 300),
) -> Workload:
    """Poisson arrivals (the same draws scaled by 1/rate for every rate) with uniform random lengths."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0, num_requests)
    arrivals = np.cumsum(gaps) / rate_rps
    prompts = rng.integers(prompt[0], prompt[1], num_requests)
    outputs = rng.integers(output[0], output[1], num_requests)
    return workload([(float(a), int(p), int(o)) for a, p, o in zip(arrivals, prompts, outputs, strict=True)])


SYNC = EngineConfig(max_model_len=8192, async_scheduling=False)
ASYNC = EngineConfig(max_model_len=8192)
