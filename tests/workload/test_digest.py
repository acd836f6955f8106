from pathlib import Path

from slotune.models import RequestSpec, Workload
from slotune.workload import read_workload, synthesize, write_workload
from slotune.workload.digest import with_digest, workload_digest


def _round_trip(workload: Workload, path: Path) -> Workload:
    write_workload(workload, path)
    return read_workload(path)


def test_a_synthesized_workload_and_its_file_have_one_digest(tmp_path: Path):
    w = synthesize(preset="chatbot", num_requests=200, seed=3)
    assert w.digest and w.digest == workload_digest(w.model_copy(update={"digest": ""}))
    assert _round_trip(w, tmp_path / "w.jsonl").digest == w.digest


def test_a_simulated_run_records_the_digest_of_the_workload_file_it_read(tmp_path: Path):
    from slotune.models import EngineConfig, LoadSpec
    from slotune.simulate.api import simulate

    trace = synthesize(preset="chatbot", num_requests=300, seed=4)
    read_back = _round_trip(trace, tmp_path / "trace.jsonl")
    load = LoadSpec(kind="rate", rate_rps=5.0, num_requests=50)
    result = simulate("llama-3.1-8b", "h100", read_back, EngineConfig(), load=load).result
    # The load cuts and times the requests; the digest names the workload they were drawn from.
    assert result.provenance.workload_digest == trace.digest
    assert result.load == load and result.num_requests == 50


def test_names_and_sources_do_not_change_the_digest_and_requests_do():
    spec = RequestSpec(request_id="a", arrival_s=0.0, prompt_tokens=10, output_tokens=5)
    w = with_digest(Workload(name="x", requests=(spec,), source="here"))
    renamed = with_digest(w.model_copy(update={"name": "y", "source": "there"}))
    longer = with_digest(Workload(name="x", requests=(spec.model_copy(update={"prompt_tokens": 11}),)))
    other_blocks = with_digest(w.model_copy(update={"hash_block_size": 32}))
    assert renamed.digest == w.digest
    assert len({w.digest, longer.digest, other_blocks.digest}) == 3
