"""rswsgi without the GIL: the module keeps it off, and the middleware and router are
safe to call from many threads at once.

On a free-threaded CPython (3.14t) these threads really run at the same time (the
matrix's 3.14t session runs the suite with the GIL left off, and
`test_the_stress_tests_run_without_the_gil` checks it); elsewhere they interleave at
the GIL's switch interval, made short here, which still checks the results and the
refcounts. Each stress test compares what 8 threads saw with what one thread sees
for the same requests, and checks that the objects every thread shared hold as many
references after as before.
"""

from __future__ import annotations

import gc
import io
import os
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rswsgi import (
    Router,
    handle_error,
    log_environ,
    reverser,
    stack,
    static_files,
    wrap_query_params,
)

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
THREADS = 8
ROUNDS = 300

free_threaded_only = pytest.mark.skipif(
    not FREE_THREADED, reason="needs a free-threaded CPython (3.13t or later); this one has a GIL"
)

Result = tuple[str, list[tuple[str, str]], bytes, Any]


@pytest.fixture(autouse=True)
def _short_switch_interval() -> Iterator[None]:
    # With a GIL, switch threads often so that calls interleave mid-call.
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


@free_threaded_only
def test_import_leaves_the_gil_disabled() -> None:
    # A fresh interpreter, as a user starts one: no PYTHON_GIL, warnings as errors
    # (an extension that does not declare free-threading support turns the GIL back
    # on with a RuntimeWarning).
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = "import rswsgi, sys; print(sys._is_gil_enabled())"
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "False", out


@free_threaded_only
def test_the_stress_tests_run_without_the_gil() -> None:
    assert not sys._is_gil_enabled(), "something in this process turned the GIL back on"


def call(
    app: Callable[..., Any], method: str, path: str, query: str = "", **headers: str
) -> Result:
    """One request through `app`: (status, headers, body, routing args)."""
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append((status, headers))
        return lambda data: None

    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    }
    body_iter = app(environ, start_response)
    try:
        body = b"".join(body_iter)
    finally:
        close = getattr(body_iter, "close", None)
        if close is not None:
            close()
    status, headers = seen[-1]
    return status, list(headers), body, environ.get("wsgiorg.routing_args")


def hammer(work: Callable[[int], list[Result]]) -> list[list[Result]]:
    """`work(thread_index)` on THREADS threads started together; their results in order."""
    barrier = threading.Barrier(THREADS)
    results: list[list[Result]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as e:  # reported below, with the thread's traceback
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    params = environ.get("rswsgi.query_params", {})
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"h\xc3\xa9llo ", repr(sorted(params.items())).encode()]


def streamed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"one "
    yield b"two"


