"""Infrastructure layer (seed, section 4, layer 3): a CPU that cannot feed the GPU, network round trips that eat
the latency budget, GPUs that do not match the parallelism, and Kubernetes pods without the CPU, shared memory
or start-up time vLLM needs, scaled on the wrong signal."""

from __future__ import annotations

import math
import re

from slotune.audit.evidence import Evidence
from slotune.audit.k8s import VllmContainer
from slotune.audit.registry import Hit, Rule, kinds
from slotune.audit.rules._common import flag_fix
from slotune.bench.validity import ValidityThresholds
from slotune.models.audit import EvidenceKind, Fix, Location
from slotune.vllm_metrics import names as vllm_names

CLIENT = ValidityThresholds()
# Time inside TTFT that the engine does not account for (API server: tokenization, request handling).
FRONTEND_MIN_S = 0.050
FRONTEND_MIN_SHARE = 0.3
NETWORK_MIN_S = 0.020
NETWORK_MIN_SHARE = 0.25
# vLLM keeps a core busy per process: the API server, the engine core, and one worker per GPU.
CORES_BESIDES_GPUS = 2
# Without a measured start-up: vLLM's imports, weight loading, torch.compile and CUDA-graph capture.
ASSUMED_STARTUP_S = 120.0
GPU_UTILIZATION = re.compile(r"gpu_util|dcgm_fi_dev_gpu_util|duty_cycle|gpu.?utili[sz]ation", re.IGNORECASE)


def _server_times(ev: Evidence) -> tuple[float, float, float, EvidenceKind] | None:
    """(mean TTFT, mean queue time, mean prefill time) the server measured, from a benchmark window or the
    scrape's lifetime histograms."""
    for b in ev.bench:
        window = b.report.result.server.window if b.report.result.server is not None else None
        h = window.histograms if window is not None else {}
        means = [h[k].mean if k in h else None for k in ("ttft_s", "queue_time_s", "prefill_time_s")]
        if all(m is not None for m in means):
            return means[0], means[1], means[2], "bench"  # type: ignore[return-value]
    if ev.metrics is not None:
        snap = ev.metrics.snapshot

        def mean(name: str) -> float | None:
            total, count = snap.total(name + "_sum"), snap.total(name + "_count")
            return total / count if total is not None and count else None

        values = [
            mean(n)
            for n in (
                vllm_names.TIME_TO_FIRST_TOKEN,
                vllm_names.REQUEST_QUEUE_TIME,
                vllm_names.REQUEST_PREFILL_TIME,
            )
        ]
        if all(v is not None for v in values):
            return values[0], values[1], values[2], "metrics"  # type: ignore[return-value]
    return None


def _client_lag(ev: Evidence) -> list[str]:
    """What the benchmark client reported about its own CPU, where it exceeded bench's validity limits."""
    problems = []
    for b in ev.bench:
        client = b.report.result.client
        if client is None:
            continue
        if client.schedule_lag_s is not None and client.schedule_lag_s.p99_s > CLIENT.max_schedule_lag_p99_s:
            problems.append(
                f"requests left {client.schedule_lag_s.p99_s * 1e3:,.1f} ms late (p99 schedule lag) in {b.source}"
            )
        if client.loop_lag_s is not None and client.loop_lag_s.p99_s > CLIENT.max_loop_lag_p99_s:
            problems.append(
                f"the client's event loop lagged {client.loop_lag_s.p99_s * 1e3:,.1f} ms (p99) in {b.source}"
            )
        if client.cpu_utilization and max(client.cpu_utilization) > CLIENT.max_client_cpu:
            problems.append(
                f"a client process used {max(client.cpu_utilization):.0%} of a core in {b.source}"
            )
    return problems


