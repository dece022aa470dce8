"""Stubs for the native module ``rswsgi._rswsgi``."""

from types import TracebackType

from _typeshed.wsgi import WSGIApplication
from typing_extensions import Self, final

__all__ = ["Server", "__version__", "make_server", "serve"]

__version__: str

@final
class Server:
    """A WSGI development server bound to one address (``make_server``'s result)."""

    def serve_forever(self, poll_interval: float = 0.5) -> None: ...
    def handle_request(self) -> None: ...
    def shutdown(self) -> None: ...
    def server_close(self) -> None: ...
    @property
    def server_address(self) -> tuple[str, int]: ...
    @property
    def server_port(self) -> int: ...
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
    idle_timeout_secs: int | None = None,
    read_timeout_secs: int | None = None,
    write_timeout_secs: int | None = None,
) -> Server: ...
def serve(
    app: WSGIApplication,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    quiet: bool = False,
) -> None: ...
