"""Checks every middleware must pass (DESIGN.md: close() exactly once in every
path, exc_info passed through, write() supported, wsgiref.validate on both
sides). Each test_<middleware>.py calls these with its middleware."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any
from wsgiref.validate import validator

import pytest
from apps import (
    Streaming,
    close_counter_app,
    echo,
    exc_info_after_write,
    make_environ,
    replaces_head_with_exc_info,
    run,
    start_on_first_iteration,
    uses_write,
)

Wrap = Callable[[Any], Any]


def same(body: bytes) -> bytes:
    return body


def validator_both_sides(wrap: Wrap, expect: Callable[[bytes], bytes] = same) -> None:
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
        server = run(validator(wrap(validator(app))))
        assert server.status == "200 OK"
        assert server.data == expect(body), app
    gc.collect()


def close_exactly_once(
    wrap: Wrap, recovers: bool = False, recovers_mid_stream: bool = False, lazy: bool = True
) -> None:
    """close() on the app's iterable exactly once: normal end, exception
    (mid-stream and before the first chunk), and a server that closes early.
    `recovers*`: the middleware answers a 500 instead of raising; `lazy`: the
    first chunk out needs no more than the first chunk in."""

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

    failing(1, recovers_mid_stream)
    failing(0, recovers)

    app, made = close_counter_app(chunks=[b"one", b"two", b"three"])
    result = wrap(app)(make_environ(), lambda s, h, e=None: lambda d: None)
    next(iter(result))
    result.close()
    del result
    gc.collect()
    assert made[-1].closes == 1
    if lazy:
        assert made[-1].index < 3  # never read to the end


def exc_info_passed_through(
    wrap: Wrap, expect: Callable[[bytes], bytes] = same, late_rescued: bool = False
) -> None:
    """A head replaced with exc_info before anything went out reaches the
    server as a 500 carrying that exc_info; after the head went out, the
    exc_info call re-raises (`late_rescued`: a handle_error outside the
    middleware that raised turns that into a 500)."""
    server = run(wrap(replaces_head_with_exc_info))
    status, _, exc_info = server.calls[-1]
    assert status == "500 Internal Server Error"
    assert exc_info is not None and exc_info[0] is KeyError
    assert server.data == expect(b"error page")

    if late_rescued:
        assert run(wrap(exc_info_after_write)).status.startswith("500")
        return
    with pytest.raises(KeyError, match="too late"):
        run(wrap(exc_info_after_write))


def write_supported(wrap: Wrap, expect: Callable[[bytes], bytes] = same) -> None:
    server = run(wrap(uses_write))
    assert server.status == "200 OK"
    assert server.data == expect(b"written returned")


def collected_in_a_cycle(wrap: Wrap) -> None:
    """A wrapped app that refers back to its wrapper (as a module-level
    decorated function does through its globals) is garbage-collected, which
    needs the middleware's __traverse__."""

    def make() -> weakref.ref[Any]:
        holder: dict[str, Any] = {}

        def app(environ: Any, start_response: Any) -> Any:
            return holder["wrapped"](environ, start_response)

        holder["wrapped"] = wrap(app)
        return weakref.ref(app)

    ref = make()
    gc.collect()
    assert ref() is None
