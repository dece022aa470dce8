"""Ctrl-C and SIGTERM with an app call in flight, as a user meets them.

`python -m rswsgi.dev` runs in its own process group, so that `os.killpg` does what
Ctrl-C at a terminal does: every process of the group gets SIGINT (with `--reload`,
the parent and its child). The first signal lets the app call in flight and its
response finish within `--shutdown-grace-ms`, raising nothing inside the app; a second
one, or the end of the grace, stops it at once. The app tells the test what it is
doing through files (`started`, one `.` per 50 ms of work), so the test waits on
conditions, never on the clock.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import default_sigint
from support.devserver import DevServer
from support.http import read_response
from support.waiting import DEADLINE, eventually

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups and signals")

APP = """\
import time

def app(environ, start_response):
    # `started` says the call has begun; each `.` in `work` is 50 ms more of it.
    with open("started", "a") as f:
        f.write(environ["PATH_INFO"] + "\\n")
    end = time.monotonic() + float(environ["QUERY_STRING"])
    while time.monotonic() < end:
        time.sleep(0.05)
        with open("work", "a") as f:
            f.write(".")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"done\\n"]
"""


class Served(DevServer):
    """`python -m rswsgi.dev app:app ARGS` in `cwd`, leading its own process group."""

    def __init__(self, cwd: Path, *args: str) -> None:
        super().__init__("app:app", *args, cwd=cwd, start_new_session=True)
        self.tls = "--cert" in args
        self.start()

    def connect(self) -> socket.socket:
        """A new connection (TLS when the server has a certificate)."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE)
        if self.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # the adhoc certificate
            sock = context.wrap_socket(sock, server_hostname="localhost")
        return sock

    def request(self, seconds: float) -> socket.socket:
        """Sends `GET /slow?seconds`; returns the socket to read the answer from."""
        sock = self.connect()
        sock.sendall(f"GET /slow?{seconds} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        eventually(lambda: (self.cwd / "started").exists() or None, "the app call to start")
        return sock

    def work(self) -> int:
        try:
            return len((self.cwd / "work").read_text())
        except FileNotFoundError:
            return 0

    def ctrl_c(self) -> None:
        """What Ctrl-C at a terminal does: SIGINT to the whole process group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def send(self, signum: signal.Signals) -> None:
        """The signal to the server's process only (`kill -TERM PID`)."""
        self.proc.send_signal(signum)

    def close(self) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # never leave a child behind
        except ProcessLookupError:
            pass
        self.proc.wait()
        super().close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    (tmp_path / "app.py").write_text(APP)
    started: list[Served] = []

    def start(*args: str) -> Served:
        started.append(Served(tmp_path, *args))
        return started[-1]

    yield start
    for s in started:
        s.close()


MODES = {
    "http": (),
    "https": ("--cert", "adhoc"),
    "http-reload": ("--reload",),
    "https-reload": ("--reload", "--cert", "adhoc"),
}
HOW = ["ctrl-c", "sigterm"]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("mode", MODES)
def test_the_app_call_in_flight_and_its_response_finish(
    serve: Callable[..., Served], mode: str, how: str
) -> None:
    # A grace with room for a busy machine: the 0.4 s call needs far less.
    server = serve(*MODES[mode], "--shutdown-grace-ms", "10000")
    sock = server.request(0.4)
    if how == "ctrl-c":
        server.ctrl_c()
    else:
        server.send(signal.SIGTERM)
    with sock:
        resp = read_response(sock)
        assert (resp.status, resp.body) == (200, b"done\n")
        assert sock.recv(1) == b""
    assert server.proc.wait(DEADLINE) == 0
    err = server.stderr()
    assert '"GET /slow?0.4 HTTP/1.1" 200 5' in err, err  # the access log shows it
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "Shutting down." in server.stdout()


@pytest.mark.parametrize("mode", MODES)
def test_a_second_ctrl_c_exits_at_once(serve: Callable[..., Served], mode: str) -> None:
    server = serve(*MODES[mode], "--shutdown-grace-ms", "60000")
    sock = server.request(60)
    server.ctrl_c()
    # The app goes on working after the first signal (nothing was raised inside it)...
    seen = server.work()
    eventually(lambda: server.work() > seen + 2 or None, "the app to go on working")
    server.ctrl_c()
    # ...and the second one ends it long before its 60 s are up.
    assert server.proc.wait(DEADLINE) == 0
    with sock:
        assert sock.recv(1) == b""  # no response: cut off
    assert "Shutting down." in server.stdout()


@pytest.mark.parametrize("mode", MODES)
def test_an_app_call_longer_than_the_grace_is_stopped_at_its_end(
    serve: Callable[..., Served], mode: str
) -> None:
    server = serve(*MODES[mode], "--shutdown-grace-ms", "2000")
    sock = server.request(60)
    server.ctrl_c()
    seen = server.work()
    eventually(lambda: server.work() > seen + 2 or None, "the app to go on working")
    # One Ctrl-C: the 60 s call is cut when the grace is over, as by a second one.
    assert server.proc.wait(DEADLINE) == 0
    with sock:
        assert sock.recv(1) == b""
    assert "Shutting down." in server.stdout()


# Where the client of a connection is when the server is told to stop: whether one
# request was answered on it before, and what it has sent of the next. (A new
# connection that has sent nothing is waited for a short while after its accept:
# timed, so the connection layer's tests check it, with the clock in their hands.)
ARRIVING = {
    "new-connection": (False, b"GET /late?0 HTTP/1.1\r\n"),
    "kept-alive": (True, b"GET /late?0 HTTP/1.1\r\n"),
}


@pytest.mark.parametrize("arriving", ARRIVING)
@pytest.mark.parametrize("mode", MODES)
def test_a_request_arriving_as_the_server_stops_is_answered(
    serve: Callable[..., Served], mode: str, arriving: str
) -> None:
    # A reloading server stops its child this way at each save: a browser's request
    # that reached the old child as it stopped must be answered, not reset.
    server = serve(*MODES[mode], "--shutdown-grace-ms", "10000")
    kept_alive, first_part = ARRIVING[arriving]
    late = server.connect()
    if kept_alive:
        late.sendall(b"GET /first?0 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(late).status == 200
    late.sendall(first_part)
    # A connection made after it is answered: the server has accepted `late` by then
    # (in order) and read what it sent.
    idle = server.connect()
    idle.sendall(b"GET /idle?0 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(idle).status == 200
    server.send(signal.SIGTERM)
    # The stop has begun: a kept-alive connection with nothing sent closes at once.
    with idle:
        assert idle.recv(1) == b""
    rest = b"GET /late?0 HTTP/1.1\r\n"[len(first_part) :] + b"Host: x\r\n\r\n"
    with late:
        late.sendall(rest)
        resp = read_response(late)
        assert (resp.status, resp.body) == (200, b"done\n")
        assert resp.header("connection") == "close"
        assert late.recv(1) == b""
    assert server.proc.wait(DEADLINE) == 0


# --- the library: Server.serve_forever() and handle_request() on the main thread --------

LIBRARY_SCRIPT = """\
import signal, socket, sys, threading
from rswsgi import make_server

seen = []

def app(environ, start_response):
    # Ctrl-C while the app runs: nothing is raised here, the call goes on.
    seen.append((signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)))
    signal.raise_signal(signal.SIGINT)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"answered"]

def client(port, got):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        got.append(data)

for call in ("serve_forever", "handle_request"):
    seen.clear()
    server = make_server("127.0.0.1", 0, app, quiet=True)
    got = []
    t = threading.Thread(target=client, args=(server.server_port, got))
    t.start()
    try:
        getattr(server, call)()
        print(call, "returned")
    except KeyboardInterrupt:
        print(call, "raised KeyboardInterrupt")
    t.join()
    server.server_close()
    (during_int, during_term), = seen
    print(call, "answered" if got[0].endswith(b"answered") else got)
    print(call, "SIGINT replaced while serving:", during_int is not signal.default_int_handler)
    print(call, "SIGTERM left alone:", during_term is signal.SIG_DFL)
    print(call, "SIGINT back after:", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""


def test_serve_forever_and_handle_request_finish_the_call_then_raise() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LIBRARY_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=default_sigint,  # the app's SIGINT must not be ignored from birth
    )
    assert done.returncode == 0, done.stderr
    for call in ("serve_forever", "handle_request"):
        assert done.stdout.count(f"{call} ") == 5, done.stdout
        assert f"{call} raised KeyboardInterrupt" in done.stdout
        assert f"{call} answered" in done.stdout
        assert f"{call} SIGINT replaced while serving: True" in done.stdout
        assert f"{call} SIGTERM left alone: True" in done.stdout
        assert f"{call} SIGINT back after: True" in done.stdout
    assert "Traceback" not in done.stderr, done.stderr
