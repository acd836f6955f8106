"""vLLM's start-up rules: the defaults it fills and the settings it refuses, for one model on one GPU.

`resolve_engine_config(model, gpu, config)` is the one place an EngineConfig becomes a ResolvedEngineConfig;
the planner and the simulator both call it, once per run. Every rule cites the vLLM function it reproduces,
read in the sources of vLLM 0.25.0 and 0.32.0 (the same in both unless a comment says otherwise). slotune
models `vllm serve` (vLLM's usage context OPENAI_API_SERVER), not the offline `LLM` class.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slotune.errors import InputError
from slotune.models import EngineConfig, GpuSpec, ModelSpec, ResolvedEngineConfig
from slotune.units import GiB
from slotune.vllm_versions import VllmBehaviour, vllm_behaviour

log = logging.getLogger(__name__)

# vLLM forces 64-token blocks for MLA on CUDA (FlashMLA / CUTLASS MLA backends).
MLA_BLOCK_SIZE = 64
# vLLM's CPU attention picks 128-token blocks when none is given (and refuses sizes not a multiple of 32).
CPU_BLOCK_SIZE = 128


@dataclass(frozen=True, slots=True)
class BatchDefaults:
    max_num_seqs: int
    max_num_batched_tokens: int


def batch_defaults(gpu: GpuSpec, behaviour: VllmBehaviour | None = None) -> BatchDefaults:
    """`vllm serve`'s max_num_seqs / max_num_batched_tokens when neither is given, by device.

    vllm/engine/arg_utils.py `EngineArgs.get_batch_defaults` reads the device's total memory and the name
    torch reports (`GpuSpec.device_name`): >= 160 GiB -> 1024 / 16384 (0.32; 0.25 has no such class and gives
    these parts 1024 / 8192); >= 70 GiB and no "a100" in the name -> 1024 / 8192 (large defaults measured to
    lower A100 throughput, vLLM PR #17885); otherwise 256 / 2048. On a CPU 128 / 2048 (one worker).
    """
    if gpu.is_cpu:
        return BatchDefaults(max_num_seqs=128, max_num_batched_tokens=2048)
    behaviour = behaviour or vllm_behaviour()
    if gpu.memory_bytes >= 160 * GiB and behaviour.has_160_gib_batch_class:
        return BatchDefaults(max_num_seqs=1024, max_num_batched_tokens=16384)
    if gpu.memory_bytes >= 70 * GiB and "a100" not in gpu.device_name.lower():
        return BatchDefaults(max_num_seqs=1024, max_num_batched_tokens=8192)
    return BatchDefaults(max_num_seqs=256, max_num_batched_tokens=2048)


def effective_block_size(model: ModelSpec, block_size: int) -> int:
    """The KV block size vLLM actually uses: MLA models get 64 in place of the default 16."""
    return MLA_BLOCK_SIZE if model.mla is not None and block_size == 16 else block_size


def _max_model_len(model: ModelSpec, config: EngineConfig) -> int:
    """vllm/config/model.py `_get_and_verify_max_len`: the model's own length unless one is given, and never
    more than it (vLLM refuses unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1, which slotune does not model)."""
    limit = model.max_position_embeddings
    if config.max_model_len is None:
        return limit
    if config.max_model_len > limit:
        raise InputError(
            "max_model_len",
            config.max_model_len,
            f"use at most {limit} (max_position_embeddings of {model.name}) with --max-model-len",
            problem="longer than the model's context window",
        )
    return config.max_model_len


def _batch_limits(config: EngineConfig, defaults: BatchDefaults, max_model_len: int) -> tuple[int, int]:
    """(max_num_seqs, max_num_batched_tokens) as vllm/engine/arg_utils.py
    `EngineArgs._set_default_max_num_seqs_and_batched_tokens_args` fills them: a default token budget grows to
    max_model_len without chunked prefill and never exceeds max_num_seqs x max_model_len; a default
    max_num_seqs is lowered to the token budget (so `--max-num-batched-tokens 512` alone gives 512 sequences)."""
    max_num_seqs = config.max_num_seqs if config.max_num_seqs is not None else defaults.max_num_seqs
    tokens = config.max_num_batched_tokens
    if tokens is None:
        tokens = defaults.max_num_batched_tokens
        if not config.enable_chunked_prefill:
            tokens = max(max_model_len, tokens)
        tokens = min(max_num_seqs * max_model_len, tokens)
    if config.max_num_seqs is None:
        max_num_seqs = min(max_num_seqs, tokens)
    return max_num_seqs, tokens


def _check_scheduler(max_num_seqs: int, tokens: int, max_model_len: int, chunked_prefill: bool) -> None:
    """vllm/config/scheduler.py `SchedulerConfig.verify_max_model_len` (run by __post_init__): the refusals."""
    if not chunked_prefill and tokens < max_model_len:
        raise InputError(
            "max_num_batched_tokens",
            tokens,
            f"with chunked prefill off a whole prompt must fit one step: raise --max-num-batched-tokens to at "
            f"least max_model_len={max_model_len}, lower --max-model-len, or turn chunked prefill on (--enable-chunked-prefill)",
            problem=f"smaller than max_model_len={max_model_len} while chunked prefill is disabled",
        )
    if tokens < max_num_seqs:
        raise InputError(
            "max_num_batched_tokens",
            tokens,
            f"raise --max-num-batched-tokens to at least {max_num_seqs} or lower --max-num-seqs to at most {tokens}",
            problem=f"smaller than max_num_seqs={max_num_seqs}: vLLM refuses to start",
        )
    if tokens > max_num_seqs * max_model_len:
        log.warning(
            "max_num_batched_tokens (%d) exceeds max_num_seqs x max_model_len (%d); vLLM warns of unexpected "
            "behavior",
            tokens,
            max_num_seqs * max_model_len,
        )


# Proposers async scheduling works with (config/vllm.py VllmConfig.__post_init__: EagleModelTypes, the GPU n-gram
# proposer, draft models, DSpark); the CPU n-gram and suffix proposers need the previous step's tokens on the CPU.
_ASYNC_SPEC_METHODS = frozenset({"eagle", "eagle3", "mtp", "draft_model"})


def _async_scheduling(config: EngineConfig, behaviour: VllmBehaviour) -> bool:
    """vLLM turns async scheduling off by default with a proposer it does not support (0.25: draft models too)
    and refuses to start when it is asked for explicitly with one (config/vllm.py VllmConfig.__post_init__)."""
    spec = config.speculative_config
    if not config.async_scheduling or spec is None:
        return config.async_scheduling
    explicit = "async_scheduling" in config.model_fields_set
    supported = spec.method in _ASYNC_SPEC_METHODS
    if explicit and not supported:
        raise InputError(
            "async_scheduling",
            True,
            f"drop --async-scheduling (vLLM turns it off itself with {spec.method}) or use an EAGLE, MTP or "
            "draft-model proposer in --speculative-config",
            problem=f"vLLM refuses async scheduling with {spec.method} speculative decoding",
        )
    if spec.method == "draft_model" and not explicit:
        return behaviour.async_with_draft_model
    return supported


def resolve_engine_config(
    model: ModelSpec, gpu: GpuSpec, config: EngineConfig, behaviour: VllmBehaviour | None = None
) -> ResolvedEngineConfig:
    """Fill the defaults vLLM fills for `model` on `gpu` (under the vLLM release `behaviour` describes: the
    default profile's when None) and refuse what vLLM refuses (InputError naming the flag to change). A
    configuration that is already resolved is returned as it is: resolution happens once."""
    if isinstance(config, ResolvedEngineConfig):
        return config
    behaviour = behaviour or vllm_behaviour()
    max_model_len = _max_model_len(model, config)
    max_num_seqs, tokens = _batch_limits(config, batch_defaults(gpu, behaviour), max_model_len)
    _check_scheduler(max_num_seqs, tokens, max_model_len, config.enable_chunked_prefill)
    block_size = effective_block_size(model, config.block_size)
    if gpu.is_cpu and "block_size" not in config.model_fields_set:
        block_size = CPU_BLOCK_SIZE
    values = config.model_dump()
    values.update(
        max_model_len=max_model_len,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=tokens,
        block_size=block_size,
        speculative_config=config.speculative_config,
        async_scheduling=_async_scheduling(config, behaviour),
    )
    if gpu.is_cpu:
        values["async_scheduling"] = False  # vllm/platforms/cpu.py check_and_update_config
    resolved = ResolvedEngineConfig.model_validate(values)
    # "Set" stays what the user gave plus what resolution decided, so a launcher passes exactly those flags and
    # leaves every other default to the vLLM it starts (which may differ by platform, e.g. CPU block sizes).
    decided = {"max_model_len", "max_num_seqs", "max_num_batched_tokens"}
    if block_size != config.block_size:
        decided.add("block_size")
    object.__setattr__(resolved, "__pydantic_fields_set__", config.model_fields_set | decided)
    return resolved
