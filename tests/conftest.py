"""Live-server fixtures and a raw-socket HTTP/1.1 client for the server tests."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme
from rswsgi import Server, make_server

if TYPE_CHECKING:
    from typing import Self


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw_body: bytes = field(repr=False, default=b"")

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None


class Client:
    """One raw TCP connection to the server, reading responses by hand; over TLS with
    `context` (the server is asked for as `localhost`)."""

    def __init__(
        self, port: int, timeout: float = 5.0, context: ssl.SSLContext | None = None
    ) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = (
            sock if context is None else context.wrap_socket(sock, server_hostname="localhost")
        )
        self.file = self.sock.makefile("rb")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(
        self,
        path: str = "/",
        method: str = "GET",
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
        version: str = "HTTP/1.1",
    ) -> Response:
        self.send(build(path, method, headers, body, version))
        return self.response(head=method == "HEAD")

    def response(self, head: bool = False) -> Response:
        line = self.file.readline()
        if not line:
            raise EOFError("connection closed before a response")
        _, code, reason = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers = []
        while True:
            h = self.file.readline()
            if h in (b"\r\n", b""):
                break
            name, value = h.decode("latin-1").rstrip("\r\n").split(":", 1)
            headers.append((name, value.strip()))
        resp = Response(int(code), reason, headers, b"")
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if head or resp.status in (204, 304) or resp.status < 200:
            return resp
        if te == "chunked":
            raw = b""
            while True:
                size_line = self.file.readline()
                raw += size_line
                size = int(size_line.split(b";")[0], 16)
                data = self.file.read(size + 2)
                raw += data
                if size == 0:
                    break
                resp.body += data[:-2]
            resp.raw_body = raw
        elif cl is not None:
            resp.body = self.file.read(int(cl))
        else:
            resp.body = self.file.read()
        return resp

    def at_eof(self) -> bool:
        """True when the server has closed the connection (nothing more to read)."""
        return self.file.read(1) == b""


def build(
    path: str = "/",
    method: str = "GET",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    version: str = "HTTP/1.1",
) -> bytes:
    lines = [f"{method} {path} {version}"]
    if version == "HTTP/1.1" and not any(n.lower() == "host" for n, _ in headers):
        lines.append("Host: test")
    lines += [f"{n}: {v}" for n, v in headers]
    if body and not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Pem:
    """A CA, and a certificate chain (leaf, intermediate) and key issued under it, as files."""

    def __init__(self, folder: Path, key_type: trustme.KeyType = trustme.KeyType.ECDSA) -> None:
        self.ca = trustme.CA()
        leaf = self.ca.create_child_ca().issue_cert(
            "localhost", "127.0.0.1", "::1", key_type=key_type
        )
        folder.mkdir(parents=True, exist_ok=True)
        self.cert = folder / "chain.pem"
        self.key = folder / "key.pem"
        self.cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(self.key))
        self.leaf_der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())

    def context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA (the intermediate must be sent)."""
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx


@pytest.fixture(scope="session")
def pem(tmp_path_factory: pytest.TempPathFactory) -> Pem:
    """A trustme CA and a certificate chain for localhost issued under it, as PEM files."""
    return Pem(tmp_path_factory.mktemp("pem"))


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """`serve(app, **make_server_kwargs)` starts a live server on a free port in a thread."""
    running: list[tuple[Server, threading.Thread]] = []

    def start(app: Any, **kwargs: Any) -> Server:
        kwargs.setdefault("quiet", True)
        server = make_server("127.0.0.1", 0, app, **kwargs)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return server

    yield start
    for server, thread in running:
        # shutdown() waits for serve_forever; a stuck server must fail the test, not hang it.
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        thread.join(5)
        assert not thread.is_alive(), "serve_forever did not return after shutdown()"
        stopper.join(5)
        server.server_close()
