"""The edit-save-look loop of `python -m rswsgi.dev`: tracebacks that show the user's
frames, the app served while the real one cannot load, and the wrapping of the app in
a `--reload` child (Django's static files, `--debug`, live reload).
"""

from __future__ import annotations

import importlib
import io
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from ._rswsgi import _LiveReload, handle_error, static_files

#: Where the loading frames left out of a traceback come from: rswsgi itself and
#: importlib (`import_module`, and its frozen bootstrap).
_LOADERS = tuple(
    os.path.join(os.path.dirname(os.path.abspath(path)), "")
    for path in (__file__, importlib.__file__ or "")
)

#: The file name the placeholder app's frame shows in a traceback.
_PLACEHOLDER = "<rswsgi: the app could not be loaded; a save that fixes it serves it again>"


def _own_frame(filename: str) -> bool:
    return filename.startswith(_LOADERS) or filename.startswith("<frozen importlib")


def trimmed(e: BaseException) -> BaseException:
    """`e` with rswsgi's loading frames and importlib's left out of its traceback (and
    of the tracebacks of the exceptions it chains to); returns `e`."""
    todo: list[BaseException | None] = [e]
    seen: set[int] = set()
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        frames: list[TracebackType] = []
        tb = exc.__traceback__
        while tb is not None:
            if not _own_frame(tb.tb_frame.f_code.co_filename):
                frames.append(tb)
            tb = tb.tb_next
        rebuilt: TracebackType | None = None
        for frame in reversed(frames):
            rebuilt = TracebackType(rebuilt, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
        exc.__traceback__ = rebuilt
        todo += [exc.__cause__, exc.__context__]
    return e


def format_error(e: BaseException) -> str:
    """The whole traceback of `e` (see `trimmed`), as Python prints it."""
    return "".join(traceback.format_exception(type(e), e, e.__traceback__))


def failing_files(e: BaseException | None) -> list[str]:
    """The files the traceback of `e` runs through (and a SyntaxError's file): what a
    `--reload` parent watches so that the save that fixes them is seen."""
    files: list[str] = []
    while e is not None:
        if isinstance(e, SyntaxError) and e.filename and os.path.isabs(e.filename):
            files.append(e.filename)
        tb = e.__traceback__
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if os.path.isabs(name):
                files.append(name)
            tb = tb.tb_next
        e = e.__cause__ or e.__context__
    return sorted({os.path.realpath(f) for f in files})


def broken_app(error: BaseException) -> Callable[..., Iterable[bytes]]:
    """A WSGI app that raises `error` at every request: what a `--reload` child serves
    while the user's app cannot be loaded, inside `handle_error`, so that each request
    is answered at once with a 500 (showing the traceback when `debug`)."""
    # The frame that raises is the one frame of its own the traceback gets: compiled
    # under a name that says what it is, rather than pointing into rswsgi.
    code = compile(
        "def app(environ, start_response):\n    raise error.with_traceback(tb)\n",
        _PLACEHOLDER,
        "exec",
    )
    scope: dict[str, Any] = {"error": error, "tb": error.__traceback__}
    exec(code, scope)  # noqa: S102 - a fixed string
    app: Callable[..., Iterable[bytes]] = scope["app"]
    return app


def generation() -> str:
    """A URL-safe name of this server process, for live reload."""
    return f"{os.getpid()}-{time.time_ns() // 1_000_000}"


def wrap_app(
    app: Any,
    *,
    debug: bool,
    show_errors: bool,
    live_reload: str | None,
    django_static: bool,
    broken: bool,
    static: Mapping[str, str] | None = None,
) -> Any:
    """The app a server serves, from the inside out: Django's static files handler
    (`django_static`, when DEBUG and staticfiles allow, as runserver does), then
    `handle_error(debug=...)` (with `debug`, or always for the `broken` placeholder app,
    whose page shows the traceback when `show_errors`), then `static_files` for the
    `--static` mounts (`static`: URL prefix -> folder, served with `max_age=0` so the
    browser revalidates on every load; `ValueError` names a missing folder), then
    `_LiveReload` outermost (when `live_reload` names the generation), so error pages
    and static HTML reload too."""
    if django_static:
        from ._frameworks import django_handler, serve_django_static

        if django_handler(app) is not None:
            app = serve_django_static(app)
    if broken:
        app = _traceback_once(handle_error(app, debug=show_errors))
    elif debug:
        app = handle_error(app, debug=True)
    if static:
        app = static_files(app, dict(static), max_age=0)
    if live_reload is not None:
        app = _LiveReload(app, generation=live_reload)
    return app


def _traceback_once(app: Callable[..., Any]) -> Callable[..., Any]:
    """`app` (the broken placeholder in `handle_error`) with its per-request traceback
    left out of the log: the child printed it once when the load failed, and a page
    with its stylesheets and favicon would print it four times more. Each request
    logs one line that points at it instead."""

    def app_without_traceback(environ: dict[str, Any], start_response: Any) -> Any:
        errors = environ.get("wsgi.errors")
        environ["wsgi.errors"] = io.StringIO()
        if errors is not None:
            errors.write(f"rswsgi: {_NOT_LOADED} (its traceback is above)\n")
        return app(environ, start_response)

    return app_without_traceback


#: What each request answered by the placeholder logs.
_NOT_LOADED = "the app could not be loaded; a save that fixes it serves it again"


def print_error(e: BaseException, message: str, prog: str) -> None:
    """The traceback of `e`, then `prog: error: message`, on stderr."""
    sys.stderr.write(format_error(e))
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
