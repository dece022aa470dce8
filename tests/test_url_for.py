"""Router.url_for: percent-encoded paths, query strings for extras, clear errors."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from routing_support import call, environ_for, text_app
from rswsgi import Router


def router_with(*routes: tuple[str, str]) -> Router:
    router = Router()
    for path, name in routes:
        router.add(path, text_app(name), name=name)
    return router


@pytest.mark.parametrize(
    ("pattern", "params", "url"),
    [
        ("/", {}, "/"),
        ("/users/{id}", {"id": "42"}, "/users/42"),
        ("/users/{id}", {"id": 42}, "/users/42"),
        ("/users/{id}", {"id": "a/b"}, "/users/a%2Fb"),
        ("/users/{id}", {"id": "a b?#%"}, "/users/a%20b%3F%23%25"),
        ("/users/{id}", {"id": "café"}, "/users/caf%C3%A9"),
        ("/files/{*path}", {"path": "a/b c/d.txt"}, "/files/a/b%20c/d.txt"),
        ("/img-{id}.png", {"id": "x"}, "/img-x.png"),
        ("/{{lit}}/{x}", {"x": "1"}, "/%7Blit%7D/1"),
        ("/café", {}, "/caf%C3%A9"),
        ("/a/{x}/{y}", {"y": "2", "x": "1"}, "/a/1/2"),
    ],
)
def test_url_for_encodes_params(pattern: str, params: dict[str, Any], url: str) -> None:
    assert router_with((pattern, "r")).url_for("r", **params) == url


def test_route_name_is_positional_only_so_a_param_may_be_called_name() -> None:
    router = router_with(("/hello/{name}", "hello"))
    assert router.url_for("hello", name="bob") == "/hello/bob"


def test_extra_params_become_a_query_string_in_the_order_given() -> None:
    router = router_with(("/users/{id}", "user"))
    url = router.url_for("user", id=1, page=2, q="a b&c", lang="fr")
    assert url == "/users/1?page=2&q=a+b%26c&lang=fr"


def test_unknown_name_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no route is named 'nope'"):
        router_with(("/a", "a")).url_for("nope")


def test_missing_param_is_a_value_error_naming_route_and_param() -> None:
    router = router_with(("/a/{x}/{y}", "pair"))
    with pytest.raises(ValueError) as err:
        router.url_for("pair", x=1)
    assert "'pair'" in str(err.value) and "'y'" in str(err.value)


@pytest.mark.parametrize("value", [None, 1.5, b"bytes", ["a"]])
def test_values_must_be_str_or_int(value: Any) -> None:
    router = router_with(("/a/{x}", "a"))
    with pytest.raises(TypeError, match="'x'"):
        router.url_for("a", x=value)
    with pytest.raises(TypeError, match="'extra'"):
        router.url_for("a", x="1", extra=value)


def test_url_for_without_a_name_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        router_with(("/a", "a")).url_for()  # type: ignore[call-arg]


@given(
    segment=st.text(min_size=1).filter(lambda s: "/" not in s),
    rest=st.text(min_size=1),
)
def test_url_for_round_trips_through_a_server(segment: str, rest: str) -> None:
    router = Router()
    app = text_app("x")
    router.add("/s/{segment}/f/{*rest}", app, name="r")
    url = router.url_for("r", segment=segment, rest=rest)
    assert url.isascii()
    path_info = unquote_to_bytes(url).decode("latin-1")  # what the server decodes
    status, _, _ = call(router, environ_for("GET", path_info))
    assert status == "200 OK"
    assert app.environs[0]["wsgiorg.routing_args"] == ((), {"segment": segment, "rest": rest})


# Patterns: segments of literal text (escaped braces included), params with text around
# them, a catch-all at the end, and now and then a stray brace or `*`; a param next to
# `}}` or `{{` is where matchit's reading and a naive one part. Values share no
# character with the literals, so a value never reads as the literal text after it.
LITERALS = "ab.%\u00e9"
LITERAL = st.lists(st.sampled_from([*LITERALS, "{{", "}}"]), min_size=1, max_size=3).map("".join)
PARAM = st.text(alphabet="nmk_", min_size=1, max_size=2).map("{{{}}}".format)
SEGMENT = st.one_of(
    LITERAL,
    PARAM,
    st.tuples(LITERAL, PARAM).map("".join),
    st.tuples(PARAM, LITERAL).map("".join),
    st.tuples(LITERAL, PARAM, LITERAL).map("".join),
    st.sampled_from(["{", "}", "*", "{x{", "{*r}"]),
)
PATTERNS = st.builds(
    "/{}{}".format,
    st.lists(SEGMENT, max_size=5).map("/".join),
    st.sampled_from(["", "", "/", "/{*rest}"]),
)
VALUES = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters=f"/{{}}*{LITERALS}"),
    min_size=1,
    max_size=5,
)
MISSING = re.compile(r"route 'r' needs a value for the parameter '(.*)'", re.S)


@given(pattern=PATTERNS, values=st.lists(VALUES, min_size=8, max_size=8))
@example(pattern="/{x}}}", values=["v"] * 8)  # matchit's param is 'x}', not 'x'
@example(pattern="/{x}/}}", values=["v"] * 8)
@example(pattern="/{{{x}/}}/{*rest}", values=["v", "w"] * 4)
def test_url_for_of_every_added_pattern_routes_back_to_its_params(
    pattern: str, values: list[str]
) -> None:
    router = Router()
    app = text_app("x")
    try:
        router.add(pattern, app, name="r")
    except ValueError:
        return  # refused with a ValueError (never a PanicException)
    # The names url_for asks for, one at a time, each given the next value.
    params: dict[str, str] = {}
    while True:
        try:
            url = router.url_for("r", **params)
            break
        except ValueError as e:
            missing = MISSING.fullmatch(str(e))
            assert missing is not None, str(e)
            assert missing[1] not in params
            params[missing[1]] = values[len(params) % len(values)]
    path_info = unquote_to_bytes(url).decode("latin-1")  # what the server decodes
    status, _, _ = call(router, environ_for("GET", path_info))
    assert status == "200 OK", (pattern, url)
    assert app.environs[0]["wsgiorg.routing_args"] == ((), params)
