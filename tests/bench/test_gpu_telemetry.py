"""GPU telemetry: read only when the server runs on this machine; the NVML path with a stand-in module (the
real one was run on an H100: docs/metrics.md, benchmarks/device_gpu_telemetry.sh)."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from slotune.bench.telemetry import GpuTelemetry, is_this_host
from slotune.models.reports import GpuSample


@pytest.mark.parametrize(
    ("host", "local"),
    [("127.0.0.1", True), ("localhost", True), ("192.0.2.1", False), ("no-such-host.invalid", False)],
)
def test_is_this_host(host: str, local: bool) -> None:
    assert is_this_host(host) is local


class _FakeNvml:
    """The few pynvml calls GpuTelemetry makes, for two GPUs."""

    def __init__(self) -> None:
        self.calls = 0

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, handle: int) -> bytes | str:
        return b"NVIDIA H100 80GB HBM3" if handle == 0 else "NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        self.calls += 1
        return SimpleNamespace(gpu=50 + 10 * handle, memory=20)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(used=(1 + handle) * 2**30)

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        return 300_000  # milliwatts


def test_samples_every_gpu_and_summarizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _FakeNvml())
    gpu = GpuTelemetry()
    assert gpu.available and gpu.names == ["NVIDIA H100 80GB HBM3"] * 2
    gpu.sample(0.0)
    gpu.sample(1.0)
    summary = gpu.summary()
    assert summary is not None and summary.num_gpus == 2
    first, second = summary.per_gpu
    assert first == GpuSample(
        gpu=0, name="NVIDIA H100 80GB HBM3", util_mean=0.5, memory_used_bytes_max=2**30, power_w_mean=300.0
    )
    assert second.util_mean == 0.6 and second.memory_used_bytes_max == 2 * 2**30


def test_disabled_for_a_server_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    gpu = GpuTelemetry(enabled=False)
    gpu.sample(0.0)
    assert not gpu.available and gpu.summary() is None and fake.calls == 0


def test_absent_without_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    gpu = GpuTelemetry()
    gpu.sample(0.0)
    assert not gpu.available and gpu.summary() is None
