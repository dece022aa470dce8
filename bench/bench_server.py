"""rswsgi's dev server next to the usual WSGI servers, measured with ``wrk`` on one app.

    python bench/bench_server.py            # full run (~10 min); writes bench/results/server.*
    python bench/bench_server.py --quick    # smoke run (< 60 s), prints only
    python bench/bench_server.py --rounds 5 --duration 5 --servers rswsgi,bjoern

Every server serves ``hello_app.app`` (13 B ``text/plain`` with ``Content-Length``) on
127.0.0.1 on a free port, one process and one worker thread each:

- rswsgi: ``python -m rswsgi.dev hello_app:app --quiet``
- wsgiref: ``wsgiref.simple_server``; werkzeug: ``run_simple(threaded=False)``;
  waitress: ``threads=1``; bjoern: ``bjoern.run``; fastpysgi: ``fastpysgi.run(workers=1)``;
  socketify: ``WSGI(app).run(workers=1)`` (all through ``serve_peer.py``)
- gunicorn: ``-k sync -w 1``
- granian: ``--interface wsgi --workers 1 --blocking-threads 1 --runtime-threads 1``

Scenarios (``wrk --latency -t1 -cN -dD --timeout 2s``):

- ``c1``, ``c16``: 1 and 16 connections; the OS places server and wrk on the 2 CPUs.
- ``pinned-c1``, ``pinned-c16``: server and wrk both under ``taskset -c 0`` (one CPU shared,
  so req/s measures the CPU cost per request of server + client).
- ``idle-c16``: as ``c16``, but first 100 sockets are connected to the server and held open
  without sending a byte for the whole run. Then one probe request (3 s cap, or the wrk
  duration if shorter) tells whether the server still answers at all. A server that does not
  answer the probe, or answers wrk nothing, is reported as *stalled*.
- ``tls-c1``, ``tls-c16``, ``tls-pinned-c16``: as ``c1``, ``c16``, ``pinned-c16`` over HTTPS
  (keep-alive), for the servers that serve TLS themselves: rswsgi (``--cert/--key``), granian
  (``--ssl-certificate/--ssl-keyfile``) and gunicorn (``--certfile/--keyfile``). All three
  present one self-signed ECDSA P-256 certificate made for the run; wrk does not verify it.

Method: a fresh server process for every measurement (so a stalled server cannot spoil the
next one), a readiness check plus a correctness check (status 200, exact body), 20 warm-up
requests, then wrk. Rounds are interleaved: each round runs every scenario, and within a
scenario every server, in an order rotated by one each round (A B C, B C A, ...). Tables
report medians over rounds, the min–max spread, and ratios against rswsgi. The 1-minute load
average is sampled before every measurement (the machine is shared).

Every step is bounded in time, servers are started in their own process group and killed
(SIGTERM, then SIGKILL) after each measurement and on exit, Ctrl-C or an exception.
Exit status 1 when rswsgi fails to start or any server answers the wrong bytes.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import selectors
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import _common as common
from _common import BenchError, table
from hello_app import BODY

HERE = Path(__file__).resolve().parent
PY = sys.executable
IDLE_SOCKETS = 100
WRK_TIMEOUT_S = 2
START_CAP_S = 20.0
PROBE_CAP_S = 3.0


#: (certificate file, key file), PEM, for the TLS scenarios.
Tls = tuple[str, str]


@dataclass(frozen=True)
class Server:
    """One server under test: how to start it on a port, and what it needs installed."""

    name: str
    argv: Callable[[int], list[str]]
    needs: str  # an importable module; the server is skipped when it is missing
    config: str  # what the README says about how it runs
    # How to start it serving HTTPS; None: it is not in the TLS scenarios.
    tls: Callable[[int, Tls], list[str]] | None = None


def _rswsgi(port: int, tls: Tls | None = None) -> list[str]:
    argv = [PY, "-m", "rswsgi.dev", "hello_app:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--quiet"]
    return argv + (["--cert", tls[0], "--key", tls[1]] if tls else [])


def _granian(port: int, tls: Tls | None = None) -> list[str]:
    argv = [PY, "-m", "granian", "--interface", "wsgi", "--workers", "1"]
    argv += ["--blocking-threads", "1", "--runtime-threads", "1", "--no-ws"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--working-dir", str(HERE)]
    argv += ["--ssl-certificate", tls[0], "--ssl-keyfile", tls[1]] if tls else []
    return argv + ["--log-level", "error", "hello_app:app"]


def _gunicorn(port: int, tls: Tls | None = None) -> list[str]:
    argv = [PY, "-m", "gunicorn", "-k", "sync", "-w", "1"]
    argv += ["-b", f"127.0.0.1:{port}", "--chdir", str(HERE), "--log-level", "error"]
    argv += ["--certfile", tls[0], "--keyfile", tls[1]] if tls else []
    return argv + ["hello_app:app"]


def _peer(name: str) -> Callable[[int], list[str]]:
    return lambda port: [PY, str(HERE / "serve_peer.py"), name, str(port)]


SERVERS = [
    Server(
        "rswsgi",
        _rswsgi,
        "rswsgi",
        "`python -m rswsgi.dev hello_app:app --quiet` (mio, single thread, keep-alive)",
        _rswsgi,
    ),
    Server("bjoern", _peer("bjoern"), "bjoern", "`bjoern.run(app, host, port)` (C, libev)"),
    Server(
        "fastpysgi",
        _peer("fastpysgi"),
        "fastpysgi",
        "`fastpysgi.run(app, host, port, workers=1)` (C, libuv)",
    ),
    Server(
        "socketify",
        _peer("socketify"),
        "socketify",
        "`socketify.WSGI(app).listen(...).run(workers=1)` (uWebSockets, C++ through cffi; "
        "needs Debian's libuv1)",
    ),
    Server(
        "granian",
        _granian,
        "granian",
        "`--interface wsgi --workers 1 --blocking-threads 1 --runtime-threads 1` (Rust, tokio)",
        _granian,
    ),
    Server(
        "waitress",
        _peer("waitress"),
        "waitress",
        "`waitress.serve(app, threads=1)` (asyncore loop + 1 worker thread)",
    ),
    Server(
        "gunicorn",
        _gunicorn,
        "gunicorn",
        "`gunicorn -k sync -w 1` (pre-fork, blocking; closes the connection after each response)",
        _gunicorn,
    ),
    Server(
        "werkzeug",
        _peer("werkzeug"),
        "werkzeug",
        "`run_simple(threaded=False)` (HTTP/1.0, one connection at a time)",
    ),
    Server(
        "wsgiref",
        _peer("wsgiref"),
        "wsgiref",
        "`wsgiref.simple_server.make_server` (HTTP/1.0, one connection at a time)",
    ),
]


@dataclass(frozen=True)
class Scenario:
    name: str
    conns: int
    pinned: bool
    idle: int
    title: str
    tls: bool = False


SCENARIOS = [
    Scenario("c1", 1, False, 0, "1 connection"),
    Scenario("c16", 16, False, 0, "16 connections"),
    Scenario("pinned-c1", 1, True, 0, "1 connection, server and wrk pinned to CPU 0"),
    Scenario("pinned-c16", 16, True, 0, "16 connections, server and wrk pinned to CPU 0"),
    Scenario(
        "idle-c16",
        16,
        False,
        IDLE_SOCKETS,
        f"16 connections with {IDLE_SOCKETS} idle sockets held open to the server",
    ),
    Scenario("tls-c1", 1, False, 0, "1 keep-alive connection over TLS", tls=True),
    Scenario("tls-c16", 16, False, 0, "16 keep-alive connections over TLS", tls=True),
    Scenario(
        "tls-pinned-c16",
        16,
        True,
        0,
        "16 keep-alive connections over TLS, server and wrk pinned to CPU 0",
        tls=True,
    ),
]


@dataclass
class Sample(common.Measurement):
    """One wrk run against one freshly started server; ``status`` is ok, stalled, failed to
    start, wrong answer or wrk failed."""

    rps: float = 0.0
    p50_us: float | None = None
    p99_us: float | None = None
    requests: int = 0
    timeouts: int = 0
    errors: int = 0  # connect + read + write socket errors, plus non-2xx/3xx
    idle_open: int = 0  # idle sockets that connected
    probe_ms: float | None = None  # the probe request with the idle sockets open
    note: str = ""


@contextmanager
def running(
    server: Server, pinned: bool, logdir: Path, tls: Tls | None = None
) -> Iterator[tuple[int, str]]:
    """Starts ``server`` on a free port (serving HTTPS with ``tls``) and yields
    ``(port, '')`` once it answers correctly, or ``(0, reason)`` when it does not start
    within ``START_CAP_S``. Always stopped."""
    port = common.free_port()
    if tls is None:
        argv = server.argv(port)
    else:
        assert server.tls is not None
        argv = server.tls(port, tls)
    argv = (["taskset", "-c", "0"] if pinned else []) + argv

    def ready() -> bool:
        status, body = http_get(port, 1.0, tls is not None)
        if status != 200 or body != BODY:
            raise BenchError(f"{server.name} answered {status} {body[:60]!r}, not 200 {BODY!r}")
        return True

    with common.serving(argv, logdir / f"{server.name}.log", ready, START_CAP_S) as failed:
        if failed:
            yield 0, failed
            return
        for _ in range(20):  # warm-up (imports, caches, the allocator)
            http_get(port, 2.0, tls is not None)
        yield port, ""


# --- client side ---------------------------------------------------------------------------


def http_get(port: int, timeout: float, tls: bool = False) -> tuple[int, bytes]:
    """One ``GET /`` with ``Connection: close`` (over TLS, not verifying the certificate,
    with ``tls``); returns status and body. Raises OSError."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            raw = ctx.wrap_socket(raw, server_hostname="localhost")
        except OSError:
            raw.close()
            raise
    with raw as s:
        s.settimeout(timeout)
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        deadline = time.monotonic() + timeout
        while chunk := s.recv(65536):
            data += chunk
            if time.monotonic() > deadline:
                raise TimeoutError("response not finished in time")
    status, _, body = common.split_response(data)
    return status, body


