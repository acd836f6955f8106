"""`VllmBackend` on the fake vLLM: one launch per configuration, the prefix cache emptied between runs,
the launch facts in every RunResult, and failures as LaunchError with vLLM's reason."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from conftest import HERE

from slotune.backend import Backend
from slotune.bench import HttpBackend
from slotune.launch import VllmLauncher
from slotune.launch.backend import LaunchError, VllmBackend
from slotune.launch.process import group_members
from slotune.models import EngineConfig, RequestSpec, RunResult, Workload
from slotune.models.launch import LaunchInfo, ServerRequest

TOKENIZER = str(HERE.parent / "data" / "tokenizers" / "qwen3" / "tokenizer.json")
WORKLOAD = Workload(
    name="three",
    requests=tuple(
        RequestSpec(request_id=f"r{i}", arrival_s=0.01 * i, prompt_tokens=20, output_tokens=4)
        for i in range(3)
    ),
)
SMALL = EngineConfig(max_model_len=4096, max_num_seqs=8, block_size=16)
LARGER = SMALL.model_copy(update={"max_num_seqs": 16})


def backend(launcher: VllmLauncher, model_dir: Path, **kwargs: object) -> VllmBackend:
    env = {"FAKE_VLLM_MODE": "ok", **kwargs.pop("env", {})}  # type: ignore[dict-item]
    return VllmBackend(
        launcher,
        ServerRequest(model=str(model_dir), served_model_name="tiny", env=env),
        http_backend=functools.partial(HttpBackend, tokenizer=TOKENIZER),
        **kwargs,  # type: ignore[arg-type]
    )


def resets(info: LaunchInfo) -> int:
    return Path(info.log_path).read_text().count("Resetting prefix cache...")


def launch_of(result: RunResult) -> LaunchInfo:
    assert result.launch is not None and result.provenance.backend == "vllm"
    return result.launch


def test_runs_with_the_same_flags_share_a_warm_server_with_the_cache_reset(
    launcher: VllmLauncher, model_dir: Path, no_leftover_groups: list[int]
) -> None:
    with backend(launcher, model_dir) as vllm:
        assert isinstance(vllm, Backend) and vllm.name == "vllm"
        first = vllm.run(WORKLOAD, SMALL)
        second = vllm.run(WORKLOAD, SMALL)
        info = launch_of(second)
        no_leftover_groups.append(info.pid)
        assert vllm.launches == 1
        assert launch_of(first).pid == info.pid
        assert resets(info) == 2  # before each run
    assert group_members(info.pid) == []
    for result in (first, second):
        assert result.num_requests == 3 and all(r.ok for r in result.records)
        assert result.provenance.backend == "vllm" and result.provenance.engine_version == "vllm 0.25.0"
        assert result.engine_config == SMALL
    assert info.env["VLLM_SERVER_DEV_MODE"] == "1"
    assert info.argv[info.argv.index("--max-num-seqs") : info.argv.index("--max-num-seqs") + 2] == (
        "--max-num-seqs",
        "8",
    )
    assert info.facts.kv_cache_tokens == 906_208


def test_other_flags_get_a_new_server_and_the_old_one_is_stopped(
    launcher: VllmLauncher, model_dir: Path, no_leftover_groups: list[int]
) -> None:
    with backend(launcher, model_dir) as vllm:
        small = launch_of(vllm.run(WORKLOAD, SMALL))
        no_leftover_groups.append(small.pid)
        larger = launch_of(vllm.run(WORKLOAD, LARGER))
        no_leftover_groups.append(larger.pid)
        assert vllm.launches == 2 and small.pid != larger.pid
        assert group_members(small.pid) == []
        assert "16" in larger.argv and resets(larger) == 1


@pytest.mark.parametrize(
    ("policy", "env", "launches", "reset_lines"),
    [
        ("restart", {}, 2, 0),
        ("share", {}, 1, 0),
        ("reset", {"VLLM_SERVER_DEV_MODE": "0"}, 2, 0),  # no /reset_prefix_cache: restarted instead
    ],
)
def test_cache_policies(
    launcher: VllmLauncher,
    model_dir: Path,
    no_leftover_groups: list[int],
    policy: str,
    env: dict[str, str],
    launches: int,
    reset_lines: int,
) -> None:
    with backend(launcher, model_dir, cache_policy=policy, env=env) as vllm:
        infos = [launch_of(vllm.run(WORKLOAD, SMALL)) for _ in range(2)]
        no_leftover_groups.extend(info.pid for info in infos)
        assert vllm.launches == launches
        assert sum(resets(info) for info in {info.pid: info for info in infos}.values()) == reset_lines


def test_a_failed_launch_is_a_launch_error_with_vllms_reason(launcher: VllmLauncher, model_dir: Path) -> None:
    with (
        backend(launcher, model_dir, env={"FAKE_VLLM_MODE": "kv_too_small"}) as vllm,
        pytest.raises(LaunchError) as caught,
    ):
        vllm.run(WORKLOAD, SMALL)
    assert caught.value.failure.kind == "kv_cache_too_small"
    assert "vLLM did not start (kv_cache_too_small)" in str(caught.value)
