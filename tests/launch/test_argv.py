"""The server's command line: the fields an EngineConfig was given, the model, the port, extra flags last."""

from __future__ import annotations

from pathlib import Path

from slotune.catalog import get_gpu, get_model
from slotune.launch.argv import engine_args, server_args, server_command, without_port
from slotune.models import EngineConfig, SpeculativeConfig
from slotune.vllm_rules import resolve_engine_config


def test_only_the_fields_given_are_passed_so_vllm_keeps_its_own_defaults() -> None:
    assert engine_args(None) == []
    assert engine_args(EngineConfig()) == []
    config = EngineConfig(max_model_len=2048, block_size=32, enforce_eager=True, enable_prefix_caching=False)
    assert engine_args(config) == [
        "--max-model-len",
        "2048",
        "--block-size",
        "32",
        "--no-enable-prefix-caching",
        "--enforce-eager",
    ]
    spec = SpeculativeConfig(method="ngram", num_speculative_tokens=3)
    assert engine_args(EngineConfig(kv_cache_memory_bytes=2**30, speculative_config=spec)) == [
        "--kv-cache-memory-bytes",
        str(2**30),
        "--speculative-config",
        '{"method": "ngram", "num_speculative_tokens": 3}',
    ]


def test_a_resolved_config_passes_what_was_resolved() -> None:
    resolved = resolve_engine_config(
        get_model("llama-3.1-8b"), get_gpu("h200"), EngineConfig(enforce_eager=True, max_model_len=8192)
    )
    assert engine_args(resolved) == [
        "--max-model-len",
        "8192",
        "--max-num-seqs",
        "1024",
        "--max-num-batched-tokens",
        "8192",
        "--enforce-eager",
    ]


def test_server_command_and_its_key() -> None:
    args = server_args(
        model="/models/m",
        served_model_name="m",
        host="127.0.0.1",
        port=18123,
        engine_config=EngineConfig(max_num_seqs=8),
        extra_args=("--max-num-seqs", "16"),  # extra flags come last, so they win
    )
    assert args == [
        "--model",
        "/models/m",
        "--served-model-name",
        "m",
        "--host",
        "127.0.0.1",
        "--port",
        "18123",
        "--max-num-seqs",
        "8",
        "--max-num-seqs",
        "16",
    ]
    assert server_command(Path("/venv/bin/python"), args)[:3] == [
        "/venv/bin/python",
        "-m",
        "vllm.entrypoints.openai.api_server",
    ]
    assert without_port(args)[7] == "*" and without_port(args)[:7] == tuple(args[:7])
