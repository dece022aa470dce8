"""Static files: rswsgi's ``static_files`` next to granian's static mounts, whitenoise,
werkzeug's ``SharedDataMiddleware`` and nginx, with ``wrk``; and the middleware's own cost
per call next to whitenoise's and werkzeug's.

    python bench/bench_static.py            # full run (~15 min); writes bench/results/static.*
    python bench/bench_static.py --quick    # smoke run (~2 min), prints only
    python bench/bench_static.py --rounds 5 --duration 5 --servers rswsgi,nginx

Two files, each fetched over and over at ``/static/<name>``: ``site.css`` (10 KiB) and
``photo.jpg`` (1 MiB of incompressible bytes), from a folder made for the run.

Servers (one process, one worker each; all keep connections alive except gunicorn's sync
worker, which closes after each response):

- ``rswsgi``: ``python -m rswsgi.dev hello_app:app --static /static=DIR --quiet``
- ``rswsgi-gunicorn``: ``static_files`` under ``gunicorn -k sync -w 1``
- ``granian``: ``--interface wsgi --workers 1 --blocking-threads 1 --runtime-threads 1
  --static-path-mount DIR --static-path-route /static`` (the files never reach Python)
- ``whitenoise-rswsgi``, ``whitenoise-gunicorn``: ``WhiteNoise(app, root=DIR,
  prefix='static/')`` under ``rswsgi.dev`` and under ``gunicorn -k sync -w 1``
- ``werkzeug-rswsgi``: ``SharedDataMiddleware(app, {'/static': DIR})`` under ``rswsgi.dev``
- ``nginx``: Debian's ``nginx-light``, ``worker_processes 1``, ``sendfile on``,
  ``access_log off``, ``keepalive_requests`` unbounded, ``location /static/ { alias DIR/; }``

Scenarios (``wrk --latency -t1 -c16 -dD --timeout 2s``): ``c16`` (the OS places server and
wrk on the 2 CPUs) and ``pinned-c16`` (server and wrk both under ``taskset -c 0``: req/s
then measures the CPU cost per request of server + client), for each file.

Method (as ``bench_server.py``): a fresh server process for every measurement, a readiness
and correctness check (status 200, the file's exact bytes), 20 warm-up requests, then wrk.
Rounds are interleaved, every server in an order rotated by one each round; tables report
medians over rounds, the min–max spread and per-round ratios against rswsgi.

The middleware part calls each middleware in-process, ``app(environ, start_response)`` and
``close()`` on what it returns (the body is the server's job: a ``wsgi.file_wrapper`` is
offered, wsgiref's), for a 200 of ``site.css`` and for a 304 (``If-None-Match`` with the
middleware's own ETag): ns per call, interleaved rounds (``_common.run_rounds``).

Exit status 1 when rswsgi fails to start or any server answers the wrong bytes.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _common as common
from _common import BenchError, fmt_ns, iqr, median, run_rounds, table
from bench_server import PY, WRK_TIMEOUT_S, fmt_us, fmt_x, paired, parse_wrk, wrk_line

HERE = Path(__file__).resolve().parent
START_CAP_S = 20.0
FILES = {"site.css": 10 * 1024, "photo.jpg": 1024 * 1024}


@dataclass(frozen=True)
class Server:
    name: str
    argv: Callable[[int, Path], list[str]]
    needs: str  # an importable module or an executable on PATH
    config: str


def _dev(target: str, *extra: str) -> Callable[[int, Path], list[str]]:
    def argv(port: int, folder: Path) -> list[str]:
        cmd = [PY, "-m", "rswsgi.dev", target, "--host", "127.0.0.1", "--port", str(port)]
        return cmd + ["--quiet", *[e.replace("DIR", str(folder)) for e in extra]]

    return argv


def _gunicorn(target: str) -> Callable[[int, Path], list[str]]:
    def argv(port: int, folder: Path) -> list[str]:
        cmd = [PY, "-m", "gunicorn", "-k", "sync", "-w", "1", "-b", f"127.0.0.1:{port}"]
        return cmd + ["--chdir", str(HERE), "--log-level", "error", target]

    return argv


def _granian(port: int, folder: Path) -> list[str]:
    argv = [PY, "-m", "granian", "--interface", "wsgi", "--workers", "1"]
    argv += ["--blocking-threads", "1", "--runtime-threads", "1", "--no-ws"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--working-dir", str(HERE)]
    argv += ["--static-path-mount", str(folder), "--static-path-route", "/static"]
    return argv + ["--log-level", "error", "hello_app:app"]


NGINX_CONF = """worker_processes 1;
error_log stderr error;
pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 100000000;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /static/ {{ alias {folder}/; }}
    }}
}}
"""


def _nginx(port: int, folder: Path) -> list[str]:
    tmp = Path(tempfile.mkdtemp(prefix="bench_static_nginx_", dir=folder.parent))
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, folder=folder))
    return ["nginx", "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"]


SERVERS = [
    Server(
        "rswsgi",
        _dev("hello_app:app", "--static", "/static=DIR"),
        "rswsgi",
        "`python -m rswsgi.dev hello_app:app --static /static=DIR --quiet`",
    ),
    Server(
        "granian",
        _granian,
        "granian",
        "`--static-path-mount DIR --static-path-route /static`, 1 worker, 1 blocking thread",
    ),
    Server("nginx", _nginx, "nginx", "nginx-light, 1 worker, `sendfile on`, `alias DIR/`"),
    Server(
        "rswsgi-gunicorn",
        _gunicorn("static_apps:rswsgi_app"),
        "gunicorn",
        "`static_files` under `gunicorn -k sync -w 1` (no keep-alive)",
    ),
    Server(
        "whitenoise-rswsgi",
        _dev("static_apps:whitenoise_app"),
        "whitenoise",
        "`WhiteNoise(app, root=DIR, prefix='static/')` under `python -m rswsgi.dev`",
    ),
    Server(
        "whitenoise-gunicorn",
        _gunicorn("static_apps:whitenoise_app"),
        "whitenoise",
        "the same WhiteNoise app under `gunicorn -k sync -w 1` (no keep-alive)",
    ),
    Server(
        "werkzeug-rswsgi",
        _dev("static_apps:werkzeug_app"),
        "werkzeug",
        "`SharedDataMiddleware(app, {'/static': DIR})` under `python -m rswsgi.dev`",
    ),
]


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str
    pinned: bool


SCENARIOS = [
    Scenario(f"{f.split('.')[0]}-{mode}", f, mode == "pinned-c16")
    for f in FILES
    for mode in ("c16", "pinned-c16")
]


@dataclass
class Sample(common.Measurement):
    rps: float = 0.0
    p99_us: float | None = None
    errors: int = 0
    note: str = ""


def available(s: Server) -> bool:
    return shutil.which(s.needs) is not None or importlib.util.find_spec(s.needs) is not None


# --- one measurement -----------------------------------------------------------------------


def http_get(port: int, path: str, timeout: float) -> tuple[int, bytes]:
    """One ``GET path`` with ``Connection: close``; status and body. Raises OSError."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        deadline = time.monotonic() + timeout
        while chunk := s.recv(1 << 20):
            data += chunk
            if time.monotonic() > deadline:
                raise TimeoutError("response not finished in time")
    status, head, body = common.split_response(data)
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return status, body


