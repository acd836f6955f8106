import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from slotune.cli.main import app

runner = CliRunner()


def test_version_and_module_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "slotune", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("slotune ")


def test_unknown_command_exits_2():
    out = subprocess.run([sys.executable, "-m", "slotune", "frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "frobnicate" in out.stderr


def test_bad_slo_is_a_clear_error_with_exit_2_and_no_traceback():
    out = subprocess.run(
        [sys.executable, "-m", "slotune", "slo", "check", "ttft:p99<200"], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert "slo='ttft:p99<200'" in out.stderr and "Fix:" in out.stderr
    assert "Traceback" not in out.stderr


def test_slo_json_output():
    result = runner.invoke(app, ["slo", "check", "interactive-chat", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["canonical"] == "ttft:p99<200ms;itl:p99<50ms@0.99"
    presets = json.loads(runner.invoke(app, ["slo", "presets", "--json"]).stdout)
    assert {p["name"] for p in presets} >= {"interactive-chat", "offline-batch"}


def test_the_root_help_lists_every_command_without_importing_any():
    code = (
        "import sys; from slotune.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('slotune.cli.') or m == 'pydantic'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    from slotune.cli.main import COMMANDS

    for name in COMMANDS:
        assert f" {name} " in out
    loaded = out.split("LOADED", 1)[1]
    assert "slotune.cli.plan" not in loaded and "slotune.cli.bench" not in loaded and "pydantic" not in loaded


@pytest.mark.parametrize("command", ["plan", "simulate"])
def test_help_imports_no_model_no_yaml_and_no_unused_rich_module(command: str) -> None:
    # benchmarks/cli_startup.py: `slotune plan --help` within 0.3 s needs all of these left unloaded.
    code = (
        "import json, sys; from slotune.cli.main import main\n"
        f"try:\n    main([{command!r}, '--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "--max-num-seqs" in out and "--price" in out
    loaded = set(json.loads(out.split("LOADED", 1)[1]))
    unwanted = {"pydantic", "yaml", "numpy", "slotune.models.engine_config", "markdown_it", "rich.traceback"}
    assert not loaded & unwanted, loaded & unwanted


def test_each_listed_short_help_is_the_commands_own():
    from slotune.cli.lazy import load_command
    from slotune.cli.main import COMMANDS

    for name, entry in COMMANDS.items():
        command = load_command(name, entry)
        assert command.get_short_help_str(limit=1000) == entry.short_help, name


def test_a_path_too_long_for_the_file_system_is_bad_input_named_by_its_flag(tmp_path):
    too_long = "x" * 3000
    for args, flag in (
        (["plan", "--model", "llama-3.1-8b", "--gpu", "h100", "--prices", too_long], "--prices"),
        (["plan", "--model", too_long, "--gpu", "h100"], "model"),
        (["workload", "analyze", too_long], "path"),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "slotune", *args], capture_output=True, text=True, cwd=tmp_path
        )
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert out.stderr.startswith(f"error: {flag}="), out.stderr[:200]
        assert "Fix: " in out.stderr
