"""HTTP/1.1 as browsers and load generators speak it: raw sockets, one behaviour per test.

Behaviours already pinned in test_server.py (HTTP/1.0 close/keep-alive, repeated
headers and `_` names in the environ, write(), start_response on the first
iteration, Content-Length mismatches) are not repeated here.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rswsgi import Server
from support import apps
from support.http import Client, build
from support.tls import Pem
from support.waiting import eventually

Serve = Callable[..., Server]


def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers with the request's method, path, query, Host and body as JSON."""
    body = environ["wsgi.input"].read()
    out = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"],
        "host": environ.get("HTTP_HOST"),
        "body": body.decode("latin-1"),
        "content_length": environ.get("CONTENT_LENGTH"),
        "terminated": environ.get("wsgi.input_terminated"),
        "transfer_encoding": environ.get("HTTP_TRANSFER_ENCODING"),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(out).encode()]


def ignores_body(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["PATH_INFO"].encode()]


# --- framing ----------------------------------------------------------------------------


def test_pipelined_posts_are_answered_in_order_from_buffered_bytes(serve: Serve) -> None:
    server = serve(echo)
    with Client(server.server_port) as c:
        # Everything in one send: after each response the server must parse what it
        # already holds; if it waited on the socket instead, this would time out.
        c.send(
            build("/a", "POST", body=b"first")
            + build("/b", "POST", headers=(("Transfer-Encoding", "chunked"),))
            + b"3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n"
            + build("/c", "GET")
            + build("/d", "POST", body=b"x" * 70000)
        )
        got = [json.loads(c.response().body) for _ in range(4)]
    assert [g["path"] for g in got] == ["/a", "/b", "/c", "/d"]
    assert [g["body"] for g in got[:3]] == ["first", "second", ""]
    assert got[3]["body"] == "x" * 70000


def test_chunked_body_with_extensions_and_trailers(serve: Serve) -> None:
    server = serve(echo)
    with Client(server.server_port) as c:
        c.send(
            build("/", "POST", headers=(("Transfer-Encoding", "chunked"),))
            + b"4;name=value;flag\r\nWiki\r\n"
            + b'5 ; q="quoted;string"\r\npedia\r\n'
            + b"0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
        )
        got = json.loads(c.response().body)
        assert got["body"] == "Wikipedia"
        # As waitress presents it: the decoded length, and no Transfer-Encoding left for an
        # app (or a proxying middleware) to act on a second time.
        assert got["content_length"] == "9"
        assert got["transfer_encoding"] is None
        assert got["terminated"] is True
        # The trailers were consumed: the connection is in sync for the next request.
        assert json.loads(c.request("/next").body)["path"] == "/next"


def test_100_continue_only_once_the_server_reads_the_body(serve: Serve) -> None:
    server = serve(echo, max_body_bytes=1000)
    with Client(server.server_port) as c:
        c.send(build("/", "POST", headers=(("Expect", "100-continue"), ("Content-Length", "5"))))
        assert c.file.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert c.file.readline() == b"\r\n"
        c.send(b"hello")
        r = c.response()
        assert json.loads(r.body)["body"] == "hello"
    with Client(server.server_port) as c:
        # Refused up front: the final status comes at once, never a 100 first.
        c.send(build("/", "POST", headers=(("Expect", "100-continue"), ("Content-Length", "1001"))))
        assert c.file.readline() == b"HTTP/1.1 413 Content Too Large\r\n"


def test_unread_body_does_not_desync_the_connection(serve: Serve) -> None:
    server = serve(ignores_body)
    smuggled = build("/smuggled")
    with Client(server.server_port) as c:
        # The app never reads wsgi.input; the body must still not be parsed as a request.
        c.send(build("/post", "POST", body=smuggled) + build("/next"))
        assert c.response().body == b"/post"
        assert c.response().body == b"/next"
        # Nothing else was answered (the smuggled request was body bytes).
        c.sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            c.file.readline()


# --- request targets --------------------------------------------------------------------


def test_absolute_form_target(serve: Serve) -> None:
    server = serve(echo)
    with Client(server.server_port) as c:
        c.send(b"GET http://example.com:81/p/q?x=1 HTTP/1.1\r\nHost: ignored.test\r\n\r\n")
        got = json.loads(c.response().body)
    assert (got["path"], got["query"]) == ("/p/q", "x=1")
    # RFC 9112 section 3.2.2: the target's authority wins over Host.
    assert got["host"] == "example.com:81"


@pytest.mark.parametrize(
    ("method", "target"),
    # RFC 9112 sections 3.2.3 and 3.2.4: authority-form is for CONNECT alone, `*` for OPTIONS.
    [("OPTIONS", "*"), ("CONNECT", "example.com:443")],
)
def test_asterisk_and_authority_forms_reach_the_app(serve: Serve, method: str, target: str) -> None:
    server = serve(echo)
    with Client(server.server_port) as c:
        c.send(f"{method} {target} HTTP/1.1\r\nHost: example.com:443\r\n\r\n".encode())
        r = c.response()
        got = json.loads(r.body)
        assert (r.status, got["method"], got["path"]) == (200, method, target)
        assert c.request("/after").status == 200


