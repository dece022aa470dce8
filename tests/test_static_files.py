"""`static_files`: every HTTP and safety rule of the middleware, each checked twice: with
the middleware called directly (`wsgiref.validate` on both sides) and behind rswsgi's own
server (sendfile, a raw socket). Folder and drivers: tests/static_site.py."""

from __future__ import annotations

import email.utils
import gzip
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rswsgi import Server, static_files
from static_site import (
    BIG_LEN,
    CSS,
    SECRET,
    Answer,
    Fetch,
    Site,
    build_site,
    direct,
    not_found_app,
    over_socket,
)
from support.apps import make_environ, run


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(params=["direct", "no-file-wrapper", "server"])
def make(request: pytest.FixtureRequest, serve: Callable[..., Server]) -> Callable[..., Fetch]:
    """`make(**static_files_options)` -> a fetch for `/static` over the site's folder, by
    one of the three ways."""
    site: Site = request.getfixturevalue("site")

    def build(**options: Any) -> Fetch:
        app = static_files(not_found_app, {"/static": site.root}, **options)
        if request.param == "server":
            return over_socket(serve(app).server_port)
        return direct(app, file_wrapper=request.param == "direct")

    return build


@pytest.fixture
def fetch(make: Callable[..., Fetch]) -> Fetch:
    return make()


def served(a: Answer, body: bytes, status: int = 200) -> None:
    assert (a.status, a.body) == (status, body), (a.status, a.headers, a.body[:200])
    assert not a.from_app


# --- methods -------------------------------------------------------------------------------


def test_get_serves_the_file_with_its_headers(fetch: Fetch) -> None:
    a = fetch("/static/app.css")
    served(a, CSS)
    assert a.headers["content-type"] == "text/css; charset=utf-8"
    assert a.headers["content-length"] == str(len(CSS))
    assert a.headers["accept-ranges"] == "bytes"
    assert a.headers["vary"] == "Accept-Encoding"
    assert a.headers["cache-control"] == "public, max-age=60"
    assert "content-encoding" not in a.headers


def test_head_has_the_headers_and_no_body(fetch: Fetch) -> None:
    get, head = fetch("/static/app.css"), fetch("/static/app.css", "HEAD")
    assert (head.status, head.body) == (200, b"")
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
        assert head.headers[name] == get.headers[name]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_other_methods_on_a_file_get_405_with_allow(fetch: Fetch, method: str) -> None:
    a = fetch("/static/app.css", method)
    assert a.status == 405
    assert a.headers["allow"] == "GET, HEAD"
    assert not a.from_app
    assert fetch("/static/docs", method).status == 405  # a folder with an index too


def test_other_methods_on_a_missing_file_go_to_the_app(fetch: Fetch) -> None:
    a = fetch("/static/nothing-here.css", "POST")
    assert (a.status, a.body) == (404, b"app: POST '/static/nothing-here.css'")


def test_other_paths_go_to_the_app(fetch: Fetch) -> None:
    for path in ("/", "/app.css", "/staticx/app.css", "/static/missing.css", "/static/noindex/"):
        a = fetch(path)
        assert a.status == 404 and a.from_app, (path, a)


# --- Content-Type --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/static/app.css", "text/css; charset=utf-8"),
        ("/static/app.0123456789ab.js", "text/javascript; charset=utf-8"),
        ("/static/data.json", "application/json"),
        ("/static/img/logo.png", "image/png"),
        ("/static/docs/", "text/html; charset=utf-8"),
        ("/static/LICENSE", "application/octet-stream"),
        ("/static/notes.unknownext", "application/octet-stream"),
        ("/static/digits.txt", "text/plain; charset=utf-8"),
    ],
)
def test_content_type_from_the_extension(fetch: Fetch, path: str, ctype: str) -> None:
    assert fetch(path).headers["content-type"] == ctype


def test_mimetypes_override_the_table(make: Callable[..., Fetch]) -> None:
    fetch = make(mimetypes={".unknownext": "text/x-notes", "PNG": "image/x-test"})
    assert fetch("/static/notes.unknownext").headers["content-type"] == (
        "text/x-notes; charset=utf-8"
    )
    assert fetch("/static/img/logo.png").headers["content-type"] == "image/x-test"


# --- validators and conditional requests (RFC 9110 §8.8, §13) --------------------------------


