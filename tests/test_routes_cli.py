"""``Router.routes``/``Router.mounts`` and ``python -m rswsgi.dev MODULE:APP --routes``."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path
from typing import Any

import pytest
from rswsgi import Router, handle_error, log_environ
from support import ROOT


def ok(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def other(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"other"]


# -- the Router API ------------------------------------------------------------


def test_routes_lists_each_add_in_order() -> None:
    router = Router()
    router.add("/users/{id}", ok, methods=["get"], name="user")
    router.add("/files/{*path}", other)
    router.add("/users/{id}", other, methods=["PUT", "delete", "PUT"])
    router.route("/a", name="a")(ok)
    assert router.routes == [
        ("/users/{id}", ("GET",), "user", ok),
        ("/files/{*path}", None, None, other),
        ("/users/{id}", ("DELETE", "PUT"), None, other),
        ("/a", None, "a", ok),
    ]


def test_a_refused_add_is_not_listed() -> None:
    router = Router()
    router.add("/x", ok, methods=["GET"])
    for bad in (
        lambda: router.add("/x", other, methods=["GET"]),  # conflict
        lambda: router.add("no-slash", other),
        lambda: router.add("/y", 42),  # type: ignore[arg-type]
    ):
        with pytest.raises((ValueError, TypeError)):
            bad()
    assert router.routes == [("/x", ("GET",), None, ok)]


def test_mounts_are_listed_longest_prefix_first() -> None:
    router = Router()
    router.mount("/a", ok)
    router.mount("/a/b", other)
    router.mount("/z", other)
    assert router.mounts == [("/a/b", other), ("/a", ok), ("/z", other)]
    assert Router().mounts == [] and Router().routes == []


def test_the_lists_are_copies() -> None:
    router = Router()
    router.add("/x", ok)
    router.mount("/m", ok)
    router.routes.clear()
    router.mounts.clear()
    assert len(router.routes) == 1 and len(router.mounts) == 1


def test_a_cycle_through_a_listed_app_is_collected() -> None:
    # The router holds each added app twice (table + list); the garbage
    # collector must be told about both references, or the cycle leaks.
    def make() -> weakref.ref[Any]:
        router = Router()

        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            return router(environ, start_response)  # type: ignore[return-value]

        router.add("/x", app, methods=["GET"])
        return weakref.ref(app)

    ref = make()
    gc.collect()
    assert ref() is None


# -- the CLI -------------------------------------------------------------------


def routes_cli(target: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # Were --routes ignored, the server would start (on any free port) and the
    # timeout would fail the test instead of hanging it.
    return subprocess.run(
        [sys.executable, "-m", "rswsgi.dev", target, "--routes", "--port", "0"],
        cwd=cwd,
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_composed_example_table() -> None:
    done = routes_cli("examples.composed:app")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == textwrap.dedent(
        """\
        Endpoint    Methods  Rule
        ----------  -------  ----------------------------
        index       GET      /
        hello       GET      /hello
        hello_name  GET      /hello/{name}
        search      GET      /search
        reverse     GET      /reverse
        boom        GET      /boom
        <mount>     (any)    /flask -> <Flask 'flaskapp'>
        """
    )


def test_the_docs_show_the_real_table() -> None:
    readme = (ROOT / "docs" / "router.md").read_text(encoding="utf-8")
    command = "$ python -m rswsgi.dev examples.composed:app --routes\n"
    shown = readme.split(command, 1)[1].split("```", 1)[0]
    assert routes_cli("examples.composed:app").stdout == shown


WRAPPERS = """
import functools

from rswsgi import Router, handle_error, log_environ
from werkzeug.middleware.proxy_fix import ProxyFix

def ok(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]

router = Router()
router.add("/items/{id}", ok, methods=["POST", "GET"], name="item")
router.add("/static/{*path}", ok)
class Legacy:
    def __call__(self, environ, start_response):
        return ok(environ, start_response)
    def __repr__(self):
        return "<Legacy app>"

router.mount("/legacy", Legacy())

# rswsgi middleware, then werkzeug's ProxyFix (.app)
proxied = ProxyFix(log_environ(handle_error(router)))

# functools.wraps (__wrapped__)
@functools.wraps(router)
def wrapped(environ, start_response):
    return router(environ, start_response)

# an object that keeps its app as .wsgi_app, as Flask does
class Holder:
    def __init__(self, app):
        self.wsgi_app = app
    def __call__(self, environ, start_response):
        return self.wsgi_app(environ, start_response)

held = Holder(log_environ(router))

# no router anywhere, and two wrappers that point at each other
class Loop:
    app = None
    def __call__(self, environ, start_response):
        return ok(environ, start_response)

a, b = Loop(), Loop()
a.app, b.app = b, a
loop = log_environ(a)
plain = log_environ(ok)
"""

WRAPPED_TABLE = """\
Endpoint   Methods    Rule
---------  ---------  -----------------------
item       GET, POST  /items/{id}
(unnamed)  (any)      /static/{*path}
<mount>    (any)      /legacy -> <Legacy app>
"""


@pytest.mark.parametrize("name", ["router", "proxied", "wrapped", "held"])
def test_router_is_found_through_wrappers(tmp_path: Path, name: str) -> None:
    (tmp_path / "wrappers.py").write_text(WRAPPERS, encoding="utf-8")
    done = routes_cli(f"wrappers:{name}", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == WRAPPED_TABLE


@pytest.mark.parametrize("name", ["plain", "loop"])
def test_no_router_is_one_line_and_exit_1(tmp_path: Path, name: str) -> None:
    (tmp_path / "wrappers.py").write_text(WRAPPERS, encoding="utf-8")
    done = routes_cli(f"wrappers:{name}", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"python -m rswsgi.dev: error: no rswsgi Router found in wrappers:{name}\n"
    )


def test_middleware_expose_the_app_the_walk_follows() -> None:
    router = Router()
    assert log_environ(handle_error(router)).app.app is router  # type: ignore[attr-defined]
