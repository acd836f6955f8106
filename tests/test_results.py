"""Every saved result round-trips through `load_result`; files from another schema are clear errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from slotune.errors import InputError
from slotune.models.reports import BenchReport, SavedResult, SimulationReport, SweepReport, WorkloadReport
from slotune.results import REPORT_TYPES, load_result, save_result

sys.path.insert(0, str(Path(__file__).parent / "bench"))  # the loopback server for the bench samples

TOKENIZER = str(Path(__file__).parent / "data" / "tokenizers" / "qwen3" / "tokenizer.json")
AZURE = "tests/data/simulate/azure_conv_500.csv"


# A real model's context: the chatbot preset's longest requests pass the loopback server's default 4,096 tokens,
# which bench refuses before sending.
LONG_CONTEXT = 131_072


def _simulation(tmp_path: Path) -> SavedResult:
    from slotune.cli.main import main

    out = tmp_path / "sim.json"
    with pytest.raises(SystemExit) as done:
        main(["simulate", "--model", "llama-3.1-8b", "--gpu", "h100", "--workload", AZURE, "--num-requests", "40",
              "--slo", "interactive-chat", "--out", str(out), "--json"])  # fmt: skip
    assert done.value.code in (0, None)
    return load_result(out, SimulationReport)


def _bench_settings(tmp_path: Path, url: str, model: str):  # type: ignore[no-untyped-def]
    from slotune.bench import BenchSettings
    from slotune.models import LoadSpec

    return BenchSettings(
        url=url,
        model=model,
        load=LoadSpec(kind="rate", rate_rps=50.0, arrival="constant", num_requests=6),
        tokenizer=TOKENIZER,
        out_dir=tmp_path / "bench",
        thresholds=__import__("slotune.bench", fromlist=["ValidityThresholds"]).ValidityThresholds(
            max_schedule_lag_p99_s=1.0, max_loop_lag_p99_s=1.0
        ),
    )


def _bench(tmp_path: Path) -> SavedResult:
    from fake_server import Behaviour, FakeOpenAIServer

    from slotune.bench import run_bench
    from slotune.workload import synthesize

    with FakeOpenAIServer(Behaviour(max_model_len=LONG_CONTEXT)) as server:
        run_bench(
            _bench_settings(tmp_path, server.url, server.model), synthesize(preset="chatbot", num_requests=6)
        )
    return load_result(tmp_path / "bench", BenchReport)


def _sweep(tmp_path: Path) -> SavedResult:
    from fake_server import Behaviour, FakeOpenAIServer

    from slotune.bench.sweep import run_sweep
    from slotune.workload import synthesize

    with FakeOpenAIServer(Behaviour(max_model_len=LONG_CONTEXT)) as server:
        settings = _bench_settings(tmp_path, server.url, server.model)
        run_sweep(settings, synthesize(preset="chatbot", num_requests=6), [20.0, 40.0], kind="rate")
    return load_result(tmp_path / "bench", SweepReport)


def _workload(tmp_path: Path) -> SavedResult:
    from slotune.cli.main import main

    out = tmp_path / "profile.json"
    with pytest.raises(SystemExit) as done:
        main(["workload", "analyze", "tests/data/workload/mooncake_slice.jsonl", "--out", str(out), "--json"])
    assert done.value.code in (0, None)
    return load_result(out, WorkloadReport)


def _audit(tmp_path: Path) -> SavedResult:
    from slotune.cli.main import main
    from slotune.models.audit import AuditReport

    out = tmp_path / "audit.json"
    with pytest.raises(SystemExit) as done:
        main(["audit", "--engine-args", "vllm serve llama-3.1-8b --enforce-eager --no-enable-prefix-caching",
              "--requests", "tests/data/workload/mt_bench_chat_log.jsonl", "--tokenizer", TOKENIZER, "--gpu", "h100", "--fail-on", "none",
              "--out", str(out), "--json"])  # fmt: skip
    assert done.value.code in (0, None)
    report = load_result(out, AuditReport)
    assert report.findings and any(f.effect is not None for f in report.findings)
    return report


def _tune(tmp_path: Path) -> SavedResult:
    from slotune.cli.main import main
    from slotune.models.tune import TuneReport

    out = tmp_path / "tune.json"
    with pytest.raises(SystemExit) as done:
        main(["tune", "--model", "llama-3.1-8b", "--gpu", "h100", "--workload", "tests/data/azure_conv_replay_20.csv",
              "--slo", "interactive-chat", "--budget", "2", "--num-requests", "60", "--no-grid", "--tiers", "2",
              "--storage", f"sqlite:///{tmp_path / 'study.db'}", "--out", str(out), "--json"])  # fmt: skip
    assert done.value.code in (0, None)
    return load_result(out, TuneReport)


def _validation(tmp_path: Path) -> SavedResult:
    sys.path.insert(0, str(Path(__file__).parent / "validate"))
    from fake_real import ENGINE, GPU, TINY_CONFIG, FakeReal

    from slotune.models import LoadSpec
    from slotune.models.validation import ValidationReport
    from slotune.validate.api import deployment_for, validate
    from slotune.workload import synthesize

    load = LoadSpec(kind="concurrency", concurrency=2, num_requests=6)
    report = validate(
        FakeReal(load),
        deployment_for(TINY_CONFIG, GPU, None),
        synthesize(preset="chatbot", num_requests=6),
        ENGINE,
        load=load,
    )
    save_result(report, tmp_path / "validate.json")
    return load_result(tmp_path / "validate.json", ValidationReport)


SAMPLES: dict[str, Callable[[Path], SavedResult]] = {
    "simulate": _simulation,
    "bench": _bench,
    "sweep": _sweep,
    "workload": _workload,
    "audit": _audit,
    "tune": _tune,
    "validate": _validation,
}


def test_every_report_kind_has_a_round_trip_sample() -> None:
    assert set(REPORT_TYPES) == set(SAMPLES)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_round_trip(kind: str, tmp_path: Path) -> None:
    report = SAMPLES[kind](tmp_path)
    assert report.kind == kind and report.slotune_version and report.created_utc
    again = load_result(save_result(report, tmp_path / "again" / "copy.json"))
    # Saved elsewhere, its records are written beside the copy under the copy's name.
    assert again.records_file in (None, "copy.records.jsonl")
    assert again.model_copy(update={"records_file": report.records_file}) == report
    result = getattr(report, "result", None)
    if result is not None:  # records come back from the JSON lines beside the report
        assert result.records and again.result.records == result.records  # type: ignore[attr-defined]
        assert report.records_file is not None
    without = {"records_file": True, "result": {"records"}}
    assert load_result(tmp_path / "again" / "copy.json", with_records=False).model_dump(
        exclude=without
    ) == report.model_dump(exclude=without)


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_an_old_bench_summary_is_a_clear_error(tmp_path: Path) -> None:
    old = _write(tmp_path / "summary.json", {"schema": "slotune.bench.summary/1", "valid": True})
    with pytest.raises(InputError, match=r"old result format \(slotune.bench.summary/1\).*re-run") as err:
        load_result(old)
    assert err.value.exit_code == 2


def test_another_schema_version_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.json", {"kind": "simulate", "schema_version": 1, "slotune_version": "0.0.1"})
    with pytest.raises(InputError, match=r"written by slotune 0.0.1; this slotune reads schema 3") as err:
        load_result(path)
    assert "re-run `slotune simulate`" in str(err.value)


def test_unknown_kind_wrong_kind_and_garbage(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match="this slotune reads audit, bench, simulate, sweep, tune, validate, workload"
    ):
        load_result(_write(tmp_path / "a.json", {"kind": "tarot", "schema_version": 1}))
    with pytest.raises(InputError, match="not a slotune result"):
        load_result(_write(tmp_path / "b.json", {"hello": 1}))
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(InputError, match="JSON result file"):
        load_result(tmp_path / "c.json")
    with pytest.raises(InputError, match="give a result file"):
        load_result(tmp_path / "missing.json")


def test_expected_kind_and_missing_records(tmp_path: Path) -> None:
    report = _simulation(tmp_path)
    path = save_result(report, tmp_path / "x.json")
    with pytest.raises(InputError, match="give a 'bench' result here"):
        load_result(path, BenchReport)
    (tmp_path / "x.records.jsonl").unlink()
    with pytest.raises(InputError, match="keep the records file beside the result"):
        load_result(path)
    assert load_result(path, with_records=False).result.records == ()  # type: ignore[attr-defined]


def test_a_tampered_field_names_where(tmp_path: Path) -> None:
    path = save_result(_simulation(tmp_path), tmp_path / "y.json")
    data = json.loads(path.read_text())
    data["result"]["summary"]["num_requests"] = "many"
    _write(path, data)
    with pytest.raises(InputError, match=r"y.json: result.summary.num_requests"):
        load_result(path)