def open_idle(port: int, n: int, cap: float) -> list[socket.socket]:
    """Connects ``n`` sockets that will send nothing; returns those connected within ``cap``."""
    sel = selectors.DefaultSelector()
    pending: list[socket.socket] = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        sel.register(s, selectors.EVENT_WRITE)
        pending.append(s)
    done: list[socket.socket] = []
    deadline = time.monotonic() + cap
    while len(done) + 0 < n and (left := deadline - time.monotonic()) > 0:
        for key, _ in sel.select(left):
            s = key.fileobj  # type: ignore[assignment]
            sel.unregister(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                done.append(s)
            else:
                s.close()
            pending.remove(s)
        if not pending:
            break
    for s in pending:
        sel.unregister(s)
        s.close()
    sel.close()
    return done


_UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}


def parse_wrk(out: str) -> dict[str, float]:
    """req/s, p50/p99 (µs), requests, timeouts and errors from ``wrk --latency`` output."""
    res: dict[str, float] = {}
    if m := re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M):
        res["rps"] = float(m.group(1))
    if m := re.search(r"^\s*(\d+) requests in", out, re.M):
        res["requests"] = int(m.group(1))
    for pct in ("50", "99"):
        if m := re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M):
            res[f"p{pct}_us"] = float(m.group(1)) * _UNIT_US[m.group(2)]
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        res["errors"] = int(m.group(1)) + int(m.group(2)) + int(m.group(3))
        res["timeouts"] = int(m.group(4))
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        res["errors"] = res.get("errors", 0) + int(m.group(1))
    return res


