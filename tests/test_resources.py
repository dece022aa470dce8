"""What the server costs: file descriptors, memory under big transfers, the client that
vanishes, and the process-level behaviour a developer sees (Ctrl-C, colors, --quiet).

The big tests run `python -m rswsgi.dev` in a subprocess and read its
`/proc/<pid>` files, so they are Linux-only.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rswsgi import Server
from support import apps
from support.devserver import DevServer
from support.http import Client, build, wait_until_stalled
from support.waiting import eventually

Serve = Callable[..., Server]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

MiB = 1024 * 1024

APP = textwrap.dedent(
    """
    BLOCK = b"z" * 65536

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/up":
            stream, n = environ["wsgi.input"], 0
            while block := stream.read(65536):
                n += len(block)
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [str(n).encode()]
        if path == "/down":
            count = int(environ["QUERY_STRING"])
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return (BLOCK for _ in range(count))
        if path == "/missing":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"nope"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    """
)


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Callable[..., DevServer]]:
    (tmp_path / "resapp.py").write_text(APP)
    started: list[DevServer] = []

    def start(*args: str) -> DevServer:
        server = DevServer("resapp:app", "--quiet", *args, cwd=tmp_path).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


def pid_of(server: DevServer) -> int:
    assert server.proc is not None
    return server.proc.pid


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.M)
    assert match, status
    return int(match.group(1)) * 1024


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class PeakRss:
    """Samples a process's RSS in a thread; `peak` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))


def request(port: int, raw: bytes) -> bytes:
    with Client(port, timeout=30) as c:
        c.send(raw)
        return c.response().body


def upload(port: int, total: int) -> bytes:
    block = b"u" * MiB
    with Client(port, timeout=60) as c:
        c.send(build("/up", "POST", headers=(("Content-Length", str(total)),)))
        for _ in range(total // MiB):
            c.sock.sendall(block)
        return c.response().body


def download(port: int, blocks: int) -> int:
    """Reads a chunked response of `blocks` 64 KiB chunks; returns the body length."""
    with Client(port, timeout=60) as c:
        c.send(build(f"/down?{blocks}", headers=(("Connection", "close"),)))
        assert c.file.readline().startswith(b"HTTP/1.1 200")
        while c.file.readline() != b"\r\n":
            pass
        total = 0
        while size := int(c.file.readline().split(b";")[0], 16):
            total += len(c.file.read(size))
            assert c.file.read(2) == b"\r\n"
        return total


# --- memory -----------------------------------------------------------------------------


def test_200mb_up_and_down_in_bounded_memory(dev: Callable[..., DevServer]) -> None:
    server = dev()
    pid = pid_of(server)
    # Warm up: the first requests allocate buffers and import what the app needs.
    assert upload(server.port, 4 * MiB) == str(4 * MiB).encode()
    assert download(server.port, 64) == 64 * 65536
    before = rss_bytes(pid)
    with PeakRss(pid) as rss:
        assert upload(server.port, 200 * MiB) == str(200 * MiB).encode()
        assert download(server.port, 3200) == 200 * MiB
    grew = rss.peak - before
    assert grew < 20 * MiB, f"RSS grew by {grew / MiB:.1f} MiB moving 200 MiB each way"


# --- file descriptors -------------------------------------------------------------------


def test_clients_that_vanish_mid_request_leave_no_fd_and_no_memory(
    dev: Callable[..., DevServer],
) -> None:
    server = dev()
    pid = pid_of(server)
    assert request(server.port, build("/")) == b"ok"
    fds, rss = fd_count(pid), rss_bytes(pid)
    linger_reset = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # SO_LINGER 0: close sends RST
    for batch in range(4):
        socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(50)]
        for i, s in enumerate(socks):
            s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhal"[: 20 + i])
        for i, s in enumerate(socks):
            if (batch + i) % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_reset)
            s.close()
    eventually(
        lambda: fd_count(pid) <= fds, f"the fds back to {fds}: {os.listdir(f'/proc/{pid}/fd')}"
    )
    assert request(server.port, build("/")) == b"ok"
    assert rss_bytes(pid) - rss < 4 * MiB


# --- a client gone mid-response ---------------------------------------------------------