def check_cpu_bottleneck(ev: Evidence) -> list[Hit]:
    hits = []
    lag = _client_lag(ev)
    if lag:
        hits.append(
            Hit(
                severity="medium",
                confidence="high",
                message="the benchmark client was CPU-bound ("
                + "; ".join(lag)
                + "): its latencies include its own queueing",
                evidence=("bench",),
                observed={"client problems": len(lag)},
                fixes=(
                    Fix(
                        kind="bench",
                        target="--workers",
                        value="2",
                        current="1",
                        text="re-run slotune bench with --workers 2 (or more) on a host with idle cores",
                    ),
                ),
            )
        )
    times = _server_times(ev)
    if times is not None:
        ttft, queue, prefill, kind = times
        frontend = ttft - queue - prefill
        if frontend >= FRONTEND_MIN_S and frontend >= FRONTEND_MIN_SHARE * ttft:
            fixes: tuple[Fix, ...] = (
                flag_fix(
                    "--api-server-count",
                    "2",
                    None,
                    "run more API server processes (--api-server-count 2 or more) so tokenization and request handling keep up",
                ),
            )
            if ev.k8s is not None:
                fixes += (
                    Fix(
                        kind="manifest",
                        target="resources.requests.cpu",
                        value=None,
                        text="and give the vLLM container more CPU cores",
                    ),
                )
            hits.append(
                Hit(
                    severity="medium",
                    confidence="medium",
                    message=(
                        f"{frontend * 1e3:,.0f} ms of the server's {ttft * 1e3:,.0f} ms mean TTFT is spent outside the engine "
                        f"(queue {queue * 1e3:,.0f} ms, prefill {prefill * 1e3:,.0f} ms): the API server's CPU work "
                        "(tokenization, request handling, detokenization) holds requests back"
                    ),
                    evidence=(kind,),
                    observed={
                        "ttft mean s": ttft,
                        "queue mean s": queue,
                        "prefill mean s": prefill,
                        "outside the engine s": frontend,
                    },
                    fixes=fixes,
                )
            )
    return hits


def check_network(ev: Evidence) -> list[Hit]:
    hits = []
    for b in ev.bench:
        result = b.report.result
        window = result.server.window if result.server is not None else None
        server = window.histograms.get("ttft_s") if window is not None else None
        client = result.summary.ttft_s.mean
        if server is None or server.mean is None or client is None or client <= 0:
            continue
        gap = client - server.mean
        if gap >= NETWORK_MIN_S and gap >= NETWORK_MIN_SHARE * client:
            hits.append(
                Hit(
                    severity="medium",
                    confidence="medium",
                    message=(
                        f"the client saw {client * 1e3:,.0f} ms mean TTFT where the server measured {server.mean * 1e3:,.0f} ms: "
                        f"{gap * 1e3:,.0f} ms ({gap / client:.0%}) is network round trip and connection handling, which no "
                        "engine flag can win back"
                    ),
                    evidence=("bench",),
                    observed={
                        "client ttft mean s": client,
                        "server ttft mean s": server.mean,
                        "difference s": gap,
                    },
                    fixes=(
                        Fix(
                            kind="action",
                            target="deployment region",
                            text="serve from the region/zone of the clients (or put the gateway next to the server); reuse connections (HTTP keep-alive)",
                        ),
                    ),
                )
            )
    return hits


def _gpus_given(ev: Evidence) -> tuple[int, EvidenceKind, str] | None:
    if ev.num_gpus is not None:
        return ev.num_gpus, "gpu", "--num-gpus"
    if ev.k8s is not None:
        for c in ev.k8s.containers:
            if c.gpus is not None:
                return c.gpus, "k8s", f"{c.owner} container {c.name}"
    for b in ev.bench:
        if b.report.gpu is not None and b.report.gpu.num_gpus:
            return b.report.gpu.num_gpus, "bench", b.source
    return None


def _data_parallel(ev: Evidence) -> int:
    assert ev.engine is not None
    for name in ("--data-parallel-size", "-dp"):
        flag = ev.engine.flag(name) or next((f for f in ev.engine.other if f.name == name), None)
        if flag is not None and flag.value and flag.value.isdigit():
            return int(flag.value)
    return 1