def run_wrk(
    port: int, conns: int, duration: int, pinned: bool, tls: bool = False
) -> tuple[dict[str, float], str]:
    argv = ["taskset", "-c", "0"] if pinned else []
    argv += ["wrk", "--latency", "-t1", f"-c{conns}", f"-d{duration}s"]
    scheme = "https" if tls else "http"
    argv += ["--timeout", f"{WRK_TIMEOUT_S}s", f"{scheme}://127.0.0.1:{port}/"]
    try:
        # wrk overruns -d when its connections are never accepted; killed after 5 s more.
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 5)
    except subprocess.TimeoutExpired:
        return {"rps": 0.0, "requests": 0}, "wrk killed: its connections were never accepted"
    return parse_wrk(done.stdout), done.stdout + done.stderr


def measure(
    server: Server, scen: Scenario, rnd: int, duration: int, logdir: Path, tls: Tls | None
) -> Sample:
    probe_cap = min(PROBE_CAP_S, float(duration))
    sample = Sample(server.name, scen.name, rnd, common.load1())
    with running(server, scen.pinned, logdir, tls if scen.tls else None) as (port, failed):
        if not port:
            sample.status, sample.note = "failed to start", failed
            return sample
        idle = open_idle(port, scen.idle, 3.0) if scen.idle else []
        try:
            sample.idle_open = len(idle)
            if scen.idle:
                time.sleep(0.2)  # let the server accept them
                t0 = time.perf_counter()
                try:
                    status, body = http_get(port, probe_cap)
                    if status == 200 and body == BODY:
                        sample.probe_ms = (time.perf_counter() - t0) * 1e3
                except OSError:
                    pass
            # A server that did not answer the probe gets 1 s of wrk: enough to confirm it.
            stalled = bool(scen.idle) and sample.probe_ms is None
            res, raw = run_wrk(port, scen.conns, 1 if stalled else duration, scen.pinned, scen.tls)
        finally:
            for s in idle:
                s.close()
    if "rps" not in res:
        sample.status, sample.note = "wrk failed", raw.strip()[-200:]
        return sample
    sample.rps = res["rps"]
    sample.requests = int(res.get("requests", 0))
    sample.timeouts = int(res.get("timeouts", 0))
    sample.errors = int(res.get("errors", 0))
    if sample.requests:
        sample.p50_us, sample.p99_us = res.get("p50_us"), res.get("p99_us")
    if sample.requests == 0 or (scen.idle and sample.probe_ms is None):
        sample.status = "stalled"
        if raw.startswith("wrk killed"):
            sample.note = raw
    return sample


