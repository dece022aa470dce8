"""`python -m rswsgi.dev` as a user runs it: a subprocess on a port it chose, real requests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rswsgi import _reload
from rswsgi import dev as dev_module
from support.devserver import DevServer, run_cli
from support.http import Client, get
from support.waiting import eventually


@pytest.fixture
def dev() -> Iterator[Callable[..., DevServer]]:
    """`dev(*args, **popen)` starts `python -m rswsgi.dev ARGS`; stopped after the test."""
    started: list[DevServer] = []

    def start(*args: str, **popen: Any) -> DevServer:
        started.append(DevServer(*args, **popen).start())
        return started[-1]

    yield start
    for d in started:
        d.close()


def banner(d: DevServer) -> list[str]:
    return d.stdout().splitlines()


def test_serves_module_app(dev: Callable[..., DevServer]) -> None:
    d = dev("tests.cli_app:app")
    assert banner(d) == [f"Serving on http://127.0.0.1:{d.port} (Ctrl-C to quit)"]
    assert d.body() == b"fixture app"


def test_factory_call(dev: Callable[..., DevServer]) -> None:
    assert dev("tests.cli_app:create_app()").body() == b"from factory"


def test_module_alone_finds_application(dev: Callable[..., DevServer]) -> None:
    assert dev("tests.cli_app_application").body() == b"application"
    assert dev("tests.cli_app").body() == b"fixture app"


def test_no_target_serves_the_demo(dev: Callable[..., DevServer]) -> None:
    d = dev()
    page = d.body("/?x=1")
    assert b"<table>" in page and b"QUERY_STRING" in page and b"&#x27;x=1&#x27;" in page
    assert b'href="/hello"' in page
    assert d.body("/hello") == b"Hello from rswsgi!\n"
    assert (d.body("/echo?x=1") or b"").startswith(b"query: x=1\n")
    assert d.body("/stream") == b"".join(f"chunk {i}\n".encode() for i in range(1, 6))


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.no_such_module:app", "module 'tests.no_such_module' not found"),
        ("tests.cli_app:missing", "has no attribute 'missing'"),
        ("tests.cli_app:not_callable", "is not a WSGI application"),
        ("tests.cli_app:bad-name", "is not an attribute name"),
        (":app", "has no module name"),
    ],
)
def test_bad_target_is_one_line_and_exit_2(target: str, message: str) -> None:
    done = run_cli(target)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("python -m rswsgi.dev: error: ")
    assert message in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("target", "frame", "message"),
    [
        (
            "tests.cli_app:failing_factory()",
            'tests/cli_app.py", line 24, in failing_factory',
            "tests.cli_app:failing_factory() raised RuntimeError: factory failed",
        ),
        (
            "tests.cli_broken:app",
            'tests/cli_broken.py", line 3, in <module>',
            "importing 'tests.cli_broken' failed: ModuleNotFoundError",
        ),
    ],
)
def test_an_error_in_the_user_s_code_shows_its_traceback_and_exits_2(
    target: str, frame: str, message: str
) -> None:
    done = run_cli(target)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):", done.stderr
    assert frame in done.stderr
    # Only the user's frames: not rswsgi's loading code, not importlib's.
    assert "rswsgi/dev.py" not in done.stderr and "importlib" not in done.stderr, done.stderr
    assert lines[-1].startswith("python -m rswsgi.dev: error: ") and message in lines[-1]


def test_a_python_file_is_a_target(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "site.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [__name__.encode()]\n"
    )
    with DevServer(str(tmp_path / "pkg" / "site.py")) as server:
        assert get(server.port, "/").body == b"pkg.site"


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_a_port_out_of_range_exits_2(port: str) -> None:
    done = run_cli("tests.cli_app:app", port=port)
    assert done.returncode == 2
    assert "argument --port" in done.stderr


@pytest.mark.parametrize("extra", [[], ["--reload"]], ids=["plain", "reload"])
def test_a_port_in_use_is_found_before_the_import_and_exits_2(
    extra: list[str], tmp_path: Path
) -> None:
    (tmp_path / "marked.py").write_text(
        "open('imported', 'w').close()\ndef app(environ, start_response):\n    return []\n"
    )
    # With --reload it is the supervising parent that binds, and says so the same way.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = run_cli("marked:app", *extra, port=str(port), cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "already in use (is another server running there? choose another --port)" in (
        done.stderr
    )
    assert not (tmp_path / "imported").exists()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.skipif(os.name != "posix", reason="signal delivery to a child")
@pytest.mark.parametrize(
    ("signum", "popen"),
    [
        (signal.SIGINT, {}),
        (signal.SIGTERM, {}),
        # `python -m rswsgi.dev app &` from a script starts with SIGINT ignored.
        (signal.SIGINT, {"preexec_fn": _ignore_sigint}),
    ],
    ids=["sigint", "sigterm", "sigint-inherited-ignored"],
)
def test_signal_stops_within_a_second(
    dev: Callable[..., DevServer], signum: signal.Signals, popen: dict[str, Any]
) -> None:
    d = dev("tests.cli_app:app", **popen)
    assert d.proc is not None
    with Client(d.port) as idle:  # an open keep-alive connection must not hold it up
        assert idle.request("/").status == 200
        d.proc.send_signal(signum)
        sent = time.monotonic()
        try:
            d.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server was still running 1 s after {signum.name}")
        ended = time.monotonic() - sent
    err = d.stderr()
    assert ended < 1.0
    assert d.proc.returncode in (0, 130)
    assert "Traceback" not in err


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_debug_answers_a_browser_with_the_page_and_curl_with_text(
    dev: Callable[..., DevServer],
) -> None:
    d = dev("tests.cli_app:handled_boom", "--debug")
    assert banner(d) == [
        dev_module.DEBUG_BANNER,
        f"Serving on http://127.0.0.1:{d.port} (Ctrl-C to quit)",
    ]
    with Client(d.port) as c:
        page = c.request("/", headers=(("Accept", BROWSER),))
        text = c.request("/", headers=(("Accept", "*/*"),))
    assert page.status == 500
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    assert b"<h1>RuntimeError</h1>" in page.body
    assert b'<pre class="message">cli &lt;boom&gt;</pre>' in page.body
    assert text.status == 500
    assert text.header("Content-Type") == "text/plain; charset=utf-8"
    assert text.body.startswith(b"Traceback (most recent call last):")
    assert text.body.endswith(b"RuntimeError: cli <boom>\n")


def test_without_debug_the_500_says_nothing_more(dev: Callable[..., DevServer]) -> None:
    d = dev("tests.cli_app:handled_boom")
    assert banner(d)[0].startswith("Serving on ")
    with Client(d.port) as c:
        assert c.request("/", headers=(("Accept", BROWSER),)).body == b"500 Internal Server Error"


@pytest.mark.skipif(os.name != "posix", reason="--reload needs POSIX")
def test_debug_with_reload_the_child_wraps_the_app() -> None:
    with DevServer("tests.cli_app:handled_boom", "--reload", "--debug") as server:
        page = get(server.port, "/", headers={"Accept": BROWSER})
        assert page.status == 500
        assert page.header("content-type") == "text/html; charset=utf-8"
        assert b"cli &lt;boom&gt;" in page.body
        # The parent prints what the child reported once it has read it.
        eventually(lambda: "Watching: " in server.stdout(), "the files watched")
        lines = server.stdout().splitlines()
    assert lines[0].startswith("Serving on ")
    assert dev_module.DEBUG_BANNER in lines


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("0.0.0.0", True),
        ("::", True),
        ("192.0.2.7", True),
        ("myhost.example", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("::1", False),
        ("localhost", False),
    ],
)
def test_debug_warns_when_others_could_reach_the_page(
    host: str, warned: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process, with make_server refusing: nothing binds to the address.
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("not binding in this test")

    monkeypatch.setattr(_reload, "listen", refuse)
    monkeypatch.setattr(dev_module, "_install_signal_handlers", lambda: None)
    with pytest.raises(SystemExit) as exited:
        dev_module.main(["tests.cli_app:app", "--debug", "--host", host])
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if "warning" in line]
    expected = (
        f"python -m rswsgi.dev: warning: --debug on --host {host}: the error page shows "
        "source code and request data to anyone who can reach this address"
    )
    assert warnings == ([expected] if warned else [])
    assert err[-1] == "python -m rswsgi.dev: error: not binding in this test"
