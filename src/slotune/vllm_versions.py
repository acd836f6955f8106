"""What vLLM does differently from one release to another, where slotune models it, by version.

A hardware profile records the vLLM version it stands for (`HardwareProfile.vllm_version`); the planner and the
simulator ask `vllm_behaviour(version)` for the rules of that release. Every rule below was read in the sources
of vLLM 0.25.0 and 0.32.0 (the comment names the file and function). slotune cannot tell where between two
releases a change landed, so a version is given the rules of the newest verified release at or below it (0.30
behaves as 0.25); a version older than 0.25 gets 0.25's rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache

from slotune.errors import InputError
from slotune.models.hardware_profile import DEFAULT_VLLM_VERSION

__all__ = ["DEFAULT_VLLM_VERSION", "VllmBehaviour", "parse_version", "vllm_behaviour"]
VERIFIED_VERSIONS = ((0, 25, 0), (0, 32, 0))
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(version: str) -> tuple[int, int, int]:
    """(major, minor, patch) of "0.32.0", "0.25.0+cu130", "v0.32" ...; InputError if there is no number."""
    match = _VERSION.match(version.strip())
    if match is None:
        raise InputError(
            "vllm_version",
            version,
            "give the vLLM version the profile stands for as MAJOR.MINOR[.PATCH], e.g. 0.32.0 "
            "(`vllm --version`); set `vllm_version:` in the profile passed with --profile",
        )
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


@dataclass(frozen=True, slots=True)
class VllmBehaviour:
    """The rules of one vLLM release that differ between the releases slotune has read."""

    version: str
    # Over-long requests. 0.25 renderers/params.py TokenizeParams.max_input_tokens = max_model_len - max_tokens:
    # prompt + max_tokens > max_model_len is refused (HTTP 400). 0.32: max_input_tokens = max_model_len, only a
    # prompt that alone reaches max_model_len is refused, and entrypoints/serve/utils/api_utils.py
    # get_max_tokens trims max_tokens to max_model_len - prompt.
    trims_max_tokens: bool
    # config/vllm.py VllmConfig._set_cudagraph_sizes: 0.32 caps the default capture sizes at 1024 on compute
    # capability 10.x (B200; `is_device_capability_family(100)`) and 512 elsewhere; 0.25 at 512 everywhere.
    max_capture_size_cc10: int
    # 0.32 _set_cudagraph_sizes also captures the widest uniform decode batch: max_num_seqs, or with
    # speculative decoding request counts x (1 + k) (`uniform_decode_sizes`); 0.25 does not.
    captures_uniform_decode_sizes: bool
    # Prefix-cache counters (vllm:prefix_cache_queries/hits). 0.25 v1/core/kv_cache_manager.py
    # get_computed_blocks records every lookup, also of a waiting request that is then not admitted and is
    # looked up again next step; 0.32 records once, at admission (Scheduler.schedule ->
    # KVCacheManager.record_prefix_cache_stats).
    counts_lookups_at_admission_only: bool
    # engine/arg_utils.py EngineArgs.get_batch_defaults: 0.32 gives GPUs of >= 160 GiB 16384 batched tokens
    # (1024 sequences); 0.25 treats them as every other >= 70 GiB part (8192).
    has_160_gib_batch_class: bool
    # config/vllm.py VllmConfig.__post_init__: with async scheduling left to its default, 0.32 keeps it on
    # with a draft-model proposer, 0.25 turns it off.
    async_with_draft_model: bool
    # v1/kv_cache_interface.py SlidingWindowSpec.max_admission_blocks_per_request: 0.32 reserves the window
    # plus `max_in_flight_tokens` (max_num_batched_tokens x concurrent batches: 2 with async scheduling); 0.25
    # the window plus one max_num_batched_tokens.
    sliding_window_counts_in_flight_batches: bool
    # Which model runner runs (config/vllm.py VllmConfig.use_v2_model_runner): V2 unless a feature it lacks
    # is asked for. 0.25 runs MoE models on V1 (but for DEFAULT_V2_MODEL_RUNNER_ARCHITECTURES) and V2 has only
    # the EAGLE-family proposers; 0.32 runs everything on V2 but suffix decoding. It matters for CUDA-graph
    # sizes with speculative decoding (V1 rounds them to multiples of 1 + k).
    v2_runner_moe_architectures: frozenset[str] | None  # None: every MoE model runs on V2
    v2_runner_spec_methods: frozenset[str]

    def uses_v1_model_runner(self, architecture: str, is_moe: bool, spec_method: str | None) -> bool:
        if spec_method is not None and spec_method not in self.v2_runner_spec_methods:
            return True
        moe_archs = self.v2_runner_moe_architectures
        return is_moe and moe_archs is not None and architecture not in moe_archs


_RULES = {
    (0, 25, 0): VllmBehaviour(
        version="0.25.0",
        trims_max_tokens=False,
        max_capture_size_cc10=512,
        captures_uniform_decode_sizes=False,
        counts_lookups_at_admission_only=False,
        has_160_gib_batch_class=False,
        async_with_draft_model=False,
        sliding_window_counts_in_flight_batches=False,
        v2_runner_moe_architectures=frozenset(
            {"DeepseekV2ForCausalLM", "Qwen2MoeForCausalLM", "GraniteMoeForCausalLM"}
        ),
        v2_runner_spec_methods=frozenset({"eagle", "eagle3", "mtp"}),
    ),
    (0, 32, 0): VllmBehaviour(
        version="0.32.0",
        trims_max_tokens=True,
        max_capture_size_cc10=1024,
        captures_uniform_decode_sizes=True,
        counts_lookups_at_admission_only=True,
        has_160_gib_batch_class=True,
        async_with_draft_model=True,
        sliding_window_counts_in_flight_batches=True,
        v2_runner_moe_architectures=None,
        v2_runner_spec_methods=frozenset({"ngram", "eagle", "eagle3", "mtp", "draft_model"}),
    ),
}


@cache
def vllm_behaviour(version: str = DEFAULT_VLLM_VERSION) -> VllmBehaviour:
    """The rules of `version`: those of the newest verified release at or below it (0.25 below 0.25)."""
    parsed = parse_version(version)
    base = VERIFIED_VERSIONS[0]
    for verified in VERIFIED_VERSIONS:
        if verified <= parsed:
            base = verified
    return replace(_RULES[base], version=version)
