"""Engine options generated from EngineConfig (slotune.cli.engine_flags): one declaration per vLLM flag."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from pydantic import Field
from typer.testing import CliRunner

from slotune.cli.engine_flag_table import (
    TABLE,
    WRITE_COMMAND,
    default_text,
    derived,
    negative_name,
    saved,
    write,
)
from slotune.cli.engine_flags import engine_options, engine_options_for
from slotune.cli.lazy import load_command
from slotune.cli.main import COMMANDS, app
from slotune.models import EngineConfig
from slotune.models.engine_config import Cli, flag_name

runner = CliRunner()
ENGINE_COMMANDS = ("plan", "simulate")


def probe(config_type: type[EngineConfig] = EngineConfig) -> tuple[typer.Typer, dict[str, Any]]:
    """A one-command app whose command only keeps the configuration it is handed."""
    probe_app = typer.Typer(add_completion=False)
    seen: dict[str, Any] = {}

    @probe_app.command()
    @engine_options_for(config_type)
    def run(model: str = typer.Option("tiny", "--model"), *, engine: EngineConfig) -> None:
        seen["engine"] = engine

    return probe_app, seen


def command(name: str) -> Any:
    """The click command typer builds (typer 0.29 carries its own click, hence no click types here)."""
    return load_command(name, COMMANDS[name])


def options(cmd: Any) -> dict[str, Any]:
    return {opt: param for param in cmd.params for opt in param.opts}


@pytest.mark.parametrize("name", ENGINE_COMMANDS)
def test_every_field_is_an_option_with_the_fields_default(name: str) -> None:
    opts = options(command(name))
    for field_name, field in EngineConfig.model_fields.items():
        flag = flag_name(field_name)
        assert flag in opts, f"{name} has no {flag}"
        if field_name == "model":
            continue  # the command's own --model
        help_text = opts[flag].help or ""  # type: ignore[attr-defined]
        assert f"[default: {default_text(field)}]" in help_text.replace("\\[", "[")
        if field.default is not None and not isinstance(field.default, bool):
            assert default_text(field) == str(field.default)
        if field.annotation is bool:
            assert flag_name(negative_name(field_name)) in opts
    assert "--config" in opts


@pytest.mark.parametrize("name", ENGINE_COMMANDS)
def test_the_commands_options_are_the_generated_ones(name: str) -> None:
    generated = {o: p for o, p in options(typer.main.get_command(probe()[0])).items() if o != "--model"}
    opts = options(command(name))
    for opt, param in generated.items():
        assert opt in opts
        assert getattr(opts[opt], "help", None) == getattr(param, "help", None)


def test_absent_flags_give_the_fields_defaults_and_given_ones_parse_like_vllm() -> None:
    probe_app, seen = probe()
    assert runner.invoke(probe_app, []).exit_code == 0
    assert seen["engine"] == EngineConfig(model="tiny")
    assert seen["engine"].model_fields_set == {"model"}
    args = ["--max-model-len", "32K", "-tp", "2", "--no-enable-prefix-caching", "--kv-cache-dtype", "fp8"]
    assert runner.invoke(probe_app, args).exit_code == 0
    engine = seen["engine"]
    assert (engine.max_model_len, engine.tensor_parallel_size, engine.kv_cache_dtype) == (32768, 2, "fp8")
    assert engine.enable_prefix_caching is False
    assert runner.invoke(probe_app, ["--enforce-eager"]).exit_code == 0 and seen["engine"].enforce_eager


def test_both_forms_of_a_boolean_is_an_input_error() -> None:
    probe_app, _ = probe()
    result = runner.invoke(probe_app, ["--enforce-eager", "--no-enforce-eager"])
    assert result.exit_code == 1 and "not both" in str(result.exception)


@pytest.mark.parametrize(
    ("args", "field", "fix"),
    [
        (["--max-num-seqs", "lots"], "max_num_seqs='lots'", "give --max-num-seqs a whole number"),
        (["--max-model-len", "0"], "max_model_len=0", "give --max-model-len a number above 0, e.g. 8192"),
        (["--kv-cache-dtype", "int4"], "kv_cache_dtype='int4'", "give --kv-cache-dtype one of 'auto'"),
        (["--gpu-memory-utilization", "1.5"], "gpu_memory_utilization=1.5", "(0, 1]"),
        (["--speculative-config", "{nope"], "speculative_config='{nope'", "num_speculative_tokens"),
    ],
)
def test_a_bad_value_names_the_field_the_value_and_the_flag(args: list[str], field: str, fix: str) -> None:
    probe_app, _ = probe()
    error = runner.invoke(probe_app, args).exception
    assert error is not None and field in str(error) and fix in str(error)


def test_config_file_under_flags_and_its_mistakes(tmp_path: Path) -> None:
    probe_app, seen = probe()
    config = tmp_path / "engine.yaml"
    config.write_text("max-num-seqs: 8\nmax_model_len: 16K\nenable-prefix-caching: false\nport: 8000\n")
    assert runner.invoke(probe_app, ["--config", str(config), "--max-num-seqs", "4"]).exit_code == 0
    engine = seen["engine"]
    assert (engine.max_num_seqs, engine.max_model_len, engine.enable_prefix_caching) == (4, 16384, False)
    config.write_text("max-num-seqz: 4\n")
    error = str(runner.invoke(probe_app, ["--config", str(config)]).exception)
    assert "max-num-seqz" in error and "did you mean 'max-num-seqs'" in error
    config.write_text("block-size: -3\n")
    error = str(runner.invoke(probe_app, ["--config", str(config)]).exception)
    assert "block_size=-3" in error and f"comes from --config {config}" in error


def test_a_new_field_becomes_an_option_with_nothing_else_to_edit() -> None:
    # docs/contributing.md's worked example: one field, and the flag exists with its default and validation.
    class WithThreshold(EngineConfig):
        long_prefill_token_threshold: Annotated[int, Cli("TOKENS")] = Field(
            default=0, ge=0, description="Prompts longer than this many tokens are long prefills (0: off)."
        )

    probe_app, seen = probe(WithThreshold)
    help_text = runner.invoke(probe_app, ["--help"], env={"COLUMNS": "120"}).stdout
    assert (
        "--long-prefill-token-threshold" in help_text
        and "TOKENS" in help_text
        and "[default: 0]" in help_text
    )
    assert runner.invoke(probe_app, ["--long-prefill-token-threshold", "256"]).exit_code == 0
    assert seen["engine"].long_prefill_token_threshold == 256
    error = runner.invoke(probe_app, ["--long-prefill-token-threshold", "-1"]).exception
    assert str(error) == (
        "long_prefill_token_threshold=-1: Input should be greater than or equal to 0. "
        "Fix: give --long-prefill-token-threshold a number of at least 0"
    )


@pytest.mark.parametrize("name", ENGINE_COMMANDS)
def test_help_at_80_columns_shows_every_flag_name_whole(name: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TERMINAL_WIDTH"} | {"COLUMNS": "80"}
    out = subprocess.run(
        [sys.executable, "-m", "slotune", name, "--help"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    for opt in options(command(name)):
        if opt.startswith("--"):
            assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", out), f"{opt} is not shown whole"


def test_simulate_refuses_what_vllm_refuses_and_lowers_what_vllm_lowers() -> None:
    base = [
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "h100",
        "--preset",
        "chatbot",
        "--num-requests",
        "5",
    ]
    out = subprocess.run(
        [sys.executable, "-m", "slotune", *base, "--max-num-batched-tokens", "16", "--max-num-seqs", "1024"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "max_num_batched_tokens=16" in out.stderr and "--max-num-seqs" in out.stderr
    result = runner.invoke(app, [*base, "--max-num-batched-tokens", "512", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["result"]["engine_config"]["max_num_seqs"] == 512


def test_engine_options_keeps_the_commands_own_options() -> None:
    @engine_options
    def cmd(
        model: str = typer.Option(..., "--model"),
        seed: int = typer.Option(0, "--seed"),
        *,
        engine: EngineConfig,
    ):
        return engine, seed

    names = [p.name for p in __import__("inspect").signature(cmd).parameters.values()]
    assert names[:2] == ["model", "seed"] and "engine" not in names and "max_num_seqs" in names


def test_the_saved_declarations_are_the_fields_own() -> None:
    # --help reads the saved table (no pydantic); it must say what EngineConfig's fields say.
    assert saved() is not None, f"{TABLE.name} is missing or stale: run `{WRITE_COMMAND}`"
    assert saved() == derived(EngineConfig), f"run `{WRITE_COMMAND}`"


def test_a_table_written_from_other_sources_is_not_used(tmp_path: Path) -> None:
    table = write(tmp_path / "flags.json")
    assert saved(table) == derived(EngineConfig)
    data = json.loads(table.read_text(encoding="utf-8"))
    data["sources_crc32"] += 1  # as after an edit of engine_config.py: the saved help may be stale
    data["flags"] = data["flags"][:2]
    table.write_text(json.dumps(data), encoding="utf-8")
    assert saved(table) is None
    assert saved(tmp_path / "missing.json") is None
