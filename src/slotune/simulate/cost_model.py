"""How long one engine step takes, from what its batch holds.

The GPU work of a step is slotune.plan.step_cost's terms, the same the planner's roofline evaluates:
max(memory_s, compute_s) + comm_s from the step's aggregates (tokens by phase, attention pairs, KV entries, LM-head
rows; see that module). The simulator adds what the roofline leaves out, one line per term:
  launch_s  = graph replay | piecewise graphs (attention eager) per layer | compiled, no graph, per layer
              (above the largest capture size; every step on a device without CUDA graphs) | eager per layer
              + eager per scheduled sequence
  work_s    = max(memory_s, compute_s) + comm_s
  gpu_s     = work_s + launch_s - launch_overlap x min(work_s, launch_s) for steps without a graph (the host
              queues kernels while earlier ones run), work_s + launch_s with one
              (+ draft-model cost with speculative decoding)
  cpu_s     = step_cpu_s + cpu_per_seq_s * num_seqs
  step_s    = max(gpu_s, cpu_s) with async scheduling (CPU work overlaps the GPU), gpu_s + cpu_s without.

--enforce-eager (vLLM: torch.compile and CUDA graphs off, its own CUDA kernels for norms and activations) leaves
the device's work per token as it is and makes the host issue every kernel of every layer, one Python call at a
time: a step is bound by the host's launches, and the device runs each kernel as it arrives, so the work of a
small batch hides behind the launches and the launches of a large one behind the work (`launch_overlap`). The
host's time is a fixed part per layer (`eager_launch_per_layer_s`) plus a part per scheduled sequence
(`eager_launch_per_seq_s`: its per-sequence work - inputs, metadata, sampling, outputs - waits on the same
thread, where under graphs async scheduling hides it behind the replay). Prompt tokens add nothing of their own:
on the H200 the eager server's long prefills take as long as the default server's, and where its host ran at
full speed its decode step stays at 12.5-14.2 ms from 1 to 64 sequences and 32 to 4,096 tokens of context while
the same batches' work is 5-7 ms (docs/calibration.md, "Eager steps", also for the host's slower stretches).
"""

from __future__ import annotations

import numpy as np

from slotune.models import GpuSpec, HardwareProfile
from slotune.plan.cuda_graphs import CudaGraphs
from slotune.plan.step_cost import ModelCostFacts, Rates, StepCost


