"""The interpreter matrix: ``pip install nox && nox`` from the repository root.

For every CPython that rswsgi supports (the ``Programming Language :: Python :: 3.x``
classifiers in pyproject.toml, the one list of them) and for the free-threaded builds
in ``FREE_THREADED``, session ``tests-3.x``:

1. builds a release wheel for that interpreter with ``maturin build --release``;
2. installs it, with the ``test`` extra, into a fresh virtualenv from a folder
   outside the checkout, and runs the pytest suite from a copy of ``tests/`` made
   outside the checkout too, so ``import rswsgi`` can only find the installed wheel
   (``RSWSGI_TEST_INSTALLED`` makes tests/test_metadata.py check that it did);
3. runs ``cargo test`` linked against the same interpreter (``PYO3_PYTHON``), where
   the interpreter has a libpython to link (the free-threaded build in shared/ has
   none: it says so in its line).

Where the interpreters come from (each found one way or skipped by name):

- 3.11-3.13: pyenv's builds (``$(pyenv root)/versions``, whatever ``pyenv global``
  selects), else ``python3.x`` on PATH;
- 3.14, 3.15: ``python3.x`` on PATH where the machine has one; else Debian sid's
  packages in the chroot that ``.ci/sid up`` makes (Debian bookworm, which these
  machines run, has neither). Then ``tests-3.14`` runs the same session inside the
  chroot (``.ci/sid run nox -s tests-3.14``), in this checkout at the same path;
- 3.14t: the free-threaded CPython from shared/pythons/, unpacked to
  /opt/cpython/3.14t (``.ci/run`` does it), else ``python3.14t`` on PATH. Its session
  runs the suite with the GIL left as rswsgi leaves it (off), the warnings filter
  still ``error``.

Session ``sdist`` builds the sdist with ``maturin sdist``, checks what it holds
(LICENSE and everything the build needs; no bench results, no fuzz crate), installs it
the way pip installs an sdist (a build from source in isolation) and runs the suite
against it.
Session ``below-floor`` checks that pip refuses the CPython just below
``requires-python`` with its own "requires a different Python" message. Session
``summary`` prints one line per interpreter: its full version and the counts, or
that it was skipped because this machine does not have it.

A missing interpreter is skipped by name, never silently: nox prints "Session
tests-3.14 skipped: Python interpreter 3.14 not found", and ``summary`` lists it.

Why nox and not tox: each session is a short program (build a wheel for *this*
interpreter, copy the suite out of the tree, link ``cargo test`` against the same
libpython, parse pytest's JUnit XML for the summary, hand a session to a chroot). In
nox that is plain Python in one file; tox would need a plugin or shell scripts around
its ini/toml config for each of those steps.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")

SUPPORTED = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', PYPROJECT)
# Free-threaded builds in the matrix (tests/test_metadata.py checks this list against
# the README): the one that PyO3 and CPython support and that shared/ provides.
FREE_THREADED = ["3.14t"]
# Where .ci/run unpacks shared/pythons/ (the build's fixed prefix).
FREE_THREADED_PREFIX = {"3.14t": Path("/opt/cpython/3.14t")}
# From Debian sid, run in the chroot `.ci/sid up` makes where the host lacks them.
SID_PYTHONS = ["3.14", "3.15"]
SID = Path(os.environ.get("RSWSGI_SID", "/var/tmp/rswsgi-sid"))
FLOOR = re.search(r'requires-python = ">=(3\.\d+)"', PYPROJECT)
assert FLOOR and SUPPORTED and SUPPORTED[0] == FLOOR.group(1), "classifiers vs requires-python"
BELOW_FLOOR = f"3.{int(FLOOR.group(1).split('.')[1]) - 1}"

# What the suite needs from the checkout, copied next to it outside the tree:
# pyproject.toml carries pytest's configuration (testpaths, filterwarnings=error).
SUITE = ("tests", "examples", "bench/data", ".ci", ".github", "README.md", "pyproject.toml")
SUITE += ("noxfile.py",)  # tests/test_metadata.py reads its interpreter lists
SUITE += ("docs", "bench/README.md", "bench/HISTORY.md")  # tests/test_docs.py runs their code

# One target dir for every build of the run: only pyo3 and rswsgi itself are
# rebuilt per interpreter, the other crates are compiled once.
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))


# Skip (and name) a supported CPython this machine lacks, also where CI is set
# (nox's default there is to fail); `summary` still lists it as skipped.
nox.options.error_on_missing_interpreters = False

# Filled by the sessions, printed by `summary`: nox runs them in one process.
RESULTS: dict[str, str] = {}


def _pyenv_versions() -> Path | None:
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, check=False
        ).stdout.strip()
    versions = Path(root or "~/.pyenv").expanduser() / "versions"
    return versions if versions.is_dir() else None


def _find_interpreters() -> dict[str, str]:
    """``{"3.12": "/path/to/python3.12"}`` for each CPython the matrix may use.

    pyenv's builds come first, and their ``bin`` goes first on PATH for nox:
    pyenv's shims answer ``python3.12`` only for the versions ``pyenv global``
    selects, while the builds live in ``$(pyenv root)/versions/3.12.1/bin``.
    Otherwise ``python3.x`` on PATH, shims excluded.
    """
    found: dict[str, str] = {}
    versions = _pyenv_versions()
    for ft in FREE_THREADED:
        exe = FREE_THREADED_PREFIX[ft] / "bin" / f"python{ft}"
        if exe.exists() or (exe := Path(shutil.which(f"python{ft}") or "")).is_file():
            found[ft] = str(exe)
    for minor in [*SUPPORTED, BELOW_FLOOR]:
        pattern = re.compile(rf"{re.escape(minor)}\.\d+")  # 3.12.1, not 3.12.1t or 3.12-dev
        candidates = versions.glob(f"{minor}.*") if versions else ()
        builds = [p for p in candidates if pattern.fullmatch(p.name)]
        if builds:
            newest = max(builds, key=lambda p: tuple(int(n) for n in p.name.split(".")))
            found[minor] = str(newest / "bin" / f"python{minor}")
            continue
        path = os.pathsep.join(
            d for d in os.environ.get("PATH", "").split(os.pathsep) if "shims" not in Path(d).parts
        )
        exe = shutil.which(f"python{minor}", path=path)
        if exe:
            found[minor] = exe
    bins = [str(Path(exe).parent) for exe in found.values()]
    os.environ["PATH"] = os.pathsep.join([*bins, os.environ.get("PATH", "")])
    return found


FOUND = _find_interpreters()

# 3.14/3.15 that this host lacks but the sid chroot has: their sessions run there.
IN_SID = [v for v in SID_PYTHONS if v not in FOUND and (SID / f"usr/bin/python{v}").exists()]
ON_HOST = [v for v in [*SUPPORTED, *FREE_THREADED] if v not in IN_SID]

nox.options.sessions = [
    "tests",
    *(f"tests-{v}" for v in IN_SID),
    "sdist",
    "below-floor",
    "summary",
]


def _python(session: nox.Session) -> str:
    return str(Path(session.bin) / "python")


def _version(session: nox.Session) -> str:
    out = session.run(
        "python", "-c", "import platform; print(platform.python_version())", silent=True
    )
    return str(out).strip()


def _copy_suite(dest: Path) -> Path:
    """The test suite and what it reads, copied to ``dest`` (outside the checkout)."""
    for rel in SUITE:
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def _pytest(session: nox.Session, suite: Path, installed_from: str) -> str:
    """Runs pytest in ``suite``; returns ``"N passed, M skipped or xfailed"``."""
    report = suite / "junit.xml"
    # In the copy, not the checkout: `import rswsgi` finds only the install.
    with session.chdir(suite):
        session.run(
            "python",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            env={"RSWSGI_TEST_INSTALLED": installed_from},
        )
    totals = ET.parse(report).getroot()
    suites = [totals] if totals.tag == "testsuite" else list(totals)
    count = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors")}
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    passed = count["tests"] - count["failures"] - count["errors"] - skipped
    return f"{passed} passed, {skipped} skipped or xfailed"


def _cargo_test(session: nox.Session) -> str:
    """``cargo test`` linked against this session's interpreter; returns its count."""
    shared, libdir = str(
        session.run(
            "python",
            "-c",
            "import sysconfig as s; print(s.get_config_var('Py_ENABLE_SHARED'),"
            " s.get_config_var('LIBDIR'))",
            silent=True,
        )
    ).split()
    if shared != "1" and not list(Path(libdir).glob("libpython3*.a")):
        # The test binary embeds the interpreter, so it links libpython; a build
        # with neither the shared nor the static library (shared/'s 3.14t) cannot.
        session.warn("cargo test: SKIPPED (this CPython has no libpython to link)")
        return "cargo test SKIPPED (no libpython in this build)"
    out = session.run(
        "cargo",
        "test",
        external=True,
        silent=True,
        env={
            "PYO3_PYTHON": _python(session),
            "CARGO_TARGET_DIR": TARGET_DIR,
            # The test binary embeds this interpreter: find its libpython.
            "LD_LIBRARY_PATH": os.pathsep.join(
                p for p in (libdir, os.environ.get("LD_LIBRARY_PATH", "")) if p
            ),
        },
    )
    passed = sum(int(n) for n in re.findall(r"test result: ok\. (\d+) passed", str(out)))
    return f"{passed} Rust tests passed"


