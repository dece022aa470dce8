"""rswsgi: a WSGI toolkit whose working parts are Rust.

Middleware (`log_environ`, `handle_error`, `wrap_query_params`,
`reverser`, `static_files`, `stack`), a matchit `Router` and a single-threaded dev
server (`make_server`, `serve`, `python -m rswsgi.dev`), all PEP 3333.
"""

from ._rswsgi import (
    Router,
    Server,
    __version__,
    handle_error,
    log_environ,
    make_server,
    reverser,
    serve,
    stack,
    static_files,
    wrap_query_params,
)

__all__ = [
    "Router",
    "Server",
    "__version__",
    "handle_error",
    "log_environ",
    "make_server",
    "reverser",
    "serve",
    "stack",
    "static_files",
    "wrap_query_params",
]