def test_higher_minor_version_is_served_as_http11(serve: Serve) -> None:
    # RFC 9112 section 2.3: a higher minor version of a major version the server implements
    # is processed as the highest minor version it is conformant to.
    server = serve(apps.environ_json)
    with Client(server.server_port) as c:
        c.send(b"GET /p HTTP/1.7\r\nHost: h\r\n\r\n")
        r = c.response()
        env = json.loads(r.body)
        assert (r.status, env["SERVER_PROTOCOL"], env["PATH_INFO"]) == (200, "HTTP/1.1", "/p")
        assert c.request("/after").status == 200  # kept alive, as HTTP/1.1


def test_http10_request_with_a_body_and_no_host(serve: Serve) -> None:
    server = serve(echo)
    with Client(server.server_port) as c:
        c.send(b"POST /old HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
        r = c.response()
        assert json.loads(r.body)["body"] == "abc"
        assert r.header("Connection") == "close"
        assert c.at_eof()


# --- wsgi.file_wrapper ------------------------------------------------------------------


class CountingFile(io.FileIO):
    """A real file that counts read() calls (sendfile never calls it)."""

    reads = 0

    def read(self, size: int | None = -1) -> bytes:
        CountingFile.reads += 1
        return super().read(size)


@pytest.fixture
def data_file(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    return path, data


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_file_wrapper_over_a_real_file_uses_sendfile(
    serve: Serve, data_file: tuple[Path, bytes], tls: bool, pem: Pem
) -> None:
    # Over HTTPS the file is read by the server (pread) and encrypted: sendfile would put
    # plaintext into the TLS stream, which the client could not decrypt.
    path, data = data_file
    opened: list[CountingFile] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        f = CountingFile(path)
        opened.append(f)
        headers = [("Content-Type", "application/octet-stream")]
        if environ["PATH_INFO"] == "/offset":
            f.seek(1000)
        if environ["PATH_INFO"] == "/declared":
            headers.append(("Content-Length", "10"))
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](f, 8192)

    CountingFile.reads = 0
    server = serve(app, **({"cert": pem.cert, "key": pem.key} if tls else {}))
    with Client(server.server_port, timeout=20, context=pem.context() if tls else None) as c:
        r = c.request("/")
        assert r.header("Content-Length") == str(len(data))
        assert r.body == data
        assert c.request("/offset").body == data[1000:]
        # The app's Content-Length wins: the file is cut there, the connection stays usable.
        assert c.request("/declared").body == data[:10]
        head = c.request("/", "HEAD")
        assert head.header("Content-Length") == str(len(data)) and head.body == b""
        assert c.request("/").body == data
    assert CountingFile.reads == 0, "the file was read in Python, not sent with sendfile"
    # The server closes the last file once that response is done, which may come
    # just after the client has read its bytes: with the GIL off (3.14t) the client
    # thread gets there first. Wait for it, with a deadline.
    eventually(lambda: all(f.closed for f in opened), "every file closed")


def test_file_wrapper_over_a_pipe_is_iterated(serve: Serve) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        r, w = os.pipe()
        os.write(w, b"through a pipe")
        os.close(w)
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](os.fdopen(r, "rb"), 4)

    server = serve(app)
    with Client(server.server_port) as c:
        assert c.request("/").body == b"through a pipe"


# --- Content-Length from the app --------------------------------------------------------


def test_content_length_mismatch_is_logged_and_never_desyncs(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return (apps.long_body if environ["PATH_INFO"] == "/long" else apps.short_body)(
            environ, start_response
        )

    server = serve(app)
    with Client(server.server_port) as c:
        assert c.request("/long").body == b"ab"  # cut at the declared 2 bytes
        c.send(build("/short"))
        # Too short: the server closes rather than leave the client waiting.
        assert c.file.read().endswith(b"\r\n\r\nabc")
    err = capsys.readouterr().err
    assert "more than its Content-Length of 2 bytes" in err
    assert "sent 3 of its Content-Length of 10 bytes; closing the connection" in err


# --- start_response across the responses of one connection --------------------------------


def test_start_response_is_reused_only_when_nothing_else_holds_it(serve: Serve) -> None:
    """A keep-alive connection hands its next response the same start_response (and
    write) when the app kept neither; one the app kept is never handed out again, and
    keeps its own state (a second call without exc_info still raises)."""
    seen: list[tuple[int, int]] = []
    kept: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        seen.append((id(start_response), id(write)))
        if environ["PATH_INFO"] == "/keep":
            kept.append(start_response)
        write(b"w")
        return [environ["PATH_INFO"].encode()]

    server = serve(app)
    with Client(server.server_port) as c:
        for path in ("/a", "/b", "/keep", "/c", "/d"):
            c.send(build(path))
            assert c.response().body == b"w" + path.encode()
    a, b, keep, c_, d = seen
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        # Reuse reads refcounts, which only the GIL makes exact: off on a
        # free-threaded build (src/server/start_response.rs), so only this holds.
        assert keep[0] not in (c_[0], d[0])
    else:
        assert a == b == keep  # reused while nobody else held it
        assert c_[0] != keep[0] and c_[1] != keep[1]  # the kept one is not handed out again
        assert d == c_
    with pytest.raises(RuntimeError, match="called again without exc_info"):
        kept[0]("200 OK", [])
