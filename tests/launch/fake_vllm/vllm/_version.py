# The layout of vLLM's generated _version.py, which the launcher reads without importing vLLM.
__version__ = version = "0.25.0"
__version_tuple__ = version_tuple = (0, 25, 0)
