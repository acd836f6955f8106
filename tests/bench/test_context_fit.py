"""Requests against the server's context: refused, or shortened to fit (prompt first, output only where it alone
does not fit); real text prompts cannot be shortened."""

import pytest

from slotune.bench.context_fit import fit_to_context
from slotune.errors import InputError
from slotune.models import RequestSpec, Workload
from slotune.workload.digest import with_digest


def _workload(*specs: RequestSpec) -> Workload:
    return with_digest(Workload(name="w", requests=specs))


def _spec(i: int, prompt: int, output: int, **extra: object) -> RequestSpec:
    return RequestSpec(
        request_id=str(i), arrival_s=float(i), prompt_tokens=prompt, output_tokens=output, **extra
    )


def test_unknown_context_or_everything_fitting_is_left_alone() -> None:
    w = _workload(_spec(0, 100, 28))
    assert fit_to_context(w, None, 0, clip=False).workload is w
    assert fit_to_context(w, 128, 0, clip=False).workload is w  # 100 + 28 = 128 fits exactly


def test_refusal_names_the_count_the_longest_and_the_flag() -> None:
    w = _workload(_spec(0, 100, 10), _spec(1, 500, 20), _spec(2, 90, 50))
    with pytest.raises(InputError) as info:
        fit_to_context(w, 128, 2, clip=False)
    text = str(info.value)
    assert (
        "2 of 3 workload requests" in text
        and "request 1, 500 + 20 tokens" in text
        and "--clip-prompts" in text
    )


def test_clipping_shortens_prompts_then_outputs() -> None:
    w = _workload(_spec(0, 100, 10), _spec(1, 500, 20), _spec(2, 30, 400))
    fit = fit_to_context(w, 128, 2, clip=True)
    got = [(r.prompt_tokens, r.output_tokens) for r in fit.workload.requests]
    assert got == [(100, 10), (108, 20), (3, 125)]  # the prompt gives way first, down to overhead + 1
    assert fit.workload.digest != w.digest and fit.note is not None and "2 of 3" in fit.note


def test_text_prompts_keep_their_length_and_are_left_out_when_too_long() -> None:
    w = _workload(
        _spec(0, 100, 50, text="a real prompt"), _spec(1, 200, 5, text="a long real prompt"), _spec(2, 10, 5)
    )
    fit = fit_to_context(w, 128, 0, clip=True)
    assert [(r.request_id, r.prompt_tokens, r.output_tokens) for r in fit.workload.requests] == [
        ("0", 100, 28),
        ("2", 10, 5),
    ]
    assert fit.note is not None and "1 with a text prompt longer than the context left out" in fit.note
    with pytest.raises(InputError, match="cannot be shortened"):
        fit_to_context(_workload(_spec(0, 200, 5, text="x")), 128, 0, clip=True)
