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


def test_readme_states_the_supported_versions() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    line = re.search(r"^\*\*Supported Python:\*\* (.*)$", text, re.M)
    assert line, "README has no **Supported Python:** line"
    assert re.findall(r"\b3\.\d+\b", line.group(1)) == _supported()


def test_release_workflow_builds_every_supported_version() -> None:
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    builds = re.findall(r"--interpreter ([\d. ]+)$", workflow, re.M)
    assert builds, "release.yml builds no wheel for a named interpreter"
    assert all(b.split() == _supported() for b in builds), builds
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