def test_etag_is_strong_and_last_modified_is_the_mtime(fetch: Fetch, site: Site) -> None:
    a = fetch("/static/app.css")
    etag = a.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    mtime = int(site.file("app.css").stat().st_mtime)
    assert email.utils.parsedate_to_datetime(a.headers["last-modified"]).timestamp() == mtime
    assert fetch("/static/app.css").headers["etag"] == etag  # stable
    assert fetch("/static/data.json").headers["etag"] != etag


def test_if_none_match_gives_304_without_body(fetch: Fetch) -> None:
    etag = fetch("/static/app.css").headers["etag"]
    for field in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        a = fetch("/static/app.css", headers={"If-None-Match": field})
        assert (a.status, a.body) == (304, b""), field
        assert a.headers["etag"] == etag
        assert a.headers["cache-control"] == "public, max-age=60"
        assert a.headers["vary"] == "Accept-Encoding"
        assert "content-type" not in a.headers
        assert a.headers.get("content-length", "0") == "0"
    assert fetch("/static/app.css", "HEAD", {"If-None-Match": etag}).status == 304
    served(fetch("/static/app.css", headers={"If-None-Match": '"other"'}), CSS)


def test_if_modified_since_gives_304(fetch: Fetch) -> None:
    last = fetch("/static/app.css").headers["last-modified"]
    assert fetch("/static/app.css", headers={"If-Modified-Since": last}).status == 304
    later = email.utils.formatdate(time.time() + 3600, usegmt=True)
    assert fetch("/static/app.css", headers={"If-Modified-Since": later}).status == 304
    earlier = "Sun, 06 Nov 1994 08:49:37 GMT"
    served(fetch("/static/app.css", headers={"If-Modified-Since": earlier}), CSS)
    served(fetch("/static/app.css", headers={"If-Modified-Since": "not a date"}), CSS)


def test_if_none_match_takes_precedence_over_if_modified_since(fetch: Fetch) -> None:
    # RFC 9110 §13.2.2: with If-None-Match present, If-Modified-Since is not evaluated.
    last = fetch("/static/app.css").headers["last-modified"]
    a = fetch("/static/app.css", headers={"If-None-Match": '"x"', "If-Modified-Since": last})
    served(a, CSS)


def test_if_match_and_if_unmodified_since_give_412(fetch: Fetch) -> None:
    got = fetch("/static/app.css").headers
    served(fetch("/static/app.css", headers={"If-Match": got["etag"]}), CSS)
    assert fetch("/static/app.css", headers={"If-Match": '"x"'}).status == 412
    assert fetch("/static/app.css", headers={"If-Match": f"W/{got['etag']}"}).status == 412
    old = "Sun, 06 Nov 1994 08:49:37 GMT"
    assert fetch("/static/app.css", headers={"If-Unmodified-Since": old}).status == 412
    served(fetch("/static/app.css", headers={"If-Unmodified-Since": got["last-modified"]}), CSS)


# --- ranges (RFC 9110 §14) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "content_range", "body"),
    [
        ("bytes=0-3", "bytes 0-3/10", b"0123"),
        ("bytes=4-", "bytes 4-9/10", b"456789"),
        ("bytes=-3", "bytes 7-9/10", b"789"),
        ("bytes=8-100", "bytes 8-9/10", b"89"),
        ("bytes=-50", "bytes 0-9/10", b"0123456789"),
    ],
)
def test_one_range_gives_206(fetch: Fetch, field: str, content_range: str, body: bytes) -> None:
    a = fetch("/static/digits.txt", headers={"Range": field})
    served(a, body, 206)
    assert a.headers["content-range"] == content_range
    assert a.headers["content-length"] == str(len(body))


@pytest.mark.parametrize("field", ["bytes=10-", "bytes=10-20", "bytes=-0"])
def test_unsatisfiable_range_gives_416(fetch: Fetch, field: str) -> None:
    a = fetch("/static/digits.txt", headers={"Range": field})
    assert a.status == 416 and not a.from_app
    assert a.headers["content-range"] == "bytes */10"


@pytest.mark.parametrize("field", ["bytes=0-1,4-5", "bytes=5-2", "items=0-1", "bytes=x-y"])
def test_several_or_invalid_ranges_get_the_whole_file(fetch: Fetch, field: str) -> None:
    served(fetch("/static/digits.txt", headers={"Range": field}), b"0123456789")


