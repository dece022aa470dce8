"""Strict request framing against the live server: malformed chunk extensions, bare LFs in
the head and in trailers are refused with a 400 that closes the connection, and every limit
and refusal is the same however the bytes are split into reads.

A "split" sends the request in parts with a short pause between them, so that the server's
reads end there (nothing is asserted about time); each refused request is followed by a
normal one on a new connection, to show the server kept serving.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from rswsgi import Server
from support.http import Client, Response

Serve = Callable[..., Server]

HEAD_CHUNKED = b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
LIMITS = {"max_request_line_bytes": 100, "max_header_bytes": 1000}
# Long enough for a read to end between two parts; nothing waits on it as a condition.
PAUSE_S = 0.15


def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers with the path and the body it read, as JSON."""
    body = environ["wsgi.input"].read().decode("latin-1")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"path": environ["PATH_INFO"], "body": body}).encode()]


def send(c: Client, parts: Iterable[bytes]) -> Response:
    """Sends `parts` on `c`, pausing between them; the first response."""
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i, part in enumerate(parts):
        if i:
            time.sleep(PAUSE_S)
        c.send(part)
    return c.response()


def refused(server: Server, *parts: bytes) -> int:
    """The status of a request that must be refused: the connection is closed after the
    one answer, and the server still serves a normal request."""
    with Client(server.server_port) as c:
        r = send(c, parts)
        assert r.status >= 400, r
        assert r.header("Connection") == "close"
        assert c.at_eof(), "a second response followed the refusal"
    with Client(server.server_port) as c:
        assert c.request("/after").status == 200
    return r.status


def served(server: Server, *parts: bytes) -> dict[str, str]:
    with Client(server.server_port) as c:
        r = send(c, parts)
    assert r.status == 200, r
    got: dict[str, str] = json.loads(r.body)
    return got


# --- chunk extensions (RFC 9112 section 7.1.1) --------------------------------------------


@pytest.mark.parametrize(
    "line", [b"2;", b"2;=x", b"2;a=", b"2;a b", b'2;a="b', b"2 ", b"2;a=b ", b"2;a\x00"]
)
def test_a_malformed_chunk_extension_is_a_400(serve: Serve, line: bytes) -> None:
    server = serve(echo)
    assert refused(server, HEAD_CHUNKED + line + b"\r\naa\r\n0\r\n\r\n") == 400


@pytest.mark.parametrize(
    "line", [b"2;a=b", b'2;a="b c"', b"2 ; a = b", b'2;a;b=c;d="e;f"', b'2\t;\ta="q\\"x"']
)
def test_a_valid_chunk_extension_is_accepted(serve: Serve, line: bytes) -> None:
    server = serve(echo)
    assert served(server, HEAD_CHUNKED + line + b"\r\naa\r\n0;last\r\n\r\n")["body"] == "aa"


def test_a_malformed_extension_is_refused_without_waiting_for_the_chunk(serve: Serve) -> None:
    # The 32 bytes of data never come: the answer must not wait for them (nor for the
    # read timeout, far longer than the Client's 5 s).
    server = serve(echo)
    assert refused(server, HEAD_CHUNKED + b"20;invalid=\r\n") == 400


# --- bare LF in the head (RFC 9112 sections 2.2, 11.2) ------------------------------------

SMUGGLE = (
    b"GET / HTTP/1.1\r\nHost: localhost\r\nDummy: x\nContent-Length: 23\r\n\r\n"
    b"GET / HTTP/1.1\r\nDummy: GET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n"
)


@pytest.mark.parametrize(
    "raw",
    [
        SMUGGLE,
        b"GET / HTTP/1.1\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n\n",
        b"GET / HTTP/1.1\nHost: h\n\n",
    ],
    ids=["smuggling", "request-line", "header-line", "empty-line", "every-line"],
)
def test_a_bare_lf_in_the_head_is_one_400_and_the_connection_closes(
    serve: Serve, raw: bytes
) -> None:
    server = serve(echo)
    assert refused(server, raw) == 400


# --- trailers (RFC 9112 section 7.1.2) ----------------------------------------------------


@pytest.mark.parametrize(
    "trailers",
    [
        b"X: a\n\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
        b"X: a\x00\r\n\r\n",
        b"X: a\x01\r\n\r\n",
        b"X\r\n\r\n",
        b"X Y: a\r\n\r\n",
        b"X(a): 1\r\n\r\n",
        b" X: a\r\n\r\n",
    ],
    ids=["bare-lf-smuggling", "nul", "control", "no-colon", "space-in-name", "not-a-token", "fold"],
)
def test_a_malformed_trailer_line_is_a_400(serve: Serve, trailers: bytes) -> None:
    server = serve(echo)
    assert refused(server, HEAD_CHUNKED + b"2\r\naa\r\n0\r\n" + trailers) == 400


def test_valid_trailers_are_read_and_the_next_request_is_served(serve: Serve) -> None:
    server = serve(echo)
    with Client(server.server_port) as c:
        c.send(
            HEAD_CHUNKED
            + b"2\r\naa\r\n0\r\nX-A: 1\r\nX-B:\r\n\r\n"
            + b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        assert json.loads(c.response().body) == {"path": "/p", "body": "aa"}
        assert json.loads(c.response().body)["path"] == "/next"


# --- the same answer however the bytes are split ------------------------------------------


def test_a_request_line_of_the_default_limit_passes_when_split_between_cr_and_lf(
    serve: Serve,
) -> None:
    server = serve(echo)
    line = b"GET /" + b"a" * 8178 + b" HTTP/1.1"
    assert len(line) == 8192  # --max-request-line-bytes
    rest = b"\nHost: h\r\n\r\n"
    assert served(server, line + b"\r" + rest)["path"] == "/" + "a" * 8178
    assert served(server, line + b"\r", rest)["path"] == "/" + "a" * 8178
    assert refused(server, b"GET /a" + line[5:] + b"\r", rest) == 414


@pytest.mark.parametrize("split", [False, True])
def test_a_chunk_line_limit_counts_the_line_without_its_crlf(serve: Serve, split: bool) -> None:
    server = serve(echo)

    def body(line_len: int) -> list[bytes]:
        line = b"2;" + b"e" * (line_len - 2) + b"\r"
        rest = b"\naa\r\n0\r\n\r\n"
        return [HEAD_CHUNKED + line, rest] if split else [HEAD_CHUNKED + line + rest]

    assert served(server, *body(4096))["body"] == "aa"
    assert refused(server, *body(4097)) == 400
    # A complete line far over the limit, in one read.
    assert refused(server, *body(10 * 1024)) == 400


@pytest.mark.parametrize(
    ("raw", "at", "status"),
    [
        # Garbage that is wrong from its first byte, longer than the line limit.
        (b"\x01" * 300, 50, 400),
        # A request line over the limit whose wrong byte comes after the limit.
        (b"A" * 150 + b"\x00" + b"A" * 100, 120, 414),
        # A NUL in a field value past max_header_bytes.
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"v" * 1100 + b"\x00v\r\n\r\n", 1010, 431),
        # A NUL in a field value within max_header_bytes.
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"v" * 900 + b"\x00v\r\n\r\n", 500, 400),
    ],
    ids=["garbage", "line-too-long", "nul-past-the-head-limit", "nul-within-it"],
)
def test_a_refusal_is_the_same_whole_and_split(
    serve: Serve, raw: bytes, at: int, status: int
) -> None:
    server = serve(echo, **LIMITS)
    assert refused(server, raw) == status
    assert refused(server, raw[:at], raw[at:]) == status
