#!/usr/bin/env bash
# On the GPU machine, after `source .gpu/kit/device_setup.sh` (vLLM 0.25.0 from ../shared/gpu): a Llama-3.2-1B-
# shaped random model, then benchmarks/device_launch_check.py. Wheels for what the host lacks (orjson, rich,
# typer, click, ...) go in .whl/. Results (JSON and the server logs) go to $OUT.
#
#   source .gpu/kit/device_setup.sh && bash benchmarks/device_launch_check.sh
set -euo pipefail
out=${OUT:-/tmp/launch-check}
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/extra .whl/*.whl
fi
export PYTHONPATH=src:${PYTHONPATH:-}:/tmp/extra   # the vLLM payload before the extras
cat > /tmp/m1b.json <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
 "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
 "vocab_size": 128256, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
 "tie_word_embeddings": true, "torch_dtype": "bfloat16", "bos_token_id": 128000, "eos_token_id": 128001,
 "hidden_act": "silu", "attention_bias": false, "mlp_bias": false}
JSON
python3 .gpu/kit/make_model.py /tmp/m1b --config /tmp/m1b.json
python3 benchmarks/device_launch_check.py "$out" /tmp/m1b
