"""rswsgi across interpreters: free-threaded scaling on 3.14t, and the dev server on 3.11/3.14/3.15.

    nox -s tests-3.11 tests-3.14 tests-3.15 tests-3.14t   # the release builds this uses
    python bench/bench_pythons.py                           # ~6 min; prints Markdown tables
    python bench/bench_pythons.py --rounds 3 --seconds 1 --server-seconds 2   # shorter

It measures the release wheels that the interpreter matrix installed (the venvs
``.nox/tests-3-11``, ``tests-3-14``, ``tests-3-15``, ``tests-3-14t``; 3.14 and 3.15 run in the
Debian sid chroot of ``.ci/sid``, which it mounts and unmounts), so nothing is built here.

1. **Free threading.** A worker process builds the full middleware stack
   (``stack(router, reverser, wrap_query_params, handle_error, log_environ)`` over a Router
   with 4 routes and a mount) or the Router alone, and calls it from T threads at once
   (started together on a barrier) for a fixed time; every thread has its own environs and
   ``start_response``, the app and router are shared. Throughput is calls per second over
   all threads. A third row, ``control``, calls a plain Python WSGI function the same way
   (no rswsgi): its scaling is what the machine gives two threads of Python at that
   moment. Configurations: 3.14t with ``PYTHON_GIL=0`` and T = 1, 2, 4; 3.14 (the
   default build) with T = 1. Reported: scaling T=2 ÷ T=1 on 3.14t (goal ≥ 1.7× on these 2
   cores), and the single-thread cost of 3.14t against 3.14, i.e. 3.14's calls/s ÷ 3.14t's
   (goal ≤ 1.2×).
2. **Dev server.** ``python -m rswsgi.dev hello_app:app`` (bench/hello_app.py) on 3.11, 3.14
   and 3.15, with ``wrk -t1 -c16`` for a few seconds on 127.0.0.1, a fresh server process per
   measurement (bench_server.py's rswsgi row, c16 scenario, on each interpreter).

Rounds are interleaved (every configuration once per round, in an order rotated by one each
round) and medians are reported, because the machine is shared. Compare the ratios, not the
absolute numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _common import serve_all

ROOT = Path(__file__).resolve().parent.parent
SID = ["bash", str(ROOT / ".ci" / "sid"), "run"]


# --- the worker (runs inside each interpreter) ---------------------------------------------


def build(what: str) -> Any:
    from rswsgi import Router, handle_error, log_environ, reverser, stack, wrap_query_params

    def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"Hello, world!"]

    router = Router()
    router.add("/", hello, methods=["GET"])
    router.add("/users/{id}", hello, methods=["GET", "POST"])
    router.add("/files/{*path}", hello)
    router.add("/about", hello)
    sub = Router()
    sub.add("/x", hello)
    router.mount("/sub", sub)
    if what == "router":
        return router
    if what == "control":
        # No rswsgi: a plain Python WSGI callable, called the same way. Its scaling is
        # what this machine gives two threads of Python right now (other processes
        # share the CPUs), the yardstick for the two rows above it.
        def control(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [environ["PATH_INFO"].encode() + b" " + environ["QUERY_STRING"].encode()]

        return control
    return stack(router, reverser, wrap_query_params, handle_error, log_environ)


def environ(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "a=1&b=two",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8888",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8888",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def worker(what: str, threads: int, seconds: float) -> dict[str, Any]:
    app = build(what)
    stop = threading.Event()
    barrier = threading.Barrier(threads + 1)
    counts = [0] * threads

    def run(i: int) -> None:
        base = environ(f"/users/{i}")
        errors = io.StringIO()

        def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
            return None

        def batch() -> None:
            envs = [{**base, "wsgi.errors": errors} for _ in range(100)]
            serve_all(app, envs, start_response)
            if errors.tell() > 1 << 20:
                errors.seek(0)
                errors.truncate()

        batch()
        n = 0
        barrier.wait()
        while not stop.is_set():
            batch()
            n += 100
        counts[i] = n

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    # Each thread warms up (one batch) before the barrier; the timed window starts there.
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return {
        "calls_per_s": sum(counts) / elapsed,
        "gil": gil,
        "python": sys.version.split()[0] + ("t" if "free-threading" in sys.version else ""),
    }


# --- the driver ---------------------------------------------------------------------------


def venv_python(name: str) -> Path:
    return ROOT / ".nox" / name / "bin" / "python"


def command(which: str, argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """How to run `argv` (after the interpreter) under `which`."""
    env = dict(os.environ)
    if which == "3.14t":
        env["PYTHON_GIL"] = "0"
        return [str(venv_python("tests-3-14t")), *argv], env
    if which in ("3.14", "3.15"):
        py = venv_python(f"tests-{which.replace('.', '-')}")
        return [*SID, str(py), *argv], env
    return [str(venv_python(f"tests-{which.replace('.', '-')}")), *argv], env


def run_worker(which: str, what: str, threads: int, seconds: float) -> dict[str, Any]:
    argv = [str(Path(__file__).resolve()), "--worker", what, "--threads", str(threads)]
    cmd, env = command(which, [*argv, "--seconds", str(seconds)])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_server(which: str, seconds: int) -> float:
    """req/s of the dev server on `which` under wrk -t1 -c16 (a fresh process)."""
    port = free_port()
    serve = f"cd bench && exec {{py}} -m rswsgi.dev hello_app:app --port {port} --quiet"
    if which in ("3.14", "3.15"):
        py = venv_python(f"tests-{which.replace('.', '-')}")
        cmd = [*SID, "sh", "-c", serve.format(py=shlex.quote(str(py)))]
    else:
        py = venv_python(f"tests-{which.replace('.', '-')}")
        cmd = ["sh", "-c", serve.format(py=shlex.quote(str(py)))]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"rswsgi on {which} did not listen") from None
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/"
        subprocess.run(["wrk", "-t1", "-c16", "-d1s", url], capture_output=True, check=True)
        out = subprocess.run(
            ["wrk", "-t1", "-c16", f"-d{seconds}s", "--timeout", "2s", url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if not m or "Non-2xx" in out or "Socket errors" in out:
            raise RuntimeError(f"wrk on {which}: {out}")
        return float(m[1])
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)


def interleave(names: list[Any], rounds: int) -> list[list[Any]]:
    return [names[r % len(names) :] + names[: r % len(names)] for r in range(rounds)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0, help="per free-threading measurement")
    p.add_argument("--server-seconds", type=int, default=3, help="wrk duration per measurement")
    p.add_argument("--worker", choices=["stack", "router", "control"], help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads, args.seconds)))
        return 0

    missing = [
        n
        for n in ("tests-3-11", "tests-3-14", "tests-3-15", "tests-3-14t")
        # lexists: a sid venv's python links to the chroot's /usr/bin/python3.x
        if not os.path.lexists(venv_python(n))
    ]
    if missing:
        print(f"bench_pythons: run the matrix first (nox); missing .nox/{missing}", file=sys.stderr)
        return 1
    subprocess.run(["bash", str(ROOT / ".ci" / "sid"), "up"], check=True, stdout=subprocess.DEVNULL)
    try:
        configs = [("3.14t", 1), ("3.14t", 2), ("3.14t", 4), ("3.14", 1)]
        ft: dict[tuple[str, str, int], list[float]] = {}
        for what in ("stack", "router", "control"):
            for order in interleave(configs, args.rounds):
                for which, threads in order:
                    r = run_worker(which, what, threads, args.seconds)
                    if which == "3.14t":
                        assert not r["gil"], r
                    ft.setdefault((what, which, threads), []).append(r["calls_per_s"])
        servers: dict[str, list[float]] = {}
        for order in interleave(["3.11", "3.14", "3.15"], args.rounds):
            for which in order:
                servers.setdefault(which, []).append(run_server(which, args.server_seconds))
    finally:
        subprocess.run(["bash", str(ROOT / ".ci" / "sid"), "down"], check=False)

    med = statistics.median
    print(f"\n{args.rounds} rounds, {args.seconds} s per measurement; medians (min–max)\n")
    print("| what | interpreter | threads | calls/s | ÷ same, 1 thread |")
    print("|---|---|---|---|---|")
    for (what, which, threads), xs in ft.items():
        one = med(ft[(what, which, 1)])
        print(
            f"| {what} | {which} | {threads} | {med(xs):,.0f} ({min(xs):,.0f}–{max(xs):,.0f})"
            f" | {med(xs) / one:.2f}× |"
        )
    print()
    for what in ("stack", "router", "control"):
        scale = med(ft[(what, "3.14t", 2)]) / med(ft[(what, "3.14t", 1)])
        cost = med(ft[(what, "3.14", 1)]) / med(ft[(what, "3.14t", 1)])
        print(
            f"- {what}: 1→2 threads on 3.14t {scale:.2f}× (goal ≥ 1.7×); "
            f"single-thread cost 3.14t vs 3.14 {cost:.2f}× (goal ≤ 1.2×)"
        )
    print("\n| dev server, wrk -c16 | req/s | ÷ 3.11 |")
    print("|---|---|---|")
    base = med(servers["3.11"])
    for which, xs in servers.items():
        spread = f"{min(xs):,.0f}–{max(xs):,.0f}"
        print(f"| CPython {which} | {med(xs):,.0f} ({spread}) | {med(xs) / base:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
