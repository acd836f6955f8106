"""Where a section's numbers come from: versions, engine flags, hardware, seed and workload digest, as
key-value rows shown with every section."""

from __future__ import annotations

from slotune.models import RunResult
from slotune.models.reports import BenchReport, SavedResult

Rows = list[tuple[str, str]]


def _header(report: SavedResult, source: str) -> Rows:
    rows = [("file", source), ("kind", report.kind)]
    written = f"slotune {report.slotune_version or '?'}"
    if report.created_utc:
        written += f", {report.created_utc}"
    rows.append(("written by", written))
    return rows


def _engine_flags(result: RunResult) -> str:
    if result.engine_config is not None:
        return " ".join(result.engine_config.vllm_args())
    published = {
        k.removeprefix("engine."): v for k, v in result.provenance.extra.items() if k.startswith("engine.")
    }
    if result.server is not None:
        published = {**result.server.engine_info, **published}
    return ", ".join(f"{k}={v}" for k, v in sorted(published.items())) or "not recorded"


def _hardware(report: SavedResult, result: RunResult) -> str:
    p = result.provenance
    parts = []
    if isinstance(report, BenchReport) and report.gpu is not None and report.gpu.per_gpu:
        names = sorted({g.name for g in report.gpu.per_gpu})
        parts.append(f"{report.gpu.num_gpus} x {', '.join(names)}")
    elif p.gpu:
        tp = result.engine_config.tensor_parallel_size if result.engine_config is not None else 1
        parts.append(f"{tp} x {p.gpu}" if tp > 1 else p.gpu)
    if p.backend != "simulator" and (platform := p.extra.get("platform")):
        parts.append(f"client {p.extra.get('host', '')} {platform}".replace("  ", " "))
    return "; ".join(parts) or "not recorded"


def run_provenance(report: SavedResult, result: RunResult, source: str) -> Rows:
    p = result.provenance
    rows = _header(report, source)
    engine = p.engine_version or "-"
    rows += [
        ("backend", p.backend + (f" at {p.server_url}" if p.server_url else "")),
        (
            "versions",
            f"slotune {p.slotune_version}; engine {engine}"
            + (f"; python {p.extra['python']}" if "python" in p.extra else ""),
        ),
        ("model", p.model or "-"),
        ("hardware", _hardware(report, result)),
        ("engine flags", _engine_flags(result)),
        ("seed", "-" if p.seed is None else str(p.seed)),
        ("workload", p.workload_name or "-"),
        ("workload digest", p.workload_digest or "not recorded"),
        ("SLO", "none" if result.slo is None else result.slo.name),
    ]
    for key in ("command", "load", "api", "profile"):
        if key in p.extra:
            rows.append((key, p.extra[key]))
    return rows


def report_provenance(report: SavedResult, source: str, extra: Rows | None = None) -> Rows:
    """Rows for a report without a RunResult (a sweep, a workload profile)."""
    return _header(report, source) + (extra or [])
