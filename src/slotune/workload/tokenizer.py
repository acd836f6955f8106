"""Tokenizer loading and chat rendering for text workloads (ShareGPT, request logs).

A tokenizer is a Hugging Face fast-tokenizer `tokenizer.json`; `.json.xz` and `.json.gz` copies load too
(the Qwen3 tokenizer is 11 MB as JSON, 1.4 MB as xz).
"""

from __future__ import annotations

import gzip
import lzma
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from slotune.errors import InputError

_FILE_NAMES = ("tokenizer.json", "tokenizer.json.xz", "tokenizer.json.gz")


@lru_cache(maxsize=4)
def _load(resolved: str, mtime_ns: int) -> Tokenizer:  # mtime in the key: a rewritten file loads again
    path = Path(resolved)
    if path.suffix == ".xz":
        return Tokenizer.from_str(lzma.decompress(path.read_bytes()).decode("utf-8"))
    if path.suffix == ".gz":
        return Tokenizer.from_str(gzip.decompress(path.read_bytes()).decode("utf-8"))
    return Tokenizer.from_file(resolved)


def tokenizer_file(path: str | Path) -> Path | None:
    """The tokenizer file at `path`: the file itself, or a model folder's tokenizer.json (plain, .xz, .gz)."""
    candidate = Path(path)
    if candidate.is_dir():
        return next((candidate / n for n in _FILE_NAMES if (candidate / n).is_file()), None)
    return candidate if candidate.is_file() else None


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load (once per file version) a tokenizer.json, plain, .xz or .gz, or the one a model folder holds."""
    file = tokenizer_file(path)
    if file is None:
        raise InputError(
            "--tokenizer",
            str(path),
            "give the path of a Hugging Face tokenizer.json (plain, .xz or .gz) or of a model folder holding one",
            problem="file not found",
        )
    try:
        return _load(str(file.resolve()), file.stat().st_mtime_ns)
    except Exception as exc:  # the tokenizers library raises plain Exceptions on bad files
        raise InputError(
            "--tokenizer",
            str(path),
            "give a Hugging Face fast-tokenizer tokenizer.json (plain, .xz or .gz)",
            problem=f"cannot load it ({exc})",
        ) from exc


@dataclass(frozen=True, slots=True)
class RenderedChat:
    text: str
    # Characters of `text` taken by a leading system (or developer) message; 0 when there is none.
    system_chars: int


def render_chatml(messages: Sequence[tuple[str, str]]) -> RenderedChat:
    """ChatML as Qwen's chat template renders it (no tools, no thinking block), with the generation prompt.

    Other templates differ by a few tokens per message; the prompt's token count is what matters here.
    """
    parts = [f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in messages]
    system_chars = len(parts[0]) if messages and messages[0][0] in ("system", "developer") else 0
    return RenderedChat(text="".join(parts) + "<|im_start|>assistant\n", system_chars=system_chars)


def encode(tokenizer: Tokenizer, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=True).ids)


def encode_many(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    return [list(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=True)]
