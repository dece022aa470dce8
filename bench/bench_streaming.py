"""Streaming under rswsgi's dev server and three single-worker peers: time to first byte of a
streamed body, and how long a second client waits while a first one reads an SSE stream.

    python bench/bench_streaming.py               # 3 rounds (~5 min); writes results/streaming.*
    python bench/bench_streaming.py --quick       # smoke run (< 1 min), prints only
    python bench/bench_streaming.py --rounds 5 --stem streaming-after
    python bench/bench_streaming.py --servers rswsgi,gunicorn --scenarios ttfb

Every server serves ``streaming_app.app`` on 127.0.0.1 on a free port, one process and one
app thread each:

- rswsgi: ``python -m rswsgi.dev streaming_app:app --quiet``
- gunicorn: ``-k sync -w 1``
- waitress: ``waitress.serve(app, threads=1)``; werkzeug: ``run_simple(threaded=False)``
  (both through ``serve_peer.py``)

Scenarios (all on raw sockets, so that no client library buffers or retries anything):

- ``ttfb``: ``GET /ttfb`` (``Connection: close``), a generator whose first block is ready at
  once and whose second comes ``GAP_S`` = 1 s later. Timed from the moment the request is
  sent on an already connected socket: the first byte of the response (its head), the first
  byte of the body after de-chunking (the time of the ``recv`` that delivered it), and the
  last byte. ``--requests`` requests per server process, one after the other.
- ``ping-under-sse``: client A reads ``GET /events?interval=0.1`` (an SSE event every 0.1 s,
  a generator with ``time.sleep``) on its own thread; once its first event has arrived (or
  after ``FIRST_EVENT_CAP_S`` without one), client B sends ``GET /ping`` up to ``--pings``
  times, each on a **new connection** (``Connection: close``), ``PING_GAP_S`` apart, and
  times each from ``connect()`` to the last byte. A ping not answered within ``--ping-cap``
  seconds is counted as *held* (reported as "> cap") and ends the round, as does
  ``2 × --ping-cap`` seconds of pinging in all; the stream is long enough to outlast both.
  Client A's event arrival times are kept too (first event; longest gap between events
  while B was pinging).

Method, as ``bench_server.py``: a fresh server process for every measurement (so a server
left holding a stream cannot spoil the next one), a readiness and correctness check, 5
warm-up ``/ping`` requests, then the scenario. Each round runs every scenario and within it
every server, in an order rotated by one each round (A B C D, B C D A, ...). Tables give
medians, min – max and ratios against rswsgi; the 1-minute load average is sampled before
every measurement (the machine is shared). Every wait is bounded; servers run in their own
process group and are killed (SIGTERM, then SIGKILL) after each measurement and on exit,
Ctrl-C or an exception. Exit status 1 when rswsgi fails to start or any server answers the
wrong bytes.

The benches are mostly sleeping (a 1 s gap, 0.1 s events): they cost little CPU.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import _common as common
from _common import BenchError, table
from streaming_app import FIRST, GAP_S, PONG, SECOND, event

HERE = Path(__file__).resolve().parent
PY = sys.executable
START_CAP_S = 20.0
TTFB_CAP_S = GAP_S + 5.0  # one /ttfb request, start to end
SSE_INTERVAL_S = 0.1
FIRST_EVENT_CAP_S = 3.0
SETTLE_S = 0.15  # after the first event, before the first ping
PING_GAP_S = 0.02
GOAL_TTFB_MS = 1.0  # the target: rswsgi's time to first byte within 1 ms of the best
FAIR_SLACK_MS = 10.0  # "one block interval plus a few milliseconds", read as 10 ms


@dataclass(frozen=True)
class Server:
    name: str
    argv: Callable[[int, float], list[str]]  # (port, how long the longest stream lasts, s)
    needs: str  # an importable module; the server is skipped when it is missing
    config: str


def _peer(name: str) -> Callable[[int, float], list[str]]:
    return lambda port, _: [PY, str(HERE / "serve_peer.py"), name, str(port), "streaming_app:app"]


def _gunicorn(port: int, stream_s: float) -> list[str]:
    argv = [PY, "-m", "gunicorn", "-k", "sync", "-w", "1", "-b", f"127.0.0.1:{port}"]
    argv += ["--chdir", str(HERE), "--log-level", "error"]
    # The sync worker is killed when one request lasts its --timeout (30 s): raised only when
    # the stream would outlast it (a --ping-cap over ~12 s), so the stream is not cut short.
    if stream_s + 5 > 30:
        argv += ["--timeout", str(math.ceil(stream_s + 10))]
    return argv + ["streaming_app:app"]


SERVERS = [
    Server(
        "rswsgi",
        lambda port, _: (
            [PY, "-m", "rswsgi.dev", "streaming_app:app", "--host", "127.0.0.1"]
            + ["--port", str(port), "--quiet"]
        ),
        "rswsgi",
        "`python -m rswsgi.dev streaming_app:app --quiet`",
    ),
    Server(
        "gunicorn",
        _gunicorn,
        "gunicorn",
        "`gunicorn -k sync -w 1` (`--timeout` raised past the stream's length when that is "
        "over 25 s)",
    ),
    Server("waitress", _peer("waitress"), "waitress", "`waitress.serve(app, threads=1)`"),
    Server("werkzeug", _peer("werkzeug"), "werkzeug", "`run_simple(threaded=False)`"),
]

SCENARIOS = {
    "ttfb": f"time to first body byte of a generator (first block at once, second {GAP_S:g} s "
    "later)",
    "ping-under-sse": f"GET /ping (new connection each) while another client reads an SSE "
    f"stream with an event every {SSE_INTERVAL_S:g} s",
}


# --- samples -------------------------------------------------------------------------------


@dataclass
class TtfbSample:
    server: str
    round: int
    load1: float
    status: str = "ok"  # ok | failed to start | timed out
    head_ms: list[float] = field(default_factory=list)  # first byte of the response
    body_ms: list[float] = field(default_factory=list)  # first byte of the body
    end_ms: list[float] = field(default_factory=list)  # last byte
    framing: str = ""  # chunked | content-length | close-delimited, as the server chose
    note: str = ""


@dataclass
class PingSample:
    server: str
    round: int
    load1: float
    status: str = "ok"  # ok | held | error | failed to start
    ping_ms: list[float] = field(default_factory=list)  # answered pings only
    held: int = 0  # pings not answered within the cap (0 or 1: a held ping ends the round)
    cap_s: float = 0.0
    first_event_ms: float | None = None  # client A: request sent -> first event
    events_while_pinging: int = 0
    max_event_gap_ms: float | None = None  # client A, while B was pinging
    note: str = ""


# --- servers -------------------------------------------------------------------------------


@contextmanager
def running(server: Server, logdir: Path, stream_s: float = 0.0) -> Iterator[tuple[int, str]]:
    """Starts ``server`` on a free port; yields ``(port, '')`` once ``/ping`` answers
    ``pong`` (then 5 warm-up pings), or ``(0, reason)``. Always stopped."""
    port = common.free_port()

    def ready() -> bool:
        status, body = simple_get(port, "/ping", 1.0)
        if (status, body) != (200, PONG):
            raise BenchError(f"{server.name} answered {status} {body[:60]!r} to /ping")
        return True

    log = logdir / f"{server.name}.log"
    with common.serving(server.argv(port, stream_s), log, ready, START_CAP_S) as failed:
        if failed:
            yield 0, failed
            return
        for _ in range(5):
            simple_get(port, "/ping", 2.0)
        yield port, ""


# --- client side ---------------------------------------------------------------------------


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


@dataclass
class Received:
    """What one raw-socket request got: each ``recv``'s time (s since the request was sent)
    and bytes, whether the server closed, and whether the cap ran out first."""

    reads: list[tuple[float, bytes]] = field(default_factory=list)
    closed: bool = False
    timed_out: bool = False

    @property
    def data(self) -> bytes:
        return b"".join(d for _, d in self.reads)

    def time_of_byte(self, offset: int) -> float | None:
        """When the byte at ``offset`` of the response arrived."""
        seen = 0
        for t, d in self.reads:
            seen += len(d)
            if offset < seen:
                return t
        return None


def receive(sock: socket.socket, t0: float, cap: float, done: Callable[[bytes], bool]) -> Received:
    """Reads until the server closes, ``done(data)`` or ``cap`` seconds after ``t0``."""
    got = Received()
    data = b""
    while True:
        left = t0 + cap - time.perf_counter()
        if left <= 0:
            got.timed_out = True
            return got
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            got.timed_out = True
            return got
        except OSError:
            got.closed = True
            return got
        now = time.perf_counter()
        if not chunk:
            got.closed = True
            return got
        got.reads.append((now - t0, chunk))
        data += chunk
        if done(data):
            return got


@dataclass
class Parsed:
    status: int
    framing: str
    body: bytes
    body_offset: int | None  # offset of the first body byte in the raw response
    complete: bool


def parse(raw: bytes, closed: bool) -> Parsed:
    """Parses one HTTP/1.x response (Content-Length, chunked or close-delimited); raises
    ValueError on anything else."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError(f"no complete head: {raw[:80]!r}")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start_at = len(head) + 4
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, pos, first = b"", 0, None
        while True:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                return Parsed(status, "chunked", body, first, False)
            size = int(rest[pos:eol].split(b";")[0], 16)
            data_at = eol + 2
            if size == 0:
                return Parsed(status, "chunked", body, first, True)
            if first is None:
                first = start_at + data_at
            body += rest[data_at : data_at + size]
            if len(rest) < data_at + size + 2:
                return Parsed(status, "chunked", body, first, False)
            pos = data_at + size + 2
    if "content-length" in headers:
        n = int(headers["content-length"])
        body = rest[:n]
        return Parsed(status, "content-length", body, start_at if n else None, len(rest) >= n)
    return Parsed(status, "close-delimited", rest, start_at if rest else None, closed)