def test_range_is_ignored_for_head_and_empty_files(fetch: Fetch) -> None:
    head = fetch("/static/digits.txt", "HEAD", {"Range": "bytes=0-1"})
    assert (head.status, head.headers["content-length"]) == (200, "10")
    served(fetch("/static/empty.txt", headers={"Range": "bytes=0-1"}), b"")


def test_if_range_decides_whether_the_range_counts(fetch: Fetch) -> None:
    got = fetch("/static/digits.txt").headers
    for good in (got["etag"], got["last-modified"]):
        a = fetch("/static/digits.txt", headers={"Range": "bytes=0-1", "If-Range": good})
        served(a, b"01", 206)
    for stale in ('"old"', f"W/{got['etag']}", "Sun, 06 Nov 1994 08:49:37 GMT"):
        a = fetch("/static/digits.txt", headers={"Range": "bytes=0-1", "If-Range": stale})
        served(a, b"0123456789")


def test_a_large_file_and_a_range_inside_it(fetch: Fetch, site: Site) -> None:
    content = site.files["big.bin"]
    served(fetch("/static/big.bin"), content)
    start, end = 1_000_003, 2_500_000
    a = fetch("/static/big.bin", headers={"Range": f"bytes={start}-{end}"})
    served(a, content[start : end + 1], 206)
    assert a.headers["content-range"] == f"bytes {start}-{end}/{BIG_LEN}"
    served(fetch("/static/big.bin", headers={"Range": "bytes=-5"}), content[-5:], 206)


# --- precompressed siblings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "coding", "body"),
    [
        ("gzip, deflate, br, zstd", "br", b"BROTLI-BYTES"),
        ("gzip, zstd", "zstd", b"ZSTD-BYTES"),
        ("gzip", "gzip", b"GZIP-BYTES"),
        ("x-gzip", "gzip", b"GZIP-BYTES"),
        ("br;q=0.5, gzip;q=0.9", "gzip", b"GZIP-BYTES"),
        ("br;q=0, gzip;q=0, zstd;q=0", None, b"identity " * 20),
        ("*;q=0.1, br;q=0", "zstd", b"ZSTD-BYTES"),
        ("identity", None, b"identity " * 20),
        ("deflate", None, b"identity " * 20),
    ],
)
def test_precompressed_sibling_by_accept_encoding(
    fetch: Fetch, accept: str, coding: str | None, body: bytes
) -> None:
    a = fetch("/static/style.css", headers={"Accept-Encoding": accept})
    served(a, body)
    assert a.headers.get("content-encoding") == coding
    assert a.headers["content-type"] == "text/css; charset=utf-8"  # the file's, not .br's
    assert a.headers["vary"] == "Accept-Encoding"
    assert a.headers["content-length"] == str(len(body))


def test_each_encoding_has_its_own_etag(fetch: Fetch) -> None:
    tags = {
        fetch("/static/style.css", headers={"Accept-Encoding": ae}).headers["etag"]
        for ae in ("br", "zstd", "gzip", "identity")
    }
    assert len(tags) == 4
    br = fetch("/static/style.css", headers={"Accept-Encoding": "br"}).headers["etag"]
    again = fetch("/static/style.css", headers={"Accept-Encoding": "br", "If-None-Match": br})
    assert again.status == 304
    # The identity tag does not validate the br representation.
    plain = fetch("/static/style.css").headers["etag"]
    other = fetch("/static/style.css", headers={"Accept-Encoding": "br", "If-None-Match": plain})
    assert other.status == 200


def test_a_sibling_older_than_its_file_is_not_sent(fetch: Fetch) -> None:
    a = fetch("/static/stale.css", headers={"Accept-Encoding": "gzip"})
    served(a, b"new identity bytes")
    assert "content-encoding" not in a.headers


def test_ranges_apply_to_the_encoded_file(fetch: Fetch) -> None:
    a = fetch("/static/style.css", headers={"Accept-Encoding": "br", "Range": "bytes=0-5"})
    served(a, b"BROTLI", 206)
    assert a.headers["content-encoding"] == "br"
    assert a.headers["content-range"] == "bytes 0-5/12"


# --- Cache-Control -------------------------------------------------------------------------


def test_cache_control_defaults(fetch: Fetch) -> None:
    assert fetch("/static/app.css").headers["cache-control"] == "public, max-age=60"
    hashed = fetch("/static/app.0123456789ab.js").headers["cache-control"]
    assert hashed == "public, max-age=31536000, immutable"


