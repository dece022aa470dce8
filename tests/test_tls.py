"""HTTPS: `make_server(cert=..., key=...)` and `python -m rswsgi.dev --cert/--key`.

Certificates come from `trustme` (a test CA, an intermediate, and a leaf for
`localhost`, `127.0.0.1` and `::1`); clients verify them with
`ssl.create_default_context` trusting that CA. The adhoc certificate is checked with
verification off, by its fingerprint and names. Waits are deadlines, never timing asserts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.validate import validator

import pytest
import trustme
from rswsgi import Server, make_server, serve
from support.devserver import DevServer, run_cli
from support.http import Client, build, wait_until_stalled
from support.tls import Pem
from support.waiting import eventually

Serve = Callable[..., Server]


# --- certificates and clients -----------------------------------------------------------


def unverified() -> ssl.SSLContext:
    """A client context that accepts any certificate (for the self-signed adhoc one)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def sha256_colons(der: bytes) -> str:
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def peer_der(port: int, context: ssl.SSLContext) -> bytes:
    with Client(port, context=context) as c:
        der = c.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
        assert der is not None
        return der


def environ_app(environ: dict[str, Any], start_response: Any) -> Any:
    keys = ("wsgi.url_scheme", "HTTPS", "REMOTE_PORT", "PATH_INFO", "CONTENT_LENGTH")
    body = json.dumps({k: environ.get(k) for k in keys}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


# --- the protocol -----------------------------------------------------------------------


def test_a_verified_client_gets_an_https_environ_and_alpn(serve: Serve, pem: Pem) -> None:
    # str and PathLike both; the environ passes wsgiref's validator (url_scheme 'https').
    server = serve(validator(environ_app), cert=str(pem.cert), key=pem.key)
    assert repr(server).startswith("<rswsgi.Server listening on https://")
    assert server.certificate_fingerprint == sha256_colons(pem.leaf_der)
    ctx = pem.context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with Client(server.server_port, context=ctx) as c:
        tls = c.sock
        assert isinstance(tls, ssl.SSLSocket)
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        env = json.loads(c.request("/x").body)
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTPS"] == "on"
    assert env["PATH_INFO"] == "/x"


def test_plain_http_environ_has_no_https_key(serve: Serve) -> None:
    server = serve(environ_app)
    assert server.certificate_fingerprint is None
    with Client(server.server_port) as c:
        env = json.loads(c.request("/").body)
    assert env["wsgi.url_scheme"] == "http" and env["HTTPS"] is None


def test_an_rsa_key_serves_too(serve: Serve, tmp_path: Path) -> None:
    rsa = Pem(tmp_path, trustme.KeyType.RSA)
    server = serve(environ_app, cert=rsa.cert, key=rsa.key)
    with Client(server.server_port, context=rsa.context()) as c:
        assert c.request("/").status == 200


def test_keep_alive_and_pipelining_over_tls(serve: Serve, pem: Pem) -> None:
    server = serve(environ_app, cert=pem.cert, key=pem.key)
    with Client(server.server_port, context=pem.context()) as c:
        ports = {json.loads(c.request(f"/{i}").body)["REMOTE_PORT"] for i in range(3)}
        assert len(ports) == 1  # one connection for all three
        c.send(build("/a") + build("/b") + build("/c"))  # one TLS write, three requests
        paths = [json.loads(c.response().body)["PATH_INFO"] for _ in range(3)]
    assert paths == ["/a", "/b", "/c"]


def test_large_bodies_both_ways_and_write_over_tls(serve: Serve, pem: Pem) -> None:
    upload = os.urandom(3 * 1024 * 1024 + 5)  # spills to a temporary file
    block = os.urandom(65536)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/up":
            digest = hashlib.sha256(environ["wsgi.input"].read()).hexdigest()
            start_response("200 OK", [])
            return [digest.encode()]
        if environ["PATH_INFO"] == "/write":
            write = start_response("200 OK", [])
            write(b"written, ")
            return [b"then returned"]
        start_response("200 OK", [])
        return (block for _ in range(80))  # 5 MiB, chunked

    server = serve(app, cert=pem.cert, key=pem.key)
    with Client(server.server_port, context=pem.context(), timeout=20) as c:
        assert (
            c.request("/up", "POST", body=upload).body
            == hashlib.sha256(upload).hexdigest().encode()
        )
        down = c.request("/down")
        assert down.header("Transfer-Encoding") == "chunked" and down.body == block * 80
        assert c.request("/write").body == b"written, then returned"


def test_limits_over_tls(serve: Serve, pem: Pem) -> None:
    server = serve(
        environ_app,
        cert=pem.cert,
        key=pem.key,
        max_header_bytes=1024,
        max_request_line_bytes=100,
        max_body_bytes=100,
        header_timeout_secs=1,
        idle_timeout_secs=1,
    )
    ctx = pem.context()
    with Client(server.server_port, context=ctx) as c:
        assert c.request("/", headers=(("X-Big", "x" * 2000),)).status == 431
        assert c.at_eof()
    with Client(server.server_port, context=ctx) as c:
        assert c.request("/" + "x" * 200).status == 414
    with Client(server.server_port, context=ctx) as idle:
        assert idle.request("/").status == 200
        assert idle.at_eof()  # closed after the idle timeout
    with Client(server.server_port, context=ctx) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n")
        assert c.response().status == 413  # before any of the body was sent
    with Client(server.server_port, context=ctx) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        r = c.response()
        assert r.status == 408 and r.header("Connection") == "close"


def test_an_unread_response_over_tls_does_not_stall_other_clients(serve: Serve, pem: Pem) -> None:
    block = b"x" * 65536

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [])
        if environ["PATH_INFO"] == "/small":
            return [b"small"]
        return (block for _ in range(200))  # 12.5 MiB, far more than socket buffers

    server = serve(app, cert=pem.cert, key=pem.key)
    ctx = pem.context()
    with Client(server.server_port, context=ctx, timeout=20) as reader:
        reader.send(build("/big"))  # and not read yet
        with Client(server.server_port, context=ctx, timeout=5) as c:
            assert c.request("/small").body == b"small"
        assert reader.response().body == block * 200


