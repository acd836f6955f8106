"""The watch loop: scrape a live vLLM server's /metrics every interval and judge the SLO per window.

Exit codes, for CI canaries: 0 the SLO held over the watched run (or, with --once, over the server's life);
1 it did not; 3 the server could not be scraped; 4 no request reached a judged term (nothing to judge).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from slotune.bench.server_metrics import Snapshot, parse_prometheus
from slotune.errors import SlotuneError
from slotune.models.slo import SLO
from slotune.models.watch import LiveFinding, Verdict, WatchTick, WindowStatus
from slotune.watch.rules import BUILTIN_RULES, LiveRule, run_rules
from slotune.watch.window import History, verdict, window_status

WINDOWS = (("1m", 60.0), ("5m", 300.0))
EXIT_CODES: dict[Verdict, int] = {"met": 0, "violated": 1, "no_data": 4}
EXIT_UNREACHABLE = 3
MAX_FAILED_SCRAPES = 3

Scrape = Callable[[], str]


class Unreachable(SlotuneError):
    """The server's /metrics could not be read."""

    exit_code = EXIT_UNREACHABLE


def metrics_url(url: str) -> str:
    base = url.rstrip("/")
    return base if base.endswith("/metrics") else base + "/metrics"


def http_scrape(url: str, timeout_s: float = 10.0) -> Scrape:
    client = httpx.Client(timeout=timeout_s)
    target = metrics_url(url)

    def scrape() -> str:
        try:
            response = client.get(target)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{target}: {exc}") from exc
        if response.status_code != 200:
            raise Unreachable(f"{target}: HTTP {response.status_code}")
        return response.text

    return scrape


@dataclass(frozen=True, slots=True)
class WatchOptions:
    url: str
    slo: SLO | None
    interval_s: float = 5.0
    duration_s: float | None = None  # None: until interrupted
    once: bool = False
    # TTFT and E2E as clients see them (slotune.watch.client_view); False: as vLLM's histograms count them.
    client_view: bool = True
    rules: tuple[LiveRule, ...] = BUILTIN_RULES


def _findings(
    rules: tuple[LiveRule, ...], windows: list[WindowStatus], slo: SLO | None
) -> tuple[LiveFinding, ...]:
    """Each rule once, on the shortest window where it fires."""
    seen: dict[str, LiveFinding] = {}
    for window in windows:
        for found in run_rules(rules, window, slo):
            seen.setdefault(found.rule, found)
    return tuple(seen.values())


def _tick(
    options: WatchOptions, now_s: float, windows: list[WindowStatus], judged: WindowStatus
) -> WatchTick:
    return WatchTick(
        time_s=round(now_s, 3),
        url=options.url,
        windows=tuple(windows),
        findings=_findings(options.rules, windows, options.slo),
        verdict=verdict(judged),
    )


class Watcher:
    def __init__(
        self, options: WatchOptions, scrape: Scrape, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.options = options
        self.scrape = scrape
        self.clock = clock
        self.t0 = clock()
        self.history = History(keep_s=max(s for _, s in WINDOWS) + 2 * options.interval_s)
        self.failures = 0

    def read(self) -> Snapshot:
        return parse_prometheus(self.scrape(), time_s=self.clock() - self.t0)

    def once(self) -> WatchTick:
        snap = self.read()
        lifetime = window_status(
            "lifetime", self.options.slo, None, snap, client_view=self.options.client_view
        )
        return _tick(self.options, snap.time_s, [lifetime], lifetime)

    def start(self) -> None:
        self.history.add(self.read())

    def step(self) -> WatchTick:
        """One scrape after the first: the windows that end now."""
        try:
            snap = self.read()
        except Unreachable as exc:
            self.failures += 1
            if self.failures >= MAX_FAILED_SCRAPES:
                raise
            return self.last_tick().model_copy(update={"scrape_error": str(exc)})
        self.failures = 0
        self.history.add(snap)
        return self.last_tick()

    def last_tick(self) -> WatchTick:
        newest = self.history.snapshots[-1]
        slo = self.options.slo
        view = self.options.client_view
        windows = [
            window_status(name, slo, self.history.start_of(span), newest, client_view=view)
            for name, span in WINDOWS
        ]
        assert self.history.first is not None
        run = window_status("run", slo, self.history.first, newest, client_view=view)
        windows.append(run)
        return _tick(self.options, newest.time_s, windows, run)


def watch(
    options: WatchOptions,
    scrape: Scrape,
    on_tick: Callable[[WatchTick], None],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WatchTick:
    """Watch until the duration ends (or Ctrl-C); every tick goes to on_tick; returns the last, whose verdict is
    over the whole run. Raises Unreachable when the server cannot be scraped."""
    watcher = Watcher(options, scrape, clock)
    if options.once:
        tick = watcher.once()
        on_tick(tick)
        return tick
    watcher.start()
    tick = watcher.last_tick()
    k = 0
    try:
        while options.duration_s is None or clock() - watcher.t0 < options.duration_s:
            k += 1
            next_at = watcher.t0 + k * options.interval_s
            if options.duration_s is not None:
                next_at = min(next_at, watcher.t0 + options.duration_s)
            sleep(max(0.0, next_at - clock()))
            tick = watcher.step()
            on_tick(tick)
    except KeyboardInterrupt:
        pass
    return tick
