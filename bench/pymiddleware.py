"""Hand-written Python equivalents of rswsgi's middleware, and the seed article's naive ones.

The ``py_*`` versions are what a careful Python programmer writes to the same contract as
rswsgi (PEP 3333): the inner iterable's ``close()`` is called exactly once on every
path (normal, exception, early close by the server), ``exc_info`` is passed on, the ``write()``
callable works, and ``start_response`` may be called late (by a generator's first step).

The ``naive_*`` versions follow the seed article (Adam Bard, "The basics of WSGI",
``shared/seeds/004``) ported to Python 3, bugs included: no ``exc_info``, ``close()`` only
in ``reverser``, exact ``text/plain`` match, byte reversal, ``pprint`` for the environ dump.
They are here only to time what the article's code costs.
"""

from __future__ import annotations

import pprint
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

import regex

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]
Middleware = Callable[[App], App]

REDACT = ("HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_PROXY_AUTHORIZATION")
STATUS_500 = "500 Internal Server Error"
GRAPHEME = regex.compile(r"\X")


def _close(iterable: object) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


# --- log_environ -------------------------------------------------------------------------


def _repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as e:  # noqa: BLE001 - a dump must never fail the request
        return f"<{type(value).__name__} object: repr() raised {type(e).__name__}>"


def format_environ(environ: Environ, redact: Iterable[str] = REDACT) -> str:
    """The same text rswsgi's ``log_environ`` writes."""
    hidden = set(redact)

    def text(key: str) -> str | None:
        v = environ.get(key)
        return v if isinstance(v, str) else None

    head = f"{text('REQUEST_METHOD') or '-'} {text('SCRIPT_NAME') or ''}{text('PATH_INFO') or ''}"
    qs = text("QUERY_STRING")
    if qs:
        head += "?" + qs
    lines = [head]
    keyed = sorted((k if isinstance(k, str) else _repr(k), v) for k, v in environ.items())
    for key, value in keyed:
        shown = "'<redacted>'" if key in hidden else _repr(value)
        lines.append(f"  {key}: {shown}")
    return "\n".join(lines) + "\n"


