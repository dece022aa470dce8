"""A raw-socket HTTP/1.1 client and the one response parser every test reads with."""

from __future__ import annotations

import array
import fcntl
import socket
import ssl
import struct
import termios
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from .waiting import eventually

if TYPE_CHECKING:
    from typing import Self


@dataclass
class Response:
    """One parsed response: status line, headers as sent (name case kept), body.

    `body` is the decoded payload; for a chunked response `raw_body` holds the
    chunks as framed on the wire."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    raw_body: bytes = field(repr=False, default=b"")
    version: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    @property
    def chunked(self) -> bool:
        return (self.header("Transfer-Encoding") or "").lower() == "chunked"


def read_response(source: IO[bytes] | socket.socket, *, head: bool = False) -> Response:
    """Read exactly one response from a buffered reader or a socket: the head, then the
    body by Content-Length, chunked framing or until the server closes. `head`: the
    request was HEAD (no body follows). A socket is read through a reader of its own,
    so call this once per socket when responses may arrive back to back."""
    if isinstance(source, socket.socket):
        with source.makefile("rb") as reader:
            return read_response(reader, head=head)
    line = source.readline()
    if not line:
        raise EOFError("connection closed before a response")
    version, code, reason = (line.decode("latin-1").rstrip("\r\n").split(" ", 2) + [""])[:3]
    headers = []
    while True:
        h = source.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, value = h.decode("latin-1").rstrip("\r\n").split(":", 1)
        headers.append((name, value.strip()))
    resp = Response(int(code), reason, headers, version=version)
    cl = resp.header("Content-Length")
    if head or resp.status in (204, 304) or resp.status < 200:
        return resp
    if resp.chunked:
        raw = b""
        while True:
            size_line = source.readline()
            raw += size_line
            size = int(size_line.split(b";")[0], 16)
            data = source.read(size + 2)
            raw += data
            if size == 0:
                break
            resp.body += data[:-2]
        resp.raw_body = raw
    elif cl is not None:
        resp.body = source.read(int(cl))  # short if the server closed early
    else:
        resp.body = source.read()
    return resp


def build(
    path: str = "/",
    method: str = "GET",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    version: str = "HTTP/1.1",
) -> bytes:
    """The bytes of a request; `Host` and `Content-Length` added unless given."""
    lines = [f"{method} {path} {version}"]
    if version == "HTTP/1.1" and not any(n.lower() == "host" for n, _ in headers):
        lines.append("Host: test")
    lines += [f"{n}: {v}" for n, v in headers]
    if body and not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Client:
    """One raw TCP connection to the server on 127.0.0.1, reading responses by hand;
    over TLS with `context` (the server is asked for as `localhost`)."""

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
        return read_response(self.file, head=head)

    def reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0), as a client that vanishes mid-response."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def at_eof(self) -> bool:
        """True when the server has closed the connection (nothing more to read)."""
        return self.file.read(1) == b""


def get(
    port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> Response:
    """One HTTP/1.1 request with `Connection: close` to 127.0.0.1:`port`, and its response."""
    sent = (("Host", f"127.0.0.1:{port}"), *(headers or {}).items(), ("Connection", "close"))
    with Client(port, timeout=10) as c:
        return c.request(path, method, sent)


def queued(sock: socket.socket) -> int:
    """Bytes that have arrived on `sock` and wait in the kernel for the test to read."""
    count = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, count)
    return count[0]


def wait_until_stalled(sock: socket.socket) -> int:
    """Wait until a response the test does not read stops arriving on `sock`: bytes wait
    in its receive buffer and their count holds still over 0.1 s. The server has then
    filled every buffer between it and the test, and is blocked writing the rest.
    Returns the bytes waiting. (POSIX: FIONREAD.)"""
    seen: list[int] = []

    def still() -> int | None:
        seen.append(queued(sock))
        if len(seen) >= 3 and seen[-1] > 0 and seen[-1] == seen[-3]:
            return seen[-1]
        time.sleep(0.05)
        return None

    return eventually(still, "the unread response to fill the buffers")
