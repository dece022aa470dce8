"""Fixture targets for `python -m rswsgi.dev` (see test_dev_cli.py)."""

from __future__ import annotations

from typing import Any

from rswsgi import handle_error


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


def boom(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raise RuntimeError("cli <boom>")


# The app wraps its own errors, as the README's quick start does; --debug's outer
# handle_error answers for it.
handled_boom = handle_error(boom)
