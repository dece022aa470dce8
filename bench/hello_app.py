"""The hello-world WSGI app every server in ``bench_server.py`` serves.

13 bytes of ``Hello, World!`` as ``text/plain`` with a ``Content-Length``, in a one-element
list (PEP 3333), so a server can frame it without chunking and keep the connection alive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b"Hello, World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", list(HEADERS))  # a fresh list: some servers append to it
    return [BODY]
