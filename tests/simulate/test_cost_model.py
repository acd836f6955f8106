from __future__ import annotations

import numpy as np
import pytest
from sim_helpers import llama8b_facts

from slotune.models import GpuSpec
from slotune.simulate import CostModel, ModelCostFacts, default_capture_sizes, load_profile


def make_cost(gpu: GpuSpec, facts: ModelCostFacts, **kw: object) -> CostModel:
    args: dict[str, object] = {
        "enforce_eager": False,
        "capture_sizes": default_capture_sizes(256, 8192),
        "async_scheduling": False,
    }
    args.update(kw)
    return CostModel(facts, gpu, load_profile("default"), **args)  # type: ignore[arg-type]


def decode_step(cost: CostModel, num_seqs: int, context: int) -> float:
    kv = context + num_seqs
    return cost.step_s(
        num_seqs=num_seqs,
        prefill_tokens=0,
        decode_tokens=num_seqs,
        prefill_pairs=0,
        decode_pairs=kv,
        kv_tokens=kv,
        num_logits=num_seqs,
    )


def test_decode_run_matches_step_by_step_bit_for_bit(gpu: GpuSpec, facts: ModelCostFacts) -> None:
    for async_scheduling in (False, True):
        cost = make_cost(gpu, facts, async_scheduling=async_scheduling)
        n, context = 37, 41_000
        kv = np.arange(500, dtype=np.int64) * n + (context + n)
        run = cost.decode_run_s(n, kv)
        one_by_one = [decode_step(cost, n, context + n * s) for s in range(500)]
        assert run.tolist() == one_by_one  # exact equality, not approx


def test_decode_is_memory_bound_and_prefill_compute_bound(gpu: GpuSpec, facts: ModelCostFacts) -> None:
    cost = make_cost(gpu, facts)
    memory_s, compute_s, _ = cost._terms(0, 1, 1, 0, 1001, 1001, 1)
    assert memory_s > 10 * compute_s
    # memory term: weights + KV over effective bandwidth
    assert memory_s == pytest.approx((15.0e9 + 131072 * 1001) / (3.35e12 * 0.8))
    n = 4096
    memory_s, compute_s, _ = cost._terms(n, 0, n, 0, 0, n, 1)
    assert compute_s > memory_s
    assert compute_s == pytest.approx(2 * 6.98e9 * n / (989e12 * 0.45) + 2 * 525e6 / (989e12 * 0.30))


def test_graph_padding_and_launch_overheads(gpu: GpuSpec, facts: ModelCostFacts) -> None:
    profile = load_profile("default").coefficients
    cost = make_cost(gpu, facts)
    assert cost.graph(3, True) == (4, profile.graph_launch_s)
    assert cost.graph(9, True) == (16, profile.graph_launch_s)
    assert cost.graph(9, False) == (16, profile.piecewise_launch_per_layer_s * 32)
    assert cost.graph(600, False) == (600, profile.eager_launch_per_layer_s * 32)  # above the largest graph
    eager = make_cost(gpu, facts, enforce_eager=True)
    assert eager.graph(3, True) == (3, profile.eager_launch_per_layer_s * 32)
    # A decode step differs by exactly the launch overhead (padding 1 -> 1 changes nothing else).
    delta = decode_step(eager, 1, 1000) - decode_step(cost, 1, 1000)
    assert delta == pytest.approx(32 * profile.eager_launch_per_layer_s - profile.graph_launch_s)


def test_async_scheduling_overlaps_cpu_time(gpu: GpuSpec, facts: ModelCostFacts) -> None:
    c = load_profile("default").coefficients
    sync = make_cost(gpu, facts, async_scheduling=False)
    overlapped = make_cost(gpu, facts, async_scheduling=True)
    cpu = c.step_cpu_s + c.cpu_per_seq_s * 8
    assert decode_step(sync, 8, 8000) == pytest.approx(decode_step(overlapped, 8, 8000) + cpu)


def test_tensor_parallel_all_reduce_cost(gpu: GpuSpec) -> None:
    c = load_profile("default").coefficients
    tp1 = make_cost(gpu, llama8b_facts(1))
    tp2 = make_cost(gpu, llama8b_facts(2))
    assert tp1.step_cost.comm_s_per_token == 0 and tp1.step_cost.comm_fixed_s == 0
    # 2 all-reduces per layer, ring: 2 (tp-1)/tp of hidden x 2 bytes per token over the link.
    per_token = 64 * 2 * (1 / 2) * 4096 * 2 / (450e9 * c.interconnect_efficiency)
    assert tp2.step_cost.comm_s_per_token == pytest.approx(per_token)
    assert tp2.step_cost.comm_fixed_s == pytest.approx(64 * c.allreduce_latency_s)
    # Halving weights and KV per GPU makes a decode step faster despite the collectives.
    assert decode_step(tp2, 8, 8000) < decode_step(tp1, 8, 8000)


