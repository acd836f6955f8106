"""Blocks of generated tokens are cached, so a multi-turn follow-up that re-sends an answer hits them.

vLLM: v1/core/sched/scheduler.py calls KVCacheManager.cache_blocks for every computed token, output included
(AsyncScheduler._update_request_with_output caches the new tokens of each step), and a finished request's full
blocks stay in block_pool's cached_block_hash_to_block until evicted; the follow-up's prompt hashes to the same
chain (kv_cache_utils.hash_block_tokens over token ids), prompt and answer alike.
"""

from __future__ import annotations

from slotune.models import EngineConfig, RequestSpec, Workload
from slotune.simulate import Simulator
from slotune.simulate.follow_ups import follow_up_outputs

CONFIG = EngineConfig(max_model_len=4096)


def turn(request_id: str, arrival_s: float, ids: tuple[int, ...], output: int) -> RequestSpec:
    return RequestSpec(
        request_id=request_id,
        arrival_s=arrival_s,
        prompt_tokens=len(ids),
        output_tokens=output,
        prompt_token_ids=ids,
    )


FIRST = tuple(range(1000, 1100))  # 100 prompt tokens
ANSWER = tuple(range(5000, 5040))  # the 40 tokens the first turn answered
SECOND = FIRST + ANSWER + tuple(range(7000, 7030))  # turn 2 re-sends turn 1 and its answer (170 tokens)


def test_the_tokens_a_follow_up_re_sends_are_the_earlier_requests_output() -> None:
    other = turn(
        "other", 0.5, tuple(range(1000, 1050)) + (9,) * 60, 5
    )  # shares a prefix, not the whole prompt
    outputs = follow_up_outputs([turn("a", 0.0, FIRST, 40), other, turn("b", 9.0, SECOND, 10)])
    assert outputs == {"a": ANSWER}
    assert follow_up_outputs([turn("a", 0.0, FIRST, 8), turn("b", 9.0, SECOND, 10)]) == {"a": ANSWER[:8]}


def test_a_follow_up_hits_the_blocks_of_the_answer_it_re_sends(make_sim) -> None:
    sim: Simulator = make_sim()
    a, b = sim.run(
        Workload(name="chat", requests=(turn("a", 0.0, FIRST, 40), turn("b", 9.0, SECOND, 10))), CONFIG
    ).records
    # 140 tokens of turn 1 (prompt + answer) = 8 full blocks: 128 tokens; the prompt alone has 6 (96 tokens).
    assert b.cached_prompt_tokens == 128
    assert a.output_tokens == 40
    # Without token ids nothing says what turn 1 answered: its answer's blocks are its own.
    lengths = tuple(
        r.model_copy(update={"prompt_token_ids": None})
        for r in (turn("a", 0.0, FIRST, 40), turn("b", 9.0, SECOND, 10))
    )
    assert sim.run(Workload(name="chat", requests=lengths), CONFIG).records[1].cached_prompt_tokens == 0


def test_follow_ups_keep_the_fast_path_exact(make_sim) -> None:
    requests = []
    for conv in range(40):
        first = tuple(range(conv * 10_000, conv * 10_000 + 300 + conv * 7))
        answer = tuple(range(conv * 10_000 + 5000, conv * 10_000 + 5000 + 150))
        requests.append(turn(f"c{conv}a", conv * 0.2, first, 150))
        requests.append(turn(f"c{conv}b", 30.0 + conv * 0.2, first + answer + (1, 2, 3) * 20, 80))
    wl = Workload(name="chat", requests=tuple(sorted(requests, key=lambda r: r.arrival_s)))
    # 40 conversations of about 37 blocks each stay cached in 2,500 blocks.
    fast: Simulator = make_sim(num_gpu_blocks=2500)
    slow: Simulator = make_sim(num_gpu_blocks=2500, fast_forward=False)
    fast_result, slow_result = fast.run(wl, CONFIG), slow.run(wl, CONFIG)
    assert fast_result.records == slow_result.records
    assert fast_result.timeline == slow_result.timeline
    follow_ups = [r for r in fast_result.records if r.request_id.endswith("b")]
    assert sum(r.cached_prompt_tokens for r in follow_ups) > 40 * 300  # past the first prompts: answers too
