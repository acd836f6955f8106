"""What a request generates, where the workload shows it: the tokens a later request of the same conversation
re-sends after its prompt.

vLLM caches the blocks of generated tokens like those of the prompt (KVCacheManager.cache_blocks runs on every
computed token, output included, and a finished request's full blocks stay in the prefix cache), so a multi-turn
follow-up whose prompt re-sends an earlier turn and its answer hits the answer's blocks too. A simulated request
has no output tokens of its own; when a later request's prompt token ids start with this request's whole prompt,
the simulator takes the tokens after it as this request's output (the model said what the conversation says it
said). Workloads without token ids (prefix block ids, lengths only) have no such evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from slotune.models import RequestSpec

_MOD = (1 << 61) - 1
_BASE = 1_000_003


def follow_up_outputs(requests: Sequence[RequestSpec]) -> dict[str, tuple[int, ...]]:
    """request_id -> the output token ids its first follow-up (in arrival order) shows, at most output_tokens
    of them. Linear in the workload's prompt tokens: one rolling hash per prompt prefix, checked exactly."""
    by_hash: dict[int, list[RequestSpec]] = {}
    outputs: dict[str, tuple[int, ...]] = {}
    for spec in sorted(requests, key=lambda r: r.arrival_s):
        ids = spec.prompt_token_ids
        if not ids:
            continue
        h = 0
        for length, token in enumerate(ids[:-1], start=1):
            h = (h * _BASE + token + 1) % _MOD
            for earlier in by_hash.get(h, ()):
                earlier_ids = earlier.prompt_token_ids
                assert earlier_ids is not None
                if (
                    earlier.request_id not in outputs
                    and len(earlier_ids) == length
                    and ids[:length] == earlier_ids
                ):
                    outputs[earlier.request_id] = tuple(ids[length : length + earlier.output_tokens])
        h = (h * _BASE + ids[-1] + 1) % _MOD
        by_hash.setdefault(h, []).append(spec)
    return outputs
