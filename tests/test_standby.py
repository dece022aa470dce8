"""The `--reload` parent's next child, started ahead (`rswsgi._standby`): it imports the
installed libraries the serving child imported, runs no user code before it is told to
go, serves the next reload, starts over cold when a preloaded file changed, and never
outlives its parent.

The preloading rules are checked in fresh interpreters (a `preload` changes the
importing process's `sys.modules`); the handover against the real parent and child.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from support.devserver import Reloader
from support.waiting import eventually
from test_reload import _alive, write_app

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads a process's children from /proc"
)


def children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def standbys(parent: int) -> list[int]:
    """The children of `parent` that are standbys (still waiting to be told to go)."""
    found = []
    for pid in children(parent):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"rswsgi._standby" in cmdline:
            found.append(pid)
    return found


def preload_in_a_fresh_interpreter(tmp_path: Path, script: str) -> dict[str, object]:
    """Runs `script` (which sets `result`) after `from rswsgi import _standby` in a new
    interpreter whose `sys.path` holds `tmp_path / "lib"` and `tmp_path / "user"`."""
    code = (
        textwrap.dedent(
            """\
        import json, sys
        sys.path[:0] = [LIB, USER]
        from rswsgi import _standby
        result = {}
        """
        )
        + textwrap.dedent(script)
        + "\nprint(json.dumps(result))\n"
    )
    code = code.replace("LIB", repr(str(tmp_path / "lib"))).replace(
        "USER", repr(str(tmp_path / "user"))
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
    return loaded


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A fake site-packages (`lib/`) and a user folder (`user/`): `libgood` imports
    fine, `libuser` imports a user module, `libbroken` raises, `libafter` comes last."""
    lib, user = tmp_path / "lib", tmp_path / "user"
    lib.mkdir()
    user.mkdir()
    (lib / "libgood.py").write_text("VALUE = 1\n")
    (lib / "libuser.py").write_text("import usermod\n")
    (lib / "libbroken.py").write_text("raise RuntimeError('apps are not loaded yet')\n")
    (lib / "libafter.py").write_text("VALUE = 2\n")
    (user / "usermod.py").write_text("open(__file__ + '.ran', 'w').close()\n")
    return tmp_path


def test_preloading_imports_installed_modules_in_order_and_stops_at_a_failure(
    library: Path,
) -> None:
    result = preload_in_a_fresh_interpreter(
        library,
        """
        _standby.preload(["libgood", "libbroken", "libafter"], (LIB + "/",))
        result["loaded"] = [m for m in ("libgood", "libbroken", "libafter") if m in sys.modules]
        """,
    )
    assert result["loaded"] == ["libgood"]


def test_preloading_runs_no_user_code(library: Path) -> None:
    result = preload_in_a_fresh_interpreter(
        library,
        """
        _standby.preload(["libgood", "libuser", "libafter"], (LIB + "/",))
        result["loaded"] = [m for m in ("libgood", "libuser", "usermod", "libafter")
                            if m in sys.modules]
        import usermod  # after preloading, user code imports as usual
        result["after"] = "usermod" in sys.modules
        """,
    )
    assert result == {"loaded": ["libgood"], "after": True}
    # The user module ran once: after preloading, never during.
    assert (library / "user" / "usermod.py.ran").exists()


def test_a_preloaded_file_that_changed_makes_the_standby_stale(library: Path) -> None:
    result = preload_in_a_fresh_interpreter(
        library,
        """
        import os
        seen = _standby.preload(["libgood"], (LIB + "/",))
        result["fresh"] = _standby.stale(seen)
        path = sys.modules["libgood"].__file__
        os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 10**9))
        result["touched"] = _standby.stale(seen)
        """,
    )
    assert result == {"fresh": False, "touched": True}


@pytest.fixture
def served(tmp_path: Path, serve_reload: Callable[..., Reloader]) -> tuple[Reloader, int]:
    """`app:app` under --reload once it serves b"v1", and the pid of its standby."""
    write_app(tmp_path / "app.py", "v1")
    r = serve_reload("app:app")
    r.served(b"v1")
    [standby] = eventually(lambda: standbys(r.proc.pid) or None, "a standby")
    return r, standby


def test_the_next_reload_is_served_by_the_standby(
    tmp_path: Path, served: tuple[Reloader, int]
) -> None:
    r, standby = served
    # It has imported the libraries, and none of the user's code.
    assert r.importers() != [] and standby not in r.importers()
    # Saved whole (written aside, then renamed over), so that a busy machine cannot let
    # the reloader see the truncated file first and hand it to this standby.
    write_app(tmp_path / "app.py.new", "v2")
    os.replace(tmp_path / "app.py.new", tmp_path / "app.py")
    r.served(b"v2")
    assert r.importers()[-1] == standby, (standby, r.importers(), r.stderr())
    # ... and the next standby waits for the next change.
    eventually(lambda: [p for p in standbys(r.proc.pid) if p != standby] or None, "another")


def test_no_standby_outlives_its_parent(served: tuple[Reloader, int]) -> None:
    r, standby = served
    r.proc.kill()  # SIGKILL: the parent cannot stop anything itself
    r.proc.wait()
    eventually(lambda: not _alive(standby) or None, "the standby to exit", within=10)


def test_ctrl_c_stops_the_standby_too(served: tuple[Reloader, int]) -> None:
    r, standby = served
    r.proc.send_signal(signal.SIGINT)  # as Ctrl-C sends the parent
    assert r.proc.wait(timeout=15) == 0
    eventually(lambda: not _alive(standby) or None, "the standby to exit", within=10)
    assert "Traceback" not in r.stderr(), r.stderr()


def test_a_ctrl_c_while_a_child_starts_raises_nothing_in_it(tmp_path: Path) -> None:
    """The terminal's SIGINT reaches a child (or standby) the moment it is spawned,
    before Python runs a line of it: it must wait (blocked) and then be ignored."""
    write_app(tmp_path / "app.py", "v1")
    script = textwrap.dedent(
        """\
        import signal, subprocess, sys
        from rswsgi import _reload
        sock = _reload.listen("127.0.0.1", 0)
        child = _reload._Child(["app:app"], sock, preload=[])
        child.proc.send_signal(signal.SIGINT)  # at once: Python has not started yet
        child.proc.send_signal(signal.SIGINT)
        try:
            status = child.proc.wait(1.0)
        except subprocess.TimeoutExpired:
            status = "waiting"  # still waiting to be told to go
        child.stop(5)
        print(status)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["waiting"], (done.stdout, done.stderr)
    assert "KeyboardInterrupt" not in done.stderr, done.stderr
