"""A small Chrome DevTools Protocol client over `--remote-debugging-pipe`, no dependencies.

Chromium started with `--remote-debugging-pipe` reads protocol commands from file
descriptor 3 and writes replies and events to descriptor 4, each message JSON ending in a NUL
byte (the transport Puppeteer and Playwright use). Here a `sh` wrapper puts our pipes on 3 and
4, so Popen's own stdin/stdout are the two ends. Unlike `--dump-dom` with
`--virtual-time-budget`, the page runs in real time, so `performance.now()` measures what a
user would see.

Every wait is bounded: a command or an event not seen within its timeout raises
`CdpTimeout`; `Browser.close` then kill on exit.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Self


class CdpTimeout(Exception):
    """No reply (or event) within the timeout."""


class CdpError(Exception):
    """The browser answered a command with an error."""


HEADLESS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
]
"""How every test runs Chromium: headless, as root in a container, with nothing of its own
to set up first."""


class Chromium:
    """Headless `chromium` driven through the DevTools protocol; use as a context manager."""

    def __init__(self, binary: str, profile: Path, *extra: str) -> None:
        args = [
            binary,
            *HEADLESS,
            "--disable-background-networking",
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            *extra,
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            ["sh", "-c", 'exec "$@" 3<&0 4>&1 </dev/null >/dev/null', "sh", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # dbus and GPU noise
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._w = self.proc.stdin
        self._r = self.proc.stdout.fileno()
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("Browser.close", timeout=5)
            except (CdpTimeout, CdpError, OSError):
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                f.close()

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpTimeout("no message from the browser in time")
            ready, _, _ = select.select([self._r], [], [], left)
            if not ready:
                continue
            data = os.read(self._r, 1 << 16)
            if not data:
                raise OSError("the browser closed its DevTools pipe")
            self._buf += data
        raw, _, self._buf = self._buf.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Send one command and return its `result`; events seen meanwhile are kept."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        self._w.write(json.dumps(msg).encode() + b"\0")
        self._w.flush()
        deadline = time.monotonic() + timeout
        while True:
            m = self._message(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise CdpError(f"{method}: {m['error']}")
                result: dict[str, Any] = m.get("result", {})
                return result
            if "method" in m:
                self.events.append(m)

    def wait_event(self, method: str, session: str | None, timeout: float) -> dict[str, Any]:
        """The first event `method` (of `session`) not yet consumed, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == method and m.get("sessionId") == session:
                    del self.events[i]
                    return m
            m = self._message(deadline)
            if "method" in m:
                self.events.append(m)

    def new_tab(self) -> str:
        """A new blank tab, attached; its session id, with Page events enabled."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session: str = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.send("Page.enable", session=session)
        return session

    def evaluate(self, session: str, expression: str, timeout: float) -> Any:
        """`expression`'s value (a promise is awaited), returned by value."""
        r = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=session,
            timeout=timeout,
        )
        if "exceptionDetails" in r:
            raise CdpError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")
