"""Responses stream as PEP 3333 "Buffering and Streaming" asks: each block of the iterable
and each `write()` reaches the client before the app produces the next one, and other
clients are served between two blocks of a stream.

The apps wait on events the test sets once it has seen the earlier bytes, so a server that
held a block back would make the test time out instead of passing by luck.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rswsgi import Server
from support.http import Client, build
from support.tls import Pem

Serve = Callable[..., Server]

WAIT = 10.0  # seconds an app waits for the test before giving up


def read_until(sock: socket.socket, marker: bytes, timeout: float = 5.0) -> bytes:
    """Bytes from `sock` up to and including `marker`; `TimeoutError` after `timeout` s."""
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed before {marker!r}: {data!r}")
        data += chunk
    return data


def test_first_block_arrives_before_the_second_is_produced(serve: Serve) -> None:
    release = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first"
        release.wait(WAIT)
        yield b"second"

    server = serve(app)
    with socket.create_connection(("127.0.0.1", server.server_port)) as s:
        s.sendall(build("/"))
        got = read_until(s, b"first\r\n")
        assert b"Transfer-Encoding: chunked\r\n" in got
        release.set()
        rest = read_until(s, b"0\r\n\r\n")
    assert rest.endswith(b"6\r\nsecond\r\n0\r\n\r\n")


def test_blocks_stream_over_tls_too(serve: Serve, pem: Pem) -> None:
    release = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written")
        yield b"first"
        release.wait(WAIT)
        yield b"second"

    server = serve(app, cert=pem.cert, key=pem.key)
    raw = socket.create_connection(("127.0.0.1", server.server_port))
    with pem.context().wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(build("/"))
        got = read_until(s, b"first\r\n")
        assert b"7\r\nwritten\r\n5\r\nfirst\r\n" in got
        release.set()
        assert read_until(s, b"0\r\n\r\n").endswith(b"6\r\nsecond\r\n0\r\n\r\n")


def test_write_sends_before_it_returns(serve: Serve) -> None:
    release = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written")
        release.wait(WAIT)
        write(b"later")
        return [b"!"]

    server = serve(app)
    with socket.create_connection(("127.0.0.1", server.server_port)) as s:
        s.sendall(build("/"))
        got = read_until(s, b"written\r\n")
        assert got.startswith(b"HTTP/1.1 200 OK\r\n")
        release.set()
        rest = read_until(s, b"0\r\n\r\n")
    assert rest.endswith(b"5\r\nlater\r\n1\r\n!\r\n0\r\n\r\n")


def test_write_with_content_length_is_not_chunked(serve: Serve) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Length", "6")])
        write(b"abc")
        write(b"def")
        return []

    server = serve(app)
    with Client(server.server_port) as c:
        r = c.request("/")
        assert (r.header("Transfer-Encoding"), r.body) == (None, b"abcdef")
        assert c.request("/").body == b"abcdef"  # kept alive


def test_len_one_iterable_gets_content_length(serve: Serve) -> None:
    class One:
        def __len__(self) -> int:
            return 1

        def __iter__(self) -> Iterator[bytes]:
            return iter([b"single"])

    def app(environ: dict[str, Any], start_response: Any) -> One:
        start_response("200 OK", [])
        return One()

    server = serve(app)
    with Client(server.server_port) as c:
        r = c.request("/")
    assert (r.header("Content-Length"), r.body) == ("6", b"single")


def test_other_clients_are_served_between_two_blocks(serve: Serve) -> None:
    stop = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes] | list[bytes]:
        if environ["PATH_INFO"] == "/ping":
            start_response("200 OK", [("Content-Length", "4")])
            return [b"pong"]
        start_response("200 OK", [("Content-Type", "text/event-stream")])

        def events() -> Iterator[bytes]:
            for i in range(400):  # 20 s at most
                if stop.is_set():
                    return
                yield f"data: {i}\n\n".encode()
                time.sleep(0.05)

        return events()

    server = serve(app)
    with socket.create_connection(("127.0.0.1", server.server_port)) as stream:
        stream.sendall(build("/events"))
        read_until(stream, b"data: 0\n\n")
        waits = []
        for _ in range(5):
            start = time.monotonic()
            with Client(server.server_port, timeout=5) as c:
                assert c.request("/ping").body == b"pong"
            waits.append(time.monotonic() - start)
        stop.set()
    # One block interval (0.05 s) plus scheduling; a server that let the stream run on
    # (64 blocks a turn) answered after 3 s and more.
    assert max(waits) < 1.0, waits


def test_a_long_app_call_is_named_once(serve: Serve, capfd: pytest.CaptureFixture[str]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        time.sleep(1.1)
        start_response("200 OK", [("Content-Length", "0")])
        return []

    server = serve(app)
    with Client(server.server_port) as c:
        c.request("/slow?a=1")
        c.request("/slow?a=2")
    lines = [line for line in capfd.readouterr().err.splitlines() if "held the server" in line]
    assert len(lines) == 1, lines
    assert lines[0].startswith("rswsgi: GET /slow held the server for 1.")
    assert "see rswsgi's docs/one-thread.md" in lines[0]


def test_a_start_response_the_app_keeps_does_not_keep_the_socket_open(serve: Serve) -> None:
    kept: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        kept.append(start_response)  # the server's object outlives the connection
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = serve(app)
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", server.server_port)) as s:
            s.sendall(build("/", headers=(("Connection", "close"),)))
            s.settimeout(5)
            data = b""
            while chunk := s.recv(65536):  # the server's close ends the read
                data += chunk
        assert data.endswith(b"\r\n\r\nok")
    assert len(kept) == 2
