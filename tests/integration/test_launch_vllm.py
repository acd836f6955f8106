"""slotune's launcher and `vllm` Backend on the real server: what it read from vLLM's start-up, a short
measured run through the Backend protocol (on the session's warm server, its prefix cache reset before every
run), and a launch that vLLM itself refuses, which must come back as a typed failure with nothing left running.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from vllm_launcher import BLOCK_SIZE, MAX_MODEL_LEN, TINY_ENGINE, tiny_launcher, tiny_request
from vllm_processes import MARKER, RUN_ID

from slotune.backend import Backend
from slotune.launch import VllmServer
from slotune.launch.backend import VllmBackend
from slotune.models import RequestSpec, Workload
from slotune.models.launch import LaunchFailure
from slotune.units import MiB

pytestmark = pytest.mark.integration

SHARED_BLOCKS = 4


def test_the_launch_facts_are_what_vllm_reported(vllm_server: VllmServer) -> None:
    info = vllm_server.info
    facts = info.facts
    assert info.vllm_version == "0.32.0"
    # 1 GiB of VLLM_CPU_KVCACHE_SPACE / 2,048 B per token, in the log and in /metrics alike.
    assert facts.kv_cache_tokens == 524_288 and facts.kv_cache_device == "CPU"
    assert facts.num_gpu_blocks == 524_288 // BLOCK_SIZE and facts.block_size == BLOCK_SIZE
    assert facts.max_concurrency == 524_288 / MAX_MODEL_LEN
    assert facts.max_concurrency_tokens_per_request == MAX_MODEL_LEN
    assert facts.weights_load_s is not None and facts.engine_init_s is not None
    assert facts.non_default_args["enforce_eager"] is True
    assert facts.non_default_args["block_size"] == BLOCK_SIZE
    assert facts.non_default_args["port"] == vllm_server.port
    assert 0 < info.time_to_healthy_s < 240
    assert info.env["VLLM_SERVER_DEV_MODE"] == "1" and info.env["VLLM_CPU_KVCACHE_SPACE"] == "1"


def _prefix_sharing_workload() -> Workload:
    """Requests 0.4 s apart, sharing their first 4 blocks: each one after the first hits them."""
    return Workload(
        name="shared-prefix-sequential",
        hash_block_size=BLOCK_SIZE,
        requests=tuple(
            RequestSpec(
                request_id=f"seq-{i}",
                arrival_s=0.4 * i,
                prompt_tokens=(SHARED_BLOCKS + 1) * BLOCK_SIZE,
                output_tokens=8,
                prefix_block_ids=(*range(1, SHARED_BLOCKS + 1), 100 + i),
            )
            for i in range(4)
        ),
    )


def test_the_vllm_backend_measures_on_the_warm_server_with_a_fresh_prefix_cache_each_run(
    vllm_backend: VllmBackend, vllm_server: VllmServer
) -> None:
    assert isinstance(vllm_backend, Backend)
    workload = _prefix_sharing_workload()
    runs = [vllm_backend.run(workload, TINY_ENGINE) for _ in range(2)]
    assert vllm_backend.launches == 1  # the session's server, reused: same resolved flags
    hits = []
    for result in runs:
        assert result.provenance.backend == "vllm" and result.provenance.engine_version == "vllm 0.32.0"
        info = result.launch
        assert info is not None and result.provenance.backend == "vllm"
        assert info.pid == vllm_server.proc.pid
        assert len(result.records) == 4 and all(r.ok for r in result.records)
        assert [r.output_tokens for r in result.records] == [8] * 4
        hits.append(sum(r.cached_prompt_tokens for r in result.records))
    # The same prompts twice (same seed): without the reset the second run's first request would hit too.
    assert hits[0] == hits[1] == 3 * SHARED_BLOCKS * BLOCK_SIZE
    resets = Path(vllm_server.log_path).read_text().count("Resetting prefix cache...")
    assert resets >= 2


def test_a_kv_cache_too_small_for_max_model_len_is_a_typed_failure(tmp_path: Path) -> None:
    """1 MiB of KV cache holds 512 tokens, not one request of 2,048: vLLM refuses after loading the model."""
    engine = TINY_ENGINE.model_copy(update={"kv_cache_memory_bytes": MiB})
    launcher = tiny_launcher(tmp_path, env={MARKER: RUN_ID})
    outcome = launcher.start(tiny_request(engine, kv_cache_space_gib=None))
    assert isinstance(outcome, LaunchFailure), outcome
    assert outcome.kind == "kv_cache_too_small"
    assert f"max seq len ({MAX_MODEL_LEN})" in outcome.reason
    assert re.search(r"vLLM estimates that --max-model-len \d+ fits", outcome.fix), outcome.fix
    assert outcome.exit_code not in (None, 0)
    assert "To serve at least one request" in outcome.log_excerpt
    assert "--kv-cache-memory-bytes" in outcome.argv and Path(outcome.log_path).is_file()
    # no_stray_vllm_processes (conftest) checks that none of its processes is left.
