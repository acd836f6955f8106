#!/usr/bin/env bash
# Installs what the integration tests need beside the package (a real vLLM CPU build). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "integration setup: nothing to install yet"
