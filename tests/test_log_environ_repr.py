"""log_environ prints each value as `repr(value)` exactly, though it computes the common
cases in Rust: every `str` (quote choice, escapes, `\\x`/`\\u`/`\\U` for what
`str.isprintable` rejects, lone surrogates), ints, bools, None, tuples of them and objects
with the default `object.__repr__`."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rswsgi import log_environ


def logged_value(value: Any) -> str:
    """The text log_environ prints for `value` under the key `k`."""
    stream = io.StringIO()

    def app(environ: Any, start_response: Any) -> list[bytes]:
        return []

    log_environ(app, stream=stream, redact=())({"k": value}, lambda *a: None)
    lines = stream.getvalue().split("\n")
    assert lines[0] == "- " and lines[-1] == "", lines
    (line,) = lines[1:-1]
    prefix = "  k: "
    assert line.startswith(prefix)
    return line[len(prefix) :]


ANY_CHAR = st.characters(blacklist_categories=())  # surrogates and unassigned too


@settings(max_examples=500, deadline=None)
@given(st.text(ANY_CHAR, max_size=30))
@example("it's")
@example('it\'s "quoted"')
@example("\\ \t \n \r \x00 \x7f \x80 \xa0 \xad \u2028 \ufeff \ud800 \U000e0001 \U0010ffff")
def test_str_repr_is_pythons(text: str) -> None:
    # A "\n" inside would split the line; repr escapes it, so it never appears raw.
    assert logged_value(text) == repr(text)


class Sub(str):
    def __repr__(self) -> str:
        return "Sub!"


class Plain:
    pass


class Nested:
    class Inner:
        pass


@pytest.mark.parametrize(
    "value",
    [
        (1, 0),
        (),
        ("a",),
        (True, None, -(2**63), "it's"),
        2**63,
        ((1, 2), 3),
        [1, "x"],
        1.5,
        True,
        None,
        b"bytes\x00",
        io.BytesIO(),
        io.StringIO(),
        object(),
        Plain(),
        Nested.Inner(),
        Sub("s"),
        type("T", (), {"__module__": "builtins"})(),
    ],
    ids=repr,
)
def test_other_values_repr_is_pythons(value: Any) -> None:
    assert logged_value(value) == repr(value)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(ANY_CHAR, max_size=5),
        lambda inner: st.tuples(inner) | st.tuples(inner, inner) | st.lists(inner, max_size=2),
        max_leaves=6,
    )
)
def test_nested_values_repr_is_pythons(value: Any) -> None:
    assert logged_value(value) == repr(value)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=4), st.integers(), max_size=6), max_size=6))
def test_keys_sorted_on_every_request_of_one_middleware(environs: list[dict[str, int]]) -> None:
    # One middleware remembers the last key order; key sets and orders change here. (Keys
    # with lone surrogates print as their repr, so they are left out.)
    stream = io.StringIO()
    app = log_environ(lambda e, s: [], stream=stream, redact=())
    for environ in environs + environs[::-1]:
        stream.seek(0)
        stream.truncate()
        app(dict(environ), lambda *a: None)
        want = "".join(f"  {k}: {environ[k]!r}\n" for k in sorted(environ))
        assert stream.getvalue().split("\n", 1)[1] == want
