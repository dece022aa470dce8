"""Router: add and route (methods, conflicts, params decoded from PATH_INFO), 404 and 405
with Allow, HEAD answered by GET, wsgiref.validate on both sides, werkzeug's test Client,
changes from inside a request, and garbage collection."""

from __future__ import annotations

import gc
import sys
import weakref
from typing import Any
from wsgiref.validate import validator

import pytest
from routing_support import call, environ_for, header, text_app
from rswsgi import Router
from werkzeug.test import Client

# --- `Router()`: a WSGI app -------------------------------------------------


def test_empty_router_is_a_wsgi_app_answering_404() -> None:
    status, headers, body = call(validator(Router()), environ_for("GET", "/"))
    assert status == "404 Not Found"
    assert body == b"404 Not Found\n"


def test_public_api_is_documented() -> None:
    for member in (Router, Router.add, Router.route, Router.mount, Router.url_for):
        assert "PEP 3333" in (Router.__doc__ or "") and (member.__doc__ or "").strip()
    assert "ValueError" in (Router.add.__doc__ or "")
    assert "KeyError" in (Router.url_for.__doc__ or "")


# --- add / route --------------------------------------------------------------


def test_match_sets_routing_args_and_calls_the_app() -> None:
    router = Router()
    app = text_app("user")
    router.add("/users/{id}", app)
    status, _, body = call(router, environ_for("GET", "/users/42"))
    assert (status, body) == ("200 OK", b"user")
    args = app.environs[0]["wsgiorg.routing_args"]
    assert args == ((), {"id": "42"})
    assert type(args) is tuple and type(args[0]) is tuple and type(args[1]) is dict


def test_routing_args_dict_is_fresh_per_request() -> None:
    router = Router()
    app = text_app("x")
    router.add("/a/{x}/{y}", app)
    call(router, environ_for("GET", "/a/1/2"))
    app.environs[0]["wsgiorg.routing_args"][1]["x"] = "changed"
    call(router, environ_for("GET", "/a/1/2"))
    first, second = (e["wsgiorg.routing_args"][1] for e in app.environs)
    assert first is not second
    assert second == {"x": "1", "y": "2"}


def test_static_route_without_params_gets_empty_kwargs() -> None:
    router = Router()
    app = text_app("home")
    router.add("/", app)
    call(router, environ_for("GET", "/"))
    assert app.environs[0]["wsgiorg.routing_args"] == ((), {})


def test_app_result_is_returned_unchanged() -> None:
    sentinel = object()

    def app(environ: Any, start_response: Any) -> Any:
        return sentinel

    router = Router()
    router.add("/x", app)
    assert router(environ_for("GET", "/x"), lambda *a: None) is sentinel


