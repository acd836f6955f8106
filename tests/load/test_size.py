"""A run's size before it starts: requests planned for each kind of load, and the refusals (limit, memory)."""

import pytest

from slotune.errors import InputError
from slotune.load.size import check_run_size, memory_bytes, planned_requests
from slotune.models import LoadSpec


def _load(**fields: object) -> LoadSpec:
    return LoadSpec.model_validate(fields)


@pytest.mark.parametrize(
    ("fields", "kwargs", "expected"),
    [
        ({"kind": "rate", "rate_rps": 1e9, "duration_s": 10.0}, {}, 10_000_000_000),
        ({"kind": "rate", "rate_rps": 4.0, "duration_s": 10.0, "warmup_s": 5.0}, {}, 60),
        ({"kind": "rate", "rate_rps": 4.0, "num_requests": 10, "warmup_s": 2.0}, {}, 18),
        ({"kind": "rate", "rate_rps": 4.0}, {"workload_requests": 30}, 30),  # each request once
        ({"kind": "replay"}, {"workload_requests": 500}, 500),
        ({"kind": "replay", "duration_s": 100.0, "time_scale": 0.5}, {"replay_rate_rps": 2.0}, 400),
        ({"kind": "replay", "num_requests": 7}, {}, 7),  # an offline batch: no rate
        ({"kind": "concurrency", "concurrency": 8, "num_requests": 50}, {}, 50),
        ({"kind": "concurrency", "concurrency": 8, "duration_s": 60.0}, {}, 8),  # at least each user's first
        ({"kind": "concurrency", "concurrency": 8, "num_requests": 50, "warmup_s": 5.0}, {}, 58),  # + warm-up
        (
            {"kind": "concurrency", "concurrency": 2**31, "num_requests": 40},
            {},
            40,
        ),  # idle users send nothing
    ],
)
def test_planned_requests(fields: dict[str, object], kwargs: dict[str, object], expected: int | None) -> None:
    assert planned_requests(_load(**fields), **kwargs) == expected  # type: ignore[arg-type]


def test_over_the_limit_is_refused_with_the_flag_that_raises_it() -> None:
    check_run_size(100_000, limit=100_000, available_bytes=10**12)
    with pytest.raises(InputError) as info:
        check_run_size(100_001, limit=100_000, available_bytes=10**12)
    assert "--request-limit to 100,001" in info.value.fix and "--rate" in info.value.fix
    check_run_size(None, limit=1)  # unknown size: checked while it runs


def test_memory_is_checked_whatever_the_limit() -> None:
    need = memory_bytes(1_000_000, 200.0)
    assert 15e9 < need < 25e9  # ~18 kB per chatbot request, as measured on simulate
    with pytest.raises(InputError) as info:
        check_run_size(1_000_000, limit=10**9, mean_output_tokens=200.0, available_bytes=int(need))
    assert "GB available" in str(info.value) and "--request-limit" not in info.value.fix


def test_a_limit_below_one_is_bad_input() -> None:
    with pytest.raises(InputError, match="--request-limit"):
        check_run_size(5, limit=0)


def test_a_count_past_what_a_float_holds_is_capped_and_refused() -> None:
    planned = planned_requests(_load(kind="rate", rate_rps=5.0, num_requests=40, warmup_s=1e308))
    assert planned == 10**18
    with pytest.raises(InputError):
        check_run_size(planned, limit=300)