def broken(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    raise ValueError("boom")


def make_router() -> Router:
    router = Router()
    router.add("/hello", hello, methods=["GET"])
    router.add("/users/{id}", hello, methods=["GET", "POST"], name="user")
    router.add("/files/{*path}", streamed)
    router.add("/broken", broken)
    sub = Router()
    sub.add("/inner/{x}", hello)
    router.mount("/sub", sub)
    return router


REQUESTS = [
    ("GET", "/hello", "a=1&b=2"),
    ("GET", "/users/42", ""),
    ("POST", "/users/7", "x=%C3%A9"),
    ("DELETE", "/users/7", ""),  # 405
    ("GET", "/files/a/b/c.txt", ""),
    ("GET", "/sub/inner/9", ""),
    ("GET", "/missing", ""),  # 404
    ("GET", "/broken", ""),  # 500 from handle_error
]


def run_requests(app: Callable[..., Any]) -> list[Result]:
    out = []
    for _ in range(ROUNDS):
        for method, path, query in REQUESTS:
            status, headers, body, args = call(app, method, path, query)
            out.append((status, headers, body, args))
    return out


def test_router_from_many_threads_sees_what_one_thread_sees() -> None:
    router = make_router()
    routes = router.routes
    # handle_error so that /broken is a response, not an exception.
    app = handle_error(router)
    expected = run_requests(app)
    gc.collect()
    refs = (sys.getrefcount(router), sys.getrefcount(app), sys.getrefcount(hello))
    results = hammer(lambda i: run_requests(app))
    assert all(r == expected for r in results)
    del results
    gc.collect()
    assert (sys.getrefcount(router), sys.getrefcount(app), sys.getrefcount(hello)) == refs
    assert router.routes == routes


def test_middleware_stack_from_many_threads_sees_what_one_thread_sees() -> None:
    router = make_router()
    app = stack(router, reverser, wrap_query_params, handle_error, log_environ)
    expected = run_requests(app)
    assert {r[0] for r in expected} == {
        "200 OK",
        "404 Not Found",
        "405 Method Not Allowed",
        "500 Internal Server Error",
    }
    assert (b" oll\xc3\xa9h" in expected[0][2]) and expected[4][2] == b"owt eno"
    gc.collect()
    refs = (sys.getrefcount(router), sys.getrefcount(app), sys.getrefcount(streamed))
    results = hammer(lambda i: run_requests(app))
    assert all(r == expected for r in results)
    del results
    gc.collect()
    assert (sys.getrefcount(router), sys.getrefcount(app), sys.getrefcount(streamed)) == refs


def test_routes_added_while_other_threads_route() -> None:
    router = make_router()
    app = handle_error(router)
    added = 200

    def work(i: int) -> list[Result]:
        if i == 0:  # one writer
            for n in range(added):
                router.add(f"/added/{n}/{{x}}", hello, name=f"added-{n}")
                router.mount(f"/mounted{n}", hello)
            return []
        out = run_requests(app)
        # What was added so far routes; what was not yet is a 404.
        for n in range(0, added, 17):
            status = call(app, "GET", f"/added/{n}/y")[0]
            assert status in ("200 OK", "404 Not Found"), status
        return out

    results = hammer(work)
    expected = run_requests(handle_error(make_router()))
    assert all(r == expected for r in results[1:])
    assert len(router.routes) == 4 + added and len(router.mounts) == 1 + added
    for n in range(added):
        assert router.url_for(f"added-{n}", x="z") == f"/added/{n}/z"
        assert call(app, "GET", f"/added/{n}/y")[0] == "200 OK"
        assert call(app, "GET", f"/mounted{n}/q")[0] == "200 OK"


def test_one_log_environ_writes_whole_dumps_from_many_threads() -> None:
    # The dump cache is shared: each thread's dump must be its own environ's.
    stream = io.StringIO()
    lock = threading.Lock()

    class Locked:
        def write(self, text: str) -> int:
            with lock:
                return stream.write(text)

    app = log_environ(hello, stream=Locked())

    def work(i: int) -> list[Result]:
        return [call(app, "GET", f"/t{i}/{n}", f"n={n}") for n in range(ROUNDS)]

    hammer(work)
    dumps = stream.getvalue().split("GET /")[1:]
    assert len(dumps) == THREADS * ROUNDS
    for dump in dumps:
        first, _, rest = dump.partition("\n")
        path, _, query = first.partition("?")
        assert f"PATH_INFO: '/{path}'" in rest and f"QUERY_STRING: '{query}'" in rest, dump


def test_static_files_from_many_threads_sees_what_one_thread_sees(tmp_path: Path) -> None:
    # Its folder handle, per-file entries and sibling lists are shared (Mutexes).
    (tmp_path / "app.css").write_bytes(b"body { color: red }\n" * 50)
    (tmp_path / "app.js").write_bytes(b"console.log(1)\n" * 80)
    (tmp_path / "app.js.gz").write_bytes(b"\x1f\x8b not really gzip")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.html").write_bytes(b"<p>hi</p>")
    app = static_files(make_router(), {"/static": tmp_path})
    etag = dict(call(app, "GET", "/static/app.css")[1])["ETag"]
    requests: list[tuple[str, str, dict[str, str]]] = [
        ("GET", "/static/app.css", {}),
        ("HEAD", "/static/app.css", {}),
        ("GET", "/static/app.css", {"if_none_match": etag}),
        ("GET", "/static/app.css", {"range": "bytes=10-19"}),
        ("GET", "/static/app.js", {"accept_encoding": "gzip"}),
        ("GET", "/static/sub/", {}),
        ("GET", "/static/../etc/passwd", {}),
        ("GET", "/static/missing.css", {}),
        ("GET", "/hello", {}),  # the router behind it
    ]

    def work(i: int) -> list[Result]:
        return [
            call(app, method, path, **headers)
            for _ in range(ROUNDS // 3)
            for method, path, headers in requests
        ]

    expected = work(0)
    assert [r[0][:3] for r in expected[: len(requests)]] == [
        "200",
        "200",
        "304",
        "206",
        "200",
        "200",
        "404",
        "404",
        "200",
    ]
    gc.collect()
    refs = sys.getrefcount(app)
    results = hammer(work)
    assert all(r == expected for r in results)
    del results
    gc.collect()
    assert sys.getrefcount(app) == refs
