"""A fake `python -m vllm.entrypoints.openai.api_server` for the launcher's tests.

It parses its arguments with the fake parser (argparse errors exit 2, as vLLM's do), prints start-up lines
in vLLM's format, starts an "engine core" child in its process group, as vLLM does, then behaves as
FAKE_VLLM_MODE says:

  ok             serve the OpenAI API (tests/bench/fake_server.py) plus /health, and /reset_prefix_cache
                 when VLLM_SERVER_DEV_MODE=1; end cleanly on SIGINT or SIGTERM
  stubborn       like ok, but the server and its child ignore SIGINT and SIGTERM (only SIGKILL ends them)
  hang           never become healthy
  kv_too_small   print vLLM's "cannot hold max_model_len" error and exit 1
  oom            print a CUDA out-of-memory error and exit 1
  crash          raise an error no rule knows

FAKE_VLLM_STARTUP_S delays start-up; FAKE_VLLM_PIDFILE receives the server's pid first thing; with
FAKE_VLLM_PORT_RACE_FILE the first server (the one that creates the file) finds its port taken, as when
another process binds it between the launcher's choice and the server's bind.
A model id that is not a local folder and does not start with "Qwen/" fails as Hugging Face Hub would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vllm.entrypoints.openai.cli_args import make_arg_parser
from vllm.utils.argparse_utils import FlexibleArgumentParser

BENCH_TESTS = Path(__file__).resolve().parents[5] / "bench"
sys.path.insert(0, str(BENCH_TESTS))

from fake_server import FakeOpenAIServer  # noqa: E402

PREFIX = f"(APIServer pid={os.getpid()})"


def info(message: str, source: str = "api_utils.py:286", who: str = PREFIX) -> None:
    stamp = time.strftime("%m-%d %H:%M:%S")
    print(f"{who} INFO {stamp} [{source}] {message}", flush=True)


def error(message: str, who: str = "(EngineCore pid=2)") -> None:
    stamp = time.strftime("%m-%d %H:%M:%S")
    print(f"{who} ERROR {stamp} [core.py:1510] {message}", flush=True)


class FakeVllm(FakeOpenAIServer):
    def __init__(self, host: str, port: int, model: str) -> None:
        super().__init__(model=model)
        self.host = host
        self.wanted_port = port
        self.dev_mode = os.environ.get("VLLM_SERVER_DEV_MODE") == "1"

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.wanted_port)
        self.port = self.wanted_port

    async def _route(self, method, path, headers, body, writer):  # type: ignore[no-untyped-def]
        if path == "/health":
            await self._send_json(writer, 200, {})
            return True
        if path == "/version":
            await self._send_json(writer, 200, {"version": "0.25.0"})
            return True
        if path.startswith("/reset_prefix_cache") and method == "POST" and self.dev_mode:
            info("Resetting prefix cache...", "api_router.py:39")
            self.state.seen_blocks.clear()
            await self._send_json(writer, 200, {"success": True})
            return True
        return await super()._route(method, path, headers, body, writer)

    def _metrics_text(self) -> str:
        lines = [line for line in super()._metrics_text().splitlines() if "cache_config_info" not in line]
        lines.append(
            'vllm:cache_config_info{block_size="16",engine="0",gpu_memory_utilization="0.92",'
            'kv_cache_memory_bytes="None",num_gpu_blocks="56638"} 1.0'
        )
        return "\n".join(lines) + "\n"


def start_engine_core(stubborn: bool) -> subprocess.Popen[bytes]:
    ignore = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    code = (ignore if stubborn else "") + "import time; time.sleep(3600)"
    return subprocess.Popen([sys.executable, "-c", code])


def model_problem(model: str) -> str | None:
    if Path(model).exists() or model.startswith("Qwen/"):
        return None
    return f"huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. Repository Not Found for url: https://huggingface.co/api/models/{model}"


def main() -> None:
    if pidfile := os.environ.get("FAKE_VLLM_PIDFILE"):
        Path(pidfile).write_text(str(os.getpid()))
    args = make_arg_parser(FlexibleArgumentParser(prog="api_server.py")).parse_args()
    mode = os.environ.get("FAKE_VLLM_MODE", "ok")
    non_default = {k: v for k, v in vars(args).items() if v not in (None, False) and k != "model_tag"}
    info(f"non-default args: {non_default}")
    if problem := model_problem(args.model):
        print('Traceback (most recent call last):\n  File "<frozen runpy>", line 198, in _run_module_as_main')
        print(problem, flush=True)
        sys.exit(1)
    stubborn = mode == "stubborn"
    if stubborn:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    core = start_engine_core(stubborn)
    time.sleep(float(os.environ.get("FAKE_VLLM_STARTUP_S", "0")))
    run_mode(mode, args, core)


def run_mode(mode: str, args, core: subprocess.Popen[bytes]) -> None:  # type: ignore[no-untyped-def]
    engine = "(EngineCore pid=2)"
    if mode == "hang":
        time.sleep(3600)
    if mode == "kv_too_small":
        error("EngineCore failed to start.")
        error(
            "ValueError: To serve at least one request with the model's max seq len (8192), (1.0 GiB KV cache "
            "is needed, which is larger than the available KV cache memory (0.25 GiB). Based on the available "
            "memory, the estimated maximum model length is 2048. Try increasing `gpu_memory_utilization` or "
            "decreasing `max_model_len` when initializing the engine."
        )
        print(
            "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}"
        )
        core.kill()
        sys.exit(1)
    if mode == "oom":
        error(
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 139.81 GiB"
        )
        core.kill()
        sys.exit(1)
    if mode == "crash":
        core.kill()
        raise RuntimeError("the fake engine fell over")
    info(
        "Model loading took 14.99 GiB memory and 4.210000 seconds",
        "gpu_model_runner.py:5307",
        "(Worker pid=3)",
    )
    info("torch.compile took 20.31 s in total", "monitor.py:53", "(Worker pid=3)")
    info("Available KV cache memory: 110.62 GiB", "gpu_worker.py:539", "(Worker pid=3)")
    info("GPU KV cache size: 906,208 tokens", "kv_cache_utils.py:2146", engine)
    info("Maximum concurrency for 8,192 tokens per request: 110.62x", "kv_cache_utils.py:2148", engine)
    info("Graph capturing finished in 5 secs, took 0.45 GiB", "gpu_model_runner.py:6708", "(Worker pid=3)")
    info(
        "init engine (profile, create kv cache, warmup model) took 40.12 s (compilation: 20.31 s)",
        "core.py:345",
        engine,
    )
    served = (args.served_model_name or [args.model])[0]
    if (race := os.environ.get("FAKE_VLLM_PORT_RACE_FILE")) and not Path(race).exists():
        Path(race).write_text(str(args.port))
        core.kill()
        raise OSError(98, "Address already in use")
    server = FakeVllm(args.host or "0.0.0.0", args.port, served)
    server.__enter__()  # binds now: a taken port raises OSError [Errno 98] with its traceback, as vLLM's does

    def shut_down(signum: int, frame: object) -> None:
        server.__exit__(None, None, None)
        core.terminate()
        core.wait()
        sys.exit(0)

    if mode != "stubborn":
        signal.signal(signal.SIGINT, shut_down)
        signal.signal(signal.SIGTERM, shut_down)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
