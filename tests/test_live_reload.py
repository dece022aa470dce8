"""Live reload: the server answers `/__rswsgi__/live-reload.js` and the event stream
`/__rswsgi__/live-reload` itself (`make_server(live_reload=GENERATION)`), and the
`_LiveReload` middleware links the script into HTML pages."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from rswsgi import Server
from rswsgi._rswsgi import _LiveReload
from support.http import Client, build
from werkzeug.test import Client as Werkzeug

Serve = Callable[..., Server]

TAG = b'<script src="/__rswsgi__/live-reload.js?g=gen-1"></script>'


def counting_app() -> tuple[Callable[..., list[bytes]], list[str]]:
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"app"]

    return app, seen


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    sock.settimeout(5)
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(data)
        data += chunk
    return data


def test_the_server_answers_the_script_itself(serve: Serve) -> None:
    app, seen = counting_app()
    server = serve(app, live_reload="gen-1")
    with Client(server.server_port) as c:
        r = c.request("/__rswsgi__/live-reload.js?g=gen-1")
        assert r.status == 200
        assert r.header("Content-Type") == "text/javascript; charset=utf-8"
        assert b'new EventSource("/__rswsgi__/live-reload")' in r.body
        assert c.request("/other").body == b"app"  # the same connection goes on
    assert seen == ["/other"]


def test_the_event_stream_says_hello_then_carries_events(serve: Serve) -> None:
    app, seen = counting_app()
    server = serve(app, live_reload="gen-1")
    with socket.create_connection(("127.0.0.1", server.server_port)) as stream:
        stream.sendall(build("/__rswsgi__/live-reload"))
        head = read_until(stream, b"data: gen-1\n\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
        assert head.endswith(b"\r\n\r\nretry: 200\nevent: hello\ndata: gen-1\n\n")
        # An open stream holds no one: other clients are served.
        with Client(server.server_port) as c:
            assert c.request("/").body == b"app"
        server.live_reload_event("css", "static/site.css")
        assert read_until(stream, b"\n\n") == b"event: css\ndata: static/site.css\n\n"
        server.live_reload_event("reload", "")
        assert read_until(stream, b"\n\n") == b"event: reload\ndata: \n\n"
    assert seen == ["/"]


def test_without_live_reload_the_paths_are_the_apps(serve: Serve) -> None:
    app, seen = counting_app()
    server = serve(app)
    with Client(server.server_port) as c:
        assert c.request("/__rswsgi__/live-reload").body == b"app"
    assert seen == ["/__rswsgi__/live-reload"]
    server.live_reload_event("reload", "")  # nobody listens: nothing happens


@pytest.mark.parametrize("event", ["", "two words", "new\nline", "é"])
def test_an_event_name_is_one_word(serve: Serve, event: str) -> None:
    app, _ = counting_app()
    server = serve(app, live_reload="g")
    with pytest.raises(ValueError, match="event="):
        server.live_reload_event(event, "x")


def page_app(
    body: bytes, content_type: str = "text/html; charset=utf-8", **extra: str
) -> Callable[..., list[bytes]]:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        headers += [(k.replace("_", "-"), v) for k, v in extra.items()]
        start_response("200 OK", headers)
        return [body]

    return app


def test_html_pages_get_the_script_before_the_body_end() -> None:
    page = b"<html><body><p>hi</p></body></html>"
    r = Werkzeug(_LiveReload(page_app(page), generation="gen-1")).get("/")
    assert r.data == b"<html><body><p>hi</p>" + TAG + b"</body></html>"
    assert r.headers["Content-Length"] == str(len(r.data))
    # No </body>: at the end.
    r = Werkzeug(_LiveReload(page_app(b"<p>x"), generation="gen-1")).get("/")
    assert r.data == b"<p>x" + TAG


@pytest.mark.parametrize(
    ("app", "method"),
    [
        (page_app(b"plain </body>", "text/plain"), "GET"),
        (page_app(b"<body></body>"), "HEAD"),
        (page_app(b"\x1f\x8b...", Content_Encoding="gzip"), "GET"),
        (page_app(b"<body></body>", Content_Security_Policy="default-src 'none'"), "GET"),
    ],
    ids=["text-plain", "head", "compressed", "csp-forbids"],
)
def test_other_responses_are_left_untouched(
    app: Callable[..., list[bytes]], method: str, capfd: pytest.CaptureFixture[str]
) -> None:
    r = Werkzeug(_LiveReload(app, generation="gen-1")).open("/", method=method)
    assert TAG not in r.data
    assert r.headers["Content-Length"] == str(len(app({}, lambda *a: None)[0]))


def test_a_forbidding_policy_is_named_once(capfd: pytest.CaptureFixture[str]) -> None:
    app = _LiveReload(
        page_app(b"<body></body>", Content_Security_Policy="script-src 'nonce-x'"),
        generation="g",
    )
    Werkzeug(app).get("/a")
    Werkzeug(app).get("/b")
    lines = [line for line in capfd.readouterr().err.splitlines() if "live reload" in line]
    assert len(lines) == 1, lines
    assert "/a" in lines[0] and "--no-live-reload" in lines[0]
    # A policy that allows same-origin scripts and connections gets the script.
    allowed = _LiveReload(
        page_app(b"<body></body>", Content_Security_Policy="default-src 'self'"),
        generation="g",
    )
    assert b"live-reload.js?g=g" in Werkzeug(allowed).get("/").data


@pytest.mark.parametrize("generation", ["", "a b", "<x>", 3])
def test_generation_is_url_safe(generation: object) -> None:
    with pytest.raises((ValueError, TypeError), match="generation"):
        _LiveReload(page_app(b""), generation=generation)  # type: ignore[arg-type]
