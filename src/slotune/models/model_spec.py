"""The architecture facts of a model that serving cost depends on (from a HF config.json or the catalog)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slotune.models.base import Frozen

AttentionKind = Literal["full", "sliding", "linear"]


class MoESpec(Frozen):
    num_experts: int = Field(gt=0)
    num_experts_per_tok: int = Field(gt=0)
    moe_intermediate_size: int = Field(gt=0)
    num_shared_experts: int = 0
    # Layers before this index are dense MLPs (DeepSeek's first_k_dense_replace).
    first_k_dense_layers: int = 0
    # Every n-th layer is MoE (Qwen/Mixtral: 1).
    moe_layer_freq: int = 1
    # Intermediate size of each shared expert when it differs from moe_intermediate_size (Qwen2-MoE).
    shared_expert_intermediate_size: int | None = None
    # Experts and router carry biases (gpt-oss).
    has_expert_bias: bool = False
    has_router_bias: bool = False


class MLASpec(Frozen):
    """Multi-head latent attention (DeepSeek-V2/V3): the KV cache holds one latent plus a RoPE key."""

    kv_lora_rank: int = Field(gt=0)
    qk_rope_head_dim: int = Field(gt=0)
    qk_nope_head_dim: int = Field(gt=0)
    v_head_dim: int = Field(gt=0)
    q_lora_rank: int | None = None


class ModelSpec(Frozen):
    name: str
    architecture: str = "LlamaForCausalLM"
    num_layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    num_attention_heads: int = Field(gt=0)
    num_kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    max_position_embeddings: int = Field(gt=0)
    tie_word_embeddings: bool = False
    # Weight dtype of the checkpoint as published ("bfloat16", "float16", ...).
    torch_dtype: str = "bfloat16"
    # Quantization baked into the checkpoint (e.g. "mxfp4" for gpt-oss), None for plain weights.
    checkpoint_quantization: str | None = None
    moe: MoESpec | None = None
    mla: MLASpec | None = None
    # Sliding-window attention: window size in tokens and, per layer, which kind of attention it is.
    sliding_window: int | None = None
    layer_types: tuple[AttentionKind, ...] | None = None
    # Published parameter counts where known; the planner computes them otherwise and cross-checks.
    total_params: int | None = None
    active_params: int | None = None
    source: str = ""
    # Architecture details that change the parameter count (filled from config.json by slotune.catalog).
    # q/k/v projections carry biases (Qwen2/2.5, gpt-oss); the output projection too (gpt-oss).
    attention_bias: bool = False
    attention_output_bias: bool = False
    # Per-head RMSNorm on queries and keys (Qwen3, Gemma 3).
    qk_norm: bool = False
    # One learned attention-sink logit per head (gpt-oss).
    attention_sinks: bool = False
    # RMSNorms per decoder layer (2 for Llama; 4 for Gemma 2/3: pre/post attention and MLP).
    norms_per_layer: int = Field(default=2, ge=0)
    # Parameters outside the text decoder (e.g. Gemma 3's vision tower), loaded unquantized in bf16.
    extra_params: int = Field(default=0, ge=0)
    # Catalog aliases (e.g. Hugging Face ids).
    aliases: tuple[str, ...] = ()

    @property
    def is_moe(self) -> bool:
        return self.moe is not None

    @property
    def is_mla(self) -> bool:
        return self.mla is not None