def test_moe_reads_only_routed_experts(gpu: GpuSpec) -> None:
    facts = ModelCostFacts(
        num_layers=48,
        hidden_size=2048,
        tensor_parallel_size=1,
        dense_weight_bytes=2e9,
        expert_weight_bytes=58e9,
        num_experts=128,
        experts_per_token=8,
        kv_bytes_per_token=98304.0,
        linear_flops_per_token=2 * 3e9,
        lm_head_flops_per_logit=2 * 311e6,
        attn_flops_per_pair=48 * 4 * 32 * 128.0,
        prefill_attn_flops_per_pair=48 * 4 * 32 * 128.0,
    )
    cost = make_cost(gpu, facts)
    assert cost.step_cost.expert_fraction(1) == pytest.approx(8 / 128)
    assert cost.step_cost.expert_fraction(64) == pytest.approx(1 - (1 - 8 / 128) ** 64)
    assert decode_step(cost, 1, 100) < decode_step(cost, 64, 6400)


def test_speculative_steps_pay_draft_cost(gpu: GpuSpec, facts: ModelCostFacts) -> None:
    plain = make_cost(gpu, facts)
    spec = make_cost(gpu, facts, num_spec_tokens=3, draft_cost_ratio=0.1)
    args = {
        "num_seqs": 4,
        "prefill_tokens": 0,
        "decode_tokens": 16,
        "prefill_pairs": 0,
        "decode_pairs": 4 * (4 * 1000 + 10),
        "kv_tokens": 4 * 1004,
        "num_logits": 16,
    }
    base = plain.step_s(**args)
    c = load_profile("default").coefficients
    cpu = c.step_cpu_s + c.cpu_per_seq_s * 4
    assert spec.step_s(**args, num_spec_seqs=4) == pytest.approx(cpu + (base - cpu) * (1 + 3 * 0.1))


def _with(**coefficients: float) -> object:
    base = load_profile("default")
    return base.model_copy(update={"coefficients": base.coefficients.model_copy(update=coefficients)})


def test_compiled_steps_without_a_graph_and_the_launch_overlap(gpu: GpuSpec, facts: ModelCostFacts) -> None:
    profile = _with(compiled_launch_per_layer_s=1e-5, eager_launch_per_layer_s=4e-5, launch_overlap=1.0)
    args = {"capture_sizes": default_capture_sizes(256, 8192), "async_scheduling": False}
    graphs = CostModel(facts, gpu, profile, enforce_eager=False, **args)  # type: ignore[arg-type]
    eager = CostModel(facts, gpu, profile, enforce_eager=True, **args)  # type: ignore[arg-type]
    no_graphs = CostModel(facts, gpu, profile, enforce_eager=False, capture_sizes=(), async_scheduling=False)  # type: ignore[arg-type]
    assert graphs.graph(600, False) == (600, 32 * 1e-5)  # above the largest capture size: compiled
    assert no_graphs.graph(3, True) == (3, 32 * 1e-5)  # a device without graphs: compiled, unpadded
    assert eager.graph(3, True) == (3, 32 * 4e-5)
    # Overlap 1: an eager step takes max(work, launch); a step with a graph still adds its replay.
    cpu_s = profile.coefficients.step_cpu_s + profile.coefficients.cpu_per_seq_s  # type: ignore[attr-defined]
    memory_s, compute_s, _ = eager._terms(0, 1, 1, 0, 1001, 1001, 1)
    assert decode_step(eager, 1, 1000) == pytest.approx(max(memory_s, compute_s, 32 * 4e-5) + cpu_s)
    assert decode_step(graphs, 1, 1000) == pytest.approx(
        max(memory_s, compute_s) + graphs.full_graph_s + cpu_s
    )


def test_decode_run_with_overlap_matches_step_by_step(gpu: GpuSpec, facts: ModelCostFacts) -> None:
    profile = _with(eager_launch_per_layer_s=4e-4, launch_overlap=0.5)
    cost = CostModel(facts, gpu, profile, enforce_eager=True, capture_sizes=(), async_scheduling=True)  # type: ignore[arg-type]
    n, context = 5, 300
    kv = np.arange(200, dtype=np.int64) * n + (context + n)
    assert cost.decode_run_s(n, kv).tolist() == [decode_step(cost, n, context + n * s) for s in range(200)]


