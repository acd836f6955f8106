"""Checks that decide whether a run's numbers can be trusted. A failed check marks the run invalid with its
reason; the numbers are kept in the files but not presented as a result.

- achieved vs offered rate (open loop): the client must have sent at the rate it was asked to;
- schedule lag: how late requests left versus their scheduled time (p99);
- client CPU saturation: a client process busy near 100% of a core delays sends and reads;
- event-loop lag: how late a 10 ms timer fires in the client; when the client does not get the CPU
  (a busy machine, a server on the same cores) every timestamp it takes can be late by as much;
- output-length mismatch: requests that did not produce the requested number of tokens (when the server
  was asked for exact lengths), i.e. the load was not the load that was meant;
- error rate: failed requests (errors, timeouts, rejections) out of all measured requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from slotune.models import Validity


@dataclass(frozen=True, slots=True)
class ValidityThresholds:
    min_rate_ratio: float = 0.95
    max_schedule_lag_p99_s: float = 0.010
    max_loop_lag_p99_s: float = 0.010
    max_client_cpu: float = 0.90
    max_output_mismatch_fraction: float = 0.01
    max_error_fraction: float = 0.01


def check_run(
    *,
    open_loop: bool,
    offered_rate_rps: float | None,
    achieved_rate_rps: float | None,
    schedule_lag_p99_s: float | None,
    client_cpu_max: float | None,
    num_requests: int,
    num_errors: int,
    num_output_checked: int,
    num_output_mismatched: int,
    exact_output: bool,
    thresholds: ValidityThresholds,
    extra_warnings: tuple[str, ...] = (),
    loop_lag_p99_s: float | None = None,
    host_cpu: float | None = None,
) -> Validity:
    reasons: list[str] = []
    warnings: list[str] = list(extra_warnings)
    checks: dict[str, float] = {}
    t = thresholds
    if num_requests == 0:
        reasons.append("no measured request completed")
    if open_loop and offered_rate_rps and achieved_rate_rps is not None:
        ratio = achieved_rate_rps / offered_rate_rps
        checks["rate_ratio"] = ratio
        if ratio < t.min_rate_ratio:
            reasons.append(
                f"achieved send rate {achieved_rate_rps:.3g} req/s is {ratio:.1%} of the offered "
                f"{offered_rate_rps:.3g} req/s (< {t.min_rate_ratio:.0%}): the client fell behind its schedule"
            )
    if open_loop and schedule_lag_p99_s is not None:
        checks["schedule_lag_p99_s"] = schedule_lag_p99_s
        if schedule_lag_p99_s > t.max_schedule_lag_p99_s:
            reasons.append(
                f"schedule lag p99 {schedule_lag_p99_s * 1e3:.2f} ms > {t.max_schedule_lag_p99_s * 1e3:g} ms: "
                "requests left later than scheduled (client overloaded; use --workers or a lower rate)"
            )
    if client_cpu_max is not None:
        checks["client_cpu_max"] = client_cpu_max
        if client_cpu_max > t.max_client_cpu:
            reasons.append(
                f"a client process used {client_cpu_max:.0%} of a core (> {t.max_client_cpu:.0%}): the client "
                "may be the bottleneck (use --workers)"
            )
    if loop_lag_p99_s is not None:
        checks["loop_lag_p99_s"] = loop_lag_p99_s
        if loop_lag_p99_s > t.max_loop_lag_p99_s:
            host = "" if host_cpu is None else f" (this machine's CPUs were {host_cpu:.0%} busy)"
            reasons.append(
                f"event-loop lag p99 {loop_lag_p99_s * 1e3:.2f} ms > {t.max_loop_lag_p99_s * 1e3:g} ms: the client "
                f"did not get the CPU when responses arrived, so its timestamps can be late by that much{host}"
            )
    if num_output_checked:
        fraction = num_output_mismatched / num_output_checked
        checks["output_mismatch_fraction"] = fraction
        message = (
            f"{num_output_mismatched} of {num_output_checked} successful requests ({fraction:.1%}) did not "
            "produce the requested number of output tokens"
        )
        if fraction > t.max_output_mismatch_fraction:
            if exact_output:
                reasons.append(
                    message
                    + f" (> {t.max_output_mismatch_fraction:.0%}); the server ignored ignore_eos/min_tokens"
                )
            else:
                warnings.append(message + " (this server was not asked for exact lengths)")
    if num_requests:
        fraction = num_errors / num_requests
        checks["error_fraction"] = fraction
        if fraction > t.max_error_fraction:
            reasons.append(
                f"{num_errors} of {num_requests} requests failed ({fraction:.1%} > {t.max_error_fraction:.0%})"
            )
    return Validity(valid=not reasons, reasons=tuple(reasons), warnings=tuple(warnings), checks=checks)
