import json
import subprocess
import sys

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
