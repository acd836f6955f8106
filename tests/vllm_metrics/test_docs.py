from __future__ import annotations

from pathlib import Path

from slotune.vllm_metrics import CATALOGUED_VERSIONS, catalogue, removed_metrics
from slotune.vllm_metrics.docs import render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "vllm_metrics.md"


def test_the_doc_is_the_catalogue_rendered() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/vllm_metrics.md is stale: run `python -m slotune.vllm_metrics.docs > docs/vllm_metrics.md`"
    )


def test_the_doc_names_every_family_and_every_removed_name() -> None:
    text = render_markdown()
    for version in CATALOGUED_VERSIONS:
        for family in catalogue(version).families:
            assert f"`{family.series(created=False)[0]}`" in text, family.name
    for removed in removed_metrics():
        assert f"`{removed.name}`" in text, removed.name