def simple_get(port: int, path: str, timeout: float) -> tuple[int, bytes]:
    """One ``GET`` with ``Connection: close``; status and body. Raises OSError."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        t0 = time.perf_counter()
        s.sendall(request(path))
        got = receive(s, t0, timeout, lambda _: False)
    try:
        p = parse(got.data, got.closed)
    except ValueError as e:
        raise OSError(str(e)) from None
    if not p.complete:
        raise OSError(f"incomplete response to {path} ({'timed out' if got.timed_out else ''})")
    return p.status, p.body


def ping(port: int, cap: float) -> float | None:
    """``GET /ping`` on a new connection; ms from ``connect()`` to the last byte, or None
    when not answered within ``cap`` s."""
    t0 = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=cap) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(request("/ping"))
            got = receive(s, t0, cap, lambda d: d.endswith(PONG))
    except TimeoutError:
        return None
    if got.timed_out:
        return None
    p = parse(got.data, got.closed)
    if (p.status, p.body) != (200, PONG):
        raise BenchError(f"/ping answered {p.status} {p.body[:60]!r} during the stream")
    return (got.reads[-1][0]) * 1e3


# --- scenarios -----------------------------------------------------------------------------


def measure_ttfb(server: Server, rnd: int, requests: int, logdir: Path) -> TtfbSample:
    sample = TtfbSample(server.name, rnd, common.load1())
    with running(server, logdir) as (port, failed):
        if not port:
            sample.status, sample.note = "failed to start", failed
            return sample
        for _ in range(requests):
            with socket.create_connection(("127.0.0.1", port), timeout=TTFB_CAP_S) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                t0 = time.perf_counter()
                s.sendall(request("/ttfb"))
                got = receive(s, t0, TTFB_CAP_S, lambda _: False)  # Connection: close
            if got.timed_out:
                sample.status = "timed out"
                sample.note = f"/ttfb not finished within {TTFB_CAP_S:g} s"
                return sample
            p = parse(got.data, got.closed)
            if (p.status, p.body) != (200, FIRST + SECOND) or not p.complete:
                raise BenchError(f"{server.name} answered {p.status} {p.body[:60]!r} to /ttfb")
            assert p.body_offset is not None  # the body was checked above
            body_t = got.time_of_byte(p.body_offset)
            assert body_t is not None
            sample.head_ms.append(got.reads[0][0] * 1e3)
            sample.body_ms.append(body_t * 1e3)
            sample.end_ms.append(got.reads[-1][0] * 1e3)  # Connection: close, so the last read
            sample.framing = p.framing
    return sample


class SseReader(threading.Thread):
    """Client A: reads ``/events`` until told to stop (bounded by ``cap`` seconds), keeping
    each event's arrival time (s since its request was sent)."""

    def __init__(self, port: int, count: int, cap: float) -> None:
        super().__init__(daemon=True)
        self.port, self.count, self.cap = port, count, cap
        self.stop = threading.Event()
        self.first = threading.Event()
        self.events: list[float] = []
        self.error = ""
        self.t0 = 0.0  # perf_counter when the request was sent

    def run(self) -> None:
        path = f"/events?interval={SSE_INTERVAL_S}&count={self.count}"
        buf, n = b"", 0
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                self.t0 = time.perf_counter()
                s.sendall(request(path))
                while not self.stop.is_set() and time.perf_counter() - self.t0 < self.cap:
                    s.settimeout(0.1)
                    try:
                        chunk = s.recv(65536)
                    except TimeoutError:
                        continue
                    now = time.perf_counter() - self.t0
                    if not chunk:
                        self.error = f"stream closed after {n} events"
                        return
                    buf += chunk
                    # Events are counted by their text; the chunk-size lines around them
                    # (chunked framing) do not contain it.
                    while event(n) in buf:
                        buf = buf[buf.index(event(n)) + len(event(n)) :]
                        self.events.append(now)
                        n += 1
                        self.first.set()
        except OSError as e:
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.first.set()


