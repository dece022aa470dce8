from __future__ import annotations

import io
from typing import Any

import pytest
from rswsgi import log_environ
from support.apps import echo, make_environ, run


class Recording:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, s: str) -> None:
        self.writes.append(s)


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def quiet(app: Any) -> Any:
    return log_environ(app, stream=io.StringIO())


def test_returns_the_apps_iterable_unchanged() -> None:
    body = [b"x"]

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    assert quiet(app)(make_environ(), lambda *a: None) is body


def test_dump_sorted_one_write_to_wsgi_errors() -> None:
    environ = make_environ(PATH_INFO="/hello", QUERY_STRING="a=1", zzz="last", AAA="first")
    run(log_environ(echo), environ)
    text = environ["wsgi.errors"].getvalue()
    lines = text.splitlines()
    assert lines[0] == "GET /hello?a=1"
    keys = [line.split(": ", 1)[0].strip() for line in lines[1:]]
    assert keys == sorted(environ)
    assert "  AAA: 'first'" in lines
    assert "  PATH_INFO: '/hello'" in lines
    assert f"  wsgi.version: {environ['wsgi.version']!r}" in lines
    assert f"  wsgi.input: {environ['wsgi.input']!r}" in lines
    assert f"  wsgi.multithread: {environ['wsgi.multithread']!r}" in lines


def test_header_line_shows_the_path_as_utf8_where_it_is_valid() -> None:
    # PEP 3333 PATH_INFO: the request's bytes decoded as latin-1 ("/hello/w\xc3\xb6rld").
    path = "/hello/w\u00f6rld".encode().decode("latin-1")
    environ = make_environ(PATH_INFO=path, SCRIPT_NAME="/app", QUERY_STRING="q=1")
    run(log_environ(echo), environ)
    lines = environ["wsgi.errors"].getvalue().splitlines()
    assert lines[0] == "GET /app/hello/w\u00f6rld?q=1"
    # The key: repr(value) lines stay exact: the latin-1 str as the app sees it.
    assert f"  PATH_INFO: {path!r}" in lines

    # Bytes that are not UTF-8 keep their latin-1 form.
    environ = make_environ(PATH_INFO="/caf\u00e9")
    run(log_environ(echo), environ)
    assert environ["wsgi.errors"].getvalue().splitlines()[0] == "GET /caf\u00e9"


def test_one_write_call_to_the_given_stream() -> None:
    stream = Recording()
    environ = make_environ()
    run(log_environ(echo, stream=stream), environ)
    assert len(stream.writes) == 1
    assert stream.writes[0].startswith("GET /\n")
    assert environ["wsgi.errors"].getvalue() == ""


def test_values_repr_exactly_as_python() -> None:
    stream = Recording()
    odd = ["it's", "both ' and \"", "back\\slash", "tab\t", "caf\u00e9", "\x00", "\ud800", 7, None]
    environ = make_environ(**{f"k{i}": v for i, v in enumerate(odd)})
    run(log_environ(echo, stream=stream), environ)
    for i, v in enumerate(odd):
        assert f"  k{i}: {v!r}\n" in stream.writes[0]


def test_default_redaction() -> None:
    stream = Recording()
    environ = make_environ(
        HTTP_AUTHORIZATION="Basic c2VjcmV0",
        HTTP_COOKIE="session=secret",
        HTTP_PROXY_AUTHORIZATION="Bearer secret",
        HTTP_ACCEPT="text/plain",
    )
    run(log_environ(echo, stream=stream), environ)
    text = stream.writes[0]
    assert "secret" not in text and "c2VjcmV0" not in text
    assert "  HTTP_COOKIE: '<redacted>'\n" in text
    assert "  HTTP_AUTHORIZATION: '<redacted>'\n" in text
    assert "  HTTP_PROXY_AUTHORIZATION: '<redacted>'\n" in text
    assert "  HTTP_ACCEPT: 'text/plain'\n" in text


def test_custom_redaction() -> None:
    stream = Recording()
    environ = make_environ(HTTP_COOKIE="c=1", HTTP_X_TOKEN="tok")
    run(log_environ(echo, stream=stream, redact=["HTTP_X_TOKEN"]), environ)
    assert "  HTTP_X_TOKEN: '<redacted>'\n" in stream.writes[0]
    assert "  HTTP_COOKIE: 'c=1'\n" in stream.writes[0]
    stream = Recording()
    run(log_environ(echo, stream=stream, redact=()), make_environ(HTTP_COOKIE="c=1"))
    assert "  HTTP_COOKIE: 'c=1'\n" in stream.writes[0]


def test_failing_repr_prints_a_placeholder() -> None:
    stream = Recording()
    server = run(log_environ(echo, stream=stream), make_environ(**{"x.odd": BadRepr()}))
    assert server.status == "200 OK"
    assert "  x.odd: <BadRepr object: repr() raised RuntimeError>\n" in stream.writes[0]


def test_decorator() -> None:
    stream = Recording()

    @log_environ
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    assert run(app).data == b"ok"
    assert app.app is not None and "log_environ(" in repr(app)
    del stream


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"redact": "HTTP_COOKIE"}, "redact='HTTP_COOKIE'"),
        ({"redact": [1, 2]}, "redact=[1, 2]"),
        ({"redact": 5}, "redact=5"),
        ({"stream": 42}, "stream=42"),
    ],
)
def test_bad_arguments_name_argument_and_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        log_environ(echo, **kwargs)


def test_non_callable_app() -> None:
    with pytest.raises(TypeError, match="app='not an app'.*not callable"):
        log_environ("not an app")


def test_keyword_only_options() -> None:
    with pytest.raises(TypeError):
        log_environ(echo, io.StringIO())  # type: ignore[misc]


def test_environ_must_be_a_dict() -> None:
    with pytest.raises(TypeError, match="environ must be a dict"):
        quiet(echo)([("REQUEST_METHOD", "GET")], lambda *a: None)


def test_each_dump_is_that_requests_own() -> None:
    # One log_environ reuses what it can of the last dump (the key order, the lines of
    # values that are the same immutable objects); every dump must still read as if it
    # were the first.
    shared: list[str] = ["a"]
    version = (1, 0)
    name = "example.org"

    def environ(**extra: Any) -> dict[str, Any]:
        env = make_environ(SERVER_NAME=name, **{"wsgi.version": version, "x.shared": shared})
        env.update(extra)
        return env

    reused = Recording()
    app = log_environ(echo, stream=reused)
    steps: list[dict[str, Any]] = [
        environ(),
        environ(),
        environ(),  # the third time the same objects come, whole lines are reused
        environ(PATH_INFO="/other", HTTP_COOKIE="secret"),
        environ(n=1),
        environ(n=1.5),
        {"odd": BadRepr(), **environ()},
    ]
    for step, env in enumerate(steps):
        if step == 2:
            shared.append("b")  # the same list object, changed
        fresh = Recording()
        run(log_environ(echo, stream=fresh), dict(env))
        run(app, dict(env))
        assert reused.writes[-1] == fresh.writes[-1], step
    assert "x.shared: ['a', 'b']" in reused.writes[2]
    assert "HTTP_COOKIE: '<redacted>'" in reused.writes[3]
