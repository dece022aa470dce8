"""`python -m rswsgi.dev ... --reload` with timestamps, for bench_reload.py's breakdown.

    RELOAD_BENCH_STAMPS=stamps.txt python bench/reload_probe.py app:app --reload --port 8000

Runs `rswsgi.dev.main` unchanged in this process (the `--reload` parent), with its child's
stop and start (`rswsgi._reload._Child.stop` and `__init__`) wrapped to append
`<time.time()> <pid> <stop|stopped|spawn|spawned>` lines to the file named by
`RELOAD_BENCH_STAMPS`. The children are the usual `python -m rswsgi.dev --fd N`; the bench's
apps stamp their own first and last lines (`app-top`, `app-end`) into the same file. When
`_reload` no longer has these names the parent runs unwrapped and the bench says so.
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
    wrap(child, "stop", "stop", "stopped")

if __name__ == "__main__":
    sys.argv = ["rswsgi.dev", *sys.argv[1:]]
    sys.exit(dev.main())