def stream_seconds(cap: float) -> float:
    """How long the SSE stream lasts for a ping cap: past the end of the ping phase."""
    return FIRST_EVENT_CAP_S + SETTLE_S + 2 * cap + 1.0


def measure_ping(server: Server, rnd: int, pings: int, cap: float, logdir: Path) -> PingSample:
    sample = PingSample(server.name, rnd, common.load1(), cap_s=cap)
    stream_s = stream_seconds(cap)
    with running(server, logdir, stream_s) as (port, failed):
        if not port:
            sample.status, sample.note = "failed to start", failed
            return sample
        phase_cap = 2 * cap  # every ping included: the last one is cut at the phase's end
        count = math.ceil(stream_s / SSE_INTERVAL_S) + 1
        reader = SseReader(port, count, stream_s + 2.0)
        reader.start()
        try:
            reader.first.wait(FIRST_EVENT_CAP_S)
            if reader.events:
                sample.first_event_ms = reader.events[0] * 1e3
            else:
                sample.note = f"no event within {FIRST_EVENT_CAP_S:g} s; pinged anyway"
            time.sleep(SETTLE_S)
            n_before = len(reader.events)
            t_start = time.perf_counter()
            for _ in range(pings):
                left = t_start + phase_cap - time.perf_counter()
                if left <= 0:
                    sample.note += f" phase ended at {phase_cap:g} s"
                    break
                try:
                    ms = ping(port, min(cap, left))
                except OSError as e:
                    sample.status, sample.note = "error", f"/ping: {type(e).__name__}: {e}"
                    break
                if ms is None and left < cap:
                    sample.note += f" phase ended at {phase_cap:g} s with a ping in flight"
                    break
                if ms is None:
                    sample.held += 1
                    sample.status = "held"
                    break
                sample.ping_ms.append(ms)
                time.sleep(PING_GAP_S)
            t_end = time.perf_counter()
            times = list(reader.events)
            sample.events_while_pinging = len(times) - n_before
            # The longest gap client A saw while B pinged (from the last event before B
            # started to the first after it ended, so a stream that stalled is counted).
            lo, hi = t_start - reader.t0, t_end - reader.t0
            inside = [t for t in times if lo <= t <= hi]
            edges = [max((t for t in times if t < lo), default=lo), *inside]
            edges.append(min((t for t in times if t > hi), default=hi))
            gaps = [b - a for a, b in zip(edges, edges[1:], strict=False)]
            sample.max_event_gap_ms = max(gaps) * 1e3 if gaps else None
            if reader.error:
                sample.note += f" stream: {reader.error}"
        finally:
            reader.stop.set()
            reader.join(2.0)
    sample.note = sample.note.strip()
    return sample


