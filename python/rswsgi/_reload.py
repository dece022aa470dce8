"""`python -m rswsgi.dev --reload`: restart the app's process when its source changes.

The parent process (`supervise`) never imports the application. It binds the
listening socket once and starts a child, `python -m rswsgi.dev ... --fd N`,
that serves on that same socket, so a connection made while a child restarts
waits in the kernel's accept queue instead of being refused. The child reports
the files of the modules it imported (`report_to_parent`) on a socket pair; the parent
watches them, plus every `*.py` file under the working directory, with OS
notifications (`rswsgi._rswsgi._FileWatcher`), not a stat walk of every file
(flask#5307, werkzeug#2141); folders on file systems that send no notifications
(network and shared ones), and everything under `--reload-poll`, are polled.

On a change the parent sends the child SIGTERM, which stops its server the way
Ctrl-C stops one: it stops accepting and lets the app call and the responses in
flight finish (nothing is raised inside the app), within its `--shutdown-grace-ms`,
which for a child is at least `RELOAD_GRACE_SECS`, so a slow request still finishes
on the old code. The next child starts at once, while the old one finishes and
exits: connections made meanwhile wait in the socket's queue for the new child. That
child was started ahead, as a standby that has imported the installed libraries the
last child imported and waits to be told to go (`_standby`), so a reload costs the
user's own modules only. A child that cannot load the app prints its traceback; with
the app unloadable it answers every request with a 500 that shows it.

Ctrl-C or SIGTERM stops the parent and its child (exit status 0). Ctrl-C at a
terminal reaches every process of the group, so the child ignores SIGINT and the
parent passes each of its own signals on as one SIGTERM: the child gets one signal
per Ctrl-C, as a server without `--reload` does, and a second Ctrl-C stops it at
once; so does the end of the `--shutdown-grace-ms` the user gave (plus
`STOP_MARGIN_SECS`), since the child's own is longer.

With `--cert adhoc` the parent makes the certificate once and hands its files to every
child (`_tls.adhoc_files`), so it stays the same across reloads; other `--cert`/`--key`
arguments reach the children as they were given.

POSIX only: the socket is handed over as an inherited file descriptor.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import signal
import site
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

from ._tls import ADHOC, adhoc_banner, adhoc_files, check
from ._watching import Watching, WatchOptions

#: Exit status of a child that could not load the app (dev.py's `_fail(..., 2)`).
BAD_TARGET = 2
#: The least `--shutdown-grace-ms` of a child, in seconds: what a restart gives the work
#: in flight of the child it replaces.
RELOAD_GRACE_SECS = 5.0
#: Seconds a child may take past its grace to exit before it is stopped at once.
STOP_MARGIN_SECS = 0.5
#: Seconds a child told to stop at once (a second SIGTERM) gets before it is killed.
KILL_SECS = 1.0
#: How often (seconds) the parent looks at its child between file events.
CHILD_POLL_SECS = 0.25


def _say(message: str) -> None:
    print(f"rswsgi: {message}", file=sys.stderr, flush=True)


class BindError(OSError):
    """The address to serve cannot be resolved or bound (a bad argument: exit 2)."""


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host`:`port` (IPv4 first, as `make_server` picks).

    Raises `BindError` naming the address when it cannot be resolved or bound (with
    a hint when it is already in use).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        infos.sort(key=lambda info: info[0] != socket.AF_INET)
        family, kind, proto, _, addr = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise BindError(e.errno, f"host={host!r} cannot be resolved: {e.strerror or e}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(1024)
    except OSError as e:
        sock.close()
        why = e.strerror or str(e)
        if e.errno == errno.EADDRINUSE:
            why = "address already in use (is another server running there? choose another --port)"
        raise BindError(e.errno, f"cannot listen on {host}:{port}: {why}") from None
    return sock


def library_dirs() -> tuple[str, ...]:
    """The stdlib and site-packages directories: code nobody edits while developing."""
    dirs = {
        path
        for scheme in (sysconfig.get_paths(), sysconfig.get_paths(vars={"base": sys.base_prefix}))
        for key, path in scheme.items()
        if key in ("stdlib", "platstdlib", "purelib", "platlib")
    }
    dirs.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    dirs.add(site.getusersitepackages())
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs)


def imported_files(modules: Iterable[object]) -> list[str]:
    """The source files of `modules` (e.g. `sys.modules.values()`), minus the stdlib's
    and site-packages' (installed code that does not change while developing; watching it
    would cost an OS watch per directory for nothing)."""
    skip = library_dirs()
    files = set()
    for module in list(modules):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and os.path.isabs(path):
            real = os.path.realpath(path)
            if not real.startswith(skip):
                files.add(real)
    return sorted(files)


@dataclass
class Report:
    """What a child tells its parent once the app is loaded (or failed to load)."""

    #: Source files of the modules imported (outside the stdlib and site-packages).
    modules: list[str] = field(default_factory=list)
    #: The app's template folders (`_frameworks.folders`): a change restarts the child.
    templates: list[str] = field(default_factory=list)
    #: The app's static folders: a change is sent to the open pages, no restart.
    static: list[str] = field(default_factory=list)
    #: The files the traceback of a failed load runs through.
    failed: list[str] = field(default_factory=list)
    #: The banner line that says which page an exception shows, if any.
    page: str | None = None
    #: The installed modules imported (stdlib and site-packages), in import order:
    #: what the next child imports ahead, as a standby (`_standby`).
    preload: list[str] = field(default_factory=list)


def installed_modules(modules: Mapping[str, object]) -> list[str]:
    """The names of `modules` (e.g. `sys.modules`, in import order) whose files are in
    the stdlib or site-packages."""
    skip = library_dirs()
    names = []
    for name, module in list(modules.items()):
        path = getattr(module, "__file__", None)
        if name != "__main__" and isinstance(path, str) and os.path.isabs(path):
            if os.path.realpath(path).startswith(skip):
                names.append(name)
    return names


def report_to_parent(fd: int, folders: Any, failed: list[str], page: str | None) -> None:
    """Child side, once the app is loaded (or failed to load): sends a `Report` (JSON)
    on the socket `fd` and ends that direction; then, in a daemon thread, reads the
    parent's live-reload events (see `send_events_to`) until the parent's end closes,
    and stops this process (SIGTERM) when it does, so that a parent killed with
    SIGKILL never leaves an orphan serving its port."""
    report = Report(
        imported_files(sys.modules.values()),
        folders.templates,
        folders.static,
        failed,
        page,
        installed_modules(sys.modules),
    )
    parent = socket.socket(fileno=fd)
    try:
        parent.sendall(json.dumps(asdict(report)).encode("utf-8", "surrogateescape"))
        parent.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    threading.Thread(
        target=_listen_to_parent, args=(parent,), name="rswsgi-parent", daemon=True
    ).start()


#: Where a child's parent-listening thread delivers live-reload events (set once the
#: server exists; events that come before are dropped: no page is open yet).
_deliver: list[Callable[[str, str], None]] = []


def send_events_to(deliver: Callable[[str, str], None]) -> None:
    """Child side: pass each `EVENT DATA` line the parent sends to `deliver`
    (`Server.live_reload_event`, which is thread-safe)."""
    _deliver.append(deliver)


def _listen_to_parent(parent: socket.socket) -> None:
    buf = b""
    try:
        while data := parent.recv(4096):  # b"": the parent is gone
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                event, _, text = line.decode("utf-8", "replace").partition(" ")
                for deliver in _deliver[-1:]:
                    try:
                        deliver(event, text)
                    except (OSError, ValueError) as e:
                        _say(f"live reload: {e}")
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def leave_ctrl_c_to_the_parent() -> None:
    """Child side, first thing: ignore SIGINT. Ctrl-C at a terminal sends it to the whole
    process group; the parent, which gets it too, passes it on as one SIGTERM (see
    `_Child.stop`). Were the child to take the SIGINT as well, that SIGTERM would be its
    second signal, which stops a server at once, cutting off the response in flight.

    The parent starts each child with SIGINT blocked (`_Child`), so a Ctrl-C that comes
    before this line, while Python starts, waits; ignored here, it is dropped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


