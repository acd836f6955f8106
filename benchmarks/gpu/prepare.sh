#!/usr/bin/env bash
# Here, in the checkout the GPU calls send (its root): get what the GPU calls carry besides the kit's payload
# and check that every call fits the device's 64 MiB.
#   - .gpu/: the vLLM 0.25.0 payload (bash ../shared/gpu/build_payload.sh), parts 00-02 and kit/;
#   - .whl/: wheels of slotune's dependencies that neither the device image nor the payload has (orjson,
#     the streaming client's JSON parser; everything else is there: typer, rich, numpy, scipy, httpx,
#     tokenizers, pyyaml, jinja2, uvloop on the image, pydantic in the payload).
# Prints the run calls (kind nvidia-h200-x2) with their carry lists.
set -eu
ROOT=$(git rev-parse --show-toplevel)
cd "$ROOT"
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || grep -qx '/.whl/' .gitignore || echo /.whl/ >> "$(git rev-parse --git-common-dir)/info/exclude"
mkdir -p .whl
if ! ls .whl/orjson-*.whl >/dev/null 2>&1; then
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "orjson==3.11.5"
fi
for part in .gpu/part00 .gpu/part01 .gpu/part02 .gpu/kit/device_setup.sh; do
  [ -e "$part" ] || { echo "missing $part: run bash ../shared/gpu/build_payload.sh first" >&2; exit 1; }
done
tree_bytes=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
size() { du -cb "$@" | tail -1 | cut -f1; }
kit=$(size .gpu/kit) whl=$(size .whl)
for part in part00 part01 part02; do
  total=$(( tree_bytes + kit + $(size .gpu/$part) + whl ))
  echo "call with .gpu/$part: $(( total / 1048576 )) MiB of 64 (tree $(( tree_bytes / 1048576 )), kit, part, .whl)"
  [ "$total" -lt $(( 64 * 1048576 )) ] || { echo "too large" >&2; exit 1; }
done
cat <<'PLAN'
Run on kind nvidia-h200-x2, back to back (the machine goes back after 30 s idle):
 1. carry [".gpu/kit", ".gpu/part00"]                 command: bash .gpu/kit/device_setup.sh; nvidia-smi -L    (exit 3 expected)
 2. carry [".gpu/kit", ".gpu/part01"]                 command: bash .gpu/kit/device_setup.sh                   (exit 3 expected)
 3. carry [".gpu/kit", ".gpu/part02", ".whl"]         command: bash benchmarks/gpu/call3.sh      timeout_s 600
 4. carry [".gpu/kit", ".whl"]                        command: bash benchmarks/gpu/call4.sh      timeout_s 600
Then here: python benchmarks/gpu/collect.py DEVICE_FILES_DIR...   (the H200 profile and docs/fidelity.md)
PLAN
