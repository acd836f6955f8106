"""slotune: a serving-optimization framework for LLMs on vLLM."""

__version__ = "0.1.0"