class _Child:
    """One `python -m rswsgi.dev ... --fd N` process serving the parent's socket; with
    `preload` (module names), a standby that imports those and waits for `go`
    (`python -m rswsgi._standby`, which then runs what `python -m rswsgi.dev` runs)."""

    def __init__(
        self, argv: Sequence[str], sock: socket.socket, *, preload: list[str] | None = None
    ) -> None:
        # The child's report comes back on this socket pair, and the parent's
        # end stays open while the parent lives (see report_to_parent).
        self._link, child_end = socket.socketpair()
        self.started = time.time()
        module = "rswsgi.dev" if preload is None else "rswsgi._standby"
        # The child inherits a blocked SIGINT until it ignores it (see
        # leave_ctrl_c_to_the_parent): a Ctrl-C while Python starts raises nothing there.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, "--fd", str(sock.fileno())]
                + ["--parent-fd", str(child_end.fileno()), *argv],
                pass_fds=(sock.fileno(), child_end.fileno()),
            )
            if preload is not None:
                self._link.sendall(f"preload {json.dumps(preload)}\n".encode())
        except BaseException:
            self._link.close()
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            child_end.close()
        self._link.setblocking(False)
        self._data: bytes | None = b""
        self._asked = False

    def reported(self) -> Report | None:
        """The child's report, once it has sent it all (then never again); else `None`."""
        if self._data is None:
            return None
        try:
            while chunk := self._link.recv(65536):
                self._data += chunk
        except BlockingIOError:
            return None
        except OSError:
            pass
        data, self._data = self._data, None
        try:
            fields = json.loads(data.decode("utf-8", "surrogateescape"))
            return Report(**fields)
        except (ValueError, TypeError):
            return Report()  # a child that died before reporting

    def go(self) -> bool:
        """Tells a standby to load and serve the app (from now on it is a child like
        any other); `False` when it is gone (the caller starts a child instead)."""
        self.started = time.time()
        try:
            self._link.send(b"go\n")
        except OSError:
            return False
        return self.proc.poll() is None

    def send_event(self, event: str, data: str) -> None:
        """Passes a live-reload event to the child's server (see `send_events_to`)."""
        try:
            self._link.send(f"{event} {data}\n".encode())
        except OSError:
            pass  # a child that is gone or not listening: its pages reconnect anyway

    def ask_to_stop(self) -> None:
        """The first SIGTERM, without waiting: the child stops accepting at once (the
        socket's queue keeps new connections for the next child), finishes the app call
        and the responses in flight within its grace, and exits. `stop` then waits."""
        if not self._asked and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self._asked = True

    def stop(self, patience: float) -> None:
        """Stops the child the way Ctrl-C stops a server: SIGTERM (unless `ask_to_stop`
        sent it), after which it finishes the app call and the responses in flight and
        exits. After `patience` seconds, or at once when this process gets Ctrl-C or
        SIGTERM meanwhile, a second SIGTERM stops it at once, and SIGKILL follows
        `KILL_SECS` later. That Ctrl-C or SIGTERM is then raised again
        (`KeyboardInterrupt`)."""
        interrupted = False
        try:
            if self.proc.poll() is None:
                self.ask_to_stop()
                try:
                    self.proc.wait(patience)
                except subprocess.TimeoutExpired:
                    _say(f"the app did not stop within {patience:g} s; stopping it at once")
                except KeyboardInterrupt:
                    interrupted = True
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(KILL_SECS)
                except (subprocess.TimeoutExpired, KeyboardInterrupt):
                    _say("the app did not stop; killing it")
                    self.proc.kill()
                    self.proc.wait()
        finally:
            self._link.close()
        if interrupted:
            raise KeyboardInterrupt


