"""`handle_error(debug=True)`'s HTML page: who gets it (Accept, RFC 9110 §12.5.1), what it
shows (the exception chain as `traceback` prints it, frames with source, the request with
log_environ's redaction), that nothing from the app or the request becomes markup, and that
`debug=False` shows none of it."""

from __future__ import annotations

import gc
import inspect
import io
import json
import linecache
import sys
import weakref
from collections.abc import Iterator
from typing import Any
from wsgiref.validate import validator

import pytest
from parsed_page import Page
from rswsgi import handle_error, log_environ
from support.apps import Streaming, make_environ, raise_before_body, raise_mid_stream, run
from werkzeug.test import Client

# What Chromium sends for a navigation.
BROWSER = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
CAUSE = "The above exception was the direct cause of the following exception:"
CONTEXT = "During handling of the above exception, another exception occurred:"


def debug_run(app: Any, accept: str | None = BROWSER, **extra: Any) -> tuple[Any, dict[str, Any]]:
    environ = make_environ(**extra)
    if accept is not None:
        environ["HTTP_ACCEPT"] = accept
    return run(handle_error(app, debug=True), environ), environ


def line_of(func: Any, text: str) -> int:
    """The line number of the first line of `func` that contains `text`."""
    lines, start = inspect.getsourcelines(func)
    return start + next(i for i, line in enumerate(lines) if text in line)


def test_a_browser_gets_one_self_contained_page() -> None:
    server, environ = debug_run(raise_before_body, PATH_INFO="/x", QUERY_STRING="a=1")
    assert server.status == "500 Internal Server Error"
    assert server.calls[0][2] is None  # the first call the server sees: no exc_info
    headers = server.headers
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-length"] == str(len(server.data))
    assert headers["vary"] == "Accept"
    assert headers["cache-control"] == "no-store"
    assert headers["content-security-policy"].startswith("default-src 'none'; ")
    body = server.data.decode()
    assert body.startswith("<!doctype html>")
    # Nothing to fetch and nothing to run.
    for needle in ("<script", "<link", "<img", "src=", "href=", "url(", "@import"):
        assert needle not in body.lower(), needle

    page = Page(server.data)
    assert page.text("status") == ["500 Internal Server Error"]
    assert "<h1>ValueError</h1>" in body
    assert page.text("message") == ["boom before body"]
    assert page.text("request") == ["GET /x?a=1 HTTP/1.0"]
    assert page.text("exc-line") == ["ValueError: boom before body"]

    # The one frame: file, line, function, source around it, the raising line marked.
    line = line_of(raise_before_body, "raise ValueError")
    assert page.text("path") == [raise_before_body.__code__.co_filename]
    assert page.text("at") == [f"line {line}, in raise_before_body"]
    assert page.text("hit") == [f'{line}    raise ValueError("boom before body")']
    rows = page.text("row")
    assert f'{line - 1}    start_response("200 OK", TEXT)' in rows
    assert f"{line - 2}def raise_before_body(" in rows[-3]
    assert rows[-1].startswith(str(line))  # the blank line after the function is left out

    # The plain-text traceback, folded, is what the log got.
    log = environ["wsgi.errors"].getvalue()
    assert log.startswith("Traceback (most recent call last):")
    assert [t.strip() for t in page.text("plain")] == ["Plain-text traceback\n" + log.strip()]


def test_validator_both_sides_with_debug() -> None:
    # (tests/test_conformance.py runs the app-passing cases.)
    for accept in (BROWSER, "*/*"):
        server, _ = debug_run(
            validator(handle_error(validator(raise_before_body), debug=True)), accept
        )
        assert server.status == "500 Internal Server Error"
    gc.collect()


