"""The edit–save–look loop under five dev servers: how long from saving a file to
the new answer, and, with live reload, to the browser showing it.

    python bench/bench_reload.py          # 3 rounds × 4 edits (~10 min); writes results/reload.*
    python bench/bench_reload.py --quick  # smoke run (~2 min), prints only
    python bench/bench_reload.py --servers rswsgi,granian --apps flask
    python bench/bench_reload.py --scenarios breakdown,browser --stem reload-rswsgi

Scenarios:

- ``new-answer``: save-to-new-answer latency. Two apps, made by the bench in a temporary
  directory: a Flask app (``app.py``, one view) and a default Django project
  (``django-admin startproject mysite``, plus ``mysite/views.py`` with one view routed at ``/``).
  Each server serves the app with its own reloader on 127.0.0.1 on a free port:

  - rswsgi: ``python -m rswsgi.dev MODULE:app --reload``
  - flask: ``flask --app app run --debug`` (werkzeug's reloader); Django: ``manage.py
    runserver`` (its autoreloader); these two serve their own framework only
  - granian: ``granian --interface wsgi --reload``; gunicorn: ``gunicorn --reload -w 1``

  An edit rewrites the view's module in place (one ``write``) with a new unique string, the
  file a little longer each time (so a stale ``.pyc``, which holds the source's mtime in whole
  seconds and its size, can never be taken for the new source); then ``GET /`` is sent every
  ``POLL_S`` = 5 ms (each on a new connection; a refused connection is retried, a request
  waits as long as the edit's cap allows) until an answer carries the new string. Latency =
  from just before the write to the arrival of that answer. Between edits, a pause drawn
  from 1.1–1.6 s (seeded), so that reloaders that poll on a timer (Django's StatReloader,
  gunicorn's without inotify: 1 s) are met at every phase of their tick, and longer than
  that tick: both take the mtime of a module they see for the first time as its baseline,
  so an edit made less than a tick after a lazily imported module's first import (Django's
  views, imported by the first request under gunicorn) is never seen.
- ``breakdown``: where rswsgi's time goes. The same Flask and Django edits under
  ``bench/reload_probe.py``, which runs ``rswsgi.dev --reload`` with timestamps around the
  parent's handling of its children (the children are unchanged), while the app's modules
  stamp their own first and last line. Stages: change seen (write → the parent tells the
  old child to stop: notification plus ``DEBOUNCE_SECS``), the standby told to go, go → the
  app's first line (the standby runs ``rswsgi.dev.main``), or a child started cold when no
  standby waited (Python + ``import rswsgi.dev`` + libraries, up to the app's first line),
  the user's code imported (the app module's first line to its last), and first answer (the
  app imported → the first answer with the new text: ``make_server``, reporting the files,
  and the 5 ms polling); beside them, the old child's exit, which runs alongside. Plus fresh
  processes timing ``python -c pass``, ``import rswsgi.dev`` and the app's import alone.
- ``browser``: save-to-browser-reload latency with live reload. A Flask app whose ``/``
  renders ``templates/index.html`` is served by ``python -m rswsgi.dev app:app --reload``
  and opened in headless Chromium (tests/cdp.py); the template is rewritten with a new
  string, and the page is polled (``Runtime.evaluate`` every 10 ms) until its text holds it,
  with no navigation by the bench. Latency = from the write to the first poll that sees it.
  When the served HTML has no ``/__rswsgi__/live-reload.js`` (the server does not inject
  live reload), the scenario reports "not available" and moves on.

Method, as the other benches: a fresh server process for every (round, app, server), a
readiness check (``/`` answers 200 with the first string) and one unmeasured warm-up edit,
then ``--edits`` measured edits. Each round runs every app and, within it, every server in
an order rotated by one each round (A B C D E, B C D E A, ...). Tables give medians,
min – max and ratios against rswsgi; the 1-minute load average is sampled before every
measurement (the machine is shared). Every wait is bounded (an edit not served within
``--cap`` seconds counts as timed out and ends that server's measurement); servers run in
their own process group and are killed (SIGTERM, then SIGKILL) after each measurement and
on exit, Ctrl-C or an exception. Exit status 1 when rswsgi fails to start.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import _common as common
from _common import BenchError, table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
START_CAP_S = 30.0
POLL_S = 0.005  # between two GET / while waiting for the new text
PAUSE_S = (1.1, 1.6)  # between two edits: past the 1 s tick of the polling reloaders
BROWSER_POLL_S = 0.01
LIVE_RELOAD_JS = b"/__rswsgi__/live-reload.js"
STAMPS_ENV = "RELOAD_BENCH_STAMPS"
#: Measured before the dev-loop work (median s): rswsgi, granian, flask run/runserver
BEFORE = {"flask": (0.66, 0.28, 1.21), "django": (1.14, 0.68, 1.52)}


# --- the apps ------------------------------------------------------------------------------

# Each module stamps its first and last line when STAMPS_ENV is set (the breakdown); the
# cost otherwise is one dictionary lookup, the same under every server.
STAMP = textwrap.dedent(
    """\
    import os as _os, time as _time
    def _stamp(what, _f=_os.environ.get("{env}")):
        if _f:
            with open(_f, "a") as f:
                f.write(f"{{_time.time():.6f}} {{_os.getpid()}} {{what}}\\n")
    """
).format(env=STAMPS_ENV)

FLASK_APP = STAMP + textwrap.dedent(
    """\
        _stamp("app-top")
        from flask import Flask

        app = Flask(__name__)


        @app.route("/")
        def index():
            return "{token}"
        {pad}
        _stamp("app-end")
        """
)

DJANGO_VIEWS = textwrap.dedent(
    """\
    from django.http import HttpResponse


    def index(request):
        return HttpResponse("{token}")
    {pad}
    """
)

DJANGO_URLS = textwrap.dedent(
    """\
    from django.contrib import admin
    from django.urls import path

    from . import views

    urlpatterns = [path("", views.index), path("admin/", admin.site.urls)]
    """
)

BROWSER_APP = textwrap.dedent(
    """\
    from flask import Flask, render_template

    app = Flask(__name__)


    @app.route("/")
    def index():
        return render_template("index.html")
    """
)

TEMPLATE = textwrap.dedent(
    """\
    <!doctype html>
    <html><head><title>reload bench</title></head>
    <body><p id="mark">{token}</p>
    {pad}</body></html>
    """
)


@dataclass(frozen=True)
class App:
    name: str
    root: Path  # the server's working directory
    edited: Path  # the file each edit rewrites
    text: str  # its text, with {token} and {pad}
    target: str  # MODULE:app for rswsgi, granian, gunicorn


def pad(n: int) -> str:
    return "# " + "." * n


def make_flask(base: Path) -> App:
    root = base / "flaskapp"
    root.mkdir()
    app = App("flask", root, root / "app.py", FLASK_APP, "app:app")
    write(app, "start-0", 0)
    return app


def make_django(base: Path) -> App:
    root = base / "djangoapp"
    root.mkdir()
    try:
        subprocess.run(
            [PY, "-m", "django", "startproject", "mysite", str(root)],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise BenchError(f"django-admin startproject failed: {e}") from None
    (root / "mysite" / "urls.py").write_text(DJANGO_URLS)
    wsgi = root / "mysite" / "wsgi.py"
    body = wsgi.read_text()
    # The module stamps its first line, and its last once Django is set up.
    wsgi.write_text(STAMP + '_stamp("app-top")\n' + body + '\n_stamp("app-end")\n')
    app = App("django", root, root / "mysite" / "views.py", DJANGO_VIEWS, "mysite.wsgi:application")
    write(app, "start-0", 0)
    return app


def write(app: App, token: str, n: int) -> None:
    """Rewrites the edited file in place with one write (as most editors save)."""
    with open(app.edited, "w") as f:
        f.write(app.text.replace("{token}", token).replace("{pad}", pad(n)))


# --- servers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    name: str
    apps: tuple[str, ...]  # the apps it can serve
    needs: str  # an importable module; skipped when missing
    argv: Callable[[App, int], list[str]]
    config: str


def _rswsgi(app: App, port: int) -> list[str]:
    return [PY, "-m", "rswsgi.dev", app.target, "--reload", "--host", "127.0.0.1"] + [
        "--port",
        str(port),
        "--quiet",
    ]


def _flask(app: App, port: int) -> list[str]:
    return [PY, "-m", "flask", "--app", "app", "run", "--debug", "--host", "127.0.0.1"] + [
        "--port",
        str(port),
    ]


def _runserver(app: App, port: int) -> list[str]:
    return [PY, "manage.py", "runserver", f"127.0.0.1:{port}"]


def _granian(app: App, port: int) -> list[str]:
    return [PY, "-m", "granian", "--interface", "wsgi", "--reload", "--host", "127.0.0.1"] + [
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        app.target,
    ]


def _gunicorn(app: App, port: int) -> list[str]:
    return [PY, "-m", "gunicorn", "--reload", "-w", "1", "-b", f"127.0.0.1:{port}"] + [
        "--log-level",
        "warning",
        app.target,
    ]


SERVERS = [
    Server(
        "rswsgi",
        ("flask", "django"),
        "rswsgi",
        _rswsgi,
        "`python -m rswsgi.dev MODULE:app --reload --quiet`",
    ),
    Server("flask run", ("flask",), "flask", _flask, "`flask --app app run --debug`"),
    Server("runserver", ("django",), "django", _runserver, "`python manage.py runserver`"),
    Server(
        "granian",
        ("flask", "django"),
        "granian",
        _granian,
        "`granian --interface wsgi --reload --workers 1`",
    ),
    Server("gunicorn", ("flask", "django"), "gunicorn", _gunicorn, "`gunicorn --reload -w 1`"),
]

SCENARIOS = {
    "new-answer": "save-to-new-answer latency, every server",
    "breakdown": "where rswsgi's time goes (instrumented run, and fresh-process imports)",
    "browser": "save-to-browser-reload latency with live reload (rswsgi, headless Chromium)",
}


@contextmanager
def running(
    argv: Callable[[int], list[str]],
    app: App,
    token: str,
    log: Path,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[int, str]]:
    """Starts ``argv(port)`` on a free port in the app's folder; yields ``(port, '')`` once
    ``/`` answers with ``token``, or ``(0, reason)``. Always stopped."""
    port = common.free_port()

    def ready() -> bool:
        status, body = get(port, 2.0)
        return status == 200 and token.encode() in body

    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    with common.serving(
        argv(port), log, ready, START_CAP_S, app.root, full_env, append=True
    ) as failed:
        yield (0, failed) if failed else (port, "")


# --- client side ---------------------------------------------------------------------------


def get(port: int, timeout: float) -> tuple[int, bytes]:
    """One ``GET /`` with ``Connection: close``; status and everything after the head (the
    bench only looks for a string in it). Raises OSError, on a timeout too."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("response not finished in time")
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status, _, body = common.split_response(data)
    return status, body


