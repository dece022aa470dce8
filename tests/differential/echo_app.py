"""The one app every server in the differential harness serves.

It answers `200 OK` with an `X-Echo` header holding, as base64 of JSON,
the environ it saw and the body it read, so the harness compares what each
server handed the app without relying on the response body (a HEAD response
has none). Values that are not plain data (`wsgi.input`, `wsgi.errors`,
`wsgi.file_wrapper`, a server's own socket object) are recorded as
`<callable>` or `<object>`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any


def plain(value: object) -> object:
    """`value` when it is JSON data, else a marker of what it is."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return "<callable>" if callable(value) else "<object>"


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    # wsgi.input_terminated (set by all three servers): read() ends where the body does.
    body = environ["wsgi.input"].read()
    seen = {
        "environ": {key: plain(value) for key, value in environ.items()},
        "body": body.decode("latin-1"),
    }
    echo = base64.b64encode(json.dumps(seen, sort_keys=True).encode()).decode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Echo", echo)])
    return [b"echo"]
