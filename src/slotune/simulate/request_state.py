"""Hot per-request state of the simulator (mutable, slots; no pydantic in the loop)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from slotune.models import FinishReason

if TYPE_CHECKING:
    from slotune.simulate.block_manager import Segment, SharedBlock


class RequestStatus(Enum):
    WAITING = "waiting"
    RUNNING = "running"
    PREEMPTED = "preempted"
    FINISHED = "finished"


# Module-level names for the hot loop, compared with `is`: looking a member up on its Enum class costs about
# 0.3 us in Python 3.11, ten times a global.
WAITING = RequestStatus.WAITING
RUNNING = RequestStatus.RUNNING
PREEMPTED = RequestStatus.PREEMPTED
FINISHED = RequestStatus.FINISHED


@dataclass(slots=True, eq=False)
class SimRequest:
    index: int  # arrival order: the per-run sequence number that breaks ties
    request_id: str
    arrival_s: float
    prompt_tokens: int
    max_output_tokens: int
    # Where shareable prefix content comes from (see block_manager.prefix_hashes).
    prefix_block_ids: tuple[int, ...] = ()
    prompt_token_ids: tuple[int, ...] | None = None
    output_token_ids: tuple[int, ...] | None = None  # what it generates, where a follow-up shows it
    hash_block_size: int = 16
    cycle: int = (
        0  # pass through the workload (slotune.load.Job): a later pass's prefix blocks are fresh content
    )
    is_warmup: bool = False  # sent during the warm-up: simulated, not reported

    status: RequestStatus = WAITING
    num_output: int = 0
    num_tokens: int = 0  # prompt + output so far; kept in step with num_output (read in every step)
    num_computed: int = 0
    # Draft tokens the next step verifies (speculative decoding), and decode steps taken (keys the RNG).
    num_spec_tokens: int = 0
    num_decode_steps: int = 0
    num_preemptions: int = 0
    cached_prompt_tokens: int | None = None  # prompt tokens found in the prefix cache at first admission
    scheduled_s: float | None = None
    first_token_s: float | None = None
    finish_s: float | None = None
    finish_reason: FinishReason = "length"

    # KV blocks: the shareable prefix as individual blocks, then a count of private blocks.
    shared_blocks: list[SharedBlock] = field(default_factory=list)
    num_private_blocks: int = 0
    num_registered: int = 0  # shared blocks already published in the prefix cache
    sliding_skipped: int = 0  # leading token blocks the sliding-window groups have freed (out of the window)
    num_shareable_blocks: int | None = None  # computed lazily with the hashes
    hashes: list[int] | None = None
    private_segment: Segment | None = None  # this request's freed-but-cached private chain (after preemption)

    # Output chunks as runs of consecutive engine steps: flat triples (first_step, last_step, tokens_per_step).
    token_runs: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.num_tokens = self.prompt_tokens + self.num_output

    @property
    def num_blocks(self) -> int:
        return len(self.shared_blocks) + self.num_private_blocks

    def add_chunk(self, step: int, num_tokens: int) -> None:
        """Record that engine step `step` streamed `num_tokens` tokens of this request."""
        runs = self.token_runs
        if runs and runs[-1] == num_tokens and runs[-2] == step - 1:
            runs[-2] = step
        else:
            runs += (step, step, num_tokens)
