"""Shared fixtures: a Llama-3.1-8B-sized model on an H100-sized GPU, built directly (no catalog)."""

from __future__ import annotations

import pytest
from sim_helpers import llama8b_facts

from slotune.models import GpuSpec, ModelSpec
from slotune.simulate import ModelCostFacts, Simulator


@pytest.fixture
def model() -> ModelSpec:
    return ModelSpec(
        name="test-8b",
        num_layers=32,
        hidden_size=4096,
        intermediate_size=14336,
        num_attention_heads=32,
        num_kv_heads=8,
        head_dim=128,
        vocab_size=128256,
        max_position_embeddings=131072,
    )


@pytest.fixture
def gpu() -> GpuSpec:
    return GpuSpec(
        name="test-h100",
        memory_bytes=80 * 1024**3,
        hbm_bytes_per_s=3.35e12,
        flops_per_s={"bf16": 989e12, "fp8": 1979e12},
        interconnect="NVLink4",
        intra_node_bytes_per_s=450e9,
    )


@pytest.fixture
def facts() -> ModelCostFacts:
    return llama8b_facts()


@pytest.fixture
def make_sim(model: ModelSpec, gpu: GpuSpec, facts: ModelCostFacts):  # type: ignore[no-untyped-def]
    def make(num_gpu_blocks: int = 20_000, **kwargs: object) -> Simulator:
        return Simulator(model, gpu, facts=facts, num_gpu_blocks=num_gpu_blocks, **kwargs)  # type: ignore[arg-type]

    return make
