"""A/B of vectorcall for the WSGI callables: the same build, the same objects, called through
``tp_call`` (A) and through vectorcall (B).

    python bench/bench_vectorcall.py [--rounds N] [--calls N] [CASE ...]
    python bench/bench_vectorcall.py --ir [CASE ...]     # instructions per call, callgrind

rswsgi sets ``Py_TPFLAGS_HAVE_VECTORCALL`` on its callable classes at import (src/vectorcall.rs).
Clearing that flag (with ``ctypes``, then ``PyType_Modified``) sends every call back through
``tp_call``: CPython packs the arguments into a tuple and PyO3 parses it, exactly as before
vectorcall was added. So A and B run in one process, interleaved round by round (A B, B A, ...),
on the same objects; the paired difference per round is what vectorcall saves per call.

Each case calls its object ``CALLS`` times from a Python loop with a trivial Python app inside,
so the difference is the call entry alone: in the stack it is the sum of its four layers.
``--ir`` runs each case under ``valgrind --tool=callgrind`` at two call counts in each mode and
prints the instructions per call (deterministic with ``PYTHONHASHSEED=0``, which it sets).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import rswsgi

# Include/object.h.
HAVE_VECTORCALL = 1 << 11
# offsetof(PyTypeObject, tp_flags) on 64-bit CPython 3.10-3.13: 21 pointer-sized fields before it.
TP_FLAGS = 21 * ctypes.sizeof(ctypes.c_void_p)

HEADERS = [("Content-Type", "application/octet-stream")]  # not reversed: a pass-through
BODY = [b"ok"]


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", HEADERS)
    return BODY


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


class Discard:
    def write(self, text: str) -> None:
        pass


def routed(inner: Any) -> Any:
    router = rswsgi.Router()
    router.add("/", inner)
    return router


# name -> (the callable around `app`, how many rswsgi layers it has)
CASES: dict[str, tuple[Callable[[Any], Any], int]] = {
    "Router": (routed, 1),
    "log_environ": (lambda a: rswsgi.log_environ(a, stream=Discard()), 1),
    "handle_error": (rswsgi.handle_error, 1),
    "wrap_query_params": (rswsgi.wrap_query_params, 1),
    "reverser": (rswsgi.reverser, 1),
    "stack": (
        lambda a: rswsgi.log_environ(
            rswsgi.handle_error(rswsgi.wrap_query_params(rswsgi.reverser(a))), stream=Discard()
        ),
        4,
    ),
}


def environ() -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "wsgi.errors": Discard()}


def classes() -> list[type]:
    """Every class whose flag the A/B toggles: the exported ones, and the response filter's
    callables, found by running one filtered request."""
    found: set[type] = {rswsgi.Router, rswsgi.log_environ, rswsgi.handle_error}
    found |= {rswsgi.wrap_query_params, rswsgi.reverser}

    def spy(environ: dict[str, Any], sr: Any) -> list[bytes]:
        found.add(type(sr))
        write = sr("200 OK", HEADERS)
        if callable(write) and not hasattr(write, "__self__"):
            found.add(type(write))
        return BODY

    list(rswsgi.reverser(spy)(environ(), start_response))
    return [c for c in found if c.__flags__ & HAVE_VECTORCALL]


def set_vectorcall(types: list[type], on: bool) -> None:
    for cls in types:
        flags = ctypes.c_ulong.from_address(id(cls) + TP_FLAGS)
        assert flags.value == cls.__flags__, f"tp_flags not at {TP_FLAGS} in this build"
        flags.value = flags.value | HAVE_VECTORCALL if on else flags.value & ~HAVE_VECTORCALL
        ctypes.pythonapi.PyType_Modified(ctypes.py_object(cls))


def timed(obj: Any, n: int) -> float:
    env, sr = environ(), start_response
    gc.collect()
    gc.disable()
    try:
        t = time.perf_counter_ns()
        for _ in range(n):
            obj(env, sr)
        return (time.perf_counter_ns() - t) / n
    finally:
        gc.enable()


def ab(name: str, types: list[type], rounds: int, calls: int) -> None:
    make, layers = CASES[name]
    obj = make(app)
    samples: dict[bool, list[float]] = {False: [], True: []}
    for r in range(rounds + 2):
        for on in (False, True) if r % 2 == 0 else (True, False):
            set_vectorcall(types, on)
            t = timed(obj, calls)
            if r >= 2:  # two warm-up rounds
                samples[on].append(t)
    set_vectorcall(types, True)
    a, b = statistics.median(samples[False]), statistics.median(samples[True])
    saved = sorted(x - y for x, y in zip(samples[False], samples[True], strict=True))
    q = statistics.quantiles(saved, n=4)
    print(
        f"| {name} | {a:,.0f} ns | {b:,.0f} ns | {statistics.median(saved):,.1f} ns "
        f"({q[0]:,.1f}–{q[2]:,.1f}) | {statistics.median(saved) / layers:,.1f} ns |"
    )


def ir(name: str) -> None:
    """Instructions per call in each mode: (Ir at 21k calls - Ir at 1k calls) / 20k."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}

    def total(on: bool, n: int) -> int:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
            + [__file__, "--one", name, str(int(on)), str(n)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stderr
        line = next(ln for ln in out.splitlines() if "Collected" in ln)
        return int(line.split()[-1])

    per = {on: (total(on, 21_000) - total(on, 1_000)) / 20_000 for on in (False, True)}
    layers = CASES[name][1]
    print(
        f"| {name} | {per[False]:,.0f} | {per[True]:,.0f} | {per[False] - per[True]:,.0f} "
        f"| {(per[False] - per[True]) / layers:,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", default=list(CASES))
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--ir", action="store_true", help="callgrind instructions per call")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # NAME ON N, under callgrind
    args = parser.parse_args()
    types = classes()
    if args.one:
        name, on, n = args.one
        obj = CASES[name][0](app)
        set_vectorcall(types, on == "1")
        env = environ()
        for _ in range(int(n)):
            obj(env, start_response)
        return
    print(f"CPython {sys.version.split()[0]}; classes toggled: {sorted(c.__name__ for c in types)}")
    if args.ir:
        print("| case | Ir/call tp_call | Ir/call vectorcall | saved | saved per layer |")
        print("|---|---:|---:|---:|---:|")
        for name in args.cases:
            ir(name)
        return
    print("| case | tp_call | vectorcall | saved (IQR) | saved per layer |")
    print("|---|---:|---:|---:|---:|")
    for name in args.cases:
        ab(name, types, args.rounds, args.calls)


if __name__ == "__main__":
    main()