def test_the_server_ends_tls_with_close_notify(serve: Serve, pem: Pem) -> None:
    # Without the alert, a client cannot tell the end of a close-delimited body from a
    # truncation (RFC 8446 §6.1); Python raises SSLEOFError when ragged EOFs are not suppressed.
    server = serve(environ_app, cert=pem.cert, key=pem.key)
    raw = socket.create_connection(("127.0.0.1", server.server_port), timeout=5)
    with pem.context().wrap_socket(
        raw, server_hostname="localhost", suppress_ragged_eofs=False
    ) as s:
        s.sendall(build("/", version="HTTP/1.0"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK") and b'"https"' in data


# --- clients that do not finish a handshake ---------------------------------------------


def test_silent_and_half_handshake_clients_stall_nothing(serve: Serve, pem: Pem) -> None:
    server = serve(environ_app, cert=pem.cert, key=pem.key, header_timeout_secs=1)
    port = server.server_port
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    half = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        # The first bytes of a ClientHello record, and nothing more.
        half.sendall(b"\x16\x03\x01\x02\x00\x01")
        with Client(port, context=pem.context(), timeout=5) as c:
            assert c.request("/").status == 200
        # The half handshake is closed after the header timeout...
        assert half.recv(1) == b""
        # ...while the silent ones are idle connections, kept (until the idle timeout).
        for s in silent:
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1)
        # And one of them may still start its handshake and be served.
        silent[0].setblocking(True)
        silent[0].settimeout(5)
        with pem.context().wrap_socket(silent.pop(0), server_hostname="localhost") as late:
            late.sendall(build("/late"))
            assert b"/late" in late.recv(65536)
    finally:
        for s in [*silent, half]:
            s.close()


def test_plain_http_to_the_tls_port_gets_a_plain_400_and_is_logged_once(
    serve: Serve, pem: Pem, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(environ_app, cert=pem.cert, key=pem.key)
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as s:
        s.sendall(build("/", headers=(("Cookie", "c" * 6000),)))  # more than one TLS read
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close\r\n" in answer
    # The browser shows the body: it says what to do, as Go's net/http does.
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"use https:// in the URL" in body
    assert f"Content-Length: {len(body)}\r\n".encode() in head + b"\r\n"
    with Client(server.server_port, context=pem.context()) as c:  # serving goes on
        assert c.request("/").status == 200
    lines = [line for line in capsys.readouterr().err.splitlines() if "plain HTTP" in line]
    assert len(lines) == 1, lines
    assert "use https://" in lines[0]


def test_garbage_and_untrusting_clients_are_closed_and_logged(
    serve: Serve, pem: Pem, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(environ_app, cert=pem.cert, key=pem.key)
    port = server.server_port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        assert answer == b"" or answer.startswith(b"\x15")  # nothing, or a TLS alert record
    # A client that does not trust the certificate (no CA configured) gives up.
    with pytest.raises(ssl.SSLCertVerificationError):
        Client(port, context=ssl.create_default_context())
    with Client(port, context=pem.context()) as c:
        assert c.request("/").status == 200
    err = [line for line in capsys.readouterr().err.splitlines() if "TLS with" in line]
    assert len(err) == 2, err


# --- the adhoc certificate --------------------------------------------------------------


def test_adhoc_certificate_names_and_fingerprint(serve: Serve) -> None:
    x509 = pytest.importorskip("cryptography.x509")
    server = serve(environ_app, cert="adhoc")
    der = peer_der(server.server_port, unverified())
    assert server.certificate_fingerprint == sha256_colons(der)
    names = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    dns = names.value.get_values_for_type(x509.DNSName)
    ips = {str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)}
    assert dns == ["localhost"] and ips == {"127.0.0.1", "::1"}
    # Each server makes its own.
    other = serve(environ_app, cert="adhoc")
    assert other.certificate_fingerprint != server.certificate_fingerprint


# --- bad arguments ----------------------------------------------------------------------


def bad_inputs(pem: Pem, tmp: Path) -> list[tuple[str, Any, Any, type[Exception], str]]:
    """(id, cert, key, exception, the argument the message must start with)."""
    other = Pem(tmp / "other")
    junk = tmp / "junk.pem"
    junk.write_text("not a certificate\n")
    missing = tmp / "missing.pem"
    return [
        ("missing cert", missing, pem.key, FileNotFoundError, "cert="),
        ("missing key", pem.cert, missing, FileNotFoundError, "key="),
        ("cert is a directory", tmp, pem.key, IsADirectoryError, "cert="),
        ("key does not match", pem.cert, other.key, ValueError, "key="),
        ("key without cert", None, pem.key, ValueError, "key="),
        ("cert without key", pem.cert, None, ValueError, "key="),
        ("adhoc with a key", "adhoc", pem.key, ValueError, "key="),
        ("no certificate in the file", junk, pem.key, ValueError, "cert="),
        ("a certificate as the key", pem.cert, pem.cert, ValueError, "key="),
        ("not a path", 42, pem.key, ValueError, "cert="),
    ]


def test_bad_cert_and_key_arguments_raise_naming_the_argument(pem: Pem, tmp_path: Path) -> None:
    for name, cert, key, exc, arg in bad_inputs(pem, tmp_path):
        with pytest.raises(exc) as info:
            make_server("127.0.0.1", 0, environ_app, cert=cert, key=key)
        message = str(info.value) if exc is ValueError else info.value.strerror
        assert str(message).startswith(arg), f"{name}: {message}"
        assert "\n" not in str(message), name
    # serve() passes them on, and raises before it serves.
    with pytest.raises(FileNotFoundError):
        serve(environ_app, port=0, cert=tmp_path / "missing.pem", key=pem.key)


def test_bad_cert_and_key_flags_are_one_line_and_exit_2(pem: Pem, tmp_path: Path) -> None:
    for name, cert, key, _, arg in bad_inputs(pem, tmp_path):
        if isinstance(cert, int):
            continue  # argparse gives strings only
        args = [*(["--cert", str(cert)] if cert else []), *(["--key", str(key)] if key else [])]
        for reload in ([], ["--reload"]):  # the --reload parent checks before any child
            done = run_cli("tests.cli_app:app", *args, *reload)
            assert done.returncode == 2, f"{name} {reload}: {done.stderr}"
            lines = done.stderr.splitlines()
            assert len(lines) == 1, f"{name} {reload}: {done.stderr}"
            assert lines[0].startswith("python -m rswsgi.dev: error: "), lines[0]
            flag = arg.rstrip("=")
            assert flag in lines[0], f"{name}: {lines[0]}"
            assert done.stdout == "", name


# --- the dev CLI --------------------------------------------------------------------------


def banner_fingerprint(server: DevServer) -> str:
    eventually(lambda: "fingerprint" in server.stdout(), "the fingerprint")
    lines = server.stdout().splitlines()
    assert lines[0] == f"Serving on https://127.0.0.1:{server.port} (Ctrl-C to quit)", lines
    assert lines[1].startswith("Self-signed certificate for localhost, 127.0.0.1 and ::1; "), lines
    return lines[1].rsplit(" ", 1)[1]


def test_composed_example_over_adhoc_https_as_a_new_user_runs_it() -> None:
    # python -m rswsgi.dev examples.composed:app --cert adhoc; curl -k https://127.0.0.1:PORT/hello
    with DevServer("examples.composed:app", "--cert", "adhoc") as server:
        fingerprint = banner_fingerprint(server)
        assert sha256_colons(peer_der(server.port, unverified())) == fingerprint
        with Client(server.port, context=unverified()) as c:
            r = c.request("/hello")
        assert r.status == 200 and b"Hello" in r.body
        curl = shutil.which("curl")
        if curl:
            done = subprocess.run(
                [curl, "-sk", f"https://127.0.0.1:{server.port}/hello"],
                capture_output=True,
                timeout=30,
                check=False,
            )
            assert done.returncode == 0 and done.stdout == r.body


def test_cert_and_key_files_from_the_cli(pem: Pem) -> None:
    with DevServer("tests.cli_app:app", "--cert", str(pem.cert), "--key", str(pem.key)) as server:
        with Client(server.port, context=pem.context()) as c:
            assert c.request("/").body == b"fixture app"
        assert server.stdout().splitlines() == [
            f"Serving on https://127.0.0.1:{server.port} (Ctrl-C to quit)"
        ]


STREAM_APP = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    if environ["PATH_INFO"] == "/down":
        return (b"x" * 65536 for _ in range(int(environ["QUERY_STRING"])))
    return [b"ok"]
"""


@pytest.mark.skipif(os.name != "posix", reason="signal delivery to a child")
def test_ctrl_c_over_tls_finishes_the_response_in_flight_and_closes_the_rest(
    tmp_path: Path,
) -> None:
    (tmp_path / "streamapp.py").write_text(STREAM_APP)
    with DevServer("streamapp:app", "--quiet", "--cert", "adhoc", cwd=tmp_path) as server:
        assert server.proc is not None
        ctx = unverified()
        with Client(server.port, context=ctx) as idle, Client(server.port, context=ctx) as busy:
            half = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            half.sendall(b"\x16\x03\x01")  # a handshake that never finishes
            assert idle.request("/").body == b"ok"  # now an idle keep-alive connection
            busy.send(build("/down?128"))  # 8 MiB, far more than the socket buffers
            assert busy.file.readline().startswith(b"HTTP/1.1 200")
            wait_until_stalled(busy.sock)  # the server is now blocked writing to it
            server.proc.send_signal(signal.SIGINT)
            sent = time.monotonic()
            assert idle.at_eof()  # closed at once
            assert half.recv(1) == b""
            half.close()
            rest = busy.file.read()  # the in-flight response completes
            assert rest.endswith(b"\r\n0\r\n\r\n")
            assert server.proc.wait(5) == 0
            assert time.monotonic() - sent < 5


# --- --reload ---------------------------------------------------------------------------

RELOAD_APP = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [{body!r}]
"""


def reload_served(port: int, ctx: ssl.SSLContext, body: bytes) -> bytes:
    """The peer certificate (DER) of the first answer `body` over TLS, polling."""

    def peer_of_answer() -> bytes | None:
        try:
            with Client(port, context=ctx, timeout=5) as c:
                if c.request("/").body == body:
                    der = c.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
                    assert der is not None
                    return der
        except (OSError, EOFError):
            pass
        return None

    return eventually(peer_of_answer, f"{body!r} served over TLS")


@pytest.fixture
def reloading(tmp_path: Path) -> Iterator[Callable[..., DevServer]]:
    started: list[DevServer] = []

    def start(*args: str) -> DevServer:
        (tmp_path / "reloadapp.py").write_text(RELOAD_APP.format(body=b"one"))
        server = DevServer("reloadapp:app", "--reload", *args, cwd=tmp_path).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__()


@pytest.mark.skipif(os.name != "posix", reason="--reload needs POSIX fds")
def test_reload_keeps_one_adhoc_certificate(
    tmp_path: Path, reloading: Callable[..., DevServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # where the parent puts the certificate's files
    server = reloading("--cert", "adhoc")
    fingerprint = banner_fingerprint_reload(server)
    first = reload_served(server.port, unverified(), b"one")
    (tmp_path / "reloadapp.py").write_text(RELOAD_APP.format(body=b"two"))
    second = reload_served(server.port, unverified(), b"two")
    assert first == second, "a reload made a new certificate"
    assert sha256_colons(first) == fingerprint
    (folder,) = temp.glob("rswsgi-adhoc-*")
    assert folder.stat().st_mode & 0o777 == 0o700
    assert server.stop() == 0
    assert not folder.exists(), "the adhoc key was left on disk"


@pytest.mark.skipif(os.name != "posix", reason="--reload needs POSIX fds")
def test_reload_serves_cert_files_in_every_child(
    tmp_path: Path, pem: Pem, reloading: Callable[..., DevServer]
) -> None:
    server = reloading("--cert", str(pem.cert), "--key", str(pem.key))
    reload_served(server.port, pem.context(), b"one")
    (tmp_path / "reloadapp.py").write_text(RELOAD_APP.format(body=b"two"))
    reload_served(server.port, pem.context(), b"two")


def banner_fingerprint_reload(server: DevServer) -> str:
    eventually(lambda: "fingerprint" in server.stdout(), "the fingerprint")
    lines = server.stdout().splitlines()
    assert lines[0].startswith(f"Serving on https://127.0.0.1:{server.port} (reloading"), lines
    return lines[1].rsplit(" ", 1)[1]
