"""Write a tiny random-weight Llama model with the real Qwen3 tokenizer, for tests against a real vLLM server.

Weights do not matter for serving performance, only the architecture does: the server's KV accounting,
scheduling and streaming behave as for a real model, while the forward pass costs almost nothing on a CPU.
Output lengths are controlled with `max_tokens` and `ignore_eos`, never by what the model says.

Shape (KV bytes per token = 2 x layers x kv_heads x head_dim x 2 B = 2 x 4 x 4 x 32 x 2 = 2,048 B in bf16):
4 layers, hidden 64, 4 query and 4 KV heads of head_dim 32, MLP 128. The embedding (vocab x hidden, tied with
the LM head) dominates the size: 151,936 x 64 x 2 B = 19.4 MB, so keep `hidden_size` small.

Needs torch and transformers, so run it with the vLLM environment's Python:
    .venv-vllm/bin/python scripts/make_tiny_model.py --out .models/tiny-llama
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TOKENIZER_DIR = REPO_ROOT / "tests" / "data" / "tokenizers" / "qwen3"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
# Written last: its presence means the folder is complete (a crash part-way leaves no marker).
MARKER_FILE = "slotune_tiny_model.json"

# Qwen3's embedding rows (151,669 tokens in the tokenizer, padded to a multiple of 128 as in Qwen3 itself).
VOCAB_SIZE = 151_936
BOS_TOKEN_ID = 151_643  # <|endoftext|>
EOS_TOKEN_ID = 151_645  # <|im_end|>
PAD_TOKEN_ID = 151_643


def tiny_llama_config_dict(
    *, num_layers: int, hidden_size: int, num_kv_heads: int, head_dim: int, max_position_embeddings: int
) -> dict[str, object]:
    """The Hugging Face config of the tiny model (plain data, so it can be checked without torch)."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": VOCAB_SIZE,
        "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": num_kv_heads,
        "num_key_value_heads": num_kv_heads,
        # Explicit, because num_heads x head_dim (128) differs from hidden_size (64).
        "head_dim": head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": max_position_embeddings,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1_000_000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "bos_token_id": BOS_TOKEN_ID,
        "eos_token_id": EOS_TOKEN_ID,
        "pad_token_id": PAD_TOKEN_ID,
        "initializer_range": 0.02,
    }


def kv_bytes_per_token(config: dict[str, object], dtype_bytes: int = 2) -> int:
    """K and V, every layer: 2 x layers x kv_heads x head_dim x dtype bytes."""
    layers = int(config["num_hidden_layers"])  # type: ignore[call-overload]
    kv_heads = int(config["num_key_value_heads"])  # type: ignore[call-overload]
    head_dim = int(config["head_dim"])  # type: ignore[call-overload]
    return 2 * layers * kv_heads * head_dim * dtype_bytes


def is_complete(out_dir: Path, config: dict[str, object]) -> bool:
    marker = out_dir / MARKER_FILE
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text())["config"] == config
    except (ValueError, KeyError):
        return False


def write_tiny_model(out_dir: Path, config: dict[str, object], *, seed: int) -> None:
    try:
        import torch
        import transformers
    except ImportError as exc:  # the project's own venv has no torch; the vLLM one does
        sys.exit(f"make_tiny_model: {exc}. Run it with .venv-vllm/bin/python (scripts/setup_integration.sh).")

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER_FILE).unlink(missing_ok=True)
    hf_config = transformers.LlamaConfig(**{k: v for k, v in config.items() if k != "architectures"})
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(hf_config).to(torch.bfloat16)
    model.save_pretrained(out_dir, safe_serialization=True)
    model.generation_config.save_pretrained(out_dir)
    for name in TOKENIZER_FILES:
        shutil.copyfile(TOKENIZER_DIR / name, out_dir / name)

    # Load both back the way vLLM will, so a broken folder fails here and not in a server log.
    tokenizer = transformers.AutoTokenizer.from_pretrained(out_dir)
    hello_ids = tokenizer("Hello world!")["input_ids"]
    if list(hello_ids) != [9707, 1879, 0]:
        sys.exit(f"make_tiny_model: tokenizer gives {hello_ids} for 'Hello world!', expected [9707, 1879, 0]")
    num_params = sum(p.numel() for p in model.parameters())
    size_bytes = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    marker = {
        "config": config,
        "seed": seed,
        "num_params": num_params,
        "kv_bytes_per_token_bf16": kv_bytes_per_token(config),
        "tokenizer": "Qwen3 tokenizer, Alibaba Qwen team, Apache-2.0",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
    }
    (out_dir / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n")
    print(
        f"tiny model: {out_dir} ({num_params:,} params, {size_bytes / 1e6:.1f} MB, "
        f"{marker['kv_bytes_per_token_bf16']} KV bytes/token in bf16)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write the model into")
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--num-kv-heads", type=int, default=4)
    parser.add_argument(
        "--head-dim", type=int, default=32, help="vLLM CPU attention supports 32, 64, 80, ..."
    )
    parser.add_argument("--max-position-embeddings", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rewrite even if a complete model is there")
    args = parser.parse_args(argv)

    config = tiny_llama_config_dict(
        num_layers=args.num_layers,
        hidden_size=args.hidden_size,
        num_kv_heads=args.num_kv_heads,
        head_dim=args.head_dim,
        max_position_embeddings=args.max_position_embeddings,
    )
    if not args.force and is_complete(args.out, config):
        print(f"tiny model: {args.out} is up to date")
        return
    write_tiny_model(args.out, config, seed=args.seed)


if __name__ == "__main__":
    main()
