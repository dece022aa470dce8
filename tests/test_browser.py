"""A real browser against the dev server: Debian's headless Chromium loads a page whose 12
subresources come over parallel connections while two idle connections stay open, and
everything loads (the issue "Dev server ... holds up to browsers").

The same page also loads over HTTPS (`--cert adhoc`; Chromium is told to accept the
self-signed certificate) with a TLS keep-alive connection and a silent TCP connection (no
ClientHello) open.

The page (tests/browser_app.py) checks itself after `load` and writes `loaded N/12`
into `<pre id=result>`; Chromium's `--dump-dom` hands the DOM back. Chromium's stderr
is noise (dbus, GPU) and is ignored. Skipped when no `chromium` binary is installed;
.ci/run installs Debian's package, so CI runs it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from browser_app import CSS, IMAGES, JS, TOTAL
from cdp import HEADLESS
from parsed_page import Page
from support.devserver import DevServer
from support.http import get, read_response

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no 'chromium' binary (apt-get install chromium; CI installs it)"
)
CHROME_TIMEOUT = 60  # seconds for one Chromium run; it takes a few


def chromium(url: str, profile: Path, *extra: str) -> str:
    """Run headless Chromium on `url` with a fresh profile; its stdout (the DOM dump)."""
    assert CHROMIUM is not None
    args = [
        CHROMIUM,
        *HEADLESS,
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        *extra,
        url,
    ]
    try:
        done = subprocess.run(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=CHROME_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {CHROME_TIMEOUT} s: the page stalled")
    assert done.returncode == 0, f"chromium exited with {done.returncode}"
    return done.stdout.decode("utf-8", "replace")


def result(dom: str) -> list[str]:
    """The lines of the page's `<pre id=result>`."""
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found, f"no result element in the dumped DOM:\n{dom[:2000]}"
    return html.unescape(found.group(1)).splitlines()


def assert_all_loaded(dom: str) -> None:
    """The page's self-check passed for every subresource."""
    lines = result(dom)
    assert lines[-1] == f"loaded {TOTAL}/{TOTAL}", "\n".join(lines)
    expected = {*CSS, *JS, *IMAGES}
    assert {line.removeprefix("ok ") for line in lines[:-1]} == expected, "\n".join(lines)
    assert f"<title>loaded {TOTAL}/{TOTAL}</title>" in dom


