"""Shared helpers for the rswsgi benches: interleaved rounds, medians, Markdown tables, and
(for the benches that start servers) server processes, the command line and the results files.

Method (used by every bench here): each implementation is a zero-argument callable that runs
one *pass* (a fixed batch of work, inputs prepared outside the timed region) and returns
``(elapsed_ns, n_requests)``. Every round runs every implementation once, in an order rotated
by one each round (A B C, B C A, C A B, ...), so slow drifts of a shared, busy machine hit all
implementations alike. The cyclic garbage collector is off while a pass runs (as ``timeit``
does). We report the median over rounds, never one run.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.metadata
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar

Pass = Callable[[], "tuple[int, int]"]
T = TypeVar("T")
S = TypeVar("S")

HERE = Path(__file__).resolve().parent
STOP_CAP_S = 2.0

floor: ModuleType | None
try:  # optional: `maturin develop --release` in bench/floor (see bench/README.md)
    floor = importlib.import_module("rswsgi_bench_floor")
except ImportError:
    floor = None


def run_rounds(passes: dict[str, Pass], rounds: int, warmup: int = 2) -> dict[str, list[float]]:
    """Runs `passes` interleaved for `rounds` rounds; returns ns per request, per round."""
    names = list(passes)
    for _ in range(warmup):
        for name in names:
            passes[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in rotated(names, r):
            gc.collect()
            gc.disable()
            try:
                elapsed, n = passes[name]()
            finally:
                gc.enable()
            samples[name].append(elapsed / n)
    return samples


def rotated(items: Sequence[T], rnd: int) -> list[T]:
    """``items`` in the order of round ``rnd``: rotated by one each round (A B C, B C A, ...)."""
    k = rnd % max(len(items), 1)
    return [*items[k:], *items[:k]]


def schedule(
    rounds: int,
    scenarios: Sequence[S],
    servers: Sequence[T],
    fits: Callable[[S, T], bool] = lambda scen, server: True,
) -> Iterator[tuple[int, S, T]]:
    """Every (round, scenario, server) in interleaved order: each round runs every scenario,
    and within a scenario every server that ``fits`` it, in an order rotated by one each round
    (A B C, B C A, ...), so slow drifts of a shared machine hit every server alike."""
    for rnd in range(rounds):
        for scen in scenarios:
            for server in rotated([t for t in servers if fits(scen, t)], rnd):
                yield rnd, scen, server


def serve_all(
    app: Callable[..., Iterable[Any]],
    environs: Iterable[dict[str, Any]],
    start_response: Callable[..., Any],
) -> None:
    """Calls ``app`` once per environ, as a server would: iterates each response to the end
    and closes it (PEP 3333). The request loop of every in-process bench."""
    for env in environs:
        result = app(env, start_response)
        for _ in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def iqr(xs: Sequence[float]) -> tuple[float, float]:
    """The 25th and 75th percentiles (the spread we print next to a median)."""
    if len(xs) < 4:
        return min(xs), max(xs)
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def paired_diff(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Round-by-round a - b (both measured in the same round, so the noise is shared)."""
    return [x - y for x, y in zip(a, b, strict=False)]


def fmt_ns(ns: float) -> str:
    if abs(ns) >= 100_000:
        return f"{ns / 1000:,.0f} µs"
    if abs(ns) >= 10_000:
        return f"{ns / 1000:,.1f} µs"
    return f"{ns:,.0f} ns"


def fmt_ratio(x: float) -> str:
    return f"{x:,.1f}×" if x >= 10 else f"{x:,.2f}×"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def target_line(what: str, measured: float, goal: float, higher_is_better: bool) -> str:
    met = measured >= goal if higher_is_better else measured <= goal
    return f"- {what}: **{'met' if met else 'NOT met'}** (measured {measured:,.2f})"


