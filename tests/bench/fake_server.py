"""A small OpenAI-compatible streaming server on 127.0.0.1 for tests: real sockets, real HTTP/1.1, real SSE.

It behaves like vLLM where the benchmark client cares (chat role chunk first, one token per chunk,
`ignore_eos`/`min_tokens`, `stream_options.include_usage`/`continuous_usage_stats`, `/v1/models`, `/version`,
`/tokenize` over a whitespace tokenizer, Prometheus `/metrics` with vLLM's names) and can misbehave on purpose: HTTP 500s, stalls, streams dropped
mid-response, malformed SSE, or dying mid-run. It runs its own event loop in a thread so that synchronous
tests (the CLI runner) can use it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Behaviour:
    # Fault injection, by request number (1-based count of generation requests).
    fail_500_every: int = 0  # every n-th request gets HTTP 500
    stall_every: int = 0  # every n-th request: headers, then silence
    drop_every: int = 0  # every n-th request: the connection closes after a few tokens
    malformed_every: int = 0  # every n-th request: a non-JSON data line mid-stream
    die_after: int = 0  # after this many requests the server stops listening and closes everything
    token_delay_s: float = 0.0  # between tokens
    first_token_delay_s: float = 0.0
    require_api_key: str | None = None
    chunked: bool = True
    # The fake tokenizer: one token per whitespace word, two for a word longer than this many letters (0: never).
    max_word_letters: int = 0
    has_tokenize: bool = True  # serve vLLM's /tokenize
    chat_template_tokens: int = 5  # tokens a chat template would add
    honour_ignore_eos: bool = True
    natural_eos_tokens: int = 3  # without ignore_eos the "model" stops after this many tokens
    # Close a keep-alive connection when its second request arrives, without answering: the race a client
    # hits when a server times out an idle connection just as the client reuses it.
    close_reused_connections: bool = False
    # After each response, wait this long and then send nginx's "408 Request Timeout" and close (0 = never).
    idle_408_after_s: float = 0.0
    max_model_len: int = 4096  # what /v1/models and /tokenize report


@dataclass
class ServerState:
    requests: int = 0
    arrivals: list[float] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    prompt_tokens_total: int = 0
    generation_tokens_total: int = 0
    prefix_queries_total: int = 0
    prefix_hits_total: int = 0
    running: int = 0
    seen_blocks: set[tuple[str, ...]] = field(default_factory=set)
    tokenize_calls: int = 0
    vocab: dict[str, int] = field(
        default_factory=dict
    )  # the fake tokenizer's pieces, ids given on first sight


def _pieces(text: str, behaviour: Behaviour) -> list[str]:
    """The fake tokenizer's pieces of `text`, spelled as a byte-level BPE vocabulary spells them ("Ġword")."""
    limit = behaviour.max_word_letters
    out: list[str] = []
    for word in text.split():
        out += (
            ["\u0120" + word] if not limit or len(word) <= limit else ["\u0120" + word[:limit], word[limit:]]
        )
    return out


def _count_prompt_tokens(body: dict[str, Any], behaviour: Behaviour) -> int:
    if "messages" in body:
        text = " ".join(str(m.get("content", "")) for m in body["messages"])
        return len(_pieces(text, behaviour)) + behaviour.chat_template_tokens
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        return len(prompt)
    return len(_pieces(str(prompt), behaviour))