def wait_for(port: int, token: str, deadline: float) -> float | None:
    """Polls ``/`` every ``POLL_S`` until an answer holds ``token``; the ``perf_counter``
    time that answer arrived, or None at ``deadline`` (a ``monotonic`` time)."""
    want = token.encode()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            _, body = get(port, left)
        except OSError:
            body = b""
        if want in body:
            return time.perf_counter()
        time.sleep(POLL_S)


# --- scenarios -----------------------------------------------------------------------------


@dataclass
class Sample:
    scenario: str
    app: str
    server: str
    round: int
    load1: float
    status: str = "ok"  # ok | failed to start | timed out | not available
    latency_s: list[float] = field(default_factory=list)
    stages: list[dict[str, float]] = field(default_factory=list)  # breakdown: s per stage
    mode: list[str] = field(default_factory=list)  # browser: "reloaded" | "in place"
    note: str = ""


class Edits:
    """Unique strings and growing paddings for one app's successive edits."""

    def __init__(self, app: App, rng: random.Random) -> None:
        self.app = app
        self.rng = rng
        self.n = 0

    def next(self, who: str) -> str:
        self.n += 1
        token = f"{self.app.name}-{who}-{self.n}-{self.rng.getrandbits(40):010x}"
        return token.replace(" ", "_")

    def write(self, token: str) -> None:
        write(self.app, token, self.n)

    def pause(self) -> None:
        time.sleep(self.rng.uniform(*PAUSE_S))


