"""What a `python -m rswsgi.dev --reload` parent watches, and what each change means.

By default: every `*.py` file under the working directory and every module the child
imported (outside the stdlib and site-packages), the app's template folders (Flask's
and its blueprints' Jinja search paths; Django's `TEMPLATES` `DIRS` and its apps'
`templates/`) and a `.env` file in the working directory: a change to any of them
restarts the child. The app's static folders (Flask's and its blueprints'; Django's
`STATICFILES_DIRS` and its apps' `static/`) are watched for live reload only: a
changed stylesheet is swapped in the open pages, another file reloads them, and the
child keeps running (static files are read from disk at each request).

`--reload-include GLOB` adds files (a path, or a glob whose folder part has no
wildcard, which is watched), `--reload-exclude GLOB` removes them: a glob without `/`
matches the file name anywhere, one with `/` the path from the working directory;
`*` matches across `/` (`fnmatch`, as werkzeug's `exclude_patterns`).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._rswsgi import _FileWatcher

if TYPE_CHECKING:
    from ._reload import Report, _Child

#: Seconds a change must be quiet before it counts: an editor's save is a burst
#: (truncate and write, or write a temporary file and rename it) a few ms long, and
#: every ms here is a ms of the save-to-answer time (watchfiles waits 50 ms too).
DEBOUNCE_SECS = 0.05
#: Files counted per folder for the banner before it says "N+".
COUNT_CAP = 10_000


def _say(message: str) -> None:
    print(f"rswsgi: {message}", file=sys.stderr, flush=True)


@dataclass
class WatchOptions:
    """The command line's say on watching (`--reload-*`, `--no-live-reload`)."""

    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    poll_secs: float | None = None
    live_reload: bool = True
    quiet: bool = False


def _count(folder: str) -> str:
    n = 0
    for _, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        n += sum(not f.startswith(".") for f in files)
        if n >= COUNT_CAP:
            return f"{COUNT_CAP}+ files"
    return f"{n} file" + ("" if n == 1 else "s")


def _under(path: str, folders: Iterable[str]) -> bool:
    return any(path.startswith(os.path.join(folder, "")) for folder in folders)


class Watching:
    """The parent's watcher, the rules that sort its changes, and the banner."""

    def __init__(self, options: WatchOptions, cwd: str) -> None:
        self.options = options
        self.cwd = os.path.realpath(cwd)
        self.watcher = _FileWatcher(debounce_secs=DEBOUNCE_SECS, poll_secs=options.poll_secs)
        self.files: set[str] = set()
        self.templates: set[str] = set()
        self.static: set[str] = set()
        self.include_dirs: set[str] = set()
        self.include_globs: list[str] = []
        self.exclude = [p if "/" not in p else os.path.join(self.cwd, p) for p in options.exclude]
        self.modules = 0
        self._banner: str | None = None
        self._page: str | None = None
        self._add(self.cwd)
        self._add(os.path.join(self.cwd, ".env"), kind=self.files)
        for pattern in options.include:
            self._include(pattern)
        self._tell(banner=False)  # the banner waits for the first child's report

    def _add(self, path: str, *, every_file: bool = False, kind: set[str] | None = None) -> bool:
        try:
            self.watcher.add(path, every_file=every_file)
        except OSError as e:
            _say(f"not watching {path}: {e}")
            return False
        if kind is not None:
            kind.add(os.path.realpath(path))
        return True

    def _include(self, pattern: str) -> None:
        path = os.path.realpath(os.path.join(self.cwd, os.path.expanduser(pattern)))
        if not glob.has_magic(pattern):
            if os.path.isdir(path):
                self._add(path, every_file=True, kind=self.include_dirs)
            else:
                self._add(path, kind=self.files)
            return
        parts = os.path.join(self.cwd, os.path.expanduser(pattern)).split(os.sep)
        fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
        base = os.path.realpath(os.sep.join(parts[:fixed]) or os.sep)
        if self._add(base, every_file=True):
            self.include_globs.append(os.path.join(base, *parts[fixed:]))

    def take_report(self, report: Report) -> None:
        """Watches what a child reported, and says what is watched when it changed."""
        for path in (*report.modules, *report.failed):
            if not _under(path, [self.cwd]):
                self._add(path, kind=self.files)
        self.modules = max(self.modules, len(report.modules))
        for folder in report.templates:
            if folder not in self.templates:
                self._add(folder, every_file=True, kind=self.templates)
        for folder in report.static:
            if folder not in self.static:
                self._add(folder, every_file=True, kind=self.static)
        if report.page is not None and report.page != self._page and not self.options.quiet:
            print(report.page, flush=True)
            self._page = report.page
        self._tell()

    def _tell(self, *, banner: bool = True) -> None:
        for notice in self.watcher.take_notices():
            _say(notice)
        if not banner:
            return
        banner_text = self.banner()
        if banner_text != self._banner and not self.options.quiet:
            print(banner_text, flush=True)
        self._banner = banner_text

    def _shown(self, path: str) -> str:
        if path == self.cwd:
            return "."
        if _under(path, [self.cwd]):
            return os.path.relpath(path, self.cwd)
        return path

    def banner(self) -> str:
        """`Watching: ...`: the folders and counts, not every file."""
        parts = [f"*.py under {self._shown(self.cwd)}"]
        outside = [f for f in self.files if not _under(f, [self.cwd])]
        if self.modules:
            parts[0] += f" ({self.modules} modules imported, {len(outside)} outside it)"
        for name, folders in (("templates", self.templates), ("static", self.static)):
            for folder in sorted(folders):
                parts.append(f"{name} {self._shown(folder)}/ ({_count(folder)})")
        if os.path.join(self.cwd, ".env") in self.files:
            parts.append(".env")
        parts += [f"{self._shown(d)}/" for d in sorted(self.include_dirs)]
        parts += [self._shown(g) for g in self.include_globs]
        if self.exclude:
            parts.append("except " + ", ".join(self.options.exclude))
        if self.options.poll_secs is not None:
            parts.append(f"polling every {self.options.poll_secs:g} s")
        return "Watching: " + ", ".join(parts)

    def _excluded(self, path: str) -> bool:
        name = os.path.basename(path)
        return any(fnmatch.fnmatch(path if "/" in p else name, p) for p in self.exclude)

    def sort(self, changed: Sequence[str]) -> tuple[list[str], list[str]]:
        """`(restart, static)`: the changed paths that need a new child, and those in
        static folders (for live reload); every other path is dropped."""
        restart: list[str] = []
        static: list[str] = []
        for path in changed:
            if self._excluded(path):
                continue
            if _under(path, self.static) and not _under(path, self.templates):
                static.append(path)
            elif (
                path.endswith(".py")
                or path in self.files
                or path == self.cwd
                or _under(path, self.templates | self.include_dirs)
                or any(fnmatch.fnmatch(path, g) for g in self.include_globs)
            ):
                restart.append(path)
        return restart, static

    def live_update(self, child: _Child, static: Sequence[str]) -> None:
        """Tells the child's open pages about changed static files: a stylesheet is
        swapped (`css NAME`), anything else reloads the page."""
        if not self.options.live_reload:
            return
        if all(p.endswith(".css") for p in static):
            for name in sorted({os.path.basename(p) for p in static}):
                child.send_event("css", name)
        else:
            child.send_event("reload", "")
        _say(f"live reload: {', '.join(self._shown(p) for p in static)}")
