"""Parameter counts from the architecture: every weight tensor of the model, its shape and role.

The inventory is the single source for total and active parameters, weight bytes per quantization (which roles
stay unquantized), per-GPU weights under tensor parallelism and decode FLOPs. A matrix is (rows = output
features) x (cols = input features), the layout of `nn.Linear.weight`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from slotune.models import ModelSpec
from slotune.plan.derivation import Derived, derived

# What a tensor is, which decides whether a quantization scheme touches it:
#   linear: attention and dense-MLP projections; expert: routed MoE expert matrices; shared_expert: DeepSeek/Qwen
#   shared experts (quantized like linear); embedding / lm_head / norm / bias / router / sink / vision: kept in the
#   checkpoint dtype by vLLM's AWQ/GPTQ/FP8/INT8 paths.
Role = Literal[
    "embedding", "lm_head", "linear", "expert", "shared_expert", "norm", "bias", "router", "sink", "vision"
]
# How tensor parallelism splits it: shard (1/tp each), kv (k/v projections: heads split, replicated when
# tp > num_kv_heads), replicate (every GPU holds it all).
TpSplit = Literal["shard", "kv", "replicate"]
# The llama.cpp tensor category (GGUF mixes quantize some of them with more bits).
GgufKind = Literal[
    "token_embd",
    "output",
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
    "other",
]


@dataclass(frozen=True, slots=True)
class WeightTensor:
    name: str
    role: Role
    rows: int
    cols: int
    # Copies of this shape (experts in one layer); the tensor is counted rows x cols x count.
    count: int = 1
    layer: int | None = None
    tp_split: TpSplit = "shard"
    gguf_kind: GgufKind = "other"
    # Is it used for every token (False for routed experts; the router picks num_experts_per_tok of `count`).
    always_active: bool = True

    @property
    def num_params(self) -> int:
        return self.rows * self.cols * self.count


def _is_moe_layer(model: ModelSpec, layer: int) -> bool:
    moe = model.moe
    if moe is None or layer < moe.first_k_dense_layers:
        return False
    # Qwen's decoder_sparse_step convention: layer i is sparse when (i + 1) % step == 0 (step 1: every layer).
    return (layer + 1) % moe.moe_layer_freq == 0


def _attention_tensors(model: ModelSpec, layer: int) -> list[WeightTensor]:
    h = model.hidden_size
    p = f"layers.{layer}.attn"
    t: list[WeightTensor] = []
    if model.mla is not None:
        mla = model.mla
        heads = model.num_attention_heads
        qk_head = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        if mla.q_lora_rank:
            # q_a_proj and kv_a_proj_with_mqa are ReplicatedLinear in vLLM's DeepseekV2 attention.
            t.append(
                WeightTensor(f"{p}.q_a_proj", "linear", mla.q_lora_rank, h, layer=layer, tp_split="replicate")
            )
            t.append(
                WeightTensor(
                    f"{p}.q_a_layernorm", "norm", mla.q_lora_rank, 1, layer=layer, tp_split="replicate"
                )
            )
            t.append(
                WeightTensor(
                    f"{p}.q_b_proj",
                    "linear",
                    heads * qk_head,
                    mla.q_lora_rank,
                    layer=layer,
                    gguf_kind="attn_q",
                )
            )
        else:
            t.append(
                WeightTensor(f"{p}.q_proj", "linear", heads * qk_head, h, layer=layer, gguf_kind="attn_q")
            )
        t.append(
            WeightTensor(
                f"{p}.kv_a_proj_with_mqa",
                "linear",
                mla.kv_lora_rank + mla.qk_rope_head_dim,
                h,
                layer=layer,
                tp_split="replicate",
            )
        )
        t.append(
            WeightTensor(
                f"{p}.kv_a_layernorm", "norm", mla.kv_lora_rank, 1, layer=layer, tp_split="replicate"
            )
        )
        t.append(
            WeightTensor(
                f"{p}.kv_b_proj",
                "linear",
                heads * (mla.qk_nope_head_dim + mla.v_head_dim),
                mla.kv_lora_rank,
                layer=layer,
                gguf_kind="attn_v",
            )
        )
        t.append(
            WeightTensor(
                f"{p}.o_proj", "linear", h, heads * mla.v_head_dim, layer=layer, gguf_kind="attn_output"
            )
        )
        return t

    q_dim = model.num_attention_heads * model.head_dim
    kv_dim = model.num_kv_heads * model.head_dim
    t.append(WeightTensor(f"{p}.q_proj", "linear", q_dim, h, layer=layer, gguf_kind="attn_q"))
    t.append(WeightTensor(f"{p}.k_proj", "linear", kv_dim, h, layer=layer, tp_split="kv", gguf_kind="attn_k"))
    t.append(WeightTensor(f"{p}.v_proj", "linear", kv_dim, h, layer=layer, tp_split="kv", gguf_kind="attn_v"))
    t.append(WeightTensor(f"{p}.o_proj", "linear", h, q_dim, layer=layer, gguf_kind="attn_output"))
    if model.attention_bias:
        t.append(WeightTensor(f"{p}.q_proj.bias", "bias", q_dim, 1, layer=layer))
        t.append(WeightTensor(f"{p}.k_proj.bias", "bias", kv_dim, 1, layer=layer, tp_split="kv"))
        t.append(WeightTensor(f"{p}.v_proj.bias", "bias", kv_dim, 1, layer=layer, tp_split="kv"))
    if model.attention_output_bias:
        t.append(WeightTensor(f"{p}.o_proj.bias", "bias", h, 1, layer=layer, tp_split="replicate"))
    if model.qk_norm:
        t.append(WeightTensor(f"{p}.q_norm", "norm", model.head_dim, 1, layer=layer, tp_split="replicate"))
        t.append(WeightTensor(f"{p}.k_norm", "norm", model.head_dim, 1, layer=layer, tp_split="replicate"))
    if model.attention_sinks:
        t.append(WeightTensor(f"{p}.sinks", "sink", model.num_attention_heads, 1, layer=layer))
    return t


def _dense_mlp(
    model: ModelSpec, layer: int, intermediate: int, prefix: str, role: Role
) -> list[WeightTensor]:
    h = model.hidden_size
    return [
        WeightTensor(f"{prefix}.gate_proj", role, intermediate, h, layer=layer, gguf_kind="ffn_gate"),
        WeightTensor(f"{prefix}.up_proj", role, intermediate, h, layer=layer, gguf_kind="ffn_up"),
        WeightTensor(f"{prefix}.down_proj", role, h, intermediate, layer=layer, gguf_kind="ffn_down"),
    ]


def _moe_tensors(model: ModelSpec, layer: int) -> list[WeightTensor]:
    assert model.moe is not None
    moe = model.moe
    h = model.hidden_size
    inter = moe.moe_intermediate_size
    e = moe.num_experts
    p = f"layers.{layer}.mlp"
    t = [
        WeightTensor(f"{p}.router", "router", e, h, layer=layer, tp_split="replicate"),
        WeightTensor(
            f"{p}.experts.gate_proj",
            "expert",
            inter,
            h,
            count=e,
            layer=layer,
            gguf_kind="ffn_gate",
            always_active=False,
        ),
        WeightTensor(
            f"{p}.experts.up_proj",
            "expert",
            inter,
            h,
            count=e,
            layer=layer,
            gguf_kind="ffn_up",
            always_active=False,
        ),
        WeightTensor(
            f"{p}.experts.down_proj",
            "expert",
            h,
            inter,
            count=e,
            layer=layer,
            gguf_kind="ffn_down",
            always_active=False,
        ),
    ]
    if moe.has_router_bias:
        t.append(WeightTensor(f"{p}.router.bias", "bias", e, 1, layer=layer, tp_split="replicate"))
    if moe.has_expert_bias:
        t.append(
            WeightTensor(
                f"{p}.experts.gate_up.bias", "bias", 2 * inter, 1, count=e, layer=layer, always_active=False
            )
        )
        t.append(
            WeightTensor(f"{p}.experts.down.bias", "bias", h, 1, count=e, layer=layer, always_active=False)
        )
    if model.architecture.lower().startswith("deepseekv3"):
        # DeepSeek-V3's aux-loss-free balancing keeps one score-correction bias per routed expert.
        t.append(
            WeightTensor(
                f"{p}.router.e_score_correction_bias", "bias", e, 1, layer=layer, tp_split="replicate"
            )
        )
    if moe.num_shared_experts:
        shared_inter = moe.shared_expert_intermediate_size or inter * moe.num_shared_experts
        t += _dense_mlp(model, layer, shared_inter, f"{p}.shared_experts", "shared_expert")
        if moe.shared_expert_intermediate_size:
            # Qwen2-MoE gates its shared expert with a 1 x hidden sigmoid gate.
            t.append(
                WeightTensor(f"{p}.shared_expert_gate", "router", 1, h, layer=layer, tp_split="replicate")
            )
    return t


@lru_cache(maxsize=128)
def weight_tensors(model: ModelSpec) -> tuple[WeightTensor, ...]:
    """Every weight tensor vLLM loads for the model (the MTP head of DeepSeek-V3 excluded)."""
    h = model.hidden_size
    tensors: list[WeightTensor] = [
        WeightTensor("embed_tokens", "embedding", model.vocab_size, h, gguf_kind="token_embd"),
    ]
    for layer in range(model.num_layers):
        tensors += _attention_tensors(model, layer)
        if _is_moe_layer(model, layer):
            tensors += _moe_tensors(model, layer)
        else:
            tensors += _dense_mlp(model, layer, model.intermediate_size, f"layers.{layer}.mlp", "linear")
        tensors.append(
            WeightTensor(
                f"layers.{layer}.norms", "norm", h, model.norms_per_layer, layer=layer, tp_split="replicate"
            )
        )
    tensors.append(WeightTensor("final_norm", "norm", h, 1, tp_split="replicate"))
    if not model.tie_word_embeddings:
        tensors.append(WeightTensor("lm_head", "lm_head", model.vocab_size, h, gguf_kind="output"))
    if model.extra_params:
        tensors.append(WeightTensor("vision_tower", "vision", model.extra_params, 1, always_active=False))
    return tuple(tensors)


@lru_cache(maxsize=128)
def total_params(model: ModelSpec) -> int:
    """All parameters held in memory: embeddings, every layer, lm_head unless tied, any vision tower."""
    return sum(t.num_params for t in weight_tensors(model))


@lru_cache(maxsize=128)
def matmul_params_per_token(model: ModelSpec) -> int:
    """Parameters one text token multiplies through (2 FLOPs each): routed experts count num_experts_per_tok.

    The input embedding is a table lookup, not a matmul, so it is left out; a tied lm_head is counted once, as
    the output projection. This is the "active" count OpenAI publishes for gpt-oss.
    """
    total = 0
    for t in weight_tensors(model):
        if t.role in ("embedding", "vision"):
            continue
        if not t.always_active and model.moe is not None:
            total += t.rows * t.cols * model.moe.num_experts_per_tok
        else:
            total += t.num_params
    if model.tie_word_embeddings:
        total += model.vocab_size * model.hidden_size
    return total


def active_params_per_token(model: ModelSpec) -> int:
    """Activated parameters as most model cards count them (Qwen3, Mixtral, DeepSeek-V3): the matmul parameters
    plus the input embedding table (once, when tied)."""
    embedding = 0 if model.tie_word_embeddings else model.vocab_size * model.hidden_size
    return matmul_params_per_token(model) + embedding


def params_by_role(model: ModelSpec) -> dict[str, int]:
    """Parameter count per role, for explanations (embedding, linear, expert, norm, ...)."""
    out: dict[str, int] = {}
    for t in weight_tensors(model):
        out[t.role] = out.get(t.role, 0) + t.num_params
    return out


@dataclass(frozen=True, slots=True)
class ParamSplit:
    """Parameters by how a decode step reads them."""

    total: int
    embedding: int  # gathered one row per token, not streamed
    routed_expert: int  # streamed only for the experts the batch routes to
    vision: int  # idle for text tokens

    @property
    def dense(self) -> int:
        return self.total - self.embedding - self.routed_expert - self.vision


@lru_cache(maxsize=128)
def param_split(model: ModelSpec) -> ParamSplit:
    tensors = weight_tensors(model)
    return ParamSplit(
        total=sum(t.num_params for t in tensors),
        embedding=sum(t.num_params for t in tensors if t.role == "embedding"),
        routed_expert=sum(t.num_params for t in tensors if not t.always_active and t.role != "vision"),
        vision=sum(t.num_params for t in tensors if t.role == "vision"),
    )


def derive_total_params(model: ModelSpec) -> Derived[int]:
    return derived(
        "total_params",
        total_params(model),
        "params",
        "embeddings + layers x (attention + MLP or experts + norms) + lm_head unless tied + vision tower",
        num_layers=model.num_layers,
        hidden_size=model.hidden_size,
        vocab_size=model.vocab_size,
        tie_word_embeddings=str(model.tie_word_embeddings),
    )


def derive_active_params(model: ModelSpec) -> Derived[int]:
    return derived(
        "active_params",
        active_params_per_token(model),
        "params",
        "total minus unrouted experts (num_experts_per_tok of num_experts per MoE layer)",
        experts_per_token=model.moe.num_experts_per_tok if model.moe else 0,
        num_experts=model.moe.num_experts if model.moe else 0,
    )
