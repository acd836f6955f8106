#!/usr/bin/env bash
# One GPU call: benchmarks/preemption_check.py on the lent H200 (after the kit's staging calls, see
# docs/calibration.md): the random Llama-3.1-8B-shaped model, a KV cache made small on purpose (KV_MIB, default
# 1536 MiB = 12,288 tokens at 128 KiB a token) with 64 seats, the Azure conversation slice at full length, three
# rates; vLLM's preemption counter against the simulator's count on the same schedules. The table lands in
# $OUT/preemption-h200.txt.       bash benchmarks/gpu/preemption_h200.sh
set -u
T0=$(date +%s)
# shellcheck source=benchmarks/gpu/common.sh
. benchmarks/gpu/common.sh
ready || exit 1
# shellcheck disable=SC2086
MODEL=$MODEL timeout -s INT -k 20 "${LIMIT:-500}" python3 benchmarks/preemption_check.py --platform h200 \
  --kv-mib "${KV_MIB:-1536}" --max-num-seqs "${SEQS:-64}" --requests "${REQUESTS:-150}" --rates ${RATES:-4 8 16} \
  2>&1 | tee "$OUT/preemption-h200.txt"
say "done"
