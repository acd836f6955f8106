from __future__ import annotations

from slotune.simulate.block_manager import BlockManager
from slotune.simulate.request_state import PREEMPTED, RUNNING, SimRequest
from slotune.simulate.scheduler import Scheduler, SchedulerLimits

BS = 16


def make(
    *,
    blocks: int = 1000,
    max_num_seqs: int = 8,
    budget: int = 512,
    max_model_len: int = 4096,
    chunked: bool = True,
) -> Scheduler:
    limits = SchedulerLimits(
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=budget,
        max_model_len=max_model_len,
        enable_chunked_prefill=chunked,
    )
    return Scheduler(limits, BlockManager(blocks, BS, enable_caching=True, max_model_len=max_model_len))


def req(index: int, prompt: int, output: int = 10) -> SimRequest:
    return SimRequest(
        index=index,
        request_id=f"r{index}",
        arrival_s=float(index),
        prompt_tokens=prompt,
        max_output_tokens=output,
    )


def sample_one_token(sched: Scheduler, batch_reqs: list[SimRequest]) -> None:
    """What the engine does after a step: every request that computed all its tokens samples one."""
    for r in batch_reqs:
        if r.num_computed >= r.num_tokens:
            r.num_output += 1
            r.num_tokens += 1


def test_fcfs_admission_under_the_token_budget_with_chunking() -> None:
    sched = make(budget=512)
    a, b, c = req(0, 300), req(1, 300), req(2, 300)
    sched.waiting.extend([a, b, c])
    batch = sched.schedule()
    # a whole (300), b chunked to the remaining 212, c not admitted: the budget is spent.
    assert batch.reqs == [a, b] and batch.num_new_tokens == [300, 212]
    assert list(sched.waiting) == [c] and sched.running == [a, b]
    assert a.status == RUNNING and b.num_computed == 212
    sample_one_token(sched, batch.reqs)
    batch = sched.schedule()
    # Running first: a decodes (1), b finishes its prompt (88), then c gets the rest (423 of 300 -> 300).
    assert batch.reqs == [a, b, c] and batch.num_new_tokens == [1, 88, 300]
    assert batch.offsets == [300, 212, 0]


def test_no_chunking_waits_for_a_whole_prompt() -> None:
    sched = make(budget=512, chunked=False)
    a, b = req(0, 300), req(1, 300)
    sched.waiting.extend([a, b])
    batch = sched.schedule()
    assert batch.reqs == [a] and batch.num_new_tokens == [300]
    assert list(sched.waiting) == [b]  # 300 > 212 left: stop, do not chunk


def test_max_num_seqs_caps_running() -> None:
    sched = make(max_num_seqs=2, budget=4096)
    sched.waiting.extend([req(i, 50) for i in range(4)])
    batch = sched.schedule()
    assert len(batch.reqs) == 2 and len(sched.running) == 2 and len(sched.waiting) == 2


def test_preemption_takes_the_last_running_request_and_blocks_admission() -> None:
    # 12 usable blocks. a and b each hold 6 blocks (96 tokens): a's next token needs a 7th block.
    sched = make(blocks=13, budget=4096)
    a, b, c = req(0, 96, 50), req(1, 96, 50), req(2, 16)
    sched.waiting.extend([a, b])
    batch = sched.schedule()
    assert batch.reqs == [a, b] and sched.block_manager.num_free == 0
    sample_one_token(sched, batch.reqs)
    sched.waiting.append(c)
    batch = sched.schedule()
    # a needs a block: b (the last running) is preempted and goes to the front of the waiting queue.
    assert batch.reqs == [a] and batch.preempted == [b]
    assert b.status == PREEMPTED and b.num_computed == 0 and b.num_preemptions == 1
    assert list(sched.waiting) == [b, c]  # nothing admitted in a step that preempted
    # b's 6 full blocks went back to the free queue as its cached chain, and a's new block was taken from it,
    # evicting the chain's tail block: 5 remain for b to hit when it resumes.
    assert b.private_segment is not None and b.private_segment.count == 5
    assert sched.block_manager.lookup(b) == ([], 5)


def test_a_request_preempting_itself_is_not_scheduled() -> None:
    sched = make(blocks=8, budget=4096)  # 7 usable blocks
    a = req(0, 112, 50)  # exactly 7 blocks
    sched.waiting.append(a)
    batch = sched.schedule()
    assert batch.reqs == [a]
    sample_one_token(sched, batch.reqs)
    batch = sched.schedule()
    assert batch.reqs == [] and batch.preempted == [a]


def test_max_model_len_clamps_the_tokens_of_a_step() -> None:
    sched = make(max_model_len=100, budget=4096)
    a = req(0, 95, 5)
    sched.waiting.append(a)
    sched.schedule()
    a.num_output, a.num_tokens, a.num_computed = 4, 99, 98
    a.num_spec_tokens = 3  # drafts would run past max_model_len - 1
    batch = sched.schedule()
    assert batch.num_new_tokens == [1]


def test_head_blocked_only_for_lasting_reasons() -> None:
    sched = make(blocks=9, budget=4096)  # 8 usable
    a = req(0, 96, 50)
    sched.waiting.append(a)
    sched.schedule()
    sample_one_token(sched, [a])
    big = req(1, 60)  # needs 4 blocks, 2 free
    sched.waiting.append(big)
    assert sched.head_is_blocked()
    small = req(2, 20)
    sched.waiting[0] = small  # needs 2 blocks, 2 free (a's next block needs none until token 112)
    assert not sched.head_is_blocked()


def test_running_requests_verify_drafts_and_reserve_lookahead_blocks() -> None:
    limits = SchedulerLimits(
        max_num_seqs=8, max_num_batched_tokens=512, max_model_len=4096, enable_chunked_prefill=True,
        num_spec_tokens=3, num_lookahead_tokens=3,
    )  # fmt: skip
    sched = Scheduler(limits, BlockManager(100, BS, enable_caching=True, max_model_len=4096))
    a = req(0, 62)
    sched.waiting.append(a)
    sched.schedule()
    # The prompt's chunk reserves the lookahead too (vLLM passes num_lookahead_tokens when it admits a waiting
    # request: Scheduler.schedule -> allocate_slots): 62 + 3 = 65 tokens, 5 blocks.
    assert a.num_blocks == 5
    a.num_output, a.num_tokens, a.num_spec_tokens = 1, 63, 3
    batch = sched.schedule()
    # The sampled token plus 3 drafts are verified; slots for 3 more lookahead tokens: 62 + 4 + 3 = 69.
    assert batch.num_new_tokens == [4]
    assert a.num_blocks == 5
    a.num_computed, a.num_output, a.num_tokens = 78, 17, 79
    sched.schedule()
    assert a.num_blocks == 6  # 78 + 4 + 3 = 85 tokens
