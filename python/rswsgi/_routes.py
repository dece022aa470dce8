"""`python -m rswsgi.dev MODULE:APP --routes`: print a Router's table, as `flask routes` does.

The Router is found by walking down the middleware stack from the served app:
rswsgi's middleware expose the app they wrap as `.app`, and the same
attribute (or `.wsgi_app`, Flask's, or `__wrapped__`, `functools.wraps`'s)
is followed on any other wrapper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from ._rswsgi import Router

# Attributes that common WSGI wrappers keep the wrapped app in, tried in order:
# rswsgi and werkzeug middleware (`.app`), Flask (`.wsgi_app`, which is
# what gets wrapped there), `functools.wraps` (`__wrapped__`).
WRAPPED = ("app", "wsgi_app", "__wrapped__")

# How deep the walk goes before giving up (a cycle of wrappers, say).
MAX_DEPTH = 100

ANY_METHOD = "(any)"
NO_NAME = "(unnamed)"
MOUNT = "<mount>"


def find_inner(app: object, test: Callable[[object], bool]) -> Any:
    """The first object reached from `app` (itself included) for which `test` is true,
    through wrapped-app attributes (`WRAPPED`) and a bound method's `__self__` (so that
    `flask_app.wsgi_app` leads to its Flask app); else `None`.

    Breadth first; each object is visited once, at most `MAX_DEPTH` wrappers down; an
    attribute access that raises counts as a missing attribute.
    """
    seen: set[int] = set()
    todo: list[tuple[object, int]] = [(app, 0)]
    while todo:
        obj, depth = todo.pop(0)
        if test(obj):
            return obj
        if id(obj) in seen or depth >= MAX_DEPTH:
            continue
        seen.add(id(obj))
        for attr in (*WRAPPED, "__self__"):
            try:
                inner: Any = getattr(obj, attr)
            except Exception:  # noqa: BLE001 - a property that raises is not a wrapper
                continue
            if inner is not None:
                todo.append((inner, depth + 1))
    return None


def find_router(app: object) -> Router | None:
    """The first `Router` reached from `app` through its wrappers (`find_inner`), or `None`."""
    router: Router | None = find_inner(app, lambda obj: isinstance(obj, Router))
    return router


def table(router: Router) -> list[tuple[str, str, str]]:
    """`(endpoint, methods, rule)` rows: routes in the order added, then mounts.

    `endpoint` is the route's name (`(unnamed)` without one) and `methods`
    the registered methods joined by `", "` (`(any)` for `methods=None`;
    HEAD is not listed for GET, as `flask routes` hides it). A mount is
    `<mount>`, `(any)`, `PREFIX -> repr(app)`.
    """
    rows = [
        (name or NO_NAME, ", ".join(methods) if methods is not None else ANY_METHOD, path)
        for path, methods, name, _app in router.routes
    ]
    rows += [(MOUNT, ANY_METHOD, f"{prefix} -> {app!r}") for prefix, app in router.mounts]
    return rows


def print_routes(app: object, target: str, *, prog: str, out: TextIO, err: TextIO) -> int:
    """Print the table of the Router inside `app` to `out`; returns the exit status.

    Columns are padded to their widest cell and separated by two spaces, under
    an `Endpoint  Methods  Rule` header and a dashed line. Without a Router:
    `PROG: error: no rswsgi Router found in TARGET` on `err`, status 1.
    """
    router = find_router(app)
    if router is None:
        print(f"{prog}: error: no rswsgi Router found in {target}", file=err)
        return 1
    header = ("Endpoint", "Methods", "Rule")
    rows = [header, *table(router)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    rows.insert(1, ("-" * widths[0], "-" * widths[1], "-" * widths[2]))
    for endpoint, methods, rule in rows:
        print(f"{endpoint:<{widths[0]}}  {methods:<{widths[1]}}  {rule}", file=out)
    return 0
