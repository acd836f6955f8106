"""CLI for `slotune audit`: the anti-pattern checklist over whatever evidence of a deployment is at hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from slotune.audit import AuditInputs
from slotune.cli.output import console, emit_json
from slotune.cli.signature import OptionTable, option_group
from slotune.errors import InputError
from slotune.models.audit import SEVERITIES, AuditReport

FORMATS = ("text", "json", "sarif", "markdown")
FAIL_ON = (*SEVERITIES, "none")
EXIT_FINDINGS = 1
_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
PANEL = "Evidence (any subset)"


def _render_text(report: AuditReport) -> None:
    from slotune.audit.render import text_lines

    for line in text_lines(report):
        style = next((_STYLE[s] for s in SEVERITIES if line.startswith(f"[{s.upper()}]")), "")
        console.print(Text(line, style=style), soft_wrap=True)


def _write_out(report: AuditReport, out: Path) -> Path:
    """--out: SARIF for .sarif(.json), Markdown for .md, otherwise the saved result (`slotune report` reads it)."""
    from slotune.audit.render import markdown, sarif
    from slotune.results import save_result

    name = out.name.lower()
    if name.endswith((".sarif", ".sarif.json")):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(sarif(report), indent=1) + "\n", encoding="utf-8")
        return out
    if name.endswith(".md"):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(markdown(report), encoding="utf-8")
        return out
    return save_result(report, out)


def _list_rules(as_json: bool) -> None:
    from slotune.audit import RULES
    from slotune.audit.render import doc_path

    rows = [
        {
            "id": r.id,
            "layer": r.layer,
            "title": r.title,
            "checks": r.summary,
            "needs": [list(g) for g in r.needs],
            "docs": doc_path(r.id),
        }
        for r in RULES
    ]
    if as_json:
        emit_json(rows)
        return
    table = Table(title=f"{len(rows)} audit rules", title_justify="left")
    table.add_column("id", no_wrap=True)
    for column in ("layer", "checks", "needs"):
        table.add_column(column)
    for r in RULES:
        needs = " and ".join(" or ".join(group) for group in r.needs) or "-"
        table.add_row(r.id, r.layer, r.summary, needs)
    console.print(table)


EVIDENCE_OPTIONS: OptionTable = {
    "engine_args": (
        str | None,
        typer.Option(
            None,
            "--engine-args",
            help='vLLM command line or flags: "vllm serve M --max-model-len 8192 ...".',
            rich_help_panel=PANEL,
        ),
    ),
    "config": (
        Path | None,
        typer.Option(
            None, "--config", help="vLLM YAML config file (flag names as keys).", rich_help_panel=PANEL
        ),
    ),
    "requests": (
        Path | None,
        typer.Option(
            None,
            "--requests",
            help="Request log or trace (OpenAI request-log JSONL, any `workload analyze` format).",
            rich_help_panel=PANEL,
        ),
    ),
    "requests_format": (
        str | None,
        typer.Option(
            None, "--requests-format", help="Format of --requests (default: detected).", rich_help_panel=PANEL
        ),
    ),
    "tokenizer": (
        str | None,
        typer.Option(
            None,
            "--tokenizer",
            help="tokenizer.json, for a request log without usage.prompt_tokens.",
            rich_help_panel=PANEL,
        ),
    ),
    "sample_requests": (
        int,
        typer.Option(
            2000,
            "--sample-requests",
            help="Requests whose text is analyzed (the first ones); lengths use all.",
            rich_help_panel=PANEL,
        ),
    ),
    "metrics": (
        str | None,
        typer.Option(
            None,
            "--metrics",
            help="A server's /metrics URL, or a file holding a scrape.",
            rich_help_panel=PANEL,
        ),
    ),
    "bench": (
        list[Path],
        typer.Option(
            [], "--bench", help="A saved `slotune bench` result (repeatable).", rich_help_panel=PANEL
        ),
    ),
    "k8s": (
        list[Path],
        typer.Option([], "--k8s", help="Kubernetes manifest YAML (repeatable).", rich_help_panel=PANEL),
    ),
    "prometheus_rules": (
        list[Path],
        typer.Option(
            [], "--prometheus-rules", help="Prometheus rule file (repeatable).", rich_help_panel=PANEL
        ),
    ),
    "grafana": (
        list[Path],
        typer.Option([], "--grafana", help="Grafana dashboard JSON (repeatable).", rich_help_panel=PANEL),
    ),
    "slo": (
        str | None,
        typer.Option(
            None, "--slo", help="SLO preset or expression the deployment is held to.", rich_help_panel=PANEL
        ),
    ),
    "gpu": (
        str | None,
        typer.Option(
            None,
            "--gpu",
            help="Catalog GPU the deployment runs on (enables estimates).",
            rich_help_panel=PANEL,
        ),
    ),
    "num_gpus": (
        int | None,
        typer.Option(None, "--num-gpus", help="GPUs one replica gets (with --gpu).", rich_help_panel=PANEL),
    ),
    "model": (
        str | None,
        typer.Option(
            None,
            "--model",
            help="Catalog model, HF id or config.json (default: the engine's model).",
            rich_help_panel=PANEL,
        ),
    ),
    "vllm_python": (
        Path | None,
        typer.Option(
            None,
            "--vllm-python",
            help="Python of the installed vLLM: flags are checked against its own parser.",
            rich_help_panel=PANEL,
        ),
    ),
    "vllm_version": (
        str | None,
        typer.Option(
            None,
            "--vllm-version",
            help="vLLM version to judge flags and metric names against.",
            rich_help_panel=PANEL,
        ),
    ),
}


def _inputs(
    *, bench: list[Path], k8s: list[Path], prometheus_rules: list[Path], grafana: list[Path], **given: Any
) -> AuditInputs:
    return AuditInputs(
        bench=tuple(bench),
        k8s=tuple(k8s),
        prometheus_rules=tuple(prometheus_rules),
        grafana=tuple(grafana),
        **given,
    )


@option_group("inputs", EVIDENCE_OPTIONS, _inputs)
def audit_cmd(
    inputs: AuditInputs,
    fmt: str = typer.Option("text", "--format", help=f"Output on stdout: {', '.join(FORMATS)}."),
    json_out: bool = typer.Option(False, "--json", help="Same as --format json."),
    fail_on: str = typer.Option(
        "low", "--fail-on", help=f"Exit 1 when a finding is at or above: {', '.join(FAIL_ON)}."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Also write: .sarif -> SARIF, .md -> Markdown, else the saved result."
    ),
    list_rules: bool = typer.Option(
        False, "--list-rules", help="List the rules and the evidence each needs, then exit."
    ),
) -> None:
    """Audit a vLLM deployment for the seed's anti-patterns; every rule runs on the evidence it needs.

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 bad input.
    """
    from slotune.audit import audit
    from slotune.audit.render import markdown, sarif

    fmt = "json" if json_out else fmt.strip().lower()
    if fmt not in FORMATS:
        raise InputError("--format", fmt, f"use one of {', '.join(FORMATS)}")
    fail = fail_on.strip().lower()
    if fail not in FAIL_ON:
        raise InputError("--fail-on", fail_on, f"use one of {', '.join(FAIL_ON)}")
    if list_rules:
        _list_rules(fmt == "json")
        return
    report = audit(inputs)
    saved = _write_out(report, out) if out is not None else None
    if fmt == "json":
        emit_json(report)
    elif fmt == "sarif":
        emit_json(sarif(report))
    elif fmt == "markdown":
        typer.echo(markdown(report))
    else:
        _render_text(report)
        if saved is not None:
            console.print(f"written: {saved}", highlight=False)
    if fail != "none" and report.at_or_above(fail):  # type: ignore[arg-type]
        raise typer.Exit(EXIT_FINDINGS)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_cmd)