class _Standby:
    """The next child, started ahead once the serving one has reported what it imported
    (see `_standby`): `take` hands it over, or starts a child cold when there is none."""

    def __init__(self, argv: Sequence[str], sock: socket.socket) -> None:
        self.argv = argv
        self.sock = sock
        self.child: _Child | None = None

    def prepare(self, preload: list[str]) -> None:
        """Starts a standby importing `preload`, unless one is waiting already."""
        if self.child is None:
            self.child = _Child(self.argv, self.sock, preload=preload)

    def take(self) -> _Child:
        """A child serving the app: the standby told to go, else a new child."""
        child, self.child = self.child, None
        if child is not None:
            if child.go():
                return child
            child.stop(KILL_SECS)
        return _Child(self.argv, self.sock)

    def close(self) -> None:
        """Stops a standby that was not needed (it has run no user code)."""
        if self.child is not None:
            self.child.stop(KILL_SECS)
            self.child = None


def _shown(paths: Sequence[str]) -> str:
    cwd = os.path.realpath(os.getcwd())
    rel = [os.path.relpath(p, cwd) if p.startswith(os.path.join(cwd, "")) else p for p in paths]
    return ", ".join(rel)


def _take_report(watching: Watching, child: _Child, standby: _Standby) -> list[str]:
    """Watches what the child reported (and has the next child started ahead, with
    what it imported); returns the files changed since it started (an edit made
    before the watch began, which no notification will report)."""
    report = child.reported()
    if report is None:
        return []
    watching.take_report(report)
    standby.prepare(report.preload)
    changed = []
    files = [*report.modules, *report.failed]
    for folder in report.templates:
        for top, dirs, names in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            files += [os.path.join(top, n) for n in names if not n.startswith(".")]
    for path in files:
        try:
            if os.stat(path).st_mtime > child.started:
                changed.append(path)
        except OSError:
            changed.append(path)
    return changed


_Version = tuple[int, int, int] | None
"""A file's `(inode, size in bytes, mtime in ns)`, or `None` when it does not exist."""


