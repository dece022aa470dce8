"""A folder of files for the `static_files` tests, and two ways to ask it for a URL: the
middleware called directly (a plain environ, `wsgiref.validate` on both sides) and the
same middleware behind rswsgi's real server (a raw socket).

Both take the URL as a client sends it (percent-encoded); the direct way decodes it into
`PATH_INFO` as a server does (PEP 3333: latin-1 of the decoded bytes).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.util import FileWrapper
from wsgiref.validate import validator

from support.apps import make_environ

# Bytes that exist only outside the served folder: no response may ever contain them.
SECRET = b"TOP-SECRET: outside the served folder\n"
CSS = b"body { color: #b7410e; }\n"
BIG_LEN = 3 * 1024 * 1024 + 17  # several sendfile calls and file_wrapper blocks

# Every regular file inside the folder (relative path -> content), filled by build_site.
Files = dict[str, bytes]


@dataclass
class Site:
    root: Path  # the served folder
    files: Files  # what is inside it

    def file(self, rel: str) -> Path:
        return self.root / rel


def build_site(base: Path) -> Site:
    """`base/static/` with the files the tests ask for, `base/secret.txt` next to it, and
    symlinks that lead in and out."""
    root = base / "static"
    files: Files = {
        "app.css": CSS,
        "app.0123456789ab.js": b"console.log('hashed');\n",
        "data.json": b'{"a": 1}\n',
        "notes.unknownext": b"?",
        "LICENSE": b"MIT\n",
        "img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        "docs/index.html": b"<!doctype html><title>docs</title>\n",
        "index.html": b"<!doctype html><title>home</title>\n",
        "empty.txt": b"",
        "digits.txt": b"0123456789",
        "caf\u00e9.txt": "caf\u00e9\n".encode(),
        "with space.txt": b"spaced\n",
        "odd%2e%2e.txt": b"a literal percent name\n",
        "big.bin": bytes((i * 7 + i // 251) % 256 for i in range(BIG_LEN)),
        "style.css": b"identity " * 20,
        "style.css.br": b"BROTLI-BYTES",
        "style.css.zst": b"ZSTD-BYTES",
        "style.css.gz": b"GZIP-BYTES",
        "stale.css": b"new identity bytes",
        "stale.css.gz": b"OLD-GZIP",
        ".env": b"SECRET_KEY=hidden\n",
        ".git/config": b"[core]\n",
        "noindex/file.txt": b"in a folder without index\n",
    }
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    # The stale sibling is older than its file: it must not be sent.
    os.utime(root / "stale.css.gz", ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    os.utime(root / "stale.css", ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    (base / "secret.txt").write_bytes(SECRET)
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_bytes(SECRET)
    (root / "link-in.css").symlink_to("app.css")
    (root / "link-out.txt").symlink_to("../secret.txt")
    (root / "abs-out.txt").symlink_to(base / "secret.txt")
    (root / "dir-out").symlink_to("../outside")
    (root / "up").symlink_to("..")
    os.mkfifo(root / "pipe")
    return Site(root, {k: v for k, v in files.items()})


def not_found_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The app behind the middleware: says it was called, and with which PATH_INFO."""
    body = f"app: {environ['REQUEST_METHOD']} {environ['PATH_INFO']!r}".encode()
    start_response(
        "404 Not Found",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def from_app(self) -> bool:
        return self.body.startswith(b"app: ")


Fetch = Callable[..., Answer]


def path_info(url_path: str) -> str:
    """The PATH_INFO a server makes of a percent-encoded URL path."""
    return urllib.parse.unquote_to_bytes(url_path).decode("latin-1")


def direct(app: Any, *, file_wrapper: bool = True) -> Fetch:
    """`fetch(url_path, method='GET', headers={})` calling `app` (a middleware) directly,
    inside and outside `wsgiref.validate`, with wsgiref's `FileWrapper` offered or not."""
    checked = validator(app)

    def fetch(path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Answer:
        script, _, query = path.partition("?")
        environ = make_environ(
            REQUEST_METHOD=method,
            SCRIPT_NAME="",
            PATH_INFO=path_info(script),
            QUERY_STRING=query,
        )
        if file_wrapper:
            environ["wsgi.file_wrapper"] = FileWrapper
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        seen: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen.append((status, hdrs))
            return lambda data: None

        result: Iterable[bytes] = checked(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()  # type: ignore[attr-defined]
        status, hdrs = seen[-1]
        return Answer(int(status[:3]), {k.lower(): v for k, v in hdrs}, body)

    return fetch


def over_socket(port: int) -> Fetch:
    """`fetch(url_path, method='GET', headers={})` over a new connection to `port`."""
    from support.http import Client

    def fetch(path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Answer:
        with Client(port) as c:
            r = c.request(path, method, tuple((headers or {}).items()))
        return Answer(r.status, {k.lower(): v for k, v in r.headers}, r.body)

    return fetch
