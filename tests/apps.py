"""Fixture WSGI apps and a tiny recording server for the middleware tests."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

TEXT = [("Content-Type", "text/plain; charset=utf-8")]


def make_environ(**extra: Any) -> dict[str, Any]:
    """A complete PEP 3333 environ (wsgiref's testing defaults) plus `extra`."""
    environ: dict[str, Any] = {
        "QUERY_STRING": "",
        "wsgi.errors": io.StringIO(),
        "wsgi.input": io.BytesIO(b""),
    }
    environ.update(extra)
    setup_testing_defaults(environ)
    return environ


class Server:
    """Plays the server: records start_response calls, follows PEP 3333's
    exc_info rule (re-raise once headers are sent), collects the body and
    calls close() like a server does (in a finally)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str]], Any]] = []
        self.headers_sent = False
        self.body: list[bytes] = []

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        self.calls.append((status, headers, exc_info))
        if exc_info is not None and self.headers_sent:
            raise exc_info[1].with_traceback(exc_info[2])
        return self.write

    def write(self, data: bytes) -> None:
        assert type(data) is bytes
        assert self.calls, "write() before start_response()"
        self.headers_sent = True
        self.body.append(data)

    def run(self, app: Any, environ: dict[str, Any] | None = None) -> Server:
        environ = make_environ() if environ is None else environ
        result = app(environ, self.start_response)
        try:
            for chunk in result:
                assert type(chunk) is bytes
                assert self.calls, "body before start_response()"
                if chunk:
                    self.headers_sent = True
                self.body.append(chunk)
        finally:
            if hasattr(result, "close"):
                result.close()
        return self

    @property
    def status(self) -> str:
        return self.calls[-1][0]

    @property
    def headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.calls[-1][1]}

    @property
    def data(self) -> bytes:
        return b"".join(self.body)


def run(app: Any, environ: dict[str, Any] | None = None) -> Server:
    return Server().run(app, environ)


# --- fixture apps -----------------------------------------------------------


def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Echoes method, path and query string as text/plain."""
    body = "{} {}?{}".format(
        environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
    ).encode()
    start_response("200 OK", [*TEXT, ("Content-Length", str(len(body)))])
    return [body]


class Streaming:
    """A generator app; `produced` lists the chunks it has yielded so far,
    so a test can see whether a middleware reads ahead."""

    def __init__(self, chunks: Iterable[bytes], content_type: str = "text/plain") -> None:
        self.chunks = list(chunks)
        self.content_type = content_type
        self.produced: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", self.content_type)])
        for chunk in self.chunks:
            self.produced.append(chunk)
            yield chunk


def raise_before_body(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", TEXT)
    raise ValueError("boom before body")


def raise_mid_stream(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", TEXT)
    yield b"first"
    raise ValueError("boom mid stream")


class CloseCounter:
    """An app iterable that counts close() calls and can raise at a chunk."""

    def __init__(self, chunks: Iterable[bytes], fail_at: int | None = None) -> None:
        self.chunks = list(chunks)
        self.fail_at = fail_at
        self.closes = 0
        self.index = 0

    def __iter__(self) -> CloseCounter:
        return self

    def __next__(self) -> bytes:
        if self.index == self.fail_at:
            raise RuntimeError("close_counter failing")
        if self.index >= len(self.chunks):
            raise StopIteration
        self.index += 1
        return self.chunks[self.index - 1]

    def close(self) -> None:
        self.closes += 1


def close_counter_app(
    chunks: Iterable[bytes] = (b"one", b"two"),
    fail_at: int | None = None,
    content_type: str = "text/plain; charset=utf-8",
) -> tuple[Any, list[CloseCounter]]:
    """An app returning a fresh CloseCounter per call; the list holds them."""
    made: list[CloseCounter] = []

    def app(environ: dict[str, Any], start_response: Any) -> CloseCounter:
        start_response("200 OK", [("Content-Type", content_type)])
        made.append(CloseCounter(chunks, fail_at))
        return made[-1]

    return app, made


def uses_write(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The legacy imperative style: write() then the rest as the iterable."""
    write = start_response("200 OK", TEXT)
    write(b"written ")
    return [b"returned"]


def start_on_first_iteration(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    """A generator: start_response runs only when the server first iterates."""
    start_response("200 OK", TEXT)
    yield b"late start"


def replaces_head_with_exc_info(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Starts a 200, fails, then replaces it with a 500 and exc_info."""
    start_response("200 OK", TEXT)
    try:
        raise KeyError("oops")
    except KeyError:
        start_response("500 Internal Server Error", TEXT, sys.exc_info())
    return [b"error page"]


def exc_info_after_write(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Fails after the head went out: its exc_info call must re-raise."""
    write = start_response("200 OK", TEXT)
    write(b"partial")
    try:
        raise KeyError("too late")
    except KeyError:
        start_response("500 Internal Server Error", TEXT, sys.exc_info())
    return [b"never sent"]
