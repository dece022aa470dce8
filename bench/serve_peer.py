"""``python bench/serve_peer.py NAME PORT``: serves ``hello_app.app`` on 127.0.0.1:PORT.

For the peers that have no command line of their own that fits ``bench_server.py``:
``wsgiref`` (``wsgiref.simple_server``), ``werkzeug`` (``run_simple(threaded=False)``),
``waitress`` (``threads=1``) and ``bjoern``. None of them writes an access log, as none of
the other servers in the bench does. Runs until killed.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from hello_app import app


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


SERVERS = {"wsgiref": wsgiref, "werkzeug": werkzeug, "waitress": waitress, "bjoern": bjoern}

if __name__ == "__main__":
    SERVERS[sys.argv[1]](int(sys.argv[2]))