def edit_loop(
    port: int, edits: Edits, who: str, count: int, cap: float, sample: Sample
) -> list[tuple[float, float]]:
    """One warm-up edit, then ``count`` measured ones; each measured edit's (write, seen)
    ``time.time()`` pair. Stops at the first edit not served within ``cap``."""
    times = []
    for i in range(count + 1):
        edits.pause()
        token = edits.next(who)
        wall = time.time()
        t0 = time.perf_counter()
        edits.write(token)
        seen = wait_for(port, token, time.monotonic() + cap)
        if seen is None:
            sample.status = "timed out"
            sample.note = f"edit {i} not served within {cap:g} s"
            break
        if i:
            sample.latency_s.append(seen - t0)
            times.append((wall, wall + seen - t0))
    return times


def measure_new_answer(
    server: Server, app: App, edits: Edits, rnd: int, args: argparse.Namespace, logdir: Path
) -> Sample:
    sample = Sample("new-answer", app.name, server.name, rnd, common.load1())
    token = edits.next(server.name)
    edits.write(token)
    log = logdir / f"{app.name}-{server.name}-{rnd}.log".replace(" ", "_")
    with running(lambda port: server.argv(app, port), app, token, log) as (port, failed):
        if not port:
            sample.status, sample.note = "failed to start", failed
            return sample
        edit_loop(port, edits, server.name, args.edits, args.cap, sample)
    if sample.status != "ok":
        tail = log.read_text(errors="replace").strip().splitlines()[-2:]
        sample.note += f"; its log ends: {' / '.join(tail)}"
    return sample


