"""The WSGI callables are called through vectorcall (PEP 590) and behave as
through `tp_call`: same results, same errors, no reference or memory kept."""

from __future__ import annotations

import functools
import gc
import sys
import tracemalloc
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from rswsgi import Router, handle_error, log_environ, reverser, wrap_query_params

# Include/object.h: "Set if the type implements the vectorcall protocol (PEP 590)".
HAVE_VECTORCALL = 1 << 11
CALLS = 100_000

BODY = [b"ok"]
HEADERS = [("Content-Type", "application/octet-stream")]  # not reversed


class Discard:
    """A text stream that keeps nothing (wsgi.errors, log_environ's stream)."""

    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


DISCARD = Discard()


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", HEADERS)
    return BODY


def failing_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raise KeyError("app failed")


def write(data: bytes) -> None:
    pass


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return write


def environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "a=1",
        "wsgi.errors": DISCARD,
    }


def routed(inner: Any) -> Router:
    router = Router()
    router.add("/", inner)
    return router


# name -> the callable made around an app
CASES: dict[str, Callable[[Any], Any]] = {
    "Router": routed,
    "log_environ": lambda inner: log_environ(inner, stream=DISCARD),
    "handle_error": handle_error,
    "wrap_query_params": wrap_query_params,
    "reverser": reverser,
}
NAMES = ["environ", "start_response"]


@pytest.mark.parametrize("name", CASES)
def test_the_class_has_vectorcall(name: str) -> None:
    assert type(CASES[name](app)).__flags__ & HAVE_VECTORCALL


@pytest.mark.parametrize("name", CASES)
def test_class_call_cannot_be_reassigned(name: str) -> None:
    """An immutable class: before 3.12 a new `__call__` would reach only
    `tp_call` and vectorcall would go on running the old code."""
    obj = CASES[name](app)
    cls, call = type(obj), type(obj).__dict__["__call__"]
    try:
        with pytest.raises(TypeError, match="immutable type"):
            cls.__call__ = lambda self, *a: None
    finally:
        if cls.__dict__["__call__"] is not call:  # a mutable class: undo for the other tests
            cls.__call__ = call
    assert list(obj(environ(), start_response)) == BODY


Shape = tuple[tuple[Any, ...], dict[str, Any]]


def shapes(args: tuple[Any, ...], names: list[str]) -> list[Shape]:
    """Every kind of call: positional, keywords, mixed, too few, too many,
    unknown and duplicated keywords."""
    return [
        (args, {}),
        ((), dict(zip(names, args, strict=True))),
        (args[:-1], {names[-1]: args[-1]}),
        (args[:-1], {}),
        ((*args, None, None, None), {}),
        (args, {"nope": 1}),
        (args, {names[0]: args[0]}),
    ]


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        result = call()
        # a new object per call (the filter's write) compares by its type
        return "ok", result if isinstance(result, list | None) else type(result)
    except Exception as e:  # the exception's type and text are the outcome
        return type(e).__name__, str(e)


def assert_shapes_as_tp_call(obj: Any, shapes: list[Shape]) -> None:
    """`type(obj).__call__` is the slot wrapper: it calls `tp_call`
    (PyO3's argument parsing) with a tuple, as every call did before."""
    for a, kw in shapes:
        fast = outcome(functools.partial(obj, *a, **kw))
        slow = outcome(functools.partial(type(obj).__call__, obj, *a, **kw))
        assert fast == slow, (a, kw)


@pytest.mark.parametrize("name", CASES)
def test_every_call_shape_as_tp_call(name: str) -> None:
    obj = CASES[name](app)
    assert_shapes_as_tp_call(obj, shapes((environ(), start_response), NAMES))
    # Router: an environ that is not a dict gets __call__'s own TypeError.
    assert_shapes_as_tp_call(obj, [(([], start_response), {})])


def test_argument_errors_keep_their_text() -> None:
    obj = wrap_query_params(app)
    with pytest.raises(TypeError) as e:
        obj(environ(), start_response, None)
    assert str(e.value) == (
        "wrap_query_params.__call__() takes 2 positional arguments but 3 were given"
    )
    with pytest.raises(TypeError) as e:
        obj(environ())
    assert str(e.value) == (
        "wrap_query_params.__call__() missing 1 required positional argument: 'start_response'"
    )


Calls = list[tuple[str, Callable[[], Any]]]


