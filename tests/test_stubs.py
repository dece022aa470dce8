"""The type stubs match the native module, and every public name documents itself."""

from __future__ import annotations

import subprocess
import sys

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
