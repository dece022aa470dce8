"""Small WSGI apps the server tests run against."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

TEXT = [("Content-Type", "text/plain")]


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"Hello, world!"]


def path_echo(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = f"{environ['PATH_INFO']} {environ['REMOTE_PORT']}".encode()
    start_response("200 OK", TEXT)
    return [body]


def generator(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", TEXT)
    yield b"one,"
    yield b""
    yield b"two,"
    yield b"three"


def one_chunk_generator(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", TEXT)
    yield b"only"


def late_start(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    # start_response on the first iteration (granian#845).
    start_response("201 Created", [("X-Late", "yes")])
    yield b"late"


def echo_body(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    stream = environ["wsgi.input"]
    first = stream.readline()
    rest = stream.read()
    body = json.dumps(
        {
            "first": first.decode("latin-1"),
            "rest": rest.decode("latin-1"),
            "content_length": environ.get("CONTENT_LENGTH"),
            "after": stream.read().decode(),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def environ_json(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    out = {}
    for k, v in environ.items():
        if isinstance(v, (str, bool, int, tuple)):
            out[k] = v
        else:
            out[k] = f"<{type(v).__name__}>"
    out["has_file_wrapper"] = callable(environ.get("wsgi.file_wrapper"))
    out["errors_is_stderr"] = environ["wsgi.errors"] is __import__("sys").stderr
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def uses_write(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    write = start_response("200 OK", TEXT)
    write(b"Hello, ")
    return [b"world"]


def raise_before_body(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    raise RuntimeError("boom before the body")


def raise_mid_stream(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", TEXT)
    yield b"partial"
    time.sleep(0.05)
    raise RuntimeError("boom mid-stream")


def exc_info_replaces(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", TEXT)
    try:
        raise ValueError("late failure")
    except ValueError:
        import sys

        start_response("503 Service Unavailable", TEXT, sys.exc_info())
    return [b"replaced"]


def short_body(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Length", "10")])
    return [b"abc"]


def long_body(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Length", "2")])
    return [b"abcde"]


def hop_by_hop(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Keep-Alive", "timeout=5"), ("Upgrade", "h2c"), ("X-Ok", "1")])
    return [b"ok"]


class CloseCounter:
    """An iterable that counts close() calls; `endless` streams until closed."""

    def __init__(self, chunks: list[bytes], endless: bool = False, fail_at: int = -1) -> None:
        self.chunks = chunks
        self.endless = endless
        self.fail_at = fail_at
        self.closes = 0
        self.served = 0

    def app(self, environ: dict[str, Any], start_response: Any) -> CloseCounter:
        start_response("200 OK", TEXT)
        return self

    def __iter__(self) -> Iterator[bytes]:
        i = 0
        while self.endless or i < len(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("failing on purpose")
            yield self.chunks[i % len(self.chunks)]
            i += 1
            self.served = i

    def close(self) -> None:
        self.closes += 1