# --- the run -------------------------------------------------------------------------------


def run(
    servers: list[Server], scenarios: list[str], rounds: int, args: argparse.Namespace
) -> tuple[list[TtfbSample], list[PingSample]]:
    ttfb: list[TtfbSample] = []
    pings: list[PingSample] = []
    with tempfile.TemporaryDirectory(prefix="bench_streaming_") as tmp:
        logdir = Path(tmp)
        for rnd, scen, server in common.schedule(rounds, scenarios, servers):
            if scen == "ttfb":
                t = measure_ttfb(server, rnd, args.requests, logdir)
                ttfb.append(t)
                line = f"body {fmt_ms(med(t.body_ms))}, end {fmt_ms(med(t.end_ms))} ({t.framing})"
                status, note = t.status, t.note
            else:
                p = measure_ping(server, rnd, args.pings, args.ping_cap, logdir)
                pings.append(p)
                line = (
                    f"{len(p.ping_ms)} pings, median {fmt_ms(med(p.ping_ms))}, max "
                    f"{fmt_ms(max(p.ping_ms, default=None))}"
                    + (f", 1 held > {p.cap_s:g} s" if p.held else "")
                    + f"; first event {fmt_ms(p.first_event_ms)}"
                )
                status, note = p.status, p.note
            line = f"{scen:<14} {server.name:<9} {status:<7} {line}"
            common.say_round(rnd, rounds, line, server.name, status, note)
    return ttfb, pings