STAGES = {
    "change seen": ("write", "stop"),
    "standby told to go": ("stop", "go-sent"),
    "go → the app's first line": ("go-sent", "app-top"),
    "child started cold": ("spawn", "app-top"),
    "user's code imported": ("app-top", "app-end"),
    "first answer": ("app-end", "seen"),
    "old child exit (alongside)": ("stop", "stopped"),
}


def stages(stamps: list[tuple[float, int, str]], write_t: float, seen_t: float) -> dict[str, float]:
    """One edit's stages from the stamps between its write and its new answer: the first
    ``stop`` after the write, the last handover or child start before the answer. A
    standby (``go``) imports only the app's own modules; a child started cold (no
    standby waiting) has a ``spawn`` in the window, and its start is Python, rswsgi
    and the libraries."""
    window = [(t, what) for t, _, what in stamps if write_t <= t]
    at: dict[str, float] = {"write": write_t, "seen": seen_t}
    for t, what in window:
        if what in ("stop", "stopped") and what not in at:
            at[what] = t  # the old child's exit may come after the answer
        elif t <= seen_t and what in ("go-sent", "app-top", "app-end"):
            at[what] = t  # the last one wins: the child that answered
        elif t <= seen_t and what == "spawn" and "go-sent" not in at:
            at[what] = t  # a cold start (a standby's spawn comes after its go)
    out = {name: at[b] - at[a] for name, (a, b) in STAGES.items() if a in at and b in at}
    out["restarts"] = sum(what == "spawn" and t <= seen_t for t, what in window)
    return out


def measure_breakdown(
    app: App, edits: Edits, rnd: int, args: argparse.Namespace, logdir: Path
) -> Sample:
    sample = Sample("breakdown", app.name, "rswsgi", rnd, common.load1())
    token = edits.next("probe")
    edits.write(token)
    stamps = logdir / f"stamps-{app.name}-{rnd}.txt"
    log = logdir / f"{app.name}-probe-{rnd}.log"

    def argv(port: int) -> list[str]:
        return [PY, str(HERE / "reload_probe.py"), *_rswsgi(app, port)[3:]]

    with running(argv, app, token, log, {STAMPS_ENV: str(stamps)}) as (port, failed):
        if not port:
            sample.status, sample.note = "failed to start", failed
            return sample
        times = edit_loop(port, edits, "probe", args.edits, args.cap, sample)
    parsed = []
    for line in stamps.read_text().splitlines():
        t, pid, what = line.split(" ", 2)
        parsed.append((float(t), int(pid), what))
    sample.stages = [stages(parsed, w, s) for w, s in times]
    if not {"stop", "go-sent"} <= {what for _, _, what in parsed}:
        sample.note = "no stamps from the parent: reload_probe.py no longer fits _reload.py"
    return sample


