"""Every registered rule has its documentation page, with the four parts a reader needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from slotune.audit import RULES
from slotune.audit.render import doc_path

ROOT = Path(__file__).parents[2]
SECTIONS = ("## What", "## Why", "## Evidence", "## Fix")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_has_a_page_with_what_why_evidence_and_fix(rule) -> None:  # type: ignore[no-untyped-def]
    page = ROOT / doc_path(rule.id)
    assert page.is_file(), f"write {page.relative_to(ROOT)}"
    text = page.read_text(encoding="utf-8")
    assert text.startswith(f"# {rule.id}"), "the page's title is the rule id"
    positions = [text.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), f"sections in order: {SECTIONS}"
    assert f"layer: {rule.layer}" in text


def test_no_page_for_a_rule_that_does_not_exist() -> None:
    pages = {p.stem for p in (ROOT / "docs" / "audit").glob("*.md")}
    assert pages == {r.id for r in RULES}


def test_the_index_lists_every_rule() -> None:
    index = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"]({doc_path(rule.id).removeprefix('docs/')})" in index, rule.id
