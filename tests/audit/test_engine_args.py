"""Engine flags as an audit reads them: command lines in their usual shapes, vLLM YAML configs, and the flags
slotune does not model kept for the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from slotune.audit.engine_args import (
    argv_from_config,
    compilation_off,
    engine_args_from_argv,
    engine_args_from_config_file,
    engine_args_from_text,
    normalize_flag,
)
from slotune.errors import InputError
from slotune.launch.flags import OptionSpec, ParserSpec


def test_vllm_serve_with_a_positional_model_and_every_flag_shape() -> None:
    args = engine_args_from_text(
        "vllm serve meta-llama/Llama-3.1-8B --max_model_len=32k -tp 2 --no-enable-prefix-caching "
        "--enforce-eager --cudagraph-capture-sizes 1 2 4 --swap-space 4 --port 8001"
    )
    c = args.config
    assert c.model == "meta-llama/Llama-3.1-8B"
    assert c.max_model_len == 32_000 and c.tensor_parallel_size == 2
    assert not c.enable_prefix_caching and c.enforce_eager and c.cudagraph_capture_sizes == (1, 2, 4)
    assert {f.name: f.value for f in args.other} == {"--swap-space": "4", "--port": "8001"}
    assert args.given_fields >= {"max_model_len", "tensor_parallel_size", "enable_prefix_caching", "model"}
    assert "gpu_memory_utilization" not in args.given_fields


def test_the_openai_server_module_and_a_bare_flag_list() -> None:
    module = engine_args_from_argv(
        [
            "/venv/bin/python",
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            "/m",
            "--block-size",
            "32",
        ],
        "x",
    )
    assert module.config.model == "/m" and module.config.block_size == 32
    bare = engine_args_from_text("--max-num-seqs 64")
    assert bare.config.max_num_seqs == 64 and bare.config.model == ""


def test_unknown_switches_take_no_value_when_the_installed_parser_says_so() -> None:
    parser = ParserSpec("0.32.0", {"--disable-log-stats": OptionSpec("disable_log_stats", takes_value=False)})
    args = engine_args_from_text("vllm serve m --disable-log-stats --max-num-seqs 8", parser=parser)
    assert [(f.name, f.value) for f in args.other] == [("--disable-log-stats", None)]
    assert args.config.max_num_seqs == 8


def test_a_value_vllm_would_refuse_is_bad_input_naming_the_flag() -> None:
    with pytest.raises(InputError, match=r"--max-model-len") as err:
        engine_args_from_text("vllm serve m --max-model-len banana")
    assert err.value.exit_code == 2
    with pytest.raises(InputError, match="quote"):
        engine_args_from_text("vllm serve m --served-model-name 'unterminated")


def test_a_yaml_config_reads_as_the_flags_it_stands_for(tmp_path: Path) -> None:
    path = tmp_path / "vllm.yaml"
    path.write_text(
        "model: Qwen/Qwen3-8B\nmax-model-len: 8192\nenable_prefix_caching: false\nenforce-eager: true\n"
        "compilation-config: {mode: 0}\nport: 8000\n"
    )
    args = engine_args_from_config_file(path)
    assert args.config.model == "Qwen/Qwen3-8B" and args.config.max_model_len == 8192
    assert not args.config.enable_prefix_caching and args.config.enforce_eager
    assert compilation_off(args) == '--compilation-config {"mode": 0}'
    assert args.source == f"--config {path}"
    assert argv_from_config({"a_b": True, "c": False, "d": None, "e": [1, 2]}) == [
        "--a-b",
        "--no-c",
        "--e=1,2",
    ]


@pytest.mark.parametrize(
    ("text", "off"),
    [
        ("-O0", "--optimization-level 0"),
        ("-O 0", "--optimization-level 0"),
        ("--optimization-level=0", "--optimization-level 0"),
        ("--compilation-config.mode=0", "--compilation-config.mode=0"),
        ("-cc '{\"level\": 0}'", '-cc {"level": 0}'),
        ("-O3", None),
        ("--compilation-config '{\"mode\": 3}'", None),
    ],
)
def test_compilation_turned_off_in_each_way_vllm_accepts(text: str, off: str | None) -> None:
    assert compilation_off(engine_args_from_text(f"vllm serve m {text}")) == off


def test_flag_names_normalize_as_vllms_parser_does() -> None:
    assert normalize_flag("--max_num_seqs=4") == ("--max-num-seqs", "4")
    assert normalize_flag("-O2") == ("--optimization-level", "2")
    assert normalize_flag("-tp") == ("-tp", None)
