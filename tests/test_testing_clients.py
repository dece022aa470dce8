"""Testing an rswsgi app needs no helper of ours: werkzeug's and Flask's test clients drive it.

The composed example goes through werkzeug's ``Client`` (in-process, no
socket); a Flask app whose ``wsgi_app`` is wrapped in rswsgi middleware goes
through ``app.test_client()``; and the snippet of docs/testing.md is run as
written.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator

import pytest
from flask import Flask, Response
from rswsgi import handle_error, log_environ
from support import ROOT
from werkzeug.test import Client

if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) from elsewhere
    sys.path.insert(0, str(ROOT))

from examples import composed  # noqa: E402


@pytest.fixture
def client() -> Client:
    return Client(composed.app)


def test_status_headers_and_body(client: Client) -> None:
    errors = io.StringIO()
    resp = client.get("/hello", errors_stream=errors)
    assert resp.status == "200 OK"
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.get_data() == b"Hello world from rswsgi!\n"
    # log_environ wrote the environ to wsgi.errors, which the client lets us capture.
    assert errors.getvalue().startswith("GET /hello\n")
    assert "REQUEST_METHOD: 'GET'" in errors.getvalue()


def test_routing_args_are_utf8(client: Client) -> None:
    resp = client.get("/hello/wörld")
    assert (resp.status_code, resp.text) == (200, "Hello, wörld!\n")
    assert client.get(composed.router.url_for("hello_name", name="a b")).text == "Hello, a b!\n"


def test_404_and_405(client: Client) -> None:
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "text/plain; charset=utf-8"
    wrong = client.post("/hello")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, HEAD"
    # HEAD goes to the GET app; dropping the body is a server's job, not the client's.
    assert client.head("/hello").status_code == 200


def test_boom_is_handle_errors_500(client: Client) -> None:
    # werkzeug's Client re-raises any exc_info passed to start_response, so a
    # 500 here shows that handle_error answered without one: its 500 is a fresh
    # response, the exception logged, never handed on to the server.
    errors = io.StringIO()
    resp = client.get("/boom", errors_stream=errors)
    assert resp.status_code == 500
    assert resp.text == "500 Internal Server Error"
    assert resp.headers["Content-Length"] == str(len(resp.get_data()))
    assert "RuntimeError: boom: this route always fails" in errors.getvalue()


def test_query_parsing(client: Client) -> None:
    resp = client.get("/search", query_string={"q": ["rust", "python"], "page": "2"})
    assert resp.headers["Content-Type"] == "application/json"
    assert json.loads(resp.get_data()) == {"q": ["rust", "python"], "page": ["2"]}
    assert json.loads(client.get("/search").get_data()) == {}


def test_reverser(client: Client) -> None:
    resp = client.get("/reverse")
    assert resp.text == "👍🏽 dlröw olléh"
    assert resp.headers["Content-Length"] == str(len(resp.get_data()))
    assert client.get("/reverse?text=h%C3%A9llo").text == "olléh"


def test_mounted_flask_app(client: Client) -> None:
    assert client.get("/flask/hello").text == "Hello world from Flask!\n"
    assert client.get("/flask/whereami").text == "SCRIPT_NAME=/flask PATH_INFO=/whereami\n"


@pytest.fixture
def flask_app() -> Iterator[Flask]:
    app = Flask("wrapped")
    # Testing mode lets a view's exception reach the WSGI middleware instead
    # of Flask answering its own 500 page.
    app.testing = True

    @app.route("/hi/<name>")
    def hi(name: str) -> Response:
        return Response(f"hi {name}", mimetype="text/plain")

    @app.route("/fail")
    def fail() -> Response:
        raise ValueError("view failed")

    app.wsgi_app = log_environ(handle_error(app.wsgi_app))  # type: ignore[method-assign]
    yield app


def test_flask_test_client_through_wsgi_app_middleware(flask_app: Flask) -> None:
    errors = io.StringIO()
    with flask_app.test_client() as c:
        ok = c.get("/hi/you", errors_stream=errors)
        assert (ok.status_code, ok.text) == (200, "hi you")
        assert errors.getvalue().startswith("GET /hi/you\n")
        failed = c.get("/fail", errors_stream=errors)
        assert failed.status_code == 500
        assert failed.text == "500 Internal Server Error"
        assert "ValueError: view failed" in errors.getvalue()
        assert c.get("/nope").status_code == 404  # Flask's own 404 passes through


def readme_testing_snippet() -> str:
    section = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "docs/testing.md has one python block"
    return str(blocks[0])


def test_readme_testing_snippet_runs() -> None:
    snippet = readme_testing_snippet()
    assert "Client(" in snippet and "test_client()" in snippet
    exec(compile(snippet, "docs/testing.md", "exec"), {"__name__": "readme_testing"})


def test_an_unclosed_response_in_a_cycle_is_closed_intact_by_the_collector() -> None:
    # werkzeug's test client leaves the response unclosed here, and the filtered
    # body (reverser's), the app's ClosingIterator and the request form a cycle.
    # The collector may clear the ClosingIterator's __dict__ before it frees the
    # body; the body's finalizer closes the iterable first, while it is intact
    # (an unraisable AttributeError '_callbacks' otherwise, on 3.14t's collector).
    import gc

    from rswsgi import reverser

    closed: list[str] = []
    flask_app = Flask(__name__)

    @flask_app.get("/stream")
    def stream() -> Response:
        def body() -> Iterator[str]:
            yield "one"

        response = Response(body(), mimetype="text/html")
        response.call_on_close(lambda: closed.append("closed"))
        return response

    unraisable: list[str] = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: unraisable.append(repr(u.exc_value))
    try:
        for path in ("/missing", "/stream"):
            response = Client(reverser(flask_app)).get(path)
            assert response.status_code in (200, 404)
            del response
            gc.collect()
    finally:
        sys.unraisablehook = old_hook
    assert unraisable == []
    assert closed == ["closed"]
