"""CLI for `slotune deploy`: render a saved configuration for a target, with its monitoring (docs/deploy.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from slotune.cli import checks
from slotune.cli.engine_flags import build_engine_config
from slotune.cli.output import console, emit_json, err_console
from slotune.errors import InputError
from slotune.models.deploy import DeploySource
from slotune.models.reports import SavedResult
from slotune.results import load_result
from slotune.slo import resolve_slo

TARGET_HELP = (
    "vllm-cmd (serve.sh), vllm-config (vLLM's YAML config), compose, k8s, helm-values (production-stack)."
)


def read_source(path: Path) -> DeploySource:
    """A saved result that carries an engine configuration (its `deploy_source()`), or an engine YAML."""
    if path.suffix.lower() in (".yaml", ".yml"):
        engine = build_engine_config(path, {}, given_as="SOURCE")
        return DeploySource(engine_config=engine, model=engine.model, origin=f"engine config {path.name}")
    report: SavedResult = load_result(path, with_records=False)
    accessor = getattr(report, "deploy_source", None)
    source = accessor() if callable(accessor) else None
    if not isinstance(source, DeploySource):
        raise InputError(
            "source",
            str(path),
            "give a result that carries an engine configuration (slotune simulate --out, slotune bench --out) "
            "or an engine YAML",
            problem=f"a '{report.kind}' result holds no engine configuration",
        )
    return source.model_copy(update={"origin": f"{source.origin} {path.name}"})


def register(app: typer.Typer) -> None:
    """Add this module's command to the root app."""

    @app.command("deploy")
    def deploy_cmd(
        source: Path = typer.Argument(
            ...,
            help="RESULT.json (simulate, bench, tune) or CONFIG.yaml (vLLM flag names).",
            metavar="SOURCE",
        ),
        target: str = typer.Option("vllm-cmd", "--target", "-t", help=TARGET_HELP),
        replicas: int = typer.Option(
            1, "--replicas", min=1, help="Replicas to run (the autoscaler's minimum)."
        ),
        max_replicas: int | None = typer.Option(
            None, "--max-replicas", min=1, help="The autoscaler's maximum [default: 2 x --replicas]."
        ),
        out: Path | None = typer.Option(None, "--out", "-o", help="Folder for the files and the monitoring."),
        model: str | None = typer.Option(
            None, "--model", help="What vLLM serves: a Hugging Face id or a path [default: the source's]."
        ),
        model_config: str | None = typer.Option(
            None,
            "--model-config",
            help="The architecture when --model is not in the catalog: catalog id or config.json.",
        ),
        gpu: str | None = typer.Option(
            None, "--gpu", help="GPU type of the replicas [default: the source's]."
        ),
        served_model_name: str | None = typer.Option(
            None, "--served-model-name", help="The name clients and metrics use [default: --model]."
        ),
        name: str | None = typer.Option(
            None, "--name", help="Name of the objects [default: from the model]."
        ),
        vllm_version: str | None = typer.Option(
            None,
            "--vllm-version",
            help="vLLM release to deploy [default: the source's, else the newest catalogued].",
        ),
        image: str | None = typer.Option(
            None, "--image", help="Container image [default: vllm/vllm-openai:v<version>]."
        ),
        slo: str | None = typer.Option(None, "--slo", help="SLO to monitor [default: the source's]."),
        json_out: bool = typer.Option(False, "--json", help="Print the decided deployment as JSON."),
    ) -> None:
        """Render a configuration for vLLM, compose or Kubernetes, with Prometheus rules and a Grafana dashboard."""
        from slotune.deploy.build import DeployOptions, build_deployment
        from slotune.deploy.writer import deployment_files, target_files, write_files

        checks.output_folder("--out", out)
        options = DeployOptions(
            model=model,
            model_config=model_config,
            gpu=gpu,
            served_model_name=served_model_name,
            name=name,
            replicas=replicas,
            max_replicas=max_replicas,
            vllm_version=vllm_version,
            image=image,
            slo=resolve_slo(slo) if slo else None,
        )
        if max_replicas is not None and max_replicas < replicas:
            raise InputError(
                "max_replicas", max_replicas, f"give --max-replicas at least --replicas ({replicas})"
            )
        deployment = build_deployment(read_source(source), options)
        files = target_files(deployment, target)
        if out is not None:
            written = write_files(deployment_files(deployment, target), out)
        if json_out:
            emit_json(deployment)
            return
        if out is None:
            for file_name, text in files.items():
                if len(files) > 1:
                    sys.stdout.write(f"# --- {file_name} ---\n")
                sys.stdout.write(text)
            for note in deployment.notes:
                err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
            return
        console.print(f"[bold]{deployment.name}[/]: {target} for vLLM {deployment.vllm_version} in {out}")
        for path in written:
            console.print(f"  {path}", highlight=False)
        for note in deployment.notes:
            console.print(f"note: {note}", highlight=False, soft_wrap=True)