# --- the run -------------------------------------------------------------------------------


def certificate(folder: Path) -> Tls:
    """A self-signed certificate for 127.0.0.1 (rswsgi's adhoc one) and its key, as PEM
    files in ``folder``: every server in the TLS scenarios presents the same one."""
    from rswsgi._rswsgi import _adhoc_certificate

    cert_pem, key_pem = _adhoc_certificate()
    cert, key = folder / "cert.pem", folder / "key.pem"
    cert.write_text(cert_pem)
    key.write_text(key_pem)
    return str(cert), str(key)


def run(
    servers: list[Server], scenarios: list[Scenario], rounds: int, duration: int
) -> list[Sample]:
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="bench_server_") as tmp:
        tls = certificate(Path(tmp)) if any(s.tls for s in scenarios) else None

        def fits(scen: Scenario, server: Server) -> bool:
            return server.tls is not None or not scen.tls

        for rnd, scen, server in common.schedule(rounds, scenarios, servers, fits):
            s = measure(server, scen, rnd, duration, Path(tmp), tls)
            samples.append(s)
            common.say_round(rnd, rounds, wrk_line(s, 10, 9, 7), server.name, s.status, s.note)
    return samples


class WrkRun(Protocol):
    scenario: str
    server: str
    status: str
    rps: float
    p99_us: float | None
    load1: float


