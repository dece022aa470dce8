"""`python -m rswsgi.dev ... --reload` with timestamps, for bench_reload.py's breakdown.

    RELOAD_BENCH_STAMPS=stamps.txt python bench/reload_probe.py app:app --reload --port 8000

Runs `rswsgi.dev.main` unchanged in this process (the `--reload` parent), with its
children's lifecycle (`rswsgi._reload._Child`: `__init__`, `ask_to_stop`, `go`, `stop`)
wrapped to append `<time.time()> <pid> <spawn|spawned|stop|go|stopped>` lines to the file
named by `RELOAD_BENCH_STAMPS`: `stop` when the parent tells the old child to stop (it has
seen the change), `go` when it tells the standby to load the app, `stopped` when the old
child has exited (alongside the new one's start), `spawn`/`spawned` around a process start
(a standby's, or a child started cold). The bench's apps stamp their own first and last
lines (`app-top`, `app-end`) into the same file. When `_reload` no longer has these names
the parent runs unwrapped and the bench says so.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from rswsgi import _reload, dev

STAMPS = os.environ.get("RELOAD_BENCH_STAMPS")


def stamp(what: str) -> None:
    if STAMPS:
        with open(STAMPS, "a") as f:
            f.write(f"{time.time():.6f} {os.getpid()} {what}\n")


def wrap(cls: Any, name: str, before: str, after: str) -> None:
    original = getattr(cls, name, None)
    if original is None:
        return

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        stamp(before)
        try:
            return original(*args, **kwargs)
        finally:
            stamp(after)

    setattr(cls, name, wrapper)


child = getattr(_reload, "_Child", None)
if child is not None:
    wrap(child, "__init__", "spawn", "spawned")
    wrap(child, "ask_to_stop", "stop", "stop-sent")
    wrap(child, "go", "go", "go-sent")
    wrap(child, "stop", "stopping", "stopped")

if __name__ == "__main__":
    sys.argv = ["rswsgi.dev", *sys.argv[1:]]
    sys.exit(dev.main())
