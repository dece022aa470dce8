"""The edit-save-look loop under `python -m rswsgi.dev --reload`: what is watched (templates,
static folders, `.env`, `--reload-include/--reload-exclude`, polling), live reload wired
through the parent and child, and a broken module answered at once with its traceback.

Real parent and child processes in a `tmp_path`, real edits; every wait is a deadline.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.devserver import DevServer, Reloader, run_cli
from support.http import get
from support.waiting import eventually

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="--reload needs POSIX fds")

ServeReload = Callable[..., Reloader]

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

FLASK_APP = """\
import os
from flask import Flask, render_template
with open("imported-by.txt", "a") as f:
    f.write(f"{os.getpid()}\\n")
flask_app = Flask(__name__)
ENV = open(".env").read()  # as python-dotenv would, at import

@flask_app.route("/")
def index():
    return render_template("index.html")

@flask_app.route("/env")
def env():
    return ENV

@flask_app.route("/boom")
def boom():
    raise RuntimeError("a view <failed>")

app = flask_app.wsgi_app
"""

PAGE = '<html><head><link rel="stylesheet" href="/static/style.css"></head><body>{}</body></html>'


@pytest.fixture
def flask_project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(FLASK_APP)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text(PAGE.format("<p>v1</p>"))
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "style.css").write_text("p { color: red }\n")
    (tmp_path / ".env").write_text("A=1\n")
    return tmp_path


def has(text: str) -> Callable[[bytes | None], bool]:
    return lambda body: body is not None and text.encode() in body


def served_with(r: Reloader, text: str, path: str = "/") -> bytes:
    return eventually(lambda: b if has(text)(b := r.body(path)) else None, repr(text))


class Stream:
    """An open live-reload event stream: the events as `(event, data)`."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock.sendall(b"GET /__rswsgi__/live-reload HTTP/1.1\r\nHost: x\r\n\r\n")
        self.buf = b""

    def next(self, within: float = 20.0) -> tuple[str, str]:
        """The next event, within `within` seconds (keep-alive comments are skipped)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if b"\n\n" in self.buf:
                block, self.buf = self.buf.split(b"\n\n", 1)
                fields = dict(
                    line.split(": ", 1) for line in block.decode().splitlines() if ": " in line
                )
                if "event" in fields:
                    return fields["event"], fields.get("data", "")
                continue
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            data = self.sock.recv(4096)
            if not data:
                raise EOFError(self.buf)
            self.buf += data
        raise AssertionError(f"no event within {within} s: {self.buf!r}")

    def close(self) -> None:
        self.sock.close()


def test_a_template_edit_restarts_the_app_and_the_banner_names_the_folders(
    flask_project: Path, serve_reload: ServeReload
) -> None:
    r = serve_reload("app:app")
    body = served_with(r, "v1")
    assert b'<script src="/__rswsgi__/live-reload.js?g=' in body
    (flask_project / "templates" / "index.html").write_text(PAGE.format("<p>v2</p>"))
    served_with(r, "v2")
    assert len(r.importers()) == 2
    banner = r.stdout()
    assert "templates templates/ (1 file)" in banner, banner
    assert "static static/ (1 file)" in banner, banner
    assert ".env" in banner


def test_a_stylesheet_edit_reaches_open_pages_without_a_restart(
    flask_project: Path, serve_reload: ServeReload
) -> None:
    r = serve_reload("app:app")
    served_with(r, "v1")
    eventually(lambda: "static static/" in r.stdout() or None, "the static folder watched")
    stream = Stream(r.port)
    try:
        assert stream.next()[0] == "hello"
        (flask_project / "static" / "style.css").write_text("p { color: blue }\n")
        assert stream.next() == ("css", "style.css")
        (flask_project / "static" / "logo.svg").write_text("<svg/>")
        assert stream.next() == ("reload", "")
    finally:
        stream.close()
    assert len(r.importers()) == 1, r.stderr()
    assert "rswsgi: live reload: static/style.css" in r.stderr()


def test_no_live_reload_leaves_pages_alone(flask_project: Path, serve_reload: ServeReload) -> None:
    r = serve_reload("app:app", "--no-live-reload")
    body = served_with(r, "v1")
    assert b"live-reload.js" not in body
    assert get(r.port, "/__rswsgi__/live-reload.js").status == 404


def test_a_dot_env_edit_restarts_the_app(flask_project: Path, serve_reload: ServeReload) -> None:
    r = serve_reload("app:app")
    served_with(r, "A=1", "/env")
    (flask_project / ".env").write_text("A=2\n")
    served_with(r, "A=2", "/env")
    assert len(r.importers()) == 2


def test_a_broken_module_answers_at_once_with_its_traceback_until_fixed(
    flask_project: Path, serve_reload: ServeReload
) -> None:
    r = serve_reload("app:app")
    served_with(r, "v1")
    app_py = flask_project / "app.py"
    app_py.write_text(FLASK_APP + "\nsettings = {}\nDATABASE = settings['DATABASE_URL']\n")
    text = eventually(lambda: (g := get(r.port, "/")).status == 500 and g or None, "a 500")
    assert (text.header("content-type") or "").startswith("text/plain")
    assert f'File "{app_py.resolve()}", line ' in text.body.decode()
    assert b"KeyError: 'DATABASE_URL'" in text.body
    page = get(r.port, "/", headers={"Accept": BROWSER})
    assert page.header("content-type") == "text/html; charset=utf-8"
    assert b"DATABASE_URL" in page.body
    assert b"live-reload.js" in page.body  # the page reloads itself once fixed
    err = r.stderr()
    # Printed once, when the load failed; each request then logs a line pointing at it.
    assert err.count("Traceback (most recent call last)") == 1, err
    assert err.count("could not be loaded; a save that fixes it serves it again (its") == 2, err
    assert "rswsgi/dev.py" not in err and "importlib" not in err, err
    app_py.write_text(FLASK_APP)
    served_with(r, "v1")


def test_a_syntax_error_names_the_whole_path(
    flask_project: Path, serve_reload: ServeReload
) -> None:
    r = serve_reload("app:app")
    served_with(r, "v1")
    (flask_project / "app.py").write_text("def app(:\n")
    resp = eventually(lambda: (g := get(r.port, "/")).status == 500 and g or None, "a 500")
    assert f'File "{(flask_project / "app.py").resolve()}", line 1' in resp.body.decode()
    assert b"SyntaxError" in resp.body


def test_include_and_exclude_globs(flask_project: Path, serve_reload: ServeReload) -> None:
    (flask_project / "conf").mkdir()
    (flask_project / "conf" / "site.toml").write_text("a = 1\n")
    (flask_project / "scratch_notes.py").write_text("")
    r = serve_reload(
        "app:app", "--reload-include", "conf/*.toml", "--reload-exclude", "scratch_*.py"
    )
    served_with(r, "v1")
    eventually(lambda: "Watching: " in r.stdout() or None, "the banner")
    assert "conf/*.toml" in r.stdout() and "except scratch_*.py" in r.stdout()
    # An excluded file and a file the include glob does not match: no restart, and
    # a change that does count afterwards shows the app was not restarted meanwhile.
    (flask_project / "scratch_notes.py").write_text("x = 1\n")
    (flask_project / "conf" / "other.txt").write_text("")
    (flask_project / "conf" / "site.toml").write_text("a = 2\n")
    eventually(lambda: len(r.importers()) == 2 or None, "a restart for site.toml")
    assert "reloading: conf/site.toml" in r.stderr(), r.stderr()
    assert "scratch_notes.py" not in r.stderr()


def test_forced_polling_sees_an_edit(flask_project: Path, serve_reload: ServeReload) -> None:
    r = serve_reload("app:app", "--reload-poll", "0.2")
    served_with(r, "v1")
    eventually(lambda: "polling every 0.2 s" in r.stdout() or None, "the banner")
    (flask_project / "templates" / "index.html").write_text(PAGE.format("<p>polled</p>"))
    served_with(r, "polled")


def start_django_project(folder: Path) -> Path:
    """`django-admin startproject mysite` in `folder`: the default project, with the admin."""
    from django.core import management

    management.call_command("startproject", "mysite", str(folder))
    return folder


@pytest.fixture
def django_project(tmp_path: Path) -> Path:
    return start_django_project(tmp_path)


@pytest.mark.parametrize(("extra", "status"), [([], 200), (["--nostatic"], 404)])
def test_django_s_static_files_are_served_as_runserver_serves_them(
    django_project: Path, extra: list[str], status: int
) -> None:
    with DevServer("mysite.wsgi", *extra, cwd=django_project) as server:
        css = get(server.port, "/static/admin/css/base.css")
        assert css.status == status
        if status == 200:
            assert (css.header("content-type") or "").startswith("text/css")
        login = get(server.port, "/admin/login/")
        assert login.status == 200 and b"admin/css/base.css" in login.body
        assert "Django's technical 500 page" in server.stdout()


@pytest.mark.parametrize("debug", [True, False])
def test_debug_lets_a_flask_view_s_exception_reach_rswsgi_s_page(
    flask_project: Path, debug: bool
) -> None:
    args = ["app:app", "--debug"] if debug else ["app:app"]
    with DevServer(*args, cwd=flask_project) as server:
        page = get(server.port, "/boom", headers={"Accept": BROWSER})
        assert page.status == 500
        banner = server.stdout()
    if debug:
        # rswsgi's page: the exception, escaped, and the view's own frame.
        assert b"a view &lt;failed&gt;" in page.body
        assert b"raise RuntimeError(&quot;a view &lt;failed&gt;&quot;)" in page.body, page.body
        assert "an exception in a Flask view shows rswsgi's debug page" in banner, banner
    else:
        # Flask's own generic 500, as Flask answers it without PROPAGATE_EXCEPTIONS.
        assert b"a view" not in page.body
        assert b"Internal Server Error" in page.body
        assert "Flask view" not in banner


def test_the_banner_names_the_page_a_django_project_shows(django_project: Path) -> None:
    settings = django_project / "mysite" / "settings.py"
    settings.write_text(settings.read_text().replace("DEBUG = True", "DEBUG = False"))
    with DevServer("mysite.wsgi", "--debug", "--host", "127.0.0.1", cwd=django_project) as server:
        get(server.port, "/")
        banner = server.stdout()
    assert "Django answers its views' exceptions with its own 500 page (DEBUG = False)" in banner
    assert "technical 500 page (DEBUG = True" not in banner


def test_a_broken_django_urlconf_is_an_error_loading_the_app(
    django_project: Path, serve_reload: ServeReload
) -> None:
    """Django imports `urls.py` (and the views) at the first request, and its technical
    500 page needs it too: the dev server imports it at start, as runserver's checks do."""
    urls = django_project / "mysite" / "urls.py"
    fixed = urls.read_text()
    urls.write_text(fixed + "\nraise KeyError('DATABASE_URL')\n")
    done = run_cli("mysite.wsgi", cwd=django_project, timeout=60)
    assert done.returncode == 2
    assert f'File "{urls.resolve()}", line ' in done.stderr, done.stderr
    assert "error: importing the URLconf failed: KeyError: 'DATABASE_URL'" in done.stderr

    r = serve_reload("mysite.wsgi", cwd=django_project)

    def login_page(status: int) -> Any:
        try:
            page = get(r.port, "/admin/login/", headers={"Accept": BROWSER})
        except OSError:
            return None  # not listening yet
        return page if page.status == status else None

    page = eventually(lambda: login_page(500), "the 500")
    assert b"DATABASE_URL" in page.body and b"urls.py" in page.body
    urls.write_text(fixed)
    eventually(lambda: login_page(200), "the admin back")