def dechunk(data: bytes) -> bytes:
    """The payload of a chunked body (granian's static responses are chunked)."""
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]


@contextmanager
def running(server: Server, pinned: bool, folder: Path, logdir: Path) -> Iterator[tuple[int, str]]:
    """``(port, '')`` once ``server`` answers every file right; ``(0, why)`` if it never
    starts. Always stopped."""
    port = common.free_port()
    argv = (["taskset", "-c", "0"] if pinned else []) + server.argv(port, folder)

    def ready() -> bool:
        http_get(port, "/static/site.css", 2.0)
        return True

    with common.serving(argv, logdir / f"{server.name}.log", ready, START_CAP_S) as failed:
        if failed:
            yield 0, failed
            return
        for name in FILES:
            status, body = http_get(port, f"/static/{name}", 5.0)
            if status != 200 or body != (folder / name).read_bytes():
                raise BenchError(f"{server.name} answered {status}, {len(body)} B for {name}")
        for _ in range(20):
            http_get(port, "/static/site.css", 2.0)
        yield port, ""


def measure(
    server: Server, scen: Scenario, rnd: int, duration: int, folder: Path, logdir: Path
) -> Sample:
    sample = Sample(server.name, scen.name, rnd, common.load1())
    with running(server, scen.pinned, folder, logdir) as (port, failed):
        if not port:
            sample.status, sample.note = "failed to start", failed
            return sample
        argv = ["taskset", "-c", "0"] if scen.pinned else []
        argv += ["wrk", "--latency", "-t1", "-c16", f"-d{duration}s"]
        argv += ["--timeout", f"{WRK_TIMEOUT_S}s", f"http://127.0.0.1:{port}/static/{scen.file}"]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 10)
        except subprocess.TimeoutExpired:
            sample.status = "wrk killed"
            return sample
    res = parse_wrk(done.stdout)
    if "rps" not in res:
        sample.status, sample.note = "wrk failed", (done.stdout + done.stderr)[-200:]
        return sample
    sample.rps, sample.p99_us = res["rps"], res.get("p99_us")
    sample.errors = int(res.get("errors", 0) + res.get("timeouts", 0))
    return sample


