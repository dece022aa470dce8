"""The contract every middleware keeps, checked on each: close() on the app's iterable
exactly once in every path, exc_info passed through, write() supported, wsgiref.validate
on both sides, and garbage collection through a reference cycle."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.validate import validator

import pytest
from rswsgi import handle_error, log_environ, reverser, static_files, wrap_query_params
from support.apps import (
    Streaming,
    close_counter_app,
    echo,
    exc_info_after_write,
    full_stack,
    make_environ,
    replaces_head_with_exc_info,
    run,
    start_on_first_iteration,
    uses_write,
)

Wrap = Callable[[Any], Any]


def same(body: bytes) -> bytes:
    return body


@dataclass(frozen=True)
class Middleware:
    """A middleware as the checks see it, and how it differs from passing things on."""

    wrap: Wrap
    expect: Callable[[bytes], bytes] = same  # the body it sends for the app's body
    recovers: bool = False  # answers a 500 for an exception before the first chunk
    recovers_mid_stream: bool = False  # ...and for one after it
    lazy: bool = True  # its first chunk out needs no more than the first chunk in
    late_rescued: bool = False  # a late exc_info call becomes a 500, not a raise


def validator_both_sides(m: Middleware) -> None:
    """wsgiref.validate outside and inside the middleware, for each fixture
    app (an unclosed iterator would fail in the validator's __del__)."""
    cases: list[tuple[Any, bytes]] = [
        (echo, b"GET /?"),
        (Streaming([b"a", b"", b"b"]), b"ab"),
        (uses_write, b"written returned"),
        (start_on_first_iteration, b"late start"),
        (close_counter_app()[0], b"onetwo"),
    ]
    for app, body in cases:
        server = run(validator(m.wrap(validator(app))))
        assert server.status == "200 OK"
        assert server.data == m.expect(body), app
    gc.collect()


def close_exactly_once(m: Middleware) -> None:
    """close() on the app's iterable exactly once: normal end, exception
    (mid-stream and before the first chunk), and a server that closes early."""
    wrap = m.wrap

    def failing(fail_at: int, recovered: bool) -> None:
        app, made = close_counter_app(fail_at=fail_at)
        if recovered:
            assert run(wrap(app)).status.startswith("500")
        else:
            with pytest.raises(RuntimeError, match="close_counter failing"):
                run(wrap(app))
        assert made[-1].closes == 1

    app, made = close_counter_app()
    run(wrap(app))
    assert made[-1].closes == 1

    failing(1, m.recovers_mid_stream)
    failing(0, m.recovers)

    app, made = close_counter_app(chunks=[b"one", b"two", b"three"])
    result = wrap(app)(make_environ(), lambda s, h, e=None: lambda d: None)
    next(iter(result))
    result.close()
    del result
    gc.collect()
    assert made[-1].closes == 1
    if m.lazy:
        assert made[-1].index < 3  # never read to the end


def exc_info_passed_through(m: Middleware) -> None:
    """A head replaced with exc_info before anything went out reaches the
    server as a 500 carrying that exc_info; after the head went out, the
    exc_info call re-raises (or, with `late_rescued`, becomes a 500)."""
    server = run(m.wrap(replaces_head_with_exc_info))
    status, _, exc_info = server.calls[-1]
    assert status == "500 Internal Server Error"
    assert exc_info is not None and exc_info[0] is KeyError
    assert server.data == m.expect(b"error page")

    if m.late_rescued:
        assert run(m.wrap(exc_info_after_write)).status.startswith("500")
        return
    with pytest.raises(KeyError, match="too late"):
        run(m.wrap(exc_info_after_write))


def write_supported(m: Middleware) -> None:
    server = run(m.wrap(uses_write))
    assert server.status == "200 OK"
    assert server.data == m.expect(b"written returned")


def collected_in_a_cycle(m: Middleware) -> None:
    """A wrapped app that refers back to its wrapper (as a module-level
    decorated function does through its globals) is garbage-collected, which
    needs the middleware's __traverse__."""

    def make() -> weakref.ref[Any]:
        holder: dict[str, Any] = {}

        def app(environ: Any, start_response: Any) -> Any:
            return holder["wrapped"](environ, start_response)

        holder["wrapped"] = m.wrap(app)
        return weakref.ref(app)

    ref = make()
    gc.collect()
    assert ref() is None


def reversed_body(body: bytes) -> bytes:
    """What the reverser makes of the fixture bodies (ASCII: each byte is a cluster)."""
    return body[::-1]


STATIC = Path(__file__).parent.parent / "examples" / "static"


MIDDLEWARE = {
    "handle_error": Middleware(handle_error, recovers=True),
    "handle_error-debug": Middleware(lambda app: handle_error(app, debug=True), recovers=True),
    "log_environ": Middleware(log_environ),
    "wrap_query_params": Middleware(wrap_query_params),
    # Not lazy: a text/plain body is read whole at its first chunk, for its Content-Length.
    "reverser": Middleware(reverser, expect=reversed_body, lazy=False),
    # For requests it passes on.
    "static_files": Middleware(lambda app: static_files(app, {"/static": STATIC})),
    # The reverser holds text/plain chunks back (yields b''), so for handle_error outside
    # it a mid-stream failure is still before the body, and its first non-empty chunk is
    # the whole reversed body; it buffers write() output, so when the app's late exc_info
    # call re-raises inside it, handle_error's server has seen nothing yet.
    "stack": Middleware(
        full_stack,
        expect=reversed_body,
        recovers=True,
        recovers_mid_stream=True,
        lazy=False,
        late_rescued=True,
    ),
}


CHECKS = {
    check.__name__: check
    for check in (
        validator_both_sides,
        close_exactly_once,
        exc_info_passed_through,
        write_supported,
        collected_in_a_cycle,
    )
}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("middleware", MIDDLEWARE)
def test_the_middleware_keeps_the_contract(middleware: str, check: str) -> None:
    CHECKS[check](MIDDLEWARE[middleware])
