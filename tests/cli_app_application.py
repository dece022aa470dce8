"""A module whose WSGI app is called `application` (Django's name)."""

from __future__ import annotations

from typing import Any


def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"application"]