@pytest.mark.parametrize(
    "accept",
    [
        None,  # no Accept: test clients, many libraries
        "*/*",  # curl
        "text/*",
        "text/plain",
        "application/json",
        "text/plain, text/html",
        "text/html;q=0.5, text/plain",
        "text/html;q=0.1, */*;q=0.9",
        "text/html;q=0",
        "",
    ],
)
def test_every_other_client_gets_the_text_traceback(accept: str | None) -> None:
    server, environ = debug_run(raise_before_body, accept)
    assert server.headers["content-type"] == "text/plain; charset=utf-8"
    assert server.headers["vary"] == "Accept"
    assert server.data.decode() == environ["wsgi.errors"].getvalue()
    assert server.data.startswith(b"Traceback (most recent call last):")


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "text/html;q=0.9, text/plain;q=0.8",
        "*/*;q=0.1, text/html;q=0.2",
        "text/html, text/plain;q=0.5, */*",  # text/plain's own weight, not */*'s
    ],
)
def test_html_preferred_over_text_gets_the_page(accept: str) -> None:
    server, _ = debug_run(raise_before_body, accept)
    assert server.headers["content-type"] == "text/html; charset=utf-8"


def test_werkzeug_client_gets_the_page_only_when_it_asks_for_html() -> None:
    client = Client(handle_error(raise_before_body, debug=True))
    page = client.get("/", headers={"Accept": BROWSER})
    assert page.status_code == 500
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert Page(page.data).text("message") == ["boom before body"]
    text = client.get("/")
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.data.startswith(b"Traceback (most recent call last):")


def chained(environ: Any, start_response: Any) -> list[bytes]:
    try:
        try:
            raise KeyError("first")
        except KeyError:
            raise ValueError("second")  # noqa: B904 - the implicit __context__ is the point
    except ValueError as e:
        try:
            raise TypeError("suppressed")
        except TypeError:
            raise RuntimeError("third") from e  # __context__ (the TypeError) is suppressed


def test_the_chain_is_shown_as_traceback_prints_it() -> None:
    server, environ = debug_run(chained)
    page = Page(server.data)
    assert page.text("exc-line") == [
        "KeyError: 'first'",
        "ValueError: second",
        "RuntimeError: third",
    ]
    assert page.text("link") == [CONTEXT, CAUSE]
    assert page.text("message") == ["third"]
    # The same order and links as Python's own traceback.
    log = environ["wsgi.errors"].getvalue()
    order = [line for line in log.splitlines() if line in page.text("exc-line")]
    assert order == page.text("exc-line")
    assert [line for line in log.splitlines() if line in (CAUSE, CONTEXT)] == [CONTEXT, CAUSE]
    # Each exception's frames: the raising lines, in order.
    hits = [h.split(maxsplit=1)[1] for h in page.text("hit")]
    assert hits == [
        'raise KeyError("first")',
        'raise ValueError("second")  # noqa: B904 - the implicit __context__ is the point',
        'raise RuntimeError("third") from e  # __context__ (the TypeError) is suppressed',
    ]


def test_from_none_and_a_context_cycle() -> None:
    def from_none(environ: Any, start_response: Any) -> list[bytes]:
        try:
            raise KeyError("hidden")
        except KeyError:
            raise ValueError("alone") from None

    page = Page(debug_run(from_none)[0].data)
    assert page.text("exc-line") == ["ValueError: alone"] and page.text("link") == []

    def cycle(environ: Any, start_response: Any) -> list[bytes]:
        a, b = ValueError("a"), ValueError("b")
        a.__context__, b.__context__ = b, a
        raise a

    page = Page(debug_run(cycle)[0].data)
    assert page.text("exc-line") == ["ValueError: b", "ValueError: a"]
    assert page.text("link") == [CONTEXT]


def test_the_environ_is_shown_with_log_environs_redaction() -> None:
    secrets = {
        "HTTP_AUTHORIZATION": "Bearer s3cret-token",
        "HTTP_COOKIE": "session=c00kie",
        "HTTP_PROXY_AUTHORIZATION": "Basic pr0xy",
    }
    server, _ = debug_run(raise_before_body, HTTP_X_TRACE="t-1", **secrets)
    for secret in secrets.values():
        assert secret.encode() not in server.data
    page = Page(server.data)
    table = page.text("table")[0]
    for key in secrets:
        assert f"{key}'<redacted>'" in table
    assert page.text("redacted") == ["'<redacted>'"] * 3
    assert "HTTP_X_TRACE't-1'" in table
    assert "REQUEST_METHOD'GET'" in table
    assert "wsgi.version(1, 0)" in table


