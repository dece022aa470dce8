"""rswsgi: a WSGI toolkit whose working parts are Rust."""

from ._rswsgi import Server, __version__, make_server, serve

__all__ = ["Server", "__version__", "make_server", "serve"]
