"""Thread- and fork-safety: the composed middleware and router serve many threads at once
with correct answers, importing rswsgi starts no thread, and a forked child can use a
Router built before the fork."""

from __future__ import annotations

import http.client
import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import quote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from rswsgi import Router, handle_error, log_environ, reverser, wrap_query_params

CLIENTS = 8
REQUESTS = 40


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class LockedLog(io.StringIO):
    """A log stream whose write() also counts calls under a lock."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.writes = 0

    def write(self, s: str) -> int:
        with self.lock:
            self.writes += 1
            return super().write(s)


def build_app(log: LockedLog) -> Any:
    router = Router()

    @router.route("/echo/{word}", methods=["GET"])
    def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        word = environ["wsgiorg.routing_args"][1]["word"]
        extra = environ["rswsgi.query_params"].get("n", ["?"])[0]
        body = f"{word}:{extra}".encode()
        start_response(
            "200 OK",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    @router.route("/boom/{n}")
    def boom(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("boom " + environ["wsgiorg.routing_args"][1]["n"])

    return log_environ(handle_error(wrap_query_params(reverser(router))), stream=log)


@pytest.fixture
def threaded_server() -> Iterator[tuple[int, LockedLog]]:
    log = LockedLog()
    server = make_server(
        "127.0.0.1", 0, build_app(log), server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_port, log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def client(port: int, who: int, failures: list[str]) -> None:
    for i in range(REQUESTS):
        word = f"t{who}-r{i}-caf\u00e9-\U0001f44d\U0001f3fd"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            if i % 5 == 4:
                conn.request("GET", f"/boom/{who}-{i}")
                resp = conn.getresponse()
                got = (resp.status, resp.read())
                want: tuple[int, bytes] = (500, b"500 Internal Server Error")
            else:
                conn.request("GET", f"/echo/{quote(word)}?n={i}")
                resp = conn.getresponse()
                got = (resp.status, resp.read())
                want = (200, reverse_clusters(f"{word}:{i}").encode())
        finally:
            conn.close()
        if got != want:
            failures.append(f"client {who} request {i}: {got!r} != {want!r}")


def reverse_clusters(text: str) -> str:
    # The only multi-code-point cluster in these words is the thumb with its skin tone.
    thumb = "\U0001f44d\U0001f3fd"
    return thumb.join(part[::-1] for part in reversed(text.split(thumb)))


def test_composed_stack_serves_concurrent_clients(
    threaded_server: tuple[int, LockedLog],
) -> None:
    port, log = threaded_server
    failures: list[str] = []
    threads = [
        threading.Thread(target=client, args=(port, who, failures)) for who in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    assert log.writes == CLIENTS * REQUESTS
    text = log.getvalue()
    # Tracebacks of the failing requests went to wsgi.errors (the server's stderr), and each
    # request's dump is whole: one header line per request.
    assert text.count("GET /echo/") == CLIENTS * REQUESTS * 4 // 5
    assert text.count("GET /boom/") == CLIENTS * REQUESTS // 5


def test_router_called_from_many_threads_at_once() -> None:
    router = Router()
    seen: list[str] = []

    @router.route("/items/{id}/{name}")
    def item(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        args = environ["wsgiorg.routing_args"][1]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{args['id']}/{args['name']}".encode()]

    barrier = threading.Barrier(CLIENTS)
    errors: list[str] = []

    def worker(who: int) -> None:
        barrier.wait()
        for i in range(2000):
            environ = {"REQUEST_METHOD": "GET", "PATH_INFO": f"/items/{who}/n{i}"}
            body = b"".join(router(environ, lambda *a: None))
            if body != f"{who}/n{i}".encode():
                errors.append(f"{who} {i} {body!r}")
        seen.append("done")

    threads = [threading.Thread(target=worker, args=(who,)) for who in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(seen) == CLIENTS


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_import_and_use_start_no_threads() -> None:
    out = run_python(
        "import os, threading\n"
        "def count(): return threading.active_count(), len(os.listdir('/proc/self/task'))\n"
        "before = count()\n"
        "import rswsgi\n"
        "after_import = count()\n"
        "r = rswsgi.Router(); r.add('/x/{y}', lambda e, s: [s('200 OK', []) or b'ok'])\n"
        "import io\n"
        "app = rswsgi.log_environ(rswsgi.handle_error(rswsgi.reverser(r)), stream=io.StringIO())\n"
        "list(app({'REQUEST_METHOD': 'GET', 'PATH_INFO': '/x/1'}, lambda *a: None))\n"
        "print(before, after_import, count())\n"
    )
    before, after_import, after_use = out.split(") (")
    assert before + ")" == "(" + after_import + ")" == "(" + after_use, out
    assert before == "(1, 1"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_uses_a_router_built_before_the_fork() -> None:
    out = run_python(
        "import os, rswsgi\n"
        "r = rswsgi.Router()\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [environ['wsgiorg.routing_args'][1]['who'].encode()]\n"
        "r.add('/who/{who}', app, methods=['GET'], name='who')\n"
        "stack = rswsgi.handle_error(rswsgi.reverser(r))\n"
        "def ask(path):\n"
        "    seen = []\n"
        "    body = b''.join(stack({'REQUEST_METHOD': 'GET', 'PATH_INFO': path},\n"
        "                          lambda s, h, e=None: seen.append(s)))\n"
        "    return seen[-1], body\n"
        "assert ask('/who/parent') == ('200 OK', b'tnerap')\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    ok = (ask('/who/child') == ('200 OK', b'dlihc')\n"
        "          and ask('/nope')[0] == '404 Not Found'\n"
        "          and r.url_for('who', who='x') == '/who/x')\n"
        "    os._exit(0 if ok else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status), ask('/who/again')[1].decode())\n"
    )
    assert out == "0 niaga"
