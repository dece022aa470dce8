"""rswsgi: a WSGI toolkit whose working parts are Rust."""

from ._rswsgi import __version__

# routing
from ._rswsgi import Router

__all__ = ["__version__", "Router"]
