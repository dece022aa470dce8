"""The type stubs match the native module, and every public name documents itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import rswsgi


def test_stubtest_finds_no_difference() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "rswsgi._rswsgi"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_public_name_has_a_docstring() -> None:
    missing = []
    for name in rswsgi.__all__:
        obj = getattr(rswsgi, name)
        if name == "__version__":
            continue
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        for attr in dir(obj) if isinstance(obj, type) else ():
            member = getattr(obj, attr)
            if attr.startswith("_") and attr != "__call__":
                continue
            if callable(member) and not (member.__doc__ or "").strip():
                missing.append(f"{name}.{attr}")
    assert not missing


STACKED = """
from collections.abc import Iterable

from _typeshed.wsgi import StartResponse, WSGIEnvironment
from rswsgi import handle_error, log_environ, reverser, stack, wrap_query_params


def my_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b""]


app = stack(my_app, reverser, wrap_query_params, handle_error, log_environ)
"""


def test_the_readmes_stack_call_type_checks(tmp_path: Path) -> None:
    # A middleware is `Callable[[WSGIApplication], WSGIApplication]`: stubtest cannot see
    # a wrong parameter type there, a strict check of the README's own call can.
    (tmp_path / "stacked.py").write_text(STACKED, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "stacked.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