# --- reporting -----------------------------------------------------------------------------


def med(xs: Sequence[float] | None) -> float | None:
    return statistics.median(xs) if xs else None


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    if math.isinf(ms):
        return "held"
    if ms >= 1000:
        return f"{ms / 1000:,.2f} s"
    if ms >= 10:
        return f"{ms:,.1f} ms"
    return f"{ms:,.2f} ms"


def fmt_x(x: float | None) -> str:
    if x is None or math.isnan(x) or math.isinf(x):
        return "—"
    if x >= 10:
        return f"{x:,.0f}×"
    if x >= 0.1:
        return f"{x:.2f}×"
    return f"{x:.4f}×"


def fmt_diff(ms: float) -> str:
    """A difference in ms, always in ms (the goal is stated in ms)."""
    return f"{ms:+,.2f} ms"


def spread(xs: Sequence[float]) -> str:
    return f"{fmt_ms(min(xs))} – {fmt_ms(max(xs))}" if xs else "—"


def ttfb_report(samples: list[TtfbSample]) -> tuple[str, list[str]]:
    names = list(dict.fromkeys(s.server for s in samples))
    by: dict[str, list[TtfbSample]] = {n: [s for s in samples if s.server == n] for n in names}

    def pooled(n: str, what: str) -> list[float]:
        return [x for s in by[n] for x in getattr(s, what)]

    ref = med(pooled("rswsgi", "body_ms")) if "rswsgi" in by else None
    rows = []
    for n in names:
        body = pooled(n, "body_ms")
        bad = [s for s in by[n] if s.status != "ok"]
        framing = ", ".join(sorted({s.framing for s in by[n] if s.framing})) or "—"
        b = med(body)
        ratio = "(reference)" if n == "rswsgi" else fmt_x(b / ref if b and ref else None)
        diff = "—" if n == "rswsgi" or b is None or ref is None else fmt_diff(ref - b)
        rows.append(
            [
                f"**{n}**" if n == "rswsgi" else n,
                fmt_ms(med(pooled(n, "head_ms"))),
                f"**{fmt_ms(b)}**",
                spread(body),
                fmt_ms(med(pooled(n, "end_ms"))),
                spread(pooled(n, "end_ms")),
                framing,
                ratio,
                diff,
                f"{len(body)}" + (f"; {len(bad)} {bad[0].status}" if bad else ""),
            ]
        )
    head = [
        "server",
        "head (median)",
        "first body byte (median)",
        "first body byte min – max",
        "end (median)",
        "end min – max",
        "framing",
        "this ÷ rswsgi, first body byte",
        "rswsgi − this",
        "requests",
    ]
    # The goal, judged on medians and per round (rswsgi minus the best peer of that round).
    lines = []
    if ref is not None:
        best = min((statistics.median(xs), n) for n in names if (xs := pooled(n, "body_ms")))
        per_round = []
        for r in sorted({s.round for s in samples}):
            these = {
                s.server: statistics.median(s.body_ms)
                for s in samples
                if s.round == r and s.body_ms
            }
            if "rswsgi" in these:
                per_round.append(these["rswsgi"] - min(these.values()))
        ok = ref - best[0] <= GOAL_TTFB_MS and all(d <= GOAL_TTFB_MS for d in per_round)
        lines.append(
            f"- rswsgi's first body byte within {GOAL_TTFB_MS:g} ms of the best: "
            f"**{'met' if ok else 'NOT met'}** (rswsgi {fmt_ms(ref)}, best {best[1]} "
            f"{fmt_ms(best[0])}; rswsgi − best of the round: "
            + ", ".join(fmt_diff(d) for d in per_round)
            + ")"
        )
    return table(head, rows), lines


