"""Read what a vLLM server reports about itself while starting, from its log.

The patterns are vLLM's own log lines, the same in 0.25 and 0.32 unless noted:
- `GPU KV cache size: 1,234 tokens` then `Maximum concurrency for 8,192 tokens per request: 12.34x` (0.25,
  two lines); `CPU KV cache size: 524,288 tokens, Maximum concurrency for 2,048 tokens per request:
  256.00x` (0.32, one line; the device is `GPU`, `CPU`, ... and `+ host` with a host pool);
- `Available KV cache memory: 12.34 GiB` (GPU worker; the CPU worker logs nothing comparable);
- `Model loading took 15.0 GiB memory and 4.2 seconds` (V1 GPU runner; the V2 runner of 0.25 leaves out
  "memory"; the CPU runner logs no weight memory);
- `Loading weights took 0.19 seconds`;
- `torch.compile took 20.31 s in total` (0.32 prefixes a `[tag] `, once per compiled model);
- `Graph capturing finished in 5 secs, took 0.45 GiB`;
- `init engine (profile, create kv cache, warmup model) took 98.72 s` with `(compilation: 20.31 s)` when
  torch.compile ran;
- `non-default args: {...}`, a Python dict literal.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from slotune.models.launch import StartupFacts
from slotune.units import GiB

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_KV_TOKENS = re.compile(r"(?P<device>[A-Z]+(?: \+ host)?) KV cache size: (?P<tokens>[\d,]+) tokens")
_CONCURRENCY = re.compile(
    r"Maximum concurrency for (?P<tokens>[\d,]+) tokens per request: (?P<times>[\d.]+)x"
)
_KV_MEMORY = re.compile(r"Available KV cache memory: (?P<gib>[\d.]+) GiB")
_MODEL_LOADING = re.compile(r"Model loading took (?P<gib>[\d.]+) GiB(?: memory)? and (?P<s>[\d.]+) seconds")
_WEIGHTS = re.compile(r"Loading weights took (?P<s>[\d.]+) seconds")
_COMPILE = re.compile(r"torch\.compile took (?P<s>[\d.]+) s in total")
_GRAPHS = re.compile(r"Graph capturing finished in (?P<s>[\d.]+) secs?, took (?P<gib>[\d.]+) GiB")
_INIT_ENGINE = re.compile(
    r"init engine \(profile, create kv cache, warmup model\) took (?P<s>[\d.]+) s"
    r"(?: \(compilation: (?P<compile_s>[\d.]+) s)?"
)
_NON_DEFAULT = re.compile(r"non-default args: (?P<args>\{.*\})[ \t]*$", re.MULTILINE)


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    matches = list(pattern.finditer(text))
    return matches[-1] if matches else None


def _int(digits: str) -> int:
    return int(digits.replace(",", ""))


def _gib_bytes(value: str) -> int:
    return round(float(value) * GiB)


def parse_non_default_args(text: str) -> dict[str, Any]:
    """The dict vLLM printed; its repr is a Python literal except for exotic values, kept as text then."""
    match = _last(_NON_DEFAULT, text)
    if match is None:
        return {}
    raw = match.group("args")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return {"unparsed": raw}
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {"unparsed": raw}


def _compile_s(text: str, init: re.Match[str] | None) -> float | None:
    if init is not None and init.group("compile_s") is not None:
        return float(init.group("compile_s"))
    times = [float(m.group("s")) for m in _COMPILE.finditer(text)]
    return sum(times) if times else None


def parse_startup_log(text: str) -> dict[str, Any]:
    """The StartupFacts fields the log gives (absent ones left out)."""
    text = _ANSI.sub("", text)
    found: dict[str, Any] = {}
    if kv := _last(_KV_TOKENS, text):
        found["kv_cache_tokens"] = _int(kv.group("tokens"))
        found["kv_cache_device"] = kv.group("device")
    if conc := _last(_CONCURRENCY, text):
        found["max_concurrency"] = float(conc.group("times"))
        found["max_concurrency_tokens_per_request"] = _int(conc.group("tokens"))
    if mem := _last(_KV_MEMORY, text):
        found["kv_cache_memory_bytes"] = _gib_bytes(mem.group("gib"))
    if load := _last(_MODEL_LOADING, text):
        found["model_weights_bytes"] = _gib_bytes(load.group("gib"))
        found["model_load_s"] = float(load.group("s"))
    if weights := _last(_WEIGHTS, text):
        found["weights_load_s"] = float(weights.group("s"))
    if graphs := _last(_GRAPHS, text):
        found["cuda_graph_capture_s"] = float(graphs.group("s"))
        found["cuda_graph_memory_bytes"] = _gib_bytes(graphs.group("gib"))
    init = _last(_INIT_ENGINE, text)
    if init is not None:
        found["engine_init_s"] = float(init.group("s"))
    compile_s = _compile_s(text, init)
    if compile_s is not None:
        found["torch_compile_s"] = compile_s
    args = parse_non_default_args(text)
    if args:
        found["non_default_args"] = args
    return found


def cache_config_facts(labels: dict[str, str]) -> dict[str, Any]:
    """StartupFacts fields from the labels of /metrics' `vllm:cache_config_info` (every CacheConfig field)."""
    found: dict[str, Any] = {}
    for field, label in (
        ("num_gpu_blocks", "num_gpu_blocks"),
        ("block_size", "block_size"),
        ("kv_cache_memory_bytes", "kv_cache_memory_bytes"),
        ("kv_cache_tokens", "kv_cache_size_tokens"),
    ):
        value = labels.get(label, "")
        if value.isdigit():
            found[field] = int(value)
    return found


def startup_facts(log_text: str, cache_config_labels: dict[str, str] | None = None) -> StartupFacts:
    """The log's facts, completed (and, for exact integers, overridden) by /metrics' cache config."""
    found = parse_startup_log(log_text)
    if cache_config_labels:
        found.update(cache_config_facts(cache_config_labels))
    return StartupFacts(**found)
