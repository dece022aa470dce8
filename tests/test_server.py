"""The dev server against live clients: raw sockets, one behaviour per test."""

from __future__ import annotations

import email.utils
import io
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any
from wsgiref.validate import validator

import pytest
import rswsgi
from rswsgi import Server, make_server
from support import apps, default_sigint, servers
from support.http import Client, build
from support.waiting import eventually

Serve = Callable[..., Server]


# --- responses ------------------------------------------------------------------------


def test_hello_world_has_date_server_and_content_length(serve: Serve) -> None:
    server = serve(apps.hello)
    with Client(server.server_port) as c:
        r = c.request("/")
    assert (r.status, r.reason) == (200, "OK")
    assert r.body == b"Hello, world!"
    assert r.header("Content-Length") == "13"
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    assert (r.header("Server") or "").startswith("rswsgi/")
    assert email.utils.parsedate_to_datetime(r.header("Date") or "") is not None
    assert r.header("Connection") is None


def test_generator_response_is_chunked(serve: Serve) -> None:
    server = serve(apps.generator)
    with Client(server.server_port) as c:
        r = c.request("/")
        assert r.header("Transfer-Encoding") == "chunked"
        assert r.header("Content-Length") is None
        assert r.body == b"one,two,three"
        # The empty chunk the app yielded must not end the body early.
        assert r.raw_body.endswith(b"5\r\nthree\r\n0\r\n\r\n")
        # The connection is still usable.
        assert c.request("/").body == b"one,two,three"


def test_one_chunk_generator_is_chunked_without_reading_ahead(serve: Serve) -> None:
    # The server does not pull a second block to learn that there is none
    # (PEP 3333 "Buffering and Streaming"): a generator's length is unknown.
    server = serve(apps.one_chunk_generator)
    with Client(server.server_port) as c:
        r = c.request("/")
    assert r.header("Content-Length") is None
    assert r.header("Transfer-Encoding") == "chunked"
    assert r.body == b"only"


def test_http10_unknown_length_is_close_delimited(serve: Serve) -> None:
    server = serve(apps.generator)
    with Client(server.server_port) as c:
        r = c.request("/", version="HTTP/1.0")
        assert r.header("Transfer-Encoding") is None
        assert r.header("Connection") == "close"
        assert r.body == b"one,two,three"


def test_head_has_no_body(serve: Serve) -> None:
    server = serve(apps.hello)
    with Client(server.server_port) as c:
        # HEAD then GET pipelined: any body bytes after the HEAD would corrupt the GET.
        c.send(build("/", "HEAD") + build("/", "GET"))
        head = c.response(head=True)
        get = c.response()
    assert head.status == 200
    assert head.header("Content-Length") == "13"
    assert get.body == b"Hello, world!"


def test_start_response_on_first_iteration(serve: Serve) -> None:
    server = serve(apps.late_start)
    with Client(server.server_port) as c:
        r = c.request("/")
    assert r.status == 201
    assert r.header("X-Late") == "yes"
    assert r.body == b"late"


def test_write_callable(serve: Serve) -> None:
    server = serve(apps.uses_write)
    with Client(server.server_port) as c:
        r = c.request("/")
    assert r.body == b"written returned"


def test_file_wrapper(serve: Serve) -> None:
    data = bytes(range(256)) * 80
    files: list[io.BytesIO] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        f = io.BytesIO(data)
        files.append(f)
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](f, 4096)

    server = serve(app)
    with Client(server.server_port) as c:
        assert c.request("/").body == data
    assert files[0].closed


def test_exc_info_replaces_the_head_before_it_is_sent(serve: Serve) -> None:
    server = serve(apps.replaces_head_with_exc_info)
    with Client(server.server_port) as c:
        r = c.request("/")
    assert r.status == 500
    assert r.body == b"error page"


