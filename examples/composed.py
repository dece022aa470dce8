"""rswsgi's middleware and router composed into one app, with Flask mounted inside.

    python -m rswsgi.dev examples.composed:app --static /assets=examples/static

Then open http://127.0.0.1:8888/ in a browser: the page's stylesheet, script and
logo come from examples/static/ through `static_files` (without `--static` the
page still works, unstyled, and says the assets did not load). Every request's environ is
dumped to stderr by `log_environ` (`Authorization` and cookies redacted).
With `--debug`, `/boom` shows the exception, its source and the request
in the browser (and the text traceback to curl).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rswsgi import Router, handle_error, log_environ, reverser, wrap_query_params

from examples.flaskapp import flask_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

router = Router()

TEXT = [("Content-Type", "text/plain; charset=utf-8")]


@router.route("/", methods=["GET"], name="index")
def index(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A page of links to the other routes, for a browser."""
    links = [
        router.url_for("hello"),
        router.url_for("hello_name", name="wörld"),
        router.url_for("search") + "?q=rust&q=python&page=2",
        router.url_for("reverse"),
        router.url_for("boom"),
        "/flask/hello",
        "/flask/whereami",
    ]
    items = "".join(f'<li><a href="{html.escape(u)}">{html.escape(u)}</a></li>' for u in links)
    body = (
        "<!doctype html><title>rswsgi</title>"
        '<link rel="stylesheet" href="/assets/app.css">'
        '<script defer src="/assets/app.js"></script>'
        '<h1><img id="logo" src="/assets/logo.png" alt="" width="32" height="32"> '
        "rswsgi composed example</h1>"
        f"<ul>{items}</ul>"
        '<p id="assets">assets: not loaded (serve with --static /assets=examples/static)</p>'
    )
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [body.encode()]


@router.route("/hello", methods=["GET"], name="hello")
def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The seed articles' greeting."""
    start_response("200 OK", TEXT)
    return [b"Hello world from rswsgi!\n"]


@router.route("/hello/{name}", methods=["GET"], name="hello_name")
def hello_name(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A path parameter, decoded as UTF-8 by the router."""
    name = environ["wsgiorg.routing_args"][1]["name"]
    start_response("200 OK", TEXT)
    return [f"Hello, {name}!\n".encode()]


@router.route("/search", methods=["GET"], name="search")
@wrap_query_params
def search(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The query string parsed by `wrap_query_params`, as JSON."""
    params = environ["rswsgi.query_params"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(params, ensure_ascii=False).encode()]


@router.route("/reverse", methods=["GET"], name="reverse")
@reverser
@wrap_query_params
def reverse(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A text/plain body that `reverser` reverses by grapheme cluster.

    `?text=...` chooses the text; the default shows a skin-tone emoji that
    must stay in one piece.
    """
    text = environ["rswsgi.query_params"].get("text", ["héllo wörld 👍🏽"])[0]
    start_response("200 OK", TEXT)
    return [text.encode()]


@router.route("/boom", methods=["GET"], name="boom")
def boom(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Raises, so `handle_error` answers 500 and the server keeps serving."""
    raise RuntimeError("boom: this route always fails")


router.mount("/flask", flask_app)

app = log_environ(handle_error(router))
