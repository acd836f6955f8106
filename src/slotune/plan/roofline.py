"""Roofline latency bounds for the planner, composed from the step-cost terms the simulator also evaluates.

A step takes max(compute, memory) + all-reduces (plan/step_cost.py). The planner looks at three situations:
  TTFT        one request's prefill alone, in chunks of max_num_batched_tokens, each chunk one step
  ITL         one decode step of B sequences at context C
  throughput  a steady batch of B that also prefills the prompts of the requests replacing those that finish
These are lower bounds: no queueing, no CUDA-graph launch or CPU time (the simulator adds those).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from slotune.models import GpuSpec, ModelSpec, ProfileCoefficients, ResolvedEngineConfig
from slotune.plan.cuda_graphs import CudaGraphs, deployment_capture_sizes
from slotune.plan.derivation import Derived, derived
from slotune.plan.quantization import QuantScheme
from slotune.plan.step_cost import (
    Rates,
    StepCost,
    StepTime,
    chunk_shape,
    comm_formula,
    decode_shape,
    model_cost_facts,
)
from slotune.vllm_versions import VllmBehaviour


@dataclass(frozen=True, slots=True)
class Roofline:
    """One deployment's step costs and CUDA graphs, as the planner evaluates them."""

    cost: StepCost
    graphs: CudaGraphs

    @classmethod
    def of(
        cls,
        model: ModelSpec,
        gpu: GpuSpec,
        scheme: QuantScheme,
        engine: ResolvedEngineConfig,
        coefficients: ProfileCoefficients,
        behaviour: VllmBehaviour | None = None,
    ) -> Roofline:
        facts = model_cost_facts(model, scheme, engine.kv_cache_dtype, engine.tensor_parallel_size)
        rates = Rates.of(gpu, coefficients, scheme.compute_dtype)
        sizes = deployment_capture_sizes(model, gpu, engine, behaviour)
        graphs = CudaGraphs(sizes, enforce_eager=engine.enforce_eager)
        return cls(StepCost(facts, rates), graphs)

    @property
    def window(self) -> int | None:
        return self.cost.sliding_window


@dataclass(frozen=True, slots=True)
class PrefillTime:
    """A lone request's prefill: one step per chunk."""

    chunks: tuple[StepTime, ...]

    @property
    def total_s(self) -> float:
        return sum(chunk.total_s for chunk in self.chunks)

    @property
    def is_compute_bound(self) -> bool:
        return sum(c.compute_s for c in self.chunks) >= sum(c.memory_s for c in self.chunks)


def prefill_time(roof: Roofline, prompt_tokens: int, *, chunk_tokens: int) -> PrefillTime:
    """A lone request's prefill in chunks of chunk_tokens (max_num_batched_tokens): each chunk is one engine
    step that reads every weight once and attends to the context before it."""
    chunks = []
    done = 0
    while done < prompt_tokens:
        chunk = min(chunk_tokens, prompt_tokens - done)
        shape = chunk_shape(chunk, done, roof.window)
        chunks.append(roof.cost.time(shape, roof.graphs.padded(chunk)))
        done += chunk
    return PrefillTime(tuple(chunks))


def decode_time(roof: Roofline, batch_size: int, context_tokens: int) -> StepTime:
    """One decode step of batch_size sequences, each attending to context_tokens keys (the CUDA graph of the
    next capture size up runs the linear layers and all-reduces)."""
    shape = decode_shape(batch_size, context_tokens, roof.window)
    return roof.cost.time(shape, roof.graphs.padded(batch_size))


def steady_output_tokens_per_s(
    roof: Roofline, batch_size: int, prompt_tokens: float, output_tokens: float
) -> tuple[float, StepTime]:
    """Output tokens/s of one replica holding batch_size requests in steady state.

    Each step emits batch_size tokens; batch_size / output_tokens requests finish per step and are replaced, so
    their prompts are prefilled inside the same steps (chunked prefill). The average context is the prompt plus
    half the output.
    """
    context = int(prompt_tokens + output_tokens / 2)
    requests_per_step = batch_size / max(output_tokens, 1.0)
    prompt = max(1, round(prompt_tokens))
    shape = decode_shape(batch_size, context, roof.window) + chunk_shape(prompt, 0, roof.window).scaled(
        requests_per_step
    )
    tokens = math.ceil(shape.tokens)
    padded = roof.graphs.padded(tokens) if roof.graphs.is_graphed(tokens) else shape.tokens
    step = roof.cost.time(shape, padded)
    return batch_size / step.total_s, step


def best_throughput(
    roof: Roofline,
    batch_sizes: list[int],
    prompt_tokens: float,
    output_tokens: float,
    *,
    itl_limit_s: float | None,
) -> tuple[float, int]:
    """(output tokens/s, batch) of the fastest steady batch whose step stays within itl_limit_s; (0, 0) if none."""
    best_tps, best_batch = 0.0, 0
    for batch in batch_sizes:
        tps, step = steady_output_tokens_per_s(roof, batch, prompt_tokens, output_tokens)
        if itl_limit_s is not None and step.total_s > itl_limit_s:
            continue
        if tps > best_tps:
            best_tps, best_batch = tps, batch
    return best_tps, best_batch