def expecting(error: type[BaseException], call: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        try:
            call()
        except error:
            return
        raise AssertionError(f"{error.__name__} not raised")

    return run


def calls(name: str) -> tuple[Calls, list[Any]]:
    """One call per path through the entry (fast, keywords, app raising,
    wrong count), and the objects whose reference counts must not move."""
    obj, bad = CASES[name](app), CASES[name](failing_app)
    env = environ()
    args = (env, start_response)
    kwargs = dict(zip(NAMES, args, strict=True))
    raising = expecting(KeyError, functools.partial(bad, *args))  # handle_error answers a 500
    return [
        ("fast", functools.partial(obj, *args)),
        ("keywords", functools.partial(obj, **kwargs)),
        ("raising", functools.partial(bad, *args) if name == "handle_error" else raising),
        ("wrong count", expecting(TypeError, functools.partial(obj, *args, None, None))),
    ], [obj, bad, app, failing_app, BODY, env, start_response]


def assert_refcounts_kept(calls: Calls, watched: list[Any]) -> None:
    for path, call in calls:
        call()  # warm: first-call caches (interned keys, lazily made objects)
        # A failing call leaves garbage cycles (exception -> traceback ->
        # the app's frame -> its start_response -> exc_info), freed whenever
        # the cycle collector runs; collect before each count so that only
        # references kept for good are counted.
        gc.collect()
        before = [sys.getrefcount(o) for o in watched]
        for _ in range(CALLS):
            call()
        gc.collect()
        after = [sys.getrefcount(o) for o in watched]
        assert after == before, (path, before, after)


def assert_no_memory_kept(calls: Calls) -> None:
    for path, call in calls:
        for _ in range(1000):
            call()
        tracemalloc.start()
        try:
            gc.collect()  # as above: count only what is kept for good
            first = tracemalloc.take_snapshot()
            for _ in range(CALLS):
                call()
            gc.collect()
            last = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        grown = sum(d.size_diff for d in last.compare_to(first, "filename"))
        # One object kept per call would be >= 1.6 MB over 100k calls.
        assert grown < 64 * 1024, (path, grown)


@pytest.mark.parametrize("name", CASES)
def test_refcounts_unchanged_over_many_calls(name: str) -> None:
    assert_refcounts_kept(*calls(name))


@pytest.mark.parametrize("name", CASES)
def test_no_memory_kept_over_many_calls(name: str) -> None:
    assert_no_memory_kept(calls(name)[0])


SR_NAMES = ["status", "response_headers", "exc_info"]


def check_start_response(sr: Any) -> Any:
    """The checks on a start_response whose head is not sent yet (so an
    exc_info call replaces it); returns the write() of its first call."""
    try:
        raise KeyError("replaced")
    except KeyError:
        exc_info = sys.exc_info()
    assert type(sr).__flags__ & HAVE_VECTORCALL
    write = sr("500 Internal Server Error", HEADERS)
    assert_shapes_as_tp_call(sr, shapes(("200 OK", HEADERS, exc_info), SR_NAMES))
    assert_shapes_as_tp_call(sr, [(("200 OK", HEADERS, None), {})])
    paths: Calls = [
        ("fast", functools.partial(sr, "200 OK", HEADERS, exc_info)),
        ("keywords", functools.partial(sr, "200 OK", HEADERS, exc_info=exc_info)),
        ("raising", expecting(RuntimeError, functools.partial(sr, "200 OK", HEADERS))),
        ("wrong count", expecting(TypeError, functools.partial(sr, "200 OK"))),
    ]
    assert_refcounts_kept(paths, [sr, HEADERS, exc_info[1]])
    assert_no_memory_kept(paths)
    return write


def checked_in_flight(check: Callable[[Any], None]) -> Callable[..., list[bytes]]:
    """An app that runs `check(start_response)` while its request is in
    flight; a failure is kept in `app.failures` for the test to raise."""
    failures: list[BaseException] = []

    def checking(environ: dict[str, Any], sr: Any) -> list[bytes]:
        try:
            check(sr)
        except BaseException as e:  # reported by the test, not the server
            failures.append(e)
        return BODY

    checking.failures = failures  # type: ignore[attr-defined]
    return checking


def test_the_servers_start_response(serve: Callable[..., Any]) -> None:
    """The server's start_response (its write() is a bound method, which
    CPython already calls by vectorcall)."""
    checking = checked_in_flight(check_start_response)
    server = serve(checking)
    with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/", timeout=120) as r:
        assert r.read() == b"ok"
    for failure in checking.failures:  # type: ignore[attr-defined]
        raise failure


@pytest.mark.parametrize("wrap", [handle_error, reverser])
def test_the_filters_start_response_and_write(wrap: Callable[[Any], Any]) -> None:
    """What a response filter hands the app: its start_response and write()."""

    def check(sr: Any) -> None:
        write = check_start_response(sr)
        # One object per response: write() is the start_response object
        # called with one argument, whose first parameter is named status.
        assert write is sr
        assert_shapes_as_tp_call(write, shapes((b"x",), ["status"]))
        paths: Calls = [
            ("fast", functools.partial(write, b"x")),
            ("keywords", functools.partial(write, status=b"x")),
            ("raising", expecting(TypeError, functools.partial(write, "not bytes"))),
            ("wrong count", expecting(TypeError, write)),
        ]
        assert_refcounts_kept(paths, [write, sr])
        assert_no_memory_kept(paths)

    checking = checked_in_flight(check)
    assert list(wrap(checking)(environ(), start_response)) == BODY
    for failure in checking.failures:  # type: ignore[attr-defined]
        raise failure


def test_a_router_routed_to_itself_raises_recursion_error() -> None:
    """As through tp_call: CPython's recursion check guards the vectorcall
    entry too, so the C stack does not overflow."""
    router = Router()
    router.add("/x", router)
    with pytest.raises(RecursionError, match="while calling a Python object"):
        router({"PATH_INFO": "/x", "REQUEST_METHOD": "GET"}, start_response)
