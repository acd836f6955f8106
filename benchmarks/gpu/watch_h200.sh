#!/usr/bin/env bash
# One GPU call (kind nvidia-h200, after the kit's staging calls 1-2; this one carries .gpu/kit, .gpu/part02,
# .whl): `slotune watch` against `slotune bench` on vLLM 0.25.0 serving the random Llama-3.1-8B-shaped model with
# its defaults, the Azure conversation trace at full length near the defaults' knee (5 req/s), 3 runs of 150
# requests (benchmarks/watch_vs_bench.py --platform h200). The table lands in $OUT/watch-h200.txt, each run's
# server buckets and client latencies in $OUT/keep/, the server's log in $OUT/logs.tgz.
#   bash benchmarks/gpu/watch_h200.sh
set -u
T0=$(date +%s)
# shellcheck source=benchmarks/gpu/common.sh
. benchmarks/gpu/common.sh
ready || exit 1
LOGS=/tmp/watch-h200-logs
mkdir -p "$LOGS"
timeout -s INT -k 20 "${LIMIT:-500}" "$PY" benchmarks/watch_vs_bench.py --platform h200 --model "$MODEL" \
  --vllm-python "$FIDELITY_VLLM_PYTHON" --log-dir "$LOGS" --rate "${RATE:-5}" --num-requests 150 --repeats 3 \
  --keep "$OUT/keep" 2>&1 | grep -v "it/s\]" | tee "$OUT/watch-h200.txt"
say "watch_vs_bench exited ${PIPESTATUS[0]}"
tar czf "$OUT/logs.tgz" -C /tmp watch-h200-logs 2>/dev/null
