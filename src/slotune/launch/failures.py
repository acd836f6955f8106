"""Why a vLLM server did not start, read from its log: the kind, vLLM's own words and a fix.

The messages are vLLM's (0.25 and 0.32 raise the same texts), argparse's and Hugging Face Hub's. The root
cause is what is matched, not the `RuntimeError: Engine core initialization failed` every engine-core
failure ends with, so the rules run from the most specific to the most general.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from slotune.models.launch import LaunchFailureKind

_LOG_PREFIX = re.compile(
    r"^(?:\([\w:-]+ pid=\d+\)\s+)?(?:(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?\s+\[[^\]]*\] ?)?"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NOISE = re.compile(r"^\s*(?:\^+|~+|Loading safetensors checkpoint shards:.*|.*Route: .*)\s*$")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit)\b:?\s*(?P<message>.*)$")
_GENERIC = ("Engine core initialization failed", "EngineCore failed to start")
_MAX_LEN_HINT = re.compile(r"estimated maximum model length is (\d+)")

EXCERPT_CONTEXT_BEFORE = 3
EXCERPT_CONTEXT_AFTER = 6
EXCERPT_TAIL_LINES = 8
EXCERPT_MAX_CHARS = 6000


@dataclass(frozen=True, slots=True)
class Rule:
    kind: LaunchFailureKind
    pattern: re.Pattern[str]
    fix: str


MEMORY_FIX = (
    "give vLLM more memory or ask for less: lower --gpu-memory-utilization (on CPU: VLLM_CPU_KVCACHE_SPACE), "
    "--max-model-len or --max-num-seqs, or use a larger GPU, more --tensor-parallel-size or --quantization"
)

RULES: tuple[Rule, ...] = (
    Rule(
        "port_in_use",
        re.compile(r"Address already in use|\[Errno 98\]"),
        "choose another port, or leave the port unset so slotune picks a free one",
    ),
    Rule(
        "bad_flag",
        re.compile(r"^[\w.-]+: error: (?:unrecognized arguments|argument |the following arguments)"),
        "correct the flag vLLM names; `python -m vllm.entrypoints.openai.api_server --help` lists them",
    ),
    Rule(
        "kv_cache_too_small",
        re.compile(
            r"To serve at least one request with the model's max seq len|Cannot auto-fit max_model_len"
        ),
        "lower --max-model-len, or give the KV cache more memory (--gpu-memory-utilization or "
        "--kv-cache-memory-bytes; on CPU: VLLM_CPU_KVCACHE_SPACE in GiB)",
    ),
    Rule(
        "out_of_memory",
        re.compile(
            r"CUDA out of memory|OutOfMemoryError|not enough GPU memory|No available memory for the cache "
            r"blocks|is less than desired (?:GPU|CPU) memory utilization|Cannot allocate memory"
        ),
        MEMORY_FIX,
    ),
    Rule(
        "model_not_found",
        re.compile(
            r"HFValidationError|Repo id must|RepositoryNotFoundError|is not a local folder and is not a valid "
            r"model identifier|LocalEntryNotFoundError|OfflineModeIsEnabled|Invalid repository ID or local "
            r"directory|Can't load the configuration of|No such file or directory: .*config\.json"
        ),
        "give --model an existing local model folder (with config.json) or a model id the server can fetch",
    ),
    Rule(
        "invalid_config",
        re.compile(r"validation errors? for \w+Config|^(?:ValueError|TypeError|NotImplementedError): "),
        "change the setting vLLM names in its message",
    ),
)


def clean_line(line: str) -> str:
    """A log line without colour codes and vLLM's `(EngineCore pid=1) ERROR 11-30 15:37:09 [f.py:1]` head."""
    return _LOG_PREFIX.sub("", _ANSI.sub("", line)).rstrip()


_VALIDATION = re.compile(r"validation errors? for (?P<model>\w+)")


def _reason_at(lines: list[str], index: int) -> str:
    """The message at `index`; pydantic puts the useful part on the next line."""
    line = lines[index]
    validation = _VALIDATION.search(line)
    if validation and index + 1 < len(lines):
        detail = lines[index + 1].strip().removeprefix("Value error, ")
        return f"{validation.group('model')}: {detail}"
    match = _EXCEPTION_LINE.match(line.strip())
    return (match.group("message") if match and match.group("message") else line).strip()


def _last_exception(lines: list[str]) -> int | None:
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index].strip()
        if _EXCEPTION_LINE.match(line) and not any(g in line for g in _GENERIC):
            return index
    return None


def excerpt(lines: list[str], index: int | None) -> str:
    """The cause with a little context, then the log's last lines; noise (progress bars, carets) left out."""
    tail_start = max(0, len(lines) - EXCERPT_TAIL_LINES)
    picked: list[str] = []
    if index is not None and index < tail_start:
        start = max(0, index - EXCERPT_CONTEXT_BEFORE)
        end = min(tail_start, index + EXCERPT_CONTEXT_AFTER + 1)
        picked = [*lines[start:end], "..."]
    picked += lines[tail_start:]
    text = "\n".join(line for line in picked if not _NOISE.match(line))
    return text[-EXCERPT_MAX_CHARS:]


@dataclass(frozen=True, slots=True)
class Diagnosis:
    kind: LaunchFailureKind
    reason: str
    fix: str
    excerpt: str


def _fix_for(rule: Rule, reason: str) -> str:
    hint = _MAX_LEN_HINT.search(reason)
    if rule.kind == "kv_cache_too_small" and hint:
        return f"{rule.fix}; vLLM estimates that --max-model-len {hint.group(1)} fits"
    return rule.fix


def diagnose(log_text: str) -> Diagnosis:
    """Classify a failed start-up from its log. Unknown causes are `process_exit` with the last exception."""
    lines = [clean_line(line) for line in log_text.splitlines()]
    lines = [line for line in lines if line.strip()]
    for rule in RULES:
        hits = [i for i, line in enumerate(lines) if rule.pattern.search(line)]
        if hits:
            # The exception's own line says more than the `raise ...(` line of its traceback.
            cause = next((i for i in hits if _EXCEPTION_LINE.match(lines[i].strip())), hits[0])
            reason = _reason_at(lines, cause)
            return Diagnosis(rule.kind, reason, _fix_for(rule, reason), excerpt(lines, cause))
    last = _last_exception(lines)
    reason = _reason_at(lines, last) if last is not None else (lines[-1] if lines else "the log is empty")
    return Diagnosis(
        "process_exit", reason, "read the server log; the excerpt shows its last lines", excerpt(lines, last)
    )
