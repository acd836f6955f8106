"""Phase 1: assemble a CapacityPlan from the pure formulas, recording each number's formula and inputs.

A configuration that does not fit is a plan with fits=False and its reasons; only impossible inputs (a TP size
that does not divide the heads, a context longer than the model's) raise InputError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from slotune.errors import InputError
from slotune.models import (
    SLO,
    CapacityPlan,
    Derivation,
    EngineConfig,
    GpuSpec,
    ModelSpec,
    ResolvedEngineConfig,
    Workload,
)
from slotune.plan.cost import default_price, usd_per_mtok
from slotune.plan.kv import (
    KvCapacity,
    blocks_per_request,
    kv_bytes_per_token,
    kv_capacity,
    kv_dtype_bytes,
    kv_groups,
    max_concurrency,
)
from slotune.plan.memory import (
    activation_peak_bytes,
    available_kv_bytes,
    cuda_graph_bytes,
    non_torch_bytes,
    rotary_cache_bytes,
    weight_bytes,
    weight_bytes_by_role,
)
from slotune.plan.params import active_params_per_token, matmul_params_per_token, total_params
from slotune.plan.quantization import QuantScheme, resolve_quantization
from slotune.plan.roofline import (
    Hardware,
    WeightBytes,
    crossover_batch_size,
    decode_time,
    decode_weight_bytes,
    prefill_time,
    steady_output_tokens_per_s,
)
from slotune.units import GiB
from slotune.vllm_rules import effective_block_size, resolve_engine_config

# Lengths assumed without a workload: a 1k-token prompt (the default) and a 256-token answer.
DEFAULT_PROMPT_TOKENS = 1024
DEFAULT_OUTPUT_TOKENS = 256
TP_SIZES = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True, slots=True)
class Lengths:
    prompt_p50: int
    prompt_p99: int
    mean_prompt: float
    mean_output: float
    from_workload: bool


def lengths_of(workload: Workload | None) -> Lengths:
    if workload is None or not workload.requests:
        return Lengths(
            DEFAULT_PROMPT_TOKENS, DEFAULT_PROMPT_TOKENS, DEFAULT_PROMPT_TOKENS, DEFAULT_OUTPUT_TOKENS, False
        )
    from slotune.workload import analyze  # the workload package is optional at import time

    stats = analyze(workload)
    return Lengths(
        prompt_p50=max(1, round(stats.prompt_tokens.require("p50"))),
        prompt_p99=max(1, round(stats.prompt_tokens.require("p99"))),
        mean_prompt=stats.prompt_tokens.require("mean"),
        mean_output=stats.output_tokens.require("mean"),
        from_workload=True,
    )


@dataclass(slots=True)
class _Explain:
    """Collects the derivation of every number as it is computed."""

    items: list[Derivation] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, formula: str, **inputs: float | int | str) -> float:
        self.items.append(
            Derivation(name=name, value=float(value), unit=unit, formula=formula, inputs=inputs)
        )
        return value


def tp_problem(model: ModelSpec, tp: int) -> str | None:
    """Why vLLM would refuse this tensor-parallel size, or None when it is valid."""
    if tp < 1:
        return "must be at least 1"
    if model.num_attention_heads % tp:
        return f"{model.num_attention_heads} attention heads are not divisible by {tp}"
    if model.mla is None and model.num_kv_heads % tp and tp % model.num_kv_heads:
        return f"{model.num_kv_heads} KV heads neither divide nor are divisible by {tp}"
    return None


def valid_tp_sizes(model: ModelSpec, limit: int = TP_SIZES[-1]) -> list[int]:
    return [tp for tp in TP_SIZES if tp <= limit and tp_problem(model, tp) is None]


def _check_inputs(model: ModelSpec, engine: EngineConfig) -> None:
    tp = engine.tensor_parallel_size
    problem = tp_problem(model, tp)
    if problem is not None:
        raise InputError(
            "tensor_parallel_size",
            tp,
            f"use one of {', '.join(map(str, valid_tp_sizes(model)))} for {model.name}",
            problem=problem,
        )


@dataclass(frozen=True, slots=True)
class _Memory:
    weights_per_gpu: int
    buffers: int
    activation: int
    non_torch: int
    cuda_graphs: int
    available_kv: int
    capacity: KvCapacity
    block_size: int


def _memory(
    model: ModelSpec,
    gpu: GpuSpec,
    engine: ResolvedEngineConfig,
    scheme: QuantScheme,
    tp: int,
    ex: _Explain | None,
) -> _Memory:
    weights_per_gpu = weight_bytes(model, scheme.name, tensor_parallel_size=tp)
    activation = activation_peak_bytes(
        model,
        max_num_batched_tokens=engine.max_num_batched_tokens,
        max_num_seqs=engine.max_num_seqs,
        tensor_parallel_size=tp,
    )
    non_torch = non_torch_bytes(tp)
    graphs = cuda_graph_bytes(enforce_eager=engine.enforce_eager)
    buffers = rotary_cache_bytes(model)
    available = available_kv_bytes(
        total_memory_bytes=gpu.memory_bytes,
        gpu_memory_utilization=engine.gpu_memory_utilization,
        weights_bytes=weights_per_gpu,
        activation_bytes=activation,
        non_torch=non_torch,
        cuda_graphs=graphs,
        buffers_bytes=buffers,
        kv_cache_memory_bytes=engine.kv_cache_memory_bytes,
    )
    block_size = effective_block_size(model, engine.block_size)
    groups = kv_groups(model, engine.kv_cache_dtype, tensor_parallel_size=tp, block_size=block_size)
    capacity = kv_capacity(max(available, 0), groups, block_size)
    if ex is not None:
        ex.add(
            "weights_bytes_per_gpu",
            weights_per_gpu,
            "bytes",
            "sum over weight tensors of bytes under the quantization (sharded tensors / tp)",
            quantization=scheme.name,
            tensor_parallel_size=tp,
        )
        ex.add(
            "activation_peak_bytes",
            activation,
            "bytes",
            "max(max_num_batched_tokens x (3 x hidden + widest MLP/MoE/attention intermediate) x 2 B, "
            "min(max_num_seqs, max_num_batched_tokens) x vocab x 10 B)",
            max_num_batched_tokens=engine.max_num_batched_tokens,
            max_num_seqs=engine.max_num_seqs,
            hidden_size=model.hidden_size,
            vocab_size=model.vocab_size,
        )
        ex.add(
            "non_torch_bytes",
            non_torch,
            "bytes",
            "0.25 GiB (+0.5 GiB NCCL buffers when tp > 1)",
            tensor_parallel_size=tp,
        )
        ex.add(
            "cuda_graph_bytes",
            graphs,
            "bytes",
            "0.5 GiB unless --enforce-eager",
            enforce_eager=str(engine.enforce_eager),
        )
        if engine.kv_cache_memory_bytes is not None:
            ex.add(
                "kv_cache_bytes",
                available,
                "bytes",
                "--kv-cache-memory-bytes (overrides utilization)",
                kv_cache_memory_bytes=engine.kv_cache_memory_bytes,
            )
        else:
            ex.add(
                "kv_cache_bytes",
                available,
                "bytes",
                "total_memory x gpu_memory_utilization - (weights + rotary cache + activation_peak + non_torch "
                "+ cuda_graphs)",
                total_memory_bytes=gpu.memory_bytes,
                gpu_memory_utilization=engine.gpu_memory_utilization,
                weights_bytes_per_gpu=weights_per_gpu,
                rotary_cache_bytes=buffers,
                activation_peak_bytes=activation,
                non_torch_bytes=non_torch,
                cuda_graph_bytes=graphs,
            )
        ex.add(
            "kv_capacity_blocks",
            capacity.num_blocks,
            "blocks",
            "kv_cache_bytes // (block_size x kv bytes per token per layer x layers per KV group)",
            kv_cache_bytes=max(available, 0),
            block_size=block_size,
            layers_per_group=groups.group_size,
            page_bytes=groups.page_bytes,
        )
        ex.add(
            "kv_capacity_tokens",
            capacity.tokens,
            "tokens",
            "num_blocks // num_kv_groups x block_size (vLLM's 'GPU KV cache size')",
            num_blocks=capacity.num_blocks,
            num_kv_groups=groups.num_groups,
            block_size=block_size,
        )
    return _Memory(weights_per_gpu, buffers, activation, non_torch, graphs, available, capacity, block_size)


def _one_request_fits(mem: _Memory, max_model_len: int, max_num_batched_tokens: int) -> bool:
    needed = blocks_per_request(mem.capacity.groups, max_model_len, mem.block_size, max_num_batched_tokens)
    return mem.available_kv >= needed * mem.capacity.groups.block_bytes


def _largest_fitting_len(mem: _Memory, max_model_len: int, max_num_batched_tokens: int) -> int:
    """vLLM's estimate_max_model_len: the longest context one request can hold (binary search)."""
    lo, hi, best = 1, max_model_len, 0
    while lo <= hi:
        mid = (lo + hi) // 2
        if _one_request_fits(mem, mid, max_num_batched_tokens):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def min_tp(model: ModelSpec, gpu: GpuSpec, engine: ResolvedEngineConfig, scheme: QuantScheme) -> int | None:
    """Smallest valid TP size whose per-GPU weights, overheads and one max_model_len request fit the budget."""
    for tp in valid_tp_sizes(model):
        mem = _memory(model, gpu, engine.model_copy(update={"tensor_parallel_size": tp}), scheme, tp, None)
        if _one_request_fits(mem, engine.max_model_len, engine.max_num_batched_tokens):
            return tp
    return None