def test_client_gone_mid_response_closes_the_iterable_and_logs_one_line(
    serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    it = apps.CloseCounter([b"x" * 65536], endless=True)
    server = serve(it.app)
    c = Client(server.server_port)
    c.send(build("/endless"))
    assert c.file.readline().startswith(b"HTTP/1.1 200")
    c.reset()
    eventually(lambda: it.closes > 0, "close()")
    assert it.closes == 1
    with Client(server.server_port) as other:  # the server keeps going
        other.send(build("/", "HEAD"))
        assert other.response(head=True).status == 200
    lines = [line for line in capsys.readouterr().err.splitlines() if "went away" in line]
    assert len(lines) == 1, lines
    assert "GET /endless" in lines[0]


# --- Ctrl-C -----------------------------------------------------------------------------


def test_ctrl_c_closes_idle_connections_and_finishes_the_response_in_flight(
    dev: Callable[..., DevServer],
) -> None:
    server = dev()
    assert server.proc is not None
    with Client(server.port, timeout=5) as idle, Client(server.port, timeout=5) as busy:
        assert idle.request("/").body == b"ok"  # now an idle keep-alive connection
        # 8 MiB, far more than the socket buffers, then a pipelined request.
        busy.send(build("/down?128") + build("/"))
        assert busy.file.readline().startswith(b"HTTP/1.1 200")
        wait_until_stalled(busy.sock)  # the server is now blocked writing to it
        server.proc.send_signal(signal.SIGINT)
        assert idle.at_eof()  # closed at once, without waiting for the grace period
        rest = busy.file.read()  # the in-flight response completes, then the connection closes
    assert rest.endswith(b"\r\n0\r\n\r\n")
    assert rest.count(b"HTTP/1.1") == 0  # the pipelined request was not started
    assert server.proc.wait(5) == 0


def test_second_ctrl_c_ends_the_grace_period_at_once(dev: Callable[..., DevServer]) -> None:
    # A grace period far longer than the test may wait, and a response the
    # client never reads: only the second Ctrl-C can end the wait.
    server = dev("--shutdown-grace-ms", "60000")
    assert server.proc is not None
    with Client(server.port, timeout=5) as busy:
        busy.send(build("/down?128"))
        assert busy.file.readline().startswith(b"HTTP/1.1 200")
        wait_until_stalled(busy.sock)  # the server is now blocked writing to it
        server.proc.send_signal(signal.SIGINT)
        with pytest.raises(subprocess.TimeoutExpired):
            server.proc.wait(1.5)  # still finishing the response in flight
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(10) == 0


# --- developer experience ---------------------------------------------------------------

LOG_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    from resapp import app
    from rswsgi import make_server
    from support.http import Client

    server = make_server("127.0.0.1", 0, app)
    t = threading.Thread(target=server.serve_forever)
    t.start()
    with Client(server.server_port) as c:
        c.request("/")
        c.request("/missing")
    server.shutdown()
    t.join()
    server.server_close()
    """
)


def run_with_tty_stderr(tmp_path: Path, env: dict[str, str]) -> str:
    import pty

    (tmp_path / "resapp.py").write_text(APP)
    tests = Path(__file__).parent
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", LOG_SCRIPT],
        cwd=tmp_path,
        stderr=slave,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{tests}", **env},
    )
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        out += data
    os.close(master)
    assert proc.wait(30) == 0, out
    return out.decode("utf-8", "replace")


def test_access_log_is_colored_on_a_terminal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    out = run_with_tty_stderr(tmp_path, {"NO_COLOR": ""} if "NO_COLOR" in env else {})
    lines = out.splitlines()
    ok = next(line for line in lines if '"GET / ' in line)
    missing = next(line for line in lines if "/missing" in line)
    assert "\x1b[" not in ok  # 200: plain
    assert missing.startswith("\x1b[33m") and missing.endswith("\x1b[0m")  # 4xx: yellow


def test_no_color_turns_colors_off(tmp_path: Path) -> None:
    out = run_with_tty_stderr(tmp_path, {"NO_COLOR": "1"})
    assert "/missing" in out
    assert "\x1b[" not in out


def test_quiet_silences_banner_and_access_log(dev: Callable[..., DevServer]) -> None:
    server = dev()  # the fixture passes --quiet
    assert request(server.port, build("/")) == b"ok"
    assert server.stop() == 0
    assert server.stdout() == ""
    assert server.stderr() == ""


def test_limit_flags_reach_the_server(dev: Callable[..., DevServer]) -> None:
    server = dev("--max-body-bytes", "10", "--max-header-count", "3")
    with Client(server.port) as c:
        c.send(build("/up", "POST", body=b"x" * 11))
        assert c.response().status == 413
    with Client(server.port) as c:
        assert c.request("/", headers=(("A", "1"), ("B", "2"))).status == 200
        assert c.request("/", headers=(("A", "1"), ("B", "2"), ("C", "3"))).status == 431


@pytest.mark.parametrize("value", ["-1", "ten"])
def test_bad_limit_flag_is_a_usage_error(value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rswsgi.dev", "--idle-timeout", value],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "--idle-timeout" in done.stderr