@pytest.mark.parametrize(
    ("pattern", "path", "params"),
    [
        ("/files/{*path}", "/files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("/img-{id}.png", "/img-7.png", {"id": "7"}),
        ("/u/{name}", "/u/caf\u00c3\u00a9", {"name": "caf\u00e9"}),  # /u/caf%C3%A9
        ("/caf\u00e9/{x}", "/caf\u00c3\u00a9/1", {"x": "1"}),
        ("/{{lit}}/{x}", "/{lit}/1", {"x": "1"}),
        ("/a/{x}/b/{y}", "/a/%2F/b/+", {"x": "%2F", "y": "+"}),
    ],
)
def test_params_are_utf8_decoded_from_latin1_path_info(
    pattern: str, path: str, params: dict[str, str]
) -> None:
    router = Router()
    app = text_app("ok")
    router.add(pattern, app)
    status, _, _ = call(router, environ_for("GET", path))
    assert status == "200 OK"
    assert app.environs[0]["wsgiorg.routing_args"] == ((), params)


@pytest.mark.parametrize("path", ["/u/caf\u00e9", "/u/\u00c3", "/u/\u00ff\u00fe", "/u/\udce9"])
def test_path_that_is_not_utf8_is_404(path: str) -> None:
    router = Router()
    router.add("/u/{name}", text_app("never"))
    router.add("/{*all}", text_app("never"))
    status, _, _ = call(router, environ_for("GET", path))
    assert status == "404 Not Found"


def test_static_segment_beats_param() -> None:
    router = Router()
    router.add("/users/{id}", text_app("param"))
    router.add("/users/me", text_app("static"))
    assert call(router, environ_for("GET", "/users/me"))[2] == b"static"
    assert call(router, environ_for("GET", "/users/you"))[2] == b"param"


def test_route_decorator_returns_the_function_unchanged() -> None:
    router = Router()

    def hello(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["wsgiorg.routing_args"][1]["name"].encode()]

    decorated = router.route("/hello/{name}", methods=["GET"], name="hello")(hello)
    assert decorated is hello
    assert call(router, environ_for("GET", "/hello/bob"))[2] == b"bob"
    assert router.url_for("hello", name="x") == "/hello/x"


def test_methods_are_case_normalised() -> None:
    router = Router()
    router.add("/x", text_app("x"), methods=["get", "Post"])
    assert call(router, environ_for("POST", "/x"))[0] == "200 OK"
    status, headers, _ = call(router, environ_for("PUT", "/x"))
    assert status == "405 Method Not Allowed"
    assert header(headers, "Allow") == "GET, HEAD, POST"


def test_same_path_with_disjoint_methods() -> None:
    router = Router()
    router.add("/items/{id}", text_app("read"), methods=["GET"])
    router.add("/items/{id}", text_app("write"), methods=["PUT", "PATCH"])
    router.add("/items/{id}", text_app("head"), methods=["HEAD"])
    assert call(router, environ_for("GET", "/items/1"))[2] == b"read"
    assert call(router, environ_for("PATCH", "/items/1"))[2] == b"write"
    assert call(router, environ_for("HEAD", "/items/1"))[2] == b"head"


@pytest.mark.parametrize(
    ("first", "second", "methods"),
    [
        ("/items/{id}", "/items/{id}", (["GET"], ["get", "POST"])),
        ("/items/{id}", "/items/{id}", (None, ["POST"])),
        ("/items/{id}", "/items/{id}", (["POST"], None)),
        ("/items/{id}", "/items/{key}", (None, None)),
        ("/files/{*path}", "/files/{name}", (None, None)),
        ("/src/{file}", "/src/{*rest}", (["GET"], ["POST"])),
    ],
)
def test_conflicts_raise_value_error_naming_both_paths(
    first: str, second: str, methods: tuple[Any, Any]
) -> None:
    router = Router()
    router.add(first, text_app("first"), methods=methods[0])
    with pytest.raises(ValueError) as err:
        router.add(second, text_app("second"), methods=methods[1])
    message = str(err.value)
    assert repr(first) in message or f'"{first}"' in message, message
    assert repr(second) in message or f'"{second}"' in message, message
    # The router is unchanged: the first route still answers, the second path is free
    # for a non-conflicting method where that makes sense.
    probe = first.replace("{id}", "1").replace("{*path}", "a").replace("{file}", "a")
    assert call(router, environ_for("GET", probe))[2] in (b"first", b"405 Method Not Allowed\n")


def test_failed_add_leaves_the_router_unchanged() -> None:
    router = Router()
    router.add("/a/{id}", text_app("id"), name="a")
    with pytest.raises(ValueError):
        router.add("/a/{*rest}", text_app("rest"), name="b")
    router.add("/a/b/c", text_app("abc"), name="b")
    assert call(router, environ_for("GET", "/a/7"))[2] == b"id"
    assert call(router, environ_for("GET", "/a/b/c"))[2] == b"abc"
    assert router.url_for("b") == "/a/b/c"


@pytest.mark.parametrize(
    ("kwargs", "argument", "value"),
    [
        ({"path": "x", "app": text_app("x")}, "path", "'x'"),
        ({"path": "", "app": text_app("x")}, "path", "''"),
        ({"path": "/a/{x", "app": text_app("x")}, "path", "'/a/{x'"),
        ({"path": "/a/{*x}/b", "app": text_app("x")}, "path", "'/a/{*x}/b'"),
        ({"path": "/a/{x}{y}", "app": text_app("x")}, "path", "'/a/{x}{y}'"),
        ({"path": "/x", "app": text_app("x"), "methods": ["GET", ""]}, "methods", "''"),
        ({"path": "/x", "app": text_app("x"), "methods": ["GE T"]}, "methods", "'GE T'"),
        ({"path": "/x", "app": text_app("x"), "methods": "GET"}, "methods", "'GET'"),
        ({"path": "/x", "app": text_app("x"), "methods": []}, "methods", "[]"),
        ({"path": "/x", "app": text_app("x"), "methods": [1]}, "methods", "1"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(
    kwargs: dict[str, Any], argument: str, value: str
) -> None:
    router = Router()
    with pytest.raises(ValueError) as err:
        router.add(**kwargs)
    assert str(err.value).startswith(f"{argument}={value}:"), str(err.value)


@pytest.mark.parametrize(
    ("pattern", "name"),
    [
        ("/{x}}}", "'x}'"),  # not {x} and a literal }: matchit unescapes }} first
        ("/a/{x}}}/b", "'x}'"),
        ("/{a}}b}", "'a}b'"),
        ("/{a{{b}", "'a{b'"),
        ("/{a{b}", "'a{b'"),
        ("/f/{*rest}}}", "'rest}'"),
    ],
)
def test_a_param_name_with_a_brace_is_refused_naming_the_path(pattern: str, name: str) -> None:
    router = Router()
    with pytest.raises(ValueError) as err:
        router.add(pattern, text_app("x"), name="r")
    message = str(err.value)
    assert message.startswith(f"path={pattern!r}: a parameter name cannot contain"), message
    assert f"named {name}" in message
    assert router.routes == []
    with pytest.raises(KeyError):
        router.url_for("r")


@pytest.mark.parametrize("pattern", ["/{x}/{x}", "/a/{id}-{slug}/{id}", "/{rest}/{*rest}"])
def test_a_param_name_used_twice_is_refused(pattern: str) -> None:
    # matchit takes it, but routing_args holds one value per name.
    router = Router()
    with pytest.raises(ValueError, match=r"is used twice") as err:
        router.add(pattern, text_app("x"))
    assert str(err.value).startswith(f"path={pattern!r}: "), str(err.value)
    assert router.routes == []


def test_escaped_braces_around_params_route_and_build_alike() -> None:
    router = Router()
    app = text_app("ok")
    router.add("/{{{x}/}}/{{y}}", app, name="r")  # literal {, {x}, /}/ and {y}
    assert router.url_for("r", x="1") == "/%7B1/%7D/%7By%7D"
    status, _, _ = call(router, environ_for("GET", "/{1/}/{y}"))
    assert status == "200 OK"
    assert app.environs[0]["wsgiorg.routing_args"] == ((), {"x": "1"})


def test_more_params_than_matchit_holds_is_a_value_error_naming_path_and_limit() -> None:
    router = Router()
    many = "".join(f"/{{p{i}}}" for i in range(26))
    # matchit panics on a 26th param (PanicException is no Exception): refused before.
    with pytest.raises(ValueError) as err:
        router.add(many, text_app("x"))
    assert str(err.value).startswith(f"path={many!r}: 26 {{param}}s"), str(err.value)
    assert "at most 25" in str(err.value)
    assert router.routes == []
    # 25, and a catch-all besides (matchit does not count it), are fine.
    app = text_app("ok")
    router.add("".join(f"/{{p{i}}}" for i in range(25)) + "/{*rest}", app, name="most")
    params = {f"p{i}": str(i) for i in range(25)}
    url = router.url_for("most", rest="a/b", **params)
    assert call(router, environ_for("GET", url))[0] == "200 OK"
    assert app.environs[0]["wsgiorg.routing_args"] == ((), {**params, "rest": "a/b"})


def test_duplicate_name_is_refused() -> None:
    router = Router()
    router.add("/a", text_app("a"), name="page")
    with pytest.raises(ValueError, match=r"^name='page': "):
        router.add("/b", text_app("b"), name="page")
    assert call(router, environ_for("GET", "/b"))[0] == "404 Not Found"


def test_route_checks_methods_before_decorating() -> None:
    router = Router()
    with pytest.raises(ValueError, match="methods="):
        router.route("/x", methods=["B AD"])


# --- no match -----------------------------------------------------------------


def test_404_is_plain_text_with_content_length() -> None:
    router = Router()
    router.add("/users/{id}", text_app("x"))
    for path in ["/nope", "/users", "/users/", "/users/1/x", ""]:
        status, headers, body = call(router, environ_for("GET", path))
        assert status == "404 Not Found", path
        assert header(headers, "Content-Type") == "text/plain; charset=utf-8"
        assert header(headers, "Content-Length") == str(len(body))
        assert header(headers, "Allow") is None


def test_405_has_sorted_allow_with_head_for_get() -> None:
    router = Router()
    router.add("/x", text_app("x"), methods=["POST", "GET"])
    router.add("/x", text_app("x"), methods=["DELETE"])
    status, headers, body = call(router, environ_for("PUT", "/x"))
    assert status == "405 Method Not Allowed"
    assert header(headers, "Allow") == "DELETE, GET, HEAD, POST"
    assert header(headers, "Content-Type") == "text/plain; charset=utf-8"
    assert header(headers, "Content-Length") == str(len(body))


def test_method_is_found_alike_by_interned_fresh_and_subclassed_str() -> None:
    # The router finds REQUEST_METHOD by identity with its interned names (rswsgi's server
    # interns GET/POST/HEAD/PUT/DELETE) and by text otherwise: both must give the same app,
    # across methods added over several calls and sharing an app.
    class Method(str):
        pass

    router = Router()
    router.add("/x/{id}", text_app("get"), methods=["GET"])
    router.add("/x/{id}", text_app("post-put"), methods=["post", "PUT"])
    router.add("/x/{id}", text_app("delete"), methods=["DELETE"])
    router.add("/x/{id}", text_app("patch"), methods=["PATCH"])
    want = {"GET": b"get", "HEAD": b"get", "POST": b"post-put", "PUT": b"post-put"}
    want |= {"DELETE": b"delete", "PATCH": b"patch"}
    for method, body in want.items():
        for form in (sys.intern(method), "".join(list(method)), Method(method)):
            assert call(router, environ_for(form, "/x/1"))[2] == body, (method, type(form))
    status, headers, _ = call(router, environ_for("".join(list("TRACE")), "/x/1"))
    assert (status, header(headers, "Allow")) == (
        "405 Method Not Allowed",
        "DELETE, GET, HEAD, PATCH, POST, PUT",
    )


def test_405_allow_follows_methods_added_after_a_405() -> None:
    # the route's Allow header is made once and shared: adding a method must renew it
    router = Router()
    router.add("/x", text_app("x"), methods=["GET"])
    assert header(call(router, environ_for("PUT", "/x"))[1], "Allow") == "GET, HEAD"
    router.add("/x", text_app("y"), methods=["POST"])
    status, headers, _ = call(router, environ_for("PUT", "/x"))
    assert (status, header(headers, "Allow")) == ("405 Method Not Allowed", "GET, HEAD, POST")


def test_405_header_list_is_new_per_response() -> None:
    # a server or middleware may edit the list it is given
    router = Router()
    router.add("/x", text_app("x"), methods=["GET"])
    first = call(router, environ_for("PUT", "/x"))[1]
    first.append(("X-Edited", "1"))
    second = call(router, environ_for("PUT", "/x"))[1]
    assert first is not second and header(second, "X-Edited") is None


def test_405_without_get_has_no_head() -> None:
    router = Router()
    router.add("/x", text_app("x"), methods=["POST"])
    status, headers, _ = call(router, environ_for("HEAD", "/x"))
    assert (status, header(headers, "Allow")) == ("405 Method Not Allowed", "POST")


def test_get_routes_answer_head_with_the_get_app() -> None:
    router = Router()
    app = text_app("body")
    router.add("/x", app, methods=["GET"])
    assert call(router, environ_for("HEAD", "/x"))[0] == "200 OK"
    assert app.environs[0]["REQUEST_METHOD"] == "HEAD"


def test_missing_request_method_is_a_key_error() -> None:
    router = Router()
    router.add("/x", text_app("x"))
    with pytest.raises(KeyError, match="REQUEST_METHOD"):
        router({"PATH_INFO": "/x"}, lambda *a: None)


# --- PEP 3333 conformance: wsgiref.validate outside and inside ---------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/users/42", "200 OK"),
        ("HEAD", "/users/42", "200 OK"),
        ("GET", "/missing", "404 Not Found"),
        ("DELETE", "/users/42", "405 Method Not Allowed"),
        ("HEAD", "/missing", "404 Not Found"),
    ],
)
def test_validator_on_both_sides(method: str, path: str, status: str) -> None:
    router = Router()
    router.add("/users/{id}", validator(text_app("user")), methods=["GET", "POST"])
    got, _, _ = call(validator(router), environ_for(method, path))
    assert got == status


# --- driven by werkzeug's test Client -----------------------------------------


def test_werkzeug_client_drives_a_router() -> None:
    router = Router()

    @router.route("/hello/{name}", methods=["GET"])
    def hello(environ: Any, start_response: Any) -> list[bytes]:
        name = environ["wsgiorg.routing_args"][1]["name"]
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return [f"Hello, {name}!\n".encode()]

    client = Client(router)
    resp = client.get("/hello/caf%C3%A9")
    assert (resp.status_code, resp.text) == (200, "Hello, café!\n")
    resp = client.head("/hello/x")  # the test Client, unlike a server, keeps the body
    assert (resp.status_code, resp.text) == (200, "Hello, x!\n")
    resp = client.post("/hello/x")
    assert (resp.status_code, resp.headers["Allow"]) == (405, "GET, HEAD")
    resp = client.get("/nowhere")
    assert (resp.status_code, resp.mimetype) == (404, "text/plain")


# --- the router can be changed from inside a request; apps can be collected ----


def test_an_app_may_add_routes_and_build_urls_while_routed() -> None:
    router = Router()

    def adder(environ: Any, start_response: Any) -> list[bytes]:
        router.add("/added", text_app("added"), name="added")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [router.url_for("added").encode()]

    router.add("/add", adder)
    assert call(router, environ_for("POST", "/add"))[2] == b"/added"
    assert call(router, environ_for("GET", "/added"))[2] == b"added"


def test_router_and_its_apps_are_garbage_collected() -> None:
    def make() -> weakref.ref[Any]:
        router = Router()

        def app(environ: Any, start_response: Any) -> Any:
            return router(environ, start_response)  # app -> router -> app: a cycle

        router.add("/x", app)
        router.mount("/m", app)
        router.route("/y")(app)
        return weakref.ref(app)

    ref = make()
    gc.collect()
    assert ref() is None