def _slo_threshold(slo: SLO | None, metrics: tuple[str, ...]) -> tuple[str, float] | None:
    if slo is None:
        return None
    found = [(t.stat, t.threshold) for t in slo.targets if t.metric in metrics]
    return min(found, key=lambda st: st[1]) if found else None


def _batch_sizes(limit: int) -> list[int]:
    sizes, b = [], 1
    while b < limit:
        sizes.append(b)
        b *= 2
    sizes.append(max(1, limit))
    return sorted(set(sizes))


def plan_capacity(
    model: ModelSpec,
    gpu: GpuSpec,
    engine_config: EngineConfig,
    *,
    quantization: str | None = None,
    workload: Workload | None = None,
    slo: SLO | None = None,
) -> CapacityPlan:
    """Napkin math for one model x GPU x engine configuration (see docs/plan.md for every formula)."""
    _check_inputs(model, engine_config)
    scheme = resolve_quantization(model, quantization or engine_config.quantization)
    return _plan(model, gpu, engine_config, scheme, lengths_of(workload), slo)


def _plan(
    model: ModelSpec,
    gpu: GpuSpec,
    engine_config: EngineConfig,
    scheme: QuantScheme,
    lengths: Lengths,
    slo: SLO | None,
) -> CapacityPlan:
    engine = resolve_engine_config(model, gpu, engine_config)
    tp = engine.tensor_parallel_size
    max_len, mnbt = engine.max_model_len, engine.max_num_batched_tokens
    ex = _Explain()
    notes: list[str] = []
    reasons: list[str] = []

    n_total = total_params(model)
    n_active = active_params_per_token(model)
    ex.add(
        "total_params",
        n_total,
        "params",
        "embeddings + layers x (attention + MLP or experts + norms) + lm_head unless tied + vision tower",
        num_layers=model.num_layers,
        hidden_size=model.hidden_size,
        vocab_size=model.vocab_size,
        tie_word_embeddings=str(model.tie_word_embeddings),
    )
    if model.total_params:
        notes.append(
            f"computed {n_total / 1e9:.3f} B parameters; the model card says {model.total_params / 1e9:.3f} B"
        )
    ex.add(
        "active_params",
        n_active,
        "params",
        "total minus unrouted experts (num_experts_per_tok of num_experts per MoE layer)",
        experts_per_token=model.moe.num_experts_per_tok if model.moe else 0,
        num_experts=model.moe.num_experts if model.moe else 0,
    )
    weights_total = weight_bytes(model, scheme.name)
    ex.add(
        "weights_bytes",
        weights_total,
        "bytes",
        "quantized linear weights x bits/8 + scales/zeros + unquantized (embeddings, lm_head, norms) x 2 B",
        quantization=scheme.name,
        weight_bits=scheme.weight_bits,
        group_size=scheme.group_size or 0,
    )
    kv_dtype = engine.kv_cache_dtype
    kv_token = kv_bytes_per_token(model, kv_dtype)
    kv_token_gpu = kv_bytes_per_token(model, kv_dtype, tensor_parallel_size=tp)
    if model.mla is not None:
        ex.add(
            "kv_bytes_per_token",
            kv_token,
            "bytes",
            "(kv_lora_rank + qk_rope_head_dim) x layers x dtype bytes",
            kv_lora_rank=model.mla.kv_lora_rank,
            qk_rope_head_dim=model.mla.qk_rope_head_dim,
            layers=model.num_layers,
            dtype_bytes=kv_dtype_bytes(kv_dtype),
        )
    else:
        ex.add(
            "kv_bytes_per_token",
            kv_token,
            "bytes",
            "2 x num_kv_heads x head_dim x attention layers x dtype bytes",
            num_kv_heads=model.num_kv_heads,
            head_dim=model.head_dim,
            layers=model.num_layers,
            dtype_bytes=kv_dtype_bytes(kv_dtype),
            kv_cache_dtype=kv_dtype,
        )
    ex.add(
        "kv_bytes_per_token_per_gpu",
        kv_token_gpu,
        "bytes",
        "kv_bytes_per_token with max(1, num_kv_heads // tp) heads per GPU (MLA latent: not split)",
        tensor_parallel_size=tp,
    )
    if model.sliding_window is not None:
        notes.append(
            f"{model.layer_types.count('sliding') if model.layer_types else model.num_layers} sliding-window "
            f"layers keep at most {model.sliding_window} tokens (+ one chunk); vLLM's hybrid allocator frees "
            "their blocks outside the window"
        )

    mem = _memory(model, gpu, engine, scheme, tp, ex)
    budget = gpu.memory_bytes * engine.gpu_memory_utilization
    fits = True
    non_kv = mem.weights_per_gpu + mem.buffers + mem.activation + mem.non_torch + mem.cuda_graphs
    if engine.kv_cache_memory_bytes is None and non_kv >= budget:
        fits = False
        reasons.append(
            f"weights {mem.weights_per_gpu / GiB:.2f} GiB + activations {mem.activation / GiB:.2f} GiB + overheads "
            f"{(mem.non_torch + mem.cuda_graphs) / GiB:.2f} GiB per GPU exceed the budget "
            f"{budget / GiB:.2f} GiB ({gpu.memory_bytes / GiB:.2f} GiB x {engine.gpu_memory_utilization})"
        )
    elif not _one_request_fits(mem, max_len, mnbt):
        fits = False
        longest = _largest_fitting_len(mem, max_len, mnbt)
        reasons.append(
            f"the KV cache ({max(mem.available_kv, 0) / GiB:.2f} GiB per GPU) cannot hold one request of "
            f"max_model_len={max_len}; the longest that fits is {longest} tokens (lower --max-model-len, raise "
            "--gpu-memory-utilization, quantize, or raise --tensor-parallel-size)"
        )

    best_tp = min_tp(model, gpu, engine, scheme)
    ex.add(
        "min_tp",
        best_tp or 0,
        "GPUs",
        "smallest TP dividing the attention (and KV) heads whose weights + overheads + one max_model_len "
        "request fit total x utilization",
        max_model_len=max_len,
        valid_sizes=str(valid_tp_sizes(model)),
    )
    if best_tp is None:
        reasons.append(f"no tensor-parallel size up to {TP_SIZES[-1]} fits one max_model_len request")
    elif best_tp > gpu.gpus_per_node:
        notes.append(
            f"min_tp {best_tp} exceeds the {gpu.gpus_per_node} GPUs of one node: needs multi-node TP or PP"
        )
    if tp > gpu.gpus_per_node:
        reasons.append(
            f"tensor_parallel_size {tp} exceeds the {gpu.gpus_per_node} GPUs of one {gpu.name} node"
        )
        fits = False

    if not lengths.from_workload:
        notes.append(
            f"no workload: latencies assume a {DEFAULT_PROMPT_TOKENS}-token prompt and "
            f"{DEFAULT_OUTPUT_TOKENS}-token answer"
        )
    request_len = min(max_len, max(1, math.ceil(lengths.mean_prompt + lengths.mean_output)))
    conc_max = max_concurrency(mem.capacity, max_len, mnbt) if fits else 0.0
    conc_workload = max_concurrency(mem.capacity, request_len, mnbt) if fits else 0.0
    ex.add(
        "max_concurrency",
        conc_max,
        "requests",
        "num_blocks / blocks per request of max_model_len tokens",
        num_blocks=mem.capacity.num_blocks,
        max_model_len=max_len,
        block_size=mem.block_size,
    )
    ex.add(
        "max_concurrency_at_workload",
        conc_workload,
        "requests",
        "num_blocks / blocks per request of mean prompt + mean output tokens",
        num_blocks=mem.capacity.num_blocks,
        request_tokens=request_len,
    )

    hw = Hardware.of(gpu, scheme.compute_dtype, tp)
    streamed = WeightBytes.of(model, weight_bytes_by_role(model, scheme, tensor_parallel_size=tp))
    if scheme.compute_dtype not in gpu.flops_per_s:
        notes.append(
            f"{gpu.name} has no {scheme.compute_dtype} tensor cores: {scheme.name} weights are dequantized in the "
            "kernel and the matmuls run at the bf16 rate"
        )
    compute_dtype = scheme.compute_dtype if scheme.compute_dtype in gpu.flops_per_s else "bf16"
    prompt_p50 = min(lengths.prompt_p50, max_len)
    prompt_p99 = min(lengths.prompt_p99, max_len)
    t50 = prefill_time(model, prompt_p50, streamed, hw, chunk_tokens=mnbt)
    t99 = prefill_time(model, prompt_p99, streamed, hw, chunk_tokens=mnbt)
    prefill_formula = (
        "sum over chunks of max((2 x matmul params x chunk + causal attention FLOPs) / tp / "
        "(peak x mfu_prefill), streamed weights / (HBM x efficiency)) + all-reduces"
    )
    ex.add(
        "ttft_p50_s",
        t50.total_s,
        "s",
        prefill_formula,
        prompt_tokens=prompt_p50,
        peak_flops_per_s=hw.flops_per_s,
        mfu_prefill=hw.mfu_prefill,
        chunk_tokens=mnbt,
    )
    ex.add(
        "ttft_p99_s",
        t99.total_s,
        "s",
        prefill_formula,
        prompt_tokens=prompt_p99,
        peak_flops_per_s=hw.flops_per_s,
        mfu_prefill=hw.mfu_prefill,
        chunk_tokens=mnbt,
    )

    context = min(max_len, max(1, round(lengths.mean_prompt + lengths.mean_output / 2)))
    batch_limit = max(1, min(engine.max_num_seqs, math.floor(conc_workload) if fits else 1))
    itl = {
        b: decode_time(model, b, context, streamed, kv_dtype, hw).total_s for b in _batch_sizes(batch_limit)
    }
    for b, s in itl.items():
        ex.add(
            f"itl_batch_{b}_s",
            s,
            "s",
            "max(batch x (2 x matmul params + attention FLOPs) / tp / (peak x mfu_decode), (weights streamed + "
            "batch x context x kv bytes per token) / (HBM x efficiency)) + all-reduces",
            batch_size=b,
            context_tokens=context,
            weights_streamed_bytes=round(decode_weight_bytes(model, streamed, b)),
            kv_bytes_per_token_per_gpu=kv_token_gpu,
            matmul_params=matmul_params_per_token(model),
            peak_flops_per_s=hw.flops_per_s,
            mfu_decode=hw.mfu_decode,
            hbm_bytes_per_s=hw.hbm_bytes_per_s,
            mem_bw_efficiency=hw.mem_bw_efficiency,
        )
    crossover = crossover_batch_size(model, streamed, hw)
    ex.add(
        "crossover_batch_size",
        crossover or 0,
        "sequences",
        "smallest decode batch B with 2 x matmul params x B / tp / (peak x mfu_decode) >= weight bytes read / "
        "(HBM x efficiency); attention over the KV cache stays memory-bound",
        peak_flops_per_s=hw.flops_per_s,
        mfu_decode=hw.mfu_decode,
        hbm_bytes_per_s=hw.hbm_bytes_per_s,
        mem_bw_efficiency=hw.mem_bw_efficiency,
    )

    itl_limit = _slo_threshold(slo, ("itl", "tpot"))
    best_tps, best_batch = 0.0, 0
    for b in _batch_sizes(batch_limit):
        tps, step = steady_output_tokens_per_s(
            model, b, lengths.mean_prompt, lengths.mean_output, streamed, kv_dtype, hw
        )
        if itl_limit is not None and step.total_s > itl_limit[1]:
            continue
        if tps > best_tps:
            best_tps, best_batch = tps, b
    throughput = best_tps if fits and best_batch else None
    if throughput is not None:
        ex.add(
            "max_output_tokens_per_s",
            throughput,
            "tok/s",
            "max over batch B of B / step time, each step also prefilling B x prompt / output tokens",
            batch_size=best_batch,
            mean_prompt_tokens=lengths.mean_prompt,
            mean_output_tokens=lengths.mean_output,
            itl_limit_s=itl_limit[1] if itl_limit else 0,
        )

    price = default_price(gpu)
    cost = None
    if throughput is not None and price is not None:
        cost = usd_per_mtok(price.usd_per_gpu_hour, tp, throughput)
        ex.add(
            "usd_per_mtok",
            cost,
            "USD/Mtok",
            "usd_per_gpu_hour x tp / (output tok/s x 3600) x 1e6",
            usd_per_gpu_hour=price.usd_per_gpu_hour,
            tensor_parallel_size=tp,
            price=f"{price.provider} {price.kind} {price.date} ({price.source})",
        )
    elif price is None:
        notes.append(f"no dated price for {gpu.name} in the catalog: no $/Mtok")

    meets = _meets_slo(
        slo, t50.total_s, t99.total_s, itl.get(1), lengths.mean_output, best_batch, fits, reasons
    )
    return CapacityPlan(
        model=model.name,
        gpu=gpu.name,
        tensor_parallel_size=tp,
        quantization=scheme.name,
        kv_cache_dtype=kv_dtype,
        fits=fits,
        reasons=tuple(reasons),
        total_params=n_total,
        active_params=n_active,
        weights_bytes=weights_total,
        kv_bytes_per_token=kv_token,
        kv_capacity_tokens=mem.capacity.tokens,
        kv_capacity_blocks=mem.capacity.num_blocks,
        block_size=mem.block_size,
        max_model_len=max_len,
        max_num_batched_tokens=mnbt,
        max_concurrency=conc_max,
        max_concurrency_at_workload=conc_workload,
        min_tp=best_tp or 0,
        ttft_p50_s=t50.total_s,
        ttft_p99_s=t99.total_s,
        itl_by_batch_s=itl,
        crossover_batch_size=crossover,
        max_output_tokens_per_s=throughput,
        usd_per_mtok=cost,
        derivations=tuple(ex.items),
        weights_bytes_per_gpu=mem.weights_per_gpu,
        kv_bytes_per_token_per_gpu=kv_token_gpu,
        gpu_memory_bytes=gpu.memory_bytes,
        gpu_memory_utilization=engine.gpu_memory_utilization,
        activation_peak_bytes=mem.activation,
        non_torch_bytes=mem.non_torch,
        cuda_graph_bytes=mem.cuda_graphs,
        kv_cache_bytes=mem.available_kv,
        max_num_seqs=engine.max_num_seqs,
        prompt_tokens_p50=prompt_p50,
        prompt_tokens_p99=prompt_p99,
        mean_prompt_tokens=lengths.mean_prompt,
        mean_output_tokens=lengths.mean_output,
        decode_context_tokens=context,
        throughput_batch_size=best_batch or None,
        compute_dtype=compute_dtype,
        usd_per_gpu_hour=price.usd_per_gpu_hour if price else None,
        price_source=f"{price.provider}, {price.kind}, {price.date}: {price.source}" if price else None,
        meets_slo=meets,
        notes=tuple(notes),
    )


