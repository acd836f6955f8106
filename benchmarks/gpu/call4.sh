#!/usr/bin/env bash
# GPU call 4 (right after call 3, on the same warm machine: /tmp/site, /tmp/m8b and /tmp/fid/loads.json are
# still there): GPU 0 serves --max-num-seqs 32, GPU 1 --no-enable-prefix-caching; the same 9 runs each, at the
# loads call 3 set (if call 3 left none, the loads come from the built-in default profile).
set -u
T0=$(date +%s)
DEADLINE=${DEADLINE:-530}
# shellcheck source=benchmarks/gpu/common.sh
. benchmarks/gpu/common.sh
setup || { say "setup failed"; exit 1; }
make_model || { say "model failed"; exit 1; }
if [ -f "$FID/loads.json" ]; then LOADS=(--loads "$FID/loads.json"); else LOADS=(--profile default --loads-copy "$FID/loads.json"); say "no loads from call 3: using the default profile's"; fi
SMALL=max-num-seqs-32
[ "${DRY:-0}" = 1 ] && SMALL=max-num-seqs-4
run_measure "$SMALL" 0 "${LOADS[@]}"
run_measure no-prefix-caching 1 "${LOADS[@]}"
wait_all "$DEADLINE" "$SMALL" no-prefix-caching
say "measures finished"
collect call4 "$SMALL" no-prefix-caching
summary "$SMALL" no-prefix-caching
