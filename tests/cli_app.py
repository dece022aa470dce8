"""Fixture targets for ``python -m rswsgi.dev`` (see test_dev_cli.py)."""

from __future__ import annotations

from typing import Any


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fixture app"]


def create_app() -> Any:
    def made(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"from factory"]

    return made


def failing_factory() -> Any:
    raise RuntimeError("factory\nfailed")


not_callable = 42
