"""Rebuild src/slotune/bench/prompt_words.json, the candidate words `bench` sends to a server's `/tokenize`
when it has no tokenizer file: `python scripts/build_prompt_words.py`.

The words are the first 4,096 single-token words of the Qwen3 tokenizer in the tests' data, in token-id
order. A BPE vocabulary gives its most frequent merges the lowest ids, so these are common English words
(" the", " and", " return", " water"), most of them single tokens in other vocabularies too. For a Qwen
model the server's pool then equals the local one (the first 2,048 of these), so prompts are the same with
or without --tokenizer.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "src"))

from slotune.bench.prompts import stable_word_pool  # noqa: E402
from slotune.bench.server_words import CANDIDATE_WORDS_FILE  # noqa: E402
from slotune.workload.tokenizer import load_tokenizer  # noqa: E402

TOKENIZER = REPO_ROOT / "tests" / "data" / "tokenizers" / "qwen3" / "tokenizer.json"
NUM_WORDS = 4096


def main() -> None:
    pool = stable_word_pool(load_tokenizer(TOKENIZER), max_size=NUM_WORDS)
    words = [text[1:] for text in pool.texts]
    data = {
        "source": "the first single-token words of the Qwen3 tokenizer, in token-id order "
        "(scripts/build_prompt_words.py)",
        "words": words,
    }
    CANDIDATE_WORDS_FILE.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {len(words)} words to {CANDIDATE_WORDS_FILE}")


if __name__ == "__main__":
    main()
