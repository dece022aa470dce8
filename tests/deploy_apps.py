"""Apps for tests/test_deploy.py that the composed example does not cover."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from rswsgi import handle_error, reverser, static_files


def _streamed(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("201 Created", [("Content-Type", "text/plain"), ("X-Streamed", "yes")])
    yield b"part one, "
    yield b"part two"


# A generator body behind handle_error: its head reaches the server only at
# the first chunk (PEP 3333 allows it; handle_error needs it to answer 500).
app = handle_error(_streamed)


def _streamed_text(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    yield "h\u00e9llo ".encode()
    yield "w\u00f6rld".encode()


# A generator body behind reverser: its head, with the reversed body's exact
# Content-Length, reaches the server once the whole body has been read.
reversed_app = reverser(_streamed_text)


def _not_found(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = b"app: not found"
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "14")])
    return [body]


# static_files over the folder tests/test_deploy.py fills ($RSWSGI_TEST_STATIC), at /static.
static_app = static_files(_not_found, {"/static": os.environ.get("RSWSGI_TEST_STATIC", ".")})
