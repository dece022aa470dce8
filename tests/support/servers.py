"""Other people's servers (gunicorn, waitress, granian, werkzeug) in a subprocess, on a
port that is theirs from the start: a socket the test bound and hands over as an fd
(gunicorn `--bind fd://N`), port 0 and the `Serving on` line they log (waitress), or port
0 and the listening socket found among the process's own (granian, which logs port 0,
and `rswsgi.serve()`, which logs nothing): never a port number from a closed socket."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from . import ROOT
from .devserver import START, written
from .waiting import eventually

SERVING_ON = re.compile(r"Serving on https?://[^\s:/]+:(\d+)")
"""The line waitress logs (and `python -m rswsgi.dev` prints) once it listens."""

STOP = 15.0  # seconds for a graceful stop before the kill


def listening_socket() -> socket.socket:
    """A listening TCP socket on 127.0.0.1, on a port the OS chose, to hand to a server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@dataclass
class Running:
    """A server process that answers on `port`; `output()` is what it printed so far."""

    port: int
    proc: subprocess.Popen[bytes]
    output: Callable[[], str]


def listening_port(pid: int) -> int | None:
    """The TCP port a process `pid` or one of its children listens on (Linux: the
    socket inodes of its fds, looked up in /proc/net/tcp and tcp6), or `None` yet."""
    inodes = set()
    for proc in [pid, *_children(pid)]:
        try:
            fds = os.listdir(f"/proc/{proc}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{proc}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                return int(fields[1].rsplit(":", 1)[1], 16)
    return None


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@contextmanager
def running(
    argv: Callable[[str], list[str]],
    *,
    bind: Literal["fd", "log", "proc"],
    ready: Callable[[int], bool] = lambda port: True,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    within: float = START,
    **popen: Any,
) -> Iterator[Running]:
    """Run the server `argv(where)` (`popen`: more arguments for Popen) until the block
    ends (SIGTERM, its graceful stop; a kill after `STOP` s); yield it once
    `ready(port)`. `bind` says how the server gets its port:

    - `"fd"`: `where` is the number of an fd listening on 127.0.0.1 that the test bound
      and the server inherits;
    - `"log"`: `where` is `"0"`, and the port is read from the `Serving on` line;
    - `"proc"`, for a server that can do neither (granian, `rswsgi.serve()`): `where`
      is `"0"`, and the port is the one its process listens on (`listening_port`)."""
    with _running(argv, bind, ready, cwd, env, within, popen) as served:
        yield served


@contextmanager
def _running(
    argv: Callable[[str], list[str]],
    bind: str,
    ready: Callable[[int], bool],
    cwd: Path,
    env: dict[str, str] | None,
    within: float,
    popen: dict[str, Any],
) -> Iterator[Running]:
    sock = listening_socket() if bind == "fd" else None
    port: int | None = sock.getsockname()[1] if sock is not None else None
    where = str(sock.fileno()) if sock is not None else "0"
    with tempfile.TemporaryFile() as log:

        def output() -> str:
            return written(log)

        proc = subprocess.Popen(
            argv(where),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})),
            pass_fds=(sock.fileno(),) if sock is not None else (),
            **popen,
        )
        if sock is not None:
            sock.close()  # the server holds its own copy now
        try:

            def up() -> int | None:
                if proc.poll() is not None:
                    raise AssertionError(f"exited with {proc.returncode}:\n{output()}")
                found = port
                if found is None and bind == "log" and (m := SERVING_ON.search(output())):
                    found = int(m[1])
                if found is None and bind == "proc":
                    found = listening_port(proc.pid)
                try:
                    return found if found is not None and ready(found) else None
                except (OSError, EOFError):
                    return None

            try:
                found = eventually(up, f"{argv(where)} to answer", within)
            except AssertionError as e:
                raise AssertionError(f"{e}\n{output()}") from None
            yield Running(found, proc, output)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
