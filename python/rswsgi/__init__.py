"""rswsgi: a WSGI toolkit whose working parts are Rust."""

from ._rswsgi import Router, __version__

__all__ = ["__version__", "Router"]
