"""Send the same raw requests to rswsgi, gunicorn and waitress; report where rswsgi stands alone.

Each server runs as a user would start it, once, in a subprocess on its own
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

A response is read the same way on every interpreter, whatever the peer's
bytes: the head ends at the first empty line, and a line ends at LF with
or without a CR before it (RFC 9112 §2.2 lets a recipient accept a bare LF).
So a peer whose head is not well-formed is still compared on what can be
parsed, and what cannot is named instead of compared: `Seen.malformed`
lists the faults of a head that was parsed anyway (gunicorn 27 builds its
error responses with `textwrap.dedent`, which since CPython 3.14 drops the
CR of a whitespace-only line: its 400s end their head with CRLF LF there,
CRLF CRLF before), and a status line that is not `HTTP/d.d NNN ...` is recorded as
`unparsable: ...` with the bytes.

A *difference* is a field where rswsgi's value differs from both peers'.
Environ and body fields are compared when all three servers called the app;
where one refused the request, its status says so, and the other two
environs alone would make every key of the one peer's environ a difference.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from cases import Case
from support import servers

APP = "tests.differential.echo_app:app"
PEERS = ("gunicorn", "waitress")
SERVERS = ("rswsgi", *PEERS)
READ_TIMEOUT = 3.0  # seconds for a response to start, per case
START_TIMEOUT = 30.0  # seconds for a server to listen

ABSENT = "absent"  # the environ had no such key


def command(server: str) -> Callable[[str], list[str]]:
    """How a user starts `server` (`python -m` keeps it in this venv), given where it
    listens: a socket the test bound for gunicorn (`fd://N`), port 0 for rswsgi and
    waitress, which print the port they got."""
    if server == "rswsgi":
        return lambda port: [sys.executable, "-m", "rswsgi.dev", APP, "--port", port]
    if server == "gunicorn":
        return lambda fd: [
            sys.executable, "-m", "gunicorn", "-k", "sync", "-w", "1", "-b", f"fd://{fd}", APP
        ]  # fmt: skip
    if server == "waitress":
        return lambda port: [
            sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=1", APP
        ]  # fmt: skip
    raise ValueError(f"server={server!r}")


@contextmanager
def serving(server: str) -> Iterator[int]:
    """Start `server` serving the echo app; yield its port once it listens; stop it."""
    bind: Literal["fd", "log"] = "fd" if server == "gunicorn" else "log"
    with servers.running(command(server), bind=bind, within=START_TIMEOUT) as served:
        yield served.port


@dataclass(frozen=True)
class Seen:
    """What one server did with one case."""

    status: str
    environ: dict[str, Any] | None = None  # None: the app was not called
    body: str | None = None
    # Faults of a head parsed anyway (see the module doc); not compared.
    malformed: tuple[str, ...] = ()


# RFC 9112 §4: HTTP-version SP 3DIGIT SP [ reason-phrase ] (gunicorn echoes a request's
# HTTP/1.2, which is still a status line).
STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3})(?: .*)?")


def head_end(buf: bytes) -> tuple[int, int] | None:
    """`(end of the head, start of the body)` once `buf` holds an empty line, else None.

    Lines end at LF, a CR before it being optional (RFC 9112 §2.2).
    """
    start = 0
    while (nl := buf.find(b"\n", start)) >= 0:
        if buf[start:nl] in (b"", b"\r"):
            return start, nl + 1
        start = nl + 1
    return None


def head_lines(head: bytes) -> tuple[list[bytes], tuple[str, ...]]:
    """The lines of a head (through `head_end`), and its faults named."""
    lines = head.split(b"\n")[:-1]
    bare = sum(1 for line in lines if not line.endswith(b"\r"))
    # The empty line that ends the head is not in `head`: look at what followed it.
    faults = (f"{bare} line(s) end with a bare LF",) if bare else ()
    return [line.removesuffix(b"\r") for line in lines], faults


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
                if (end := head_end(buf)) is not None:
                    head, blank, buf = buf[: end[0]], buf[end[0] : end[1]], buf[end[1] :]
                    lines, faults = head_lines(head)
                    if blank == b"\n":
                        faults += ("the head ends with a bare LF",)
                    first = lines[0] if lines else b""
                    m = STATUS_LINE.fullmatch(first)
                    if m is None:
                        return Seen(f"unparsable: {first[:60]!r}", malformed=faults)
                    status = m[1].decode("ascii")
                    if not status.startswith("1"):
                        return seen(status, lines[1:], faults)
                    continue
                data = sock.recv(65536)
                if not data:
                    return Seen("closed" if not buf else f"unparsable: {buf[:60]!r}")
                buf += data
        except TimeoutError:
            return Seen("timeout")
        except ConnectionResetError:
            return Seen("closed" if not buf else f"unparsable: {buf[:60]!r}")


def seen(status: str, fields: list[bytes], faults: tuple[str, ...] = ()) -> Seen:
    for line in fields:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-echo":
            echo = json.loads(base64.b64decode(value.strip()))
            return Seen(status, echo["environ"], echo["body"], faults)
    return Seen(status, malformed=faults)


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
                s = Seen(s.status, normalize(s.environ, port), s.body, s.malformed)
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
    """A value as the differences table (docs/differences.md) prints it."""
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
