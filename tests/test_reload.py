"""`python -m rswsgi.dev --reload`: a real parent and child, a real socket, real file edits.

Each test serves an app from its own `tmp_path` (the working directory of the
server). The app appends its process id to `imported-by.txt` when imported, so a
test can tell which processes imported it. Waits are deadlines, never timing asserts.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import rswsgi
from rswsgi._rswsgi import _FileWatcher
from support.devserver import Reloader
from support.http import get, read_response
from support.waiting import DEADLINE, eventually

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="--reload needs POSIX fds")

APP = """\
import os, time
with open("imported-by.txt", "a") as f:
    f.write(f"{{os.getpid()}}\\n")

def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        open("slow-started", "w").close()
        time.sleep(1.5)
    if environ["PATH_INFO"] == "/held":  # until the test lets it go
        open("held-started", "w").close()
        deadline = time.monotonic() + 20
        while not os.path.exists("release") and time.monotonic() < deadline:
            time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [{body!r}.encode()]
"""


def write_app(path: Path, body: str) -> None:
    path.write_text(APP.format(body=body))


@pytest.fixture
def v1(tmp_path: Path, serve_reload: Callable[..., Reloader]) -> Reloader:
    """`app:app` under --reload, once it serves b"v1"."""
    write_app(tmp_path / "app.py", "v1")
    r = serve_reload("app:app")
    r.served(b"v1")
    return r


def test_an_edited_module_is_served_after_a_reload(tmp_path: Path, v1: Reloader) -> None:
    r = v1
    write_app(tmp_path / "app.py", "v2")
    r.served(b"v2")
    assert "rswsgi: reloading: app.py" in r.stderr()
    banner = r.stdout().splitlines()[0]
    assert banner == f"Serving on http://127.0.0.1:{r.port} (reloading on changes; Ctrl-C to quit)"
    # Two children imported the app; the parent never did.
    importers = r.importers()
    assert len(set(importers)) == 2, importers
    assert r.proc.pid not in importers


def test_a_module_outside_the_working_directory_is_watched_too(
    tmp_path: Path, serve_reload: Callable[..., Reloader]
) -> None:
    # The child reports the files it imported; lib/ is only on PYTHONPATH.
    lib, project = tmp_path / "lib", tmp_path / "project"
    lib.mkdir()
    project.mkdir()
    (lib / "greeting.py").write_text("TEXT = b'hello'\n")
    (project / "app.py").write_text(
        "from greeting import TEXT\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [TEXT]\n"
    )
    pythonpath = os.pathsep.join(filter(None, [str(lib), os.environ.get("PYTHONPATH")]))
    r = serve_reload("app:app", cwd=project, env={"PYTHONPATH": pythonpath})
    r.served(b"hello")
    (lib / "greeting.py").write_text("TEXT = b'bonjour'\n")
    r.served(b"bonjour")
    assert f"rswsgi: reloading: {(lib / 'greeting.py').resolve()}" in r.stderr()


def test_a_save_the_new_child_was_started_for_does_not_stop_it(tmp_path: Path) -> None:
    # One save can reach the parent twice: through a child's report (the file changed
    # since the child started) and through the watcher once its debounce ends. The
    # second sighting must not stop the child the reload started.
    from rswsgi._reload import _serve_until_change, _version
    from rswsgi._watching import Watching, WatchOptions

    watching = Watching(WatchOptions(), str(tmp_path))
    helper, other = tmp_path.resolve() / "helper.py", tmp_path.resolve() / "other.py"
    helper.write_text("TEXT = b'second'\n")
    loaded = {str(helper): _version(str(helper))}  # the reload was made for this save
    other.write_text("TEXT = b'other'\n")  # a save after it
    child = SimpleNamespace(reported=lambda: None, proc=SimpleNamespace(poll=lambda: None))
    assert _serve_until_change(child, watching, None, loaded) == [str(other)]


def test_a_broken_module_is_answered_at_once_until_fixed(tmp_path: Path, v1: Reloader) -> None:
    r = v1
    (tmp_path / "app.py").write_text("def app(:\n")
    eventually(lambda: get(r.port, "/").status == 500 or None, "a 500 at once")
    assert "importing 'app' failed: SyntaxError" in r.stderr()
    assert r.proc.poll() is None, r.stderr()
    write_app(tmp_path / "app.py", "v3")
    r.served(b"v3")


@contextmanager
def in_flight(r: Reloader, folder: Path, path: str) -> Iterator[socket.socket]:
    """The connection of a `GET path` (`/slow` or `/held`) that the app is serving."""
    with socket.create_connection(("127.0.0.1", r.port), timeout=DEADLINE) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        started = folder / f"{path[1:]}-started"
        eventually(lambda: started.exists() or None, f"the {path} request")
        yield sock


def test_a_request_in_flight_finishes_on_the_old_code(tmp_path: Path, v1: Reloader) -> None:
    r = v1
    with in_flight(r, tmp_path, "/slow") as sock:
        write_app(tmp_path / "app.py", "v2")  # the reload's SIGTERM lands inside the app
        resp = read_response(sock)
    assert (resp.status, resp.body) == (200, b"v1")
    r.served(b"v2")


def test_the_next_child_serves_while_the_old_one_finishes(tmp_path: Path, v1: Reloader) -> None:
    r = v1
    with in_flight(r, tmp_path, "/held") as sock:
        write_app(tmp_path / "app.py", "v2")
        # The old child has not exited (its request is held), and v2 is served.
        r.served(b"v2")
        (tmp_path / "release").touch()
        resp = read_response(sock)
    assert (resp.status, resp.body) == (200, b"v1")
    assert len(r.importers()) == 2


def test_ctrl_c_stops_the_parent_and_its_child(tmp_path: Path, v1: Reloader) -> None:
    r = v1
    [child] = r.importers()
    r.proc.send_signal(signal.SIGINT)
    assert r.proc.wait(10) == 0
    assert "Shutting down." in r.stdout()
    eventually(lambda: not _alive(child) or None, "the child to exit", within=10)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", r.port), timeout=1).close()


def test_a_child_stops_when_its_parent_is_killed(tmp_path: Path, v1: Reloader) -> None:
    r = v1
    [child] = r.importers()
    r.proc.kill()  # SIGKILL: the parent cannot stop its child itself
    r.proc.wait()
    eventually(lambda: not _alive(child) or None, "the orphan to exit", within=10)


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie nobody reaped yet does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_the_demo_app_reloads_too(tmp_path: Path, serve_reload: Callable[..., Reloader]) -> None:
    r = serve_reload()
    assert b"rswsgi" in eventually(r.body, "the demo app")


# The pieces, in-process.


def test_make_server_serves_an_inherited_socket_and_leaves_it_open() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]

        def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [str(environ["SERVER_PORT"]).encode()]

        with rswsgi.make_server("127.0.0.1", 1, app, quiet=True, fd=sock.fileno()) as server:
            assert server.server_port == port
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                server.handle_request()
                assert read_response(client).body == str(port).encode()
        assert sock.getsockname()[1] == port  # still ours, still open
        with pytest.raises(OSError, match="not a stream"):
            with socket.socket(type=socket.SOCK_DGRAM) as udp:
                rswsgi.make_server("127.0.0.1", 0, app, fd=udp.fileno())


def test_the_watcher_reports_a_changed_file(tmp_path: Path) -> None:
    watched, other = tmp_path / "watched.txt", tmp_path / "other.txt"
    watched.write_text("1")
    watcher = _FileWatcher([watched], debounce_secs=0.05)
    assert watcher.wait(0) is None
    other.write_text("1")
    watched.write_text("2")
    watched.write_text("3")
    assert watcher.wait(DEADLINE) == [str(watched.resolve())]
    assert watcher.wait(0.3) is None
    with pytest.raises(ValueError, match="timeout_secs"):
        watcher.wait(-1)
    with pytest.raises(FileNotFoundError):
        watcher.add(tmp_path / "no" / "such.py")
