"""Router dispatch overhead on the GitHub API table: rswsgi vs pymatchit, werkzeug, falcon, Routes.

    python bench/bench_router.py [--quick] [--rounds N]

What is timed, per implementation, is a WSGI dispatch: ``dispatch(environ, start_response)``
that finds the route, stores ``environ['wsgiorg.routing_args'] = ((), params)`` and calls the
route's app (a tiny Python WSGI app). The *overhead* is that time minus a direct call of the
same app on the same kind of environ, measured in the same round (paired difference, then the
median over rounds). For 404/405 the baseline is a direct call of a tiny app answering the same
404/405 (start_response + a one-chunk list), so the overhead is what the router adds to
producing the error response itself.

Fresh environ dicts: every pass gets new copies of the environ templates, built before the
timer starts (the routers write ``wsgiorg.routing_args`` into them). The response list is not
iterated (it is the same one-element list for every implementation).

pymatchit (a bare PyO3 binding of matchit) is timed twice: "pymatchit (bare at())" is only
``router.at(environ['PATH_INFO'])`` in the timed loop, then the case's app called directly (no
method dispatch, no ``routing_args``, no app looked up), so its overhead is the bare lookup;
"pymatchit + Python dispatch" is the whole contract written around it in Python.

Before timing, every router is asked every path and must give the same route and params (and
for 404/405 the same status and ``Allow`` set); any disagreement exits with status 1.

``--profile NAME --requests N`` runs N hits through one router (or ``direct``) once, untimed,
for ``valgrind --tool=callgrind``: the difference of two such runs' instruction counts, divided
by the difference in N, is the instructions per request (deterministic, unlike wall clock).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import falcon.routing
import pymatchit
import routes
import rswsgi
from _common import (
    environment,
    floor,
    overhead_table,
    run_rounds,
    target_line,
)
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

DATA = Path(__file__).with_name("data") / "github_routes_methods.txt"
PARAM = re.compile(r"\{(\w+)\}")

# Values filled into `{param}`s: none equals a static segment of the table.
VALUES = {
    "owner": "octo",
    "repo": "hello-world",
    "id": "42",
    "number": "1347",
    "sha": "6dcb09b5b5",
    "org": "acme",
    "user": "alice",
    "name": "bug-label",
    "ref": "heads-main",
    "keyword": "rust",
    "email": "a@example.com",
    "client_id": "cid123",
    "access_token": "tok456",
    "assignee": "bob",
    "branch": "main",
    "state": "open",
    "target_user": "carol",
    "repository": "repo2",
}

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]
Dispatch = Callable[[Environ, StartResponse], Any]
HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "2")]


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


def make_app(tag: bytes) -> App:
    body = [tag]

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", HEADERS)
        return body

    return app


def make_error_app(status: str) -> App:
    body = [status.encode() + b"\n"]
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body[0])))]

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response(status, headers)
        return body

    return app


def load_table() -> list[tuple[str, str]]:
    """(method, path) pairs, in file order."""
    out = []
    for line in DATA.read_text().splitlines():
        if line.strip():
            method, path = line.split()
            out.append((method, path))
    return out


def fill(pattern: str) -> str:
    return PARAM.sub(lambda m: VALUES[m.group(1)], pattern)


# The methods rswsgi's server puts in REQUEST_METHOD as interned strs (src/server/environ.rs,
# `method_str`); any other method is a str of its own, as from most servers.
SERVER_INTERNED = ("GET", "POST", "HEAD", "PUT", "DELETE")


def template(method: str, path: str) -> Environ:
    """An environ as rswsgi's server builds it for `method` and `path`."""
    return {
        "REQUEST_METHOD": sys.intern(method) if method in SERVER_INTERNED else method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8888",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8888",
        "HTTP_ACCEPT": "application/json",
        "HTTP_USER_AGENT": "bench/1.0",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


# --- the routers -------------------------------------------------------------------------


def build_rswsgi(table_: list[tuple[str, str]], apps: dict[tuple[str, str], App]) -> Dispatch:
    router = rswsgi.Router()
    for method, path in table_:
        router.add(path, apps[method, path], methods=[method])
    return router


def error_response(status: str, allow: Iterable[str] | None = None) -> Dispatch:
    """What a hand-written 404/405 looks like (werkzeug's own Response is far slower)."""
    body = [status.encode() + b"\n"]
    base = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body[0])))]

    def respond(environ: Environ, start_response: StartResponse) -> list[bytes]:
        headers = list(base)
        if allow is not None:
            headers.append(("Allow", ", ".join(sorted(allow))))
        start_response(status, headers)
        return body

    return respond


