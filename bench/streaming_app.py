"""The WSGI app every server in ``bench_streaming.py`` serves (plain PEP 3333, no framework).

- ``GET /ttfb``: ``text/plain`` with no ``Content-Length``; a generator that yields
  ``FIRST`` at once, sleeps ``GAP_S`` and yields ``SECOND``. A server that streams as
  PEP 3333 asks ("Buffering and Streaming") sends ``FIRST`` before the sleep.
- ``GET /events?interval=S&count=N``: a Server-Sent Events stream (``text/event-stream``),
  ``data: I`` for I = 0 .. N-1, the first at once and then one every S seconds (a generator
  with ``time.sleep``, as a naive SSE endpoint is written). Bounded: N ≤ 1000, S ≤ 5.
- ``GET /ping``: ``pong\\n`` with a ``Content-Length``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

FIRST = b"first\n"
SECOND = b"second\n"
GAP_S = 1.0
PONG = b"pong\n"


def event(i: int) -> bytes:
    """One SSE event as the stream sends it."""
    return f"id: {i}\ndata: {i}\n\n".encode()


def _ttfb() -> Iterator[bytes]:
    yield FIRST
    time.sleep(GAP_S)
    yield SECOND


def _events(interval: float, count: int) -> Iterator[bytes]:
    for i in range(count):
        if i:
            time.sleep(interval)
        yield event(i)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/ping":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [PONG]
    if path == "/ttfb":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _ttfb()
    if path == "/events":
        q = parse_qs(environ.get("QUERY_STRING", ""))
        interval = min(max(float(q.get("interval", ["0.1"])[0]), 0.0), 5.0)
        count = min(max(int(q.get("count", ["100"])[0]), 1), 1000)
        start_response(
            "200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
        )
        return _events(interval, count)
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"not found\n"]
