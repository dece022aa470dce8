"""rswsgi: a WSGI toolkit whose working parts are Rust."""

from ._rswsgi import (
    Router,
    __version__,
    handle_error,
    log_environ,
    reverser,
    stack,
    wrap_query_params,
)

__all__ = [
    "Router",
    "__version__",
    "handle_error",
    "log_environ",
    "reverser",
    "stack",
    "wrap_query_params",
]
