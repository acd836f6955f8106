"""Synthesis presets: length distributions, arrival process and prefix structure per kind of service.

Where a public trace exists the numbers come from it (Azure 2023 conversation and code traces, etalon's
ShareGPT lengths); elsewhere they are stated assumptions, with the reasoning in `source`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slotune.workload.lengths import EmpiricalLengths, LengthDistribution, LogNormalLengths


@dataclass(frozen=True, slots=True)
class DocumentPool:
    """Retrieved documents shared between requests: popularity is Zipf(s) over the pool."""

    num_documents: int
    zipf_s: float
    # Document lengths are drawn once per pool and rounded to whole prefix blocks (so they can be shared).
    lengths: LogNormalLengths


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    description: str
    source: str
    # The part of the prompt unique to each request (after any shared system prompt and document).
    prompt: LengthDistribution
    output: LengthDistribution
    # None: an offline batch, every request at t=0 (unless a rate is given).
    default_rate_rps: float | None
    # Burstiness used when arrivals are gamma (std / mean of inter-arrival gaps).
    cv: float = 1.0
    # System prompt shared by every request, in tokens (a multiple of the 16-token block).
    system_prompt_tokens: int = 0
    documents: DocumentPool | None = None
    temperature: float | None = None

    def mean_output_tokens(self) -> float:
        """The output distribution's mean, from a fixed sample (for run-size estimates)."""
        return float(self.output.sample(np.random.default_rng(0), 1000).mean())


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="chatbot",
            description="interactive chat: ~1k-token prompts, ~200-token answers, Poisson arrivals",
            source=(
                "lengths: empirical, Azure LLM inference trace 2023 (conversation), 19,366 requests; "
                "rate 5.53 req/s and CV 1.09 from the same trace; temperature 0.7 as FastChat's MT-bench "
                "uses for open-ended writing and role-play"
            ),
            prompt=EmpiricalLengths("azure-conv", "prompt"),
            output=EmpiricalLengths("azure-conv", "output"),
            default_rate_rps=5.53,
            cv=1.09,
            temperature=0.7,
        ),
        Preset(
            name="code-completion",
            description="code completion: ~2k-token prompts, short completions; --arrival gamma gives its burstiness",
            source=(
                "lengths: empirical, Azure LLM inference trace 2023 (code), 8,819 requests; rate 2.57 req/s "
                "and CV 13.2 (67 requests in one second at peak) from the same trace"
            ),
            prompt=EmpiricalLengths("azure-code", "prompt"),
            output=EmpiricalLengths("azure-code", "output"),
            default_rate_rps=2.57,
            cv=13.15,
        ),
        Preset(
            name="rag",
            description="retrieval-augmented QA: shared system prompt + a popular retrieved document + a question",
            source=(
                "assumption: a 256-token system prompt; one retrieved document (median 2,048 tokens, "
                "e.g. 4 chunks of 512) from a pool of 1,000 with Zipf(1.0) popularity, so popular documents "
                "are prefix-cache hits; questions median 64 tokens; answers median 256 tokens"
            ),
            prompt=LogNormalLengths(median=64, sigma=0.6, min_tokens=8, max_tokens=1024),
            output=LogNormalLengths(median=256, sigma=0.6, min_tokens=16, max_tokens=2048),
            default_rate_rps=2.0,
            system_prompt_tokens=256,
            documents=DocumentPool(
                num_documents=1000,
                zipf_s=1.0,
                lengths=LogNormalLengths(median=2048, sigma=0.5, min_tokens=256, max_tokens=16384),
            ),
        ),
        Preset(
            name="summarization",
            description="long-document summarization: several-thousand-token prompts, a few hundred tokens out",
            source=(
                "assumption from the arXiv/PubMed summarization sets (Cohan et al., NAACL 2018: documents of "
                "3,000-5,000 words, abstracts of ~200 words, ~1.3 tokens per word): prompt median 4,000 "
                "tokens, output median 280 tokens"
            ),
            prompt=LogNormalLengths(median=4000, sigma=0.6, min_tokens=256, max_tokens=32768),
            output=LogNormalLengths(median=280, sigma=0.4, min_tokens=32, max_tokens=1024),
            default_rate_rps=0.5,
        ),
        Preset(
            name="classification",
            description="classification / extraction: long shared instructions with examples, a few tokens out",
            source=(
                "assumption: a 768-token shared instruction with few-shot examples, inputs median 200 tokens, "
                "labels or short fields median 8 tokens, temperature 0 (a deterministic task)"
            ),
            prompt=LogNormalLengths(median=200, sigma=0.8, min_tokens=8, max_tokens=4096),
            output=LogNormalLengths(median=8, sigma=0.7, min_tokens=1, max_tokens=128),
            default_rate_rps=10.0,
            system_prompt_tokens=768,
            temperature=0.0,
        ),
        Preset(
            name="offline-batch",
            description="offline batch: every request at t=0, multi-turn chat lengths; throughput first",
            source=(
                "lengths: empirical, ShareGPT statistics from etalon/sarathi-serve (30,731 multi-turn "
                "requests, history included, Llama-2 tokenizer); all requests arrive at once"
            ),
            prompt=EmpiricalLengths("sharegpt-etalon", "prompt"),
            output=EmpiricalLengths("sharegpt-etalon", "output"),
            default_rate_rps=None,
        ),
    )
}
