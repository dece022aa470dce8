from collections.abc import Callable, Iterable
from typing import TypeVar, final

from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["Router", "__version__"]

__version__: str

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
