"""On the GPU machine (vLLM 0.25.0 from the GPU kit): slotune's launcher and `vllm` Backend against real CUDA vLLM.

Reads the installed vLLM's parser, launches a server (torch.compile and CUDA graphs on) through a
VllmBackend, runs a prefix-sharing workload twice on the warm server (the prefix cache is reset between the
runs), then launches one whose KV cache cannot hold max_model_len. Everything it learns goes to OUT as JSON,
with the server logs.

    source .gpu/kit/device_setup.sh && python3 .gpu/kit/make_model.py /tmp/m1b --config /tmp/m1b.json \
        && PYTHONPATH=src:$PYTHONPATH python3 benchmarks/device_launch_check.py "$OUT" /tmp/m1b
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
import time
from pathlib import Path

from slotune.bench import HttpBackend
from slotune.launch import VllmLauncher
from slotune.launch.backend import VllmBackend
from slotune.launch.flags import load_parser_spec
from slotune.launch.process import group_members
from slotune.models import EngineConfig, RequestSpec, Workload
from slotune.models.launch import LaunchFailure, LaunchInfo, ServerRequest
from slotune.units import MiB

BLOCK = 16


def workload() -> Workload:
    """Eight requests 0.2 s apart sharing 8 blocks: every request after the first hits them."""
    return Workload(
        name="shared-prefix",
        hash_block_size=BLOCK,
        requests=tuple(
            RequestSpec(
                request_id=f"r{i}",
                arrival_s=0.2 * i,
                prompt_tokens=10 * BLOCK,
                output_tokens=32,
                prefix_block_ids=(*range(1, 9), 100 + 2 * i, 101 + 2 * i),
            )
            for i in range(8)
        ),
    )


def main(out: Path, model: Path) -> None:
    report: dict[str, object] = {}
    cache = out / "parser"
    started = time.monotonic()
    spec = load_parser_spec(Path("python3"), cache_dir=cache)
    report["parser"] = {"vllm_version": spec.vllm_version, "options": len(spec.options)}
    report["parser_read_s"] = round(time.monotonic() - started, 1)

    launcher = VllmLauncher("python3", log_dir=out, startup_timeout_s=400.0, cache_dir=cache)
    engine = EngineConfig(max_model_len=4096, max_num_seqs=64)
    http = functools.partial(HttpBackend, tokenizer=str(model / "tokenizer.json"))
    with VllmBackend(
        launcher, ServerRequest(model=str(model), served_model_name="m"), http_backend=http
    ) as backend:
        runs = [backend.run(workload(), engine) for _ in range(2)]
        info = LaunchInfo.model_validate_json(runs[0].provenance.extra["launch"])
        report["launches"] = backend.launches
    report["launch"] = info.model_dump(mode="json")
    report["runs"] = [
        {
            "ok": sum(r.ok for r in run.records),
            "cached_prompt_tokens": sum(r.cached_prompt_tokens for r in run.records),
            "ttft_p50_s": run.summary.get("ttft_s.p50"),
            "prefix_cache_hit_rate": run.summary.get("prefix_cache_hit_rate"),
        }
        for run in runs
    ]
    report["resets_in_log"] = Path(info.log_path).read_text().count("Resetting prefix cache")
    report["left_in_group_after_close"] = group_members(info.pid)

    too_small = EngineConfig(max_model_len=8192, kv_cache_memory_bytes=MiB)
    failure = launcher.start(ServerRequest(model=str(model), served_model_name="m", engine_config=too_small))
    assert isinstance(failure, LaunchFailure), failure
    report["failure"] = failure.model_dump(mode="json")
    (out / "launch_check.json").write_text(json.dumps(report, indent=1))
    for dump in cache.glob("*.json"):
        shutil.copy(dump, out / "vllm_parser_cuda.json")
    print(json.dumps({k: v for k, v in report.items() if k != "launch"}, indent=1)[:6000])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
