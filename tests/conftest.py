"""Fixtures: a live in-process server, `python -m rswsgi.dev --reload`, and TLS
certificates. Helpers live in `support`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rswsgi import Server, make_server
from support.devserver import Reloader
from support.tls import Pem


@pytest.fixture(scope="session")
def pem(tmp_path_factory: pytest.TempPathFactory) -> Pem:
    """A trustme CA and a certificate chain for localhost issued under it, as PEM files."""
    return Pem(tmp_path_factory.mktemp("pem"))


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """`serve(app, **make_server_kwargs)` starts a live server on a port it chose (0) in a
    thread; the test reads it from `server.server_port`."""
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


@pytest.fixture
def serve_reload(tmp_path: Path) -> Iterator[Callable[..., Reloader]]:
    """`serve_reload(*args, cwd=tmp_path, env=None)` starts `python -m rswsgi.dev ARGS
    --reload` in `cwd`; it and every child it started are killed after the test."""
    started: list[Reloader] = []

    def start(*args: str, cwd: Path = tmp_path, env: dict[str, str] | None = None) -> Reloader:
        started.append(Reloader(cwd, *args, env=env))
        return started[-1]

    yield start
    for r in started:
        r.close()
