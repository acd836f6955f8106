"""The Backend contract: the simulator and a real server (over HTTP) fill the same typed result."""

from __future__ import annotations

from fake_server import Behaviour, FakeOpenAIServer

from slotune.backend import Backend
from slotune.bench import HttpBackend
from slotune.catalog import get_gpu, get_model
from slotune.models import EngineConfig, RequestSpec, RunResult, Workload
from slotune.simulate import Simulator
from slotune.slo import resolve_slo

SLO = resolve_slo("ttft:p99<2s;itl:p99<500ms@0.9")


def _workload() -> Workload:
    return Workload(
        name="contract",
        requests=tuple(
            RequestSpec(request_id=f"c{i}", arrival_s=0.01 * i, prompt_tokens=20 + i, output_tokens=4)
            for i in range(12)
        ),
    )


def filled(model: object) -> set[str]:
    """The fields a result actually says something about."""
    return {k for k, v in model.model_dump().items() if v is not None}  # type: ignore[attr-defined]


def check_same_contract(simulated: RunResult, measured: RunResult) -> None:
    assert filled(simulated.summary) - {"quantile_relative_error"} == filled(measured.summary)
    for result in (simulated, measured):
        s = result.summary
        assert s.num_requests == 12 and s.slo_name == SLO.name and s.slo_met is not None
        assert s.slo_attainment is not None and s.goodput_rps is not None
        assert {t.metric for t in s.targets} == {"ttft", "itl"}
        assert result.slo == SLO
    assert simulated.engine is not None and measured.engine is not None
    assert simulated.engine.source == "simulator" and measured.engine.source == "server-metrics"
    # The engine's own view: the same fields from the simulator's counters and the server's /metrics.
    assert filled(simulated.engine) == filled(measured.engine)
    assert simulated.engine.generation_tokens == measured.engine.generation_tokens == 12 * 4
    # Only the simulator says how it stepped; only a measured run has a client and a validity verdict.
    assert simulated.simulator is not None and measured.simulator is None
    assert measured.client is not None and measured.validity is not None and simulated.validity is None


def test_simulator_and_http_backend_return_the_same_contract(tokenizer_path: str) -> None:
    workload = _workload()
    config = EngineConfig(max_model_len=2048)
    sim = Simulator(get_model("llama-3.1-8b"), get_gpu("h100"))
    assert isinstance(sim, Backend)
    simulated = sim.run(workload, config, slo=SLO)
    with FakeOpenAIServer(Behaviour(token_delay_s=0.001)) as server:
        backend = HttpBackend(server.url, server.model, tokenizer=tokenizer_path)
        assert isinstance(backend, Backend)
        measured = backend.run(workload, config, slo=SLO)
    check_same_contract(simulated, measured)
    assert measured.engine is not None and measured.engine.kv_capacity_tokens == 2048 * 16