def test_hop_by_hop_headers_from_the_app_are_dropped(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(apps.hop_by_hop)
    with Client(server.server_port) as c:
        r = c.request("/")
    assert r.header("Keep-Alive") is None and r.header("Upgrade") is None
    assert r.header("X-Ok") == "1"
    assert "hop-by-hop" in capsys.readouterr().err


def content_length_app(value: str) -> Callable[..., list[bytes]]:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", value)])
        return [b"hello"]

    return app


@pytest.mark.parametrize("value", ["five", "5\x85", "5\xa0", "\xa05"])
def test_a_content_length_with_non_ows_whitespace_is_not_a_number(
    serve: Serve, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    # OWS is SP and HTAB only (RFC 9110 §5.6.3): U+0085 and U+00A0 make the
    # value as invalid as any other non-number, so the app's head never goes out.
    server = serve(content_length_app(value))
    with Client(server.server_port) as c:
        r = c.request("/")
        assert (r.status, r.body) == (500, b"500 Internal Server Error\n")
        assert r.header("Content-Length") == str(len(r.body))
    assert "is not a number of bytes" in capsys.readouterr().err


def test_a_content_length_between_spaces_and_tabs_frames_the_body(serve: Serve) -> None:
    server = serve(content_length_app(" 5\t"))
    with Client(server.server_port) as c:
        r = c.request("/")
        assert (r.status, r.body) == (200, b"hello")
        assert c.request("/").body == b"hello"  # framed exactly: keep-alive holds


def test_fewer_bytes_than_content_length_closes(serve: Serve) -> None:
    server = serve(apps.short_body)
    with Client(server.server_port) as c:
        c.send(build("/"))
        # The server closes rather than leave the client waiting for 7 more bytes
        # (a hang here ends in the client's 5 s timeout and fails the test).
        raw = c.file.read()
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw.endswith(b"\r\n\r\nabc")


def test_more_bytes_than_content_length_are_cut(serve: Serve) -> None:
    server = serve(apps.long_body)
    with Client(server.server_port) as c:
        assert c.request("/").body == b"ab"
        assert c.request("/").body == b"ab"  # framing intact: keep-alive still works


# --- connections ----------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(serve: Serve) -> None:
    server = serve(apps.path_echo)
    with Client(server.server_port) as c:
        a = c.request("/a").body.split()
        b = c.request("/b").body.split()
    assert a[0] == b"/a" and b[0] == b"/b"
    assert a[1] == b[1]  # same REMOTE_PORT: the same connection


def test_pipelined_requests_in_one_send(serve: Serve) -> None:
    server = serve(apps.path_echo)
    with Client(server.server_port) as c:
        c.send(build("/first") + build("/second") + build("/third"))
        bodies = [c.response().body.split()[0] for _ in range(3)]
    assert bodies == [b"/first", b"/second", b"/third"]


def test_http10_closes_by_default(serve: Serve) -> None:
    server = serve(apps.hello)
    with Client(server.server_port) as c:
        r = c.request("/", version="HTTP/1.0")
        assert r.header("Connection") == "close"
        assert r.body == b"Hello, world!"
        assert c.at_eof()


def test_http10_keep_alive_on_request(serve: Serve) -> None:
    server = serve(apps.hello)
    with Client(server.server_port) as c:
        r = c.request("/", headers=(("Connection", "keep-alive"),), version="HTTP/1.0")
        assert r.header("Connection") == "keep-alive"
        assert c.request("/", version="HTTP/1.0").body == b"Hello, world!"


def test_connection_close_is_honoured(serve: Serve) -> None:
    server = serve(apps.hello)
    with Client(server.server_port) as c:
        r = c.request("/", headers=(("Connection", "close"),))
        assert r.header("Connection") == "close"
        assert c.at_eof()


def test_idle_sockets_do_not_stall_other_clients(serve: Serve) -> None:
    server = serve(apps.hello)
    port = server.server_port
    # A browser-style preconnect that sends nothing, and a client stuck mid-head.
    with Client(port) as idle, Client(port) as partial:
        partial.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        with Client(port, timeout=2.0) as c:
            assert c.request("/").body == b"Hello, world!"
        assert time.monotonic() - started < 2.0
        # The stuck client finishes later and is answered too.
        partial.send(b"\r\n")
        assert partial.response().status == 200
        assert idle.sock.fileno() != -1


def test_unread_response_does_not_stall_other_clients(serve: Serve) -> None:
    block = b"x" * 65536

    def big(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/small":
            start_response("200 OK", [])
            return [b"small"]
        start_response("200 OK", [])
        return (block for _ in range(200))  # 12.5 MiB, far more than socket buffers

    server = serve(big)
    with Client(server.server_port) as reader:
        reader.send(build("/big"))  # and never read
        with Client(server.server_port, timeout=2.0) as c:
            assert c.request("/small").body == b"small"
        r = reader.response()
        assert len(r.body) == len(block) * 200


# --- request bodies -------------------------------------------------------------------


def test_post_body_via_wsgi_input(serve: Serve) -> None:
    server = serve(apps.echo_body)
    with Client(server.server_port) as c:
        r = c.request("/", "POST", body=b"line one\nline two")
        got = json.loads(r.body)
        assert got == {
            "first": "line one\n",
            "rest": "line two",
            "content_length": "17",
            "after": "",
        }
        # The next request on the connection is parsed cleanly after the body.
        r = c.request("/", "POST", body=b"x")
        assert json.loads(r.body)["first"] == "x"


def test_chunked_request_body_is_decoded(serve: Serve) -> None:
    server = serve(apps.echo_body)
    with Client(server.server_port) as c:
        head = build("/", "POST", headers=(("Transfer-Encoding", "chunked"),))
        c.send(head + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        got = json.loads(c.response().body)
    assert got["first"] == "hello world"
    assert got["content_length"] == "11"


def test_expect_100_continue(serve: Serve) -> None:
    server = serve(apps.echo_body)
    with Client(server.server_port) as c:
        c.send(build("/", "POST", headers=(("Expect", "100-continue"), ("Content-Length", "3"))))
        assert c.file.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert c.file.readline() == b"\r\n"
        c.send(b"abc")
        assert json.loads(c.response().body)["first"] == "abc"


def test_body_over_the_limit_is_refused_before_upload(serve: Serve) -> None:
    server = serve(apps.echo_body, max_body_bytes=10)
    with Client(server.server_port) as c:
        c.send(build("/", "POST", headers=(("Expect", "100-continue"), ("Content-Length", "11"))))
        r = c.response()  # no 100 Continue first: the body would be refused
        assert r.status == 413
        assert r.header("Connection") == "close"


# --- malformed requests ---------------------------------------------------------------

MALFORMED = [
    (b"garbage\r\n\r\n", 400),
    (b"{}POST / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431),
]


@pytest.mark.parametrize(
    ("raw", "status"), MALFORMED, ids=[f"{s}-{i}" for i, (_, s) in enumerate(MALFORMED)]
)
def test_malformed_request_gets_4xx_and_server_keeps_serving(
    serve: Serve, raw: bytes, status: int
) -> None:
    server = serve(apps.hello)
    with Client(server.server_port) as c:
        c.send(raw)
        r = c.response()
        assert r.status == status
        assert r.header("Connection") == "close"
    with Client(server.server_port) as c:
        assert c.request("/").status == 200


# --- environ --------------------------------------------------------------------------


def test_environ_is_complete(serve: Serve) -> None:
    server = serve(apps.environ_json)
    with Client(server.server_port) as c:
        headers = (
            ("X-Multi", "a"),
            ("Cookie", "a=1"),
            ("X-Multi", "b"),
            ("Cookie", "b=2"),
            ("X_Multi", "spoofed"),
            ("Content-Type", "text/plain"),
        )
        r = c.request("/caf%C3%A9/x%20y?q=%C3%A9&z", "POST", headers=headers, body=b"hi")
    env = json.loads(r.body)
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/caf\u00c3\u00a9/x y"  # UTF-8 bytes decoded as latin-1
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café/x y"
    assert env["QUERY_STRING"] == "q=%C3%A9&z"
    assert env["CONTENT_TYPE"] == "text/plain"
    assert env["CONTENT_LENGTH"] == "2"
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(server.server_port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"].isdigit()
    assert env["HTTP_HOST"] == "test"
    assert env["HTTP_X_MULTI"] == "a, b"
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert env["wsgi.version"] == [1, 0]
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.multithread"] is False
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert env["wsgi.input_terminated"] is True
    # RFC 3875 section 4.1.17, as wsgiref, gunicorn and waitress set it: the Server header's value.
    assert env["SERVER_SOFTWARE"] == f"rswsgi/{rswsgi.__version__}" == r.header("Server")
    assert env["wsgi.input"] == "<Input>"
    assert env["has_file_wrapper"] is True
    assert env["errors_is_stderr"] is True


def test_passes_wsgiref_validator(serve: Serve) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    server = serve(validator(app))
    with Client(server.server_port) as c:
        assert c.request("/").status == 200
        assert c.request("/", "POST", body=b"data\n").body == b"data\n"
        assert c.request("/", "HEAD").status == 200


# --- close() and errors ---------------------------------------------------------------


def test_close_called_once_on_success(serve: Serve) -> None:
    it = apps.CloseCounter([b"a", b"b"])
    server = serve(it.app)
    with Client(server.server_port) as c:
        assert c.request("/").body == b"ab"
    eventually(lambda: it.closes == 1, "close()")


def test_close_called_once_when_the_client_disconnects_mid_stream(serve: Serve) -> None:
    it = apps.CloseCounter([b"x" * 1024], endless=True)
    server = serve(it.app)
    c = Client(server.server_port)
    c.send(build("/"))
    assert c.file.readline().startswith(b"HTTP/1.1 200")
    c.reset()  # reset mid-body
    eventually(lambda: it.closes == 1, "close()")
    with Client(server.server_port) as other:  # the server is still serving
        other.send(build("/", "HEAD"))
        assert other.response(head=True).status == 200
    eventually(lambda: it.closes == 2, "close() for the HEAD")
    # No late second close() of the first iterable: the server serves one thing at a
    # time, so once a third response has been closed, all before it have been.
    with Client(server.server_port) as third:
        third.send(build("/", "HEAD"))
        assert third.response(head=True).status == 200
    eventually(lambda: it.closes >= 3, "close() for the third response")
    assert it.closes == 3


def test_app_exception_before_body_is_500_and_server_keeps_serving(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/boom":
            return apps.raise_before_body(environ, start_response)
        return apps.hello(environ, start_response)

    server = serve(app)
    with Client(server.server_port) as c:
        r = c.request("/boom")
        assert r.status == 500
        assert r.body == b"500 Internal Server Error\n"
        assert c.request("/").status == 200  # same connection still works
    assert "boom before body" in capsys.readouterr().err


def test_app_exception_mid_stream_aborts_and_closes(serve: Serve) -> None:
    it = apps.CloseCounter([b"chunk"], endless=True, fail_at=3)
    server = serve(it.app)
    with Client(server.server_port) as c:
        c.send(build("/"))
        raw = c.file.read()  # ends with the connection, without a last chunk
    assert raw.startswith(b"HTTP/1.1 200 OK")
    assert not raw.endswith(b"0\r\n\r\n")
    eventually(lambda: it.closes == 1, "close()")


# --- the Server object ----------------------------------------------------------------


def test_handle_request_serves_one_response() -> None:
    with make_server("127.0.0.1", 0, apps.hello, quiet=True) as server:
        t = threading.Thread(target=server.handle_request)
        t.start()
        with Client(server.server_port) as c:
            assert c.request("/").body == b"Hello, world!"
        t.join(5)
        assert not t.is_alive()


def test_server_address_and_port() -> None:
    with make_server("127.0.0.1", 0, apps.hello) as server:
        host, port = server.server_address
        assert host == "127.0.0.1"
        assert port == server.server_port > 0


def test_shutdown_before_serve_forever_returns_at_once() -> None:
    with make_server("127.0.0.1", 0, apps.hello) as server:
        server.shutdown()
        # serve_forever returns: the pending shutdown is consumed (on a thread, so that
        # a lost shutdown fails this test rather than hanging the run).
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        serving.join(10)
        returned = not serving.is_alive()
        if not returned:
            server.shutdown()
            serving.join(10)
    assert returned, "serve_forever() did not return: the shutdown() before it was lost"


@pytest.mark.parametrize("call", ["serve_forever", "handle_request"])
def test_serving_a_closed_server_says_it_is_closed(call: str) -> None:
    server = make_server("127.0.0.1", 0, apps.hello)
    server.server_close()
    with pytest.raises(RuntimeError) as info:
        getattr(server, call)()
    assert str(info.value).startswith(f"{call}() cannot run: the server is closed")
    assert "another thread" not in str(info.value)
    server.server_close()  # still idempotent


@pytest.mark.parametrize(
    ("kwargs", "exc", "text"),
    [
        ({"port": 70000}, ValueError, "port=70000"),
        ({"port": -1}, ValueError, "port=-1"),
        ({"port": "80"}, ValueError, "port='80'"),
        ({"app": 42}, TypeError, "app=42"),
        ({"host": "no-such-host.invalid"}, OSError, "host='no-such-host.invalid'"),
    ],
)
def test_bad_arguments_name_the_argument(
    kwargs: dict[str, Any], exc: type[Exception], text: str
) -> None:
    args = {"host": "127.0.0.1", "port": 0, "app": apps.hello, **kwargs}
    with pytest.raises(exc, match=text):
        make_server(args["host"], args["port"], args["app"])


def test_address_in_use_is_a_clear_oserror() -> None:
    with make_server("127.0.0.1", 0, apps.hello) as first:
        with pytest.raises(OSError, match="already in use") as info:
            make_server("127.0.0.1", first.server_port, apps.hello)
        assert info.value.errno is not None


# --- access log -----------------------------------------------------------------------

LOG_SCRIPT = textwrap.dedent(
    """
    import socket, sys, threading
    from rswsgi import make_server

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    server = make_server("127.0.0.1", 0, app, quiet=sys.argv[1] == "quiet")
    t = threading.Thread(target=server.serve_forever)
    t.start()
    with socket.create_connection(server.server_address) as s:
        s.sendall(b"GET /logged?x=1 HTTP/1.1\\r\\nHost: h\\r\\nConnection: close\\r\\n\\r\\n")
        while s.recv(4096):
            pass
    server.shutdown()
    t.join()
    server.server_close()
    """
)


def run_log_script(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", LOG_SCRIPT, mode],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_access_log_line() -> None:
    import re

    lines = run_log_script("log").splitlines()
    assert len(lines) == 1, lines
    pattern = (
        r"127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4} \d\d:\d\d:\d\d\] "
        r'"GET /logged\?x=1 HTTP/1\.1" 200 5 \d+\.\d\dms'
    )
    assert re.fullmatch(pattern, lines[0]), lines[0]


def test_quiet_silences_the_access_log() -> None:
    assert run_log_script("quiet") == ""


# --- timeouts and frameworks ----------------------------------------------------------


def test_stalled_request_gets_408_and_idle_connection_closes(serve: Serve) -> None:
    server = serve(apps.hello, read_timeout_secs=1, idle_timeout_secs=1)
    with Client(server.server_port) as stalled, Client(server.server_port) as idle:
        stalled.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        r = stalled.response()
        assert r.status == 408
        assert r.header("Connection") == "close"
        assert idle.at_eof()  # closed without a response


def test_flask_app(serve: Serve) -> None:
    flask = pytest.importorskip("flask")
    app = flask.Flask(__name__)

    @app.route("/hi/<name>")
    def hi(name: str) -> Any:
        return {"name": name, "x": flask.request.args.get("x")}

    @app.route("/stream")
    def stream() -> Any:
        def gen() -> Any:
            for i in range(3):
                yield f"{i} {flask.request.path}\n"

        return flask.Response(flask.stream_with_context(gen()))

    server = serve(app)
    with Client(server.server_port) as c:
        assert json.loads(c.request("/hi/caf%C3%A9?x=1").body) == {"name": "café", "x": "1"}
        r = c.request("/stream")
        assert r.header("Transfer-Encoding") == "chunked"
        assert r.body == b"0 /stream\n1 /stream\n2 /stream\n"
        assert c.request("/missing").status == 404


def test_large_request_body_arrives_whole(serve: Serve) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        data = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [f"{len(data)} {data.count(b'z')}".encode()]

    server = serve(app)
    body = b"z" * 3_000_000
    with Client(server.server_port) as c:
        assert c.request("/", "POST", body=body).body == b"3000000 3000000"


SERVE_SCRIPT = textwrap.dedent(
    """
    import sys
    import rswsgi

    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"served"]

    rswsgi.serve(app, port=int(sys.argv[1]), quiet=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery to a child")
def test_serve_runs_until_ctrl_c() -> None:
    # serve() neither takes a socket nor says which port it bound: it binds port 0,
    # and the test finds the port among the child's listening sockets.
    # The child starts with SIGINT at its default disposition, whatever this
    # process inherited (see `default_sigint`).
    def answers(port: int) -> bool:
        with Client(port) as c:
            assert c.request("/").body == b"served"
        return True

    with servers.running(
        lambda port: [sys.executable, "-c", SERVE_SCRIPT, port],
        bind="proc",
        ready=answers,
        preexec_fn=default_sigint,
    ) as served:
        served.proc.send_signal(signal.SIGINT)
        served.proc.wait(5)
        err = served.output()
    assert "KeyboardInterrupt" in err  # serve() re-raises it, as serve_forever does
