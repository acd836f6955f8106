"""vLLM V1 engine flags, under vLLM's own names (see VLLM_FACTS.md / docs).

Each field of `EngineConfig` is one vLLM flag: its name with dashes is the flag (`max_num_seqs` ->
`--max-num-seqs`), its description is the flag's help, its default is the one default, and its validators parse
what vLLM's parser accepts (`32k`, JSON). The command-line options of every command that takes an engine
configuration are generated from these fields (slotune.cli.engine_flags); docs/contributing.md shows how to add
one.

Fields whose vLLM default depends on the GPU (`max_num_seqs`, `max_num_batched_tokens`) or on the model
(`max_model_len`) are None until `slotune.vllm_rules.resolve_engine_config` applies vLLM's start-up rules and
returns a `ResolvedEngineConfig`, where they are numbers.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic.fields import FieldInfo

from slotune.models.base import Frozen

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Cli:
    """How a field appears on the command line, beyond its name, description and default."""

    metavar: str = "VALUE"
    # Short forms vLLM also accepts (-tp).
    aliases: tuple[str, ...] = ()
    # Shown as the default in --help where the default is decided later (by GPU, by model).
    default_text: str | None = None
    # Values that parse, for the fix of a rejected one ("give --max-model-len a whole number, e.g. ...").
    example: str | None = None
    # How to correct a rejected value, when the expected kind and the example do not say it.
    fix: str | None = None


_DECIMAL = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BINARY = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def human_readable_int(value: object) -> object:
    """vLLM's human_readable_int (vllm/utils/argparse_utils.py, 0.25 and 0.32): `25.6k` = 25,600 (lowercase is
    decimal), `32K` = 32,768 (uppercase is binary, whole numbers only); anything else is left to validation."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgGtT])", text)
    if match is None:
        return text
    number, suffix = match.groups()
    if suffix in _DECIMAL:
        return int(float(number) * _DECIMAL[suffix])
    if "." in number:
        raise ValueError(
            f"decimals are not allowed with binary suffixes: did you mean {number}{suffix.lower()}?"
        )
    return int(number) * _BINARY[suffix]


def context_length(value: object) -> object:
    """vLLM's human_readable_int_or_auto for --max-model-len, less -1/auto, which slotune does not model."""
    if isinstance(value, str | int) and str(value).strip().lower() in ("-1", "auto"):
        raise ValueError(
            "-1/auto (vLLM fits the length to free memory) is not modelled; give a length "
            "(`slotune plan` prints the longest that fits)"
        )
    return human_readable_int(value)


def int_list(value: object) -> object:
    """`--cudagraph-capture-sizes 1,2,4,8` (or spaces) from the command line; lists pass through."""
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value.strip()) if part]
    return value


# vLLM --speculative-config keys the simulator has no use for (the draft model itself, proposer tuning).
IGNORED_SPECULATIVE_KEYS = frozenset(
    {
        "model",
        "draft_tensor_parallel_size",
        "prompt_lookup_max",
        "prompt_lookup_min",
        "quantization",
        "revision",
    }
)


