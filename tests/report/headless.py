"""Debian's headless Chromium, started by the tests and driven through the DevTools protocol (CDP) over one
websocket: open a page, evaluate JavaScript, take screenshots, and collect what the page did (console errors,
uncaught exceptions, dialogs such as alert(), network requests). Used by tests/report and
benchmarks/report_speed.py.

Chromium is started with a fresh profile and everything that phones home switched off; the remote-debugging
port is chosen by Chromium (port 0) and read back from the DevToolsActivePort file in the profile.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)


def find_chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


@dataclass
class PageEvents:
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    loaded: bool = False


class CdpPage:
    """One page target: commands sent and answered in order; events recorded as they arrive."""

    def __init__(self, ws_url: str, profile: Path) -> None:
        import websocket

        self.profile = profile
        self._ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self._next_id = 0
        self.events = PageEvents()

    def close(self) -> None:
        self._ws.close()

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        e = self.events
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            e.console_errors.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            e.console_errors.append(f"{params['entry'].get('source')}: {params['entry'].get('text')}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            e.exceptions.append(str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Page.javascriptDialogOpening":
            e.dialogs.append(f"{params.get('type')}: {params.get('message')}")
            # A dialog blocks the page until answered; answer it so the test can go on and report it.
            self._send("Page.handleJavaScriptDialog", {"accept": True})
        elif method == "Network.requestWillBeSent":
            e.requests.append(params["request"]["url"])
        elif method == "Page.loadEventFired":
            e.loaded = True

    def _send(self, method: str, params: dict[str, Any] | None = None) -> int:
        self._next_id += 1
        self._ws.send(json.dumps({"id": self._next_id, "method": method, "params": params or {}}))
        return self._next_id

    def _pump(self) -> dict[str, Any]:
        message = json.loads(self._ws.recv())
        if "method" in message:
            self._on_event(message["method"], message.get("params", {}))
        return message

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        wanted = self._send(method, params)
        while True:
            message = self._pump()
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate(self, url: str, *, timeout_s: float = 60.0) -> None:
        self.events.loaded = False
        self.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout_s
        while not self.events.loaded:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load in {timeout_s:.0f} s")
            self._pump()

    def wait_for(self, expression: str, *, timeout_s: float = 60.0, poll_s: float = 0.05) -> Any:
        """Evaluate `expression` until it is truthy; its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout_s:.0f} s: {expression}")
            time.sleep(poll_s)

    def cpu_s(self) -> float:
        """CPU seconds used so far by every process of this browser (found by its profile folder): unlike wall
        time, it does not grow when other programs take the machine's cores."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if str(self.profile).encode() not in (proc / "cmdline").read_bytes():
                    continue
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return total / ticks

    def screenshot(self, path: Path, *, width: int = 1400) -> Path:
        """The whole page, not only the viewport."""
        metrics = self.call("Page.getLayoutMetrics")
        height = int(metrics.get("cssContentSize", metrics.get("contentSize"))["height"])
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": min(height, 16000), "deviceScaleFactor": 1, "mobile": False},
        )
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


def _devtools_port(profile: Path, process: subprocess.Popen[bytes], timeout_s: float) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while not marker.is_file() or not marker.read_text().strip():
        if process.poll() is not None:
            raise RuntimeError(
                f"chromium exited with {process.returncode} before it opened its DevTools port"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"chromium opened no DevTools port in {timeout_s:.0f} s")
        time.sleep(0.05)
    return int(marker.read_text().split()[0])


@contextmanager
def chromium_page(
    binary: str, *, width: int = 1400, height: int = 1000, timeout_s: float = 60.0
) -> Iterator[CdpPage]:
    """A fresh headless Chromium (own profile, stopped at the end) and its first page, with events enabled."""
    with tempfile.TemporaryDirectory(prefix="slotune-chromium-") as profile:
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        page: CdpPage | None = None
        try:
            port = _devtools_port(Path(profile), process, timeout_s)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout_s) as response:
                targets = json.load(response)
            ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
            page = CdpPage(ws_url, Path(profile))
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.call(f"{domain}.enable")
            yield page
        finally:
            if page is not None:
                page.close()
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
