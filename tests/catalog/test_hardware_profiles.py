"""Hardware profiles: built-in ones by name, files by path, schema errors as InputError naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slotune.catalog import builtin_profile_names, load_profile
from slotune.errors import InputError
from slotune.models import HardwareProfile


def test_default_profile_is_versioned_with_provenance() -> None:
    profile = load_profile()
    assert "default" in builtin_profile_names()
    assert profile.name == "default" and profile.version and profile.schema_version == 1
    assert profile.provenance.sources and profile.provenance.method == "published-figures"
    # Efficiencies come from the catalog unless a profile sets them.
    assert profile.coefficients.mfu_prefill is None


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("schema_version: 9\nname: x\nversion: '1'\nprovenance: {method: m}\n", "schema_version"),
        (
            "name: x\nversion: '1'\nprovenance: {method: m}\ncoefficients: {mfu_decode: 3}\n",
            "coefficients.mfu_decode",
        ),
        (
            "name: x\nversion: '1'\nprovenance: {method: m}\ncoefficients: {warp_speed: 1}\n",
            "coefficients.warp_speed",
        ),
        ("- just\n- a list\n", "profile"),
    ],
)
def test_bad_profiles_are_input_errors(tmp_path: Path, content: str, field: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        load_profile(path)
    assert field in err.value.field


def test_unknown_profile_name_lists_the_choices() -> None:
    with pytest.raises(InputError, match="default"):
        load_profile("no-such-profile")


def test_the_yaml_file_is_what_loads() -> None:
    assert isinstance(load_profile(), HardwareProfile)
    assert (
        yaml.safe_load(Path("src/slotune/catalog/profiles/default.yaml").read_text())["version"]
        == load_profile().version
    )
