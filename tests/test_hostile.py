"""Hostile and broken clients: every bad request gets its status, slow clients get cut off,
and none of them holds up a normal client."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest
from rswsgi import Server
from support import apps
from support.http import Client, build
from support.waiting import eventually

Serve = Callable[..., Server]

LIMITS = {
    "max_request_line_bytes": 100,
    "max_header_bytes": 1000,
    "max_header_count": 10,
    "max_body_bytes": 100,
}
H = b"Host: x\r\n"
GET = b"GET / HTTP/1.1\r\n" + H
POST = b"POST / HTTP/1.1\r\n" + H
TE = b"Transfer-Encoding: chunked\r\n\r\n"

BAD = [
    ("request line too long", b"GET /" + b"a" * 100 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
    ("endless request line", b"GET /" + b"a" * 200, 414),
    ("header section too large", GET + b"X: " + b"a" * 1000 + b"\r\n\r\n", 431),
    ("too many headers", GET + b"".join(b"X-%d: 1\r\n" % i for i in range(10)) + b"\r\n", 431),
    ("Content-Length over the limit", POST + b"Content-Length: 101\r\n\r\n", 413),
    ("chunked body over the limit", POST + TE + b"50\r\n" + b"a" * 80 + b"\r\n50\r\n", 413),
    ("CL and TE", POST + b"Content-Length: 3\r\n" + TE, 400),
    ("two Content-Lengths", POST + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    ("Content-Length list", POST + b"Content-Length: 3, 4\r\n\r\nabcd", 400),
    ("TE on HTTP/1.0", b"POST / HTTP/1.0\r\n" + TE + b"0\r\n\r\n", 400),
    ("bad chunk size", POST + TE + b"-1\r\n", 400),
    ("chunk size overflow", POST + TE + b"f" * 20 + b"\r\n", 400),
    ("chunk data without CRLF", POST + TE + b"1\r\nab", 400),
    ("obs-fold", GET + b"X-A: 1\r\n  folded\r\n\r\n", 400),
    ("whitespace before the colon", GET + b"X-A : 1\r\n\r\n", 400),
    ("NUL in a header", GET + b"X-A: a\x00b\r\n\r\n", 400),
    ("bare CR in a header", GET + b"X-A: a\rb\r\n\r\n", 400),
    ("no Host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    ("invalid Host", b"GET / HTTP/1.1\r\nHost: a b/c\r\n\r\n", 400),
    ("Host with userinfo", b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400),
    ("{}POST request line", b"{}POST / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("unknown transfer coding", POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("unknown transfer coding alone", POST + b"Transfer-Encoding: gzip\r\n\r\n", 501),
    # RFC 9112 section 6.3: chunked not last means the length is unknowable.
    ("chunked not last", POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    (
        "chunked not last, two fields",
        POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
        400,
    ),
    # RFC 9112 section 3.2: origin, absolute, authority (CONNECT) or asterisk (OPTIONS) form.
    ("target in no form", b"GET foo HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("raw UTF-8 in the target", "GET /caf\u00e9 HTTP/1.1\r\n".encode() + H + b"\r\n", 400),
    ("target is a query", b"GET ?x=1 HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("asterisk without OPTIONS", b"GET * HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("authority without CONNECT", b"GET example.com:443 HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("CONNECT with origin form", b"CONNECT / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("scheme without authority", b"GET http:/p HTTP/1.1\r\n" + H + b"\r\n", 400),
    # RFC 9112 section 2.3: HTTP-version is case-sensitive "HTTP/" DIGIT "." DIGIT.
    ("lower-case http", b"GET / http/1.1\r\n" + H + b"\r\n", 400),
    ("minor not a digit", b"GET / HTTP/1.x\r\n" + H + b"\r\n", 400),
    ("no dot in version", b"GET / HTTP/11\r\n" + H + b"\r\n", 400),
    ("two-digit minor", b"GET / HTTP/1.10\r\n" + H + b"\r\n", 400),
    ("no version", b"GET /\r\n" + H + b"\r\n", 400),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\n" + H + b"\r\n", 505),
    ("HTTP/3.0", b"GET / HTTP/3.0\r\n\r\n", 505),
    ("HTTP/0.9", b"GET / HTTP/0.9\r\n\r\n", 505),
]


@pytest.mark.parametrize(("raw", "status"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_request_gets_its_status_and_the_server_keeps_serving(
    serve: Serve, raw: bytes, status: int
) -> None:
    server = serve(apps.echo_body, **LIMITS)
    with Client(server.server_port) as c:
        c.send(raw)
        r = c.response()
        assert r.status == status, r
        assert r.header("Connection") == "close"
        assert c.at_eof()
    with Client(server.server_port) as c:
        assert c.request("/").status == 200


def test_limits_are_exact(serve: Serve) -> None:
    server = serve(apps.echo_body, **LIMITS)
    line = b"GET /" + b"a" * (100 - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
    assert len(line) == 100
    with Client(server.server_port) as c:
        c.send(line + b"\r\n" + H + b"\r\n")
        assert c.response().status == 200
        c.send(build("/", "POST", body=b"b" * 100))
        assert c.response().status == 200
        c.send(build("/", headers=tuple((f"X-{i}", "1") for i in range(9))))
        assert c.response().status == 200


# --- slow clients -----------------------------------------------------------------------


def trickle(
    sock: socket.socket,
    data: bytes,
    every: float,
    stop: threading.Event,
    sent: list[int] | None = None,
) -> None:
    """Send `data` a byte `every` seconds until `stop`; count the bytes in `sent[0]`."""
    for i in range(len(data)):
        if stop.wait(every):
            return
        try:
            sock.sendall(data[i : i + 1])
        except OSError:
            return
        if sent is not None:
            sent[0] += 1


def test_header_deadline_counts_from_the_first_byte(serve: Serve) -> None:
    # Each byte arrives well within read_timeout, but the head as a whole is late.
    server = serve(apps.hello, header_timeout_secs=1, read_timeout_secs=30)
    stop = threading.Event()
    with Client(server.server_port, timeout=8) as c:
        head = build("/", headers=(("X-Padding", "p" * 40),))
        t = threading.Thread(target=trickle, args=(c.sock, head, 0.1, stop))
        t.start()
        try:
            r = c.response()  # the full head would take > 7 s
        finally:
            stop.set()
            t.join()
    assert r.status == 408
    assert r.header("Connection") == "close"


def test_body_deadline(serve: Serve) -> None:
    server = serve(apps.echo_body, body_timeout_secs=1, read_timeout_secs=30)
    stop = threading.Event()
    with Client(server.server_port, timeout=8) as c:
        c.send(build("/", "POST", headers=(("Content-Length", "100"),)))
        t = threading.Thread(target=trickle, args=(c.sock, b"b" * 100, 0.1, stop))
        t.start()
        try:
            r = c.response()
        finally:
            stop.set()
            t.join()
    assert r.status == 408


def test_twenty_tricklers_do_not_delay_a_normal_client(serve: Serve) -> None:
    server = serve(apps.hello)
    stop = threading.Event()
    socks = [socket.create_connection(("127.0.0.1", server.server_port)) for _ in range(20)]
    sent = [[0] for _ in socks]
    threads = [
        threading.Thread(target=trickle, args=(s, build("/slow"), 1.0, stop, n))
        for s, n in zip(socks, sent, strict=True)
    ]
    for t in threads:
        t.start()
    try:
        eventually(lambda: all(n[0] for n in sent), "every trickler to send a byte")
        for _ in range(3):
            # A generous deadline (the Client's timeout), not a timing assert.
            with Client(server.server_port, timeout=5) as c:
                assert c.request("/").body == b"Hello, world!"
    finally:
        stop.set()
        for t in threads:
            t.join()
        for s in socks:
            s.close()