def py_log_environ(app: App, *, stream: Any = None, redact: Iterable[str] = REDACT) -> App:
    hidden = tuple(redact)

    def log_environ(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        out = stream if stream is not None else environ.get("wsgi.errors", sys.stderr)
        out.write(format_environ(environ, hidden))
        return app(environ, start_response)  # the iterable goes back as is: close() reaches it

    return log_environ


# --- wrap_query_params -------------------------------------------------------------------


def py_wrap_query_params(
    app: App, *, keep_blank_values: bool = False, key: str = "rswsgi.query_params"
) -> App:
    def wrap_query_params(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ[key] = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values)
        return app(environ, start_response)

    return wrap_query_params


# --- handle_error ------------------------------------------------------------------------


class _Body:
    """The rest of a response: `first` chunks already taken, then `inner`. Closes `inner` once."""

    def __init__(self, first: list[bytes], inner: Iterable[bytes], it: Iterator[bytes]) -> None:
        self.first, self.inner, self.it, self.closed = first, inner, it, False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.first
        yield from self.it

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            _close(self.inner)


class _LoggingBody(_Body):
    """A `_Body` that logs an exception raised while streaming, closes `inner`, re-raises."""

    def __init__(
        self, first: list[bytes], inner: Iterable[bytes], it: Iterator[bytes], errors: Any
    ) -> None:
        super().__init__(first, inner, it)
        self.errors = errors

    def __iter__(self) -> Iterator[bytes]:
        yield from self.first
        try:
            yield from self.it
        except Exception:
            traceback.print_exc(file=self.errors)
            self.close()
            raise


def py_handle_error(app: App, *, debug: bool = False) -> App:
    def handle_error(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        errors = environ.get("wsgi.errors", sys.stderr)
        passed_on = False

        def sr(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal passed_on
            passed_on = True
            return start_response(status, headers, exc_info)

        result: Iterable[bytes] | None = None
        first: list[bytes] = []
        try:
            result = app(environ, sr)
            it = iter(result)
            for chunk in it:  # up to the first non-empty chunk, inside the try
                first.append(chunk)
                if chunk:
                    break
        except Exception:
            exc_info = sys.exc_info()
            traceback.print_exc(file=errors)
            if result is not None:
                _close(result)
            text = traceback.format_exc() if debug else STATUS_500
            body = text.encode()
            headers = [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ]
            start_response(STATUS_500, headers, exc_info if passed_on else None)
            return [body]
        return _LoggingBody(first, result, it, errors)

    return handle_error


# --- reverser ----------------------------------------------------------------------------


def _charset(content_type: str) -> str | None:
    """The codec for a text/plain Content-Type (parameters allowed, any case), else None."""
    media, _, params = content_type.partition(";")
    if media.strip().lower() != "text/plain":
        return None
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return charset if charset in ("utf-8", "utf8", "iso-8859-1", "latin-1", "us-ascii") else None


def reverse_graphemes(text: str) -> str:
    return "".join(reversed(GRAPHEME.findall(text)))


class _Reversed:
    """The response iterable of `py_reverser`: decides on the first step (start_response may
    be called late), then streams untouched or collects and yields the reversed body."""

    def __init__(self, inner: Iterable[bytes], state: _ReverseState) -> None:
        self.inner, self.state, self.closed = inner, state, False

    def __iter__(self) -> Iterator[bytes]:
        st = self.state
        for chunk in self.inner:
            if st.charset is None:
                yield chunk
            else:
                st.buffer.append(chunk)
                yield b""  # PEP 3333: yield once per block even when holding data
        if st.charset is not None:
            body = b"".join(st.buffer)
            try:
                body = reverse_graphemes(body.decode(st.charset)).encode(st.charset)
            except UnicodeError:
                pass  # sent unchanged, as rswsgi does
            headers = [(k, v) for k, v in st.headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
            st.start_response(st.status, headers, st.exc_info)
            yield body

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            _close(self.inner)


class _ReverseState:
    def __init__(self, start_response: StartResponse) -> None:
        self.start_response = start_response
        self.charset: str | None = None
        self.buffer: list[bytes] = []
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.exc_info: Any = None

    def intercept(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        code = int(status[:3])
        charset = _charset(content_type) if code >= 200 and code not in (204, 304) else None
        if charset is None:
            self.charset = None
            return self.start_response(status, headers, exc_info)  # server's write()
        # Held until the body is complete; a later call (with exc_info) replaces it.
        self.charset, self.status, self.headers, self.exc_info = charset, status, headers, exc_info
        return self.buffer.append  # write() output joins the body being reversed


def py_reverser(app: App) -> App:
    def reverser(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "HEAD":
            return app(environ, start_response)
        state = _ReverseState(start_response)
        return _Reversed(app(environ, state.intercept), state)

    return reverser


def py_stack(app: App, *middleware: Middleware) -> App:
    for m in middleware:
        app = m(app)
    return app


# --- the seed article's versions (Python 3 port, bugs kept) ------------------------------


def naive_log_environ(handler: App, stream: Any) -> App:
    def _inner(environ: Environ, start_fn: StartResponse) -> Iterable[bytes]:
        stream.write(pprint.pformat(environ))
        return handler(environ, start_fn)

    return _inner


def naive_handle_error(handler: App) -> App:
    def _inner(environ: Environ, start_fn: StartResponse) -> Iterable[bytes]:
        try:
            return handler(environ, start_fn)
        except Exception as e:
            print(e, file=environ["wsgi.errors"])  # Log error
            start_fn("500 Server Error", [("Content-Type", "text/plain")])
            return [b"500 Server Error"]

    return _inner


def naive_wrap_query_params(handler: App) -> App:
    def _inner(environ: Environ, start_fn: StartResponse) -> Iterable[bytes]:
        qs = environ.get("QUERY_STRING")
        environ["QUERY_PARAMS"] = parse_qs(qs)  # type: ignore[arg-type]
        return handler(environ, start_fn)

    return _inner


def naive_reverser(handler: App) -> App:
    def rev(it: Any) -> Any:
        return it[::-1]

    def _inner(environ: Environ, start_fn: StartResponse) -> Iterable[bytes]:
        do_reverse = []  # Must be a reference type such as a list

        def start_reverser(status: str, headers: list[tuple[str, str]]) -> None:
            for name, value in headers:
                if name.lower() == "content-type" and value.lower() == "text/plain":
                    do_reverse.append(True)
                    break
            start_fn(status, headers)

        response = handler(environ, start_reverser)
        try:
            if do_reverse:
                return list(rev(list(map(rev, response))))
            return response
        finally:
            if hasattr(response, "close"):
                response.close()

    return _inner