#: The framework alone, without the app (what a process started ahead of a change could
#: have imported already: it is in site-packages and does not change).
FRAMEWORK = {"flask": "flask", "django": "django.core.wsgi"}


def fresh_imports(app: App, reps: int) -> dict[str, dict[str, list[float]]]:
    """Fresh processes, interleaved: interpreter start alone, plus ``import rswsgi.dev``,
    plus the app's import (with its framework); wall and CPU (user + system) seconds."""
    module = app.target.split(":")[0]
    framework = FRAMEWORK[app.name]
    cmds = {
        "python -c pass": [PY, "-c", "pass"],
        "python -c 'import rswsgi.dev'": [PY, "-c", "import rswsgi.dev"],
        f"python -c 'import {framework}'": [PY, "-c", f"import {framework}"],
        f"python -c 'import {module}'": [PY, "-c", f"import {module}"],
    }
    if app.name == "django":  # the app import includes django.setup(); the view comes later
        cmds[f"python -c 'import {module}, mysite.urls'"] = [
            PY,
            "-c",
            f"import {module}, mysite.urls",
        ]
    out: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in cmds}
    names = list(cmds)
    for r in range(reps):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmds[name], cwd=app.root, check=True, timeout=60, capture_output=True)
            out[name]["wall"].append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            out[name]["cpu"].append(cpu)
    return out


# --- the browser ---------------------------------------------------------------------------


def make_browser_app(base: Path) -> App:
    root = base / "browserapp"
    (root / "templates").mkdir(parents=True)
    (root / "app.py").write_text(BROWSER_APP)
    app = App("browser", root, root / "templates" / "index.html", TEMPLATE, "app:app")
    write(app, "start-0", 0)
    return app


MARK_JS = (
    "(() => { const m = document.getElementById('mark'); return m ? m.textContent : null; })()"
)


def measure_browser(
    app: App, edits: Edits, rnd: int, args: argparse.Namespace, logdir: Path
) -> Sample:
    sample = Sample("browser", app.name, "rswsgi", rnd, common.load1())
    chromium = shutil.which("chromium")
    if chromium is None:
        sample.status, sample.note = "not available", "no `chromium` binary"
        return sample
    sys.path.insert(0, str(ROOT / "tests"))
    from cdp import CdpError, CdpTimeout, Chromium  # type: ignore[import-not-found]

    token = edits.next("browser")
    edits.write(token)
    log = logdir / f"browser-{rnd}.log"
    with running(lambda port: _rswsgi(app, port), app, token, log) as (port, failed):
        if not port:
            sample.status, sample.note = "failed to start", failed
            return sample
        _, html = get(port, 5.0)
        if LIVE_RELOAD_JS not in html:
            sample.status = "not available"
            sample.note = f"the page has no {LIVE_RELOAD_JS.decode()} (no live reload injected)"
            return sample
        with (
            tempfile.TemporaryDirectory(prefix="bench_reload_chromium_") as profile,
            Chromium(chromium, Path(profile)) as browser,
        ):
            tab = browser.new_tab()
            browser.send("Page.navigate", {"url": f"http://127.0.0.1:{port}/"}, tab, 10)
            browser.wait_event("Page.loadEventFired", tab, 10)
            for i in range(args.edits + 1):
                edits.pause()
                browser.evaluate(tab, "window.__benchOld = true", 5)
                token = edits.next("browser")
                t0 = time.perf_counter()
                edits.write(token)
                deadline = time.monotonic() + args.cap
                seen = None
                while time.monotonic() < deadline:
                    try:
                        if browser.evaluate(tab, MARK_JS, 2) == token:
                            seen = time.perf_counter()
                            break
                    except (CdpError, CdpTimeout):
                        pass  # the page is being replaced
                    time.sleep(BROWSER_POLL_S)
                if seen is None:
                    sample.status = "timed out"
                    sample.note = f"edit {i}: the page did not show it within {args.cap:g} s"
                    break
                if i:
                    sample.latency_s.append(seen - t0)
                    old = browser.evaluate(tab, "window.__benchOld === true", 5)
                    sample.mode.append("in place" if old else "reloaded")
    return sample


