"""Build mt_bench_chat_log.jsonl: an OpenAI chat request log made from MT-bench questions.

    python tests/data/workload/make_mt_bench_log.py MT_BENCH_DIR TOKENIZER_JSON OUT_JSONL

What the log holds (a constructed test fixture, from real prompts and answers):
- every MT-bench question's first turn as a chat request with FastChat's Vicuna system prompt;
- for the 30 questions that have a GPT-4 reference answer: the answer as the response (with usage), and a
  second-turn request that re-sends turn 1 and its answer (a real prefix-reuse pattern);
- the 50 questions without a reference answer are logged as request bodies only (no response, no usage);
- temperatures from FastChat's MT-bench `temperature_config`, max_tokens 1024 (FastChat's max_new_token),
  stop ["\\n\\n"] on extraction requests;
- arrivals: first turns Poisson at 0.5 req/s (numpy seed 0); a second turn follows its first after
  20 ms per answer token plus 15 s of reading.
Token counts are Qwen3's: prompt = ChatML rendering, completion = answer tokens + 1 (the end-of-turn token).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
TEMPERATURE = {
    "writing": 0.7,
    "roleplay": 0.7,
    "extraction": 0.0,
    "math": 0.0,
    "coding": 0.0,
    "reasoning": 0.0,
    "stem": 0.1,
    "humanities": 0.1,
}
START_S = 1_700_000_000.0


def chatml(messages: list[dict[str, str]]) -> str:
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


def main(mt_bench_dir: Path, tokenizer_path: Path, out: Path) -> None:
    tok = Tokenizer.from_file(str(tokenizer_path))
    questions = [json.loads(line) for line in (mt_bench_dir / "question.jsonl").read_text().splitlines()]
    answers = {
        a["question_id"]: a["choices"][0]["turns"]
        for a in map(json.loads, (mt_bench_dir / "reference_answer" / "gpt-4.jsonl").read_text().splitlines())
    }
    rng = np.random.default_rng(0)
    t = START_S
    records = []
    for q in questions:
        t += float(rng.exponential(2.0))
        request = {
            "model": "qwen3-8b",
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q["turns"][0]}],
            "temperature": TEMPERATURE[q["category"]],
            "max_tokens": 1024,
        }
        if q["category"] == "extraction":
            request["stop"] = ["\n\n"]
        if q["question_id"] not in answers:
            records.append({"timestamp": round(t, 3), **request})
            continue
        arrival = t
        for turn in (0, 1):
            answer = answers[q["question_id"]][turn]
            prompt_tokens = len(tok.encode(chatml(request["messages"])).ids)
            completion_tokens = len(tok.encode(answer).ids) + 1
            response = {
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
            records.append({"timestamp": round(arrival, 3), "request": request, "response": response})
            arrival += completion_tokens * 0.02 + 15.0
            request = {
                **request,
                "messages": [
                    *request["messages"],
                    {"role": "assistant", "content": answer},
                    {"role": "user", "content": q["turns"][1]},
                ],
            }
    records.sort(key=lambda r: r["timestamp"])
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