def _version(path: str) -> _Version:
    """The version of `path` on disk now (see `_Version`)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _news(changed: Sequence[str], loaded: dict[str, _Version]) -> list[str]:
    """The paths in `changed` that are not as they were when the serving child started.

    One save can be seen twice: by the report's mtime check (`_take_report`), when it
    lands while the report is read, and by the watcher once its debounce ends. The
    second sighting, of a file still in the version the reload was made for, is
    dropped, or it would stop the new child before it serves."""
    return [p for p in changed if p not in loaded or _version(p) != loaded[p]]


def _serve_until_change(
    child: _Child, watching: Watching, standby: _Standby, loaded: dict[str, _Version]
) -> list[str]:
    """Watches until a change needs a new child (returns it); sends static changes to
    the child's open pages meanwhile; says so when the child exits on its own.
    `loaded`: the version of each path whose change started this child."""
    while True:
        changed = _news(watching.watcher.wait(CHILD_POLL_SECS) or [], loaded)
        restart, static = watching.sort(changed + _take_report(watching, child, standby))
        if restart:
            return sorted(set(restart))
        if static:
            watching.live_update(child, static)
        status = child.proc.poll()
        if status is not None:
            changed = _take_report(watching, child, standby)
            if changed:
                return changed
            if status == BAD_TARGET:
                _say("waiting for a change to retry")
            else:
                _say(f"the app exited with status {status}; waiting for a change to restart")
            while True:
                restart, static = watching.sort(_news(watching.watcher.wait() or [], loaded))
                if restart or static:
                    return restart + static


def _forget_bytecode(paths: Iterable[str]) -> None:
    """Removes the cached bytecode of the changed sources before the next child starts.

    CPython trusts a `__pycache__` file whose source has the same size and the same
    mtime in whole seconds: an edit that keeps the file's size, saved within the second
    in which the last child compiled it, would otherwise be served as the old code.
    """
    for path in paths:
        if path.endswith(".py"):
            try:
                os.unlink(importlib.util.cache_from_source(path))
            except (OSError, ValueError, NotImplementedError):
                pass  # none was written, or bytecode caching is off


def supervise(
    host: str,
    port: int,
    argv: Sequence[str],
    *,
    shutdown_grace_ms: int,
    cert: str | None = None,
    watch: WatchOptions | None = None,
) -> int:
    """The `--reload` parent: serve `argv` (the CLI's own arguments) in a child
    process on a socket bound here, restarting it on every change, until Ctrl-C.
    `shutdown_grace_ms` is what Ctrl-C gives the work in flight (`--shutdown-grace-ms`).
    `cert` is the `--cert` argument (already checked): the banner says `https`,
    and `adhoc` is made here once for every child. `watch`: what to watch besides the
    defaults, and how (see `_watching`).

    Raises `BindError` when the address cannot be bound, `OSError` when files cannot
    be watched."""
    if os.name != "posix":
        raise OSError("--reload needs a POSIX system (each child inherits the socket's fd)")
    sock = listen(host, port)
    child: _Child | None = None
    old: _Child | None = None  # the child before, while it stops
    stack = ExitStack()
    quit_secs = shutdown_grace_ms / 1000
    reload_secs = max(quit_secs, RELOAD_GRACE_SECS)
    # argparse keeps the last of a repeated option: this one wins.
    argv = [*argv, "--shutdown-grace-ms", str(round(reload_secs * 1000))]
    try:
        fingerprint = None
        if cert == ADHOC:
            cert_file, key_file = stack.enter_context(adhoc_files())
            # argparse keeps the last of a repeated option: these replace `--cert adhoc`.
            argv = [*argv, "--cert", cert_file, "--key", key_file]
            fingerprint = check(cert_file, key_file)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        scheme = "http" if cert is None else "https"
        print(
            f"Serving on {scheme}://{shown}:{port} (reloading on changes; Ctrl-C to quit)",
            flush=True,
        )
        if fingerprint is not None:
            print(adhoc_banner(fingerprint), flush=True)
        watching = Watching(watch or WatchOptions(), os.getcwd())
        standby = _Standby(argv, sock)
        stack.callback(standby.close)
        loaded: dict[str, _Version] = {}
        while True:
            watching.watcher.wait(0)  # what changed before this start is in this child
            child = standby.take()
            if old is not None:
                # The new child starts while the old one finishes its work in flight
                # (it no longer accepts): its exit and Python's teardown cost nobody.
                old.stop(reload_secs + STOP_MARGIN_SECS)
                old = None
            changed = _serve_until_change(child, watching, standby, loaded)
            loaded = {path: _version(path) for path in changed}
            _say(f"reloading: {_shown(changed)}")
            child.ask_to_stop()
            old, child = child, None
            _forget_bytecode(changed)
    except KeyboardInterrupt:
        for running in (old, child):
            if running is not None:
                try:
                    running.stop(quit_secs + STOP_MARGIN_SECS)
                except KeyboardInterrupt:
                    pass  # a second Ctrl-C: it was stopped at once
        old = child = None
        print("Shutting down.", flush=True)
        return 0
    finally:
        for running in (old, child):
            if running is not None:
                running.stop(KILL_SECS)
        sock.close()
        stack.close()
