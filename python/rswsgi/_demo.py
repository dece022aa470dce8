"""The demo app `python -m rswsgi.dev` serves when no `MODULE:APP` is given.

`/` shows the request's environ in a table; `/hello`, `/echo` and `/stream`
show a plain response, the query string and body echoed back, and a streamed body.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

LINKS = [
    ("/", "this page: the environ"),
    ("/hello", "plain text"),
    ("/echo?x=1&name=rswsgi", "the query string echoed"),
    ("/stream", "a body streamed in chunks (chunked encoding)"),
]

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rswsgi dev server</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}td,th{{text-align:left;
padding:.2em .8em;vertical-align:top}}tr:nth-child(even){{background:#f3f3f3}}
code{{font-size:.9em}}</style></head><body>
<h1>rswsgi dev server</h1>
<p>{method} <code>{path}</code>. Serve your own app with
<code>python -m rswsgi.dev MODULE:APP</code>.</p>
<ul>{links}</ul>
<form method="post" action="/echo"><input name="message" value="hello">
<button>POST to /echo</button></form>
<h2>environ</h2>
<table><tr><th>key</th><th>value</th></tr>{rows}</table>
</body></html>
"""


def _text(start_response: StartResponse, body: str, status: str = "200 OK") -> list[bytes]:
    data = body.encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))],
    )
    return [data]


def _stream(start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    for i in range(1, 6):
        yield f"chunk {i}\n".encode()


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A WSGI app showing the environ (`/`) and a few demo routes."""
    path = environ.get("PATH_INFO", "/")
    if path == "/hello":
        return _text(start_response, "Hello from rswsgi!\n")
    if path == "/echo":
        body = environ["wsgi.input"].read().decode("utf-8", "replace")
        query = environ.get("QUERY_STRING", "")
        return _text(start_response, f"query: {query}\nbody: {body}\n")
    if path == "/stream":
        return _stream(start_response)
    if path != "/":
        return _text(start_response, f"Not Found: {path}\n", "404 Not Found")
    rows = "".join(
        f"<tr><td><code>{html.escape(k)}</code></td><td><code>{html.escape(repr(v))}</code></td></tr>"
        for k, v in sorted(environ.items())
    )
    links = "".join(
        f'<li><a href="{html.escape(href)}">{html.escape(href)}</a>: {html.escape(what)}</li>'
        for href, what in LINKS
    )
    page = PAGE.format(
        method=html.escape(environ.get("REQUEST_METHOD", "")),
        path=html.escape(path),
        links=links,
        rows=rows,
    ).encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page)))],
    )
    return [page]