def test_cache_control_is_configurable(make: Callable[..., Fetch]) -> None:
    fetch = make(max_age=3600, immutable_max_age=86400)
    assert fetch("/static/app.css").headers["cache-control"] == "public, max-age=3600"
    hashed = fetch("/static/app.0123456789ab.js").headers["cache-control"]
    assert hashed == "public, max-age=86400, immutable"
    fetch = make(max_age=None, immutable_max_age=None)
    assert "cache-control" not in fetch("/static/app.css").headers
    assert "cache-control" not in fetch("/static/app.0123456789ab.js").headers


# --- index files and folders ---------------------------------------------------------------


def test_index_file_and_redirect_to_the_slash(fetch: Fetch, site: Site) -> None:
    served(fetch("/static/docs/"), site.files["docs/index.html"])
    served(fetch("/static/"), site.files["index.html"])
    for path, location in [
        ("/static/docs", "/static/docs/"),
        ("/static", "/static/"),
        ("/static/docs?a=1&b=%20", "/static/docs/?a=1&b=%20"),
    ]:
        a = fetch(path)
        assert a.status == 301 and not a.from_app, (path, a)
        assert a.headers["location"] == location
    # A file asked for as a folder is not there.
    assert fetch("/static/app.css/").from_app


def test_index_file_is_configurable(make: Callable[..., Fetch]) -> None:
    fetch = make(index_file=None)
    assert fetch("/static/docs/").from_app
    assert fetch("/static/docs").from_app
    fetch = make(index_file="file.txt")
    served(fetch("/static/noindex/"), b"in a folder without index\n")


def test_redirect_location_is_percent_encoded(tmp_path: Path) -> None:
    (tmp_path / "a dir").mkdir()
    (tmp_path / "a dir" / "index.html").write_bytes(b"<p>")
    app = static_files(not_found_app, {"/s p": tmp_path})
    # PATH_INFO and SCRIPT_NAME are latin-1 strings of the decoded URL bytes.
    environ = make_environ(PATH_INFO="/s p/a dir", SCRIPT_NAME="/m\u00fcnt", QUERY_STRING="q=%41")
    result = run(app, environ)
    assert result.status == "301 Moved Permanently"
    assert result.headers["location"] == "/m%FCnt/s%20p/a%20dir/?q=%41"


# --- names ---------------------------------------------------------------------------------


def test_names_with_spaces_percent_and_utf8(fetch: Fetch, site: Site) -> None:
    served(fetch("/static/with%20space.txt"), b"spaced\n")
    served(fetch("/static/caf%C3%A9.txt"), "caf\u00e9\n".encode())
    # `%252e` is a literal `%2e` in the name: decoded once, never twice.
    served(fetch("/static/odd%252e%252e.txt"), b"a literal percent name\n")


# --- safety --------------------------------------------------------------------------------

OUTSIDE = [
    "/static/../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/.%2e/secret.txt",
    "/static/img/..%2f..%2fsecret.txt",
    "/static/..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/..%5c..%5csecret.txt",
    "/static/img%5c..%5c..%5csecret.txt",
    "/static/%00/../secret.txt",
    "/static/app.css%00.png",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/link-out.txt",
    "/static/abs-out.txt",
    "/static/dir-out/secret.txt",
    "/static/up/secret.txt",
    "/static/up/static/app.css",
    "/static/./app.css",
    "/static/img//logo.png",
    "/static/pipe",
]


@pytest.mark.parametrize("path", OUTSIDE)
def test_paths_out_of_the_folder_are_refused_as_missing(fetch: Fetch, path: str) -> None:
    a = fetch(path)
    assert SECRET not in a.body
    # Refused like a missing file: the app answers (the server may refuse first, 400).
    assert a.from_app or a.status == 400, (path, a)


def test_a_symlink_inside_the_folder_is_followed(fetch: Fetch) -> None:
    served(fetch("/static/link-in.css"), CSS)


def test_hidden_files_only_when_asked_for(make: Callable[..., Fetch], site: Site) -> None:
    fetch = make()
    for path in ("/static/.env", "/static/.git/config", "/static/.git/"):
        assert fetch(path).from_app, path
    fetch = make(allow_hidden=True)
    served(fetch("/static/.env"), site.files[".env"])
    served(fetch("/static/.git/config"), site.files[".git/config"])
    assert fetch("/static/../secret.txt").from_app  # `..` is never "hidden"