def overhead_table(
    samples: dict[str, list[float]], base: str, head: Sequence[str]
) -> tuple[str, dict[str, float]]:
    """Markdown rows of per-request time minus the ``base`` pass (paired by round).

    ``samples`` maps each pass to its per-request times (ns), ``base`` included;
    returns the table and the median overhead of each implementation. Ratios are
    against the ``rswsgi`` row.
    """
    samples = dict(samples)
    base_s = samples.pop(base)
    over = {n: median(paired_diff(s, base_s)) for n, s in samples.items()}
    ref = over["rswsgi"]
    rows = [[base, fmt_ns(median(base_s)), "—", "—", "—"]]
    for n, s in samples.items():
        lo, hi = iqr(paired_diff(s, base_s))
        rows.append(
            [
                n,
                fmt_ns(median(s)),
                f"**{fmt_ns(over[n])}**",
                f"{fmt_ns(lo)} – {fmt_ns(hi)}",
                fmt_ratio(over[n] / ref) if ref > 0 else "n/a",
            ]
        )
    return table(head, rows), over


def environment() -> str:
    """One line naming the machine, date and versions, for the README."""
    try:
        rustc = subprocess.run(
            ["rustc", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        rustc = "rustc: not found"
    return (
        f"{time.strftime('%Y-%m-%d')}; {platform.machine()}, {os.cpu_count()} CPUs (shared); "
        f"Python {sys.version.split()[0]}; {rustc}"
    )


# --- server processes ----------------------------------------------------------------------


class BenchError(Exception):
    """A server answered wrong bytes, or rswsgi (or an app) could not be made to serve."""


@dataclass
class Measurement:
    """The fields every server measurement starts with: which server, scenario and round, the
    1-minute load average sampled just before it (see ``load1``), and how it went."""

    server: str
    scenario: str
    round: int
    load1: float
    status: str = "ok"


LIVE: set[subprocess.Popen[bytes]] = set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(
    argv: list[str],
    log: Path,
    cwd: Path = HERE,
    env: dict[str, str] | None = None,
    append: bool = False,
) -> subprocess.Popen[bytes]:
    """Starts ``argv`` in its own process group (so its workers die with it), output to
    ``log``; ``stop_all`` stops it if nothing else does."""
    with log.open("ab" if append else "wb") as f:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    LIVE.add(proc)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL after ``STOP_CAP_S``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(STOP_CAP_S)
            break
        except subprocess.TimeoutExpired:
            continue
    # Workers (gunicorn, granian) may outlive the parent by a moment.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    LIVE.discard(proc)


def stop_all() -> None:
    for proc in list(LIVE):
        stop(proc)


def wait_until_up(
    proc: subprocess.Popen[bytes], log: Path, ready: Callable[[], bool], cap: float
) -> str:
    """Calls ``ready()`` every 50 ms until it returns True (an OSError counts as "not yet");
    then ``''``, or why not: the process exited (with its log's last lines), or ``cap``
    seconds passed."""
    deadline = time.monotonic() + cap
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            return f"exited with {proc.returncode}: {' / '.join(tail)}"
        try:
            if ready():
                return ""
        except OSError:
            pass
        if time.monotonic() > deadline:
            return f"no answer within {cap:.0f} s"
        time.sleep(0.05)


@contextmanager
def serving(
    argv: list[str],
    log: Path,
    ready: Callable[[], bool],
    cap: float,
    cwd: Path = HERE,
    env: dict[str, str] | None = None,
    append: bool = False,
) -> Iterator[str]:
    """Starts ``argv`` (see ``start``) and yields ``''`` once ``ready()``, or why it never got
    there (see ``wait_until_up``). The process is stopped on the way out, always."""
    proc = start(argv, log, cwd, env, append)
    try:
        yield wait_until_up(proc, log, ready, cap)
    finally:
        stop(proc)


def split_response(data: bytes) -> tuple[int, bytes, bytes]:
    """A whole HTTP/1.1 response as (status, head, body). Raises OSError if it is not one."""
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise OSError(f"not an HTTP response: {data[:60]!r}") from None
    return status, head, body


def say_round(rnd: int, rounds: int, line: str, server: str, status: str, note: str) -> None:
    """One progress line on stderr for a measurement of round ``rnd``; a BenchError when it
    was rswsgi's and rswsgi did not start (the run cannot say anything then)."""
    print(
        f"  round {rnd + 1}/{rounds} {line}" + (f" ({note})" if note else ""),
        file=sys.stderr,
        flush=True,
    )
    if server == "rswsgi" and status == "failed to start":
        raise BenchError(f"rswsgi did not start: {note}")


def interrupt_on_sigterm() -> None:
    """SIGTERM and SIGINT raise KeyboardInterrupt, so servers are stopped on the way out (set
    explicitly: ``kill -INT`` then stops a run started in the background too)."""

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run_servers(tool: str, work: Callable[[], T]) -> T | int:
    """``work()``, with every server it started stopped afterwards; on a ``BenchError`` or an
    interrupt, says so and returns the exit status instead (1 or 130)."""
    try:
        return work()
    except BenchError as e:
        print(f"{tool}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{tool}: interrupted", file=sys.stderr)
        return 130
    finally:
        stop_all()


def load1() -> float:
    """The 1-minute load average, sampled before each measurement (the machine is shared)."""
    return os.getloadavg()[0]


def load_summary(loads: Sequence[float]) -> str:
    return f"median {statistics.median(loads):.2f}, range {min(loads):.2f} – {max(loads):.2f}"


# --- the command line ----------------------------------------------------------------------


def arg_parser(doc: str, quick: str) -> argparse.ArgumentParser:
    """A bench's parser: the docstring's first paragraph, and ``--quick`` (``quick`` says
    what that smoke run does)."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help=quick)
    return p


def add_out(p: argparse.ArgumentParser, files: str, stem: str | None = None) -> None:
    """``--out`` (where ``files`` go), and ``--stem`` when the file names take one."""
    p.add_argument(
        "--out",
        help=f"directory for {files} (default: bench/results; --quick writes nothing unless given)",
    )
    if stem is not None:
        p.add_argument("--stem", default=stem, help=f"file name stem (default: {stem})")


def out_dir(args: argparse.Namespace) -> Path | None:
    """Where the results go: ``--out``, else bench/results, or nowhere for ``--quick``."""
    return Path(args.out) if args.out else (None if args.quick else HERE / "results")


class Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=Named)


def pick(
    tool: str, servers: Sequence[N], wanted: str | None, available: Callable[[N], bool]
) -> tuple[list[N], str] | None:
    """The ``servers`` named in ``wanted`` (comma-separated; all if None) that are installed,
    and the names of those that are not (said on stderr); None (said too) without rswsgi."""
    names = wanted.split(",") if wanted else [s.name for s in servers]
    chosen = [s for s in servers if s.name in names and available(s)]
    skipped = ", ".join(s.name for s in servers if s.name in names and not available(s))
    if skipped:
        print(f"{tool}: skipping (not installed): {skipped}", file=sys.stderr)
    if not any(s.name == "rswsgi" for s in chosen):
        print(f"{tool}: rswsgi is not installed (maturin develop --release)", file=sys.stderr)
        return None
    return chosen, skipped


# --- the results files ---------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{time.strftime('%Y-%m-%d %H:%M')}; {platform.machine()}, {os.cpu_count()} CPUs "
        f"(shared), {cpu}; Linux {platform.release()}"
    )


def tool_output(argv: list[str], timeout: float = 5) -> subprocess.CompletedProcess[str] | None:
    """What ``argv`` (a ``--version`` command) printed, or None when it cannot run."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None


def versions(dists: Iterable[str], *extra: str) -> str:
    """Python's version, each distribution's (or "not installed"), then ``extra``."""
    parts = [f"Python {platform.python_version()}"]
    for dist in dists:
        try:
            parts.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return ", ".join([*parts, *extra])


def header(versions_line: str, method: str, skipped: str) -> list[str]:
    """The report's first lines: machine, versions, the method line, and what was skipped."""
    out = [f"Machine: {machine()}.  ", f"Versions: {versions_line}.  ", method]
    if skipped:
        out.append(f"\nSkipped (not installed): {skipped}.")
    return out


def write_results(out_dir: Path, stem: str, text: str, data: Any) -> None:
    """``<stem>.md`` (the report) and ``<stem>.json`` (the raw samples) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.md").write_text(text)
    (out_dir / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n")
