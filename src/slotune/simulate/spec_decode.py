"""Speculative decoding: how many of a step's draft tokens the target model accepts.

Draft position i is accepted with probability `rate_i` given positions < i were; the step emits the accepted
prefix plus one token from the target (1 + accepted tokens). Expected tokens per verify step:
  1 + sum_{i=1..k} prod_{j<i} rate_j.
Randomness is a counter-based generator keyed by (seed, request, decode step, position): each draw is a pure
function of its key, so results do not depend on the order requests are processed in, and the same seed gives
the same draws.
"""

from __future__ import annotations

from slotune.models import SpeculativeConfig

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix64(x: int) -> int:
    """SplitMix64 finalizer: a bijection of 64-bit integers with full avalanche."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


class CounterRng:
    """Uniform draws in [0, 1) as a pure function of (seed, a, b, c)."""

    def __init__(self, seed: int) -> None:
        self._key = _mix64((seed * _GOLDEN + 0x632BE59BD9B4E019) & _MASK64)

    def uniform(self, a: int, b: int, c: int) -> float:
        x = _mix64((self._key ^ (a * _GOLDEN)) & _MASK64)
        x = _mix64((x + b * 0xD1B54A32D192ED03) & _MASK64)
        x = _mix64((x + c * 0xAEF17502108EF2D9) & _MASK64)
        return (x >> 11) * (1.0 / (1 << 53))


class AcceptanceSampler:
    def __init__(self, config: SpeculativeConfig, rng: CounterRng) -> None:
        self.num_speculative_tokens = config.num_speculative_tokens
        self.rates = tuple(config.rate_at(i) for i in range(config.num_speculative_tokens))
        self._rng = rng

    def num_accepted(self, request_index: int, decode_step: int, num_drafts: int) -> int:
        for i in range(num_drafts):
            if self._rng.uniform(request_index, decode_step, i) >= self.rates[i]:
                return i
        return num_drafts

    def expected_tokens_per_step(self) -> float:
        expected, survive = 1.0, 1.0
        for rate in self.rates:
            survive *= rate
            expected += survive
        return expected
