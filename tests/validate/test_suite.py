"""The fidelity suite's pieces: scaled workloads, the knee, MAE, contrasts and the tables."""

from __future__ import annotations

import pytest
from fake_real import ENGINE, GPU, TINY_CONFIG, FakeReal

from slotune.models import LoadSpec, RequestSpec, RunResult, Workload
from slotune.validate import suite
from slotune.validate.api import deployment_for, validate
from slotune.workload.synth import synthesize


def test_scaled_workload_keeps_prefix_blocks_that_fit() -> None:
    wl = Workload(
        name="w",
        hash_block_size=512,
        requests=(
            RequestSpec(
                request_id="a",
                arrival_s=0,
                prompt_tokens=2048,
                output_tokens=100,
                prefix_block_ids=(1, 2, 3, 4),
            ),
            RequestSpec(
                request_id="b",
                arrival_s=1,
                prompt_tokens=40000,
                output_tokens=8000,
                prefix_block_ids=tuple(range(80)),
            ),
        ),
    )
    out = suite.scaled_workload(wl, prompt_scale=1 / 16, output_scale=1 / 8, max_total_tokens=2000, name="s")
    a, b = out.requests
    assert out.hash_block_size == 32 and out.name == "s"
    assert (a.prompt_tokens, a.output_tokens, a.prefix_block_ids) == (128, 12, (1, 2, 3, 4))
    assert b.output_tokens == 1000 and b.prompt_tokens == 1000 and len(b.prefix_block_ids) == 1000 // 32
    assert all(r.prompt_tokens + r.output_tokens <= 2000 for r in out.requests)


class _Queue:
    """A fake simulator: E2E p50 flat until 4 req/s, then growing."""

    def __call__(self, load: LoadSpec) -> RunResult:
        from slotune.models import Distribution, Provenance, RunSummary

        rate = load.rate_rps or 0.0
        e2e = 1.0 if rate <= 4.0 else 1.0 + (rate - 4.0) * 10
        summary = RunSummary(
            num_requests=1, num_ok=1, num_failed=0, duration_s=1.0, request_throughput_rps=1.0, output_tokens_per_s=1.0,
            total_tokens_per_s=1.0, prompt_tokens=1, cached_prompt_tokens=0, output_tokens=1, num_preemptions=0,
            ttft_s=Distribution(count=0), itl_s=Distribution(count=0), tpot_s=Distribution(count=0),
            e2e_s=Distribution(count=1, p50=e2e),
        )  # fmt: skip
        return RunResult(provenance=Provenance(backend="fake", slotune_version="0"), summary=summary)


def test_knee_is_where_the_median_doubles() -> None:
    assert suite.knee_rate(_Queue(), 10.0) == pytest.approx(4.1, rel=0.03)


@pytest.fixture(scope="module")
def runs() -> list[suite.SuiteRun]:
    wl = synthesize(preset="chatbot", num_requests=10, seed=3)
    wl = wl.model_copy(
        update={
            "requests": tuple(
                r.model_copy(update={"prompt_tokens": 64, "output_tokens": 8}) for r in wl.requests
            )
        }
    )
    out = []
    deployment = deployment_for(TINY_CONFIG, GPU, None)
    for config, engine in (
        ("default", ENGINE),
        ("max-num-seqs-1", ENGINE.model_copy(update={"max_num_seqs": 1})),
    ):
        for level, rate in (("light", 1.0), ("saturated", 20.0)):
            load = suite.open_loop(rate, 2.0)
            rep = validate(FakeReal(load), deployment, wl, engine, load=load)
            out.append(suite.SuiteRun(config, "chat", level, rep))
    return out


def test_mae_contrasts_and_tables(runs: list[suite.SuiteRun]) -> None:
    errors = [abs(r.report.error("e2e", "mean")) for r in runs]  # type: ignore[arg-type]
    assert suite.mae(runs, "e2e") == pytest.approx(sum(errors) / len(errors))
    items = suite.contrasts(runs)
    assert {c.config for c in items} == {"max-num-seqs-1"} and len(items) == 2 * len(suite.CONTRAST_METRICS)
    saturated = next(c for c in items if c.level == "saturated" and c.metric == "e2e.mean")
    # On this CPU a decode step costs about the same per sequence batched or not (the LM head), so one sequence
    # at a time serves the queue in order and shortens the mean E2E: on the "real" engine and in the simulator.
    assert saturated.measured_ratio < 0.9 and saturated.simulated_ratio < 0.9 and saturated.direction_ok
    text = suite.mae_table(runs) + suite.run_table(runs) + suite.contrast_table(items) + suite.kv_table(runs)
    assert "| e2e mean | 5% |" in text and "max-num-seqs-1" in text and "32768" in text


def test_contrast_verdicts() -> None:
    assert suite.Contrast("c", "w", "l", "m", 1.01, 0.99).direction_ok  # both unchanged within 2 %
    assert not suite.Contrast("c", "w", "l", "m", 1.3, 0.9).direction_ok
    assert suite.Contrast("c", "w", "l", "m", 1.3, 1.4).size_ok
    assert not suite.Contrast("c", "w", "l", "m", 1.3, 1.6).size_ok