def speculative_json(value: object) -> object:
    """vLLM's --speculative-config JSON; keys that do not change the simulation are dropped."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg})") from exc
        if not isinstance(value, dict):
            raise ValueError("give a JSON object")
    if isinstance(value, dict):
        ignored = sorted(k for k in value if k in IGNORED_SPECULATIVE_KEYS)
        if ignored:
            log.warning(
                "speculative_config: %s do not change the simulation and are ignored", ", ".join(ignored)
            )
        value = {k: v for k, v in value.items() if k not in IGNORED_SPECULATIVE_KEYS}
        if isinstance(value.get("acceptance_rates"), int | float):
            value["acceptance_rates"] = [value["acceptance_rates"]]
    return value


class SpeculativeConfig(Frozen):
    method: Literal["ngram", "eagle", "eagle3", "mtp", "draft_model", "suffix"] = "eagle"
    num_speculative_tokens: int = Field(gt=0, le=16)
    # Probability that draft position i is accepted given positions < i were (len == num_speculative_tokens);
    # a single value is used for every position.
    acceptance_rates: tuple[float, ...] = (0.7,)
    # Cost of one draft-model forward relative to one target forward at the same batch (0 for ngram).
    draft_cost_ratio: float = Field(default=0.05, ge=0)

    @model_validator(mode="after")
    def _check_rates(self) -> SpeculativeConfig:
        if not self.acceptance_rates:
            raise ValueError("acceptance_rates must not be empty")
        for r in self.acceptance_rates:
            if not 0.0 <= r <= 1.0:
                raise ValueError(f"acceptance rate {r} is outside [0, 1]")
        if len(self.acceptance_rates) not in (1, self.num_speculative_tokens):
            raise ValueError("acceptance_rates needs 1 value or num_speculative_tokens values")
        return self

    def rate_at(self, position: int) -> float:
        rates = self.acceptance_rates
        return rates[0] if len(rates) == 1 else rates[position]


Tokens = Annotated[int | None, BeforeValidator(human_readable_int)]
_TOKENS_EXAMPLE = "8192, 32k (32,000) or 32K (32,768)"
Dtype = Literal["auto", "half", "float16", "bfloat16", "float", "float32"]
KvCacheDtype = Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2", "bfloat16", "float16"]


class EngineConfig(Frozen):
    """vLLM engine flags as given (None = vLLM decides at start-up; see ResolvedEngineConfig)."""

    model: str = Field(default="", description="The model vLLM serves (vLLM's --model).")
    max_model_len: Annotated[
        int | None,
        BeforeValidator(context_length),
        Cli("TOKENS", default_text="the model's context", example=_TOKENS_EXAMPLE),
    ] = Field(default=None, gt=0, description="Context length: 8192, 32k (32,000) or 32K (32,768).")
    max_num_seqs: Annotated[int | None, Cli("INT", default_text="by GPU: 256 or 1024")] = Field(
        default=None, gt=0, description="Most sequences scheduled in one step."
    )
    max_num_batched_tokens: Annotated[
        Tokens, Cli("TOKENS", default_text="by GPU: 2048-16384", example=_TOKENS_EXAMPLE)
    ] = Field(
        default=None, gt=0, description="Most tokens scheduled in one step (the chunked-prefill budget)."
    )
    block_size: Annotated[int, Cli("INT")] = Field(
        default=16, gt=0, description="Tokens per KV-cache block (MLA models use 64)."
    )
    gpu_memory_utilization: Annotated[
        float,
        Cli(
            "FLOAT",
            fix="give a fraction of total GPU memory in (0, 1]; vLLM's default is 0.92 (1.0 leaves no "
            "headroom)",
        ),
    ] = Field(default=0.92, gt=0, le=1.0, description="Fraction of each GPU's total memory vLLM may use.")
    kv_cache_memory_bytes: Annotated[Tokens, Cli("BYTES", example="8000000000 or 8g (10^9) or 8G (2^30)")] = (
        Field(default=None, gt=0, description="KV-cache bytes per GPU (overrides --gpu-memory-utilization).")
    )
    enable_prefix_caching: bool = Field(default=True, description="Reuse the KV cache of shared prefixes.")
    enable_chunked_prefill: bool = Field(
        default=True, description="Split long prompts into chunks of the step's token budget."
    )
    enforce_eager: bool = Field(default=False, description="Run eagerly: no CUDA graphs (no graph memory).")
    cudagraph_capture_sizes: Annotated[
        tuple[int, ...] | None, BeforeValidator(int_list), Cli("N,N,...", default_text="vLLM's list")
    ] = Field(default=None, description="Batch sizes captured as CUDA graphs.")
    dtype: Annotated[Dtype, Cli("NAME")] = Field(
        default="auto", description="Weights and activations: auto, half, float16, bfloat16, float, float32."
    )
    kv_cache_dtype: Annotated[KvCacheDtype, Cli("NAME")] = Field(
        default="auto", description="KV cache: auto, fp8, fp8_e4m3, fp8_e5m2, bfloat16, float16."
    )
    quantization: Annotated[str | None, Cli("NAME", aliases=("-q",), default_text="the checkpoint's")] = (
        Field(
            default=None,
            description="bf16, fp8, int8, awq, gptq, w4a16, mxfp4, or a GGUF type (Q4_K_M, ...).",
        )
    )
    tensor_parallel_size: Annotated[int, Cli("INT", aliases=("-tp",))] = Field(
        default=1, gt=0, description="GPUs per replica (tensor parallelism)."
    )
    pipeline_parallel_size: Annotated[int, Cli("INT", aliases=("-pp",))] = Field(
        default=1, gt=0, description="Pipeline stages per replica."
    )
    async_scheduling: bool = Field(default=True, description="Schedule the next step while the GPU runs.")
    speculative_config: Annotated[
        SpeculativeConfig | None,
        BeforeValidator(speculative_json),
        Cli(
            "JSON",
            default_text="off",
            fix='give JSON such as \'{"method": "eagle", "num_speculative_tokens": 3}\'; keys: method, '
            "num_speculative_tokens, acceptance_rates, draft_cost_ratio",
        ),
    ] = Field(
        default=None,
        description='Speculative decoding, e.g. {"method": "eagle", "num_speculative_tokens": 3, '
        '"acceptance_rates": [0.8, 0.6, 0.4]}.',
    )

    @property
    def num_gpus(self) -> int:
        """GPUs one replica holds: tensor parallel x pipeline stages."""
        return self.tensor_parallel_size * self.pipeline_parallel_size

    def vllm_args(self) -> list[str]:
        """The vLLM command-line flags that reproduce this configuration."""
        args: list[str] = []
        if self.max_model_len is not None:
            args += ["--max-model-len", str(self.max_model_len)]
        if self.max_num_seqs is not None:
            args += ["--max-num-seqs", str(self.max_num_seqs)]
        if self.max_num_batched_tokens is not None:
            args += ["--max-num-batched-tokens", str(self.max_num_batched_tokens)]
        args += ["--block-size", str(self.block_size)]
        if self.kv_cache_memory_bytes is not None:
            args += ["--kv-cache-memory-bytes", str(self.kv_cache_memory_bytes)]
        else:
            args += ["--gpu-memory-utilization", str(self.gpu_memory_utilization)]
        args.append("--enable-prefix-caching" if self.enable_prefix_caching else "--no-enable-prefix-caching")
        args.append(
            "--enable-chunked-prefill" if self.enable_chunked_prefill else "--no-enable-chunked-prefill"
        )
        if self.enforce_eager:
            args.append("--enforce-eager")
        if self.cudagraph_capture_sizes is not None:
            args += ["--cudagraph-capture-sizes", *map(str, self.cudagraph_capture_sizes)]
        if self.dtype != "auto":
            args += ["--dtype", self.dtype]
        if self.kv_cache_dtype != "auto":
            args += ["--kv-cache-dtype", self.kv_cache_dtype]
        if self.quantization:
            args += ["--quantization", self.quantization]
        if self.tensor_parallel_size != 1:
            args += ["--tensor-parallel-size", str(self.tensor_parallel_size)]
        if self.pipeline_parallel_size != 1:
            args += ["--pipeline-parallel-size", str(self.pipeline_parallel_size)]
        if self.speculative_config is not None:
            spec = self.speculative_config
            args += [
                "--speculative-config",
                f'{{"method": "{spec.method}", "num_speculative_tokens": {spec.num_speculative_tokens}}}',
            ]
        return args


class ResolvedEngineConfig(EngineConfig):
    """An EngineConfig after vLLM's start-up rules for one model on one GPU (slotune.vllm_rules): the lengths and
    batch limits are numbers and `block_size` is the one vLLM allocates. The fields that may still be None are
    vLLM's own "not set" values, not deferred defaults: quantization (the checkpoint's), kv_cache_memory_bytes
    (use --gpu-memory-utilization), cudagraph_capture_sizes (vLLM's list) and speculative_config (off)."""

    max_model_len: int = Field(gt=0)
    max_num_seqs: int = Field(gt=0)
    max_num_batched_tokens: int = Field(gt=0)


def flag_name(field: str) -> str:
    """vLLM's flag for a field: `max_num_seqs` -> `--max-num-seqs`."""
    return "--" + field.replace("_", "-")


def cli_info(field: FieldInfo) -> Cli:
    """The command-line metadata of a field (a bare Cli() for booleans and plain fields)."""
    for item in field.metadata:
        if isinstance(item, Cli):
            return item
    return Cli()