def run(
    servers: list[Server], scenarios: list[Scenario], rounds: int, duration: int, folder: Path
) -> list[Sample]:
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="bench_static_logs_") as logs:
        for rnd, scen, server in common.schedule(rounds, scenarios, servers):
            s = measure(server, scen, rnd, duration, folder, Path(logs))
            samples.append(s)
            common.say_round(rnd, rounds, wrk_line(s, 16, 19, 6), server.name, s.status, s.note)
    return samples


# --- the middleware alone ------------------------------------------------------------------


def middleware_passes(folder: Path, calls: int) -> dict[str, dict[str, Any]]:
    """case -> implementation -> a pass of ``calls`` calls (``_common.run_rounds``)."""
    from wsgiref.util import FileWrapper

    os.environ["BENCH_STATIC_DIR"] = str(folder)
    import static_apps

    apps = {
        "rswsgi": static_apps.rswsgi_app,
        "whitenoise": static_apps.whitenoise_app,
        "werkzeug": static_apps.werkzeug_app,
    }
    apps = {k: v for k, v in apps.items() if v is not None}

    def environ(**extra: str) -> dict[str, Any]:
        base: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/static/site.css",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_ACCEPT_ENCODING": "gzip, deflate, br, zstd",
            "wsgi.url_scheme": "http",
            "wsgi.file_wrapper": FileWrapper,
        }
        base.update(extra)
        return base

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return None

    def etag_of(app: Any) -> str:
        seen: list[list[tuple[str, str]]] = []
        app(environ(), lambda s, h, e=None: seen.append(h)).close()
        return {k.lower(): v for k, v in seen[0]}["etag"]

    def timed(app: Any, env: dict[str, Any]) -> Callable[[], tuple[int, int]]:
        def one_pass() -> tuple[int, int]:
            t0 = time.perf_counter_ns()
            for _ in range(calls):
                result = app(dict(env), start_response)
                if hasattr(result, "close"):
                    result.close()
            return time.perf_counter_ns() - t0, calls

        return one_pass

    cases: dict[str, dict[str, Any]] = {"200 site.css": {}, "304 site.css": {}}
    for name, app in apps.items():
        cases["200 site.css"][name] = timed(app, environ())
        cases["304 site.css"][name] = timed(app, environ(HTTP_IF_NONE_MATCH=etag_of(app)))
    return cases


