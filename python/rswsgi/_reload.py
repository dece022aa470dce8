"""`python -m rswsgi.dev --reload`: restart the app's process when its source changes.

The parent process (`supervise`) never imports the application. It binds the
listening socket once and starts a child, `python -m rswsgi.dev ... --fd N`,
that serves on that same socket, so a connection made while a child restarts
waits in the kernel's accept queue instead of being refused. The child reports
the files of the modules it imported (`report_to_parent`) on a socket pair; the parent
watches them, plus every `*.py` file under the working directory, with OS
notifications (`rswsgi._rswsgi._FileWatcher`), never a polling walk
(flask#5307, werkzeug#2141).

On a change the parent sends the child SIGTERM, which stops its server the way
Ctrl-C stops one: it stops accepting and lets the app call and the responses in
flight finish (nothing is raised inside the app), within its `--shutdown-grace-ms`,
which for a child is at least `RELOAD_GRACE_SECS`, so a slow request still finishes
on the old code. A child that cannot load the app prints its one-line error and
exits with status 2; the parent then waits for the next change instead of exiting.

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

import importlib.util
import os
import signal
import site
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack

from ._rswsgi import _FileWatcher
from ._tls import ADHOC, adhoc_banner, adhoc_files, check

#: Exit status of a child that could not load the app (dev.py's `_fail(..., 2)`).
BAD_TARGET = 2
#: The least `--shutdown-grace-ms` of a child, in seconds: what a restart gives the work
#: in flight of the child it replaces.
RELOAD_GRACE_SECS = 5.0
#: Seconds a child may take past its grace to exit before it is stopped at once.
STOP_MARGIN_SECS = 0.5
#: Seconds a child told to stop at once (a second SIGTERM) gets before it is killed.
KILL_SECS = 1.0
#: Seconds a change must be quiet before it counts (an editor's save is a burst).
DEBOUNCE_SECS = 0.1
#: How often (seconds) the parent looks at its child between file events.
CHILD_POLL_SECS = 0.25


def _say(message: str) -> None:
    print(f"rswsgi: {message}", file=sys.stderr, flush=True)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host`:`port` (IPv4 first, as `make_server` picks).

    Raises `OSError` naming the address when it cannot be resolved or bound.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        infos.sort(key=lambda info: info[0] != socket.AF_INET)
        family, kind, proto, _, addr = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise OSError(e.errno, f"host={host!r} cannot be resolved: {e.strerror or e}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(1024)
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def _library_dirs() -> tuple[str, ...]:
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
    skip = _library_dirs()
    files = set()
    for module in list(modules):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and os.path.isabs(path):
            real = os.path.realpath(path)
            if not real.startswith(skip):
                files.add(real)
    return sorted(files)


def report_to_parent(fd: int) -> None:
    """Child side, once the app is loaded (or failed to load): sends the files of every
    module imported so far on the socket `fd` (NUL-separated file system paths) and
    ends that direction; then, in a daemon thread, waits for the parent's end to close
    and stops this process (SIGTERM) when it does, so that a parent killed with
    SIGKILL never leaves an orphan serving its port."""
    data = b"\0".join(os.fsencode(p) for p in imported_files(sys.modules.values()))
    parent = socket.socket(fileno=fd)
    try:
        parent.sendall(data)
        parent.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    threading.Thread(
        target=_stop_when_orphaned, args=(parent,), name="rswsgi-parent", daemon=True
    ).start()


def _stop_when_orphaned(parent: socket.socket) -> None:
    try:
        while parent.recv(1):  # the parent never sends; b"" means it is gone
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def leave_ctrl_c_to_the_parent() -> None:
    """Child side, first thing: ignore SIGINT. Ctrl-C at a terminal sends it to the whole
    process group; the parent, which gets it too, passes it on as one SIGTERM (see
    `_Child.stop`). Were the child to take the SIGINT as well, that SIGTERM would be its
    second signal, which stops a server at once, cutting off the response in flight."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Child:
    """One `python -m rswsgi.dev ... --fd N` process serving the parent's socket."""

    def __init__(self, argv: Sequence[str], sock: socket.socket) -> None:
        # The child's report comes back on this socket pair, and the parent's
        # end stays open while the parent lives (see report_to_parent).
        self._link, child_end = socket.socketpair()
        self.started = time.time()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rswsgi.dev", "--fd", str(sock.fileno())]
                + ["--parent-fd", str(child_end.fileno()), *argv],
                pass_fds=(sock.fileno(), child_end.fileno()),
            )
        except BaseException:
            self._link.close()
            raise
        finally:
            child_end.close()
        self._link.setblocking(False)
        self._data: bytes | None = b""

    def reported(self) -> list[str]:
        """The files the child reported, once it has sent them all (then never again); else []."""
        if self._data is None:
            return []
        try:
            while chunk := self._link.recv(65536):
                self._data += chunk
        except BlockingIOError:
            return []
        except OSError:
            pass
        data, self._data = self._data, None
        return [os.fsdecode(p) for p in data.split(b"\0") if p]

    def stop(self, patience: float) -> None:
        """Stops the child the way Ctrl-C stops a server: SIGTERM, after which it finishes
        the app call and the responses in flight and exits. After `patience` seconds, or
        at once when this process gets Ctrl-C or SIGTERM meanwhile, a second SIGTERM stops
        it at once, and SIGKILL follows `KILL_SECS` later. That Ctrl-C or SIGTERM is then
        raised again (`KeyboardInterrupt`)."""
        interrupted = False
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
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


