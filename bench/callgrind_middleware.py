"""Instructions per request for each middleware case, counted by callgrind (deterministic).

    python bench/callgrind_middleware.py [--calls N] [--impl NAME] [CASE-PREFIX ...]

Wall-clock times on a shared 2-core machine move by ±10 % between runs; instruction counts do
not, so A/B decisions about an optimisation are made on them (the tables in README.md stay
wall-clock medians from bench_middleware.py). For each case of bench_middleware.py and each
implementation asked for (default: rswsgi), it runs the case's requests under
``valgrind --tool=callgrind`` twice, with N and 2N requests, and reports
``(Ir(2N) - Ir(N)) / N``: start-up, imports and warm-up cancel out. N is ``--calls`` for
the cases the bench runs 500 times per pass, proportionally fewer for the others. The overhead
is that minus the same count for the bare app. ``PYTHONHASHSEED=0`` keeps dict layouts identical
between runs. Needs valgrind (Debian: ``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_case(title_prefix: str, impl: str, calls: int) -> None:
    """Child mode: runs `calls` requests of one case through one implementation."""
    import bench_middleware as bm

    stream = io.StringIO()
    case = next(c for c in bm.cases(stream) if c.title.startswith(title_prefix))
    app = case.bare if impl == "(bare app)" else case.impls[impl]
    sr = bm.start_response
    envs = [bm.served(case.environ, i if case.vary else None) for i in range(calls)]
    # As in the bench's passes, no cyclic GC while requests run: its
    # collections would scan the prepared environs, a cost that grows
    # faster than N and would not cancel out.
    gc.collect()
    gc.disable()
    from _common import serve_all

    for k in range(0, len(envs), 64):
        serve_all(app, envs[k : k + 64], sr)
        stream.seek(0)  # the log stream stays small, at a cost linear in N
        stream.truncate()


def instructions(title_prefix: str, impl: str, calls: int) -> int:
    """Instructions (Ir) of one child run under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            title_prefix,
            impl,
            str(calls),
        ]
        env = dict(os.environ, PYTHONHASHSEED="0")
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
        m = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
        if m is None:
            raise SystemExit(f"no summary line in {out}")
        return int(m.group(1))


def per_request(title_prefix: str, impl: str, calls: int) -> float:
    twice = instructions(title_prefix, impl, 2 * calls)
    return (twice - instructions(title_prefix, impl, calls)) / calls


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--calls", type=int, default=1000, help="N (default 1000)")
    ap.add_argument(
        "--impl", action="append", help="implementations whose names start so; default rswsgi"
    )
    ap.add_argument("--child", nargs=3, metavar=("CASE", "IMPL", "N"), help=argparse.SUPPRESS)
    ap.add_argument("cases", nargs="*", help="case title prefixes (default: every case)")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    if args.child:
        prefix, impl, n = args.child
        run_case(prefix, impl, int(n))
        return 0
    import bench_middleware as bm

    # N scales with the bench's requests per pass (500 for the cheapest cases), so the
    # 1 MB body is read 20 times, not 2000.
    cases = bm.cases(io.StringIO())
    if args.cases:
        cases = [c for c in cases if any(c.title.startswith(p) for p in args.cases)]
    wanted = args.impl or ["rswsgi"]
    print("| case | implementation | Ir per request | overhead Ir (minus bare app) |")
    print("|---|---|---|---|", flush=True)
    for case in cases:
        title, n = case.title, max(20, args.calls * case.calls // 500)
        bare = per_request(title, "(bare app)", n)
        # A name that starts an implementation's name picks it ("Python" picks
        # "Python (PEP 3333, regex \\X)" in the reverser cases).
        for impl in [i for i in case.impls if any(i.startswith(w) for w in wanted)]:
            ir = per_request(title, impl, n)
            print(f"| {title} | {impl} | {ir:,.0f} | {ir - bare:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