# --- the run -------------------------------------------------------------------------------


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(
    servers: list[Server],
    apps: list[App],
    scenarios: list[str],
    args: argparse.Namespace,
    logdir: Path,
) -> tuple[list[Sample], dict[str, dict[str, dict[str, list[float]]]]]:
    rng = random.Random(18)
    edits = {app.name: Edits(app, rng) for app in apps}
    samples: list[Sample] = []
    imports: dict[str, dict[str, dict[str, list[float]]]] = {}
    browser_app = make_browser_app(logdir.parent) if "browser" in scenarios else None
    for rnd in range(args.rounds):
        order = common.rotated(servers, rnd)
        for app in apps:
            todo: list[Server | None] = []  # None: the instrumented rswsgi
            if "new-answer" in scenarios:
                todo += [s for s in order if app.name in s.apps]
            if "breakdown" in scenarios:
                todo.append(None)
            for server in todo:
                if server is None:
                    name, s = "probe", measure_breakdown(app, edits[app.name], rnd, args, logdir)
                else:
                    name = server.name
                    s = measure_new_answer(server, app, edits[app.name], rnd, args, logdir)
                samples.append(s)
                line = f"{s.scenario:<10} {app.name:<6} {name:<9} {s.status:<9} " + ", ".join(
                    f"{x:.3f}" for x in s.latency_s
                )
                common.say_round(rnd, args.rounds, line, s.server, s.status, s.note)
        if browser_app is not None:
            b = Edits(browser_app, rng)
            s = measure_browser(browser_app, b, rnd, args, logdir)
            samples.append(s)
            line = f"browser    {s.status:<9} " + ", ".join(f"{x:.3f}" for x in s.latency_s)
            common.say_round(rnd, args.rounds, line, "", s.status, s.note)
            if s.status == "not available":
                browser_app = None  # the same server every round: no need to ask again
    if "breakdown" in scenarios:
        for app in apps:
            imports[app.name] = fresh_imports(app, args.import_reps)
    return samples, imports


# --- reporting -----------------------------------------------------------------------------


