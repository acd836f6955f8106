"""A fake vLLM for the launcher's tests: the same module paths, a small parser, a server that can fail."""

from vllm._version import __version__

__all__ = ["__version__"]
