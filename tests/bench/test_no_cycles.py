"""On uvloop the request path makes no reference cycles, on success or on failure.

`slotune bench` on uvloop turns the cyclic garbage collector off while it runs (bench.loops.collector_paused),
because a collection pauses the send loop for milliseconds. That is only safe while reference counting frees
everything a request allocates: any per-request cycle would pile up in memory for the whole run. So the
client runs here with the collector off, and the cycles left afterwards must not grow with the number of
requests. The client runs in its own process: the fake server's thread here makes garbage of its own.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fake_server import Behaviour, FakeOpenAIServer

from slotune.bench.loops import run_with_loop

# The request path of a run, as the runner wires it (pool, open-loop worker, collector streaming records to
# disk), with the collector off throughout. Afterwards: how many objects only the collector could free.
_CLIENT = """
import asyncio, gc, json, sys
from pathlib import Path
from time import perf_counter
from slotune.bench.client import OutputControl
from slotune.load import Job
from slotune.bench.loops import run_with_loop
from slotune.bench.results import Collector, RecordWriter
from slotune.bench.transport import ConnectionPool, Endpoint
from slotune.bench.worker import LoadWorker, RequestFactory
from slotune.models import RequestSpec

url, model, requests, timeout, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]

async def run():
    endpoint = Endpoint(url)
    factory = RequestFactory(endpoint.host_header, endpoint.base_path, "completions", model, OutputControl(),
                             None, (("Content-Type", "application/json"),))
    jobs = [factory.make(Job(i, RequestSpec(request_id=str(i), arrival_s=0.0, prompt_tokens=4, output_tokens=6,
                                            text="a b c d"), 0, i / 200, False)) for i in range(requests)]
    pool = ConnectionPool(endpoint, spare=4)
    await pool.prewarm(4)
    writer = RecordWriter(Path(out))
    t0 = perf_counter() + 0.02
    worker = LoadWorker(pool, on_outcome=Collector(t0=t0, writer=writer, keep_text=False), keep_text=False,
                        timeout_s=timeout)
    await worker.run_open(jobs, t0)
    writer.close()
    pool.close()
    await asyncio.sleep(0.05)  # let closed transports finish

gc.collect()
gc.disable()
run_with_loop(sys.argv[6], run())
gc.set_debug(gc.DEBUG_SAVEALL)
found = gc.collect()
print(json.dumps({"found": found, "types": dict(__import__("collections").Counter(
    type(o).__name__ for o in gc.garbage).most_common(8))}))
"""

SCENARIOS = {
    "success": (Behaviour(token_delay_s=0.001), 30.0),
    # HTTP 500s, streams dropped mid-response, malformed SSE, stalls ended by the per-request timeout.
    "faults": (
        Behaviour(fail_500_every=3, drop_every=4, malformed_every=5, stall_every=7, token_delay_s=0.001),
        0.3,
    ),
    # The server goes away: every later request fails to connect.
    "dying": (Behaviour(die_after=8, token_delay_s=0.001), 30.0),
}


def _garbage_after(tmp_path: Path, tokenizer_path: str, scenario: str, requests: int) -> dict[str, object]:
    behaviour, timeout_s = SCENARIOS[scenario]
    out = tmp_path / f"{scenario}-{requests}"
    with FakeOpenAIServer(behaviour) as server:
        args = [server.url, server.model, str(requests), str(timeout_s), str(out), "uvloop"]
        proc = subprocess.run(
            [sys.executable, "-c", _CLIENT, *args], capture_output=True, text=True, timeout=120
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_cyclic_garbage_does_not_grow_with_the_number_of_requests(
    tmp_path: Path, tokenizer_path: str, scenario: str
) -> None:
    few = _garbage_after(tmp_path, tokenizer_path, scenario, 40)
    many = _garbage_after(tmp_path, tokenizer_path, scenario, 160)
    # 120 more requests: one leaked cycle per request would add at least 120 objects (several, in fact).
    # What a run leaves once (asyncio's own set-up, a few connections) is the same for both.
    growth = int(many["found"]) - int(few["found"])  # type: ignore[call-overload]
    assert growth < 30, (few, many)


async def _collector_enabled() -> bool:
    return gc.isenabled()


@pytest.mark.parametrize(("loop", "enabled_during_run"), [("uvloop", False), ("asyncio", True)])
def test_the_collector_is_off_during_a_uvloop_run_only(loop: str, enabled_during_run: bool) -> None:
    assert gc.isenabled()
    assert run_with_loop(loop, _collector_enabled()) is enabled_during_run
    assert gc.isenabled()
