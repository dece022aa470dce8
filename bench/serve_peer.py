"""``python bench/serve_peer.py NAME PORT [MODULE:APP]``: serves ``hello_app.app`` (or
``MODULE:APP``, importable from bench/) on 127.0.0.1:PORT.

For the peers that have no command line of their own that fits ``bench_server.py``:
``wsgiref`` (``wsgiref.simple_server``), ``werkzeug`` (``run_simple(threaded=False)``),
``waitress`` (``threads=1``), ``bjoern`` (C, libev), ``fastpysgi`` (C, libuv) and
``socketify`` (uWebSockets through cffi; needs Debian's ``libuv1``), each with one worker
process and its defaults otherwise. None of them writes an access log, as none of the other
servers in the bench does. Runs until killed.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any

import hello_app

app: Callable[..., Any] = hello_app.app


def wsgiref(port: int) -> None:
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass

    make_server("127.0.0.1", port, app, handler_class=Quiet).serve_forever()


def werkzeug(port: int) -> None:
    from werkzeug.serving import run_simple

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    run_simple("127.0.0.1", port, app, threaded=False, use_reloader=False, use_debugger=False)


def waitress(port: int) -> None:
    import waitress as w

    w.serve(app, host="127.0.0.1", port=port, threads=1, _quiet=True)


def bjoern(port: int) -> None:
    import bjoern as b

    b.run(app, "127.0.0.1", port)


def fastpysgi(port: int) -> None:
    import fastpysgi as f

    f.run(app, host="127.0.0.1", port=port, workers=1, loglevel=f.LL_ERROR)


def socketify(port: int) -> None:
    from socketify import WSGI, AppListenOptions

    WSGI(app).listen(AppListenOptions(port=port, host="127.0.0.1")).run(workers=1)


SERVERS = {
    "wsgiref": wsgiref,
    "werkzeug": werkzeug,
    "waitress": waitress,
    "bjoern": bjoern,
    "fastpysgi": fastpysgi,
    "socketify": socketify,
}

if __name__ == "__main__":
    if len(sys.argv) > 3:
        module, _, name = sys.argv[3].partition(":")
        app = getattr(importlib.import_module(module), name or "app")
    SERVERS[sys.argv[1]](int(sys.argv[2]))
