from __future__ import annotations

from fake_server import Behaviour, FakeOpenAIServer

from slotune.backend import Backend
from slotune.bench import HttpBackend
from slotune.models import EngineConfig, RequestSpec, Workload


def test_http_backend_replays_a_workload_into_request_records(tokenizer_path: str) -> None:
    workload = Workload(
        name="tiny",
        requests=tuple(
            RequestSpec(request_id=f"q{i}", arrival_s=0.02 * i, prompt_tokens=12 + i, output_tokens=3 + i)
            for i in range(5)
        ),
    )
    with FakeOpenAIServer(Behaviour(token_delay_s=0.001)) as server:
        backend = HttpBackend(server.url, server.model, tokenizer=tokenizer_path, api_key="never-shown")
        assert isinstance(backend, Backend) and backend.name == "http"
        assert "never-shown" not in repr(backend)
        result = backend.run(workload, EngineConfig(model=server.model, max_num_seqs=8))
    assert result.num_requests == 5 and len(result.records) == 5
    assert result.engine_config is not None and result.engine_config.max_num_seqs == 8
    by_id = {r.request_id: r for r in result.records}
    for spec in workload.requests:
        r = by_id[spec.request_id]
        assert r.ok and r.prompt_tokens == spec.prompt_tokens and r.output_tokens == spec.output_tokens
    starts = sorted(r.arrival_s for r in result.records)
    assert starts[-1] - starts[0] > 0.06  # replayed at the workload's own times (0.08 s span)
    assert result.provenance.backend == "http" and result.provenance.server_url.startswith("http://127.0.0.1")
    assert result.validity is not None and result.summary.num_requests == 5
    assert result.slo is None and result.summary.slo_met is None
