"""Run `python -m rswsgi.dev` as a real subprocess and talk HTTP/1.1 to it over a socket.

Shared by the end-to-end tests; nothing here imports rswsgi, so the tests
exercise exactly what a user's shell would run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Response:
    """One parsed HTTP response: status line, headers (lower-cased names), body bytes."""

    version: str
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunked: bool = False


def read_response(sock: socket.socket, *, head: bool = False) -> Response:
    """Read exactly one response from `sock` (Content-Length, chunked or until close)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"connection closed before a full head: {buf!r}")
        buf += data
    head_bytes, rest = buf.split(b"\r\n\r\n", 1)
    lines = head_bytes.decode("latin-1").split("\r\n")
    version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    resp = Response(version, int(status), reason, headers)
    if head or resp.status in (204, 304) or 100 <= resp.status < 200:
        return resp
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed inside the body")
            rest += data
        resp.body = rest[:n]
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        resp.chunked = True
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += sock.recv(65536)
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                rest += sock.recv(65536)
            body += rest[:size]
            rest = rest[size + 2 :]
            if size == 0:
                break
        resp.body = body
    else:
        while data := sock.recv(65536):
            rest += data
        resp.body = rest
    return resp


def get(
    port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> Response:
    """Send one HTTP/1.1 request with `Connection: close` and read its response."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}"
            "Connection: close\r\n\r\n".encode("latin-1")
        )
        return read_response(sock, head=method == "HEAD")


class DevServer:
    """`python -m rswsgi.dev ARGS --port P` in a subprocess, started and stopped by `with`.

    stderr goes to a temporary file so that a chatty server never blocks on a
    full pipe; read it with :meth:`stderr`.
    """

    def __init__(self, *args: str, port: int | None = None, cwd: Path = ROOT) -> None:
        self.port = port or free_port()
        self.args = [sys.executable, "-m", "rswsgi.dev", *args, "--port", str(self.port)]
        self.cwd = cwd
        self._err: IO[bytes] = tempfile.TemporaryFile()
        self._out: IO[bytes] = tempfile.TemporaryFile()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DevServer:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            self.args, cwd=self.cwd, stdout=self._out, stderr=self._err, env=env
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.stderr()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not listen within 30 s: {self.stderr()}")

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._err.close()
        self._out.close()

    def stop(self) -> int | None:
        """SIGINT, as Ctrl-C would; kill after 10 s. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def stderr(self) -> str:
        """Everything the server wrote to stderr so far."""
        self._err.seek(0)
        return self._err.read().decode("utf-8", "replace")

    def stdout(self) -> str:
        """Everything the server wrote to stdout so far."""
        self._out.seek(0)
        return self._out.read().decode("utf-8", "replace")
