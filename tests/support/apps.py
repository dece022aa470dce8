"""Fixture WSGI apps, and a tiny recording server that plays the server for the
middleware tests (`run`); the live server tests serve the same apps."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

from rswsgi import handle_error, log_environ, reverser, stack, wrap_query_params

TEXT = [("Content-Type", "text/plain; charset=utf-8")]
PLAIN = [("Content-Type", "text/plain")]


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


def full_stack(app: Any) -> Any:
    """`app` under every middleware, as the README stacks them (log_environ quiet)."""
    return stack(
        app,
        reverser,
        wrap_query_params,
        handle_error,
        lambda a: log_environ(a, stream=io.StringIO()),
    )


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
    """An app iterable that counts close() calls; raises at chunk `fail_at`; `endless`
    repeats the chunks until closed. `index` is how many chunks were taken so far."""

    def __init__(
        self, chunks: Iterable[bytes], fail_at: int | None = None, endless: bool = False
    ) -> None:
        self.chunks = list(chunks)
        self.fail_at = fail_at
        self.endless = endless
        self.closes = 0
        self.index = 0

    def app(self, environ: dict[str, Any], start_response: Any) -> CloseCounter:
        """Serves this iterable."""
        start_response("200 OK", PLAIN)
        return self

    def __iter__(self) -> Iterator[bytes]:
        self.index = 0
        while self.endless or self.index < len(self.chunks):
            if self.index == self.fail_at:
                raise RuntimeError("close_counter failing")
            self.index += 1
            yield self.chunks[(self.index - 1) % len(self.chunks)]

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


# --- apps the live server tests serve ----------------------------------------------------


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"Hello, world!"]


def path_echo(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = f"{environ['PATH_INFO']} {environ['REMOTE_PORT']}".encode()
    start_response("200 OK", PLAIN)
    return [body]


def generator(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", PLAIN)
    yield b"one,"
    yield b""
    yield b"two,"
    yield b"three"


def one_chunk_generator(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", PLAIN)
    yield b"only"


def late_start(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    # start_response on the first iteration, with a status and header to check (granian#845).
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
    out["errors_is_stderr"] = environ["wsgi.errors"] is sys.stderr
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def short_body(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Length", "10")])
    return [b"abc"]


def long_body(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Length", "2")])
    return [b"abcde"]


def hop_by_hop(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Keep-Alive", "timeout=5"), ("Upgrade", "h2c"), ("X-Ok", "1")])
    return [b"ok"]
