"""`HttpBackend`: the Backend protocol against a running OpenAI-compatible server.

It replays the workload at its own arrival times by default (`load`: any `LoadSpec`, run on the same
schedule as the simulator's), so simulated and measured runs produce RequestRecords that compare field by field.
"""

from __future__ import annotations

from pathlib import Path

from slotune.bench.runner import BenchSettings, api_key_from_env, run_bench
from slotune.models import SLO, EngineConfig, LoadSpec, RunResult, Workload


class HttpBackend:
    name = "http"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api: str = "completions",
        tokenizer: str | None = None,
        api_key: str | None = None,
        load: LoadSpec | None = None,
        seed: int = 0,
        slo: SLO | None = None,
        out_dir: Path | None = None,
        timeout_s: float | None = 600.0,
        exact_output: bool | None = None,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.api = api
        self.tokenizer = tokenizer
        self._api_key = api_key if api_key is not None else api_key_from_env()
        self.load = load or LoadSpec()
        self.seed = seed
        self.slo = slo
        self.out_dir = out_dir
        self.timeout_s = timeout_s
        self.exact_output = exact_output

    def __repr__(self) -> str:  # never show the key
        return (
            f"HttpBackend({self.base_url!r}, {self.model!r}, api={self.api!r}, load={self.load.describe()!r})"
        )

    def settings_for(self, engine_config: EngineConfig | None, slo: SLO | None = None) -> BenchSettings:
        return BenchSettings(
            url=self.base_url,
            model=self.model,
            load=self.load,
            api=self.api,
            seed=self.seed,
            slo=slo or self.slo,
            out_dir=self.out_dir,
            api_key=self._api_key,
            tokenizer=self.tokenizer,
            timeout_s=self.timeout_s,
            exact_output=self.exact_output,
            engine_config=engine_config,
        )

    def run(self, workload: Workload, engine_config: EngineConfig, *, slo: SLO | None = None) -> RunResult:
        """Send `workload` to the server (which runs with `engine_config`: recorded, not applied)."""
        return run_bench(self.settings_for(engine_config, slo), workload).run_result
