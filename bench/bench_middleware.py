"""rswsgi middleware vs hand-written PEP 3333 Python (``pymiddleware.py``) and the seed code.

    python bench/bench_middleware.py [--quick] [--rounds N]

Each request is driven as a server drives it: ``result = app(environ, start_response)``, the
iterable consumed fully, then ``result.close()`` if it exists. The *overhead* of a middleware is
the time of a request through it minus the time of the same request to the bare app, measured
in the same round (paired difference; median over rounds). Fresh environ dicts are built for
every pass before the timer starts (``wrap_query_params`` writes into them); the log stream is
emptied between passes, outside the timer.

Before timing, rswsgi and the hand-written Python versions must give the same status, headers,
body, log text and query dict on every case; any disagreement exits with status 1. The naive
(seed article) versions are checked only where their output is meant to be the same.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pymiddleware as pym
import rswsgi
from _common import (
    environment,
    floor,
    overhead_table,
    run_rounds,
    serve_all,
    target_line,
)

# A plain PyO3 dump doing less than log_environ (bench/floor): one write of `key: value` lines,
# unsorted, str values raw, repr() for others; not cross-checked (its text differs on purpose).
LOG_FLOOR = "(plain PyO3: unsorted, unescaped, repr())"

Environ = dict[str, Any]
App = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]


def _write(data: bytes) -> None:
    return None


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return _write


def environ_30(query: str = "") -> Environ:
    """A realistic environ as gunicorn/waitress build it for a browser request (32 keys)."""
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/repos/octo/hello-world/issues",
        "QUERY_STRING": query,
        "CONTENT_TYPE": "",
        "CONTENT_LENGTH": "",
        "SERVER_NAME": "api.example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "bench/1.0",
        "REMOTE_ADDR": "203.0.113.7",
        "REMOTE_PORT": "51234",
        "RAW_URI": "/repos/octo/hello-world/issues" + ("?" + query if query else ""),
        "HTTP_HOST": "api.example.com",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.7,fr;q=0.3",
        "HTTP_ACCEPT_ENCODING": "gzip, deflate, br, zstd",
        "HTTP_CONNECTION": "keep-alive",
        "HTTP_COOKIE": "session=3f9a1c; theme=dark; _ga=GA1.2.1234567890.1700000000",
        "HTTP_AUTHORIZATION": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.secret",
        "HTTP_REFERER": "https://api.example.com/repos/octo/hello-world",
        "HTTP_CACHE_CONTROL": "max-age=0",
        "HTTP_UPGRADE_INSECURE_REQUESTS": "1",
        "HTTP_SEC_FETCH_MODE": "navigate",
        "HTTP_X_FORWARDED_FOR": "198.51.100.23",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


# The values a server passes as the same objects in every environ: its own constants (as
# rswsgi.dev does: it interns the method, the protocol and the empty SCRIPT_NAME, and copies the
# rest from one template). Every other value is made anew per request, as from the request's
# bytes: a new str with the same text, and a new wsgi.input.
SERVER_CONSTANTS = frozenset(
    {
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "SERVER_SOFTWARE",
        "wsgi.version",
        "wsgi.url_scheme",
        "wsgi.errors",
        "wsgi.multithread",
        "wsgi.multiprocess",
        "wsgi.run_once",
    }
)


def served(template: Environ, n: int | None = None) -> Environ:
    """One request's environ from `template`, as a server builds it (see SERVER_CONSTANTS).

    With `n`, every value made per request also has a text of its own (`-n` appended), so
    nothing repeats from the request before."""
    env = dict(template)
    tail = "." if n is None else f"-{n}."
    for key, value in template.items():
        if key not in SERVER_CONSTANTS and isinstance(value, str):
            env[key] = (value + tail)[:-1]  # a new str object
    env["wsgi.input"] = io.BytesIO()
    return env


SHORT_QS = "a=1&b=2"
LONG_QS = "&".join(f"{quote(f'clé {i}/ü')}={quote(f'valeur {i} & 👍🏽 = ok')}+x" for i in range(50))
CHUNK = 8192
TEXT_UNIT = "Hello, wörld! Ça va? 👍🏽 e\u0301 naïve — ok.\n"  # ASCII mostly, a few clusters


def text_body(size: int) -> list[bytes]:
    """A text/plain body of exactly `size` bytes (valid UTF-8), in 8 KiB chunks."""
    if size == 13:
        return [b"Hello World!\n"]
    unit = TEXT_UNIT.encode()
    raw = (unit * (size // len(unit) + 1))[:size]
    while True:  # cut back to a character boundary, pad with ASCII
        try:
            raw.decode()
            break
        except UnicodeDecodeError:
            raw = raw[:-1]
    raw += b"." * (size - len(raw))
    return [raw[i : i + CHUNK] for i in range(0, len(raw), CHUNK)]


def make_app(body: list[bytes], content_type: str = "text/plain") -> App:
    length = str(sum(map(len, body)))

    def app(environ: Environ, start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", length)])
        return body

    return app


# --- cases -------------------------------------------------------------------------------


@dataclass
class Case:
    title: str
    environ: Environ
    bare: App
    impls: dict[str, App]
    calls: int  # requests per pass
    stream: io.StringIO | None = None
    check: list[str] = field(default_factory=lambda: ["rswsgi", "Python (PEP 3333)"])
    key: str | None = None  # environ key the middleware sets, compared too
    rounds_scale: float = 1.0
    vary: bool = False  # each request's values differ from the last one's


def cases(stream: io.StringIO) -> list[Case]:
    hello = make_app([b"Hello World!\n"])
    log_impls: dict[str, App] = {
        "rswsgi": rswsgi.log_environ(hello, stream=stream),
        "Python (PEP 3333)": pym.py_log_environ(hello, stream=stream),
        "seed: pprint.pformat": pym.naive_log_environ(hello, stream),
    }
    if floor is not None:
        log_impls[LOG_FLOOR] = floor.LogFloor(hello, stream)
    out = [
        Case(
            "log_environ (32-key environ, to io.StringIO)",
            environ_30(),
            hello,
            log_impls,
            calls=200,
            stream=stream,
        ),
        Case(
            "log_environ, no value repeated from the request before",
            environ_30(),
            hello,
            dict(log_impls),
            calls=200,
            stream=stream,
            vary=True,
        ),
    ]
    for name, qs in (("short `a=1&b=2`", SHORT_QS), ("50 percent-encoded pairs", LONG_QS)):
        out.append(
            Case(
                f"wrap_query_params, {name}",
                environ_30(qs),
                hello,
                {
                    "rswsgi": rswsgi.wrap_query_params(hello, key="QUERY_PARAMS"),
                    "Python (PEP 3333)": pym.py_wrap_query_params(hello, key="QUERY_PARAMS"),
                    "seed: parse_qs": pym.naive_wrap_query_params(hello),
                },
                calls=500 if qs == SHORT_QS else 100,
                key="QUERY_PARAMS",
                check=["rswsgi", "Python (PEP 3333)", "seed: parse_qs"],
            )
        )
    for label, size, calls, scale in (
        ("13 B", 13, 500, 1.0),
        ("10 KB", 10_000, 20, 1.0),
        ("1 MB", 1_000_000, 1, 0.25),
    ):
        app = make_app(text_body(size))
        out.append(
            Case(
                f"reverser, {label} text/plain body",
                environ_30(),
                app,
                {
                    "rswsgi": rswsgi.reverser(app),
                    "Python (PEP 3333, regex \\X)": pym.py_reverser(app),
                    "seed: bytes [::-1]": pym.naive_reverser(app),
                },
                calls=calls,
                check=["rswsgi", "Python (PEP 3333, regex \\X)"]
                + (["seed: bytes [::-1]"] if size == 13 else []),
                rounds_scale=scale,
            )
        )
    json_app = make_app([b'{"ok": true}\n'], "application/json")
    out.append(
        Case(
            "reverser, pass-through (application/json list body)",
            environ_30(),
            json_app,
            {
                "rswsgi": rswsgi.reverser(json_app),
                "Python (PEP 3333, regex \\X)": pym.py_reverser(json_app),
                "seed: bytes [::-1]": pym.naive_reverser(json_app),
            },
            calls=500,
            check=["rswsgi", "Python (PEP 3333, regex \\X)", "seed: bytes [::-1]"],
        )
    )
    out.append(
        Case(
            "handle_error, pass-through (no exception)",
            environ_30(),
            hello,
            {
                "rswsgi": rswsgi.handle_error(hello),
                "Python (PEP 3333)": pym.py_handle_error(hello),
                "seed: try/except": pym.naive_handle_error(hello),
            },
            calls=500,
            check=["rswsgi", "Python (PEP 3333)", "seed: try/except"],
        )
    )
    out.append(
        Case(
            "full stack log_environ(handle_error(wrap_query_params(reverser(app)))), "
            "`a=1&b=2`, 13 B",
            environ_30(SHORT_QS),
            hello,
            {
                "rswsgi": rswsgi.log_environ(
                    rswsgi.handle_error(
                        rswsgi.wrap_query_params(rswsgi.reverser(hello), key="QUERY_PARAMS")
                    ),
                    stream=stream,
                ),
                "Python (PEP 3333)": pym.py_log_environ(
                    pym.py_handle_error(
                        pym.py_wrap_query_params(pym.py_reverser(hello), key="QUERY_PARAMS")
                    ),
                    stream=stream,
                ),
                "seed (pprint, bytes)": pym.naive_log_environ(
                    pym.naive_handle_error(pym.naive_wrap_query_params(pym.naive_reverser(hello))),
                    stream,
                ),
            },
            calls=200,
            stream=stream,
            key="QUERY_PARAMS",
        )
    )
    return out


# --- cross-check -------------------------------------------------------------------------


def observe(app: App, case: Case) -> tuple[Any, ...]:
    seen: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def sr(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append((status, sorted(headers)))
        return written.append

    if case.stream is not None:
        case.stream.seek(0)
        case.stream.truncate()
    environ = served(case.environ)
    result = app(environ, sr)
    try:
        body = b"".join(written) + b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    log = case.stream.getvalue() if case.stream is not None else None
    query = environ.get(case.key) if case.key else None
    return (seen[-1], body, log, query)


def cross_check(all_cases: list[Case]) -> list[str]:
    errors = []
    for case in all_cases:
        got = {name: observe(case.impls[name], case) for name in case.check}
        ref_name = case.check[0]
        for name, value in got.items():
            if value != got[ref_name]:
                errors.append(
                    f"{case.title}: {name} != {ref_name}:\n  {value!r:.400}\n  "
                    f"{got[ref_name]!r:.400}"
                )
    return errors


# --- timing ------------------------------------------------------------------------------


def make_pass(app: App, case: Case) -> Callable[[], tuple[int, int]]:
    stream = case.stream
    serial = itertools.count()
    envs_n = range(case.calls)

    def run() -> tuple[int, int]:
        if stream is not None:
            stream.seek(0)
            stream.truncate()
        # Fresh, untimed; a varying case counts on across passes, never repeating a text.
        envs = [served(case.environ, next(serial) if case.vary else None) for _ in envs_n]
        sr = start_response
        t0 = time.perf_counter_ns()
        serve_all(app, envs, sr)
        return time.perf_counter_ns() - t0, len(envs)

    return run


def measure(case: Case, rounds: int) -> tuple[str, dict[str, float]]:
    rounds = max(3, int(rounds * case.rounds_scale))
    passes = {"(bare app)": make_pass(case.bare, case)}
    passes.update({name: make_pass(app, case) for name, app in case.impls.items()})
    samples = run_rounds(passes, rounds, warmup=1)
    head = ["implementation", "median per request", "overhead (median)", "overhead IQR", "× rswsgi"]
    rows_md, over = overhead_table(samples, "(bare app)", head)
    text = f"### {case.title}\n\n{case.calls} requests per pass, {rounds} rounds\n\n"
    return text + rows_md, over


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short smoke run (few rounds)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--json", metavar="PATH", help="also write {table: {impl: overhead ns}}")
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.quick else 41)

    # The cross-check reads its log with getvalue(), which turns an io.StringIO from
    # collecting the written strs into copying every later write into a UCS-4 buffer; the
    # timed passes get cases of their own on a stream that never was read.
    errors = cross_check(cases(io.StringIO()))
    all_cases = cases(io.StringIO())
    if errors:
        print(f"{len(errors)} disagreements:", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1

    print(f"<!-- {environment()} -->\n")
    print(f"Cross-check passed on {len(all_cases)} cases.\n")
    results: dict[str, dict[str, float]] = {}
    for case in all_cases:
        if args.quick and case.rounds_scale < 1:
            case.calls = 1
        text, over = measure(case, rounds)
        results[case.title] = over
        print(text + "\n")

    def ratio(prefix: str, other: str) -> float:
        over = next(v for k, v in results.items() if k.startswith(prefix))
        return over[other] / over["rswsgi"]

    def over(prefix: str) -> float:
        return next(v for k, v in results.items() if k.startswith(prefix))["rswsgi"]

    print("### Targets (ratios of overheads, other / rswsgi; and rswsgi's overhead in ns)\n")
    for line in (
        ("log_environ ≥ 8× faster than the Python (PEP 3333) dump (×)", "log_environ", 8),
        (
            "full stack ≥ 7× faster than the Python (PEP 3333) stack (×)",
            "full stack",
            7,
        ),
    ):
        print(target_line(line[0], ratio(line[1], "Python (PEP 3333)"), line[2], True))
    print(
        target_line(
            "log_environ ≥ 10× faster than pprint (×)",
            ratio("log_environ", "seed: pprint.pformat"),
            10,
            True,
        )
    )
    print(
        target_line(
            "wrap_query_params ≥ 5× faster than parse_qs, 50 pairs (×)",
            ratio("wrap_query_params, 50", "seed: parse_qs"),
            5,
            True,
        )
    )
    print(
        target_line(
            "full stack ≥ 10× faster than the seed-style stack (pprint, bytes) (×)",
            ratio("full stack", "seed (pprint, bytes)"),
            10,
            True,
        )
    )
    for what, prefix in (
        ("handle_error pass-through ≤ 600 ns (ns)", "handle_error"),
        ("reverser, 13 B text/plain body ≤ 600 ns (ns)", "reverser, 13 B"),
        ("reverser pass-through, application/json ≤ 600 ns (ns)", "reverser, pass-through"),
    ):
        print(target_line(what, over(prefix), 600, False))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
