"""Shared helpers for the rswsgi benches: interleaved rounds, medians, Markdown tables.

Method (used by every bench here): each implementation is a zero-argument callable that runs
one *pass* (a fixed batch of work, inputs prepared outside the timed region) and returns
``(elapsed_ns, n_requests)``. Every round runs every implementation once, in an order rotated
by one each round (A B C, B C A, C A B, ...), so slow drifts of a shared, busy machine hit all
implementations alike. The cyclic garbage collector is off while a pass runs (as ``timeit``
does). We report the median over rounds, never one run.
"""

from __future__ import annotations

import gc
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from types import ModuleType

Pass = Callable[[], "tuple[int, int]"]

floor: ModuleType | None
try:  # optional: `maturin develop --release` in bench/floor (see bench/README.md)
    import rswsgi_bench_floor as floor
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
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            gc.disable()
            try:
                elapsed, n = passes[name]()
            finally:
                gc.enable()
            samples[name].append(elapsed / n)
    return samples


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
    import os

    return (
        f"{time.strftime('%Y-%m-%d')}; {platform.machine()}, {os.cpu_count()} CPUs (shared); "
        f"Python {sys.version.split()[0]}; {rustc}"
    )