@nox.session(python=ON_HOST)
def tests(session: nox.Session) -> None:
    """A release wheel for this CPython, installed outside the tree; pytest and cargo test."""
    RESULTS[session.python] = "FAILED"  # until the last step says otherwise
    version = _version(session)
    session.install("maturin>=1.9.4,<2")
    with tempfile.TemporaryDirectory(prefix="rswsgi-wheel-") as tmp:
        wheels = Path(tmp) / "wheels"
        session.run(
            "maturin",
            "build",
            "--release",
            "--interpreter",
            _python(session),
            "--out",
            str(wheels),
            env={"CARGO_TARGET_DIR": TARGET_DIR},
        )
        (wheel,) = wheels.glob("*.whl")
        session.log(f"wheel: {wheel.name} ({wheel.stat().st_size:,} bytes)")
        session.install(f"{wheel}[test]")
        if session.python in FREE_THREADED:
            # As a user starts it: no PYTHON_GIL. rswsgi must leave the GIL off.
            gil = session.run(
                "python", "-c", "import rswsgi, sys; print(sys._is_gil_enabled())", silent=True
            )
            if str(gil).strip() != "False":
                session.error(f"import rswsgi turned the GIL on: {gil}")
            version += " free-threaded, GIL off"
        py = _pytest(session, _copy_suite(Path(tmp) / "suite"), "wheel")
    rust = _cargo_test(session)
    RESULTS[session.python] = f"CPython {version}: {py} (wheel); {rust}"
    session.log(RESULTS[session.python])
    # Run inside the sid chroot for the host's nox (below): hand the line back.
    if out := os.environ.get("RSWSGI_NOX_RESULTS"):
        Path(out).write_text(json.dumps(RESULTS), encoding="utf-8")