def test_nothing_from_the_app_or_the_request_becomes_markup() -> None:
    evil = "<script>alert(1)</script>"
    attr = '"><img src=x onerror=alert(2)>'
    filename = f"{attr}{evil}.py"
    source = f'def f():\n    # {evil} {attr}\n    raise ValueError("{evil}")\n'
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - a frame with a hostile file name
    f = namespace["f"]
    names = {"co_name": f"<b onmouseover=alert(3)>{evil}"}
    names["co_qualname"] = names["co_name"]
    f.__code__ = f.__code__.replace(**names)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)

    def app(environ: Any, start_response: Any) -> list[bytes]:
        try:
            f()
        except ValueError as e:
            e.__notes__ = [f"note {evil}"]
            raise
        return []

    try:
        server, _ = debug_run(
            app,
            PATH_INFO=f"/{evil}{attr}",
            QUERY_STRING=f"q={evil}",
            HTTP_X_EVIL=attr,
            HTTP_X_ENTITY="&lt;script&gt;",  # shown as typed, not decoded into markup
            **{f"{evil}_KEY": evil},
        )
    finally:
        del linecache.cache[filename]
    body = server.data.decode()
    assert "<script" not in body.lower() and "<img" not in body.lower() and "<b " not in body

    page = Page(server.data)
    allowed_attrs = {"lang", "charset", "name", "content", "class", "open", "title"}
    for tag, attrs in page.tags:
        assert tag != "script"
        for name, value in attrs:
            assert name in allowed_attrs, (tag, name, value)
            assert "alert" not in (value or ""), (tag, name, value)
    # Every payload is shown, as text.
    assert page.text("message") == [evil]
    assert page.text("exc-line")[0] == f"ValueError: {evil}"
    assert page.text("note") == [f"note {evil}"]
    assert f"# {evil} {attr}" in "".join(page.text("row"))
    assert page.text("hit")[-1] == f'3    raise ValueError("{evil}")'
    assert filename in page.text("path")
    assert any(a.endswith(f"in <b onmouseover=alert(3)>{evil}") for a in page.text("at"))
    table = page.text("table")[0]
    assert f"HTTP_X_EVIL'{attr}'" in table
    assert "HTTP_X_ENTITY'&lt;script&gt;'" in table
    assert f"{evil}_KEY'{evil}'" in table
    assert f"'/{evil}{attr}'" in table
    assert page.text("request")[0].endswith(f"?q={evil} HTTP/1.0")


def test_debug_false_never_shows_a_traceback_source_or_environ() -> None:
    for accept in (BROWSER, "*/*", None):
        environ = make_environ(HTTP_COOKIE="session=c00kie")
        if accept is not None:
            environ["HTTP_ACCEPT"] = accept
        server = run(handle_error(raise_before_body), environ)
        assert server.data == b"500 Internal Server Error"
        assert server.calls[0][1] == [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", "25"),
        ]
        assert "rswsgi.debug" not in environ
        # Streaming errors: only what the app sent.
        environ = make_environ(HTTP_ACCEPT=BROWSER)
        result = handle_error(raise_mid_stream)(environ, lambda *a: None)
        it: Iterator[bytes] = iter(result)
        assert next(it) == b"first"
        with pytest.raises(ValueError, match="boom mid stream"):
            next(it)
        result.close()  # type: ignore[attr-defined]


