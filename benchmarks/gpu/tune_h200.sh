#!/usr/bin/env bash
# Tuned vs default vLLM on the lent H200 at the interactive-chat SLO, on a real trace (the Azure conversation
# slice in tests/data): goodput of each configuration at the same offered rate, one server start each.
#
# Here, first (CPU, minutes): the tuned flags from the simulator for the H200,
#   slotune tune --model llama-3.1-8b --gpu h200 --workload tests/data/simulate/azure_conv_500.csv \
#       --slo interactive-chat --budget 60 --out .gpu/tune_h200.json
# and pass its command line's flags as TUNED_ARGS and the rate to measure at as RATE (the tuned point's
# simulated capacity per replica).
#
# On the GPU machine (after the kit's device_setup.sh, see ../shared/gpu/README.md), about 4 min of device
# time: two server starts (~100 s each) and two runs of NUM_REQUESTS requests:
#   source .gpu/kit/device_setup.sh && RATE=9 TUNED_ARGS="--max-num-seqs 256 --max-num-batched-tokens 512" \
#       bash benchmarks/gpu/tune_h200.sh
# The results (two bench reports and a summary line each) land in $OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${RATE:?give RATE, the rate to compare at (req/s)}"
: "${TUNED_ARGS:?give TUNED_ARGS, the tuned configuration's flags}"
MODEL_DIR="${MODEL_DIR:-/tmp/m8b}"
NUM_REQUESTS="${NUM_REQUESTS:-200}"
WORKLOAD="${WORKLOAD:-tests/data/simulate/azure_conv_500.csv}"
OUT="${OUT:-/tmp/tune-h200}"
PORT="${PORT:-8000}"
KIT="${KIT:-.gpu/kit}"
MAX_MODEL_LEN="${MAX_MODEL_LEN:-8192}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

[[ -f "$MODEL_DIR/config.json" ]] || python3 "$KIT/make_model.py" "$MODEL_DIR"

measure() {  # NAME ARGS...: start vLLM with ARGS, send the trace at RATE, stop it
    local name="$1"; shift
    local started=$SECONDS
    MAX_MODEL_LEN="$MAX_MODEL_LEN" PORT="$PORT" bash "$KIT/start_server.sh" "$name" "$MODEL_DIR" "$@"
    python3 -m slotune bench --url "http://127.0.0.1:$PORT" --model "$(basename "$MODEL_DIR")" \
        --workload "$WORKLOAD" --rate "$RATE" --arrival trace --num-requests "$NUM_REQUESTS" \
        --slo interactive-chat --gpu h200 --out "$OUT/$name" --json > "$OUT/$name.json" || true
    bash "$KIT/stop_server.sh" || true
    python3 - "$OUT/$name.json" "$name" "$((SECONDS - started))" <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
report = json.load(open(sys.argv[1]))
s = report["result"]["summary"]
print(f"{sys.argv[2]}: goodput {s.get('goodput_rps') or 0:.2f} req/s, attainment {s.get('slo_attainment') or 0:.1%}, "
      f"SLO met {s.get('slo_met')}, {s['request_throughput_rps']:.2f} req/s, device {sys.argv[3]} s")
PY
}

measure default
# shellcheck disable=SC2086
measure tuned $TUNED_ARGS
