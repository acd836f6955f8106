"""Prices through the commands that compute a cost (plan, simulate): --price, --prices, SLOTUNE_PRICES, the price
named in human and JSON output, --rank-by, the stale-price warning, and errors only where a cost is required."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from slotune.cli.main import main

AZURE = "tests/data/simulate/azure_conv_500.csv"
PLAN = ["plan", "--model", "llama-3.1-8b", "--max-model-len", "8k", "--quantization", "fp8"]
SIMULATE = ["simulate", "--model", "llama-3.1-8b", "--workload", AZURE, "--num-requests", "60"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    code = exc.value.code if isinstance(exc.value.code, int) else 0
    return code, out.out, out.err


def flat(text: str) -> str:
    """Human output with table borders and line wraps removed, so a wrapped cell reads as one line."""
    return re.sub(r"[│\s]+", " ", text)


@pytest.fixture(autouse=True)
def _no_default_prices_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLOTUNE_PRICES", raising=False)


def _prices_file(tmp_path: Path, text: str = "h100:\n  usd_per_gpu_hour: 1.90\n  provider: our cluster\n"
                 "  date: 2026-06\n  kind: reserved\n") -> Path:  # fmt: skip
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    return path


def test_plan_json_carries_the_price_and_its_source(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, *PLAN, "--gpu", "h100", "--json")
    assert code == 0
    price = json.loads(out)["cost"]["price"]
    assert (price["source"], price["usd_per_gpu_hour"], price["provider"], price["date"], price["kind"]) == (
        "catalog", 4.76, "RunPod", "2026-03", "on-demand",
    )  # fmt: skip
    code, out, _ = run(capsys, *PLAN, "--gpu", "h100", "--price", "h100=1.9", "--json")
    cost = json.loads(out)["cost"]
    assert code == 0 and cost["price"]["source"] == "--price" and cost["usd_per_hour"] == 1.9
    path = _prices_file(tmp_path)
    code, out, _ = run(capsys, *PLAN, "--gpu", "h100", "--prices", str(path), "--json")
    price = json.loads(out)["cost"]["price"]
    assert code == 0 and (price["source"], price["file"], price["kind"]) == (
        "--prices",
        str(path),
        "reserved",
    )


def test_slotune_prices_names_the_default_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLOTUNE_PRICES", str(_prices_file(tmp_path)))
    code, out, _ = run(capsys, *PLAN, "--gpu", "h100")
    assert code == 0
    assert "$1.90/GPU-h, our cluster, reserved, 2026-06 (SLOTUNE_PRICES=" in flat(out)
    other = tmp_path / "other.yaml"
    other.write_text("h100: 2.5\n")
    code, out, _ = run(capsys, *PLAN, "--gpu", "h100", "--prices", str(other), "--json")
    assert json.loads(out)["cost"]["price"]["source"] == "--prices"  # --prices replaces the default file


def test_gpu_all_ranks_priced_gpus_and_names_the_others(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *PLAN, "--gpu", "all", "-tp", "1", "--json")
    data = json.loads(out)
    assert code == 0 and data["rank_by"] == "cost" and data["unpriced_gpus"] == ["a100-40gb"]
    assert all(o["cost"]["price"]["source"] == "catalog" for o in data["options"])
    assert "derivations" not in data["options"][0]
    code, out, _ = run(capsys, *PLAN, "--gpu", "all", "-tp", "1")
    text = flat(out)
    assert "Prices used" in text and "Not ranked, no price: a100-40gb" in text and "RunPod" in text


def test_a_user_price_moves_a_gpu_up_the_ranking(capsys: pytest.CaptureFixture[str]) -> None:
    def order(*extra: str) -> list[str]:
        code, out, _ = run(capsys, *PLAN, "--gpu", "h100,l40s,mi300x", "-tp", "1", "--json", *extra)
        assert code == 0
        return [o["gpu"] for o in json.loads(out)["options"]]

    assert order() == ["mi300x", "h100-sxm", "l40s"]
    assert order("--price", "h100=1.0") == ["h100-sxm", "mi300x", "l40s"]


def test_rank_by_throughput_per_gpu_needs_no_price(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *PLAN, "--gpu", "a100-40gb,h100", "-tp", "1")
    assert code == 2 and "price='a100-40gb'" in err and "--rank-by cost ranks by price" in err
    code, out, _ = run(
        capsys, *PLAN, "--gpu", "a100-40gb,h100", "-tp", "1", "--rank-by", "throughput-per-gpu"
    )
    assert code == 0 and "most output tok/s per GPU first" in out and "No price, no $/Mtok: a100-40gb" in out
    code, _, err = run(capsys, *PLAN, "--gpu", "all", "--rank-by", "speed")
    assert code == 2 and "rank-by='speed'" in err and "throughput-per-gpu" in err


def test_no_price_says_why_and_errors_only_for_a_cost_target(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *PLAN, "--gpu", "a100-40gb")
    assert code == 0 and "none: no price for a100-40gb" in flat(out)
    code, _, err = run(capsys, *PLAN, "--gpu", "a100-40gb", "--slo", "ttft:p99<1s;cost<1")
    assert code == 2 and "the SLO has a cost target" in err and "--price GPU=USD_PER_HOUR" in err


def test_bad_price_input_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, *PLAN, "--gpu", "h100", "--price", "h100:1.9")
    assert code == 2 and "--price='h100:1.9'" in err
    bad = _prices_file(tmp_path, "h100:\n  usd_per_gpu_hour: 1.9\n  vendor: x\n")
    code, _, err = run(capsys, *PLAN, "--gpu", "h100", "--prices", str(bad))
    assert code == 2 and "h100.vendor" in err and "unknown key" in err


def test_a_stale_catalog_price_warns_on_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import slotune.catalog.prices as prices

    code, out, err = run(capsys, *PLAN, "--gpu", "h100", "--json")
    assert code == 0 and "warning" not in err and json.loads(out)["cost"]["price"]["stale"] is False
    monkeypatch.setattr(prices, "current_date", lambda: dt.date(2027, 6, 1))
    code, out, err = run(capsys, *PLAN, "--gpu", "h100", "--json")
    assert code == 0 and json.loads(out)["cost"]["price"]["stale"] is True  # stdout stays JSON
    assert "warning: the catalog price of h100-sxm" in err and "more than a year old" in err
    code, _, err = run(capsys, *PLAN, "--gpu", "h100", "--price", "h100=2", "--json")
    assert "warning" not in err  # the user's own price is not the catalog's


def test_simulate_prices_every_gpu_of_the_replica(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *SIMULATE, "--gpu", "h100", "-tp", "2", "--price", "h100=2", "--json")
    assert code == 0
    summary = json.loads(out)["result"]["summary"]
    cost = summary["cost"]
    assert cost["price"]["source"] == "--price" and cost["num_gpus"] == 2 and cost["usd_per_hour"] == 4.0
    assert cost["usd_per_mtok"] == pytest.approx(4.0 / (summary["output_tokens_per_s"] * 3600) * 1e6)
    assert cost["request_basis"] == "throughput"
    code, out, _ = run(capsys, *SIMULATE, "--gpu", "h100", "--slo", "interactive-chat")
    text = flat(out)
    assert (
        code == 0
        and "per 1,000 requests at the SLO's goodput" in text
        and "RunPod, on-demand, 2026-03" in text
    )


def test_simulate_without_a_price_runs_unless_the_slo_has_a_cost_target(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, *SIMULATE, "--gpu", "a100-40gb", "--json")
    cost = json.loads(out)["result"]["summary"]["cost"]
    assert code == 0 and cost["price"] is None and "no price for a100-40gb" in cost["missing"]
    code, _, err = run(capsys, *SIMULATE, "--gpu", "a100-40gb", "--slo", "cost<1")
    assert code == 2 and "cost target" in err
    code, out, _ = run(
        capsys, *SIMULATE, "--gpu", "a100-40gb", "--slo", "cost<1000", "--price", "a100-40gb=1", "--json"
    )
    summary = json.loads(out)["result"]["summary"]
    assert code == 0 and summary["targets"][0]["observed"] == summary["cost"]["usd_per_mtok"]
    assert summary["targets"][0]["passed"] is True