class CostModel:
    """Step durations for one model on one GPU type under one engine configuration."""

    def __init__(
        self,
        facts: ModelCostFacts,
        gpu: GpuSpec,
        profile: HardwareProfile,
        *,
        enforce_eager: bool,
        capture_sizes: tuple[int, ...],
        async_scheduling: bool,
        num_spec_tokens: int = 0,
        draft_cost_ratio: float = 0.0,
    ) -> None:
        c = profile.coefficients
        self.facts = facts
        self.step_cost = StepCost(facts, Rates.of(gpu, c, facts.compute_dtype))
        self._terms = self.step_cost.terms
        self.sliding_window = facts.sliding_window
        self.async_scheduling = async_scheduling
        self.step_cpu_s = c.step_cpu_s
        self.cpu_per_seq_s = c.cpu_per_seq_s
        self.full_graph_s = c.graph_launch_s
        self.piecewise_s = c.piecewise_launch_per_layer_s * facts.num_layers
        self.eager_s = c.eager_launch_per_layer_s * facts.num_layers
        compiled = c.compiled_launch_per_layer_s
        self.compiled_s = self.eager_s if compiled is None else compiled * facts.num_layers
        self.no_graph_s = self.eager_s if enforce_eager else self.compiled_s
        self.eager_per_seq_s = c.eager_launch_per_seq_s if enforce_eager else 0.0
        self.overlap = c.launch_overlap
        self.graphs = CudaGraphs(capture_sizes, enforce_eager=enforce_eager)
        self.max_capture_size = self.graphs.max_size
        self.num_spec_tokens = num_spec_tokens
        self.draft_factor = num_spec_tokens * draft_cost_ratio

    def graph(self, num_tokens: int, is_uniform_decode: bool) -> tuple[int, float]:
        """(padded tokens, launch overhead): FULL graphs for uniform decode batches, PIECEWISE graphs for mixed
        batches up to the largest capture size; above it compiled code without a graph, and with
        --enforce-eager every step eager."""
        if num_tokens > self.max_capture_size:
            return num_tokens, self.no_graph_s
        return self.graphs.padded(num_tokens), (self.full_graph_s if is_uniform_decode else self.piecewise_s)

    def _hidden_s(self, num_tokens: int, work_s: float, launch_s: float) -> float:
        """Launch time hidden behind the work in a step without a graph."""
        if not self.overlap or num_tokens <= self.max_capture_size:
            return 0.0
        return self.overlap * (work_s if work_s < launch_s else launch_s)

    def launch_s(self, num_tokens: int, is_uniform_decode: bool, num_seqs: int = 0) -> float:
        """Launch overhead of a step of `num_tokens` from `num_seqs` sequences (the latter counts only with
        --enforce-eager)."""
        return self.graph(num_tokens, is_uniform_decode)[1] + self.eager_per_seq_s * num_seqs

    def cpu_s(self, num_seqs: int) -> float:
        return self.step_cpu_s + self.cpu_per_seq_s * num_seqs

    def step_s(
        self,
        *,
        num_seqs: int,
        prefill_tokens: int,
        decode_tokens: int,
        prefill_pairs: int,
        decode_pairs: int,
        kv_tokens: int,
        num_logits: int,
        num_spec_seqs: int = 0,
        window_prefill_pairs: int = 0,
        window_decode_pairs: int = 0,
        window_kv_tokens: int = 0,
    ) -> float:
        """Duration of one engine step."""
        tokens = prefill_tokens + decode_tokens
        padded, launch_s = self.graph(tokens, prefill_tokens == 0)
        if self.eager_per_seq_s:
            launch_s = launch_s + self.eager_per_seq_s * num_seqs
        memory_s, compute_s, comm_s = self._terms(
            prefill_tokens,
            decode_tokens,
            padded,
            prefill_pairs,
            decode_pairs,
            kv_tokens,
            num_logits,
            window_prefill_pairs,
            window_decode_pairs,
            window_kv_tokens,
        )
        work_s = (memory_s if memory_s >= compute_s else compute_s) + comm_s
        gpu_s = work_s + launch_s
        if self.overlap:
            gpu_s = gpu_s - self._hidden_s(tokens, work_s, launch_s)
        if num_spec_seqs:
            gpu_s = gpu_s + gpu_s * self.draft_factor
        cpu_s = self.step_cpu_s + self.cpu_per_seq_s * num_seqs
        if self.async_scheduling:
            return gpu_s if gpu_s >= cpu_s else cpu_s
        return gpu_s + cpu_s

    def decode_run_s(
        self, num_seqs: int, kv_tokens: np.ndarray, window_kv_tokens: np.ndarray | int = 0
    ) -> np.ndarray:
        """Durations of consecutive decode-only steps of the same `num_seqs` one-token sequences whose total
        context is `kv_tokens` (one value per step; `window_kv_tokens` the same capped at the sliding window
        per sequence). Equal, bit for bit, to `step_s` called step by step."""
        padded, launch_s = self.graph(num_seqs, True)
        if self.eager_per_seq_s:
            launch_s = launch_s + self.eager_per_seq_s * num_seqs
        memory_s, compute_s, comm_s = self._terms(
            0, num_seqs, padded, 0, kv_tokens, kv_tokens, num_seqs, 0, window_kv_tokens, window_kv_tokens
        )
        work_s = np.maximum(memory_s, compute_s) + comm_s
        gpu_s = work_s + launch_s
        if self.overlap and num_seqs > self.max_capture_size:
            gpu_s = gpu_s - self.overlap * np.minimum(work_s, launch_s)
        cpu_s = self.step_cpu_s + self.cpu_per_seq_s * num_seqs
        if self.async_scheduling:
            return np.maximum(gpu_s, cpu_s)
        return gpu_s + cpu_s


def window_key_sums(keys: np.ndarray, num_steps: int, window: int) -> np.ndarray:
    """sum_i min(keys_i + s, window) for s = 0 .. num_steps - 1: the KV entries a run of decode steps reads in
    a sliding layer, when sequence i attends to keys_i keys at the first step and one more at each step after.

    Piecewise linear in s: sequences below the window add one key per step until they reach it. Sorted by how
    many steps each takes to get there, a prefix sum gives every step at once (exact integers).
    """
    keys = np.minimum(np.asarray(keys, dtype=np.int64), window)
    steps_to_window = np.sort(window - keys)  # ascending: the first to reach the window come first
    capped_keys = window - steps_to_window  # keys_i, in the same order
    # suffix_keys[j]: the keys of the sequences after the first j (those still growing once j have arrived).
    suffix_keys = np.concatenate((np.cumsum(capped_keys[::-1])[::-1], [0]))
    s = np.arange(num_steps, dtype=np.int64)
    reached = np.searchsorted(steps_to_window, s, side="right")  # sequences at the window by step s
    growing = len(keys) - reached
    return reached * window + suffix_keys[reached] + growing * s