def _meets_slo(
    slo: SLO | None,
    ttft_p50_s: float,
    ttft_p99_s: float,
    itl_1_s: float | None,
    mean_output: float,
    best_batch: int,
    fits: bool,
    reasons: list[str],
) -> bool | None:
    """Roofline latencies are lower bounds: a target below them cannot be met by any scheduler setting."""
    if slo is None:
        return None
    ok = fits
    for target in slo.targets:
        if target.metric == "ttft":
            bound = ttft_p50_s if target.stat in ("p50", "mean") else ttft_p99_s
        elif target.metric in ("itl", "tpot"):
            bound = itl_1_s or 0.0
        elif target.metric == "e2e":
            bound = ttft_p50_s + max(mean_output - 1, 0) * (itl_1_s or 0.0)
        else:
            continue
        if bound > target.threshold:
            ok = False
            reasons.append(
                f"SLO {target.metric}:{target.stat}<{target.threshold:g}s cannot be met: the roofline lower bound "
                f"is {bound:.4g} s"
            )
    if ok and not best_batch:
        ok = False
    return ok


def default_quantizations(model: ModelSpec) -> list[str]:
    """Options `--gpu all` tries when none is given: the checkpoint's own, bf16, fp8 and AWQ int4."""
    native = resolve_quantization(model, None)
    names = [native.name, "bf16"]
    if native.compute_dtype != "fp8":
        names.append("fp8")
    names.append("awq")
    return list(dict.fromkeys(names))


