"""vLLM V1 engine flags, under vLLM's own names (see VLLM_FACTS.md / docs).

Fields whose vLLM default depends on the GPU (`max_num_seqs`, `max_num_batched_tokens`) or on the
model (`max_model_len`) are None until `resolved_for(...)` fills them the way vLLM would.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from slotune.models.base import Frozen

GiB_INT = 1024**3


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


class EngineConfig(Frozen):
    model: str = ""
    max_model_len: int | None = Field(default=None, gt=0)
    max_num_seqs: int | None = Field(default=None, gt=0)
    max_num_batched_tokens: int | None = Field(default=None, gt=0)
    block_size: int = Field(default=16, gt=0)
    gpu_memory_utilization: float = Field(default=0.92, gt=0, le=1.0)
    kv_cache_memory_bytes: int | None = Field(default=None, gt=0)
    enable_prefix_caching: bool = True
    enable_chunked_prefill: bool = True
    enforce_eager: bool = False
    cuda_graph_capture_sizes: tuple[int, ...] | None = None
    dtype: Literal["auto", "half", "float16", "bfloat16", "float", "float32"] = "auto"
    kv_cache_dtype: Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2", "bfloat16", "float16"] = "auto"
    quantization: str | None = None
    tensor_parallel_size: int = Field(default=1, gt=0)
    pipeline_parallel_size: int = Field(default=1, gt=0)
    async_scheduling: bool = True
    speculative_config: SpeculativeConfig | None = None

    def resolved_for(self, *, gpu_name: str, gpu_memory_bytes: int, model_max_len: int) -> EngineConfig:
        """Fill GPU- and model-dependent defaults as vLLM V1 does."""
        gib = gpu_memory_bytes / GiB_INT
        max_model_len = self.max_model_len or model_max_len
        max_num_seqs = self.max_num_seqs
        if max_num_seqs is None:
            # vLLM: 1024 on large-memory GPUs (H100/H200/B200), 256 on smaller ones and A100.
            large = gib >= 70 and "a100" not in gpu_name.lower()
            max_num_seqs = 1024 if large else 256
        mnbt = self.max_num_batched_tokens
        if mnbt is None:
            large = gib >= 70 and "a100" not in gpu_name.lower()
            if gib >= 160:
                mnbt = 16384
            elif large:
                mnbt = 8192
            else:
                mnbt = 2048
            if not self.enable_chunked_prefill:
                mnbt = max(mnbt, max_model_len)
        return self.model_copy(
            update={
                "max_model_len": max_model_len,
                "max_num_seqs": max_num_seqs,
                "max_num_batched_tokens": mnbt,
            }
        )

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
