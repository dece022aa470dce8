"""What the installed distribution says about itself is true.

The version, the supported CPythons (`requires-python`, the classifiers and the
README's "Supported Python" line say the same thing, and the running interpreter is
one of them) and, under the interpreter matrix (noxfile.py sets
`RSWSGI_TEST_INSTALLED`), that `rswsgi` was imported from the installed wheel or
sdist and not from the source tree.
"""

from __future__ import annotations

import os
import re
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
import rswsgi

ROOT = Path(__file__).resolve().parent.parent
META = metadata.metadata("rswsgi")


def _supported() -> list[str]:
    prefix = "Programming Language :: Python :: "
    return [
        c[len(prefix) :]
        for c in META.get_all("Classifier", [])
        if re.fullmatch(r"3\.\d+", c[len(prefix) :])
    ]


def test_version_is_the_distribution_version() -> None:
    assert rswsgi.__version__ == metadata.version("rswsgi")


def test_classifiers_list_every_cpython_from_the_floor() -> None:
    supported = _supported()
    assert META["Requires-Python"] == f">={supported[0]}"
    minors = [int(v.split(".")[1]) for v in supported]
    assert minors == list(range(minors[0], minors[0] + len(minors))), supported
    assert "Programming Language :: Python :: Implementation :: CPython" in META.get_all(
        "Classifier", []
    )


def test_the_running_interpreter_is_supported() -> None:
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in _supported()


# The free-threaded builds the matrix tests (noxfile.py's FREE_THREADED), and the
# ones the release workflow builds wheels for besides.
FREE_THREADED_TESTED = ["3.14t"]
FREE_THREADED_BUILT = ["3.14t", "3.15t"]
FREE_THREADING = "Programming Language :: Python :: Free Threading :: 3 - Stable"


def test_readme_states_the_supported_versions() -> None:
    # The line's first sentence lists them; what follows says how each is tested
    # and why older ones are not supported.
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^\*\*Supported Python:\*\* ([^.]*(?:\.\d+[^.]*)*)\.", text, re.M)
    assert line, "README has no **Supported Python:** line"
    listed = re.findall(r"\b3\.\d+t?\b", line.group(1))
    assert listed == [*_supported(), *FREE_THREADED_TESTED], line.group(1)


def test_free_threading_is_declared_for_the_tested_builds() -> None:
    assert FREE_THREADING in META.get_all("Classifier", [])
    assert all(ft.removesuffix("t") in _supported() for ft in FREE_THREADED_TESTED)


def test_the_matrix_runs_every_supported_version() -> None:
    # noxfile.py reads the classifiers itself; its free-threaded list is written out.
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert "re.findall(r'\"Programming Language :: Python :: (3\\.\\d+)\"', PYPROJECT)" in noxfile
    free = re.search(r"^FREE_THREADED = \[(.*)\]$", noxfile, re.M)
    assert free and re.findall(r'"([^"]+)"', free[1]) == FREE_THREADED_TESTED


def test_release_workflow_builds_every_supported_version() -> None:
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    builds = re.findall(r"--interpreter ([\dt. ]+)$", workflow, re.M)
    assert builds, "release.yml builds no wheel for a named interpreter"
    assert all(b.split() == [*_supported(), *FREE_THREADED_BUILT] for b in builds), builds
    assert not re.search(r"^\s*args:.*--find-interpreter", workflow, re.M)


def test_license_travels_with_the_distribution() -> None:
    assert META["License-Expression"] == "MIT"
    files = [str(f) for f in metadata.files("rswsgi") or []]
    assert any(f.endswith("LICENSE") for f in files), files


@pytest.mark.skipif(
    "RSWSGI_TEST_INSTALLED" not in os.environ,
    reason="run by the interpreter matrix (nox), which installs a wheel or an sdist",
)
def test_imported_from_the_installed_distribution() -> None:
    package = Path(rswsgi.__file__).resolve().parent
    site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    assert package.parent in site, f"rswsgi imported from {package}, not site-packages {site}"
    assert not (package.parent / "Cargo.toml").exists()  # not a source tree
    installed = {Path(str(f)).name for f in metadata.files("rswsgi") or []}
    native = Path(rswsgi._rswsgi.__file__).name  # type: ignore[attr-defined]
    assert native in installed
