#!/usr/bin/env bash
# Worker-process scaling of slotune's load generator on a many-core host (the device pool's GPU machines,
# CPU only): an 8-process loopback server, and slotune with 1, 2, 4 and 8 worker processes at rising rates.
# With several server processes, each rate is judged by the client's own view (bench_client_selftest.py).
#
#   Wheels for what the host lacks (pydantic, pydantic_core, annotated_types, typing_inspection, orjson,
#   typer, rich, typing_extensions; see the device notes) go in .whl/; then, on the host:
#   bash benchmarks/device_client_scaling.sh [OUT_DIR]
set -euo pipefail
out=${1:-${OUT:-/tmp}}
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
python3 -c "import os, platform; print(platform.processor() or platform.machine(), os.cpu_count(), 'CPUs')"
run() {  # workers rates
    echo "== workers $1"
    python3 benchmarks/bench_client_selftest.py --clients slotune --server-processes 8 --duration 3 \
        --workers "$1" --rates "$2" --json-out "$out/scaling_w$1.json"
}
run 1 2000,3000,4000,6000
run 2 4000,6000,8000,10000
run 4 8000,10000,12000,16000
run 8 12000,16000,20000
