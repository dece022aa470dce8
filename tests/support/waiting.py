"""`eventually`: wait on a condition with a deadline, never on a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE = 20.0
"""Seconds a condition may take on a busy machine: far above what any needs when idle."""


def eventually(probe: Callable[[], T | None | bool], what: str, within: float = DEADLINE) -> T:
    """`probe()`'s first result that is neither None nor False, polling until `within`
    seconds pass; then AssertionError naming `what`."""
    deadline = time.monotonic() + within
    while True:
        result = probe()
        if result is not None and result is not False:
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        time.sleep(0.02)
