"""Turn a Hugging Face `config.json` (as a dict) into a ModelSpec.

One parser serves both the built-in catalog (whose data files hold the published config.json fields)
and any local config.json, so a catalog model and its downloaded config give the same numbers.
Architecture-specific facts that config.json does not state (Qwen2's q/k/v biases, Gemma's four norms
per layer, gpt-oss's attention sinks) come from the small table `_ARCH_TRAITS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slotune.errors import InputError
from slotune.models import MLASpec, ModelSpec, MoESpec
from slotune.models.model_spec import AttentionKind


@dataclass(frozen=True, slots=True)
class _ArchTraits:
    attention_bias: bool = False
    attention_output_bias: bool = False
    qk_norm: bool = False
    attention_sinks: bool = False
    norms_per_layer: int = 2
    tie_word_embeddings_default: bool = False
    has_expert_bias: bool = False
    has_router_bias: bool = False


# Keyed by the `architectures[0]` / `model_type` of config.json. Anything not listed gets the Llama defaults.
_ARCH_TRAITS: dict[str, _ArchTraits] = {
    "qwen2": _ArchTraits(attention_bias=True),
    "qwen2_moe": _ArchTraits(attention_bias=True),
    "qwen3": _ArchTraits(qk_norm=True),
    "qwen3_moe": _ArchTraits(qk_norm=True),
    "gemma": _ArchTraits(tie_word_embeddings_default=True),
    "gemma2": _ArchTraits(norms_per_layer=4, tie_word_embeddings_default=True),
    "gemma3": _ArchTraits(norms_per_layer=4, qk_norm=True, tie_word_embeddings_default=True),
    "gemma3_text": _ArchTraits(norms_per_layer=4, qk_norm=True, tie_word_embeddings_default=True),
    "gpt_oss": _ArchTraits(
        attention_bias=True,
        attention_output_bias=True,
        attention_sinks=True,
        has_expert_bias=True,
        has_router_bias=True,
    ),
}

_REQUIRED_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size")

# The config.json keys this parser reads (a test checks the list against the code), plus the Hugging Face keys
# the catalog keeps although they do not change slotune's numbers. The catalog's data files may hold only these:
# a misspelt key would otherwise leave a default in place without a word.
CONFIG_KEYS = frozenset(
    {
        *_REQUIRED_KEYS,
        "architectures",
        "attention_bias",
        "decoder_sparse_step",
        "dtype",
        "experts_per_token",
        "first_k_dense_replace",
        "head_dim",
        "intermediate_size",
        "kv_lora_rank",
        "layer_types",
        "max_position_embeddings",
        "model_type",
        "moe_intermediate_size",
        "moe_layer_freq",
        "moe_topk",
        "n_routed_experts",
        "n_shared_experts",
        "num_experts",
        "num_experts_per_tok",
        "num_key_value_heads",
        "num_local_experts",
        "q_lora_rank",
        "qk_nope_head_dim",
        "qk_rope_head_dim",
        "quantization_config",
        "shared_expert_intermediate_size",
        "sliding_window",
        "sliding_window_pattern",
        "text_config",
        "tie_word_embeddings",
        "torch_dtype",
        "use_sliding_window",
        "v_head_dim",
        "vision_config",
        # Kept for the reader: empty for the listed models / a module vLLM loads only for speculative decoding.
        "mlp_only_layers",
        "num_nextn_predict_layers",
    }
)
VISION_CONFIG_KEYS = frozenset(
    {"hidden_size", "intermediate_size", "num_hidden_layers", "patch_size", "image_size", "num_channels"}
    | {"model_type", "num_attention_heads"}  # kept for the reader; the tower's size does not depend on them
)


def _missing(source: str, key: str, hint: str = "") -> InputError:
    return InputError(
        f"config.json:{key}",
        source,
        f"add the '{key}' field to {source} (copy it from the model's Hugging Face config.json){hint}",
        problem="missing required key",
    )


def _text_config(config: dict[str, Any]) -> dict[str, Any]:
    """Multimodal configs (Gemma 3, Llama 4, Qwen-VL) nest the language model under `text_config`."""
    text = config.get("text_config")
    if isinstance(text, dict) and "num_hidden_layers" in text:
        merged = dict(text)
        for key in ("architectures", "torch_dtype", "dtype", "tie_word_embeddings", "quantization_config"):
            if key in config and key not in merged:
                merged[key] = config[key]
        return merged
    return config


def _model_type(config: dict[str, Any]) -> str:
    model_type = str(config.get("model_type", "")).lower()
    if model_type:
        return model_type
    archs = config.get("architectures") or []
    arch = str(archs[0]).lower() if archs else ""
    for name in ("gpt_oss", "gptoss", "qwen3moe", "qwen3", "qwen2moe", "qwen2", "gemma3", "gemma2", "gemma"):
        if name in arch:
            return {"gptoss": "gpt_oss", "qwen3moe": "qwen3_moe", "qwen2moe": "qwen2_moe"}.get(name, name)
    return arch


def _layer_types(
    config: dict[str, Any], num_layers: int, sliding_window: int | None
) -> tuple[AttentionKind, ...] | None:
    raw = config.get("layer_types")
    if isinstance(raw, list) and raw:
        kinds: list[AttentionKind] = []
        for item in raw:
            text = str(item).lower()
            if "sliding" in text or "local" in text:
                kinds.append("sliding")
            elif "linear" in text:
                kinds.append("linear")
            else:
                kinds.append("full")
        return tuple(kinds)
    if sliding_window is None:
        return None
    # Gemma 2/3 older configs: every `sliding_window_pattern`-th layer (1-based) is global, others local.
    pattern = config.get("sliding_window_pattern")
    if isinstance(pattern, int) and pattern > 1:
        return tuple("full" if (i + 1) % pattern == 0 else "sliding" for i in range(num_layers))
    if config.get("use_sliding_window") is False:
        return None
    # Mistral v0.1 style: one window on every layer.
    return tuple("sliding" for _ in range(num_layers))


def _moe_spec(config: dict[str, Any], intermediate_size: int, traits: _ArchTraits) -> MoESpec | None:
    num_experts = (
        config.get("num_local_experts") or config.get("num_experts") or config.get("n_routed_experts")
    )
    if not num_experts:
        return None
    top_k = config.get("num_experts_per_tok") or config.get("experts_per_token") or config.get("moe_topk")
    if not top_k:
        raise InputError(
            "config.json:num_experts_per_tok",
            None,
            "add 'num_experts_per_tok' (experts routed per token) to the MoE config",
            problem="missing required key for a mixture-of-experts model",
        )
    moe_intermediate = config.get("moe_intermediate_size") or intermediate_size
    first_dense = int(config.get("first_k_dense_replace") or 0)
    freq = int(config.get("moe_layer_freq") or config.get("decoder_sparse_step") or 1)
    shared = int(config.get("n_shared_experts") or 0)
    shared_size = config.get("shared_expert_intermediate_size")
    if shared_size and not shared:
        shared = 1  # Qwen2-MoE: one shared expert of its own size
    return MoESpec(
        num_experts=int(num_experts),
        num_experts_per_tok=int(top_k),
        moe_intermediate_size=int(moe_intermediate),
        num_shared_experts=shared,
        first_k_dense_layers=first_dense,
        moe_layer_freq=freq,
        shared_expert_intermediate_size=int(shared_size) if shared_size else None,
        has_expert_bias=traits.has_expert_bias,
        has_router_bias=traits.has_router_bias,
    )


def _mla_spec(config: dict[str, Any]) -> MLASpec | None:
    if not config.get("kv_lora_rank"):
        return None
    for key in ("qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
        if key not in config:
            raise InputError(
                f"config.json:{key}",
                None,
                f"add '{key}' to the config (multi-head latent attention needs it with kv_lora_rank)",
                problem="missing required key",
            )
    return MLASpec(
        kv_lora_rank=int(config["kv_lora_rank"]),
        qk_rope_head_dim=int(config["qk_rope_head_dim"]),
        qk_nope_head_dim=int(config["qk_nope_head_dim"]),
        v_head_dim=int(config["v_head_dim"]),
        q_lora_rank=int(config["q_lora_rank"]) if config.get("q_lora_rank") else None,
    )


def vision_tower_params(config: dict[str, Any]) -> int:
    """Parameters of a SigLIP/ViT vision tower and its projector (Gemma 3), 0 for a text-only config.

    Per encoder layer: q/k/v/o (with biases), a two-matrix MLP (with biases) and two LayerNorms (weight and
    bias); plus the patch convolution, learned position embeddings, a final LayerNorm and Gemma 3's
    projection into the text hidden size with its RMSNorm.
    """
    vision = config.get("vision_config")
    text = config.get("text_config")
    if not isinstance(vision, dict) or "hidden_size" not in vision:
        return 0
    d = int(vision["hidden_size"])
    ffn = int(vision.get("intermediate_size", 4 * d))
    layers = int(vision.get("num_hidden_layers", 0))
    patch = int(vision.get("patch_size", 14))
    image = int(vision.get("image_size", 224))
    channels = int(vision.get("num_channels", 3))
    per_layer = 4 * (d * d + d) + (d * ffn + ffn) + (ffn * d + d) + 2 * 2 * d
    num_patches = (image // patch) ** 2
    embeddings = channels * patch * patch * d + d + num_patches * d
    post_norm = 2 * d
    text_hidden = int(text.get("hidden_size", 0)) if isinstance(text, dict) else 0
    projector = d * text_hidden + d if text_hidden else 0
    return layers * per_layer + embeddings + post_norm + projector


def _checkpoint_quantization(config: dict[str, Any]) -> str | None:
    quant = config.get("quantization_config")
    if not isinstance(quant, dict):
        return None
    method = str(quant.get("quant_method", "")).lower() or None
    if method == "fp8" or (method == "compressed-tensors" and "fp8" in str(quant).lower()):
        return "fp8"
    return method


def model_spec_from_config(
    config: dict[str, Any],
    *,
    name: str,
    source: str = "",
    total_params: int | None = None,
    active_params: int | None = None,
    extra_params: int | None = None,
    aliases: tuple[str, ...] = (),
) -> ModelSpec:
    """Build a ModelSpec from config.json fields. Raises InputError naming the first missing key."""
    if not isinstance(config, dict):
        raise InputError("config.json", source, "give a JSON object as in a Hugging Face config.json")
    text = _text_config(config)
    for key in _REQUIRED_KEYS:
        if key not in text:
            raise _missing(source or name, key)
    model_type = _model_type(text)
    traits = _ARCH_TRAITS.get(model_type, _ArchTraits())
    archs = config.get("architectures") or [model_type or "LlamaForCausalLM"]

    num_layers = int(text["num_hidden_layers"])
    hidden = int(text["hidden_size"])
    heads = int(text["num_attention_heads"])
    kv_heads = int(text.get("num_key_value_heads") or heads)
    head_dim = int(text.get("head_dim") or hidden // heads)
    intermediate = text.get("intermediate_size")
    moe = _moe_spec(text, int(intermediate or 0), traits)
    if intermediate is None:
        if moe is None:
            raise _missing(source or name, "intermediate_size")
        intermediate = moe.moe_intermediate_size
    max_pos = text.get("max_position_embeddings")
    if max_pos is None:
        raise _missing(source or name, "max_position_embeddings")

    sliding = text.get("sliding_window")
    sliding_window = int(sliding) if isinstance(sliding, int) and sliding > 0 else None
    layer_types = _layer_types(text, num_layers, sliding_window)
    if layer_types is not None and len(layer_types) != num_layers:
        raise InputError(
            "config.json:layer_types",
            len(layer_types),
            f"give one entry per layer ({num_layers} = num_hidden_layers)",
            problem="length does not match num_hidden_layers",
        )
    if layer_types is not None and all(k == "full" for k in layer_types):
        layer_types = None
    if layer_types is None or "sliding" not in layer_types:
        # A window that no layer uses (Qwen2.5's use_sliding_window=false) changes nothing.
        sliding_window = None

    tie = text.get("tie_word_embeddings")
    if tie is None:
        tie = config.get("tie_word_embeddings", traits.tie_word_embeddings_default)
    torch_dtype = str(text.get("torch_dtype") or text.get("dtype") or "bfloat16")

    return ModelSpec(
        name=name,
        architecture=str(archs[0]),
        num_layers=num_layers,
        hidden_size=hidden,
        intermediate_size=int(intermediate),
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=int(text["vocab_size"]),
        max_position_embeddings=int(max_pos),
        tie_word_embeddings=bool(tie),
        torch_dtype=torch_dtype,
        checkpoint_quantization=_checkpoint_quantization(config),
        moe=moe,
        mla=_mla_spec(text),
        sliding_window=sliding_window,
        layer_types=layer_types,
        total_params=total_params,
        active_params=active_params,
        source=source,
        attention_bias=bool(text.get("attention_bias", traits.attention_bias)),
        attention_output_bias=traits.attention_output_bias,
        qk_norm=traits.qk_norm,
        attention_sinks=traits.attention_sinks,
        norms_per_layer=traits.norms_per_layer,
        extra_params=vision_tower_params(config) if extra_params is None else extra_params,
        aliases=aliases,
    )
