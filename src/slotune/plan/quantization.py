"""Weight quantization schemes: bits per stored weight, scale/zero-point overhead, and which tensors they touch.

Unquantized in every vLLM scheme below (kept in the checkpoint dtype, bf16): the token embedding, lm_head,
norms, biases, MoE routers, attention sinks and any vision tower. GGUF is the exception: llama.cpp quantizes
the embedding and the output matrix too (output with more bits) and stores 1-D tensors (norms, biases) in F32.
A registry keyed by name; `resolve_quantization` turns user input (and a checkpoint's own method) into a scheme.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from slotune.errors import InputError
from slotune.models import ModelSpec
from slotune.plan.params import WeightTensor

# Which weights a scheme quantizes: every linear layer (attention, MLP, experts), or only routed MoE experts.
Scope = Literal["linear", "experts", "gguf"]


@dataclass(frozen=True, slots=True)
class QuantScheme:
    name: str
    description: str
    scope: Scope
    weight_bits: float
    # Input-channel elements sharing one scale (and zero point); None: one scale per output channel.
    group_size: int | None = None
    scale_bits: float = 0.0
    zero_bits: float = 0.0
    # GPTQ stores an int32 group index per input channel (act-order support), whatever desc_act says.
    g_idx_bits: float = 0.0
    # 2-D block scales (DeepSeek-V3 fp8: one fp32 scale per 128 x 128 block).
    block_shape: tuple[int, int] | None = None
    # Dtype the matmuls run in (picks the GPU's FLOP/s): weight-only schemes dequantize to bf16.
    compute_dtype: str = "bf16"
    # Bytes of a tensor the scheme leaves alone (bf16 checkpoint weights).
    unquantized_bytes: float = 2.0
    aliases: tuple[str, ...] = ()

    def quantized_matrix_bytes(self, rows: int, cols: int) -> float:
        """Bytes of one rows x cols matrix: packed values plus its scales, zero points and group index."""
        values = rows * cols * self.weight_bits / 8
        if self.block_shape is not None:
            br, bc = self.block_shape
            return values + math.ceil(rows / br) * math.ceil(cols / bc) * self.scale_bits / 8
        if self.group_size is None:
            per_channel = rows * (self.scale_bits + self.zero_bits) / 8
            return values + per_channel
        groups = math.ceil(cols / self.group_size)
        return values + rows * groups * (self.scale_bits + self.zero_bits) / 8 + cols * self.g_idx_bits / 8


_BF16 = QuantScheme(
    "bf16", "16-bit brain float weights, no quantization", "linear", 16.0, aliases=("bfloat16", "auto")
)
_FP16 = QuantScheme(
    "fp16", "16-bit float weights, no quantization", "linear", 16.0, aliases=("float16", "half")
)
_SCHEMES: dict[str, QuantScheme] = {
    s.name: s
    for s in (
        _BF16,
        _FP16,
        QuantScheme(
            "fp8",
            "FP8 E4M3 weights and activations (W8A8), one fp32 scale per output channel (llm-compressor FP8_DYNAMIC)",
            "linear",
            8.0,
            scale_bits=32.0,
            compute_dtype="fp8",
            aliases=("fp8-dynamic", "w8a8-fp8"),
        ),
        QuantScheme(
            "fp8-block",
            "FP8 E4M3 with one fp32 scale per 128x128 weight block (DeepSeek-V3/R1 checkpoints)",
            "linear",
            8.0,
            scale_bits=32.0,
            block_shape=(128, 128),
            compute_dtype="fp8",
        ),
        QuantScheme(
            "int8",
            "INT8 weights and activations (W8A8, SmoothQuant/compressed-tensors), fp32 scale per output channel",
            "linear",
            8.0,
            scale_bits=32.0,
            compute_dtype="int8",
            aliases=("w8a8", "w8a8-int8"),
        ),
        QuantScheme(
            "awq",
            "AWQ int4 weights, group 128: an fp16 scale and a 4-bit zero point per group (W4A16)",
            "linear",
            4.0,
            group_size=128,
            scale_bits=16.0,
            zero_bits=4.0,
            aliases=("awq-int4", "awq_marlin"),
        ),
        QuantScheme(
            "gptq",
            "GPTQ int4 weights, group 128: fp16 scale + packed 4-bit zero per group, int32 g_idx per input channel",
            "linear",
            4.0,
            group_size=128,
            scale_bits=16.0,
            zero_bits=4.0,
            g_idx_bits=32.0,
            aliases=("gptq-int4", "gptq_marlin"),
        ),
        QuantScheme(
            "w4a16",
            "Symmetric int4 weights, group 128, one bf16 scale per group (compressed-tensors W4A16)",
            "linear",
            4.0,
            group_size=128,
            scale_bits=16.0,
            aliases=("int4",),
        ),
        QuantScheme(
            "mxfp4",
            "MXFP4 MoE experts: 4-bit E2M1 values with one 8-bit E8M0 scale per 32 (gpt-oss); the rest stays bf16",
            "experts",
            4.0,
            group_size=32,
            scale_bits=8.0,
        ),
    )
}

# GGUF block types: bytes per block / weights per block (ggml-common.h block structs).
GGUF_TYPE_BITS: dict[str, float] = {
    "F32": 32.0,
    "F16": 16.0,
    "Q8_0": 34 * 8 / 32,
    "Q6_K": 210 * 8 / 256,
    "Q5_K": 176 * 8 / 256,
    "Q5_1": 24 * 8 / 32,
    "Q5_0": 22 * 8 / 32,
    "Q4_K": 144 * 8 / 256,
    "Q4_1": 20 * 8 / 32,
    "Q4_0": 18 * 8 / 32,
    "Q3_K": 110 * 8 / 256,
    "Q2_K": 84 * 8 / 256,
}
GGUF_BLOCK: dict[str, int] = {
    "Q8_0": 32,
    "Q6_K": 256,
    "Q5_K": 256,
    "Q5_1": 32,
    "Q5_0": 32,
    "Q4_K": 256,
    "Q4_1": 32,
    "Q4_0": 32,
    "Q3_K": 256,
    "Q2_K": 256,
    "F16": 1,
    "F32": 1,
}
# llama.cpp's fallback when a row length is not a multiple of the block (tensor_type_fallback).
_GGUF_FALLBACK = {"Q2_K": "Q4_0", "Q3_K": "Q4_0", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
# File type -> base tensor type (llama_model_quantize_impl's default_type).
GGUF_FILE_TYPES: dict[str, str] = {
    "Q8_0": "Q8_0",
    "Q6_K": "Q6_K",
    "Q5_K_M": "Q5_K",
    "Q5_K_S": "Q5_K",
    "Q5_1": "Q5_1",
    "Q5_0": "Q5_0",
    "Q4_K_M": "Q4_K",
    "Q4_K_S": "Q4_K",
    "Q4_1": "Q4_1",
    "Q4_0": "Q4_0",
    "Q3_K_L": "Q3_K",
    "Q3_K_M": "Q3_K",
    "Q3_K_S": "Q3_K",
    "Q2_K": "Q2_K",
}
for _ftype, _base in GGUF_FILE_TYPES.items():
    _SCHEMES[f"gguf-{_ftype.lower()}"] = QuantScheme(
        f"gguf-{_ftype.lower()}",
        f"llama.cpp GGUF {_ftype} mix (base {_base}, {GGUF_TYPE_BITS[_base]:.4g} bits/weight; see llama-quant.cpp)",
        "gguf",
        GGUF_TYPE_BITS[_base],
        aliases=(_ftype.lower(),),
    )


def _use_more_bits(i_layer: int, n_layers: int) -> bool:
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or (i_layer - n_layers // 8) % 3 == 2


def gguf_tensor_type(ftype: str, tensor: WeightTensor, model: ModelSpec) -> str:
    """The GGUF type llama.cpp's llama_tensor_get_type picks for a tensor in a K-quant/legacy mix.

    Covers the rules for the mixes listed in GGUF_FILE_TYPES (output/attn_v/ffn_down/attn_output bumps, the
    70B attn_v bump, the 8-expert bumps, the row-length fallback); the importance-matrix (IQ*) mixes are not
    modelled. Norms and biases stay F32.
    """
    if tensor.cols == 1 or tensor.role in ("norm", "bias", "sink", "router"):
        return "F32"
    base = GGUF_FILE_TYPES[ftype]
    kind = tensor.gguf_kind
    n_layers = model.num_layers
    i = tensor.layer or 0
    n_expert = model.moe.num_experts if model.moe else 0
    gqa = model.num_attention_heads // model.num_kv_heads
    new = base
    if kind == "output" or (kind == "token_embd" and model.tie_word_embeddings):
        new = "Q8_0" if tensor.cols % GGUF_BLOCK[base] else ("Q6_K" if base != "Q8_0" else "Q8_0")
    elif kind == "attn_v":
        if ftype == "Q2_K":
            new = "Q4_K" if gqa >= 4 else "Q3_K"
        elif ftype == "Q3_K_M":
            new = "Q5_K" if i < 2 else "Q4_K"
        elif ftype == "Q3_K_L":
            new = "Q5_K"
        elif ftype in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i, n_layers):
            new = "Q6_K"
        elif ftype == "Q4_K_S" and i < 4:
            new = "Q5_K"
        if n_layers == 80 and new in ("Q3_K", "Q4_K"):  # llama.cpp's LLM_TYPE_70B bump
            new = "Q5_K"
        if n_expert == 8:
            new = "Q8_0"
    elif kind == "attn_k" and n_expert == 8:
        new = "Q8_0"
    elif kind == "ffn_down":
        if ftype == "Q2_K":
            new = "Q3_K"
        elif ftype == "Q3_K_M":
            new = "Q5_K" if i < n_layers // 16 else "Q4_K"
        elif ftype == "Q3_K_L":
            new = "Q5_K"
        elif ftype in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i, n_layers):
            new = "Q6_K"
        elif ftype == "Q4_K_S" and i < n_layers // 8:
            new = "Q5_K"
    elif kind == "attn_output":
        if n_expert == 8:
            if ftype in ("Q2_K", "Q3_K_S", "Q3_K_M", "Q4_K_S", "Q4_K_M"):
                new = "Q5_K"
        elif ftype == "Q2_K":
            new = "Q3_K"
        elif ftype == "Q3_K_M":
            new = "Q4_K"
        elif ftype == "Q3_K_L":
            new = "Q5_K"
    if tensor.cols % GGUF_BLOCK[new]:
        new = _GGUF_FALLBACK.get(new, new)
        if tensor.cols % GGUF_BLOCK[new]:
            new = "F16"
    return new


def scheme_names() -> list[str]:
    return list(_SCHEMES)


def get_scheme(name: str) -> QuantScheme:
    """A scheme by name or alias, case-insensitive; GGUF types by their llama.cpp name (Q4_K_M)."""
    key = name.strip().lower()
    for candidate in (key, key.replace("_", "-"), f"gguf-{key}"):
        if candidate in _SCHEMES:
            return _SCHEMES[candidate]
    for scheme in _SCHEMES.values():
        if key in scheme.aliases or key.replace("_", "-") in scheme.aliases:
            return scheme
    raise InputError(
        "quantization",
        name,
        "use one of: " + ", ".join(_SCHEMES) + " (GGUF types also by their llama.cpp name, e.g. Q4_K_M)",
    )


def resolve_quantization(model: ModelSpec, quantization: str | None) -> QuantScheme:
    """The scheme to plan with: the user's choice, else the checkpoint's own (gpt-oss: mxfp4), else bf16."""
    if quantization is None or quantization.lower() == "auto":
        native = model.checkpoint_quantization
        if native == "fp8":
            return _SCHEMES["fp8-block"] if "deepseek" in model.architecture.lower() else _SCHEMES["fp8"]
        if native in _SCHEMES:
            return _SCHEMES[native]
        return _FP16 if model.torch_dtype in ("float16", "half") else _BF16
    scheme = get_scheme(quantization)
    if scheme.scope == "experts" and model.moe is None:
        raise InputError(
            "quantization",
            quantization,
            "mxfp4 applies to MoE experts only (gpt-oss); pick fp8, int8, awq, gptq or a GGUF type for a dense model",
            problem=f"{model.name} has no experts",
        )
    return scheme


def tensor_bytes(tensor: WeightTensor, scheme: QuantScheme, model: ModelSpec) -> float:
    """Bytes of one inventory entry (all its copies) stored under the scheme."""
    if scheme.scope == "gguf":
        ftype = scheme.name.removeprefix("gguf-").upper()
        return tensor.num_params * GGUF_TYPE_BITS[gguf_tensor_type(ftype, tensor, model)] / 8
    quantized = (scheme.scope == "linear" and tensor.role in ("linear", "expert", "shared_expert")) or (
        scheme.scope == "experts" and tensor.role == "expert"
    )
    if not quantized:
        return tensor.num_params * scheme.unquantized_bytes
    return tensor.count * scheme.quantized_matrix_bytes(tensor.rows, tensor.cols)


def is_quantized_role(scheme: QuantScheme, role: str) -> bool:
    if scheme.scope == "gguf":
        return role not in ("norm", "bias", "sink", "router")
    if scheme.scope == "experts":
        return role == "expert"
    return role in ("linear", "expert", "shared_expert") and scheme.weight_bits < 16
