"""Every argument that must be callable is checked the same way: `TypeError` naming the
argument, the value and its type, whichever function takes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rswsgi import (
    Router,
    handle_error,
    log_environ,
    make_server,
    reverser,
    stack,
    wrap_query_params,
)
from support.apps import echo

CHECKS: dict[str, tuple[Callable[[Any], object], str]] = {
    "log_environ": (log_environ, "app"),
    "handle_error": (handle_error, "app"),
    "wrap_query_params": (wrap_query_params, "app"),
    "reverser": (reverser, "app"),
    "stack(app)": (stack, "app"),
    "stack(*middleware)": (lambda bad: stack(echo, reverser, bad), "middleware"),
    "Router.add": (lambda bad: Router().add("/x", bad), "app"),
    "Router.route": (lambda bad: Router().route("/x")(bad), "app"),
    "Router.mount": (lambda bad: Router().mount("/x", bad), "app"),
    "make_server": (lambda bad: make_server("127.0.0.1", 0, bad), "app"),
}


@pytest.mark.parametrize("where", sorted(CHECKS))
@pytest.mark.parametrize(("value", "shown"), [(42, "42: int"), ("x", "'x': str")])
def test_not_callable_is_a_type_error_naming_argument_value_and_type(
    where: str, value: object, shown: str
) -> None:
    call, name = CHECKS[where]
    with pytest.raises(TypeError) as err:
        call(value)
    assert str(err.value).startswith(f"{name}={shown} is not callable; expected a ")