# --- the cache is checked against the file -------------------------------------------------


def test_an_edited_file_is_never_served_stale(
    make: Callable[..., Fetch], tmp_path: Path, serve: Callable[..., Server]
) -> None:
    folder = tmp_path / "live"
    folder.mkdir()
    target = folder / "a.txt"
    target.write_bytes(b"version 1")
    os.utime(target, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    app = static_files(not_found_app, {"/": folder})
    for fetch in (direct(app), over_socket(serve(app).server_port)):
        target.write_bytes(b"version 1")
        os.utime(target, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
        first = fetch("/a.txt")
        served(first, b"version 1")
        # Same length, mtime one nanosecond later: new bytes and a new ETag at once.
        target.write_bytes(b"version 2")
        os.utime(target, ns=(1_600_000_000_000_000_001, 1_600_000_000_000_000_001))
        second = fetch("/a.txt")
        served(second, b"version 2")
        assert second.headers["etag"] != first.headers["etag"]
        assert fetch("/a.txt", headers={"If-None-Match": first.headers["etag"]}).status == 200
        target.write_bytes(b"longer version 3")
        served(fetch("/a.txt"), b"longer version 3")
        target.unlink()
        assert fetch("/a.txt").from_app
        target.write_bytes(b"back")
        served(fetch("/a.txt"), b"back")


def test_a_replaced_folder_is_served_as_it_is_now(tmp_path: Path) -> None:
    folder = tmp_path / "build"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"old build")
    fetch = direct(static_files(not_found_app, {"/b": folder}))
    served(fetch("/b/a.txt"), b"old build")
    folder.rename(tmp_path / "build.old")
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"new build")
    served(fetch("/b/a.txt"), b"new build")


# --- the body ------------------------------------------------------------------------------


def test_the_body_is_the_servers_file_wrapper() -> None:
    wrapped: list[tuple[Any, int]] = []

    class Wrapper:
        def __init__(self, filelike: Any, block: int) -> None:
            wrapped.append((filelike, block))
            self.filelike = filelike

        def __iter__(self) -> Iterator[bytes]:
            while chunk := self.filelike.read(7):
                yield chunk

        def close(self) -> None:
            self.filelike.close()

    app = static_files(not_found_app, {"/": Path(__file__).parent.parent / "examples" / "static"})
    environ = make_environ(PATH_INFO="/app.css", REQUEST_METHOD="GET")
    environ["wsgi.file_wrapper"] = Wrapper
    result = run(app, environ)
    [(filelike, block)] = wrapped
    assert block == 65536
    assert filelike.closed  # closed by the server's close()
    css = (Path(__file__).parent.parent / "examples" / "static" / "app.css").read_bytes()
    assert result.data == css
    assert environ["rswsgi.static"].endswith(os.path.join("static", "app.css"))


def test_the_file_like_is_bounded_to_its_range(site: Site) -> None:
    seen: list[Any] = []
    app = static_files(not_found_app, {"/": site.root})
    environ = make_environ(PATH_INFO="/digits.txt", HTTP_RANGE="bytes=2-5")
    environ["wsgi.file_wrapper"] = lambda f, block: seen.append(f) or f
    result = app(environ, lambda s, h, e=None: None)
    [f] = seen
    assert f is result
    assert (f.tell(), f.seekable(), f.readable()) == (2, True, True)
    assert os.lseek(f.fileno(), 0, os.SEEK_CUR) == 2  # gunicorn reads the offset so
    assert f.read(3) == b"234" and f.read() == b"5" and f.read() == b""
    assert f.seek(0, 2) == 6 and f.seek(3) == 3 and f.read(100) == b"345"
    with pytest.raises(ValueError):
        f.seek(-1)
    f.close()
    assert f.closed
    with pytest.raises(ValueError):
        f.read()


def test_head_and_304_open_no_body(site: Site) -> None:
    app = static_files(not_found_app, {"/": site.root})
    for environ in (
        make_environ(PATH_INFO="/app.css", REQUEST_METHOD="HEAD"),
        make_environ(PATH_INFO="/app.css", HTTP_IF_NONE_MATCH="*"),
    ):
        assert app(environ, lambda s, h, e=None: None) == []


