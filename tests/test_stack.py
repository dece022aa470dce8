from __future__ import annotations

from typing import Any

import pytest
from rswsgi import handle_error, log_environ, reverser, stack, wrap_query_params
from support.apps import echo, full_stack, make_environ, raise_before_body, run
from werkzeug.test import Client


def test_order_is_inside_out() -> None:
    trace: list[str] = []

    def named(name: str) -> Any:
        def mw(app: Any) -> Any:
            def wrapped(environ: Any, start_response: Any) -> Any:
                trace.append(name)
                return app(environ, start_response)

            wrapped.inner = app  # type: ignore[attr-defined]
            return wrapped

        return mw

    a, b, c = named("a"), named("b"), named("c")
    app = stack(echo, a, b, c)
    run(app)
    # stack(app, a, b, c) == c(b(a(app))): c sees the request first.
    assert trace == ["c", "b", "a"]
    assert app.inner.inner.inner is echo


def test_no_middleware_returns_the_app() -> None:
    assert stack(echo) is echo


def test_real_middleware_compose() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr(environ["rswsgi.query_params"]).encode()]

    server = run(full_stack(app), make_environ(QUERY_STRING="x=1"))
    assert server.data == b"{'x': ['1']}"[::-1]
    # handle_error inside reverser's view: the 500 body comes back reversed
    # when reverser is outermost.
    outer_reverser = stack(raise_before_body, handle_error, reverser)
    response = Client(outer_reverser).get("/")
    assert response.status_code == 500
    assert response.data == b"500 Internal Server Error"[::-1]


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="app=1"):
        stack(1)
    with pytest.raises(TypeError, match="middleware='nope'"):
        stack(echo, reverser, "nope")


def test_stack_applies_each_middleware_to_the_result_so_far() -> None:
    app = stack(echo, reverser, handle_error)
    assert isinstance(app, handle_error)
    assert isinstance(app.app, reverser)
    assert app.app.app is echo
    environ = make_environ()
    assert run(app, environ).data == b"GET /?"[::-1]


def test_every_public_name_is_documented() -> None:
    for obj in (handle_error, log_environ, reverser, stack, wrap_query_params):
        doc = obj.__doc__ or ""
        assert "PEP 3333" in doc or "WSGI" in doc, obj
    assert "(app, /, *middleware)" == stack.__text_signature__
    assert handle_error.__text_signature__ == "(app, *, debug=False)"
