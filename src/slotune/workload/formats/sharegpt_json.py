"""ShareGPT JSON: [{"id", "conversations": [{"from": "human"|"gpt", "value": text}, ...]}, ...].

As vLLM's benchmark does: the first human turn is the prompt (tokenized as plain text), the reply after it
gives the output length; without a reply the output length is a flagged stand-in.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from slotune.errors import InputError
from slotune.models import RequestSpec, Workload
from slotune.workload.formats._common import ReadOptions, build_workload, read_text
from slotune.workload.tokenizer import encode_many, load_tokenizer

NAME = "sharegpt-json"
_HUMAN = {"human", "user"}
_MODEL = {"gpt", "assistant", "chatgpt", "bard", "bing", "model"}
logger = logging.getLogger(__name__)


def _first_exchange(conv: Any) -> tuple[str, str | None] | None:
    turns = conv.get("conversations") if isinstance(conv, dict) else None
    if not isinstance(turns, list):
        return None
    for i, turn in enumerate(turns):
        if isinstance(turn, dict) and turn.get("from") in _HUMAN and isinstance(turn.get("value"), str):
            reply = turns[i + 1] if i + 1 < len(turns) else None
            if (
                isinstance(reply, dict)
                and reply.get("from") in _MODEL
                and isinstance(reply.get("value"), str)
            ):
                return turn["value"], reply["value"]
            return turn["value"], None
    return None


def read(path: Path, options: ReadOptions) -> Workload:
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path.name} line {exc.lineno}",
            exc.doc[max(0, exc.pos - 30) : exc.pos + 30],
            "give a ShareGPT JSON array of conversations",
            problem=f"bad JSON ({exc.msg} at column {exc.colno})",
        ) from exc
    if not isinstance(data, list):
        raise InputError(path.name, type(data).__name__, "give a JSON array of {id, conversations} objects")
    if options.tokenizer_path is None:
        raise InputError(
            "--tokenizer",
            None,
            "pass --tokenizer path/to/tokenizer.json: ShareGPT holds text, and token counts need a tokenizer",
            problem="a tokenizer is needed for text",
        )
    tokenizer = load_tokenizer(options.tokenizer_path)
    exchanges = [(i, ex) for i, conv in enumerate(data) if (ex := _first_exchange(conv)) is not None]
    if len(exchanges) < len(data):
        logger.warning(
            "%s: %d conversations without a human turn skipped", path.name, len(data) - len(exchanges)
        )
    prompt_ids = encode_many(tokenizer, [ex[0] for _, ex in exchanges])
    reply_texts = [ex[1] for _, ex in exchanges]
    reply_ids = encode_many(tokenizer, [r for r in reply_texts if r is not None])
    reply_iter = iter(reply_ids)
    requests: list[RequestSpec] = []
    for (index, (prompt, reply)), ids in zip(exchanges, prompt_ids, strict=True):
        output = len(next(reply_iter)) if reply is not None else 0
        if not ids:
            logger.warning("%s: conversation %d has an empty prompt, skipped", path.name, index)
            continue
        conv_id = data[index].get("id") if isinstance(data[index], dict) else None
        requests.append(
            RequestSpec(
                request_id=str(conv_id if conv_id is not None else index),
                arrival_s=0.0,
                prompt_tokens=len(ids),
                output_tokens=output if output > 0 else options.default_output_tokens,
                is_output_estimated=output <= 0,
                text=prompt,
                prompt_token_ids=tuple(ids),
            )
        )
    return build_workload(path, NAME, requests)
