"""Kept for the tests that read README.md, which another change is moving to docs/:
new tests import from `support` instead."""

from __future__ import annotations

import socket

from support import ROOT

__all__ = ["ROOT", "free_port"]


def free_port() -> int:
    """A port nothing listens on right now. Only for `--routes`, which prints the route
    table and exits without binding; a server must bind port 0 itself instead."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
