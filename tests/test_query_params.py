from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs
from wsgiref.validate import validator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rswsgi import wrap_query_params
from support.apps import echo, make_environ, run


def params_of(qs: Any, **kwargs: Any) -> Any:
    """environ[key] as the wrapped app sees it."""
    seen: dict[str, Any] = {}
    key = kwargs.get("key", "rswsgi.query_params")

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen["params"] = environ[key]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return []

    environ = make_environ()
    if qs is None:
        del environ["QUERY_STRING"]
    else:
        environ["QUERY_STRING"] = qs
    wrap_query_params(app, **kwargs)(environ, lambda *a: None)
    return seen["params"]


# Pieces that exercise every branch of parse_qs: separators, '=', '+',
# valid and invalid %-escapes (truncated, overlong, surrogate, lone
# continuation bytes), and arbitrary text (non-ASCII included).
escape = st.integers(0, 255).map(lambda b: f"%{b:02X}")
lower_escape = st.integers(0, 255).map(lambda b: f"%{b:02x}")
piece = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["&", "=", "+", "%", ";", "&&", "==", "%2", "%g0", "%%", "%C3", "%ED%A0%80"]),
    st.sampled_from(["%C3%A9", "%E2%82%AC", "%F0%9F%91%8D", "%E2%82", "%C0%AF", "%F4%90%80%80"]),
    escape,
    lower_escape,
)
query = st.lists(piece, max_size=24).map("".join)


@given(query, st.booleans())
@example("a=%C3\u00e9%A9&b", True)
@example("=&=x&&x=&+=+", False)
def test_equals_parse_qs_for_every_input(qs: str, keep: bool) -> None:
    expected = parse_qs(qs, keep_blank_values=keep)
    got = params_of(qs, keep_blank_values=keep)
    assert got == expected
    assert list(got) == list(expected)  # same key order too


@pytest.mark.parametrize(
    "qs",
    [
        "a=\ud800&b=%41",  # a lone surrogate: Rust cannot read it, parse_qs answers
        b"a=1&b=%41&c",  # bytes in a (broken) environ: parse_qs semantics, bytes out
        "",
    ],
)
def test_inputs_rust_cannot_read_still_match(qs: Any) -> None:
    for keep in (False, True):
        assert params_of(qs, keep_blank_values=keep) == parse_qs(qs, keep_blank_values=keep)


def test_missing_query_string_is_empty() -> None:
    assert params_of(None) == {}


def test_a_fresh_dict_of_lists_per_request() -> None:
    first = params_of("a=1&a=2&b=3")
    assert first == {"a": ["1", "2"], "b": ["3"]}
    assert type(first) is dict and all(type(v) is list for v in first.values())
    assert params_of("a=1&a=2&b=3") is not first


def test_custom_key_and_validator() -> None:
    assert params_of("x=1", key="QUERY_PARAMS") == {"x": ["1"]}
    # The dotted default key is accepted by wsgiref.validate.
    server = run(
        validator(wrap_query_params(validator(echo))),
        make_environ(QUERY_STRING="q=1"),
    )
    assert server.data == b"GET /?q=1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keep_blank_values": "yes"}, "keep_blank_values='yes'"),
        ({"keep_blank_values": 1}, "keep_blank_values=1"),
        ({"key": b"k"}, "key=b'k'"),
        ({"key": None}, None),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str | None) -> None:
    if message is None:  # key=None means the default
        assert repr(wrap_query_params(echo, **kwargs)).endswith("key='rswsgi.query_params')")
        return
    with pytest.raises(ValueError, match=message):
        wrap_query_params(echo, **kwargs)
    with pytest.raises(TypeError, match="app=42"):
        wrap_query_params(42)