NOT_FOUND = error_response("404 Not Found")


def build_werkzeug(table_: list[tuple[str, str]], apps: dict[tuple[str, str], App]) -> Dispatch:
    url_map = Map(
        [Rule(PARAM.sub(r"<\1>", p), methods=[m], endpoint=apps[m, p]) for m, p in table_]
    )

    def dispatch(environ: Environ, start_response: StartResponse) -> Any:
        try:
            app, values = url_map.bind_to_environ(environ).match()
        except NotFound:
            return NOT_FOUND(environ, start_response)
        except MethodNotAllowed as e:
            allow = e.valid_methods or ()
            return error_response("405 Method Not Allowed", allow)(environ, start_response)
        environ["wsgiorg.routing_args"] = ((), values)
        return app(environ, start_response)

    return dispatch


class _Resource:
    """A falcon resource whose ``on_<method>`` attributes are our WSGI apps."""


def build_falcon(table_: list[tuple[str, str]], apps: dict[tuple[str, str], App]) -> Dispatch:
    router = falcon.routing.CompiledRouter()
    resources: dict[str, _Resource] = {}
    for method, path in table_:
        setattr(resources.setdefault(path, _Resource()), "on_" + method.lower(), apps[method, path])
    for path, resource in resources.items():
        router.add_route(path, resource)
    find = router.find

    def dispatch(environ: Environ, start_response: StartResponse) -> Any:
        found = find(environ["PATH_INFO"])
        if found is None:
            return NOT_FOUND(environ, start_response)
        method_map, params = found[1], found[2]
        environ["wsgiorg.routing_args"] = ((), params)
        return method_map[environ["REQUEST_METHOD"]](environ, start_response)

    return dispatch


def build_routes(table_: list[tuple[str, str]], apps: dict[tuple[str, str], App]) -> Dispatch:
    mapper = routes.Mapper()
    by_tag: dict[str, App] = {}
    for method, path in table_:
        tag = f"{method} {path}"
        by_tag[tag] = apps[method, path]
        mapper.connect(None, path, controller=tag, conditions={"method": [method]})
    match = mapper.match

    def dispatch(environ: Environ, start_response: StartResponse) -> Any:
        found = match(environ=environ)
        if found is None:
            return NOT_FOUND(environ, start_response)
        params = dict(found)
        app = by_tag[params.pop("controller")]
        params.pop("action", None)
        environ["wsgiorg.routing_args"] = ((), params)
        return app(environ, start_response)

    return dispatch


class DictRouter:
    """What a Python user writes: a dict for static paths, and for paths with ``{params}`` one
    list of compiled regexes per segment count, most specific first (a static segment beats a
    param at the same depth, as in matchit and werkzeug)."""

    def __init__(self, table_: list[tuple[str, str]], apps: dict[tuple[str, str], App]) -> None:
        self.static: dict[str, dict[str, App]] = {}
        dynamic: dict[str, dict[str, App]] = {}
        for method, path in table_:
            target = dynamic if "{" in path else self.static
            methods = target.setdefault(path, {})
            methods[method] = apps[method, path]
            if method == "GET":
                methods.setdefault("HEAD", apps[method, path])
        self.dynamic: dict[int, list[tuple[re.Pattern[str], dict[str, App]]]] = {}

        def specificity(path: str) -> list[int]:
            return [1 if "{" in seg else 0 for seg in path.split("/")]

        for path in sorted(dynamic, key=specificity):
            rx = re.compile(PARAM.sub(r"(?P<\1>[^/]+)", path) + r"\Z")
            self.dynamic.setdefault(path.count("/"), []).append((rx, dynamic[path]))

    def __call__(self, environ: Environ, start_response: StartResponse) -> Any:
        path = environ["PATH_INFO"]
        params: dict[str, str] = {}
        methods = self.static.get(path)
        if methods is None:
            for rx, candidate in self.dynamic.get(path.count("/"), ()):
                m = rx.match(path)
                if m is not None:
                    methods, params = candidate, m.groupdict()
                    break
            else:
                return NOT_FOUND(environ, start_response)
        app = methods.get(environ["REQUEST_METHOD"])
        if app is None:
            return error_response("405 Method Not Allowed", methods)(environ, start_response)
        environ["wsgiorg.routing_args"] = ((), params)
        return app(environ, start_response)


