"""A page with 12 subresources and a self-check, served to headless Chromium by test_browser.

`/` is an HTML page that references 2 stylesheets, 3 scripts and 7 images (three of the
files are about 200 KB, so the browser keeps several requests in flight and opens parallel
connections). After `load` an inline script checks each one (CSS applied via
`getComputedStyle`, JS set its global, image `naturalWidth`) and writes the verdict into
`<pre id=result>` and `document.title` (`loaded 12/12`).

Every request is recorded as `(REMOTE_PORT, PATH_INFO, User-Agent)`; `/stats` returns
the record as JSON so the test can count the browser's connections.

`BROWSER_APP_MISSING=/img/3.png` (an environment variable, comma-separated paths) makes
those paths 404, to show the self-check can fail.
"""

from __future__ import annotations

import json
import os
import random
import struct
import zlib
from collections.abc import Callable, Iterable
from typing import Any

BIG = 200 * 1024

# A few large files and many small ones; each a distinct URL so each is fetched.
CSS = {
    "/css/1.css": ("#css1", "11px", 0),
    "/css/2.css": ("#css2", "12px", BIG),
}
JS = {"/js/1.js": 0, "/js/2.js": BIG, "/js/3.js": 0}
# path -> (width, height, noise): noise PNGs do not compress, so 256x256 RGB is ~197 KB.
IMAGES = {
    "/img/1.png": (1, 1, False),
    "/img/2.png": (2, 1, False),
    "/img/3.png": (3, 1, False),
    "/img/4.png": (4, 1, False),
    "/img/5.png": (5, 1, False),
    "/img/6.png": (6, 1, False),
    "/img/7.png": (256, 256, True),
}
TOTAL = len(CSS) + len(JS) + len(IMAGES)


def png(width: int, height: int, noise: bool) -> bytes:
    """A truecolor PNG (RFC 2083): solid blue, or seeded random noise that zlib cannot shrink."""
    rng = random.Random(width * 1000 + height)
    rows = b"".join(
        b"\x00" + (rng.randbytes(3 * width) if noise else b"\x20\x40\xc0" * width)
        for _ in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def padding(n: int) -> str:
    """A comment of about `n` bytes, to make a file large."""
    return "/* " + "x" * n + " */\n" if n else ""


def page() -> bytes:
    checks = (
        [f"['{p}', css('{sel[1:]}', '{value}')]" for p, (sel, value, _) in CSS.items()]
        + [f"['{p}', window['js_{p[4]}'] === true]" for p in JS]
        + [f"['{p}', img('{p}', {w})]" for p, (w, _, _) in IMAGES.items()]
    )
    links = "".join(f'<link rel="stylesheet" href="{p}">\n' for p in CSS)
    scripts = "".join(f'<script src="{p}"></script>\n' for p in JS)
    boxes = "".join(f'<div id="{sel[1:]}" class="box"></div>\n' for sel, _, _ in CSS.values())
    imgs = "".join(f'<img src="{p}" alt="{p}">\n' for p in IMAGES)
    html = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>waiting</title>
{links}{scripts}</head>
<body>
<h1>rswsgi browser check</h1>
{boxes}{imgs}<pre id="result">waiting for load</pre>
<script>
function css(id, value) {{
  return getComputedStyle(document.getElementById(id)).width === value;
}}
function img(src, width) {{
  const el = document.querySelector('img[src="' + src + '"]');
  return el.complete && el.naturalWidth === width;
}}
window.addEventListener('load', function () {{
  const checks = [{", ".join(checks)}];
  const ok = checks.filter(c => c[1]).length;
  const lines = checks.map(c => (c[1] ? 'ok ' : 'MISSING ') + c[0]);
  lines.push('loaded ' + ok + '/' + checks.length);
  document.getElementById('result').textContent = lines.join('\\n');
  document.title = 'loaded ' + ok + '/' + checks.length;
}});
</script>
</body></html>
"""
    return html.encode()


def resources() -> dict[str, tuple[str, bytes]]:
    """Every path the app serves (except `/stats`): `path -> (content type, body)`."""
    out: dict[str, tuple[str, bytes]] = {"/": ("text/html; charset=utf-8", page())}
    for path, (sel, value, pad) in CSS.items():
        body = f"{padding(pad)}{sel} {{ width: {value}; height: 10px; background: green; }}\n"
        out[path] = ("text/css", body.encode())
    for path, pad in JS.items():
        out[path] = ("text/javascript", f"{padding(pad)}window.js_{path[4]} = true;\n".encode())
    for path, (w, h, noise) in IMAGES.items():
        out[path] = ("image/png", png(w, h, noise))
    return out


StartResponse = Callable[..., Any]


def make_app() -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    files = resources()
    missing = {p for p in os.environ.get("BROWSER_APP_MISSING", "").split(",") if p}
    seen: list[dict[str, str]] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        seen.append(
            {
                "port": str(environ.get("REMOTE_PORT", "")),
                "path": path,
                "agent": environ.get("HTTP_USER_AGENT", ""),
            }
        )
        if path == "/stats":
            ctype, body = "application/json", json.dumps(seen).encode()
        elif path in files and path not in missing:
            ctype, body = files[path]
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        start_response(
            "200 OK",
            [
                ("Content-Type", ctype),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]

    return app


app = make_app()
