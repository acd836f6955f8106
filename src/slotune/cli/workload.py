"""CLI for `slotune workload`: analyze a trace or request log, synthesize a workload, list presets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import typer
from rich.table import Table

from slotune.cli import checks
from slotune.cli.load_options import REQUEST_LIMIT_HELP
from slotune.cli.output import console, emit_json, err_console
from slotune.load.size import DEFAULT_REQUEST_LIMIT, LIMIT_FLAG
from slotune.models import Distribution
from slotune.models.workload_stats import WorkloadStats
from slotune.workload import analyze as analyze_workload
from slotune.workload import read_workload, write_workload
from slotune.workload.presets import PRESETS
from slotune.workload.synth import synthesize

workload_app = typer.Typer(help="Phase 0: workload analysis and synthesis.", no_args_is_help=True)

JSON_HELP = "Machine-readable output on stdout only."


@contextmanager
def _working(message: str, *, quiet: bool) -> Iterator[None]:
    """A spinner on stderr while reading or tokenizing (only for a person at a terminal)."""
    show = not quiet and err_console.is_terminal
    with err_console.status(message) if show else nullcontext():
        yield


def _num(value: float | None, fmt: str = ",.0f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{unit}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _burstiness(cv: float | None) -> str:
    if cv is None:
        return "-"
    if cv < 0.8:
        return f"{cv:.2f} (more regular than Poisson)"
    if cv <= 1.25:
        return f"{cv:.2f} (about Poisson)"
    return f"{cv:.2f} (bursty)"


def _length_row(table: Table, label: str, d: Distribution) -> None:
    table.add_row(label, *(f"{v:,.0f}" for v in (d.mean, d.p50, d.p90, d.p99, d.max)))


def render_stats(s: WorkloadStats) -> None:
    overview = Table(title=f"Workload {s.name}", show_header=False, title_justify="left")
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("source", s.source)
    overview.add_row("requests", f"{s.num_requests:,}")
    if s.has_arrival_times:
        overview.add_row("duration", f"{s.duration_s:,.1f} s")
        overview.add_row("mean rate", _num(s.mean_rate_rps, ".2f", " req/s"))
        overview.add_row("peak 1-minute rate", _num(s.peak_1min_rate_rps, ".2f", " req/s"))
        overview.add_row("peak in one second", _num(s.peak_1s_requests, ",d", " requests"))
        overview.add_row("inter-arrival CV", _burstiness(s.interarrival_cv))
    else:
        overview.add_row("arrival times", "none in this file (lengths only)")
    overview.add_row("tokens in / out", f"{s.total_prompt_tokens:,} / {s.total_output_tokens:,}")
    overview.add_row("digest", s.digest[:16])
    console.print(overview)

    lengths = Table(title="Token lengths", title_justify="left")
    lengths.add_column("")
    for col in ("mean", "p50", "p90", "p99", "max"):
        lengths.add_column(col, justify="right")
    _length_row(lengths, "prompt", s.prompt_tokens)
    _length_row(lengths, "output", s.output_tokens)
    console.print(lengths)
    if s.num_output_estimated:
        measured = s.num_requests - s.num_output_estimated
        note = (
            f"{measured:,} measured outputs shown"
            if measured
            else "no output lengths in the file: the row shows the stand-in value"
        )
        console.print(
            f"[yellow]{s.num_output_estimated:,} requests have no measured output length; {note}.[/]"
        )

    reuse = s.prefix_reuse
    prefix = Table(title="Prefix reuse (arrival order)", show_header=False, title_justify="left")
    prefix.add_column(style="bold")
    prefix.add_column()
    if reuse.basis == "none":
        prefix.add_row("basis", "unknown: no prefix block ids or text in this file")
    else:
        basis = "prefix block ids" if reuse.basis == "hash_ids" else "token ids of the text"
        prefix.add_row("basis", f"{basis}, blocks of {reuse.block_size_tokens} tokens")
        prefix.add_row("unbounded cache", f"{_pct(reuse.unbounded_token_fraction)} of prompt tokens")
        prefix.add_row("unbounded cache size", f"{_num(reuse.unbounded_cache_tokens, ',d')} tokens")
        if reuse.cache_blocks is not None:
            prefix.add_row(
                f"LRU, {reuse.cache_blocks:,} blocks of {reuse.cache_block_size}",
                f"{_pct(reuse.lru_token_fraction)} of prompt tokens",
            )
    console.print(prefix)

    log = s.request_log
    if log is not None:
        table = Table(title="Request parameters", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        table.add_row("temperature > 0", f"{_pct(log.temperature_positive_fraction)} (unset counts as 1.0)")
        table.add_row("stop strings or ids", _pct(log.stop_fraction))
        table.add_row("max_tokens set", _pct(log.max_tokens_set_fraction))
        if log.max_tokens is not None:
            m = log.max_tokens
            table.add_row(
                "generated / max_tokens",
                f"median {m.used_fraction.p50:.0%}, p90 {m.used_fraction.p90:.0%}; "
                f"{m.hit_limit_fraction:.0%} hit the limit ({m.num_requests:,} requests)",
            )
        if log.system_prompt is not None:
            sp = log.system_prompt
            table.add_row(
                "shared system prompt",
                f"{sp.shared_tokens:,} tokens in {sp.shared_request_fraction:.0%} of requests "
                f"= {sp.shared_prompt_token_fraction:.0%} of prompt tokens ({sp.num_distinct} distinct)",
            )
        console.print(table)


@workload_app.command("analyze")
def analyze_cmd(
    file: Path = typer.Argument(..., help="Trace, dataset or request log.", show_default=False),
    fmt: str | None = typer.Option(None, "--format", help="Skip detection: azure-csv, mooncake-jsonl, ..."),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="tokenizer.json, needed for text."),
    block_size: int = typer.Option(16, "--block-size", help="Tokens per KV block (vLLM: 16)."),
    cache_blocks: int | None = typer.Option(None, "--cache-blocks", help="LRU prefix cache size in blocks."),
    out: Path | None = typer.Option(
        None, "--out", help="Save the analysis and its plot series (JSON) for `slotune report`."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Lengths, arrivals, burstiness, prefix reuse and request-parameter use of a workload file."""
    checks.input_file("FILE", file)
    checks.output_file_or_folder("--out", out)
    with _working(f"reading {file.name}", quiet=json_out):
        workload = read_workload(file, fmt=fmt, tokenizer_path=tokenizer)
        stats = analyze_workload(workload, block_size=block_size, cache_blocks=cache_blocks)
    saved = None
    if out is not None:
        from slotune.results import save_result
        from slotune.workload.report import workload_report

        with _working("computing plot series", quiet=json_out):
            report = workload_report(workload, stats, block_size=block_size, source_path=str(file))
        saved = save_result(report, out)
    if json_out:
        emit_json(stats)
    else:
        render_stats(stats)
        if saved is not None:
            console.print(f"result: {saved}")