def gemm_is_compute_bound(cost: StepCost, batch_size: int) -> bool:
    """Do the step's matmuls take longer to compute than to stream their weights?

    (linear + lm_head FLOPs) x B / (peak x mfu_decode) >= weights read / (HBM x efficiency); the attention over
    the KV cache is left out: it reads as many bytes as it does FLOPs/2 per head and stays memory-bound.
    """
    flops = (cost.linear_flops_per_token + cost.lm_head_flops_per_logit) * batch_size
    return flops / cost.decode_flops_per_s >= cost.weight_bytes_read(batch_size) / cost.bytes_per_s


def crossover_batch_size(cost: StepCost, *, max_batch: int = 1 << 16) -> int | None:
    """Smallest decode batch at which the weight matmuls become compute-bound (None: not up to max_batch).

    For a dense bf16 model this is about (peak x mfu_decode) / (HBM x efficiency) tokens, the GPU's ops:byte
    ratio; MoE batches touch more experts as they grow, which pushes it out.
    """
    if not gemm_is_compute_bound(cost, max_batch):
        return None
    lo, hi = 1, max_batch
    if gemm_is_compute_bound(cost, lo):
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if gemm_is_compute_bound(cost, mid):
            hi = mid
        else:
            lo = mid
    return hi


def _rate_inputs(roof: Roofline, *names: str) -> dict[str, float | int | str]:
    rates = roof.cost.rates.inputs()
    return {name: rates[name] for name in names}


_COMM_RATES = ("link_bytes_per_s", "interconnect_efficiency", "allreduce_latency_s")


def derive_ttft(name: str, roof: Roofline, prompt_tokens: int, *, chunk_tokens: int) -> Derived[float]:
    return derived(
        name,
        prefill_time(roof, prompt_tokens, chunk_tokens=chunk_tokens).total_s,
        "s",
        "sum over chunks of max((linear FLOPs x chunk + causal attention FLOPs / prefill_attention_rate) / (peak x "
        "mfu_prefill) + LM head "
        "/ (peak x mfu_decode), (streamed weights + KV bytes read and written) / (HBM x efficiency)) + "
        + comm_formula(),
        prompt_tokens=prompt_tokens,
        chunk_tokens=chunk_tokens,
        tensor_parallel_size=roof.cost.facts.tensor_parallel_size,
        **_rate_inputs(roof, "peak_flops_per_s", "mfu_prefill", "prefill_attention_rate", *_COMM_RATES),
    )


def derive_itl(roof: Roofline, batch_size: int, context_tokens: int) -> Derived[float]:
    cost = roof.cost
    return derived(
        f"itl_batch_{batch_size}_s",
        decode_time(roof, batch_size, context_tokens).total_s,
        "s",
        "max((linear FLOPs x padded batch + (LM head + attention over the context) FLOPs x batch) / (peak x "
        "mfu_decode), (weights streamed + batch x context x kv bytes per token, sliding layers at most the "
        "window) / (HBM x efficiency)) + " + comm_formula(),
        batch_size=batch_size,
        padded_batch_size=roof.graphs.padded(batch_size),
        context_tokens=context_tokens,
        weights_streamed_bytes=round(cost.weight_bytes_read(batch_size)),
        kv_bytes_per_token_per_gpu=round(cost.kv_bytes_per_token + cost.window_kv_bytes_per_token),
        sliding_window=cost.sliding_window or 0,
        linear_flops_per_token=cost.linear_flops_per_token,
        **_rate_inputs(
            roof, "peak_flops_per_s", "mfu_decode", "hbm_bytes_per_s", "mem_bw_efficiency", *_COMM_RATES
        ),
    )


def derive_crossover(roof: Roofline) -> Derived[int | None]:
    return derived(
        "crossover_batch_size",
        crossover_batch_size(roof.cost),
        "sequences",
        "smallest decode batch B with (linear + LM head FLOPs) x B / (peak x mfu_decode) >= weight bytes read / "
        "(HBM x efficiency); attention over the KV cache stays memory-bound",
        **_rate_inputs(roof, "peak_flops_per_s", "mfu_decode", "hbm_bytes_per_s", "mem_bw_efficiency"),
    )


def derive_max_output_tokens_per_s(
    throughput: float,
    batch_size: int,
    *,
    mean_prompt_tokens: float,
    mean_output_tokens: float,
    itl_limit_s: float | None,
) -> Derived[float]:
    return derived(
        "max_output_tokens_per_s",
        throughput,
        "tok/s",
        "max over batch B of B / step time, each step also prefilling B x prompt / output tokens",
        batch_size=batch_size,
        mean_prompt_tokens=mean_prompt_tokens,
        mean_output_tokens=mean_output_tokens,
        itl_limit_s=itl_limit_s or 0,
    )
