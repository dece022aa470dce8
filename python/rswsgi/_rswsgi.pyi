"""Stubs for the native module rswsgi._rswsgi."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from types import TracebackType
from typing import Protocol, Self, TypeVar, final

from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "Router",
    "_FileWatcher",
    "_LiveReload",
    "_adhoc_certificate",
    "_check_certificate",
    "_limits",
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

@final
class static_files:
    def __new__(
        cls,
        app: WSGIApplication,
        mounts: Mapping[str, str | PathLike[str]],
        *,
        max_age: int | None = 60,
        immutable_max_age: int | None = 31536000,
        index_file: str | None = "index.html",
        allow_hidden: bool = False,
        mimetypes: Mapping[str, str] | None = None,
    ) -> static_files: ...
    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse, /
    ) -> Iterable[bytes]: ...
    @property
    def app(self) -> WSGIApplication: ...

@final
class _LiveReload:
    def __new__(cls, app: WSGIApplication, *, generation: str) -> _LiveReload: ...
    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse, /
    ) -> Iterable[bytes]: ...
    @property
    def app(self) -> WSGIApplication: ...

def stack(
    app: WSGIApplication, /, *middleware: Callable[[WSGIApplication], WSGIApplication]
) -> WSGIApplication: ...

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
    @property
    def routes(
        self,
    ) -> list[tuple[str, tuple[str, ...] | None, str | None, WSGIApplication]]: ...
    @property
    def mounts(self) -> list[tuple[str, WSGIApplication]]: ...
    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]: ...

# server

@final
class Server:
    """A WSGI development server bound to one address (`make_server`'s result)."""

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serves until `shutdown()` (returns) or Ctrl-C (raises `KeyboardInterrupt`).

        Raises `RuntimeError` when the server is closed (`server_close()` was called)
        or is already serving on another thread; the message says which.
        """

    def handle_request(self) -> None:
        """Serves until one response has been sent; raises as `serve_forever()` does."""

    def shutdown(self) -> None: ...
    def server_close(self) -> None: ...
    @property
    def server_address(self) -> tuple[str, int]: ...
    @property
    def server_port(self) -> int: ...
    @property
    def certificate_fingerprint(self) -> str | None: ...
    def live_reload_event(self, event: str, data: str) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> bool: ...

def make_server(
    host: str,
    port: int,
    app: WSGIApplication,
    *,
    quiet: bool = False,
    max_request_line_bytes: int | None = None,
    max_header_bytes: int | None = None,
    max_header_count: int | None = None,
    max_body_bytes: int | None = None,
    max_in_memory_body_bytes: int | None = None,
    idle_timeout_secs: float | None = None,
    header_timeout_secs: float | None = None,
    read_timeout_secs: float | None = None,
    body_timeout_secs: float | None = None,
    write_timeout_secs: float | None = None,
    shutdown_grace_ms: int | None = None,
    fd: int | None = None,
    cert: str | PathLike[str] | None = None,
    key: str | PathLike[str] | None = None,
    live_reload: str | None = None,
) -> Server: ...
def serve(
    app: WSGIApplication,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    quiet: bool = False,
    cert: str | PathLike[str] | None = None,
    key: str | PathLike[str] | None = None,
) -> None: ...
def _limits() -> list[tuple[str, str, int, str, str]]: ...

# certificates (private: used by `python -m rswsgi.dev --cert`)

def _check_certificate(
    cert: str | PathLike[str] | None = None, key: str | PathLike[str] | None = None
) -> str | None: ...
def _adhoc_certificate() -> tuple[str, str]: ...

# reload (private: used by `python -m rswsgi.dev --reload`)

@final
class _FileWatcher:
    """Reports changes to files and folders, from OS notifications or polling."""

    def __new__(
        cls,
        paths: Sequence[str | PathLike[str]] = ...,
        *,
        debounce_secs: float = 0.1,
        poll_secs: float | None = None,
    ) -> _FileWatcher: ...
    def add(self, path: str | PathLike[str], *, every_file: bool = False) -> None: ...
    def take_notices(self) -> list[str]: ...
    def wait(self, timeout_secs: float | None = None) -> list[str] | None: ...