def build_floor(table_: list[tuple[str, str]], apps: dict[tuple[str, str], App]) -> Dispatch:
    """The PyO3 cost floor (bench/floor): the contract's object work, no matching."""
    by_path: dict[str, tuple[list[tuple[str, str]], dict[str, App]]] = {}
    for method, pattern in table_:
        params = [(k, VALUES[k]) for k in PARAM.findall(pattern)]
        by_path.setdefault(fill(pattern), (params, {}))[1][method] = apps[method, pattern]
    router: Dispatch = floor.Floor(by_path)
    return router


class PyMatchit:
    """pymatchit's ``PyRouter``: each distinct path's value is its ``{method: app}`` dict.

    ``lookup`` is the bare ``at()``, timed as such (see the module doc). Calling the object is
    the contract written in Python around it (method dispatch, 404/405, ``routing_args``, the
    app call): the cross-check asks it every case, so pymatchit's own answers (which value,
    which params) are checked like every router's.
    """

    def __init__(self, table_: list[tuple[str, str]], apps: dict[tuple[str, str], App]) -> None:
        by_path: dict[str, dict[str, App]] = {}
        for method, path in table_:
            methods = by_path.setdefault(path, {})
            methods[method] = apps[method, path]
            if method == "GET":
                methods.setdefault("HEAD", apps[method, path])
        router: Any = pymatchit.PyRouter()  # type: ignore[attr-defined]
        for path, methods in by_path.items():
            router.insert(path, methods)
        self.lookup: Callable[[str], tuple[dict[str, App], dict[str, str]] | None] = router.at

    def __call__(self, environ: Environ, start_response: StartResponse) -> Any:
        found = self.lookup(environ["PATH_INFO"])
        if found is None:
            return NOT_FOUND(environ, start_response)
        methods, params = found
        app = methods.get(environ["REQUEST_METHOD"])
        if app is None:
            return error_response("405 Method Not Allowed", methods)(environ, start_response)
        environ["wsgiorg.routing_args"] = ((), params)
        return app(environ, start_response)


class BareLookup:
    """Marks a row whose timed loop is ``lookup(environ['PATH_INFO'])`` then the app, direct."""

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self.lookup = lookup


FLOOR = "(PyO3 floor: no matching)"
PYMATCHIT_BARE = "pymatchit (bare at())"
PYMATCHIT = "pymatchit + Python dispatch"

BUILDERS: dict[str, Callable[[list[tuple[str, str]], dict[tuple[str, str], App]], Dispatch]] = {
    "rswsgi": build_rswsgi,
    PYMATCHIT: PyMatchit,
    "werkzeug": build_werkzeug,
    "falcon": build_falcon,
    "Routes": build_routes,
    "Python dict+regex": DictRouter,
}

# --- cases -------------------------------------------------------------------------------


class Case:
    """One request and what every router must answer."""

    def __init__(self, method: str, path: str, expect: tuple[Any, ...]) -> None:
        self.method, self.path, self.expect = method, path, expect


def hit_cases(table_: list[tuple[str, str]]) -> list[Case]:
    return [
        Case(m, fill(p), ("200 OK", f"{m} {p}".encode(), {k: VALUES[k] for k in PARAM.findall(p)}))
        for m, p in table_
    ]


def pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = PARAM.split(pattern)  # static, name, static, name, ...
    return re.compile(
        "".join(re.escape(x) if i % 2 == 0 else "[^/]+" for i, x in enumerate(parts)) + r"\Z"
    )


def matches_any(table_: list[tuple[str, str]], path: str) -> bool:
    """Whether some pattern of the table matches `path` (brute force, the reference)."""
    return any(pattern_regex(p).match(path) for _, p in table_)


def miss_cases(table_: list[tuple[str, str]]) -> tuple[list[Case], list[Case]]:
    paths = sorted({p for _, p in table_})
    not_found: list[Case] = []
    for i, p in enumerate(paths):
        # half fail at the first segment, half after walking the whole path
        concrete = "/zzz-nope" + fill(p) if i % 2 else fill(p) + "/zzz/nope"
        if not matches_any(table_, concrete):
            not_found.append(Case("GET", concrete, ("404 Not Found",)))
    not_allowed: list[Case] = []
    for p in paths:
        methods = {m for m, q in table_ if q == p}
        wrong = next(m for m in ("PATCH", "PUT", "DELETE", "POST", "OPTIONS") if m not in methods)
        allow = methods | ({"HEAD"} if "GET" in methods else set())
        not_allowed.append(Case(wrong, fill(p), ("405 Method Not Allowed", frozenset(allow))))
    return not_found, not_allowed


