"""Router at scale: the whole GitHub API table, answered as werkzeug.routing answers it.

For every route of `bench/data/github_routes_methods.txt` (203 routes, 142 paths) the
router and a werkzeug `Map` built from the same table must agree on a filled-in path per
route (same endpoint, same params), on a 405 per path (same `Allow` set) and on 404s; then
hypothesis fills the params with arbitrary segment text (non-ASCII included, sent as PEP 3333
latin-1 strings of the UTF-8 bytes).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from routing_support import call, environ_for, header
from rswsgi import Router
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

TABLE_FILE = Path(__file__).parent.parent / "bench" / "data" / "github_routes_methods.txt"
PARAM = re.compile(r"\{(\w+)\}")


def load_table() -> list[tuple[str, str]]:
    rows = []
    for line in TABLE_FILE.read_text().splitlines():
        if line.strip():
            method, path = line.split()
            rows.append((method, path))
    return rows


TABLE = load_table()
PATHS = sorted({p for _, p in TABLE})


def tag_app(tag: str) -> Any:
    """A WSGI app that answers its tag and the routing args it saw."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        app.seen = environ["wsgiorg.routing_args"]  # type: ignore[attr-defined]
        return [tag.encode()]

    return app


def build() -> tuple[Router, dict[str, Any], Any]:
    router = Router()
    apps = {}
    for method, path in TABLE:
        tag = f"{method} {path}"
        apps[tag] = tag_app(tag)
        router.add(path, apps[tag], methods=[method])
    url_map = Map([Rule(PARAM.sub(r"<\1>", p), methods=[m], endpoint=f"{m} {p}") for m, p in TABLE])
    return router, apps, url_map


ROUTER, APPS, URL_MAP = build()


def werkzeug_says(method: str, path: str) -> tuple[Any, ...]:
    """("200", endpoint, params) / ("405", allow set) / ("404",) as werkzeug routes it."""
    adapter = URL_MAP.bind_to_environ(environ_for(method, path))
    try:
        endpoint, params = adapter.match()
    except NotFound:
        return ("404",)
    except MethodNotAllowed as e:
        return ("405", frozenset(e.valid_methods or ()))
    return ("200", endpoint, params)


def rswsgi_says(method: str, path: str) -> tuple[Any, ...]:
    status, headers, body = call(ROUTER, environ_for(method, path))
    if status.startswith("200"):
        tag = body.decode()
        positional, params = APPS[tag].seen
        assert positional == ()
        return ("200", tag, params)
    if status.startswith("405"):
        allow = header(headers, "Allow") or ""
        return ("405", frozenset(a.strip() for a in allow.split(",")))
    assert status == "404 Not Found", status
    return ("404",)


def fill(pattern: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: values[m.group(1)], pattern)


def wire(text: str) -> str:
    """A URL path as PEP 3333 gives it in PATH_INFO: its UTF-8 bytes as latin-1."""
    return text.encode().decode("latin-1")


def plain_values(pattern: str) -> dict[str, str]:
    # "v-<name>" never equals a static segment of the table.
    return {name: f"v-{name}" for name in PARAM.findall(pattern)}


def test_the_table_is_the_bench_table() -> None:
    assert (len(TABLE), len(PATHS)) == (203, 142)


@pytest.mark.parametrize(("method", "pattern"), TABLE, ids=[f"{m} {p}" for m, p in TABLE])
def test_every_route_hits_with_werkzeugs_endpoint_and_params(method: str, pattern: str) -> None:
    path = fill(pattern, plain_values(pattern))
    want = ("200", f"{method} {pattern}", plain_values(pattern))
    assert werkzeug_says(method, path) == want
    assert rswsgi_says(method, path) == want
    if method == "GET":  # HEAD is answered by the GET app, in both
        assert rswsgi_says("HEAD", path) == werkzeug_says("HEAD", path)


@pytest.mark.parametrize("pattern", PATHS)
def test_every_path_answers_405_with_werkzeugs_allow_set(pattern: str) -> None:
    path = fill(pattern, plain_values(pattern))
    methods = {m for m, p in TABLE if p == pattern}
    # OPTIONS is left out: werkzeug answers it automatically for every rule.
    for wrong in sorted({"GET", "POST", "PUT", "PATCH", "DELETE", "BREW"} - methods):
        got = rswsgi_says(wrong, path)
        assert got == werkzeug_says(wrong, path), wrong
        assert got[0] == "405"


def not_found_paths() -> list[str]:
    out = []
    for pattern in PATHS:
        path = fill(pattern, plain_values(pattern))
        parent = path.rsplit("/", 1)[0]
        out += ["/zzz-nope" + path, path + "/zzz/nope", parent + "/zzz-nope", path + "/"]
    return out


@pytest.mark.parametrize("path", not_found_paths())
def test_misses_agree_with_werkzeug(path: str) -> None:
    # A changed last segment may hit a sibling `{param}` route: then both must hit it.
    assert rswsgi_says("GET", path) == werkzeug_says("GET", path)


def test_foreign_prefixes_are_404() -> None:
    for pattern in PATHS:
        miss = "/zzz-nope" + fill(pattern, plain_values(pattern))
        assert rswsgi_says("GET", miss) == ("404",) == werkzeug_says("GET", miss), miss


SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(route=st.sampled_from(TABLE), data=st.data())
def test_arbitrary_param_values_agree_with_werkzeug(route: tuple[str, str], data: Any) -> None:
    method, pattern = route
    values = {name: data.draw(SEGMENT, label=name) for name in PARAM.findall(pattern)}
    path = wire(fill(pattern, values))
    want = werkzeug_says(method, path)
    assert rswsgi_says(method, path) == want
    if want[0] == "200" and want[1] == f"{method} {pattern}":
        assert want[2] == values