def _in_sid(minor: str) -> None:
    """Session ``tests-3.x`` for a CPython that only the sid chroot has."""

    @nox.session(name=f"tests-{minor}", python=False)
    def run(session: nox.Session) -> None:
        RESULTS[minor] = "FAILED"
        out = ROOT / "target" / "sid" / f"results-{minor}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        session.log(f"CPython {minor} from Debian sid: running this session in {SID}")
        session.run("bash", str(ROOT / ".ci" / "sid"), "up", external=True)
        session.run(
            "bash",
            str(ROOT / ".ci" / "sid"),
            "run",
            "nox",
            "-s",
            f"tests-{minor}",
            external=True,
            env={"RSWSGI_SID": str(SID), "RSWSGI_NOX_RESULTS": str(out)},
        )
        RESULTS[minor] = json.loads(out.read_text(encoding="utf-8"))[minor] + " [sid chroot]"

    run.__doc__ = f"CPython {minor} from Debian sid, in the chroot .ci/sid makes: as tests."


for _minor in IN_SID:
    _in_sid(_minor)


@nox.session
def sdist(session: nox.Session) -> None:
    """The sdist: its contents checked, installed from source outside the tree, pytest."""
    RESULTS["sdist"] = "FAILED"
    session.install("maturin>=1.9.4,<2")
    with tempfile.TemporaryDirectory(prefix="rswsgi-sdist-") as tmp:
        out = Path(tmp) / "dist"
        session.run("maturin", "sdist", "--out", str(out))
        (archive,) = out.glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        needed = {"LICENSE", "README.md", "pyproject.toml", "Cargo.toml", "Cargo.lock"}
        needed |= {"build.rs", "src/lib.rs", "python/rswsgi/__init__.py"}
        needed |= {"python/rswsgi/_rswsgi.pyi", "python/rswsgi/py.typed"}
        missing = sorted(needed - names)
        unwanted = sorted(
            n for n in names if n.startswith(("bench/", "fuzz/", ".")) or n.endswith(".png")
        )
        if missing or unwanted:
            session.error(f"sdist: missing {missing}, unwanted {unwanted}")
        session.log(f"sdist: {archive.name} ({archive.stat().st_size:,} bytes, {len(names)} files)")
        # pip builds the sdist in isolation, as it would from PyPI.
        session.install(f"{archive}[test]", env={"CARGO_TARGET_DIR": TARGET_DIR})
        py = _pytest(session, _copy_suite(Path(tmp) / "suite"), "sdist")
    RESULTS["sdist"] = f"sdist on CPython {_version(session)}: {py}"
    session.log(RESULTS["sdist"])


