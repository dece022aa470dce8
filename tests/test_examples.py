"""End to end: each example served by `python -m rswsgi.dev` answers `GET /hello`."""

from __future__ import annotations

import hashlib
import json
import os
import socket

import pytest
from support.devserver import DevServer
from support.http import get, read_response
from support.waiting import eventually

GREETINGS = {
    "wsgiapp": b"Hello world from a simple WSGI application!\n",
    "flaskapp": b"Hello world from Flask!\n",
    "pyramidapp": b"Hello world from Pyramid!\n",
    "djangoapp": b"Hello world from Django!\n",
    "composed": b"Hello world from rswsgi!\n",
}


@pytest.mark.parametrize("name", sorted(GREETINGS))
def test_example_answers_hello(name: str) -> None:
    with DevServer(f"examples.{name}:app", "--quiet") as server:
        resp = get(server.port, "/hello")
    assert resp.version == "HTTP/1.1"
    assert resp.status == 200
    assert resp.header("date") is not None
    assert resp.header("content-length") is not None or resp.chunked
    assert resp.body == GREETINGS[name]


@pytest.fixture(scope="module")
def composed() -> DevServer:
    with DevServer("examples.composed:app") as server:
        yield server  # type: ignore[misc]


def test_composed_logs_environ_with_authorization_redacted(composed: DevServer) -> None:
    resp = get(composed.port, "/hello", {"Authorization": "Bearer s3cr3t-token"})
    assert resp.status == 200
    eventually(lambda: "HTTP_AUTHORIZATION" in composed.stderr(), "the environ logged")
    err = composed.stderr()
    assert "HTTP_AUTHORIZATION: '<redacted>'" in err
    assert "s3cr3t-token" not in err
    assert "PATH_INFO: '/hello'" in err


def test_composed_error_route_is_500_and_server_keeps_serving(composed: DevServer) -> None:
    resp = get(composed.port, "/boom")
    assert resp.status == 500
    assert resp.body == b"500 Internal Server Error"
    assert b"RuntimeError" not in resp.body
    assert get(composed.port, "/hello").status == 200
    assert "RuntimeError: boom" in composed.stderr()


def test_composed_reverses_by_grapheme(composed: DevServer) -> None:
    resp = get(composed.port, "/reverse")
    assert resp.status == 200
    assert resp.body.decode() == "👍🏽 dlröw olléh"
    assert int(resp.header("content-length")) == len(resp.body)


def test_composed_path_param_and_query(composed: DevServer) -> None:
    assert get(composed.port, "/hello/w%C3%B6rld").body == "Hello, wörld!\n".encode()
    resp = get(composed.port, "/search?q=rust&q=python&page=2")
    assert resp.body == b'{"q": ["rust", "python"], "page": ["2"]}'


def test_composed_flask_is_mounted_with_script_name(composed: DevServer) -> None:
    assert get(composed.port, "/flask/hello").body == b"Hello world from Flask!\n"
    resp = get(composed.port, "/flask/whereami")
    assert resp.body == b"SCRIPT_NAME=/flask PATH_INFO=/whereami\n"


def test_composed_unknown_path_404_and_wrong_method_405(composed: DevServer) -> None:
    assert get(composed.port, "/nope").status == 404
    resp = get(composed.port, "/hello", method="POST")
    assert resp.status == 405
    assert resp.header("allow") == "GET, HEAD"


def test_composed_keep_alive_serves_two_requests_on_one_connection(composed: DevServer) -> None:
    with socket.create_connection(("127.0.0.1", composed.port), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = read_response(sock)
            assert resp.status == 200
            assert resp.body == GREETINGS["composed"]


def test_django_reads_a_chunked_upload_past_the_spill_threshold() -> None:
    # Django reads wsgi.input up to CONTENT_LENGTH; a chunked upload of 3 MB (past the 1 MiB
    # in-memory threshold, so it comes from the temporary file) must arrive whole, framed as
    # waitress frames it: CONTENT_LENGTH set, no HTTP_TRANSFER_ENCODING.
    data = os.urandom(3_000_000)
    with DevServer("examples.djangoapp:app", "--quiet") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(
                b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            for i in range(0, len(data), 100_000):
                block = data[i : i + 100_000]
                sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            sock.sendall(b"0\r\n\r\n")
            resp = read_response(sock)
    assert resp.status == 200, resp.body
    assert json.loads(resp.body) == {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "CONTENT_LENGTH": str(len(data)),
        "HTTP_TRANSFER_ENCODING": None,
    }