def middleware_report(results: dict[str, dict[str, list[float]]]) -> str:
    out = []
    for case, samples in results.items():
        ref = median(samples["rswsgi"])
        rows = []
        for name, xs in samples.items():
            lo, hi = iqr(xs)
            ratio = "(reference)" if name == "rswsgi" else fmt_x(median(xs) / ref)
            rows.append([name, f"**{fmt_ns(median(xs))}**", f"{fmt_ns(lo)} – {fmt_ns(hi)}", ratio])
        out += [
            f"\n#### Middleware alone, {case}\n",
            table(["middleware", "ns per call (median)", "IQR", "this ÷ rswsgi"], rows),
        ]
    return "\n".join(out)


# --- reporting -----------------------------------------------------------------------------


def summarize(samples: list[Sample], scen: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    ref = {s.round: s.rps for s in samples if s.scenario == scen and s.server == "rswsgi"}
    for name in dict.fromkeys(s.server for s in samples if s.scenario == scen):
        mine = [s for s in samples if s.scenario == scen and s.server == name]
        ok = [s.rps for s in mine if s.status == "ok"] or [0.0]
        ratios = [ref[s.round] / s.rps for s in mine if s.rps and ref.get(s.round)]
        p99 = [s.p99_us for s in mine if s.p99_us is not None]
        out[name] = {
            "rps": statistics.median(ok),
            "lo": min(ok),
            "hi": max(ok),
            "p99": statistics.median(p99) if p99 else None,
            "ratios": ratios,
            "errors": sum(s.errors for s in mine),
            "failed": sum(s.status != "ok" for s in mine),
        }
    return out


def targets(samples: list[Sample]) -> list[str]:
    """The goals, each judged per scenario by the median of per-round ratios."""
    lines = []
    for scen in SCENARIOS:
        summ = summarize(samples, scen.name)

        def ratio(peer: str, s: dict[str, dict[str, Any]] = summ) -> float | None:
            r = s.get(peer, {}).get("ratios")
            return statistics.median(r) if r else None

        goals = [("granian", 1.0, "ahead of granian's static mounts")]
        goals += [("whitenoise-rswsgi", 10.0, "at least 10× whitenoise under the same server")]
        for peer, goal, what in goals:
            if (x := ratio(peer)) is not None:
                verdict = "met" if x >= goal else "NOT met"
                lines.append(f"- {scen.name}: {what}: **{verdict}** (rswsgi ÷ {peer} {fmt_x(x)})")
        if (x := ratio("nginx")) is not None:
            aim = " (aim ≥ 0.6×: " + ("met" if x >= 0.6 else "NOT met") + ")"
            aim = aim if scen.file == "site.css" else ""
            lines.append(f"- {scen.name}: rswsgi ÷ nginx req/s **{fmt_x(x)}**{aim}")
    return lines


def versions() -> str:
    nginx = common.tool_output(["nginx", "-v"])
    tool = [nginx.stderr.strip().replace("nginx version: ", "")] if nginx else []
    return common.versions(("rswsgi", "granian", "whitenoise", "werkzeug", "gunicorn"), *tool)


def report(
    samples: list[Sample],
    mw: dict[str, dict[str, list[float]]],
    servers: list[Server],
    rounds: int,
    duration: int,
    skipped: str,
) -> str:
    out = common.header(
        versions(),
        f"{rounds} interleaved rounds × {duration} s of `wrk -t1 -c16` per server and scenario; "
        f"1-min load average before each run: {common.load_summary([s.load1 for s in samples])}.",
        skipped,
    )
    out.append("\nServers:\n")
    out += [f"- **{s.name}**: {s.config}" for s in servers]
    for scen in SCENARIOS:
        summ = summarize(samples, scen.name)
        if not summ:
            continue
        size = FILES[scen.file]
        rows = []
        for name, s in summ.items():
            state = "ok" if not s["failed"] else f"{s['failed']} failed"
            state += f", {s['errors']:,} errors" if s["errors"] else ""
            rows.append(
                [
                    f"**{name}**" if name == "rswsgi" else name,
                    f"**{s['rps']:,.0f}**",
                    f"{s['lo']:,.0f} – {s['hi']:,.0f}",
                    f"{s['rps'] * size / 2**20:,.0f}",
                    fmt_us(s["p99"]),
                    "(reference)" if name == "rswsgi" else paired(s["ratios"]),
                    state,
                ]
            )
        title = f"{scen.file} ({size // 1024} KiB), 16 keep-alive connections" + (
            ", server and wrk pinned to CPU 0" if scen.pinned else ""
        )
        head = ["server", "req/s", "min – max", "MiB/s", "p99", "rswsgi ÷ this (per round)", ""]
        out += [f"\n#### {scen.name}: {title}\n", table(head, rows)]
    if mw:
        out.append(middleware_report(mw))
    out += ["\n#### Goals\n", *targets(samples)]
    return "\n".join(out) + "\n"


# --- main ----------------------------------------------------------------------------------


def make_folder(base: Path) -> Path:
    folder = base / "static"
    folder.mkdir()
    base.chmod(0o755)  # nginx's worker runs as another user (www-data)
    rng = random.Random(19)
    css = "".join(
        f".c{i} {{ margin: {i % 7}px; color: #{i * 2654435761 % 16**6:06x}; }}\n"
        for i in range(400)
    )
    (folder / "site.css").write_bytes(css.encode()[: FILES["site.css"]])
    (folder / "photo.jpg").write_bytes(rng.randbytes(FILES["photo.jpg"]))
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    p = common.arg_parser(__doc__, "smoke run: 1 round of 1 s, prints only")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=int, default=5, help="seconds of wrk per run")
    p.add_argument("--servers", help="comma-separated subset (default: all installed)")
    p.add_argument("--no-middleware", action="store_true", help="skip the in-process part")
    common.add_out(p, "static.md/.json")
    args = p.parse_args(argv)
    common.interrupt_on_sigterm()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print("bench_static: wrk or taskset not found (apt-get install wrk)", file=sys.stderr)
        return 0 if args.quick else 1
    picked = common.pick("bench_static", SERVERS, args.servers, available)
    if picked is None:
        return 1
    servers, skipped = picked
    rounds, duration = (1, 1) if args.quick else (args.rounds, args.duration)
    out_dir = common.out_dir(args)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_static_") as tmp:
        folder = make_folder(Path(tmp))
        os.environ["BENCH_STATIC_DIR"] = str(folder)

        def work() -> tuple[list[Sample], dict[str, dict[str, list[float]]]]:
            samples = run(servers, SCENARIOS, rounds, duration, folder)
            mw: dict[str, dict[str, list[float]]] = {}
            if not args.no_middleware:
                calls, mw_rounds = (500, 5) if args.quick else (2000, 31)
                for case, passes in middleware_passes(folder, calls).items():
                    mw[case] = run_rounds(passes, mw_rounds)
            return samples, mw

        done = common.run_servers("bench_static", work)
        if isinstance(done, int):
            return done
        samples, mw = done
    text = report(samples, mw, servers, rounds, duration, skipped)
    print(text)
    print(f"bench_static: {time.monotonic() - t0:.0f} s", file=sys.stderr)
    if out_dir is not None:
        data = {"wrk": [asdict(s) for s in samples], "middleware_ns_per_call": mw}
        common.write_results(out_dir, "static", text, data)
        print(f"bench_static: wrote {out_dir}/static.md, .json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
