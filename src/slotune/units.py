"""Unit constants. SI inside slotune: seconds, bytes, FLOP/s. Decimal prefixes unless a binary one is meant."""

# Decimal (SI) prefixes: what datasheets mean by GB, TB/s, TFLOPS.
KB = 1e3
MB = 1e6
GB = 1e9
TB = 1e12
TERA = 1e12
GIGA = 1e9

# Binary prefixes: what drivers and vLLM's memory accounting report (GiB).
KiB = 1024
MiB = 1024**2
GiB = 1024**3

# Time.
MS = 1e-3
US = 1e-6
MINUTE_S = 60.0
HOUR_S = 3600.0

# Token counts.
MTOK = 1_000_000

# Bytes per element of the dtypes slotune reasons about.
DTYPE_BYTES: dict[str, float] = {
    "float32": 4.0,
    "fp32": 4.0,
    "bfloat16": 2.0,
    "bf16": 2.0,
    "float16": 2.0,
    "fp16": 2.0,
    "half": 2.0,
    "fp8": 1.0,
    "fp8_e4m3": 1.0,
    "fp8_e5m2": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    "fp4": 0.5,
}