def test_an_outer_debug_handler_answers_for_the_inner_ones() -> None:
    # What `python -m rswsgi.dev examples.composed:app --debug` builds.
    dump = io.StringIO()
    app = handle_error(log_environ(handle_error(raise_before_body), stream=dump), debug=True)
    server, environ = debug_run(app)
    assert server.headers["content-type"] == "text/html; charset=utf-8"
    assert Page(server.data).text("message") == ["boom before body"]
    assert environ["wsgi.errors"].getvalue().count("Traceback (most recent call last)") == 1
    assert "rswsgi.debug: True" in dump.getvalue()

    server, environ = debug_run(app, accept="*/*")
    assert server.data.startswith(b"Traceback (most recent call last):")

    # After the body started: logged once (by the outer handler), then re-raised.
    environ = make_environ()
    result = handle_error(handle_error(raise_mid_stream), debug=True)(environ, lambda *a: None)
    it: Iterator[bytes] = iter(result)
    assert next(it) == b"first"
    with pytest.raises(ValueError, match="boom mid stream"):
        next(it)
    result.close()  # type: ignore[attr-defined]
    assert environ["wsgi.errors"].getvalue().count("Traceback (most recent call last)") == 1


def test_deep_recursion_is_counted_not_listed() -> None:
    def recurse(n: int) -> int:
        return recurse(n + 1) + 1

    def app(environ: Any, start_response: Any) -> list[bytes]:
        recurse(0)
        return []

    server, environ = debug_run(app)
    page = Page(server.data)
    assert page.text("exc-line")[0].startswith("RecursionError")
    assert sum(a.endswith("recurse") for a in page.text("at")) == 3
    [repeat] = page.text("repeat")
    times = repeat.split()[3]
    assert f"[Previous line repeated {times} more times]" in environ["wsgi.errors"].getvalue()
    assert len(server.data) < 64 * 1024


def test_library_frames_are_folded() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        json.loads("{")
        return []

    page = Page(debug_run(app)[0].data)
    frames = [
        (dict(attrs)["class"], "open" in dict(attrs))
        for tag, attrs in page.tags
        if tag == "details"
    ][:-1]
    assert frames[0] == ("frame", True)  # the app's own frame
    assert ("frame lib", False) in frames[1:-1]  # json.loads, folded
    assert frames[-1] == ("frame lib", True)  # where it was raised stays open
    assert page.text("path")[-1].endswith("decoder.py")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="co_positions() is Python 3.11+ (PEP 657)")
def test_the_failing_expression_is_underlined() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        data: dict[str, Any] = {"user": None}
        return [data["user"]["name"]]

    page = Page(debug_run(app)[0].data)
    assert page.text("ex") == ['data["user"]["name"]']


def test_a_page_that_cannot_be_built_falls_back_to_text() -> None:
    class Odd(Exception):
        @property
        def __cause__(self) -> BaseException | None:  # type: ignore[override]
            raise RuntimeError("no cause for you")

    def app(environ: Any, start_response: Any) -> list[bytes]:
        raise Odd("odd")

    server, environ = debug_run(app)
    assert server.headers["content-type"] == "text/plain; charset=utf-8"
    assert b"odd" in server.data
    assert "no cause for you" in environ["wsgi.errors"].getvalue()


def test_an_exception_whose_str_fails() -> None:
    class Mute(Exception):
        def __str__(self) -> str:
            raise RuntimeError

    def app(environ: Any, start_response: Any) -> list[bytes]:
        raise Mute

    page = Page(debug_run(app)[0].data)
    assert page.text("message") == ["<exception str() failed>"]
    assert page.text("exc-line")[0].endswith("Mute: <exception str() failed>")


def test_a_response_kept_in_its_environ_is_collected() -> None:
    # The debug handler's response holds the environ (for the page); an environ that holds
    # the response back is a cycle the garbage collector must see through.
    class Marker:
        pass

    def make() -> weakref.ref[Marker]:
        environ = make_environ(HTTP_ACCEPT=BROWSER)
        marker = Marker()
        environ["marker"] = marker
        environ["response"] = handle_error(Streaming([b"a"]), debug=True)(environ, print)
        return weakref.ref(marker)

    ref = make()
    gc.collect()
    assert ref() is None
