"""What launching a real vLLM server produced: the facts it reported, or why it did not start.

A failed start-up is an expected outcome (a configuration that does not fit, a flag this vLLM refuses), so it
is data, `LaunchFailure`, with the part of the server's log that says why.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from slotune.models.base import Frozen
from slotune.models.engine_config import EngineConfig

LaunchFailureKind = Literal[
    "bad_flag",  # vLLM's argument parser refused a flag or its value
    "invalid_config",  # the flags parse, but vLLM's config checks refuse them together with this model
    "model_not_found",  # no such local folder, and not a model id vLLM could fetch
    "out_of_memory",  # weights, activations or the requested memory reservation do not fit
    "kv_cache_too_small",  # the KV cache cannot hold one request of max_model_len
    "port_in_use",  # the server's port was taken
    "timeout",  # no healthy /health before the deadline
    "process_exit",  # the server exited for a reason none of the above describes
]


class ServerRequest(Frozen):
    """A vLLM server to start: the model, its engine flags, and what else the server gets."""

    model: str  # a local model folder or a model id, as vLLM's --model takes it
    served_model_name: str | None = None  # default: the model folder's name
    engine_config: EngineConfig | None = None
    # Flags after the engine config's (they win over it), e.g. --enable-prompt-tokens-details.
    extra_args: tuple[str, ...] = ()
    # Environment for the server on top of the caller's, e.g. VLLM_CPU_KVCACHE_SPACE on CPU.
    env: dict[str, str] = Field(default_factory=dict)
    port: int | None = Field(default=None, gt=0, lt=65536)  # None: a free port

    def served_name(self) -> str:
        return self.served_model_name or self.model.rstrip("/").rsplit("/", 1)[-1]


class StartupFacts(Frozen):
    """What vLLM reported while starting (its log, and /metrics' cache_config_info once healthy).

    None where this vLLM version, platform or mode does not report the fact (e.g. no CUDA-graph capture
    with --enforce-eager or on CPU, no torch.compile time on CPU).
    """

    kv_cache_tokens: int | None = None
    # Whose memory holds the KV cache as vLLM names it: "GPU", "CPU", "GPU + host".
    kv_cache_device: str | None = None
    num_gpu_blocks: int | None = None
    block_size: int | None = None
    kv_cache_memory_bytes: int | None = None  # what the KV cache was given (GPU: "Available KV cache memory")
    max_concurrency: float | None = None  # requests of max_model_len tokens the KV cache holds at once
    max_concurrency_tokens_per_request: int | None = None
    model_weights_bytes: int | None = None
    model_load_s: float | None = None
    weights_load_s: float | None = None
    torch_compile_s: float | None = None
    cuda_graph_capture_s: float | None = None
    cuda_graph_memory_bytes: int | None = None
    engine_init_s: float | None = (
        None  # profile, KV cache allocation and warm-up, as the engine core times it
    )
    # The arguments vLLM saw that differ from its defaults, as it printed them ("non-default args: {...}").
    non_default_args: dict[str, Any] = Field(default_factory=dict)


class LaunchInfo(Frozen):
    """A vLLM server that came up healthy, and how."""

    argv: tuple[str, ...]
    # Only the variables slotune set for the server (the rest of the environment is the caller's own).
    env: dict[str, str] = Field(default_factory=dict)
    vllm_version: str
    base_url: str
    port: int
    pid: int
    log_path: str
    time_to_healthy_s: float
    facts: StartupFacts = Field(default_factory=StartupFacts)


class LaunchFailure(Frozen):
    """A vLLM server that did not come up, with the reason vLLM gave."""

    kind: LaunchFailureKind
    reason: str  # one line: vLLM's own error message where it gave one
    fix: str
    log_excerpt: str = ""
    argv: tuple[str, ...] = ()
    exit_code: int | None = None
    elapsed_s: float = 0.0
    log_path: str = ""

    def describe(self) -> str:
        text = f"vLLM did not start ({self.kind}): {self.reason}. Fix: {self.fix}"
        if self.log_path:
            text += f" (log: {self.log_path})"
        return text