def check_tp_mismatch(ev: Evidence) -> list[Hit]:
    assert ev.engine is not None
    given = _gpus_given(ev)
    if given is None:
        return []
    gpus, kind, where = given
    config = ev.engine.config
    needed = config.tensor_parallel_size * config.pipeline_parallel_size * _data_parallel(ev)
    if gpus == needed:
        return []
    fewer = gpus < needed
    tp = max(1, gpus // (config.pipeline_parallel_size * _data_parallel(ev)))
    return [
        Hit(
            severity="high" if fewer else "medium",
            confidence="high",
            message=(
                f"the replica is given {gpus} GPU(s) ({where}) but runs tensor x pipeline x data parallel = {needed}: "
                + (
                    "vLLM cannot start its workers"
                    if fewer
                    else f"{gpus - needed} GPU(s) sit idle and are paid for"
                )
            ),
            evidence=("engine", kind),
            observed={
                "gpus given": gpus,
                "tensor_parallel_size": config.tensor_parallel_size,
                "pipeline_parallel_size": config.pipeline_parallel_size,
            },
            fixes=(
                flag_fix(
                    "--tensor-parallel-size",
                    str(tp),
                    str(config.tensor_parallel_size),
                    f"set --tensor-parallel-size {tp} to use the {gpus} GPU(s)",
                ),
                Fix(
                    kind="manifest" if kind == "k8s" else "action",
                    target="GPUs per replica",
                    value=str(needed),
                    current=str(gpus),
                    text=f"or give the replica {needed} GPU(s)",
                ),
            ),
        )
    ]


def _location(c: VllmContainer, pointer: str = "") -> tuple[Location, ...]:
    return (Location(file=c.file, line=c.line, pointer=f"{c.pointer}{pointer}"),)


def _gpus_of(ev: Evidence, c: VllmContainer) -> int:
    if c.gpus is not None:
        return c.gpus
    return ev.engine_config.tensor_parallel_size * ev.engine_config.pipeline_parallel_size


def check_k8s_cpu(ev: Evidence) -> list[Hit]:
    assert ev.k8s is not None
    hits = []
    for c in ev.k8s.containers:
        gpus = _gpus_of(ev, c)
        need = CORES_BESIDES_GPUS + gpus
        given = c.cpu_request
        limit = c.cpu_limit
        if given is not None and given >= need and (limit is None or limit >= need):
            continue
        shown = (
            "no CPU request"
            if given is None
            else f"a CPU request of {given:g}" + (f" and limit {limit:g}" if limit is not None else "")
        )
        hits.append(
            Hit(
                severity="medium",
                confidence="medium",
                message=(
                    f"{c.owner} container {c.name} has {shown} for {gpus} GPU(s): vLLM keeps {need} processes busy "
                    "(API server, engine core, one worker per GPU); a starved CPU leaves the GPU waiting between steps"
                ),
                evidence=("k8s",),
                observed={"cpu request": given, "cpu limit": limit, "gpus": gpus, "cores needed": need},
                fixes=(
                    Fix(
                        kind="manifest",
                        target=f"{c.pointer}.resources.requests.cpu",
                        value=str(need),
                        current=None if given is None else f"{given:g}",
                        text=f"request at least {need} CPU cores (and no lower limit)",
                    ),
                ),
                locations=_location(c, ".resources"),
            )
        )
    return hits


def check_dev_shm(ev: Evidence) -> list[Hit]:
    assert ev.k8s is not None
    hits = []
    for c in ev.k8s.containers:
        if c.has_dev_shm:
            continue
        gpus = _gpus_of(ev, c)
        hits.append(
            Hit(
                severity="high" if gpus > 1 else "medium",
                confidence="high",
                message=(
                    f"{c.owner} container {c.name} has no memory-backed /dev/shm: a container's default is 64 MB, too "
                    "small for vLLM's inter-process queues"
                    + (" and NCCL's buffers between its tensor-parallel workers" if gpus > 1 else "")
                ),
                evidence=("k8s",),
                observed={"gpus": gpus},
                fixes=(
                    Fix(
                        kind="manifest",
                        target=f"{c.pointer}.volumeMounts",
                        value="{name: dshm, mountPath: /dev/shm} + volume {name: dshm, emptyDir: {medium: Memory}}",
                        text="mount an emptyDir with medium: Memory at /dev/shm (sizeLimit a few GiB)",
                    ),
                ),
                locations=_location(c),
            )
        )
    return hits


def _measured_startup(ev: Evidence) -> tuple[float, str] | None:
    for b in ev.bench:
        launch = b.report.result.launch
        if launch is not None:
            return launch.time_to_healthy_s, f"measured start-up in {b.source}"
    return None


def check_probes(ev: Evidence) -> list[Hit]:
    assert ev.k8s is not None
    measured = _measured_startup(ev)
    startup_s, basis = (
        measured
        if measured is not None
        else (ASSUMED_STARTUP_S, "vLLM's usual start-up (no measured one given)")
    )
    hits = []
    for c in ev.k8s.containers:
        probe = c.probe("startupProbe") or c.probe("livenessProbe")
        if probe is None or probe.budget_s >= startup_s:
            continue
        period = probe.period_s
        threshold = math.ceil(2 * startup_s / period)
        hits.append(
            Hit(
                severity="high",
                confidence="high" if measured is not None else "low",
                message=(
                    f"{c.owner} container {c.name}: its {probe.kind} gives up after {probe.budget_s:,.0f} s "
                    f"(initialDelaySeconds + failureThreshold x periodSeconds), shorter than the {startup_s:,.0f} s "
                    f"vLLM takes to load the model ({basis}): the pod is restarted before it ever serves"
                ),
                evidence=kinds("k8s", "bench" if measured is not None else None),
                observed={"probe": probe.kind, "probe budget s": probe.budget_s, "start-up s": startup_s},
                fixes=(
                    Fix(
                        kind="manifest",
                        target=f"{c.pointer}.startupProbe.failureThreshold",
                        value=str(threshold),
                        text=f"add a startupProbe on /health with periodSeconds {period:g} and failureThreshold {threshold} "
                        f"({threshold * period:,.0f} s, twice the start-up); liveness then starts after it",
                    ),
                ),
                locations=_location(c, f".{probe.kind}"),
            )
        )
    return hits


def check_autoscaling(ev: Evidence) -> list[Hit]:
    assert ev.k8s is not None
    hits = []
    for a in ev.k8s.autoscalers:
        if not GPU_UTILIZATION.search(a.metric):
            continue
        hits.append(
            Hit(
                severity="medium",
                confidence="high",
                message=(
                    f"{a.owner} scales on GPU utilization: a vLLM GPU reads near 100% 'utilized' as soon as any request "
                    "runs, whether 1 or 200 are batched, so the signal says nothing about load or latency"
                ),
                evidence=("k8s",),
                observed={"metric": a.metric[:200]},
                fixes=(
                    Fix(
                        kind="manifest",
                        target=f"{a.pointer}",
                        value=f"{vllm_names.NUM_REQUESTS_WAITING} (or {vllm_names.KV_CACHE_USAGE})",
                        text=f"scale on queue depth, {vllm_names.NUM_REQUESTS_WAITING}, or on KV-cache usage, {vllm_names.KV_CACHE_USAGE}",
                    ),
                ),
                locations=(Location(file=a.file, line=a.line, pointer=a.pointer),),
            )
        )
    return hits


RULES = (
    Rule(
        "infra-cpu-bottleneck",
        "CPU bottleneck (client or API server)",
        "infrastructure",
        "a benchmark client that lagged, or TTFT spent outside the engine (tokenization, request handling)",
        (("bench", "metrics"),),
        check_cpu_bottleneck,
    ),
    Rule(
        "infra-network-latency",
        "network round trip a large share of TTFT",
        "infrastructure",
        "client-measured TTFT well above the server's own TTFT histogram",
        (("bench",),),
        check_network,
    ),
    Rule(
        "infra-tp-gpu-mismatch",
        "tensor parallel size not matching the GPUs given",
        "infrastructure",
        "tensor x pipeline x data parallel differs from the GPUs the replica gets",
        (("engine",), ("gpu", "k8s", "bench")),
        check_tp_mismatch,
    ),
    Rule(
        "k8s-cpu",
        "Kubernetes pod without enough CPU",
        "infrastructure",
        "a vLLM container requesting fewer cores than its processes keep busy",
        (("k8s",),),
        check_k8s_cpu,
    ),
    Rule(
        "k8s-dev-shm",
        "Kubernetes pod without /dev/shm",
        "infrastructure",
        "no memory-backed /dev/shm in a vLLM container",
        (("k8s",),),
        check_dev_shm,
    ),
    Rule(
        "k8s-probe-budget",
        "probes shorter than model load",
        "infrastructure",
        "a startup or liveness probe that gives up before vLLM has loaded",
        (("k8s",),),
        check_probes,
    ),
    Rule(
        "k8s-autoscale-gpu-utilization",
        "autoscaling on GPU utilization",
        "infrastructure",
        "an HPA or KEDA trigger on GPU utilization",
        (("k8s",),),
        check_autoscaling,
    ),
)
