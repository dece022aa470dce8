"""`python -m rswsgi.dev` as a user's shell runs it, on a port it chose itself.

The server is started with `--port 0` and the test reads the port it bound from
its `Serving on http://127.0.0.1:PORT` line (under `--quiet`, which prints no
banner, from the internal `--port-file`): no port number is handed over from a
socket that was closed first, so nothing else can take it in between.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import ROOT
from .http import Response, get
from .waiting import eventually

if TYPE_CHECKING:
    from typing import Self

START = 30.0  # seconds for a server to bind: a cold start imports Flask or Django
BANNER = re.compile(r"^Serving on https?://(?:\[[^\]]*\]|[^:/]+):(\d+) ", re.MULTILINE)


def run_cli(
    *args: str, port: str = "0", cwd: Path = ROOT, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """`python -m rswsgi.dev ARGS --port PORT` in `cwd`, to its end (a test that expects
    it to exit: a bad argument, an app that cannot be loaded); text output."""
    return subprocess.run(
        [sys.executable, "-m", "rswsgi.dev", *args, "--port", port],
        cwd=cwd,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class DevServer:
    """`python -m rswsgi.dev ARGS --port 0` in a subprocess (`cwd`, `env` added to the
    environment, `popen` passed to Popen), started and stopped by `with`.

    stdout and stderr go to temporary files, so that a chatty server never blocks on
    a full pipe; read them with :meth:`stdout` and :meth:`stderr`."""

    def __init__(
        self, *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, **popen: Any
    ) -> None:
        self._dir = tempfile.TemporaryDirectory()
        self._port_file = Path(self._dir.name) / "port"
        quiet = ["--port-file", str(self._port_file)] if "--quiet" in args else []
        self.args = [sys.executable, "-m", "rswsgi.dev", *args, "--port", "0", *quiet]
        self.cwd = cwd
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        self.popen = popen
        self._err: IO[bytes] = tempfile.TemporaryFile()
        self._out: IO[bytes] = tempfile.TemporaryFile()
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> Self:
        """Start the process and wait until it says which port it listens on."""
        self.proc = subprocess.Popen(
            self.args, cwd=self.cwd, stdout=self._out, stderr=self._err, env=self.env, **self.popen
        )
        self.port = eventually(self._bound_port, "the server to listen", within=START)
        return self

    def _bound_port(self) -> int | None:
        assert self.proc is not None
        if self._port_file.exists():
            text = self._port_file.read_text()
            return int(text) if text.endswith("\n") else None
        if m := BANNER.search(self.stdout()):
            return int(m[1])
        if self.proc.poll() is not None:
            raise RuntimeError(f"server exited with {self.proc.returncode}: {self.stderr()}")
        return None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self, path: str = "/", headers: dict[str, str] | None = None, method: str = "GET"
    ) -> Response:
        return get(self.port, path, headers, method)

    def body(self, path: str = "/") -> bytes | None:
        """The response body, or None when nothing answers (yet)."""
        try:
            return self.get(path).body
        except OSError:
            return None

    def stop(self, signum: signal.Signals = signal.SIGINT) -> int | None:
        """`signum` (SIGINT: as Ctrl-C would); kill after 10 s. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def close(self) -> None:
        """Stop the server (and, when it leads its own session, every process in it)."""
        self.stop()
        if self.proc is not None and self.popen.get("start_new_session"):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # never leave a child behind
            except ProcessLookupError:
                pass
        self._err.close()
        self._out.close()
        self._dir.cleanup()

    def stderr(self) -> str:
        """Everything the server wrote to stderr so far."""
        return written(self._err)

    def stdout(self) -> str:
        """Everything the server wrote to stdout so far."""
        return written(self._out)


def written(file: IO[bytes]) -> str:
    """What a child process has written to `file` so far. pread leaves alone the file
    offset the child shares: a seek here could make its next write land mid-file."""
    fd = file.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")


class Reloader(DevServer):
    """`python -m rswsgi.dev ARGS --reload` serving from `cwd`, started at once.

    An app that appends its process id to `imported-by.txt` when imported lets
    :meth:`importers` tell which processes imported it."""

    def __init__(self, cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
        super().__init__(*args, "--reload", cwd=cwd, env=env)
        self.start()

    def served(self, body: bytes, path: str = "/") -> bytes:
        """Wait until `path` answers with `body`."""
        return eventually(lambda: body if self.body(path) == body else None, f"{body!r}")

    def importers(self) -> list[int]:
        try:
            return [int(line) for line in (self.cwd / "imported-by.txt").read_text().split()]
        except FileNotFoundError:
            return []

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in self.importers():  # never leave a child behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        super().close()
