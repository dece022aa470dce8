"""Send the same raw requests to rswsgi, gunicorn and waitress; report where rswsgi stands alone.

Each server runs as a user would start it, once, in a subprocess on a free
127.0.0.1 port, serving `echo_app.app`: `python -m rswsgi.dev`, gunicorn
(sync worker, `-w 1`) and waitress (`--threads 1`). Every case is sent on
a fresh connection, and the first final response is read (1xx skipped) until
the end of its head.

What is compared, per case: the status (or `closed`: the connection ended
with no response; `timeout`: none within `READ_TIMEOUT`), every key of the
environ the app saw, and the body it read. Left out or normalized, because
they name the server or the connection rather than the request:
`REMOTE_PORT`; `SERVER_PORT` (each server's own port, shown as
`<port>`); `SERVER_SOFTWARE` (compared as set or not, `<set>`);
extension keys of one server (a dotted key outside `wsgi.`, such as
`gunicorn.socket` or `waitress.client_disconnected`).

A *difference* is a field where rswsgi's value differs from both peers'.
Environ and body fields are compared when all three servers called the app;
where one refused the request, its status says so, and the other two
environs alone would make every key of the one peer's environ a difference.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cases import Case
from livedev import ROOT, free_port

APP = "tests.differential.echo_app:app"
PEERS = ("gunicorn", "waitress")
SERVERS = ("rswsgi", *PEERS)
READ_TIMEOUT = 3.0  # seconds for a response to start, per case
START_TIMEOUT = 30.0  # seconds for a server to listen

ABSENT = "absent"  # the environ had no such key


def command(server: str, port: int) -> list[str]:
    """How a user starts `server` on `port` (`python -m` keeps it in this venv)."""
    if server == "rswsgi":
        return [sys.executable, "-m", "rswsgi.dev", APP, "--port", str(port), "--quiet"]
    if server == "gunicorn":
        bind = f"127.0.0.1:{port}"
        return [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", "1", "-b", bind, APP]
    if server == "waitress":
        listen = f"--listen=127.0.0.1:{port}"
        return [sys.executable, "-m", "waitress", listen, "--threads=1", APP]
    raise ValueError(f"server={server!r}")


@contextmanager
def serving(server: str) -> Iterator[int]:
    """Start `server` serving the echo app; yield its port once it listens; stop it."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(command(server, port), cwd=ROOT, stdout=log, stderr=log, env=env)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{server} exited: {log.read().decode(errors='replace')}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{server} did not listen") from None
                    time.sleep(0.05)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass(frozen=True)
class Seen:
    """What one server did with one case."""

    status: str
    environ: dict[str, Any] | None = None  # None: the app was not called
    body: str | None = None


def send(port: int, case: Case) -> Seen:
    """Send `case` on a new connection and read its first final response head."""
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT) as sock:
        try:
            sock.sendall(case.raw)
            if case.half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed before taking it all: read that answer
        buf = b""
        try:
            while True:
                end = buf.find(b"\r\n\r\n")
                if end >= 0:
                    head, buf = buf[:end], buf[end + 4 :]
                    status = head.split(b" ", 2)[1].decode("latin-1")
                    if not status.startswith("1"):
                        return seen(status, head)
                    continue
                data = sock.recv(65536)
                if not data:
                    return Seen("closed" if not buf else "garbage")
                buf += data
        except TimeoutError:
            return Seen("timeout")
        except ConnectionResetError:
            return Seen("closed" if not buf else "garbage")


def seen(status: str, head: bytes) -> Seen:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-echo":
            echo = json.loads(base64.b64decode(value.strip()))
            return Seen(status, echo["environ"], echo["body"])
    return Seen(status)


def normalize(environ: dict[str, Any], port: int) -> dict[str, Any]:
    """The environ without what names the server or the connection (see the module doc)."""
    out = {}
    for key, value in environ.items():
        if key == "REMOTE_PORT" or ("." in key and not key.startswith("wsgi.")):
            continue
        if key == "SERVER_PORT" and value == str(port):
            value = "<port>"
        if key == "SERVER_SOFTWARE" and isinstance(value, str) and value:
            value = "<set>"
        out[key] = value
    return out


def observe(ports: dict[str, int], cases: list[Case]) -> dict[str, dict[str, Seen]]:
    """`{case id: {server: Seen}}` for every case, each server's environ normalized.

    The servers are driven at the same time, one thread each, every case in
    order on each (one connection at a time, as gunicorn's one sync worker
    and waitress's one thread serve them).
    """

    def run(port: int) -> list[Seen]:
        out = []
        for case in cases:
            s = send(port, case)
            if s.environ is not None:
                s = Seen(s.status, normalize(s.environ, port), s.body)
            out.append(s)
        return out

    with ThreadPoolExecutor(len(ports)) as pool:
        seen_by = dict(zip(ports, pool.map(run, ports.values()), strict=True))
    return {case.id: {s: seen_by[s][i] for s in ports} for i, case in enumerate(cases)}


@dataclass(frozen=True)
class Difference:
    """rswsgi's value of `field` in `case` differs from both peers' (see the module doc)."""

    case: str
    field: str
    rswsgi: str
    gunicorn: str
    waitress: str


def show(value: Any) -> str:
    """A value as the README table prints it."""
    return value if value == ABSENT else json.dumps(value, ensure_ascii=False)


def differences(observed: dict[str, dict[str, Seen]]) -> list[Difference]:
    """Every (case, field) where rswsgi stands alone; fields in the order status, environ, body."""
    found = []
    for case, row in observed.items():
        values: dict[str, dict[str, str]] = {"status": {s: row[s].status for s in SERVERS}}
        envs = {s: row[s].environ for s in SERVERS}
        if all(env is not None for env in envs.values()):
            for key in sorted({k for env in envs.values() for k in env or {}}):
                values[key] = {s: show((envs[s] or {}).get(key, ABSENT)) for s in SERVERS}
            values["body"] = {s: show(row[s].body) for s in SERVERS}
        for field, by in values.items():
            if all(by["rswsgi"] != by[p] for p in PEERS):
                found.append(Difference(case, field, by["rswsgi"], by["gunicorn"], by["waitress"]))
    return found
