"""The options of vLLM 0.25's OpenAI server that the tests use (names, kinds and choices as in vLLM)."""

import argparse

from vllm.utils.argparse_utils import FlexibleArgumentParser


def make_arg_parser(parser: FlexibleArgumentParser) -> FlexibleArgumentParser:
    parser.add_argument("model_tag", nargs="?")
    parser.add_argument("--model", default="Qwen/Qwen3-0.6B")
    parser.add_argument("--served-model-name", nargs="+")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-model-len", type=str)
    parser.add_argument("--max-num-seqs", type=int)
    parser.add_argument("--max-num-batched-tokens", type=int)
    parser.add_argument("--block-size", type=int)
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.92)
    parser.add_argument("--kv-cache-memory-bytes", type=int)
    parser.add_argument("--enable-prefix-caching", action=argparse.BooleanOptionalAction)
    parser.add_argument("--enable-chunked-prefill", action=argparse.BooleanOptionalAction)
    parser.add_argument("--enforce-eager", action="store_true")
    parser.add_argument("--dtype", choices=["auto", "bfloat16", "float", "float16", "float32", "half"])
    parser.add_argument(
        "--kv-cache-dtype", choices=["auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2"]
    )
    parser.add_argument("--tensor-parallel-size", "-tp", type=int, default=1)
    parser.add_argument("--enable-prompt-tokens-details", action="store_true")
    parser.add_argument("--disable-uvicorn-access-log", action="store_true")
    return parser