@nox.session(name="below-floor", python=BELOW_FLOOR)
def below_floor(session: nox.Session) -> None:
    """pip refuses the CPython below requires-python (3.10: end of life, October 2026)."""
    RESULTS["below-floor"] = "FAILED"
    out = str(
        session.run(
            "python", "-m", "pip", "install", "--no-deps", str(ROOT), success_codes=[1], silent=True
        )
    )
    if "requires a different Python" not in out:
        session.error(f"pip did not refuse CPython {BELOW_FLOOR} with its own message:\n{out}")
    line = next(ln for ln in out.splitlines() if "requires a different Python" in ln)
    RESULTS["below-floor"] = f"CPython {_version(session)} refused by pip: {line.strip()}"
    session.log(RESULTS["below-floor"])


@nox.session(python=False)
def summary(session: nox.Session) -> None:
    """One line per supported CPython, and what happened to the sdist and the floor."""
    session.log(f"matrix on {platform.system()} {platform.machine()}:")
    rows = [(minor, f"CPython {minor}") for minor in [*SUPPORTED, *FREE_THREADED]]
    rows += [("sdist", "sdist"), ("below-floor", f"CPython {BELOW_FLOOR} (below the floor)")]
    for key, name in rows:
        result = RESULTS.get(key)
        if result is None:
            known = [*SUPPORTED, *FREE_THREADED]
            found = key in ("sdist", *IN_SID) or FOUND.get(key if key in known else BELOW_FLOOR)
            where = " (.ci/sid up makes it)" if key in SID_PYTHONS else ""
            result = f"{name}: not run" if found else f"{name}: SKIPPED (not found{where})"
        elif result == "FAILED":
            result = f"{name}: FAILED"
        session.log(f"  {result}")
    if "FAILED" in RESULTS.values():
        session.error("a matrix session failed (see above)")
