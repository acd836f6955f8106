"""Flags are checked against the parser of the vLLM that will run them: real dumps of 0.25.0 and 0.32.0
(data/vllm_parser_*.json, written by slotune/launch/vllm_parser_dump.py), and the fake installation."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import DATA, FAKE_VLLM_ROOT, fake_env

from slotune.errors import InputError
from slotune.launch.flags import ParserSpec, check_flags, installed_version, load_parser_spec
from slotune.models import EngineConfig, SpeculativeConfig

VERSIONS = ("0.25.0", "0.32.0")


def real_spec(version: str) -> ParserSpec:
    return ParserSpec.from_dump(json.loads((DATA / f"vllm_parser_{version}.json").read_text()))


@pytest.fixture(params=VERSIONS)
def spec(request: pytest.FixtureRequest) -> ParserSpec:
    return real_spec(request.param)


def test_dumps_are_the_versions_they_claim() -> None:
    assert real_spec("0.25.0").vllm_version == "0.25.0"
    assert real_spec("0.32.0").vllm_version == "0.32.0"


def test_every_flag_slotune_renders_exists_in_both_versions(spec: ParserSpec) -> None:
    config = EngineConfig(
        max_model_len=8192,
        max_num_seqs=64,
        max_num_batched_tokens=4096,
        block_size=32,
        enable_prefix_caching=False,
        enable_chunked_prefill=False,
        enforce_eager=True,
        dtype="bfloat16",
        kv_cache_dtype="fp8",
        quantization="fp8",
        tensor_parallel_size=2,
        pipeline_parallel_size=2,
        speculative_config=SpeculativeConfig(method="ngram", num_speculative_tokens=3),
    )
    with_memory_bytes = config.model_copy(update={"kv_cache_memory_bytes": 2**30})
    server = ["--model", "m", "--served-model-name", "m", "--host", "127.0.0.1", "--port", "8000"]
    for engine in (config, with_memory_bytes, EngineConfig()):
        assert check_flags([*server, *engine.vllm_args()], spec) == []


@pytest.mark.parametrize(
    ("flag", "says"),
    [
        ("--swap-space", "V1 recomputes preempted requests"),
        ("--num-scheduler-steps", "multi-step"),
        ("--disable-log-requests", "--enable-log-requests"),
    ],
)
def test_removed_flags_are_refused_with_the_reason(spec: ParserSpec, flag: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        check_flags(["--max-model-len", "4096", flag, "4"], spec)
    message = str(caught.value)
    assert caught.value.value == flag
    assert f"vLLM {spec.vllm_version} has no flag {flag}" in message
    assert says in message


def test_a_misspelt_flag_names_the_closest_valid_one(spec: ParserSpec) -> None:
    with pytest.raises(InputError, match=r"has no flag --max-num-seq\b.*Fix: use --max-num-seqs"):
        check_flags(["--max-num-seq", "64"], spec)
    with pytest.raises(InputError, match="Fix: use --enable-prefix-caching"):
        check_flags(["--enable-prefix-cache"], spec)


def test_a_value_outside_the_choices_names_them(spec: ParserSpec) -> None:
    with pytest.raises(InputError) as caught:
        check_flags(["--dtype", "bf16"], spec)
    assert caught.value.field == "--dtype" and caught.value.value == "bf16"
    assert "closest: bfloat16" in str(caught.value)
    with pytest.raises(InputError, match="use one of"):
        check_flags(["--kv-cache-dtype=fp9"], spec)


def test_value_shape_errors(spec: ParserSpec) -> None:
    with pytest.raises(InputError, match="takes no value"):
        check_flags(["--enforce-eager=true"], spec)
    with pytest.raises(InputError, match="give --max-model-len a value"):
        check_flags(["--max-model-len", "--enforce-eager"], spec)
    with pytest.raises(InputError, match="give --max-num-seqs a value"):
        check_flags(["--max-num-seqs"], spec)


def test_the_spellings_vllms_parser_accepts_are_accepted(spec: ParserSpec) -> None:
    """Underscores, `=`, dotted sub-keys, -O3, short options, negative values (FlexibleArgumentParser)."""
    accepted = [
        "--max_model_len",
        "-1",
        "--max-num-seqs=8",
        "--compilation-config.cudagraph_mode",
        "PIECEWISE",
        "-O3",
        "-tp",
        "2",
        "--no-enable-prefix-caching",
        "--speculative-config",
        '{"method": "ngram"}',
    ]
    assert check_flags(accepted, spec) == []


def test_check_flags_on_the_fake_installation_through_its_own_python(tmp_path: Path) -> None:
    spec = load_parser_spec(Path(sys.executable), cache_dir=tmp_path, env=fake_env())
    assert spec.vllm_version == "0.25.0"
    assert spec.options["--dtype"].choices == ("auto", "bfloat16", "float", "float16", "float32", "half")
    assert spec.options["--enforce-eager"].takes_value is False
    assert spec.options["-tp"].dest == "tensor_parallel_size"
    with pytest.raises(InputError, match="Fix: use --block-size"):
        check_flags(["--block-sizes", "16"], spec)


def test_the_parser_is_read_once_per_installation_and_version(tmp_path: Path) -> None:
    """The second load reads the cache (here: edited, to prove it); a new version dumps again."""
    fake_root = tmp_path / "site"
    shutil.copytree(FAKE_VLLM_ROOT, fake_root)
    env = {"PYTHONPATH": str(fake_root)}
    cache = tmp_path / "cache"
    load_parser_spec(Path(sys.executable), cache_dir=cache, env=env)
    (cached,) = cache.glob("vllm-parser-0.25.0-*.json")
    dump = json.loads(cached.read_text())
    dump["options"]["--only-in-the-cache"] = {"dest": "x", "takes_value": False, "choices": None}
    cached.write_text(json.dumps(dump))
    assert "--only-in-the-cache" in load_parser_spec(Path(sys.executable), cache_dir=cache, env=env).options

    version_file = fake_root / "vllm" / "_version.py"
    version_file.write_text(version_file.read_text().replace("0.25.0", "0.25.1"))
    assert installed_version(fake_root / "vllm") == "0.25.1"
    fresh = load_parser_spec(Path(sys.executable), cache_dir=cache, env=env)
    assert fresh.vllm_version == "0.25.1"
    assert "--only-in-the-cache" not in fresh.options
    assert len(list(cache.glob("vllm-parser-0.25.1-*.json"))) == 1


def test_a_python_without_vllm_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="vLLM is not installed there"):
        load_parser_spec(Path(sys.executable), cache_dir=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    with pytest.raises(InputError, match="vllm-python"):
        load_parser_spec(tmp_path / "no-python", cache_dir=tmp_path)
