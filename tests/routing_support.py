"""Helpers shared by the router tests: build PEP 3333 environs, call a WSGI app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from wsgiref.util import setup_testing_defaults

Headers = list[tuple[str, str]]


def environ_for(method: str = "GET", path: str = "/", **extra: Any) -> dict[str, Any]:
    """A complete environ (`setup_testing_defaults`) for `method` and the raw URL
    path bytes `path` given as a PEP 3333 latin-1 string."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        **extra,
    }
    setup_testing_defaults(environ)
    return environ


def call(app: Any, environ: dict[str, Any]) -> tuple[str, Headers, bytes]:
    """Runs `app` once, closing its iterable; returns status, headers and body."""
    seen: list[tuple[str, Headers]] = []

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        seen.append((status, headers))
        return lambda data: None

    result: Iterable[bytes] = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = seen[-1]
    return status, headers, body


def header(headers: Headers, name: str) -> str | None:
    values = [v for k, v in headers if k.lower() == name.lower()]
    assert len(values) <= 1, headers
    return values[0] if values else None


def text_app(text: str) -> Any:
    """A WSGI app answering `200` with `text` and recording each environ it sees."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        app.environs.append(environ)  # type: ignore[attr-defined]
        body = text.encode()
        start_response(
            "200 OK",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    app.environs = []  # type: ignore[attr-defined]
    return app
