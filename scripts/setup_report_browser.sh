#!/usr/bin/env bash
# Installs what the report's browser test (tests/report/test_report_in_chromium.py) needs beside the package:
# Debian's chromium, run headless and driven over the DevTools protocol (no chromedriver, no browser download).
# Idempotent: with chromium present it only prints its version. Needs root or sudo for apt-get.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    if [[ "$(id -u)" -ne 0 ]]; then
        SUDO="sudo"
    fi
    echo "report browser: installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q chromium
fi
echo "report browser: $(chromium --version 2>/dev/null || echo 'chromium installed')"