def med(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None


def fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def spread(xs: Sequence[float]) -> str:
    return f"{fmt_s(min(xs))} – {fmt_s(max(xs))}" if xs else "—"


def fmt_x(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def loads_line(samples: Sequence[Sample]) -> str:
    loads = common.load_summary([s.load1 for s in samples])
    return f"1-min load average before each measurement: {loads}."


def new_answer_report(samples: list[Sample], app: str) -> tuple[str, str]:
    mine = [s for s in samples if s.scenario == "new-answer" and s.app == app]
    names = list(dict.fromkeys(s.server for s in mine))
    pooled = {n: [x for s in mine if s.server == n for x in s.latency_s] for n in names}
    ref = med(pooled.get("rswsgi", []))
    rows = []
    for n in sorted(names, key=lambda n: (med(pooled[n]) is None, med(pooled[n]) or 0)):
        m = med(pooled[n])
        bad = [s for s in mine if s.server == n and s.status != "ok"]
        rows.append(
            [
                f"**{n}**" if n == "rswsgi" else n,
                f"**{fmt_s(m)}**",
                spread(pooled[n]),
                "(reference)" if n == "rswsgi" else fmt_x(m / ref if m and ref else None),
                f"{len(pooled[n])}"
                + (f"; {len(bad)} {bad[0].status}: {bad[0].note}" if bad else ""),
            ]
        )
    head = ["server", "save → new answer (median)", "min – max", "this ÷ rswsgi", "edits"]
    meds = {n: m for n in names if (m := med(pooled[n])) is not None}
    goal = ""
    if ref is not None and meds:
        best = min(meds, key=lambda n: meds[n])
        goal = (
            f"- {app}: rswsgi the fastest of the {len(names)}: "
            f"**{'met' if best == 'rswsgi' else 'NOT met'}** (rswsgi {fmt_s(ref)}"
            + ("" if best == "rswsgi" else f", {best} {fmt_s(meds[best])}")
            + f"; before the dev-loop work: rswsgi {BEFORE[app][0]:.2f} s, "
            + f"granian {BEFORE[app][1]:.2f} s)"
        )
    return f"{loads_line(mine)}\n\n" + table(head, rows), goal


def breakdown_report(
    samples: list[Sample], app: str, imports: dict[str, dict[str, list[float]]]
) -> str:
    mine = [s for s in samples if s.scenario == "breakdown" and s.app == app]
    edits = [st for s in mine for st in s.stages]
    if not edits:
        return "No breakdown (" + "; ".join(s.note or s.status for s in mine) + ")."
    total = [s for x in mine for s in x.latency_s]
    tm = med(total) or 0.0
    rows = []
    for name in STAGES:
        xs = [e[name] for e in edits if name in e]
        m = med(xs)
        rows.append(
            [
                name,
                f"**{fmt_ms(m)}**",
                f"{fmt_ms(min(xs))} – {fmt_ms(max(xs))}" if xs else "—",
                f"{m / tm:.0%}" if m is not None and tm else "—",
                f"{len(xs)}",
            ]
        )
    rows.append(
        [
            "**total** (write → new answer)",
            f"**{fmt_ms(tm)}**",
            f"{fmt_ms(min(total))} – {fmt_ms(max(total))}",
            "100%",
            f"{len(total)}",
        ]
    )
    restarts = sorted({int(e.get("restarts", 0)) for e in edits})
    out = [
        loads_line(mine),
        "",
        table(["stage", "median", "min – max", "share of the median total", "edits"], rows),
        "",
        f"Processes started per edit (a standby for the next edit, or a cold child): "
        f"{', '.join(map(str, restarts))}." + ("".join(f" {s.note}." for s in mine if s.note)),
    ]
    if imports:
        rows = [
            [
                cmd,
                f"**{fmt_ms(med(t['wall']))}**",
                f"{fmt_ms(min(t['wall']))} – {fmt_ms(max(t['wall']))}",
                f"**{fmt_ms(med(t['cpu']))}**",
            ]
            for cmd, t in imports.items()
        ]
        reps = len(next(iter(imports.values()))["wall"])
        out += [
            "",
            f"Fresh processes ({reps} each, interleaved), in the app's folder; each includes "
            "`python -c pass`, and the app's import includes its framework's. CPU is user + "
            "system time: on this shared machine the wall time is stretched by the other "
            "processes' load, the CPU time much less.",
            "",
            table(["command", "wall (median)", "wall min – max", "CPU (median)"], rows),
        ]
    return "\n".join(out)


def fmt_ms(x: float | None) -> str:
    return "—" if x is None else f"{x * 1e3:,.0f} ms"


def browser_report(samples: list[Sample]) -> str:
    mine = [s for s in samples if s.scenario == "browser"]
    if not mine:
        return ""
    if all(s.status == "not available" for s in mine):
        return f"**not available**: {mine[0].note}."
    xs = [x for s in mine for x in s.latency_s]
    modes = [m for s in mine for m in s.mode]
    bad = [s for s in mine if s.status != "ok"]
    row = [
        "rswsgi `--reload`, template edited",
        f"**{fmt_s(med(xs))}**",
        spread(xs),
        f"{len(xs)}" + (f"; {len(bad)} {bad[0].status}: {bad[0].note}" if bad else ""),
        ", ".join(f"{modes.count(m)} {m}" for m in dict.fromkeys(modes)) or "—",
    ]
    return f"{loads_line(mine)}\n\n" + table(
        ["page", "save → page shows it (median)", "min – max", "edits", "how"], [row]
    )


def versions() -> str:
    from bench_streaming import source_line

    chromium = common.tool_output(["chromium", "--version"], timeout=10)
    tool = [chromium.stdout.strip()] if chromium else []
    dists = ("rswsgi", "flask", "werkzeug", "django", "granian", "gunicorn")
    return common.versions(dists, *tool, source_line())


def report(
    samples: list[Sample],
    imports: dict[str, dict[str, dict[str, list[float]]]],
    apps: list[App],
    args: argparse.Namespace,
    skipped: str,
) -> str:
    out = common.header(
        versions(),
        f"{args.rounds} interleaved rounds × {args.edits} measured edits (after one warm-up edit) "
        f"per server and app, a fresh server process per round; polling every "
        f"{POLL_S * 1e3:g} ms; cap {args.cap:g} s per edit.",
        skipped,
    )
    goals = []
    for app in apps:
        if any(s.scenario == "new-answer" and s.app == app.name for s in samples):
            text, goal = new_answer_report(samples, app.name)
            out += [f"\n#### Save → new answer: {app.name}\n", text]
            goals.append(goal)
    for app in apps:
        if any(s.scenario == "breakdown" and s.app == app.name for s in samples):
            out += [
                f"\n#### Where rswsgi's time goes: {app.name}\n",
                breakdown_report(samples, app.name, imports.get(app.name, {})),
            ]
    if any(s.scenario == "browser" for s in samples):
        out += [
            "\n#### Save → browser shows it (live reload, headless Chromium)\n",
            browser_report(samples),
        ]
    if any(goals):
        out += ["\n#### Target (the fastest reloader on both apps)\n", *[g for g in goals if g]]
    return "\n".join(out) + "\n"


# --- main ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    p = common.arg_parser(__doc__, "smoke run: 1 round of 2 edits, prints only (flags given win)")
    p.add_argument("--rounds", type=int, help="default 3")
    p.add_argument("--edits", type=int, help="measured edits per server, app and round (default 4)")
    p.add_argument(
        "--cap", type=float, default=15.0, help="seconds an edit may take to be served (default 15)"
    )
    p.add_argument("--import-reps", type=int, help="fresh processes per import command (default 7)")
    p.add_argument(
        "--servers", help="comma-separated subset of: " + ",".join(s.name for s in SERVERS)
    )
    p.add_argument("--apps", help="comma-separated subset of: flask,django")
    p.add_argument("--scenarios", help="comma-separated subset of " + ",".join(SCENARIOS))
    common.add_out(p, "the .md/.json", "reload")
    args = p.parse_args(argv)
    common.interrupt_on_sigterm()
    for name, normal, quick in (("rounds", 3, 1), ("edits", 4, 2), ("import_reps", 7, 3)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else normal)
    if not 0 < args.cap <= 120:
        p.error("--cap must be in (0, 120] seconds")
    wanted = args.servers.split(",") if args.servers else [s.name for s in SERVERS]
    if unknown := set(wanted) - {s.name for s in SERVERS}:
        p.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    servers = [s for s in SERVERS if s.name in wanted and importlib.util.find_spec(s.needs)]
    skipped = ", ".join(
        s.name for s in SERVERS if s.name in wanted and not importlib.util.find_spec(s.needs)
    )
    if not importlib.util.find_spec("rswsgi"):
        say("bench_reload: rswsgi is not installed (maturin develop --release)")
        return 1
    app_names = args.apps.split(",") if args.apps else ["flask", "django"]
    if unknown := set(app_names) - {"flask", "django"}:
        p.error(f"unknown app(s): {', '.join(sorted(unknown))}")
    scenarios = args.scenarios.split(",") if args.scenarios else list(SCENARIOS)
    if unknown := set(scenarios) - set(SCENARIOS):
        p.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    out_dir = common.out_dir(args)

    t0 = time.monotonic()

    def work() -> tuple[list[App], list[Sample], dict[str, dict[str, dict[str, list[float]]]]]:
        with tempfile.TemporaryDirectory(prefix="bench_reload_") as tmp:
            base = Path(tmp) / "apps"
            base.mkdir()
            logdir = Path(tmp) / "logs"
            logdir.mkdir()
            makers = {"flask": make_flask, "django": make_django}
            apps = [makers[n](base) for n in app_names]
            return apps, *run(servers, apps, scenarios, args, logdir)

    done = common.run_servers("bench_reload", work)
    if isinstance(done, int):
        return done
    apps, samples, imports = done
    text = report(samples, imports, apps, args, skipped)
    print(text)
    say(f"bench_reload: {time.monotonic() - t0:.0f} s")
    if out_dir is not None:
        data = {
            "machine": common.machine(),
            "versions": versions(),
            "args": {k: v for k, v in vars(args).items() if k != "out"},
            "samples": [asdict(s) for s in samples],
            "imports": imports,
        }
        common.write_results(out_dir, args.stem, text, data)
        say(f"bench_reload: wrote {out_dir}/{args.stem}.md, .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
