#!/usr/bin/env bash
# On a GPU host: how long one NVML sample takes, and a whole `slotune bench` run (against the loopback server)
# whose summary carries the `gpu` section, with GPU sampling every 0.1 s vs once a minute, to see whether
# sampling disturbs the send schedule. Wheels for what the host lacks go in .whl/ (device_client_scaling.sh).
#
#   bash benchmarks/device_gpu_telemetry.sh [OUT_DIR]
set -euo pipefail
out=${1:-${OUT:-/tmp}}
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
python3 - <<'PY'
import time, numpy as np
from slotune.bench.telemetry import GpuTelemetry
gpu = GpuTelemetry()
print("NVML available:", gpu.available)
took = []
for i in range(200):
    t = time.perf_counter(); gpu.sample(float(i)); took.append(time.perf_counter() - t)
ms = np.asarray(took) * 1e3
print(f"one GpuTelemetry.sample(): p50 {np.percentile(ms, 50):.3f} ms, p99 {np.percentile(ms, 99):.3f} ms, max {ms.max():.3f} ms")
print("summary:", gpu.summary())
PY
python3 benchmarks/loopback_server.py --port 18123 > /tmp/loopback.out &
server=$!
trap 'kill $server' EXIT
sleep 2
for interval in 0.1 60; do
    python3 -m slotune bench --url http://127.0.0.1:18123 --model loopback \
        --tokenizer tests/data/tokenizers/qwen3/tokenizer.json --rate 1000 --arrival constant \
        --num-requests 6000 --input-tokens 32 --output-tokens 32 --scrape-interval "$interval" \
        --out "$out/gpu_run_$interval" --json > "$out/gpu_run_$interval.json" || true
    rm -f "$out/gpu_run_$interval/records.jsonl" "$out/gpu_run_$interval/warmup.jsonl"
    python3 - "$out/gpu_run_$interval.json" "$interval" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
lag = s["result"]["client"]["schedule_lag_s"]
print(f"scrape interval {sys.argv[2]} s: valid={s['result']['validity']['valid']} lag p99 {lag['p99_s']*1e3:.3f} ms max {lag['max_s']*1e3:.3f} ms; gpu: {json.dumps(s['gpu'])}")
PY
done
