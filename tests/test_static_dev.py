"""`python -m rswsgi.dev --static PREFIX=DIR`: the composed example with its assets, as
the README shows it; the access log marks static hits; a bad flag is a one-line error."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from support import ROOT
from support.devserver import DevServer
from support.http import get
from support.waiting import eventually

ASSETS = ROOT / "examples" / "static"


@pytest.fixture(scope="module")
def composed() -> DevServer:
    with DevServer(
        "examples.composed:app", "--static", "/assets=examples/static", "--static", "/ex=examples"
    ) as server:
        yield server  # type: ignore[misc]


def test_assets_are_served_and_the_app_still_answers(composed: DevServer) -> None:
    css = get(composed.port, "/assets/app.css")
    assert css.status == 200
    assert css.body == (ASSETS / "app.css").read_bytes()
    assert css.header("content-type") == "text/css; charset=utf-8"
    # The dev server revalidates on every load: an edited file shows at once.
    assert css.header("cache-control") == "public, max-age=0"
    logo = get(composed.port, "/assets/logo.png")
    assert (logo.status, logo.header("content-type")) == (200, "image/png")
    js = get(composed.port, "/assets/app.js")
    assert js.header("content-type") == "text/javascript; charset=utf-8"
    page = get(composed.port, "/")
    assert page.status == 200 and b'href="/assets/app.css"' in page.body
    assert get(composed.port, "/hello").body == b"Hello world from rswsgi!\n"
    assert get(composed.port, "/assets/missing.css").status == 404  # the router's 404
    # A second mount, and the curl checks of the issue: -I, -r 0-9, If-None-Match.
    assert get(composed.port, "/ex/static/app.css").body == css.body
    head = get(composed.port, "/assets/app.css", method="HEAD")
    assert (head.status, head.header("content-length")) == (200, css.header("content-length"))
    part = get(composed.port, "/assets/app.css", {"Range": "bytes=0-9"})
    assert (part.status, part.body) == (206, css.body[:10])
    assert part.header("content-range") == f"bytes 0-9/{len(css.body)}"
    again = get(composed.port, "/assets/app.css", {"If-None-Match": css.header("etag")})
    assert (again.status, again.body) == (304, b"")


def test_the_access_log_marks_static_hits(composed: DevServer) -> None:
    get(composed.port, "/assets/app.js?log-check")
    get(composed.port, "/hello?log-check")

    def logged() -> list[str] | None:
        # (log_environ's dump of each request goes to stderr too.)
        lines = [
            line
            for line in composed.stderr().splitlines()
            if line.startswith("127.0.0.1 - - [") and "log-check" in line
        ]
        return lines if len(lines) == 2 else None

    static, app = eventually(logged, "two access log lines")
    assert re.search(r'"GET /assets/app\.js\?log-check HTTP/1\.1" 200 \d+ [\d.]+ms static$', static)
    assert re.search(r'"GET /hello\?log-check HTTP/1\.1" 200 \d+ [\d.]+ms$', app)
    assert f"Static files: /assets -> {ASSETS}" in composed.stdout()


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("assets=examples/static", "is not PREFIX=DIR"),
        ("/assets", "is not PREFIX=DIR"),
        ("/assets=", "is not PREFIX=DIR"),
        ("/assets=no/such/folder", "the folder does not exist"),
    ],
)
def test_a_bad_static_flag_is_one_line_and_status_2(flag: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rswsgi.dev", "examples.composed:app", f"--static={flag}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert message in lines[-1], done.stderr
    assert "Traceback" not in done.stderr
