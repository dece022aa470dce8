"""Stubs for the native module rswsgi._rswsgi."""

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar, final

from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "Router",
    "__version__",
    "handle_error",
    "log_environ",
    "reverser",
    "stack",
    "wrap_query_params",
]

__version__: str

class _TextStream(Protocol):
    def write(self, s: str, /) -> object: ...

@final
class log_environ:
    def __new__(
        cls,
        app: WSGIApplication,
        *,
        stream: _TextStream | None = None,
        redact: Iterable[str] | None = ...,
    ) -> log_environ: ...
    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse, /
    ) -> Iterable[bytes]: ...
    @property
    def app(self) -> WSGIApplication: ...

@final
class handle_error:
    def __new__(cls, app: WSGIApplication, *, debug: bool = False) -> handle_error: ...
    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse, /
    ) -> Iterable[bytes]: ...
    @property
    def app(self) -> WSGIApplication: ...

@final
class wrap_query_params:
    def __new__(
        cls,
        app: WSGIApplication,
        *,
        keep_blank_values: bool = False,
        key: str = "rswsgi.query_params",
    ) -> wrap_query_params: ...
    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse, /
    ) -> Iterable[bytes]: ...
    @property
    def app(self) -> WSGIApplication: ...

@final
class reverser:
    def __new__(cls, app: WSGIApplication) -> reverser: ...
    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse, /
    ) -> Iterable[bytes]: ...
    @property
    def app(self) -> WSGIApplication: ...

def stack(app: WSGIApplication, /, *middleware: WSGIApplication) -> WSGIApplication: ...

# routing
_App = TypeVar("_App", bound=WSGIApplication)

@final
class Router:
    def __init__(self) -> None: ...
    def add(
        self,
        path: str,
        app: WSGIApplication,
        *,
        methods: Iterable[str] | None = None,
        name: str | None = None,
    ) -> None: ...
    def route(
        self,
        path: str,
        *,
        methods: Iterable[str] | None = None,
        name: str | None = None,
    ) -> Callable[[_App], _App]: ...
    def mount(self, prefix: str, app: WSGIApplication) -> None: ...
    def url_for(self, name: str, /, **params: str | int) -> str: ...
    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]: ...
