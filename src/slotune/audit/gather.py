"""From what the user gave (files, URLs, names) to the Evidence the rules read.

Engine flags come from --engine-args or --config; without either, from the vLLM container of --k8s manifests,
else from the server a --bench result launched. The vLLM version that flags and metric names are judged
against comes from --vllm-version, else the installed vLLM (--vllm-python), else a --bench result, else the
newest version slotune catalogues (said in the report's notes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from slotune.audit.engine_args import (
    EngineArgs,
    engine_args_from_argv,
    engine_args_from_config_file,
    engine_args_from_text,
)
from slotune.audit.evidence import BenchEvidence, Evidence
from slotune.audit.k8s import Manifests, read_manifests
from slotune.audit.metrics import scrape_metrics
from slotune.audit.monitoring_files import read_dashboard, read_rule_file
from slotune.audit.request_log import DEFAULT_SAMPLE_SIZE, read_request_log
from slotune.errors import InputError, SlotuneError
from slotune.launch.flags import ParserSpec, load_parser_spec
from slotune.models import ModelSpec
from slotune.models.audit import EvidenceKind
from slotune.models.reports import BenchReport, SavedResult, SweepReport
from slotune.results import load_result
from slotune.vllm_metrics import CATALOGUED_VERSIONS, catalogued_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditInputs:
    """What `slotune audit` was given; every field optional."""

    engine_args: str | None = None
    config: Path | None = None
    requests: Path | None = None
    requests_format: str | None = None
    tokenizer: str | None = None
    sample_requests: int = DEFAULT_SAMPLE_SIZE
    metrics: str | None = None
    bench: tuple[Path, ...] = ()
    k8s: tuple[Path, ...] = ()
    prometheus_rules: tuple[Path, ...] = ()
    grafana: tuple[Path, ...] = ()
    slo: str | None = None
    gpu: str | None = None
    num_gpus: int | None = None
    model: str | None = None
    vllm_python: Path | None = None
    vllm_version: str | None = None


@dataclass
class _Notes:
    lines: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        log.info(text)
        self.lines.append(text)


def _bench_reports(paths: tuple[Path, ...]) -> list[BenchEvidence]:
    """Each --bench result; a sweep stands for the bench results of its levels."""
    found: list[BenchEvidence] = []
    for path in paths:
        report: SavedResult = load_result(path, with_records=True)
        if isinstance(report, BenchReport):
            found.append(BenchEvidence(str(path), report))
        elif isinstance(report, SweepReport):
            base = path if path.is_dir() else path.parent
            for point in report.points:
                if point.result_path is not None:
                    level = load_result(base / point.result_path, BenchReport)
                    found.append(BenchEvidence(f"{path} (level {point.level:g})", level))
        else:
            raise InputError(
                "--bench",
                str(path),
                "give a result written by slotune bench (or a bench sweep)",
                problem=f"a '{report.kind}' result",
            )
    return found


def _engine(
    inputs: AuditInputs, parser: ParserSpec | None, manifests: Manifests | None, bench: list[BenchEvidence]
) -> EngineArgs | None:
    if inputs.engine_args is not None and inputs.config is not None:
        raise InputError(
            "--config", str(inputs.config), "give the engine flags once: --engine-args or --config, not both"
        )
    if inputs.engine_args is not None:
        return engine_args_from_text(inputs.engine_args, parser=parser)
    if inputs.config is not None:
        return engine_args_from_config_file(inputs.config, parser=parser)
    if manifests is not None:
        c = manifests.containers[0]
        return engine_args_from_argv(c.argv, f"{c.file}: {c.owner} container {c.name}", parser=parser)
    for b in bench:
        launch = b.report.result.launch
        if launch is not None:
            return engine_args_from_argv(
                launch.argv, f"{b.source}: the launched server's command line", parser=parser
            )
    return None


def _model(inputs: AuditInputs, engine: EngineArgs | None, notes: _Notes) -> ModelSpec | None:
    from slotune.catalog import get_model

    if inputs.model is not None:
        return get_model(inputs.model)
    name = engine.config.model if engine is not None else ""
    if not name:
        return None
    try:
        return get_model(name)
    except SlotuneError:
        notes.add(
            f"the engine's model {name!r} is not in slotune's catalog: give --model (a catalog id or a config.json) for the model rules and estimates"
        )
        return None


def _version(
    inputs: AuditInputs, parser: ParserSpec | None, bench: list[BenchEvidence], notes: _Notes
) -> tuple[str, str]:
    candidates: list[tuple[str, str]] = []
    if inputs.vllm_version:
        candidates.append((inputs.vllm_version, "--vllm-version"))
    if parser is not None:
        candidates.append((parser.vllm_version, f"the installed vLLM ({inputs.vllm_python})"))
    for b in bench:
        launch = b.report.result.launch
        if launch is not None:
            candidates.append((launch.vllm_version, b.source))
        engine = b.report.result.provenance.engine_version
        if engine.startswith("vllm "):
            candidates.append((engine.split()[1], b.source))
    for version, source in candidates:
        try:
            return catalogued_version(version), source
        except InputError:
            if source == "--vllm-version":
                raise
            notes.add(
                f"vLLM {version} ({source}) has no metric catalogue in this slotune; metric names judged against {CATALOGUED_VERSIONS[-1]}"
            )
            return CATALOGUED_VERSIONS[-1], f"nearest catalogued version to {version}"
    newest = CATALOGUED_VERSIONS[-1]
    notes.add(
        f"no vLLM version given (--vllm-version or --vllm-python): flags and metric names judged against vLLM {newest}"
    )
    return newest, "the newest vLLM slotune catalogues"


def gather(inputs: AuditInputs) -> tuple[Evidence, list[str]]:
    """The evidence, and notes on what was assumed or could not be used."""
    from slotune.catalog import get_gpu
    from slotune.slo import resolve_slo

    notes = _Notes()
    sources: dict[EvidenceKind, str] = {}
    parser = load_parser_spec(inputs.vllm_python) if inputs.vllm_python is not None else None
    if parser is not None:
        sources["vllm"] = f"vLLM {parser.vllm_version} at {inputs.vllm_python}"
    bench = _bench_reports(inputs.bench)
    manifests = read_manifests(list(inputs.k8s)) if inputs.k8s else None
    engine = _engine(inputs, parser, manifests, bench)
    if engine is not None:
        sources["engine"] = engine.source
    model = _model(inputs, engine, notes)
    gpu = get_gpu(inputs.gpu) if inputs.gpu is not None else None
    if inputs.num_gpus is not None and inputs.num_gpus < 1:
        raise InputError(
            "--num-gpus", inputs.num_gpus, "give the number of GPUs one replica gets (1 or more)"
        )
    block_size = engine.config.block_size if engine is not None else 16
    requests = None
    if inputs.requests is not None:
        try:
            requests = read_request_log(
                inputs.requests,
                fmt=inputs.requests_format,
                tokenizer_path=inputs.tokenizer,
                sample_size=inputs.sample_requests,
                block_size=block_size,
            )
        except InputError as exc:  # the workload readers' --format is audit's --requests-format
            raise exc.with_flags({"--format": "--requests-format"}) from exc
    metrics = scrape_metrics(inputs.metrics) if inputs.metrics is not None else None
    rule_files = tuple(read_rule_file(p) for p in inputs.prometheus_rules)
    dashboards = tuple((str(p), read_dashboard(p)) for p in inputs.grafana)
    version, version_source = _version(inputs, parser, bench, notes)
    for kind, value in (
        ("requests", inputs.requests),
        ("metrics", metrics.source if metrics else None),
        ("k8s", ", ".join(map(str, inputs.k8s))),
        ("prometheus_rules", ", ".join(map(str, inputs.prometheus_rules))),
        ("grafana", ", ".join(map(str, inputs.grafana))),
        ("bench", ", ".join(b.source for b in bench)),
        ("slo", inputs.slo),
        ("gpu", inputs.gpu and f"--gpu {inputs.gpu}" + (f" x{inputs.num_gpus}" if inputs.num_gpus else "")),
        ("model", model.name if model is not None else None),
    ):
        if value:
            sources[kind] = str(value)  # type: ignore[index]
    evidence = Evidence(
        engine=engine,
        requests=requests,
        metrics=metrics,
        bench=tuple(bench),
        k8s=manifests,
        prometheus_rules=rule_files,
        grafana=dashboards,
        slo=resolve_slo(inputs.slo) if inputs.slo is not None else None,
        gpu=gpu,
        num_gpus=inputs.num_gpus,
        model=model,
        parser=parser,
        vllm_version=version,
        vllm_version_source=version_source,
        sources=sources,
    )
    return evidence, notes.lines
