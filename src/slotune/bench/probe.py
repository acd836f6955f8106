"""Before the run: what the server adds to a prompt, and which output-length controls it takes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from slotune.bench.client import OutputControl, StreamHandler, StreamResult
from slotune.bench.fetch import post_json
from slotune.bench.prompts import PromptBuilder
from slotune.bench.server_info import ServerInfo
from slotune.bench.settings import BenchSettings
from slotune.bench.transport import ConnectionPool, Endpoint
from slotune.bench.worker import RequestFactory
from slotune.errors import BackendError
from slotune.load import Job
from slotune.models import RequestSpec

_PROBE_CONTENT_TOKENS = 32
_PROBE_OUTPUT_TOKENS = 4
_PROBE_JOB_INDEX = 2**40  # its own random stream, apart from every job of the run


@dataclass(frozen=True, slots=True)
class PromptProbe:
    control: OutputControl
    exact_output: bool
    overhead_tokens: int
    probe_prompt_tokens: int | None
    notes: tuple[str, ...]


async def _one_request(pool: ConnectionPool, request: bytes, timeout_s: float | None) -> StreamResult:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[StreamResult] = loop.create_future()

    def on_done(h: StreamHandler) -> None:
        if not done.done():
            done.set_result(h.result)

    handler = StreamHandler(keep_text=False, on_done=on_done, sent_t=perf_counter())
    pool.submit(request, handler, timeout_s=timeout_s)
    return await done


async def probe_prompt(
    pool: ConnectionPool,
    settings: BenchSettings,
    info: ServerInfo,
    builder: PromptBuilder | None,
    headers: dict[str, str],
) -> PromptProbe:
    """How many tokens the server adds to our prompt content (special tokens, chat template), and which
    output-length controls it takes.

    On vLLM this asks `/tokenize` (no generation, so the server's counters stay exactly the run's);
    elsewhere it sends one short generation request before the run.
    """
    exact = info.is_vllm if settings.exact_output is None else settings.exact_output
    control = OutputControl(ignore_eos=exact, min_tokens=exact, continuous_usage=info.is_vllm)
    probe_spec = RequestSpec(
        request_id="probe",
        arrival_s=0.0,
        prompt_tokens=_PROBE_CONTENT_TOKENS,
        output_tokens=_PROBE_OUTPUT_TOKENS,
    )
    probe_job = Job(_PROBE_JOB_INDEX, probe_spec, 0, None, warmup=True)
    if info.is_vllm and builder is not None:
        built = builder.build(probe_spec, job_index=_PROBE_JOB_INDEX)
        body: dict[str, Any] = {"model": settings.model}
        if settings.api == "chat":
            body["messages"] = [{"role": "user", "content": built.prompt}]
        else:
            body["prompt"] = built.prompt
        resp = await post_json(pool, "/tokenize", body, headers=headers)
        if resp.status == 200:
            try:
                count = int(resp.json()["count"])
            except Exception:
                count = -1
            if count >= 0:
                overhead = max(0, count - built.content_tokens)
                added = f"the server adds {overhead} prompt tokens (special tokens / chat template)"
                return PromptProbe(control, exact, overhead, count, (added,) if overhead else ())
    notes: list[str] = []
    for attempt in range(2):
        factory = make_factory(settings, pool.endpoint, control, builder, headers)
        job = factory.make(probe_job)
        result = await _one_request(pool, job.request, min(settings.timeout_s or 120.0, 120.0))
        if result.ok:
            break
        uses_extensions = control.ignore_eos or control.min_tokens or control.continuous_usage
        if attempt == 0 and result.error_kind == "http" and result.status in (400, 422) and uses_extensions:
            notes.append(
                f"server rejected vLLM extensions ({result.error}); sent plain OpenAI parameters instead"
            )
            control = OutputControl(ignore_eos=False, min_tokens=False, continuous_usage=False)
            exact = False
            continue
        raise BackendError(
            f"the first request to {pool.endpoint.url('/v1/' + settings.api)} failed: {result.error}. "
            "Fix: check --url, --model and --api, and that the server is healthy."
        )
    notes.append("one probe request was sent before the run (not in the records)")
    overhead = 0
    if result.prompt_tokens is not None and builder is not None:
        overhead = max(0, result.prompt_tokens - job.expected_prompt_tokens)
        if overhead:
            notes.append(f"the server adds {overhead} prompt tokens (special tokens / chat template)")
    elif result.prompt_tokens is None:
        notes.append("the server reports no usage: prompt and output token counts are not checked against it")
    return PromptProbe(control, exact, overhead, result.prompt_tokens, tuple(notes))


def make_factory(
    settings: BenchSettings,
    endpoint: Endpoint,
    control: OutputControl,
    builder: PromptBuilder | None,
    headers: dict[str, str],
) -> RequestFactory:
    return RequestFactory(
        host_header=endpoint.host_header,
        base_path=endpoint.base_path,
        api=settings.api,  # type: ignore[arg-type]
        model=settings.model,
        control=control,
        builder=builder,
        headers=tuple(headers.items()),
        extra_body=settings.extra_body,
    )