class FakeOpenAIServer:
    def __init__(
        self, behaviour: Behaviour | None = None, *, model: str = "fake-model", port: int = 0
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        self.model = model
        self.state = ServerState()
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._dead = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        fut.result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()

    def _die(self) -> None:
        self._dead = True
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.transport.abort()

    # HTTP ----------------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        served = 0
        try:
            while not self._dead:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                served += 1
                if served > 1 and self.behaviour.close_reused_connections and path.startswith("/v1/"):
                    writer.transport.abort()
                    break
                keep = await self._route(method, path, headers, body, writer)
                if not keep:
                    break
                if self.behaviour.idle_408_after_s and path.startswith("/v1/"):
                    await asyncio.sleep(self.behaviour.idle_408_after_s)
                    writer.write(
                        b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                    )
                    await writer.drain()
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _send_json(
        self, writer: asyncio.StreamWriter, status: int, obj: Any, reason: str = "OK"
    ) -> None:
        data = json.dumps(obj).encode()
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        await writer.drain()

    async def _route(
        self, method: str, path: str, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        b = self.behaviour
        if b.require_api_key and headers.get("authorization") != f"Bearer {b.require_api_key}":
            await self._send_json(writer, 401, {"error": {"message": "invalid api key"}}, "Unauthorized")
            return True
        if path == "/v1/models":
            await self._send_json(
                writer,
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": self.model,
                            "object": "model",
                            "owned_by": "vllm",
                            "root": self.model,
                            "max_model_len": self.behaviour.max_model_len,
                        }
                    ],
                },
            )
            return True
        if path == "/version":
            await self._send_json(writer, 200, {"version": "0.0.0-fake"})
            return True
        if path == "/metrics":
            text = self._metrics_text().encode()
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(text)}\r\n\r\n".encode()
                + text
            )
            await writer.drain()
            return True
        if path == "/tokenize" and method == "POST" and b.has_tokenize:
            self.state.tokenize_calls += 1
            await self._send_json(writer, 200, self._tokenize(json.loads(body)))
            return True
        if path in ("/v1/completions", "/v1/chat/completions") and method == "POST":
            return await self._generate(path, headers, json.loads(body), writer)
        await self._send_json(writer, 404, {"error": {"message": f"no route {path}"}}, "Not Found")
        return True

    def _tokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        """vLLM's /tokenize answer: the chat template's tokens (id 0) come before a chat's words."""
        if "messages" in body:
            text = " ".join(str(m.get("content", "")) for m in body["messages"])
            strs = ["<|template|>"] * self.behaviour.chat_template_tokens + _pieces(text, self.behaviour)
        else:
            strs = _pieces(str(body.get("prompt", "")), self.behaviour)
        vocab = self.state.vocab
        ids = [0 if p == "<|template|>" else vocab.setdefault(p, 1000 + len(vocab)) for p in strs]
        answer: dict[str, Any] = {
            "count": len(ids),
            "max_model_len": self.behaviour.max_model_len,
            "tokens": ids,
        }
        if body.get("return_token_strs"):
            answer["token_strs"] = strs
        return answer

    def _metrics_text(self) -> str:
        s = self.state
        return "\n".join(
            [
                "# HELP vllm:num_requests_running Number of requests in model execution batches.",
                "# TYPE vllm:num_requests_running gauge",
                f'vllm:num_requests_running{{engine="0",model_name="{self.model}"}} {s.running}',
                f'vllm:num_requests_waiting{{engine="0",model_name="{self.model}"}} 0',
                f'vllm:kv_cache_usage_perc{{engine="0",model_name="{self.model}"}} {min(1.0, s.running * 0.01)}',
                "# TYPE vllm:prefix_cache_queries counter",
                f'vllm:prefix_cache_queries_total{{engine="0",model_name="{self.model}"}} {float(s.prefix_queries_total)}',
                f'vllm:prefix_cache_hits_total{{engine="0",model_name="{self.model}"}} {float(s.prefix_hits_total)}',
                f'vllm:num_preemptions_total{{engine="0",model_name="{self.model}"}} 0.0',
                f'vllm:prompt_tokens_total{{engine="0",model_name="{self.model}"}} {float(s.prompt_tokens_total)}',
                f'vllm:generation_tokens_total{{engine="0",model_name="{self.model}"}} {float(s.generation_tokens_total)}',
                f'vllm:request_queue_time_seconds_sum{{engine="0",model_name="{self.model}"}} {0.001 * s.requests}',
                f'vllm:request_queue_time_seconds_count{{engine="0",model_name="{self.model}"}} {float(s.requests)}',
                f'vllm:request_queue_time_seconds_bucket{{engine="0",le="0.01",model_name="{self.model}"}} {float(s.requests)}',
                f'vllm:request_queue_time_seconds_bucket{{engine="0",le="+Inf",model_name="{self.model}"}} {float(s.requests)}',
                'vllm:cache_config_info{block_size="16",num_gpu_blocks="2048",enable_prefix_caching="True",engine="0",gpu_memory_utilization="0.9"} 1.0',
                "",
            ]
        )

    def _count_prefix(self, body: dict[str, Any], prompt_tokens: int) -> None:
        """A toy prefix cache over 16-word blocks, enough to make hit counters move like vLLM's."""
        s = self.state
        if "messages" in body:
            words = " ".join(str(m.get("content", "")) for m in body["messages"]).split()
        else:
            p = body.get("prompt", "")
            words = [str(x) for x in p] if isinstance(p, list) else str(p).split()
        s.prefix_queries_total += prompt_tokens
        for i in range(16, len(words) + 1, 16):
            key = tuple(words[:i])
            if key in s.seen_blocks:
                s.prefix_hits_total += 16
            else:
                s.seen_blocks.add(key)

    async def _generate(
        self, path: str, headers: dict[str, str], body: dict[str, Any], writer: asyncio.StreamWriter
    ) -> bool:
        b = self.behaviour
        s = self.state
        s.requests += 1
        n = s.requests
        s.arrivals.append(time.perf_counter())
        s.bodies.append(body)
        s.headers.append(headers)
        if b.die_after and n > b.die_after:
            self._die()
            return False
        if b.fail_500_every and n % b.fail_500_every == 0:
            await self._send_json(
                writer, 500, {"error": {"message": "injected failure"}}, "Internal Server Error"
            )
            return True
        chat = path.endswith("chat/completions")
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        target = (
            max_tokens
            if (body.get("ignore_eos") and b.honour_ignore_eos)
            else min(max_tokens, b.natural_eos_tokens)
        )
        prompt_tokens = _count_prompt_tokens(body, b)
        self._count_prefix(body, prompt_tokens)
        opts = body.get("stream_options") or {}
        continuous = bool(opts.get("continuous_usage_stats"))
        include_usage = bool(opts.get("include_usage"))
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        await writer.drain()
        if b.stall_every and n % b.stall_every == 0:
            await asyncio.sleep(3600)
            return False
        s.running += 1
        try:
            created = {"id": f"cmpl-{n}", "created": 0, "model": self.model}

            async def event(obj: Any) -> None:
                data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
                payload = b"data: " + data + b"\n\n"
                writer.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
                await writer.drain()

            def usage(done: int) -> dict[str, Any]:
                return {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": done,
                    "total_tokens": prompt_tokens + done,
                }

            if chat:
                role = {
                    **created,
                    "object": "chat.completion.chunk",
                    "choices": [
                        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                    ],
                }
                if continuous:
                    role["usage"] = usage(0)
                await event(role)
            if b.first_token_delay_s:
                await asyncio.sleep(b.first_token_delay_s)
            for i in range(1, target + 1):
                if i > 1 and b.token_delay_s:
                    await asyncio.sleep(b.token_delay_s)
                if b.drop_every and n % b.drop_every == 0 and i == min(3, target):
                    writer.transport.abort()
                    return False
                if b.malformed_every and n % b.malformed_every == 0 and i == min(2, target):
                    await event(b"{not json")
                finish = ("length" if target == max_tokens else "stop") if i == target else None
                text = " hello"  # one token in the Qwen3 tokenizer the tests use
                if chat:
                    obj = {
                        **created,
                        "object": "chat.completion.chunk",
                        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
                    }
                else:
                    obj = {
                        **created,
                        "object": "text_completion",
                        "choices": [{"index": 0, "text": text, "finish_reason": finish}],
                    }
                if continuous:
                    obj["usage"] = usage(i)
                s.generation_tokens_total += 1
                await event(obj)
            s.prompt_tokens_total += prompt_tokens
            if include_usage:
                await event({**created, "object": "text_completion", "choices": [], "usage": usage(target)})
            await event(b"[DONE]")
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        finally:
            s.running -= 1
        return True
