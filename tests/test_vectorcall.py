"""The WSGI callables are called through vectorcall (PEP 590) and behave as
through ``tp_call``: same results, same errors, no reference or memory leaked."""

from __future__ import annotations

import functools
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from rswsgi import wrap_query_params

# Include/object.h: "Set if the type implements the vectorcall protocol (PEP 590)".
HAVE_VECTORCALL = 1 << 11
CALLS = 100_000

BODY = [b"ok"]


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    return BODY


def failing_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raise KeyError("app failed")


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


# name -> (callable made around `inner`, the positional arguments of one call)
Case = Callable[[Any], tuple[Any, tuple[Any, ...]]]
CASES: dict[str, Case] = {
    "wrap_query_params": lambda inner: (
        wrap_query_params(inner),
        ({"QUERY_STRING": "a=1"}, start_response),
    ),
}
NAMES = ["environ", "start_response"]


@pytest.mark.parametrize("name", CASES)
def test_the_class_has_vectorcall(name: str) -> None:
    obj, _ = CASES[name](app)
    assert type(obj).__flags__ & HAVE_VECTORCALL


@pytest.mark.parametrize("name", CASES)
def test_class_call_cannot_be_reassigned(name: str) -> None:
    """An immutable class: before 3.12 a new ``__call__`` would reach only
    ``tp_call`` and vectorcall would go on running the old code."""
    obj, args = CASES[name](app)
    with pytest.raises(TypeError, match="immutable type"):
        type(obj).__call__ = lambda self, *a: None
    assert obj(*args) is BODY


def shapes(args: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every kind of call: fast path, keywords, too few, too many, unknown
    and duplicated keywords."""
    return [
        (args, {}),
        ((), dict(zip(NAMES, args, strict=True))),
        (args[:1], {NAMES[1]: args[1]}),
        ((), {}),
        (args[:1], {}),
        ((*args, None, None), {}),
        (args, {"nope": 1}),
        (args, {NAMES[0]: args[0]}),
    ]


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as e:  # the exception's type and text are the outcome
        return type(e).__name__, str(e)


@pytest.mark.parametrize("name", CASES)
def test_every_call_shape_as_tp_call(name: str) -> None:
    """``type(obj).__call__`` is the slot wrapper: it calls ``tp_call``
    (PyO3's argument parsing) with a tuple, as every call did before."""
    obj, args = CASES[name](app)
    for a, kw in shapes(args):
        fast = outcome(functools.partial(obj, *a, **kw))
        slow = outcome(functools.partial(type(obj).__call__, obj, *a, **kw))
        assert fast == slow, (a, kw)


def test_argument_errors_keep_their_text() -> None:
    obj, args = CASES["wrap_query_params"](app)
    with pytest.raises(TypeError) as e:
        obj(*args, None)
    assert (
        str(e.value) == "wrap_query_params.__call__() takes 2 positional arguments but 3 were given"
    )
    with pytest.raises(TypeError) as e:
        obj(args[0])
    assert str(e.value) == (
        "wrap_query_params.__call__() missing 1 required positional argument: 'start_response'"
    )


def calls(name: str) -> list[tuple[str, Callable[[], Any]]]:
    """One call per path through the entry: fast, keywords, app raising,
    wrong count."""
    obj, args = CASES[name](app)
    bad, _ = CASES[name](failing_app)
    kwargs = dict(zip(NAMES, args, strict=True))

    def raising() -> None:
        try:
            bad(*args)
        except KeyError:
            pass

    def wrong_count() -> None:
        try:
            obj(*args, None, None)
        except TypeError:
            pass

    return [
        ("fast", lambda: obj(*args)),
        ("keywords", lambda: obj(**kwargs)),
        ("raising", raising),
        ("wrong count", wrong_count),
    ]


@pytest.mark.parametrize("name", CASES)
def test_refcounts_unchanged_over_many_calls(name: str) -> None:
    obj, args = CASES[name](app)
    watched = [obj, app, failing_app, BODY, *args]
    for path, call in calls(name):
        call()  # warm: first-call caches (interned keys, lazily made objects)
        before = [sys.getrefcount(o) for o in watched]
        for _ in range(CALLS):
            call()
        after = [sys.getrefcount(o) for o in watched]
        assert after == before, path


@pytest.mark.parametrize("name", CASES)
def test_no_memory_kept_over_many_calls(name: str) -> None:
    for path, call in calls(name):
        for _ in range(1000):
            call()
        tracemalloc.start()
        try:
            first = tracemalloc.take_snapshot()
            for _ in range(CALLS):
                call()
            last = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        grown = sum(d.size_diff for d in last.compare_to(first, "filename"))
        # One object kept per call would be >= 1.6 MB over 100k calls.
        assert grown < 64 * 1024, (path, grown)
