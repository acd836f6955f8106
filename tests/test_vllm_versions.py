"""vLLM releases and their rules (slotune.vllm_versions)."""

from __future__ import annotations

import pytest

from slotune.catalog import load_profile
from slotune.errors import InputError
from slotune.models import HardwareProfile
from slotune.vllm_versions import DEFAULT_VLLM_VERSION, parse_version, vllm_behaviour


def test_versions_parse_as_vllm_prints_them() -> None:
    assert parse_version("0.25.0") == (0, 25, 0)
    assert parse_version("0.32.0+cpu") == (0, 32, 0)
    assert parse_version("v0.32") == (0, 32, 0)
    assert parse_version("0.26.0rc1") == (0, 26, 0)
    with pytest.raises(InputError, match="vllm_version"):
        parse_version("latest")


def test_a_release_gets_the_rules_of_the_newest_verified_one_at_or_below_it() -> None:
    assert not vllm_behaviour("0.25.0").trims_max_tokens
    assert not vllm_behaviour("0.31.9").trims_max_tokens  # the change landed somewhere up to 0.32
    assert vllm_behaviour("0.32.0").trims_max_tokens
    assert vllm_behaviour("0.40.1").trims_max_tokens
    older = vllm_behaviour("0.20.0")  # below the oldest verified release: its rules
    assert older.version == "0.20.0" and not older.trims_max_tokens and older.max_capture_size_cc10 == 512


def test_the_profile_records_the_release_and_defaults_to_the_newest() -> None:
    assert load_profile().vllm_version == DEFAULT_VLLM_VERSION == "0.32.0"
    profile = load_profile().model_copy(update={"vllm_version": "0.25.0"})
    assert HardwareProfile.model_validate(profile.model_dump()).vllm_version == "0.25.0"
    with pytest.raises(ValueError, match="vllm_version"):
        HardwareProfile.model_validate({**load_profile().model_dump(), "vllm_version": "newest"})