def _watch(watcher: _FileWatcher, paths: Iterable[str]) -> None:
    for path in paths:
        try:
            watcher.add(path)
        except OSError as e:
            _say(f"not watching {path}: {e}")


def _shown(paths: Sequence[str]) -> str:
    cwd = os.path.realpath(os.getcwd())
    rel = [os.path.relpath(p, cwd) if p.startswith(os.path.join(cwd, "")) else p for p in paths]
    return ", ".join(rel)


def _watch_reported(watcher: _FileWatcher, child: _Child) -> list[str]:
    """Watches the files the child reported; returns those changed since it started
    (an edit made before the watch began, which no notification will report)."""
    reported = child.reported()
    _watch(watcher, reported)
    changed = []
    for path in reported:
        try:
            if os.stat(path).st_mtime > child.started:
                changed.append(path)
        except OSError:
            changed.append(path)
    return changed


def _serve_until_change(child: _Child, watcher: _FileWatcher) -> list[str]:
    """Watches until a watched file changes; says so when the child exits on its own."""
    while True:
        changed = watcher.wait(CHILD_POLL_SECS) or []
        changed += _watch_reported(watcher, child)
        if changed:
            return sorted(set(changed))
        status = child.proc.poll()
        if status is not None:
            changed = _watch_reported(watcher, child)
            if changed:
                return changed
            if status == BAD_TARGET:
                _say("waiting for a change to retry")
            else:
                _say(f"the app exited with status {status}; waiting for a change to restart")
            return watcher.wait() or []


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
) -> int:
    """The `--reload` parent: serve `argv` (the CLI's own arguments) in a child
    process on a socket bound here, restarting it on every change, until Ctrl-C.
    `shutdown_grace_ms` is what Ctrl-C gives the work in flight (`--shutdown-grace-ms`).
    `cert` is the `--cert` argument (already checked): the banner says `https`,
    and `adhoc` is made here once for every child.

    Raises `OSError` when the address cannot be bound or files cannot be watched."""
    if os.name != "posix":
        raise OSError("--reload needs a POSIX system (each child inherits the socket's fd)")
    sock = listen(host, port)
    child: _Child | None = None
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
        watcher = _FileWatcher(debounce_secs=DEBOUNCE_SECS)
        _watch(watcher, [os.getcwd()])
        while True:
            watcher.wait(0)  # what changed before this start is in this child
            child = _Child(argv, sock)
            changed = _serve_until_change(child, watcher)
            _say(f"reloading: {_shown(changed)}")
            child.stop(reload_secs + STOP_MARGIN_SECS)
            child = None
            _forget_bytecode(changed)
    except KeyboardInterrupt:
        if child is not None:
            try:
                child.stop(quit_secs + STOP_MARGIN_SECS)
            except KeyboardInterrupt:
                pass  # a second Ctrl-C: it was stopped at once
            child = None
        print("Shutting down.", flush=True)
        return 0
    finally:
        if child is not None:
            child.stop(KILL_SECS)
        sock.close()
        stack.close()
