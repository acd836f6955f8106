"""Every command, driven with random and hostile flags and input files (hypothesis).

Whatever the input: no traceback; exit 0 (done), 2 (bad input: a message with the fix, and every flag the fix
names exists on that command), or a command's own other codes (OTHER_EXITS: a server that could not be reached,
an invalid run); no file left half-written (a failed command leaves no new file; a finished one leaves whole
JSON, JSONL, CSV or HTML files and no temporary file).

The commands and their options are read from the app itself (slotune.cli.main.app), so a command added later is
fuzzed with no change here. Values are drawn by the option's type, from a pool of hostile values (negative,
zero, huge, NaN, infinite, empty, very long, folders where files go, files where folders go, broken files) and
a few good ones by flag name (a catalog model, a GPU, a preset, an SLO) so that runs get past the first check.

What is left out, and why:
- `bench` measures a server: here its --url is a port where nothing listens, so every run goes through all of
  bench's checks and stops at the first connection (exit 1); its measured runs are tested against the loopback
  server in tests/bench. `--engine vllm` starts a vLLM server: never drawn.
- `calibrate` and `validate` need a real engine (they start vLLM by default): here the vLLM Python
  (SLOTUNE_VLLM_PYTHON) is a stand-in that has no vLLM, so every run goes through all of their input checks and
  stops where a server would start (exit 2, "vLLM is not installed there"; tests/cli/test_engine_command_checks.py
  shows that good input gets that far and bad input stops before). `validate --engine http` meets the same
  closed port as bench (exit 1). Their runs against a real vLLM are in tests/integration.
- `watch` reads a live server: its URL is drawn from hostile text and the closed port (exit 3, unreachable).
- Runs are kept short by each command's own guard: `--request-limit` is drawn from small values, and added as
  `--request-limit 300` where the example did not draw it; `tune`'s `--budget` likewise (added as 1). A command that runs longer than LIMIT_S seconds on an
  example fails the test: give it a guard, or add it here with the reason.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import string
import subprocess
import typing
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_tree import all_commands, is_option, option_names
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from slotune.cli.main import main
from slotune.models import EngineConfig
from slotune.models.engine_config import flag_name
from slotune.slo import PRESETS as SLO_PRESETS
from slotune.workload.formats import FORMAT_NAMES
from slotune.workload.presets import PRESETS

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
TOKENIZER = str(DATA / "tokenizers" / "qwen3" / "tokenizer.json")
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once
NO_VLLM_PYTHON = "/nonexistent/no-vllm/python"  # commands that would start vLLM stop at its check
LIMIT_S = 30.0
EXAMPLES = int(os.environ.get("SLOTUNE_FUZZ_EXAMPLES", "25"))

# Flags never drawn, with the reason.
NEVER: dict[str, str] = {}
# Values never drawn for a flag (they start servers).
NEVER_VALUES: dict[str, set[str]] = {"--engine": {"vllm"}}

HOSTILE_INTS = [-(2**63), -1, 0, 1, 2, 3, 7, 64, 4096, 10**6, 2**31, 2**63, 10**30]
HOSTILE_FLOATS = ["nan", "inf", "-inf", "-1", "0", "1e-300", "1e-9", "0.5", "1", "4", "100", "1e9", "1e308"]
HOSTILE_TEXT = [
    "",
    " ",
    "-",
    "--",
    "x" * 3000,
    "../../../etc/passwd",
    "💥",
    "a,b",
    "1e9",
    "nan",
    "-1",
    "0",
    "{}",
    "[1, 2]",
    '{"method": "eagle"}',
    "null",
    "auto",
    "all",
    "32k",
    "1.5",
    "yes",
]

# Files of the sandbox each example runs in (relative names; the command runs inside it).
FILES = [
    "good.csv",
    "good.jsonl",
    "mooncake.jsonl",
    "sharegpt.json",
    "empty.txt",
    "garbage.bin",
    "truncated.json",
    "hostile.csv",
    "hostile.jsonl",
    "engine.yaml",
    "bad_engine.yaml",
    "prices.yaml",
    "bad_prices.yaml",
    "config.json",
    "bad_config.json",
    "sim.json",
    "profile.yaml",
    "allreduce.txt",
]
PATHS = [
    *FILES,
    "dir",
    "missing.json",
    "new/dir/out.json",
    "a_file/x.json",
    "out",
    "out.json",
    "out.csv",
    "report.html",
    "devnull",
    "dir/",
]

GOOD: dict[str, list[str]] = {
    "--model": ["llama-3.1-8b", "qwen3-30b-a3b", "config.json", "bad_config.json", "org/unknown-model"],
    "--gpu": ["h100", "a100-80gb", "all", "h100,l40s", "h100-sxm", "nope", "", ","],
    "--preset": [*PRESETS, "nope"],
    "--slo": [
        *SLO_PRESETS,
        "ttft:p99<200ms;itl:p99<50ms@0.99",
        "ttft:p99<",
        "cost:mean<0.5",
        "throughput>1e9",
    ],
    "--url": [UNREACHABLE],
    "--engine": ["http", "nope"],
    "--arrival": ["poisson", "gamma", "constant", "trace", "weibull"],
    "--format": [*FORMAT_NAMES, "text", "sarif", "markdown", "nope"],
    "--fail-on": ["info", "low", "high", "none", "nope"],
    "--metrics": [f"{UNREACHABLE}/metrics", "good.csv", "empty.txt", "missing.json", "dir"],
    "--vllm-version": ["0.25.0", "0.32.0", "0.1", "nope"],
    "--workload-format": [*FORMAT_NAMES, "nope"],
    "--profile-format": [*FORMAT_NAMES, "nope"],
    "--tokenizer": [TOKENIZER, "dir", "garbage.bin", "missing.json"],
    "--request-limit": ["-1", "0", "1", "50", "300"],
    "--budget": ["-1", "0", "1", "2"],
    "--price": ["h100=1.9", "h100=-1", "nope=1", "h100", "=", "h100=nan", "h100-sxm=1e308"],
    "--prices": ["prices.yaml", "bad_prices.yaml", "dir", "missing.json"],
    "--profile": ["default", "profile.yaml", "good.csv", "mooncake.jsonl", "missing.json", "dir"],
    "--config": ["engine.yaml", "bad_engine.yaml", "dir", "missing.json"],
    "--sweep": ["10,20", "auto", "0,-1", "x", ""],
    "--sweep-kind": ["rate", "concurrency", "nope"],
    "--api": ["completions", "chat", "nope"],
    "--event-loop": ["auto", "asyncio", "uvloop", "nope"],
    "--rank-by": ["cost", "throughput-per-gpu", "nope"],
    "--quantization": ["fp8", "awq", "int8", "Q4_K_M", "nope"],
    "--dtype": ["auto", "bfloat16", "float32", "nope"],
    "--kv-cache-dtype": ["auto", "fp8", "nope"],
    "--speculative-config": ['{"method": "eagle", "num_speculative_tokens": 3}', "{", '{"method": "nope"}'],
    "--scale": ["quick", "full", "nope"],
    "--modes": ["default,eager", "eager", "default,nope", ""],
    "--prior": ["default", "profile.yaml", "missing.json", "dir"],
    "--from-probes": ["sim.json", "truncated.json", "garbage.bin", "missing.json", "dir"],
    "--allreduce": ["garbage.bin", "empty.txt", "allreduce.txt", "missing.json", "dir"],
}
ADDED: dict[str, tuple[str, str]] = {
    "--request-limit": ("--request-limit", "300"),
    "--budget": ("--budget", "1"),
}
# Plausible values by type, so that an example with a few bad values also has good ones that reach deeper.
PLAUSIBLE: dict[type, list[str]] = {
    int: ["1", "2", "4", "16", "128"],
    float: ["0.5", "1", "2", "8", "30"],
    Path: ["good.csv", "good.jsonl", "mooncake.jsonl", "sim.json", "out.json", "new/dir/out.json", "out"],
    str: ["1", "8", "256", "2048"],
}


def _line(text: str) -> list[str]:
    return text.split()


# Half the examples of these commands start from a command line that runs, then change some of it; the rest
# start from nothing. A command not listed (a new one) starts from nothing.
BASES: dict[tuple[str, ...], list[str]] = {
    ("simulate",): _line("--model llama-3.1-8b --gpu h100 --preset chatbot --num-requests 40"),
    ("plan",): _line("--model llama-3.1-8b --gpu h100"),
    ("bench",): _line(f"--url {UNREACHABLE} --model m --preset chatbot --rate 5 --num-requests 9"),
    ("workload", "synth"): _line("--preset chatbot --num-requests 30 --out w.jsonl"),
    ("workload", "analyze"): ["good.csv"],
    ("report",): ["sim.json"],
    ("calibrate",): _line("--model llama-3.1-8b --gpu h100 --scale quick --out profile_out.yaml"),
    ("validate",): _line(
        "--profile default --gpu h100 --model llama-3.1-8b --preset chatbot --rate 2 --num-requests 9"
    ),
    ("watch",): [UNREACHABLE, "--once"],
    ("audit",): [
        "--engine-args",
        "vllm serve meta-llama/Llama-3.1-8B-Instruct --enforce-eager",
        *_line("--requests good.jsonl --gpu h100 --slo interactive-chat"),
    ],
    ("deploy",): _line("engine.yaml --model llama-3.1-8b --gpu h100"),
    ("tune",): _line(
        "--model llama-3.1-8b --gpu h100 --workload good.csv --slo interactive-chat --num-requests 30 --no-grid "
        "--out tune.json"
    ),
}


def _write_sandbox(root: Path) -> None:
    root.mkdir(parents=True)
    shutil.copy(DATA / "azure_conv_replay_20.csv", root / "good.csv")
    shutil.copy(DATA / "workload" / "sharegpt_slice.json", root / "sharegpt.json")
    lines = (REPO / "examples" / "mooncake_trace.jsonl").read_text().splitlines()[:40]
    (root / "mooncake.jsonl").write_text("\n".join(lines) + "\n")
    (root / "empty.txt").write_text("")
    (root / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (root / "truncated.json").write_text('{"kind": "simulate", "schema_version": ')
    (root / "hostile.csv").write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.98,-1,10\n2023-11-16 18:17:04.0,1e400,nan\n"
        "x,abc,\n"
    )
    (root / "hostile.jsonl").write_text(
        '{"request_id": "a", "arrival_s": -5, "prompt_tokens": 1000000000000, "output_tokens": 0}\n'
        '{"request_id": "a", "arrival_s": "soon", "prompt_tokens": 1}\n[1, 2]\n'
    )
    (root / "engine.yaml").write_text("max-num-seqs: 8\nmax-num-batched-tokens: 2048\n")
    (root / "bad_engine.yaml").write_text("max-num-seqs: [1, 2]\nno-such-flag: 3\n")
    (root / "prices.yaml").write_text("h100-sxm:\n  usd_per_gpu_hour: 2.5\n  provider: mine\n")
    (root / "bad_prices.yaml").write_text("h100-sxm: {usd_per_gpu_hour: -3}\n: :\n")
    shutil.copy(DATA / "configs" / "llama-3.1-8b.json", root / "config.json")
    shutil.copy(DATA / "configs" / "malformed-truncated.json", root / "bad_config.json")
    (root / "profile.yaml").write_text("name: mine\ncoefficients: [1, 2]\n")
    (root / "allreduce.txt").write_text("tp=2 graph=True   1024 KiB    20.5 us busbw 1.0 GB/s\n")
    (root / "dir").mkdir()
    (root / "a_file").write_text("not a folder")
    # /dev/null through a link in the sandbox: a writer that replaced its target would replace the link, never
    # the machine's /dev/null.
    (root / "devnull").symlink_to(os.devnull)
    code, _, err = _invoke(
        [
            "workload",
            "synth",
            "--preset",
            "chatbot",
            "--num-requests",
            "30",
            "--seed",
            "3",
            "--out",
            "good.jsonl",
        ],
        root,
    )
    assert code == 0, err
    code, _, err = _invoke(
        [
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--gpu",
            "h100",
            "--workload",
            "good.jsonl",
            "--out",
            "sim.json",
        ],
        root,
    )
    assert code == 0, err


class TookTooLong(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def stop(signum: int, frame: Any) -> None:
        raise TookTooLong(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _invoke(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), redirect_stdout(out), redirect_stderr(err), _time_limit(LIMIT_S):
        try:
            main(argv)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "template"
    os.environ["SLOTUNE_CACHE_DIR"] = str(root.parent / "cache")
    os.environ.pop("SLOTUNE_PRICES", None)
    _write_sandbox(root)
    return root


def _kind(param: Any) -> type:
    """The Python type typer reads a parameter as (a list's element type)."""
    annotation = param.type_descriptor.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def _values(param: Any) -> st.SearchStrategy[str]:
    """Hostile values by the option's type; good ones by its name."""
    name = next((o for o in param.opts if o.startswith("--")), param.opts[0])
    kind = _kind(param)
    type_name = "path" if kind is Path else ""
    pool: list[str]
    if kind is int:
        pool = [str(v) for v in HOSTILE_INTS]
    elif kind is float:
        pool = HOSTILE_FLOATS
    elif kind is Path:
        pool = PATHS
    else:
        pool = [*HOSTILE_TEXT, *PATHS[:6]]
    never = NEVER_VALUES.get(name, set())
    good = [v for v in GOOD.get(name, PLAUSIBLE.get(kind, PLAUSIBLE[str])) if v not in never]
    if name in ("--url", "--engine", "--request-limit", "--budget"):
        return st.sampled_from(good)  # see the module docstring
    hostile = [v for v in pool if v not in never]
    text = st.text(string.ascii_letters + string.digits + ".-_,=:/<>;@ ", max_size=12)
    bad = st.sampled_from(hostile) if type_name == "path" else st.one_of(st.sampled_from(hostile), text)
    return st.one_of(st.sampled_from(good), st.sampled_from(good), bad)  # two in three plausible


def _argument_values(arg: Any) -> st.SearchStrategy[str]:
    if _kind(arg) is Path:
        return st.sampled_from(PATHS)
    return st.one_of(st.sampled_from([*SLO_PRESETS, "ttft:p99<200ms", *HOSTILE_TEXT]), st.text(max_size=12))


@dataclass(frozen=True)
class Flag:
    name: str
    is_flag: bool
    multiple: bool
    values: st.SearchStrategy[str] | None


def _flags(command: Any) -> tuple[list[Flag], list[Any], set[str]]:
    """(drawable options, positional arguments, names of required options)."""
    flags, arguments, required = [], [], set()
    for param in command.params:
        if not is_option(param):
            arguments.append(param)
            continue
        name = next((o for o in param.opts if o.startswith("--")), param.opts[0])
        if name in NEVER or name == "--help":
            continue
        if param.required:
            required.add(name)
        is_flag = bool(getattr(param, "is_flag", False))
        flags.append(Flag(name, is_flag, bool(param.multiple), None if is_flag else _values(param)))
        for off in param.secondary_opts:
            flags.append(Flag(off, True, False, None))
    return flags, arguments, required


@st.composite
def _argv(draw: st.DrawFn, path: tuple[str, ...], command: Any) -> list[str]:
    flags, arguments, required = _flags(command)
    by_name = {f.name: f for f in flags}
    base = BASES.get(path) if draw(st.booleans()) else None
    chosen = draw(st.lists(st.sampled_from(flags), max_size=5, unique_by=lambda f: f.name)) if flags else []
    names = {f.name for f in chosen} | set(base or ())
    if draw(st.integers(0, 9)) > 0:  # mostly with the required options, sometimes without
        chosen += [by_name[n] for n in sorted(required - names) if n in by_name]
    argv: list[str] = list(base or [])
    if base is None or not arguments:
        for arg in arguments:
            count = draw(st.integers(1, 2)) if arg.nargs == -1 else 1
            argv += [draw(_argument_values(arg)) for _ in range(count)]
    for flag in chosen:
        repeats = draw(st.integers(1, 2)) if flag.multiple else 1
        for _ in range(repeats):
            argv += [flag.name] if flag.is_flag else [flag.name, draw(flag.values)]  # type: ignore[arg-type]
    for name, extra in ADDED.items():
        if name in by_name and name not in {f.name for f in chosen}:
            argv += list(extra)
    return argv


def _files(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


def _check_whole(path: Path) -> None:
    """A written file is whole: JSON, JSON lines, an HTML page to its end, or CSV rows of one width (by content:
    the user may name a file anything); YAML documents and shell scripts (deploy's files) by their names."""
    text = path.read_text(encoding="utf-8")
    with contextlib.suppress(ValueError):
        json.loads(text)
        return
    if text.lstrip().startswith("{"):
        for line in text.splitlines():
            if line.strip():
                json.loads(line)
    elif text.lstrip().startswith("<"):
        assert text.rstrip().endswith("</html>"), path
    elif path.suffix in (".yaml", ".yml"):
        assert list(yaml.safe_load_all(text)), path
    elif path.suffix == ".sh":
        syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
        assert syntax.returncode == 0 and text.endswith("\n"), (path, syntax.stderr)
    else:
        rows = list(csv.reader(io.StringIO(text)))
        assert rows and all(len(r) == len(rows[0]) for r in rows), path


FLAG_IN_FIX = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
# Exit codes other than 0 and 2, by command, with what they mean there (each comes with an error message).
OTHER_EXITS: dict[tuple[str, ...], dict[int, str]] = {
    ("bench",): {1: "the server could not be reached", 3: "an invalid run"},
    ("validate",): {1: "the server at --url could not be reached"},
    ("watch",): {3: "the server could not be scraped"},
    ("audit",): {1: "findings at or above --fail-on"},
}
# Flags a fix may name that the command does not have: audit's evidence is vLLM command lines and config files,
# so its fixes name vLLM's own engine flags ("correct --max-num-seqs in --config FILE").
VLLM_FLAGS = {flag_name(name) for name in EngineConfig.model_fields}
FOREIGN_FLAGS: dict[tuple[str, ...], set[str]] = {("audit",): VLLM_FLAGS}
# Of those, the verdicts: the command did its work and says so on stdout, with no error message.
VERDICT_EXITS: dict[tuple[str, ...], set[int]] = {("bench",): {3}, ("audit",): {1}}


def _check_outcome(
    path: tuple[str, ...],
    command: Any,
    argv: list[str],
    code: int,
    out: str,
    err: str,
    root: Path,
    before: dict[str, float],
) -> None:
    where = f"slotune {' '.join([*path, *argv])}"
    assert "Traceback" not in err + out, where
    assert code in (0, 2, *OTHER_EXITS.get(path, {})), (where, code, err)
    if code not in (0, 2, *VERDICT_EXITS.get(path, ())):
        assert "error" in err.lower(), (where, err)
    if code == 2:
        assert "error" in err.lower(), (where, err)
        if "Fix:" in err:
            fix = err.split("Fix:", 1)[1]
            unknown = set(FLAG_IN_FIX.findall(fix)) - option_names(command) - FOREIGN_FLAGS.get(path, set())
            assert not unknown, (
                where,
                f"the fix names flags {unknown} that {' '.join(path)} does not have",
                err,
            )
    after = _files(root)
    new = {name for name in after if name not in before or after[name] != before[name]}
    leftovers = [name for name in after if name.endswith(".tmp")]
    assert not leftovers, (where, leftovers)
    if code not in (0, *VERDICT_EXITS.get(path, ())):
        # A tune study's database is kept on purpose: a stopped search resumes from it (docs/tuning.md).
        left = sorted(name for name in new if not name.endswith(".db"))
        assert not left, (where, f"a failed command left files: {left}", err)
    for name in new:
        if not name.endswith(".db"):  # a study's SQLite database: its own transactions keep it whole
            _check_whole(root / name)


COMMANDS = all_commands()


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_fuzz_command(
    path: tuple[str, ...], template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLOTUNE_VLLM_PYTHON", NO_VLLM_PYTHON)
    command = dict(COMMANDS)[path]
    count = iter(range(10**9))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
        # No explain phase: it traces every line run, which makes a run of tune or simulate several times
        # slower and turns LIMIT_S into a false failure.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    )
    @given(argv=_argv(path, command))
    def run(argv: list[str]) -> None:
        root = tmp_path / f"ex{next(count)}"
        shutil.copytree(template, root, symlinks=True)
        before = _files(root)
        code, out, err = _invoke([*path, *argv], root)
        if log := os.environ.get("SLOTUNE_FUZZ_LOG"):
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"argv": [*path, *argv], "code": code, "err": err[-300:]}) + "\n")
        _check_outcome(path, command, argv, code, out, err, root, before)
        shutil.rmtree(root, ignore_errors=True)

    run()
