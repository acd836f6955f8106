"""The all-reduce terms from benchmarks/allreduce_probe.py's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from slotune.calibrate.allreduce import fit_allreduce, fit_allreduce_file, parse_rows, read_allreduce_rows
from slotune.errors import InputError

MEASURED = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "allreduce_h200_x2.txt"


def test_an_exact_line_is_found_again() -> None:
    link = 450e9
    lines = []
    for kib in (16, 256, 4096, 65536):
        seconds = 12e-6 + 2 * (4 - 1) / 4 * kib * 1024 / (link * 0.6)
        lines.append(f"tp=4 graph=True {kib:6d} KiB {seconds * 1e6:10.4f} us busbw 1.0 GB/s")
        lines.append(f"tp=4 graph=False {kib:6d} KiB {seconds * 1e6 + 35:10.4f} us busbw 1.0 GB/s")
    fit = fit_allreduce(parse_rows("header\n" + "\n".join(lines)), link)
    assert fit.graph and fit.tensor_parallel_size == 4 and fit.num_rows == 4
    assert fit.allreduce_latency_s == pytest.approx(12e-6, rel=1e-3)
    assert fit.interconnect_efficiency == pytest.approx(0.6, rel=1e-3)
    assert fit.max_abs_relative_error < 1e-3


def test_the_measured_h200_pair() -> None:
    fit = fit_allreduce_file(MEASURED, 450e9)
    assert fit.graph and fit.num_rows == 8
    # 2 x H200 over NVLink: ~13 us inside graphs, about 270 GB/s of bus bandwidth at 64 MiB.
    assert 5e-6 < fit.allreduce_latency_s < 20e-6
    assert 0.4 < fit.interconnect_efficiency < 0.7


def test_nothing_to_fit_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="allreduce_probe"):
        fit_allreduce([], 450e9)
    with pytest.raises(InputError, match="allreduce_probe"):
        fit_allreduce_file(tmp_path / "missing.txt", 450e9)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (bytes(range(256)), "decode"),
        (b"no rows here\n", "no 'tp=N"),
        (b"tp=1 graph=True   1024 KiB    10.0 us busbw 1.0 GB/s\n", "tp=2 or more"),
    ],
)
def test_a_file_that_cannot_be_fitted_is_refused_when_read(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "allreduce.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=problem):
        read_allreduce_rows(path)