def observe(dispatch: Dispatch, case: Case) -> tuple[Any, ...]:
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def sr(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen.append((status, headers))

    environ = template(case.method, case.path)
    body = list(dispatch(environ, sr))
    status, headers = seen[0]
    if status.startswith("200"):
        return (status, body[0], environ["wsgiorg.routing_args"][1])
    if status.startswith("405"):
        allow = next(v for k, v in headers if k.lower() == "allow")
        return (status, frozenset(a.strip() for a in allow.split(",")))
    return (status,)


def cross_check(routers: dict[str, Dispatch], cases: list[Case]) -> list[str]:
    errors = []
    for name, dispatch in routers.items():
        for case in cases:
            try:
                got = observe(dispatch, case)
            except Exception as e:  # noqa: BLE001 - any failure is a disagreement
                got = (f"raised {e!r}",)
            if got != case.expect:
                errors.append(
                    f"{name}: {case.method} {case.path}: got {got!r}, want {case.expect!r}"
                )
    return errors


# --- timing ------------------------------------------------------------------------------


def make_pass(
    dispatch: Dispatch | BareLookup | None, cases: list[Case], apps: list[App], reps: int
) -> Callable[[], tuple[int, int]]:
    """A pass over `cases` × `reps`; `dispatch=None` calls each case's own app directly, a
    `BareLookup` runs its lookup on ``PATH_INFO`` and then the case's own app.

    Before its timer starts, a pass runs its own loop twice over every case (fresh environs,
    untimed): otherwise the pass that follows a different implementation in the round pays
    for warming the caches with its code and data (measured: 8-10% on a router hit, the same
    build timed twice in one run; with the warm-up, within the noise).
    """
    templates = [template(c.method, c.path) for c in cases]
    app_list = apps * reps
    loop = make_loop(dispatch)

    def run() -> tuple[int, int]:
        # fresh environs, untimed
        warm = list(zip([dict(t) for t in templates * 2], apps * 2, strict=True))
        pairs = list(zip([dict(t) for t in templates * reps], app_list, strict=True))
        n = len(pairs)
        loop(warm)
        t0 = time.perf_counter_ns()
        loop(pairs)
        return time.perf_counter_ns() - t0, n

    return run


def make_loop(
    dispatch: Dispatch | BareLookup | None,
) -> Callable[[list[tuple[Environ, App]]], None]:
    """The timed loop over `(environ, case's app)` pairs (see `make_pass`).

    It pops each pair off the end of the list, so each environ, and whatever the router put
    in it, is freed as the next request starts, as a server frees a request's environ: the
    next request's objects then come from the memory just freed, as they would in a server,
    for every row alike (for a bare lookup, whose result is dropped at once, they always did).
    """
    sr = start_response
    if dispatch is None:

        def direct(pairs: list[tuple[Environ, App]]) -> None:
            pop = pairs.pop
            for _ in range(len(pairs)):
                env, app = pop()
                app(env, sr)

        return direct
    if isinstance(dispatch, BareLookup):
        at = dispatch.lookup

        def lookup(pairs: list[tuple[Environ, App]]) -> None:
            pop = pairs.pop
            for _ in range(len(pairs)):
                env, app = pop()
                at(env["PATH_INFO"])
                app(env, sr)

        return lookup
    d = dispatch

    def routed(pairs: list[tuple[Environ, App]]) -> None:
        pop = pairs.pop
        for _ in range(len(pairs)):
            env, _app = pop()
            d(env, sr)

    return routed


def measure(
    title: str,
    routers: dict[str, Dispatch | BareLookup],
    cases: list[Case],
    direct_apps: list[App],
    reps: int,
    rounds: int,
) -> tuple[str, dict[str, float]]:
    passes = {"(direct app call)": make_pass(None, cases, direct_apps, reps)}
    passes.update({n: make_pass(d, cases, direct_apps, reps) for n, d in routers.items()})
    samples = run_rounds(passes, rounds)
    head = ["router", "median ns/request", "overhead (median)", "overhead IQR", "× rswsgi"]
    rows_md, over = overhead_table(samples, "(direct app call)", head)
    text = f"### {title}\n\n{len(cases)} paths × {reps} per pass, {rounds} rounds\n\n"
    return text + rows_md, over


def profile(name: str, kind: str, requests: int) -> int:
    """Runs `requests` cases of `kind` (``hit``, ``404`` or ``405``: the cases in order,
    repeated) through router `name` once, untimed.

    For callgrind, shaped as a timed pass: the environs are copied before the loop, the loop
    is the pass's loop (each environ freed as the next request starts), the cyclic GC is off,
    and the process ends with ``os._exit`` right after it. ``direct`` calls each case's own
    app (for 404/405, the tiny app answering the same error); the bare pymatchit row runs its
    lookup, then the app.
    """
    table_ = load_table()
    tags = {(m, p): make_app(f"{m} {p}".encode()) for m, p in table_}
    routers = hit_rows(table_, tags)
    if name != "direct" and name not in routers:
        print(f"--profile: no router {name!r}; one of: direct, {', '.join(routers)}")
        return 2
    if kind == "hit":
        cases, apps = hit_cases(table_), [tags[m, p] for m, p in table_]
    else:
        not_found, not_allowed = miss_cases(table_)
        cases = not_found if kind == "404" else not_allowed
        apps = [make_error_app(cases[0].expect[0])] * len(cases)
    gc.collect()
    gc.disable()  # also while the environs are made: a collection would walk them all
    pairs = [(template(c.method, c.path), app) for c, app in zip(cases, apps, strict=True)]
    pairs = [(dict(env), app) for _ in range(-(-requests // len(cases))) for env, app in pairs]
    make_loop(routers.get(name))(pairs)
    sys.stdout.flush()
    os._exit(0)


def hit_rows(
    table_: list[tuple[str, str]], tags: dict[tuple[str, str], App]
) -> dict[str, Dispatch | BareLookup]:
    """Every row of the hit table, in table order (the floor row if bench/floor is built)."""
    routers: dict[str, Dispatch | BareLookup] = {}
    for name, build in BUILDERS.items():
        router = build(table_, tags)
        if isinstance(router, PyMatchit):
            routers[PYMATCHIT_BARE] = BareLookup(router.lookup)
        routers[name] = router
    if floor is not None:
        routers[FLOOR] = build_floor(table_, tags)
    return routers


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short smoke run (few rounds)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--json", metavar="PATH", help="also write {table: {impl: overhead ns}}")
    ap.add_argument(
        "--dump-hits",
        metavar="PATH",
        help="write 'pattern<TAB>path' per hit, for bench/floor's matchit_github, and exit",
    )
    ap.add_argument(
        "--profile",
        metavar="NAME",
        help="run hits through one router (a row name, or 'direct') once, untimed, and exit",
    )
    ap.add_argument(
        "--cases", choices=("hit", "404", "405"), default="hit", help="what --profile runs"
    )
    ap.add_argument("--requests", type=int, default=10_000, help="requests for --profile")
    args = ap.parse_args()
    if args.dump_hits:
        lines = [f"{p}\t{fill(p)}\n" for _, p in load_table()]
        Path(args.dump_hits).write_text("".join(lines))
        return 0
    if args.profile:
        return profile(args.profile, args.cases, args.requests)
    rounds = args.rounds or (3 if args.quick else 61)
    reps = 1 if args.quick else 4

    table_ = load_table()
    tags = {(m, p): make_app(f"{m} {p}".encode()) for m, p in table_}
    hit_routers = hit_rows(table_, tags)
    routers = {n: r for n, r in hit_routers.items() if not isinstance(r, BareLookup)}
    hits = hit_cases(table_)
    not_found, not_allowed = miss_cases(table_)
    # every dispatching row on the hits (the bare row is pymatchit's own router, checked
    # through its dispatch); every router but the floor on the 404s; the 405s where the
    # router answers them itself (falcon and Routes are wired to 404 only)
    miss_names = ("rswsgi", PYMATCHIT, "werkzeug", "Python dict+regex")
    errors = cross_check(routers, hits)
    errors += cross_check({n: r for n, r in routers.items() if n != FLOOR}, not_found)
    errors += cross_check({n: routers[n] for n in miss_names}, not_allowed)
    if errors:
        print(f"{len(errors)} disagreements between routers:", file=sys.stderr)
        for e in errors[:40]:
            print("  " + e, file=sys.stderr)
        return 1

    print(f"<!-- {environment()} -->\n")
    print(
        f"Route table: {len(table_)} routes, {len({p for _, p in table_})} distinct paths; "
        f"cross-check passed on {len(hits)} hits, {len(not_found)} 404s, {len(not_allowed)} 405s.\n"
    )
    text, hit = measure(
        "Hit (route found, app called)",
        hit_routers,
        hits,
        [tags[m, p] for m, p in table_],
        reps,
        rounds,
    )
    print(text + "\n")
    miss_routers: dict[str, Dispatch | BareLookup] = {n: routers[n] for n in miss_names}
    text, nf = measure(
        "404 (no route)",
        miss_routers,
        not_found,
        [make_error_app("404 Not Found")] * len(not_found),
        reps,
        rounds,
    )
    print(text + "\n")
    text, na = measure(
        "405 (path matches, method does not)",
        miss_routers,
        not_allowed,
        [make_error_app("405 Method Not Allowed")] * len(not_allowed),
        reps,
        rounds,
    )
    print(text + "\n")

    r = hit["rswsgi"]
    print("### Targets\n")
    print(
        target_line(
            "rswsgi dispatch overhead ≤ 1.0× pymatchit's bare at() (rswsgi / pymatchit)",
            r / hit[PYMATCHIT_BARE],
            1.0,
            False,
        )
    )
    print(target_line("≥ 2.5× faster than falcon (×)", hit["falcon"] / r, 2.5, True))
    print(target_line("≥ 30× faster than werkzeug (×)", hit["werkzeug"] / r, 30, True))
    if FLOOR in hit:
        print(
            target_line(
                "within 1.15× of the PyO3 floor (rswsgi / floor)", r / hit[FLOOR], 1.15, False
            )
        )
    print(
        target_line(
            "404 within 1.5× of a hit (404 overhead / hit overhead)", nf["rswsgi"] / r, 1.5, False
        )
    )
    print(
        target_line(
            "405 within 1.5× of a hit (405 overhead / hit overhead)", na["rswsgi"] / r, 1.5, False
        )
    )
    if FLOOR in hit:
        print(
            f"\nThe PyO3 floor (the contract's object work, no matching) is {hit[FLOOR]:,.0f} ns; "
            f"rswsgi adds {r - hit[FLOOR]:,.0f} ns to it (matchit, method table, path decoding)."
        )
    if args.json:
        results = {"Router hit": hit, "Router 404": nf, "Router 405": na}
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