def rank_options(
    model: ModelSpec,
    engine_config: EngineConfig,
    *,
    gpus: list[GpuSpec],
    quantizations: list[str] | None = None,
    tensor_parallel_sizes: list[int] | None = None,
    workload: Workload | None = None,
    slo: SLO | None = None,
) -> list[CapacityPlan]:
    """Every GPU x TP x quantization option that fits, cheapest $/Mtok first.

    Options that miss the SLO's roofline bound come after those that meet it; options without a price last.
    TP sizes default to those valid for the model up to one node of each GPU.
    """
    lengths = lengths_of(workload)
    schemes = [resolve_quantization(model, q) for q in (quantizations or default_quantizations(model))]
    plans: list[CapacityPlan] = []
    for gpu in gpus:
        sizes = tensor_parallel_sizes or valid_tp_sizes(model, limit=gpu.gpus_per_node)
        for tp in sizes:
            engine = engine_config.model_copy(update={"tensor_parallel_size": tp})
            _check_inputs(model, engine)
            for scheme in schemes:
                plan = _plan(model, gpu, engine, scheme, lengths, slo)
                if plan.fits:
                    plans.append(plan)

    def key(plan: CapacityPlan) -> tuple[bool, float, float]:
        cost = plan.usd_per_mtok if plan.usd_per_mtok is not None else math.inf
        return (plan.meets_slo is False, cost, -(plan.max_output_tokens_per_s or 0.0))

    return sorted(plans, key=key)