def ping_report(samples: list[PingSample]) -> tuple[str, list[str]]:
    names = list(dict.fromkeys(s.server for s in samples))
    by = {n: [s for s in samples if s.server == n] for n in names}
    inf = float("inf")

    def values(n: str) -> list[float]:
        # A held ping counts as +inf: it lifts the median and the max to "held".
        return [x for s in by[n] for x in s.ping_ms] + [inf] * sum(s.held for s in by[n])

    mine = values("rswsgi") if "rswsgi" in by else []
    ref = med(mine)
    rows = []
    for n in names:
        v = values(n)
        held = sum(s.held for s in by[n])
        cap = max((s.cap_s for s in by[n]), default=0.0)
        m, mx = med(v), max(v, default=None)
        firsts = [s.first_event_ms for s in by[n] if s.first_event_ms is not None]
        gaps = [s.max_event_gap_ms for s in by[n] if s.max_event_gap_ms is not None]
        failed = sum(s.status == "failed to start" for s in by[n])
        rows.append(
            [
                f"**{n}**" if n == "rswsgi" else n,
                f"**{fmt_ms(m) if m is None or m < inf else f'> {cap:g} s (held)'}**",
                fmt_ms(mx) if mx is None or mx < inf else f"> {cap:g} s (held)",
                f"{len(v) - held} answered, {held} held > {cap:g} s"
                + (f", {failed} failed to start" if failed else ""),
                "(reference)"
                if n == "rswsgi"
                else fmt_x(m / ref if m and ref and m < inf and ref < inf else None),
                fmt_ms(med(firsts)),
                fmt_ms(max(gaps, default=None)),
            ]
        )
    head = [
        "server",
        "/ping median",
        "/ping max",
        "pings (all rounds)",
        "this ÷ rswsgi, median",
        "SSE first event (median)",
        "SSE longest gap while pinging",
    ]
    lines = []
    if mine:
        goal = SSE_INTERVAL_S * 1e3 + FAIR_SLACK_MS
        mx = max(mine)
        lines.append(
            f"- rswsgi's /ping max ≤ one event interval + {FAIR_SLACK_MS:g} ms = {goal:g} ms "
            f"(fairness in time): **{'met' if mx <= goal else 'NOT met'}** "
            f"(max {fmt_ms(mx) if mx < inf else 'held past the cap'})"
        )
    return table(head, rows), lines


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def source_line() -> str:
    """Which rswsgi the servers import, and the commits its source and this bench are at."""
    spec = importlib.util.find_spec("rswsgi")
    if spec is None or spec.origin is None:
        return "rswsgi not found"
    root = Path(spec.origin).resolve().parents[2]  # <root>/python/rswsgi/__init__.py
    head = _git(root, "log", "-1", "--format=%h")
    if not head:
        return f"rswsgi from {Path(spec.origin).parent} (not a git checkout)"
    src = _git(root, "log", "-1", "--format=%h", "--", "src", "Cargo.toml", "Cargo.lock")
    dirty_src = _git(root, "status", "--porcelain", "-uno", "--", "src", "Cargo.toml", "Cargo.lock")
    dirty_bench = _git(HERE, "status", "--porcelain", "-uno", "--", ".")
    return (
        f"rswsgi from {root} at `{head}` (src/ last changed in `{src}`"
        + (", with uncommitted changes in src/" if dirty_src else "")
        + (
            f"; bench/ at `{_git(HERE, 'log', '-1', '--format=%h')}` with uncommitted changes"
            if dirty_bench
            else ""
        )
        + ")"
    )


