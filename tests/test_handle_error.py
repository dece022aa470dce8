from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any
from wsgiref.validate import validator

import pytest
from rswsgi import handle_error
from support.apps import (
    TEXT,
    Server,
    close_counter_app,
    make_environ,
    raise_before_body,
    raise_mid_stream,
    run,
)
from werkzeug.test import Client

BODY_500 = b"500 Internal Server Error"


def test_validator_both_sides_on_the_500() -> None:
    server = run(validator(handle_error(validator(raise_before_body))))
    assert server.status == "500 Internal Server Error"
    gc.collect()


def test_exception_from_app_call_is_a_500_without_exc_info() -> None:
    environ = make_environ()
    server = run(handle_error(raise_before_body), environ)
    # The 500 is the first call the server sees: no exc_info.
    assert server.calls == [
        (
            "500 Internal Server Error",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(BODY_500))),
            ],
            None,
        )
    ]
    assert server.data == BODY_500
    log = environ["wsgi.errors"].getvalue()
    assert log.startswith("Traceback (most recent call last):")
    assert "ValueError: boom before body" in log


def test_exception_before_first_nonempty_chunk_is_a_500() -> None:
    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield b""
        yield b""
        raise ValueError("late but before the body")

    environ = make_environ()
    server = run(handle_error(app), environ)
    assert [c[0] for c in server.calls] == ["500 Internal Server Error"]
    assert server.calls[0][2] is None
    assert server.data == BODY_500
    assert "late but before the body" in environ["wsgi.errors"].getvalue()


def test_exc_info_given_once_a_start_response_was_passed_on() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        write = start_response("200 OK", TEXT)
        write(b"")  # the head goes out with the first write() call
        raise ValueError("after the head")

    server = Server()
    # The server has sent headers, so it re-raises the exc_info it is given.
    with pytest.raises(ValueError, match="after the head"):
        server.run(handle_error(app))
    assert [c[0] for c in server.calls] == ["200 OK", "500 Internal Server Error"]
    exc_info = server.calls[1][2]
    assert exc_info[0] is ValueError and str(exc_info[1]) == "after the head"


def test_after_data_went_out_the_servers_reraise_propagates() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        write = start_response("200 OK", TEXT)
        write(b"partial")
        raise ValueError("after data")

    with pytest.raises(ValueError, match="after data"):
        run(handle_error(app))


def test_werkzeug_client_gets_the_500() -> None:
    response = Client(handle_error(raise_before_body)).get("/")
    assert response.status_code == 500
    assert response.data == BODY_500
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Length"] == str(len(BODY_500))


def test_werkzeug_client_reraises_when_a_head_was_passed_on() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", TEXT)(b"x")
        raise ValueError("werkzeug re-raises exc_info")

    with pytest.raises(ValueError, match="werkzeug re-raises exc_info"):
        Client(handle_error(app)).get("/")


def test_mid_stream_exception_logged_closed_reraised() -> None:
    environ = make_environ()
    app, made = close_counter_app(fail_at=1)
    with pytest.raises(RuntimeError, match="close_counter failing"):
        run(handle_error(app), environ)
    assert made[0].closes == 1
    assert "RuntimeError: close_counter failing" in environ["wsgi.errors"].getvalue()

    environ = make_environ()
    result = handle_error(raise_mid_stream)(environ, lambda *a: None)
    it = iter(result)
    assert next(it) == b"first"
    with pytest.raises(ValueError, match="boom mid stream"):
        next(it)
    result.close()
    assert "boom mid stream" in environ["wsgi.errors"].getvalue()


def test_debug_body_is_the_traceback_and_default_is_not() -> None:
    server = run(handle_error(raise_before_body, debug=True))
    assert server.data.startswith(b"Traceback (most recent call last):")
    assert b"ValueError: boom before body" in server.data
    assert server.headers["content-length"] == str(len(server.data))
    assert b"boom" not in run(handle_error(raise_before_body)).data


def test_missing_start_response_is_a_500() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        return [b"no head"]

    environ = make_environ()
    assert run(handle_error(app), environ).status == "500 Internal Server Error"
    assert "start_response" in environ["wsgi.errors"].getvalue()


def test_keyboard_interrupt_is_not_handled() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(handle_error(app))


def test_success_passes_through() -> None:
    app, _ = close_counter_app(chunks=[b"a", b"b"])
    server = run(handle_error(app))
    assert server.status == "200 OK"
    assert server.body == [b"a", b"b"]
    assert server.calls[0][2] is None


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="debug='yes'"):
        handle_error(raise_before_body, debug="yes")
    with pytest.raises(TypeError, match="app=None"):
        handle_error(None)
    with pytest.raises(TypeError):
        handle_error(raise_before_body, True)  # type: ignore[misc]