def wrk_line(s: WrkRun, *widths: int) -> str:
    """The progress line of one wrk run: scenario, server and status in columns ``widths``
    wide, then req/s, p99 and the load average."""
    cols = (f"{v:<{w}}" for v, w in zip((s.scenario, s.server, s.status), widths, strict=True))
    return f"{' '.join(cols)} {s.rps:>9,.0f} req/s  p99 {fmt_us(s.p99_us):>9}  load {s.load1:.2f}"


# --- reporting -----------------------------------------------------------------------------


def fmt_us(us: float | None) -> str:
    if us is None:
        return "—"
    if us >= 10_000:
        return f"{us / 1000:,.0f} ms"
    if us >= 1000:
        return f"{us / 1000:,.2f} ms"
    return f"{us:,.0f} µs"


def med(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


@dataclass
class Summary:
    rps: float
    rps_lo: float
    rps_hi: float
    p50: float | None
    p99: float | None
    timeouts: int
    errors: int
    stalled: int
    rounds: int
    probe_ok: int
    idle_open: float | None
    load: list[float] = field(default_factory=list)
    # rswsgi's req/s ÷ this server's, and this p99 ÷ rswsgi's, each of the same round.
    paired_rps: list[float] = field(default_factory=list)
    paired_p99: list[float] = field(default_factory=list)


def summarize(samples: list[Sample]) -> Summary:
    ok = [s for s in samples if s.status in ("ok", "stalled")]
    rps = [s.rps for s in ok] or [0.0]
    return Summary(
        rps=statistics.median(rps),
        rps_lo=min(rps),
        rps_hi=max(rps),
        p50=med([s.p50_us for s in ok]),
        p99=med([s.p99_us for s in ok]),
        timeouts=sum(s.timeouts for s in samples),
        errors=sum(s.errors for s in samples),
        stalled=sum(s.status != "ok" for s in samples),
        rounds=len(samples),
        probe_ok=sum(s.probe_ms is not None for s in samples),
        idle_open=med([float(s.idle_open) for s in samples]),
        load=[s.load1 for s in samples],
    )


def summaries(samples: list[Sample]) -> dict[str, dict[str, Summary]]:
    out: dict[str, dict[str, Summary]] = {}
    for scen in dict.fromkeys(s.scenario for s in samples):
        names = dict.fromkeys(s.server for s in samples if s.scenario == scen)
        out[scen] = {}
        ref = {s.round: s for s in samples if s.scenario == scen and s.server == "rswsgi"}
        for n in names:
            mine = [s for s in samples if s.scenario == scen and s.server == n]
            summ = summarize(mine)
            for s in mine:
                me = ref.get(s.round)
                if me is None:
                    continue
                if me.rps and s.rps:
                    summ.paired_rps.append(me.rps / s.rps)
                if me.p99_us and s.p99_us:
                    summ.paired_p99.append(s.p99_us / me.p99_us)
            out[scen][n] = summ
    return out


def paired(xs: list[float]) -> str:
    """Median of per-round ratios, with their min – max."""
    if not xs:
        return "—"
    m = statistics.median(xs)
    if len(xs) == 1:
        return fmt_x(m)
    return f"**{fmt_x(m)}** ({fmt_x(min(xs))} – {fmt_x(max(xs))})"


def fmt_x(x: float) -> str:
    if 0.9 <= x < 1.1:  # three decimals where the ≥ 1 targets are judged
        return f"{x:.3f}×"
    return f"{x:,.1f}×" if x >= 10 else f"{x:,.2f}×"


def scenario_table(scen: Scenario, summ: dict[str, Summary]) -> str:
    rows = []
    for name, s in summ.items():
        if s.stalled == s.rounds and s.rps == 0:
            state = "**stalled**: 0 responses"
        elif s.stalled:
            state = f"{s.stalled}/{s.rounds} stalled"
        else:
            state = "ok"
        if s.timeouts and "timeouts" not in state:
            state += f", {s.timeouts:,} timeouts"
        if s.errors:
            state += f", {s.errors:,} socket errors"
        if scen.idle:
            state += f"; idle open {s.idle_open:.0f}, probe answered {s.probe_ok}/{s.rounds}"
        rows.append(
            [
                f"**{name}**" if name == "rswsgi" else name,
                f"**{s.rps:,.0f}**",
                f"{s.rps_lo:,.0f} – {s.rps_hi:,.0f}",
                fmt_us(s.p50),
                f"**{fmt_us(s.p99)}**",
                "(reference)" if name == "rswsgi" else paired(s.paired_rps),
                "(reference)" if name == "rswsgi" else paired(s.paired_p99),
                state,
            ]
        )
    head = [
        "server",
        "req/s (median)",
        "req/s min – max",
        "p50",
        "p99",
        "rswsgi ÷ this, req/s (per round: median, min – max)",
        "this ÷ rswsgi, p99 (per round)",
        "state",
    ]
    return table(head, rows)


def load_line(summ: dict[str, Summary]) -> str:
    loads = [x for s in summ.values() for x in s.load]
    return (
        f"1-min load average before each run: median {statistics.median(loads):.2f}, "
        f"range {min(loads):.2f} – {max(loads):.2f}"
    )


def verdict(paired_ok: bool, medians_ok: bool) -> str:
    """``met`` only when the per-round ratios and the ratio of medians agree."""
    if paired_ok and medians_ok:
        return "met"
    if not paired_ok and not medians_ok:
        return "NOT met"
    return "mixed (within the noise)"


#: The native single-threaded peers rswsgi must stay ahead of.
FAST_PEERS = ("bjoern", "fastpysgi", "socketify")


def targets(summ: dict[str, dict[str, Summary]], samples: list[Sample]) -> list[str]:
    """One line per target, judged per scenario; nothing is rounded in rswsgi's favour.

    A target is met when both the median of the per-round ratios and the ratio of the
    medians say so; when they disagree the verdict is "mixed".
    """
    lines: list[str] = []

    def get(scen: str, name: str) -> Summary | None:
        return summ.get(scen, {}).get(name)

    for scen in ("c1", "c16", "pinned-c1", "pinned-c16"):
        me, bj, wz = get(scen, "rswsgi"), get(scen, "bjoern"), get(scen, "werkzeug")
        if me is None:
            continue
        for name in FAST_PEERS:
            peer = get(scen, name)
            if peer is not None and peer.paired_rps:
                x = statistics.median(peer.paired_rps)
                lines.append(
                    f"- {scen}: req/s ≥ {name}'s: **{verdict(x >= 1, me.rps >= peer.rps)}** "
                    f"(rswsgi ÷ {name} per round {paired(peer.paired_rps)}; medians "
                    f"{me.rps:,.0f} vs {peer.rps:,.0f})"
                )
        if bj is not None and bj.paired_rps:
            x = statistics.median(bj.paired_rps)
            lines.append(
                f"- {scen}: req/s ≥ 1.25× bjoern's (the stretch target): "
                f"**{verdict(x >= 1.25, me.rps >= 1.25 * bj.rps)}** "
                f"(per round {paired(bj.paired_rps)})"
            )
        if bj is not None and bj.paired_p99 and me.p99 and bj.p99:
            x = statistics.median(bj.paired_p99)
            lines.append(
                f"- {scen}: p99 no worse than bjoern's: **{verdict(x >= 1, me.p99 <= bj.p99)}** "
                f"(bjoern ÷ rswsgi p99 per round {paired(bj.paired_p99)}; medians "
                f"{fmt_us(me.p99)} vs {fmt_us(bj.p99)})"
            )
        if wz is not None and wz.paired_rps:
            x = statistics.median(wz.paired_rps)
            lines.append(
                f"- {scen}: req/s ≥ 15× werkzeug's: "
                f"**{verdict(x >= 15, me.rps >= 15 * wz.rps)}** "
                f"(per round {paired(wz.paired_rps)})"
            )
    base, idle = get("c16", "rswsgi"), get("idle-c16", "rswsgi")
    if base is not None and idle is not None and base.rps:
        # Paired by round: idle-c16 / c16 of the same round shares that round's load.
        by_round = {
            s.round: s.rps
            for s in samples
            if s.server == "rswsgi" and s.scenario == "c16" and s.status == "ok"
        }
        pairs = [
            s.rps / by_round[s.round]
            for s in samples
            if s.server == "rswsgi" and s.scenario == "idle-c16" and s.round in by_round
        ]
        r = statistics.median(pairs) if pairs else idle.rps / base.rps
        answered = idle.probe_ok == idle.rounds and idle.timeouts == 0 and idle.stalled == 0
        ok = answered and r >= 0.9
        lines.append(
            f"- req/s unchanged with {IDLE_SOCKETS} idle sockets open (answers every probe, no "
            f"timeouts, idle/plain ≥ 0.90 paired by round): **{'met' if ok else 'NOT met'}** "
            f"(idle/plain median {r:.2f}, range {min(pairs, default=r):.2f} – "
            f"{max(pairs, default=r):.2f}; probe answered {idle.probe_ok}/{idle.rounds}; "
            f"p99 {fmt_us(idle.p99)} vs {fmt_us(base.p99)})"
        )
    return lines


def tls_lines(summ: dict[str, dict[str, Summary]], samples: list[Sample]) -> list[str]:
    """rswsgi over TLS against the peers that serve TLS themselves, and against its own
    plain HTTP of the same round (what TLS costs it)."""
    lines: list[str] = []
    for scen in (s.name for s in SCENARIOS if s.tls):
        me = summ.get(scen, {}).get("rswsgi")
        if me is None:
            continue
        for peer in ("granian", "gunicorn"):
            them = summ[scen].get(peer)
            if them is not None and them.paired_rps:
                lines.append(
                    f"- {scen}: rswsgi ÷ {peer}, req/s per round {paired(them.paired_rps)}; "
                    f"medians {me.rps:,.0f} vs {them.rps:,.0f}"
                )
        plain = scen.removeprefix("tls-")
        by_round = {
            s.round: s.rps
            for s in samples
            if s.server == "rswsgi" and s.scenario == plain and s.status == "ok" and s.rps
        }
        pairs = [
            s.rps / by_round[s.round]
            for s in samples
            if s.server == "rswsgi" and s.scenario == scen and s.round in by_round
        ]
        if pairs:
            lines.append(
                f"- {scen} ÷ {plain} for rswsgi (same round): {paired(pairs)} of its plain "
                "HTTP req/s"
            )
    return lines


def versions() -> str:
    dists = "rswsgi bjoern fastpysgi socketify granian waitress gunicorn werkzeug".split()
    wrk = common.tool_output(["wrk", "-v"])
    tool = [(wrk.stdout + wrk.stderr).split("Copyright")[0].strip()] if wrk else []
    return common.versions(dists, *tool)


def report(
    samples: list[Sample], scenarios: list[Scenario], rounds: int, duration: int, skipped: str
) -> str:
    summ = summaries(samples)
    out = common.header(
        versions(),
        f"{rounds} interleaved rounds × {duration} s of `wrk -t1` per server and scenario.",
        skipped,
    )
    for scen in scenarios:
        if scen.name not in summ:
            continue
        out += [
            f"\n#### {scen.name}: {scen.title}\n",
            load_line(summ[scen.name]) + "\n",
            scenario_table(scen, summ[scen.name]),
        ]
    out += ["\n#### Targets\n", *targets(summ, samples)]
    if tls := tls_lines(summ, samples):
        out += ["\n#### TLS\n", *tls]
    return "\n".join(out) + "\n"


def plot(samples: list[Sample], scenarios: list[Scenario], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summ = summaries(samples)
    scens = [s for s in scenarios if s.name in summ]
    fig, axes = plt.subplots(
        len(scens), 2, figsize=(10, 1.9 * len(scens) + 0.6), squeeze=False, sharey="row"
    )
    for row, scen in zip(axes, scens, strict=False):
        data = summ[scen.name]
        names = list(data)
        colors = ["#c0392b" if n == "rswsgi" else "#7f8c8d" for n in names]
        rps = [data[n].rps for n in names]
        row[0].barh(names, rps, color=colors)
        row[0].set_title(f"{scen.name}: req/s (median; bar = min–max)", fontsize=9, loc="left")
        row[0].errorbar(
            rps,
            range(len(names)),
            xerr=[
                [r - data[n].rps_lo for r, n in zip(rps, names, strict=False)],
                [data[n].rps_hi - r for r, n in zip(rps, names, strict=False)],
            ],
            fmt="none",
            ecolor="black",
            elinewidth=0.8,
            capsize=2,
        )
        top = max(data[n].rps_hi for n in names) or 1.0
        row[0].set_xlim(0, top * 1.3)
        for y, (n, v) in enumerate(zip(names, rps, strict=False)):
            label = f" {v:,.0f}" if data[n].stalled < data[n].rounds else " stalled"
            row[0].text(data[n].rps_hi, y, label, va="center", fontsize=7)
        p99 = [data[n].p99 or 0.0 for n in names]
        row[1].barh(names, [max(p, 1.0) for p in p99], color=colors)
        row[1].set_xscale("log")
        row[1].set_xlim(10, max(max(p99), 100.0) * 10)
        row[1].set_title("p99 latency, µs (log scale)", fontsize=9, loc="left")
        for y, v in enumerate(p99):
            label = f" {fmt_us(v)}" if v else " stalled"
            row[1].text(max(v, 10.0), y, label, va="center", fontsize=7)
        for ax in row:
            ax.tick_params(labelsize=8)
        row[0].invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --- main ----------------------------------------------------------------------------------


def installed(s: Server) -> bool:
    return importlib.util.find_spec(s.needs) is not None


def main(argv: Sequence[str] | None = None) -> int:
    p = common.arg_parser(__doc__, "smoke run: 1 round of 1 s, prints only")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5, help="seconds of wrk per run")
    p.add_argument("--servers", help="comma-separated subset (default: all installed)")
    p.add_argument(
        "--scenarios", help="comma-separated subset of " + ",".join(s.name for s in SCENARIOS)
    )
    common.add_out(p, "server.md/.json/.png")
    args = p.parse_args(argv)
    common.interrupt_on_sigterm()

    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print(
            "bench_server: wrk or taskset not found; nothing measured "
            "(apt-get install wrk util-linux)",
            file=sys.stderr,
        )
        return 0 if args.quick else 1
    picked = common.pick("bench_server", SERVERS, args.servers, installed)
    if picked is None:
        return 1
    servers, skipped = picked
    if args.scenarios:
        scenarios = [s for s in SCENARIOS if s.name in args.scenarios.split(",")]
    elif args.quick:
        scenarios = [s for s in SCENARIOS if s.name in ("c16", "idle-c16")]
    else:
        scenarios = SCENARIOS
    rounds, duration = (1, 1) if args.quick else (args.rounds, args.duration)
    out_dir = common.out_dir(args)

    t0 = time.monotonic()
    samples = common.run_servers("bench_server", lambda: run(servers, scenarios, rounds, duration))
    if isinstance(samples, int):
        return samples
    text = report(samples, scenarios, rounds, duration, skipped)
    print(text)
    print(f"bench_server: {time.monotonic() - t0:.0f} s", file=sys.stderr)
    if out_dir is not None:
        common.write_results(out_dir, "server", text, [asdict(s) for s in samples])
        plot(samples, scenarios, out_dir / "server.png")
        print(f"bench_server: wrote {out_dir}/server.md, .json, .png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