def versions() -> str:
    return common.versions(("rswsgi", "gunicorn", "waitress", "werkzeug"), source_line())


def report(
    ttfb: list[TtfbSample],
    pings: list[PingSample],
    rounds: int,
    args: argparse.Namespace,
    skipped: str,
) -> str:
    out = common.header(
        versions(), f"{rounds} interleaved rounds, a fresh server process per measurement.", skipped
    )
    targets: list[str] = []
    for name, samples in (("ttfb", ttfb), ("ping-under-sse", pings)):
        if not samples:
            continue
        if name == "ttfb":
            text, lines = ttfb_report(ttfb)
            what = f"{args.requests} requests per server per round; times from sending the request"
        else:
            text, lines = ping_report(pings)
            what = (
                f"up to {args.pings} pings per server per round, {PING_GAP_S * 1e3:g} ms apart, "
                f"each on a new connection, timed from connect() to the last byte; cap "
                f"{args.ping_cap:g} s per ping, {2 * args.ping_cap:g} s per round"
            )
        out += [
            f"\n#### {name}: {SCENARIOS[name]}\n",
            f"{what}. 1-min load average before each run: "
            f"{common.load_summary([s.load1 for s in samples])}.\n",
            text,
        ]
        targets += lines
    if targets:
        out += ["\n#### Targets\n", *targets]
    return "\n".join(out) + "\n"


# --- main ----------------------------------------------------------------------------------


def installed(s: Server) -> bool:
    return importlib.util.find_spec(s.needs) is not None


def main(argv: Sequence[str] | None = None) -> int:
    p = common.arg_parser(
        __doc__, "smoke run: 1 round, 1 request, 10 pings, 3 s cap, prints only (flags given win)"
    )
    p.add_argument("--rounds", type=int, help="default 3")
    p.add_argument("--requests", type=int, help="/ttfb requests per server process (default 3)")
    p.add_argument("--pings", type=int, help="/ping requests per round at most (default 50)")
    p.add_argument(
        "--ping-cap", type=float, help="seconds a /ping may take before it is 'held' (default 10)"
    )
    p.add_argument("--servers", help="comma-separated subset (default: all installed)")
    p.add_argument("--scenarios", help="comma-separated subset of " + ",".join(SCENARIOS))
    common.add_out(p, "the .md/.json", "streaming")
    args = p.parse_args(argv)
    common.interrupt_on_sigterm()
    for name, normal, quick in (
        ("rounds", 3, 1),
        ("requests", 3, 1),
        ("pings", 50, 10),
        ("ping_cap", 10.0, 3.0),
    ):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else normal)
    if not 0 < args.ping_cap <= 60:
        p.error("--ping-cap must be in (0, 60] seconds")

    picked = common.pick("bench_streaming", SERVERS, args.servers, installed)
    if picked is None:
        return 1
    servers, skipped = picked
    scenarios = args.scenarios.split(",") if args.scenarios else list(SCENARIOS)
    if unknown := [s for s in scenarios if s not in SCENARIOS]:
        p.error(f"unknown scenario(s): {', '.join(unknown)}")
    out_dir = common.out_dir(args)

    t0 = time.monotonic()
    done = common.run_servers("bench_streaming", lambda: run(servers, scenarios, args.rounds, args))
    if isinstance(done, int):
        return done
    ttfb, pings = done
    text = report(ttfb, pings, args.rounds, args, skipped)
    print(text)
    print(f"bench_streaming: {time.monotonic() - t0:.0f} s", file=sys.stderr)
    if out_dir is not None:
        data = {
            "machine": common.machine(),
            "versions": versions(),
            "args": {k: v for k, v in vars(args).items() if k not in ("out",)},
            "ttfb": [asdict(s) for s in ttfb],
            "ping_under_sse": [asdict(s) for s in pings],
        }
        common.write_results(out_dir, args.stem, text, data)
        print(f"bench_streaming: wrote {out_dir}/{args.stem}.md, .json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
