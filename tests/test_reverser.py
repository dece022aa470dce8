from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response
from rswsgi import handle_error, reverser
from support.apps import Streaming, close_counter_app, make_environ, run


def reverse_utf8(body: bytes) -> bytes:
    """Reversal oracle for the fixture bodies (ASCII only: clusters are chars)."""
    return body[::-1]


def app_with(content_type: str, chunks: list[bytes], *, write: bytes = b"") -> Any:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        w = start_response("200 OK", [("Content-Type", content_type)])
        if write:
            w(write)
        return chunks

    return app


def test_grapheme_clusters_stay_whole() -> None:
    text = "h\u00e9llo w\u00f6rld \U0001f44d\U0001f3fd"
    server = run(reverser(app_with("text/plain; charset=utf-8", [text.encode()])))
    # The skin-tone modifier stays with its thumb; e + combining accent too.
    assert server.data.decode() == "\U0001f44d\U0001f3fd dlr\u00f6w oll\u00e9h"
    combining = run(reverser(app_with("text/plain", ["ae\u0301".encode()])))
    assert combining.data.decode() == "e\u0301a"


def test_flask_text_plain_with_charset() -> None:
    flask_app = Flask(__name__)

    @flask_app.route("/")
    def index() -> Response:
        return Response("h\u00e9llo w\u00f6rld \U0001f44d\U0001f3fd", mimetype="text/plain")

    flask_app.wsgi_app = reverser(flask_app.wsgi_app)  # type: ignore[method-assign]
    response = flask_app.test_client().get("/")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.get_data(as_text=True) == "\U0001f44d\U0001f3fd dlr\u00f6w oll\u00e9h"
    assert response.headers["Content-Length"] == str(len(response.data))


def test_media_type_any_case() -> None:
    assert run(reverser(app_with("TEXT/PLAIN", [b"abc"]))).data == b"cba"
    assert run(reverser(app_with("Text/Plain ; Charset=UTF-8", [b"abc"]))).data == b"cba"


def test_latin1_charset() -> None:
    body = "caf\u00e9!".encode("latin-1")
    server = run(reverser(app_with("text/plain; charset=ISO-8859-1", [body])))
    assert server.data == "!\u00e9fac".encode("latin-1")
    server = run(reverser(app_with("text/plain; charset=latin-1", [b"a\xe9", b"b"])))
    assert server.data == b"b\xe9a"


def test_us_ascii_and_crlf_cluster() -> None:
    server = run(reverser(app_with("text/plain; charset=us-ascii", [b"a\r\nb"])))
    assert server.data == b"b\r\na"


def test_undecodable_or_unknown_charset_passes_through() -> None:
    assert run(reverser(app_with("text/plain", [b"a\xffb"]))).data == b"a\xffb"
    assert run(reverser(app_with("text/plain; charset=us-ascii", [b"\xe9a"]))).data == b"\xe9a"
    koi8 = Streaming([b"ab", b"cd"], content_type="text/plain; charset=koi8-r")
    assert run(reverser(koi8)).body == [b"ab", b"cd"]


def test_non_text_is_untouched_and_lazy() -> None:
    app = Streaming([b"1", b"2", b"3"], content_type="application/octet-stream")
    result = reverser(app)(make_environ(), lambda *a: None)
    it = iter(result)
    assert next(it) == b"1"
    assert app.produced == [b"1"]  # nothing read ahead
    assert next(it) == b"2"
    assert app.produced == [b"1", b"2"]
    result.close()
    html = run(reverser(app_with("text/html", [b"<p>", b"x"])))
    assert html.body == [b"<p>", b"x"]


def test_lazy_body_is_read_whole_before_the_head_goes_out() -> None:
    app = Streaming([b"ab", b"", b"cd", b"ef"], content_type="text/plain")
    seen: list[list[bytes]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append(list(app.produced))
        return lambda data: None

    assert list(reverser(app)(make_environ(), start_response)) == [b"fedcba"]
    # One head, passed on once the whole body was read (so its length is known), and no
    # b'' before it: wsgiref.validate, gunicorn and werkzeug want the head before any chunk.
    assert seen == [[b"ab", b"", b"cd", b"ef"]]


class Chunks:
    """A body that is an object with __iter__ (not a list, not a generator)."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)


def lazy_apps(body: list[bytes], declared: str | None) -> list[Any]:
    """The same text/plain body as a generator and as a custom iterable."""
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    if declared is not None:
        headers.append(("Content-Length", declared))

    def generator(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", headers)
        yield from body

    def custom(environ: Any, start_response: Any) -> Chunks:
        start_response("200 OK", headers)
        return Chunks(*body)

    return [generator, custom]


@pytest.mark.parametrize("declared", [None, "1", "999", "x"])
def test_every_reversed_body_has_its_exact_content_length(declared: str | None) -> None:
    body = ["h\u00e9".encode(), b"", "llo \U0001f44d".encode()]
    want = "\U0001f44d oll\u00e9h".encode()
    for app in lazy_apps(body, declared):
        for wrapped in (reverser(app), handle_error(reverser(app)), reverser(handle_error(app))):
            server = run(wrapped)
            assert server.data == want, wrapped
            lengths = [v for k, v in server.calls[-1][1] if k.lower() == "content-length"]
            assert lengths == [str(len(want))], wrapped


def test_exc_info_after_a_yielded_chunk_still_reraises() -> None:
    # The app yielded body bytes: to it, the head is out (PEP 3333 "Error Handling").
    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        try:
            raise KeyError("too late")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"

    with pytest.raises(KeyError, match="too late"):
        run(reverser(app))


def test_write_output_and_iterable_reversed_together() -> None:
    app = app_with("text/plain", [b"cd", b"ef"], write=b"ab")
    server = run(reverser(app))
    assert server.data == b"fedcba"


def test_content_length_recomputed() -> None:
    body = "\u00e9\U0001f44d".encode()

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "1")])
        return [body[:3], body[3:]]

    server = run(reverser(app))
    assert server.headers["content-length"] == str(len(body))
    assert server.data == "\U0001f44d\u00e9".encode()

    # Streaming body: the declared length stays exact (reversal keeps length).
    def streaming(environ: Any, start_response: Any) -> Any:
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        )
        yield body

    assert run(reverser(streaming)).headers["content-length"] == str(len(body))


def test_head_and_no_body_statuses_untouched() -> None:
    body = [b"abc"]

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
        return body

    assert reverser(app)(make_environ(REQUEST_METHOD="HEAD"), lambda *a: None) is body

    def not_modified(environ: Any, start_response: Any) -> list[bytes]:
        start_response("304 Not Modified", [])
        return []

    assert run(reverser(not_modified)).status == "304 Not Modified"


def test_exception_mid_accumulation_closes_and_reraises() -> None:
    app, made = close_counter_app(chunks=[b"a", b"b"], fail_at=1)
    with pytest.raises(RuntimeError):
        run(reverser(app))
    assert made[0].closes == 1


def test_close_is_idempotent() -> None:
    app, made = close_counter_app(chunks=[b"a", b"b"])
    result = reverser(app)(make_environ(), lambda *a: None)
    next(iter(result))
    result.close()
    result.close()
    assert list(result) == []
    assert made[0].closes == 1


def test_not_callable() -> None:
    with pytest.raises(TypeError, match=r"app=\[\]"):
        reverser([])
