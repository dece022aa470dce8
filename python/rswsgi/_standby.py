"""The `--reload` parent's next child, started ahead: `python -m rswsgi._standby`.

A child's start is mostly not the app: a Python process, `import rswsgi.dev`, and the
installed libraries the app imports (Flask, Jinja, Django) cost 300 ms or more, and
none of them changes when the user saves a file. So while a child serves, the parent
starts the next one as a standby (`_reload._Child(standby=...)`): it imports
`rswsgi.dev`, then the installed modules the serving child reported (`Report.preload`,
stdlib and site-packages only, in the order the child imported them), and waits. On a
change the parent writes `go` on the link; the standby then runs `rswsgi.dev.main` with
its arguments, as `python -m rswsgi.dev ...` would, and imports only the user's code.

No user code runs before `go`: while preloading, a finder in front of `sys.meta_path`
refuses every module outside the stdlib and site-packages (the library that wanted it
fails to import, and preloading stops there, as it does at the first module that fails
for any other reason, e.g. a Django model before `django.setup()`). At `go` the standby
checks that no preloaded file changed since (an upgraded library): if one did, it
replaces itself (`exec`) with a fresh `python -m rswsgi.dev ...`, same process and file
descriptors, so the parent never notices.

Signals: SIGINT is blocked from the start and ignored from the first line (Ctrl-C
reaches the whole process group; the parent stops its children itself), SIGTERM ends a
standby that has not been told to go, and so does the parent's end of the link
closing (a parent killed with SIGKILL leaves no standby behind).

Protocol on the link (the `--parent-fd` socket), parent to standby, one line each:
`preload JSON-LIST-OF-MODULE-NAMES` then `go`. After `go` the link is the child's, as in
`_reload.report_to_parent`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

from ._reload import leave_ctrl_c_to_the_parent

# Ctrl-C reaches the whole process group: the parent decides what stops (see _reload).
leave_ctrl_c_to_the_parent()


def _read_line(fd: int) -> str | None:
    """One line from the link, byte by byte (so nothing meant for the child after `go`
    is taken), without its newline; `None` at end of file (the parent is gone)."""
    line = bytearray()
    while True:
        byte = os.read(fd, 1)
        if not byte:
            return None
        if byte == b"\n":
            return line.decode("utf-8", "surrogateescape")
        line += byte


class _LibrariesOnly(importlib.abc.MetaPathFinder):
    """While preloading: finds what the other finders find, and refuses (ImportError)
    a module whose file is outside `library`, so no user code runs ahead of `go`."""

    def __init__(self, library: tuple[str, ...]) -> None:
        self.library = library

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        origin = spec.origin if spec is not None else None
        if origin and os.path.isabs(origin):
            if not os.path.realpath(origin).startswith(self.library):
                raise ImportError(f"{fullname} is not an installed library", name=fullname)
        return None  # the usual finders load it


def preload(names: Sequence[str], library: tuple[str, ...]) -> dict[str, int]:
    """Imports the installed modules `names` in order, stopping at the first that fails;
    returns `{file: mtime_ns}` of the modules imported, for `stale`. Warnings raised
    meanwhile are not shown (the first child, started cold, showed them)."""
    guard = _LibrariesOnly(library)
    sys.meta_path.insert(0, guard)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in names:
                if name in sys.modules:
                    continue
                try:
                    importlib.import_module(name)
                except Exception:  # noqa: BLE001 - any failure ends preloading
                    break
    finally:
        sys.meta_path.remove(guard)
    seen: dict[str, int] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and os.path.isabs(path):
            try:
                seen[path] = os.stat(path).st_mtime_ns
            except OSError:
                pass
    return seen


def stale(seen: dict[str, int]) -> bool:
    """Whether a file imported ahead changed since (a library upgraded meanwhile)."""
    for path, mtime in seen.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return True
        except OSError:
            return True
    return False


def main(argv: Sequence[str]) -> int:
    """`argv`: `--fd N --parent-fd M` and the CLI's arguments, as `python -m rswsgi.dev`
    takes them. Returns (or exits with) the status that `rswsgi.dev.main` returns."""
    from . import dev
    from ._reload import library_dirs

    fd = int(argv[argv.index("--parent-fd") + 1])
    seen: dict[str, int] = {}
    while True:
        line = _read_line(fd)
        if line is None:
            return 0  # the parent is gone, or did not need this standby
        command, _, data = line.partition(" ")
        if command == "preload":
            seen = preload(json.loads(data), library_dirs())
        elif command == "go":
            break
    args = [*argv]
    if stale(seen):
        os.execv(sys.executable, [sys.executable, "-m", "rswsgi.dev", *args])
    sys.argv = [dev.__file__, *args]
    return dev.main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
