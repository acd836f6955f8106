"""One streamed OpenAI-compatible request: the body we send and how the stream is read into timings.

Definitions (docs/metrics.md):
- a *token chunk* is a streamed event whose choice carries generated text (completions `text`, chat
  `delta.content`, `delta.reasoning_content`/`reasoning`, or tool-call arguments), or whose cumulative
  `usage.completion_tokens` grew (vLLM's continuous usage stats; covers tokens whose text is held back);
  the chat API's first event (`delta.role`, empty content) is *not* a token chunk;
- TTFT is from writing the request to the socket to the read that delivered the first token chunk;
- chunk times (hence ITL) are the read times of token chunks;
- the request finishes at the last event carrying a choice (its last token or its finish_reason);
  the trailing usage-only event and `[DONE]` do not move it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

try:  # orjson parses a streamed chunk several times faster than json; it is optional.
    import orjson

    _loads = orjson.loads

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - exercised only without orjson
    import json

    _loads = json.loads  # type: ignore[assignment]

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


from slotune.bench.sse import SSEDecoder

ApiKind = Literal["completions", "chat"]
API_PATHS: dict[str, str] = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}
_MAX_ERROR_BODY = 4096
_MESSAGE = "message"  # the SSE event type of an event without an `event:` field


@dataclass(frozen=True, slots=True)
class OutputControl:
    """How the request asks for an exact output length; what a server honours differs (docs/metrics.md)."""

    ignore_eos: bool = True  # vLLM extension: keep generating past EOS
    min_tokens: bool = True  # vLLM extension: at least max_tokens tokens
    continuous_usage: bool = True  # vLLM extension: cumulative usage in every chunk
    temperature: float | None = 0.0


def request_body(
    *,
    api: ApiKind,
    model: str,
    prompt: str | list[int],
    max_tokens: int,
    control: OutputControl,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """The JSON body of one streamed request."""
    body: dict[str, Any] = {"model": model, "stream": True, "max_tokens": max_tokens}
    if api == "chat":
        text = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
        body["messages"] = [{"role": "user", "content": text}]
    else:
        body["prompt"] = prompt
    stream_options: dict[str, bool] = {"include_usage": True}
    if control.continuous_usage:
        stream_options["continuous_usage_stats"] = True
    body["stream_options"] = stream_options
    if control.temperature is not None:
        body["temperature"] = control.temperature
    if control.ignore_eos:
        body["ignore_eos"] = True
    if control.min_tokens:
        body["min_tokens"] = max_tokens
    if extra:
        body.update(extra)
    return _dumps(body)


@dataclass(slots=True)
class StreamResult:
    """What one request produced. Times are `time.perf_counter()` values; the runner rebases them."""

    sent_t: float = 0.0
    written_t: float | None = None  # when the request's bytes went to the socket (after a connect, if one)
    status: int = 0
    chunk_times: list[float] = field(default_factory=list)
    chunk_tokens: list[int] = field(default_factory=list)
    finish_t: float | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    continuous_usage: bool = False
    saw_done: bool = False
    error_kind: str | None = None  # "http", "timeout", "connection", "protocol", "stream", "interrupted"
    error: str | None = None
    text_parts: list[str] | None = None
    ended_t: float | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @property
    def text(self) -> str:
        return "".join(self.text_parts) if self.text_parts else ""


def _chunk_text(choice: dict[str, Any]) -> str | None:
    text = choice.get("text")
    if text is not None:
        return str(text)
    delta = choice.get("delta")
    if not delta:
        return None
    parts = [p for p in (delta.get("content"), delta.get("reasoning_content"), delta.get("reasoning")) if p]
    for call in delta.get("tool_calls") or ():
        fn = call.get("function") or {}
        if fn.get("arguments"):
            parts.append(fn["arguments"])
    return "".join(parts) if parts else ""


class StreamHandler:
    """A `ResponseSink` that turns one SSE response into a `StreamResult` and calls `on_done` once at its end.

    Callback-driven on purpose: no coroutine or task per request, the protocol's read callback does the work.
    """

    __slots__ = ("_decoder", "_error_body", "_finished", "_keep_text", "_on_done", "context", "result")

    def __init__(
        self,
        *,
        keep_text: bool,
        on_done: Callable[[StreamHandler], None],
        context: Any = None,
        sent_t: float = 0.0,
    ) -> None:
        self.result = StreamResult(sent_t=sent_t, text_parts=[] if keep_text else None)
        self.context = context
        self._keep_text = keep_text
        self._on_done = on_done
        self._finished = False
        self._decoder = SSEDecoder()
        self._error_body = b""

    @property
    def finished(self) -> bool:
        return self._finished

    # ResponseSink ---------------------------------------------------------------------------------
    def on_written(self, t: float) -> None:
        self.result.written_t = t

    def on_head(self, status: int, headers: dict[str, str], t: float) -> None:
        self.result.status = status

    def on_body(self, data: bytes, t: float) -> None:
        r = self.result
        if r.status != 200:
            if len(self._error_body) < _MAX_ERROR_BODY:
                self._error_body += data[: _MAX_ERROR_BODY - len(self._error_body)]
            return
        if r.error_kind is not None or r.saw_done:
            return
        payload = self._decoder.single(data)
        if payload is not None:
            self._on_event(_MESSAGE, payload, t)
            return
        for event in self._decoder.feed(data):
            self._on_event(event.event, event.data, t)
            if r.error_kind is not None or r.saw_done:
                break

    def on_end(self, t: float) -> None:
        r = self.result
        r.ended_t = t
        if r.status != 200:
            self._fail_http()
        elif r.error_kind is None and not r.saw_done:
            for event in self._decoder.close():
                self._on_event(event.event, event.data, t)
            if r.error_kind is None and r.finish_reason is None and not r.saw_done:
                self._set_error(
                    "stream", "stream ended before the response finished (no finish_reason, no [DONE])"
                )
        self._resolve()

    def on_error(self, kind: str, message: str, t: float) -> None:
        r = self.result
        r.ended_t = t
        if r.error_kind is None and not r.saw_done and not (r.finish_reason and kind == "connection"):
            self._set_error(kind, message)
        self._resolve()

    # helpers --------------------------------------------------------------------------------------
    def interrupt(self, t: float) -> None:
        """The run is stopping (Ctrl-C, deadline): keep what arrived, mark the request aborted."""
        if not self._finished:
            self.result.ended_t = t
            if self.result.error_kind is None and not self.result.saw_done:
                self._set_error("interrupted", "run stopped before the response finished")
            self._resolve()

    def _resolve(self) -> None:
        if not self._finished:
            self._finished = True
            self._on_done(self)

    def _set_error(self, kind: str, message: str) -> None:
        self.result.error_kind = kind
        self.result.error = message

    def _fail_http(self) -> None:
        body = self._error_body.decode("utf-8", "replace").strip()
        message = body
        try:
            parsed = _loads(self._error_body)
            err = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
            if isinstance(err, dict):
                message = str(err.get("message") or err)
        except Exception:
            pass
        self._set_error("http", f"HTTP {self.result.status}: {message[:300]}")

    def _on_event(self, event: str, data: bytes, t: float) -> None:
        r = self.result
        if data == b"[DONE]":
            # Finished; the request completes when the body ends (next read, usually this one), so that its
            # connection is back in the pool before a closed-loop user sends again.
            r.saw_done = True
            return
        try:
            obj = _loads(data)
        except Exception:
            self._set_error("stream", f"malformed SSE data (not JSON): {data[:120]!r}")
            self._resolve()
            return
        if not isinstance(obj, dict):
            self._set_error("stream", f"malformed SSE data (not a JSON object): {data[:120]!r}")
            self._resolve()
            return
        if event == "error" or "error" in obj or obj.get("object") == "error":
            err = obj.get("error", obj)
            message = err.get("message", err) if isinstance(err, dict) else err
            self._set_error("stream", f"server error in stream: {str(message)[:300]}")
            self._resolve()
            return
        usage = obj.get("usage")
        grew = 0
        completion = None
        if usage:
            completion = usage.get("completion_tokens")
            if completion is not None:
                grew = completion - (r.completion_tokens or 0)
                r.completion_tokens = completion
            prompt = usage.get("prompt_tokens")
            if prompt is not None:
                r.prompt_tokens = prompt
            details = usage.get("prompt_tokens_details")
            if details and details.get("cached_tokens") is not None:
                r.cached_tokens = details["cached_tokens"]
        choices = obj.get("choices")
        if not choices:
            return  # the usage-only event after the last token
        if completion is not None:
            r.continuous_usage = True
        choice = choices[0]
        text = choice.get("text")
        if text is None:
            text = _chunk_text(choice)
        if text or grew > 0:
            r.chunk_times.append(t)
            r.chunk_tokens.append(grew)
            if self._keep_text and text:
                r.text_parts.append(text)  # type: ignore[union-attr]
        reason = choice.get("finish_reason")
        if reason:
            r.finish_reason = reason
        if text or grew > 0 or reason:
            r.finish_t = t
