"""What calibration probes measured on a real engine, saved so that a fit can be redone or merged later.

A `ProbeSet` holds the probes of one or more server configurations ("default", "eager") with everything the
fit needs: each probe's workload, load and statistics, the records the engine produced, the server's own
histogram means, and how the server was launched. `slotune calibrate --save-probes` writes one;
`slotune calibrate --from-probes A B` fits one profile from several (e.g. two servers probed at the same time
on two GPUs).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slotune.models.base import Frozen
from slotune.models.engine_config import EngineConfig
from slotune.models.launch import LaunchInfo
from slotune.models.load import LoadSpec
from slotune.models.records import RequestRecord
from slotune.models.workload import Workload

PROBE_SET_SCHEMA_VERSION = 1


class ProbeStatistic(Frozen):
    """What a probe compares. From the client: the median of `metric` over the requests whose id starts with
    `group` ("" = all). From the server (`source="server"`): the mean of vLLM's own histogram over the probe,
    `itl` (vllm:inter_token_latency_seconds) or `prefill` (vllm:request_prefill_time_seconds), which a stall
    of the client or of the machine around it does not touch."""

    metric: Literal["ttft", "tpot", "e2e", "itl", "prefill"]
    group: str = ""
    weight: float = 1.0
    source: Literal["client", "server"] = "client"

    @property
    def name(self) -> str:
        if self.source == "server":
            return f"server_{self.metric}_mean_s"
        return f"{self.metric}_p50_s" + (f"[{self.group}]" if self.group else "")


class ProbeData(Frozen):
    name: str
    kind: Literal["tiny", "prefill", "prefix", "decode", "mixed"]
    mode: Literal["default", "eager"]
    workload: Workload
    load: LoadSpec
    statistics: tuple[ProbeStatistic, ...]
    concurrency: int = 1
    records: tuple[RequestRecord, ...]
    server_s: dict[str, float] = Field(default_factory=dict)
    wall_s: float = 0.0


class ProbeServer(Frozen):
    """One server configuration the probes ran on."""

    mode: Literal["default", "eager"]
    engine_config: EngineConfig
    launch: LaunchInfo | None = None  # None: a server slotune did not start (--url)
    vllm_version: str = ""
    num_gpu_blocks: int | None = None
    kv_cache_tokens: int | None = None


class ProbeSet(Frozen):
    schema_version: int = PROBE_SET_SCHEMA_VERSION
    model: str  # as served: a folder or a model id
    model_spec: str  # what the simulator reads: catalog id or config.json path
    gpu: str  # catalog device id
    scale: str = "full"
    seed: int = 0
    host: str = ""
    servers: tuple[ProbeServer, ...] = ()
    probes: tuple[ProbeData, ...] = ()
    wall_s: float = 0.0