def test_the_default_profile_keeps_compiled_steps_at_the_eager_cost(
    gpu: GpuSpec, facts: ModelCostFacts
) -> None:
    cost = make_cost(gpu, facts)
    assert cost.compiled_s == cost.eager_s and cost.overlap == 0.0


def _prefill_step(cost: CostModel, tokens: int) -> float:
    return cost.step_s(
        num_seqs=1,
        prefill_tokens=tokens,
        decode_tokens=0,
        prefill_pairs=tokens * (tokens + 1) // 2,
        decode_pairs=0,
        kv_tokens=tokens,
        num_logits=1,
    )


def test_eager_steps_pay_host_launch_time_per_sequence_not_per_token(
    gpu: GpuSpec, facts: ModelCostFacts
) -> None:
    # --enforce-eager: the host issues every kernel, and its per-sequence work joins the launches on the
    # step's critical path. Added launch time: per scheduled sequence, in eager steps only.
    per_seq = 2e-5
    with_term, without = _with(eager_launch_per_seq_s=per_seq), _with()
    args: dict[str, object] = {"capture_sizes": default_capture_sizes(256, 8192), "async_scheduling": False}
    eager = CostModel(facts, gpu, with_term, enforce_eager=True, **args)  # type: ignore[arg-type]
    eager_before = CostModel(facts, gpu, without, enforce_eager=True, **args)  # type: ignore[arg-type]
    for batch in (1, 16, 64, 256):
        added = decode_step(eager, batch, 1000) - decode_step(eager_before, batch, 1000)
        assert added == pytest.approx(per_seq * batch)
        assert eager.launch_s(batch, True, batch) == pytest.approx(32 * 3.5e-5 + per_seq * batch)
    # A prompt's tokens add none of it: one sequence, whatever its length.
    for tokens in (16, 2048):
        assert _prefill_step(eager, tokens) - _prefill_step(eager_before, tokens) == pytest.approx(per_seq)
    # Steps with graphs, and compiled steps above the largest capture size, do not pay it.
    graphs = CostModel(facts, gpu, with_term, enforce_eager=False, **args)  # type: ignore[arg-type]
    graphs_before = CostModel(facts, gpu, without, enforce_eager=False, **args)  # type: ignore[arg-type]
    assert decode_step(graphs, 64, 1000) == decode_step(graphs_before, 64, 1000)
    assert _prefill_step(graphs, 2048) == _prefill_step(graphs_before, 2048)


def test_an_eager_step_with_full_overlap_is_the_longer_of_the_work_and_the_host(
    gpu: GpuSpec, facts: ModelCostFacts
) -> None:
    # Overlap 1: the device runs each kernel as the host issues it, so a step takes the host's launch time at
    # small batches (the work hidden behind it) and the work at large ones (the launches hidden behind it).
    per_layer, per_seq = 4e-4, 2e-5
    profile = _with(eager_launch_per_layer_s=per_layer, eager_launch_per_seq_s=per_seq, launch_overlap=1.0)
    eager = CostModel(facts, gpu, profile, enforce_eager=True, capture_sizes=(), async_scheduling=True)  # type: ignore[arg-type]
    for batch, context in ((1, 32), (64, 32), (256, 32), (64, 8000)):
        kv = batch * (context + 1)
        memory_s, compute_s, _ = eager._terms(0, batch, batch, 0, kv, kv, batch)
        host_s = 32 * per_layer + per_seq * batch
        assert decode_step(eager, batch, context * batch) == pytest.approx(max(memory_s, compute_s, host_s))
    # The host time rises with the batch until the work overtakes it.
    steps = [decode_step(eager, b, 32 * b) for b in (1, 16, 64)]
    assert steps == pytest.approx([32 * per_layer + per_seq * b for b in (1, 16, 64)])


def test_eager_decode_runs_match_step_by_step_bit_for_bit(gpu: GpuSpec, facts: ModelCostFacts) -> None:
    profile = _with(eager_launch_per_seq_s=3e-5, launch_overlap=0.4)
    for async_scheduling in (False, True):
        cost = CostModel(
            facts,
            gpu,
            profile,
            enforce_eager=True,
            capture_sizes=(),
            async_scheduling=async_scheduling,  # type: ignore[arg-type]
        )
        n, context = 37, 41_000
        kv = np.arange(300, dtype=np.int64) * n + (context + n)
        assert cost.decode_run_s(n, kv).tolist() == [
            decode_step(cost, n, context + n * s) for s in range(300)
        ]
