from pathlib import Path

from slotune.models import RequestSpec, Workload
from slotune.simulate.api import select_workload
from slotune.workload import read_workload, synthesize, write_workload
from slotune.workload.digest import with_digest, workload_digest


def _round_trip(workload: Workload, path: Path) -> Workload:
    write_workload(workload, path)
    return read_workload(path)


def test_a_synthesized_workload_and_its_file_have_one_digest(tmp_path: Path):
    w = synthesize(preset="chatbot", num_requests=200, seed=3)
    assert w.digest and w.digest == workload_digest(w.model_copy(update={"digest": ""}))
    assert _round_trip(w, tmp_path / "w.jsonl").digest == w.digest


def test_a_selection_of_a_trace_gets_the_digest_of_its_own_requests(tmp_path: Path):
    trace = synthesize(preset="chatbot", num_requests=300, seed=4)
    for selected in (
        select_workload(trace, rate_rps=5.0, duration_s=None, num_requests=None),
        select_workload(trace, rate_rps=None, duration_s=10.0, num_requests=None),
        select_workload(trace, rate_rps=None, duration_s=None, num_requests=50),
    ):
        assert selected.digest and selected.digest != trace.digest
        assert _round_trip(selected, tmp_path / "sel.jsonl").digest == selected.digest


def test_names_and_sources_do_not_change_the_digest_and_requests_do():
    spec = RequestSpec(request_id="a", arrival_s=0.0, prompt_tokens=10, output_tokens=5)
    w = with_digest(Workload(name="x", requests=(spec,), source="here"))
    renamed = with_digest(w.model_copy(update={"name": "y", "source": "there"}))
    longer = with_digest(Workload(name="x", requests=(spec.model_copy(update={"prompt_tokens": 11}),)))
    other_blocks = with_digest(w.model_copy(update={"hash_block_size": 32}))
    assert renamed.digest == w.digest
    assert len({w.digest, longer.digest, other_blocks.digest}) == 3
