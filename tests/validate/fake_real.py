"""A stand-in for a real engine in the validation tests: the simulator with another profile, reporting the KV
capacity vLLM would log and a preemption counter, as a launched server's run does."""

from __future__ import annotations

from pathlib import Path

from slotune.catalog import get_gpu, get_model, load_profile
from slotune.models import SLO, EngineConfig, HardwareProfile, LoadSpec, RunResult, Workload
from slotune.models.launch import LaunchInfo, StartupFacts
from slotune.simulate import Simulator

TINY_CONFIG = str(Path(__file__).resolve().parents[1] / "data" / "configs" / "tiny-llama.json")
GPU = "cpu-epyc-2c"
ENGINE = EngineConfig(max_model_len=2048, block_size=32, kv_cache_memory_bytes=64 * 2**20)


def slower(factor: float = 1.2) -> HardwareProfile:
    """The default profile with compute efficiencies divided by `factor` and a 5 ms frontend."""
    base = load_profile()
    c = base.coefficients
    gpu = get_gpu(GPU)
    update = {
        "mfu_decode": gpu.mfu_decode / factor,
        "mfu_prefill": gpu.mfu_prefill / factor,
        "frontend_s": 0.005,
    }
    return base.model_copy(update={"coefficients": c.model_copy(update=update), "name": "slower"})


class FakeReal:
    def __init__(
        self, load: LoadSpec, seed: int = 0, profile: HardwareProfile | None = None, kv_tokens: int = 32768
    ) -> None:
        self.load = load
        self.seed = seed
        self.profile = profile or slower()
        self.kv_tokens = kv_tokens

    def run(self, workload: Workload, engine_config: EngineConfig, *, slo: SLO | None = None) -> RunResult:
        sim = Simulator(get_model(TINY_CONFIG), get_gpu(GPU), profile=self.profile, seed=self.seed)
        result = sim.run(workload, engine_config, load=self.load, slo=slo)
        launch = LaunchInfo(
            argv=("python", "-m", "vllm.entrypoints.openai.api_server"),
            vllm_version="0.32.0",
            base_url="http://127.0.0.1:1",
            port=1,
            pid=1,
            log_path="",
            time_to_healthy_s=1.0,
            facts=StartupFacts(kv_cache_tokens=self.kv_tokens),
        )
        provenance = result.provenance.model_copy(update={"backend": "vllm", "engine_version": "vllm 0.32.0"})
        return result.model_copy(update={"launch": launch, "provenance": provenance})