@workload_app.command("synth")
def synth_cmd(
    out: Path = typer.Option(..., "--out", help="Canonical workload JSONL to write.", show_default=False),
    preset: str | None = typer.Option(None, "--preset", help=f"One of: {', '.join(PRESETS)}."),
    profile: Path | None = typer.Option(None, "--profile", help="Trace to fit lengths and arrivals to."),
    profile_format: str | None = typer.Option(None, "--profile-format", help="Format of --profile."),
    tokenizer: str | None = typer.Option(None, "--tokenizer", help="tokenizer.json, for a text --profile."),
    rate: float | None = typer.Option(
        None, "--rate", help="Requests per second (default: preset's/trace's)."
    ),
    duration: float | None = typer.Option(None, "--duration", help="Seconds of arrivals."),
    num_requests: int | None = typer.Option(None, "--num-requests", help="Number of requests."),
    arrival: str = typer.Option("poisson", "--arrival", help="poisson, gamma or constant."),
    cv: float | None = typer.Option(None, "--cv", help="Gamma inter-arrival CV (default: preset's/trace's)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same file."),
    request_limit: int = typer.Option(DEFAULT_REQUEST_LIMIT, LIMIT_FLAG, help=REQUEST_LIMIT_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Write a synthetic workload (canonical JSONL) from a preset or a profile fitted to a trace."""
    checks.check_seed(seed)
    checks.output_file("--out", out)
    checks.input_file("--profile", profile)
    with _working("synthesizing", quiet=json_out):
        source = None
        if profile is not None:
            with checks.flags_named({"--format": "--profile-format"}):
                source = read_workload(profile, fmt=profile_format, tokenizer_path=tokenizer)
        workload = synthesize(
            request_limit=request_limit,
            preset=preset,
            profile=source,
            rate_rps=rate,
            duration_s=duration,
            num_requests=num_requests,
            seed=seed,
            arrival=arrival,
            cv=cv,
        )
        write_workload(workload, out)
    summary = {
        "out": str(out),
        "name": workload.name,
        "source": workload.source,
        "num_requests": len(workload.requests),
        "duration_s": workload.duration_s,
        "hash_block_size": workload.hash_block_size,
        "digest": workload.digest,
    }
    if json_out:
        emit_json(summary)
        return
    table = Table(title=f"Wrote {out}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key in ("source", "num_requests", "duration_s", "digest"):
        value = summary[key]
        table.add_row(key, f"{value:,.1f}" if isinstance(value, float) else str(value))
    console.print(table)


@workload_app.command("presets")
def presets_cmd(json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List the synthesis presets and where their numbers come from."""
    rows = [
        {
            "name": p.name,
            "description": p.description,
            "rate_rps": p.default_rate_rps,
            "cv": p.cv,
            "prompt": p.prompt.describe(),
            "output": p.output.describe(),
            "system_prompt_tokens": p.system_prompt_tokens,
            "source": p.source,
        }
        for p in PRESETS.values()
    ]
    if json_out:
        emit_json(rows)
        return
    table = Table(title="Workload presets", title_justify="left")
    for col in ("name", "rate", "what it models"):
        table.add_column(col)
    for row in rows:
        rate_text = "batch" if row["rate_rps"] is None else f"{row['rate_rps']:g}/s"
        table.add_row(str(row["name"]), rate_text, str(row["description"]))
    console.print(table)
    for row in rows:
        console.print(f"[bold]{row['name']}[/]: {row['source']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(workload_app, name="workload")
