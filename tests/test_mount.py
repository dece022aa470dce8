"""Router.mount: the same SCRIPT_NAME/PATH_INFO split as werkzeug's DispatcherMiddleware."""

from __future__ import annotations

from typing import Any
from wsgiref.validate import validator

import flask
import pytest
from hypothesis import given
from hypothesis import strategies as st
from routing_support import call, environ_for, text_app
from rswsgi import Router
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

PREFIXES = ["/a", "/a/b", "/api/v1", "/x.y", "/caf\u00e9"]
PATHS = [
    "/a", "/a/", "/a/b", "/a/b/", "/a/bc", "/a/b/c/d", "/a//b", "/ab", "/", "",
    "/api", "/api/v1", "/api/v1/users/1", "/api/v10", "/x.y/z", "/xzy",
    "/caf\u00c3\u00a9", "/caf\u00c3\u00a9/menu", "/caf\u00e9/menu", "/zzz",
]  # fmt: skip


def wire(text: str) -> str:
    """`text` as it appears in a PEP 3333 PATH_INFO (UTF-8 bytes as latin-1)."""
    return text.encode("utf-8").decode("latin-1")


def record(tag: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{tag} {environ['SCRIPT_NAME']!r} {environ['PATH_INFO']!r}".encode()]

    return app


def both(prefixes: list[str]) -> tuple[Router, Any]:
    router = Router()
    mounts = {}
    for prefix in prefixes:
        router.mount(prefix, record(prefix))
        mounts[wire(prefix)] = record(prefix)
    return router, DispatcherMiddleware(record("default"), mounts)


@pytest.mark.parametrize("script_name", ["", "/root"])
@pytest.mark.parametrize("path", PATHS)
def test_mount_matches_dispatcher_middleware(path: str, script_name: str) -> None:
    router, werkzeug = both(PREFIXES)
    theirs = call(werkzeug, environ_for("GET", path, SCRIPT_NAME=script_name))
    ours = call(router, environ_for("GET", path, SCRIPT_NAME=script_name))
    if theirs[2].startswith(b"default"):
        assert ours[0] == "404 Not Found"
    else:
        assert ours[2] == theirs[2]


@given(
    prefixes=st.lists(
        st.text("ab/", min_size=1, max_size=5)
        .map(lambda s: "/" + s.strip("/"))
        .filter(lambda p: p != "/"),
        unique=True,
        max_size=4,
    ),
    path=st.text("ab/", max_size=10),
)
def test_mount_matches_dispatcher_middleware_for_any_paths(prefixes: list[str], path: str) -> None:
    router, werkzeug = both(prefixes)
    theirs = call(werkzeug, environ_for("GET", path))
    ours = call(router, environ_for("GET", path))
    if theirs[2].startswith(b"default"):
        assert ours[0] == "404 Not Found"
    else:
        assert ours[2] == theirs[2]


def test_mount_changes_the_environ_in_place_like_werkzeug() -> None:
    inner = text_app("inner")
    router = Router()
    router.mount("/m", inner)
    environ = environ_for("GET", "/m/x")
    call(router, environ)
    assert inner.environs[0] is environ
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/m", "/x")
    assert "wsgiorg.routing_args" not in environ


def test_route_beats_mount_and_mount_beats_405() -> None:
    router = Router()
    router.add("/api/health", text_app("route"), methods=["GET"])
    router.mount("/api", record("mount"))
    assert call(router, environ_for("GET", "/api/health"))[2] == b"route"
    assert call(router, environ_for("POST", "/api/health"))[2] == b"mount '/api' '/health'"
    assert call(router, environ_for("GET", "/api/other"))[2] == b"mount '/api' '/other'"


def test_longest_prefix_wins_whatever_the_order() -> None:
    router = Router()
    router.mount("/a/b", record("long"))
    router.mount("/a", record("short"))
    assert call(router, environ_for("GET", "/a/b/c"))[2] == b"long '/a/b' '/c'"
    assert call(router, environ_for("GET", "/a/c"))[2] == b"short '/a' '/c'"


@pytest.mark.parametrize(
    ("prefix", "app", "message"),
    [
        ("/", record("x"), "prefix='/':"),
        ("api", record("x"), "prefix='api':"),
        ("/api/", record("x"), "prefix='/api/':"),
        ("", record("x"), "prefix='':"),
    ],
)
def test_bad_mounts_are_refused(prefix: str, app: Any, message: str) -> None:
    with pytest.raises(ValueError) as err:
        Router().mount(prefix, app)
    assert str(err.value).startswith(message)


def test_mounting_a_prefix_twice_names_it() -> None:
    router = Router()
    router.mount("/api", record("one"))
    with pytest.raises(ValueError, match="'/api'.*'/api'"):
        router.mount("/api", record("two"))
    assert call(router, environ_for("GET", "/api"))[2] == b"one '/api' ''"


@pytest.mark.parametrize("path", ["/m", "/m/", "/m/x", "/n"])
def test_validator_on_both_sides(path: str) -> None:
    router = Router()
    router.mount("/m", validator(text_app("inner")))
    status, _, _ = call(validator(router), environ_for("GET", path))
    assert status == ("404 Not Found" if path == "/n" else "200 OK")


def test_mounted_flask_app_sees_its_script_root() -> None:
    app = flask.Flask(__name__)

    @app.get("/hello/<name>")
    def hello(name: str) -> str:
        return f"{flask.request.script_root} {flask.url_for('hello', name=name)}"

    router = Router()
    router.mount("/flask", app.wsgi_app)
    resp = Client(router).get("/flask/hello/bob")
    assert (resp.status_code, resp.text) == (200, "/flask /flask/hello/bob")
    assert Client(router).get("/hello/bob").status_code == 404