def test_the_static_key_names_the_served_file(site: Site) -> None:
    app = static_files(not_found_app, {"/": site.root})
    environ = make_environ(PATH_INFO="/style.css", HTTP_ACCEPT_ENCODING="gzip")
    run(app, environ)
    assert environ["rswsgi.static"] == str(site.root / "style.css.gz")
    environ = make_environ(PATH_INFO="/missing.css")
    run(app, environ)
    assert "rswsgi.static" not in environ


# --- compressed siblings really decompress (a real .gz made here) ---------------------------


def test_a_real_gzip_sibling_round_trips(tmp_path: Path) -> None:
    text = b"p { margin: 0 }\n" * 100
    (tmp_path / "a.css").write_bytes(text)
    (tmp_path / "a.css.gz").write_bytes(gzip.compress(text))
    fetch = direct(static_files(not_found_app, {"/": tmp_path}))
    a = fetch("/a.css", headers={"Accept-Encoding": "gzip"})
    assert a.headers["content-encoding"] == "gzip"
    assert gzip.decompress(a.body) == text


def test_a_sibling_added_or_removed_later_is_seen(tmp_path: Path) -> None:
    (tmp_path / "a.css").write_bytes(b"plain")
    fetch = direct(static_files(not_found_app, {"/": tmp_path}))
    gz = {"Accept-Encoding": "gzip"}
    served(fetch("/a.css", headers=gz), b"plain")
    (tmp_path / "a.css.gz").write_bytes(b"GZ")
    a = fetch("/a.css", headers=gz)
    served(a, b"GZ")
    assert a.headers["content-encoding"] == "gzip"
    (tmp_path / "a.css.gz").unlink()
    served(fetch("/a.css", headers=gz), b"plain")


# --- construction --------------------------------------------------------------------------


def test_constructor_checks_its_arguments(site: Site) -> None:
    ok = {"/static": site.root}
    with pytest.raises(TypeError):
        static_files(42, ok)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must start with '/'"):
        static_files(not_found_app, {"static": site.root})
    with pytest.raises(ValueError, match="empty, '.' or '..' segment"):
        static_files(not_found_app, {"/a/../b": site.root})
    with pytest.raises(ValueError, match="does not exist"):
        static_files(not_found_app, {"/static": site.root / "nope"})
    with pytest.raises(ValueError, match="does not exist"):
        static_files(not_found_app, {"/static": site.root / "app.css"})
    with pytest.raises(ValueError, match="same URL prefix"):
        static_files(not_found_app, {"/static": site.root, "/static/": site.root})
    with pytest.raises(ValueError, match="max_age=-1"):
        static_files(not_found_app, ok, max_age=-1)
    with pytest.raises(ValueError, match="plain file name"):
        static_files(not_found_app, ok, index_file="../x.html")
    with pytest.raises(TypeError):
        static_files(not_found_app, ok, allow_hidden=1)  # type: ignore[arg-type]


def test_repr_app_and_decorator(site: Site) -> None:
    mw = static_files(not_found_app, {"/static/": str(site.root)})
    assert mw.app is not_found_app
    assert repr(mw) == (
        f"static_files({not_found_app!r}, {{'/static': {str(site.root)!r}}}, max_age=60, "
        "immutable_max_age=31536000, index_file='index.html', allow_hidden=False)"
    )
    mw = static_files(not_found_app, {"/": site.root}, index_file=None, max_age=None)
    assert "{'/': " in repr(mw) and "index_file=None" in repr(mw) and "max_age=None" in repr(mw)


def test_longest_prefix_wins(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.txt").write_bytes(b"from a")
    (tmp_path / "b" / "x.txt").write_bytes(b"from b")
    fetch = direct(static_files(not_found_app, {"/s": tmp_path / "a", "/s/b": tmp_path / "b"}))
    served(fetch("/s/x.txt"), b"from a")
    served(fetch("/s/b/x.txt"), b"from b")
    fetch = direct(static_files(not_found_app, {}))
    assert fetch("/s/x.txt").from_app


# --- the middleware contract (tests/conformance.py), for requests it passes on -------------


def wrap(app: Any) -> Any:
    return static_files(app, {"/static": Path(__file__).parent.parent / "examples" / "static"})


def test_passes_the_apps_iterable_through_untouched() -> None:
    body = [b"x"]

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    assert wrap(app)(make_environ(PATH_INFO="/other"), lambda s, h, e=None: None) is body
