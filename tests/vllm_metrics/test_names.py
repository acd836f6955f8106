from __future__ import annotations

import pytest

from slotune.bench import server_metrics
from slotune.models.vllm_metrics import MetricType
from slotune.vllm_metrics import CATALOGUED_VERSIONS, catalogue, lookup, replacement_for, resolve_series
from slotune.vllm_metrics import names as vllm_names

CURRENT = {k: v for k, v in vars(vllm_names).items() if k.isupper() and not k.startswith("LEGACY_")}
LEGACY = {k: v for k, v in vars(vllm_names).items() if k.startswith("LEGACY_")}
CONDITIONAL = {"SPEC_DECODE_NUM_DRAFTS", "SPEC_DECODE_NUM_DRAFT_TOKENS", "SPEC_DECODE_NUM_ACCEPTED_TOKENS"}


@pytest.mark.parametrize("version", CATALOGUED_VERSIONS)
@pytest.mark.parametrize("constant", sorted(CURRENT))
def test_each_name_is_exposed_by_every_catalogued_version(constant: str, version: str) -> None:
    name = CURRENT[constant]
    family = lookup(name, version)
    assert family is not None, f"{constant}={name} is not in vLLM {version}'s catalogue"
    if family.type is MetricType.HISTOGRAM:
        assert name == family.name, "histogram constants name the family; readers add _bucket/_sum/_count"
    else:
        assert resolve_series(name, version) is not None, f"{constant}={name} is not a series /metrics shows"
    assert family.always_present == (constant not in CONDITIONAL), constant


@pytest.mark.parametrize("constant", sorted(LEGACY))
def test_each_legacy_name_is_one_vllm_removed_in_favour_of_the_current_one(constant: str) -> None:
    current = CURRENT[constant.removeprefix("LEGACY_")]
    replacement = replacement_for(LEGACY[constant])
    assert replacement is not None and replacement.series == current


def test_server_metrics_reads_the_names_from_here() -> None:
    assert server_metrics.RUNNING == vllm_names.NUM_REQUESTS_RUNNING
    assert server_metrics.KV_USAGE == (vllm_names.KV_CACHE_USAGE, vllm_names.LEGACY_KV_CACHE_USAGE)
    assert server_metrics.PREFIX_HITS[0] == vllm_names.PREFIX_CACHE_HITS
    assert set(server_metrics.HISTOGRAMS.values()) <= set(CURRENT.values())
    for names in server_metrics.COUNTERS.values():
        assert names[0] in CURRENT.values()
    for version in CATALOGUED_VERSIONS:
        for name in server_metrics.HISTOGRAMS.values():
            assert catalogue(version).family(name) is not None