@contextmanager
def idle_connections(port: int) -> Iterator[tuple[socket.socket, socket.socket]]:
    """Two connections that stay idle while the browser runs: a keep-alive connection that
    made one complete request, and a preconnect that sent nothing (opened last, so that a
    server that blocks on it stalls the browser, not this setup)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as kept:
        kept.sendall(f"GET /css/1.css HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        assert read_response(kept).status == 200
        with socket.create_connection(("127.0.0.1", port), timeout=10) as pre:
            yield pre, kept


def still_serves(sock: socket.socket, port: int) -> int:
    """Status of one more request on an already open connection."""
    sock.sendall(f"GET /js/1.js HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    return read_response(sock).status


def browser_ports(port: int, tls: ssl.SSLContext | None = None) -> dict[str, set[str]]:
    """REMOTE_PORT -> paths, for every request the app saw from Chromium."""
    if tls is None:
        stats = json.loads(get(port, "/stats").body)
    else:
        with tls.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10)) as s:
            s.sendall(f"GET /stats HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            stats = json.loads(read_response(s).body)
    ports: dict[str, set[str]] = {}
    for seen in stats:
        if "Chrome" in seen["agent"]:
            ports.setdefault(seen["port"], set()).add(seen["path"])
    return ports


def test_chromium_loads_every_subresource_over_parallel_connections(tmp_path: Path) -> None:
    with DevServer("tests.browser_app:app", "--quiet") as server:
        url = f"http://127.0.0.1:{server.port}/"
        with idle_connections(server.port) as (pre, kept):
            dom = chromium(url, tmp_path / "profile", "--dump-dom")
            shot = tmp_path / "page.png"
            chromium(
                url,
                tmp_path / "profile2",
                f"--screenshot={shot}",
                "--window-size=800,600",
            )
            # Both idle connections survived the browser and still work.
            assert still_serves(kept, server.port) == 200
            assert still_serves(pre, server.port) == 200
        ports = browser_ports(server.port)
        assert server.proc is not None and server.proc.poll() is None, server.stderr()

    assert_all_loaded(dom)
    assert shot.stat().st_size > 1000 and shot.read_bytes().startswith(b"\x89PNG")
    fetched = set().union(*ports.values())
    assert {"/", *CSS, *JS, *IMAGES} <= fetched
    assert len(ports) > 1, f"Chromium used one connection only: {ports}"
    assert any(len(paths) > 1 for paths in ports.values()), f"no keep-alive reuse: {ports}"


def test_a_missing_subresource_fails_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check above can fail: with one image 404 the page reports it and the assertion trips.
    monkeypatch.setenv("BROWSER_APP_MISSING", "/img/3.png")
    with DevServer("tests.browser_app:app", "--quiet") as server:
        dom = chromium(f"http://127.0.0.1:{server.port}/", tmp_path / "profile", "--dump-dom")
    lines = result(dom)
    assert "MISSING /img/3.png" in lines
    assert lines[-1] == f"loaded {TOTAL - 1}/{TOTAL}"
    with pytest.raises(AssertionError):
        assert_all_loaded(dom)


def test_chromium_shows_the_debug_page_and_curl_gets_text(tmp_path: Path) -> None:
    # What a user does: `python -m rswsgi.dev examples.composed:app --debug`, then /boom in a
    # browser (the HTML page) and with curl (the plain-text traceback).
    with DevServer("examples.composed:app", "--debug", "--quiet") as server:
        url = f"http://127.0.0.1:{server.port}/boom"
        dom = chromium(url, tmp_path / "profile", "--dump-dom")
        shot = tmp_path / "debug.png"
        chromium(url, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1200,900")
        curl = get(server.port, "/boom", {"Accept": "*/*", "User-Agent": "curl/8.5.0"})
        assert server.proc is not None and server.proc.poll() is None, server.stderr()

    message = "boom: this route always fails"
    assert f"<title>RuntimeError: {message} · rswsgi</title>" in dom
    page = Page(dom.encode())
    assert page.text("message") == [message]
    assert page.text("exc-line") == [f"RuntimeError: {message}"]
    assert page.text("path") == [str(Path("examples/composed.py").resolve())]
    [at] = page.text("at")
    assert at.startswith("line ") and at.endswith(", in boom")
    [hit] = page.text("hit")
    assert hit == f'{at.split()[1].rstrip(",")}    raise RuntimeError("{message}")'
    table = page.text("table")[0]
    assert "HTTP_ACCEPT'text/html," in table and "HeadlessChrome" in table
    assert shot.stat().st_size > 10_000 and shot.read_bytes().startswith(b"\x89PNG")

    assert curl.status == 500
    assert curl.header("content-type") == "text/plain; charset=utf-8"
    assert curl.body.startswith(b"Traceback (most recent call last):")
    assert curl.body.endswith(f"RuntimeError: {message}\n".encode())


def test_chromium_loads_every_subresource_over_https(tmp_path: Path) -> None:
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE  # the adhoc certificate is self-signed
    with DevServer("tests.browser_app:app", "--quiet", "--cert", "adhoc") as server:
        port = server.port
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        with tls.wrap_socket(raw, server_hostname="localhost") as kept:
            assert still_serves(kept, port) == 200  # now an idle TLS keep-alive connection
            with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
                dom = chromium(
                    f"https://127.0.0.1:{port}/",
                    tmp_path / "profile",
                    "--dump-dom",
                    "--ignore-certificate-errors",
                )
                # Both idle connections survived the browser; the silent one can still
                # begin its handshake.
                assert still_serves(kept, port) == 200
                with tls.wrap_socket(silent, server_hostname="localhost") as late:
                    assert still_serves(late, port) == 200
        ports = browser_ports(port, tls)
        assert server.proc is not None and server.proc.poll() is None, server.stderr()

    assert_all_loaded(dom)
    assert {"/", *CSS, *JS, *IMAGES} <= set().union(*ports.values())
    assert len(ports) > 1, f"Chromium used one connection only: {ports}"
    assert any(len(paths) > 1 for paths in ports.values()), f"no keep-alive reuse: {ports}"


def test_chromium_loads_the_composed_page_with_its_static_assets(tmp_path: Path) -> None:
    # Issue "static files", done means: `python -m rswsgi.dev examples.composed:app
    # --static /assets=examples/static` serves a page whose CSS, JS and image load.
    with DevServer("examples.composed:app", "--static", "/assets=examples/static") as server:
        dom = chromium(f"http://127.0.0.1:{server.port}/", tmp_path / "profile", "--dump-dom")
        assert server.proc is not None and server.proc.poll() is None, server.stderr()
        log = server.stderr()
    verdict = re.search(r'<p id="assets"([^>]*)>(.*?)</p>', dom, re.S)
    assert verdict, dom[:2000]
    assert verdict.group(2) == "assets: css ok, js ok, image ok", dom[:2000]
    assert 'data-ok="true"' in verdict.group(1)
    hits = [line for line in log.splitlines() if line.startswith("127.0.0.1 - - [")]
    for asset in ("app.css", "app.js", "logo.png"):
        assert any(f"GET /assets/{asset} HTTP/1.1" in h and h.endswith(" static") for h in hits)
