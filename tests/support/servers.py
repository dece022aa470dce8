"""Other people's servers (gunicorn, waitress, granian, werkzeug) in a subprocess, on a
port that is theirs from the start where they allow it: a socket the test bound and
hands over as an fd (gunicorn `--bind fd://N`), or port 0 and the `Serving on` line
they log (waitress)."""

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


class AddressInUse(Exception):
    """The server could not bind the port it was given (only where the test picks it)."""


@contextmanager
def running(
    argv: Callable[[str], list[str]],
    *,
    bind: Literal["fd", "log", "closed-port"],
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
    - `"closed-port"`, for a server that can do neither (granian): `where` is a port
      that was free a moment ago. Another process may take it in between, so when the
      server fails saying the address is in use, it is started again on another one."""
    for attempt in range(3):
        try:
            with _running(argv, bind, ready, cwd, env, within, popen) as served:
                yield served
            return
        except AddressInUse:
            if attempt == 2:
                raise


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
    sock = listening_socket()
    port: int | None = sock.getsockname()[1]
    where = str(sock.fileno()) if bind == "fd" else "0" if bind == "log" else str(port)
    if bind != "fd":
        sock.close()
    if bind == "log":
        port = None
    with tempfile.TemporaryFile() as log:

        def output() -> str:
            return written(log)

        proc = subprocess.Popen(
            argv(where),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})),
            pass_fds=(sock.fileno(),) if bind == "fd" else (),
            **popen,
        )
        sock.close()  # with "fd", the server holds its own copy now
        try:

            def up() -> int | None:
                if proc.poll() is not None:
                    if bind == "closed-port" and "in use" in output():
                        raise AddressInUse(output())
                    raise AssertionError(f"exited with {proc.returncode}:\n{output()}")
                found = port
                if found is None and (m := SERVING_ON.search(output())):
                    found = int(m[1])
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
