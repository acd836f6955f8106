"""A workload: requests with arrival times, token lengths, shareable prefix blocks and sampling parameters.

This is also slotune's canonical workload JSONL: one `RequestSpec` per line.
"""

from __future__ import annotations

from pydantic import Field

from slotune.models.base import Frozen


class SamplingParams(Frozen):
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    ignore_eos: bool | None = None
    # vLLM's extension to the OpenAI API: generation also stops at these token ids.
    stop_token_ids: tuple[int, ...] | None = None


class RequestSpec(Frozen):
    request_id: str
    arrival_s: float = Field(ge=0)
    prompt_tokens: int = Field(ge=1)
    output_tokens: int = Field(ge=1)
    # Ids of the prompt's consecutive blocks of `Workload.hash_block_size` tokens; equal leading ids mean a
    # shareable KV prefix (Mooncake's hash_ids). Empty when the prefix structure is unknown.
    prefix_block_ids: tuple[int, ...] = ()
    # Optional real text and token ids (ShareGPT, request logs).
    text: str | None = None
    prompt_token_ids: tuple[int, ...] | None = None
    sampling: SamplingParams | None = None
    # Length of a system prompt shared with other requests, in tokens, where known.
    system_prompt_tokens: int | None = None
    # True when output_tokens is a stand-in (a request log without usage or response, ShareGPT without a
    # reply): analyses leave such requests out of the measured output-length statistics.
    is_output_estimated: bool = False


class Workload(Frozen):
    name: str
    requests: tuple[RequestSpec, ...]
    # Tokens per prefix block id (Mooncake: 512).
    hash_block_size: int = Field(default=16, gt=0)
    source: str = ""
    # sha256 of the canonical serialization; filled by the writer/reader (see slotune.workload).
    digest: str = ""

    @property
    def duration_s(self) -> float:
        if not self.requests:
            return 0.0
        return self.requests[-1].arrival_s - self.requests[0].arrival_s
