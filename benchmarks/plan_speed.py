"""How long `slotune plan` takes: one plan, and `--gpu all` (every GPU x TP x quantization) per catalog model.

Best of 3 runs in one process (the parameter inventory is cached per model after the first).

Run: .venv/bin/python benchmarks/plan_speed.py     (prints one line per case and a JSON summary)
"""

from __future__ import annotations

import json
import time

from slotune.catalog import get_gpu, get_model, list_gpus
from slotune.models import EngineConfig
from slotune.plan import plan_capacity, rank_options


def _best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    results: dict[str, dict[str, float]] = {}
    engine = EngineConfig(max_model_len=32768)
    for name in ("llama-3.1-8b", "llama-3.1-70b", "qwen3-235b-a22b", "deepseek-v3", "gemma-3-27b"):
        model = get_model(name)
        one = _best_of(
            lambda model=model: plan_capacity(
                model,
                get_gpu("h100"),
                engine.model_copy(
                    update={
                        "tensor_parallel_size": 8 if model.total_params and model.total_params > 1e11 else 1
                    }
                ),
            )
        )
        ranked: list = []
        every = _best_of(
            lambda model=model, ranked=ranked: ranked.append(rank_options(model, engine, gpus=list_gpus()))
        )
        results[name] = {"one_plan_s": one, "gpu_all_s": every, "options_that_fit": len(ranked[-1].options)}
        print(
            f"{name:18s} one plan {one * 1e3:7.1f} ms   --gpu all {every:6.2f} s   ({len(ranked[-1].options)} fit)"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
