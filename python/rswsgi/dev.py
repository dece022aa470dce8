"""`python -m rswsgi.dev [MODULE:APP] [--host H] [--port P] [OPTIONS]`: the dev server CLI.

`MODULE:APP` names a WSGI application: `MODULE:NAME` (a dotted attribute path is
fine), `MODULE:factory()` (called with no arguments) or `MODULE` alone (its `app`,
else its `application`). The current directory is put first on `sys.path`, as
gunicorn and flask do. Without a target a built-in demo app is served.

A target that cannot be loaded is a one-line error on stderr and exit status 2.
Ctrl-C (SIGINT) or SIGTERM stops the server (exit status 0): it stops accepting and
gives the app call and the responses in flight `--shutdown-grace-ms` to finish (nothing
is raised inside the app); a second Ctrl-C or SIGTERM exits at once.
`--reload` serves the app from a child process restarted on every source change
(see `_reload`). `--debug` wraps the app, outermost, in `handle_error(debug=True)`.
`--cert FILE --key FILE` or `--cert adhoc` serve HTTPS (flask's flags; see `_tls`); a
certificate or key that cannot be served is a one-line error and exit status 2.
`--static PREFIX=DIR` (repeatable) wraps the app, outermost, in
`static_files({PREFIX: DIR, ...}, max_age=0)`: files under DIR are answered at PREFIX,
revalidated by the browser on every load (so an edited file shows at once), and
their access-log lines end with `static`. A DIR that is not a folder is a one-line
error and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from . import make_server
from ._devloop import broken_app, failing_files, format_error, generation, trimmed, wrap_app
from ._frameworks import error_page, folders, import_urlconf
from ._rswsgi import _limits
from ._tls import ADHOC, CertificateError, adhoc_banner, check

PROG = "python -m rswsgi.dev"


class TargetError(Exception):
    """The `MODULE:APP` target cannot be turned into a WSGI application.

    `error` is the exception raised by the user's code (importing the module or
    calling the factory), its traceback trimmed to the user's frames; `None` when
    the target itself is wrong (no such module or attribute)."""

    def __init__(self, message: str, error: BaseException | None = None) -> None:
        super().__init__(message)
        self.error = error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Serve a WSGI application with rswsgi's single-threaded dev server.",
    )
    parser.add_argument(
        "target",
        nargs="?",
        metavar="MODULE:APP",
        help="the application: MODULE:NAME, MODULE:factory() or MODULE "
        "(looks for 'app', then 'application'); default: a demo app",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=_port, default=8888, help="TCP port, 0-65535 (default: %(default)s)"
    )
    parser.add_argument(
        "--routes",
        action="store_true",
        help="print the rswsgi Router's routes and mounts (found through the middleware) and exit",
    )
    parser.add_argument("--quiet", action="store_true", help="no startup banner and no access log")
    parser.add_argument(
        "--reload",
        action="store_true",
        help="restart the app when a source file changes (the app runs in a child process)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="answer an exception with its traceback: an HTML page (source lines, request "
        "environ) for a browser, text for other clients; keep it to loopback hosts",
    )
    parser.add_argument(
        "--cert",
        metavar="FILE|adhoc",
        help="serve HTTPS with this PEM certificate (chain) file and --key; "
        "'adhoc': a self-signed certificate for localhost made at start",
    )
    parser.add_argument("--key", metavar="FILE", help="the PEM private key file of --cert")
    parser.add_argument(
        "--static",
        metavar="PREFIX=DIR",
        action="append",
        type=_static_mount,
        default=[],
        help="serve the files in DIR at the URL prefix PREFIX (e.g. /assets=static), ahead of "
        "the app; repeatable",
    )
    _add_reload_arguments(parser)
    parser.add_argument(
        "--nostatic",
        action="store_true",
        help="do not serve a Django project's static files (by default served as "
        "runserver does when django.contrib.staticfiles is installed and DEBUG is true)",
    )
    # Internal: how the --reload parent starts each child (see _reload.py).
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--parent-fd", type=int, help=argparse.SUPPRESS)
    # Internal: where `--port 0` says which port it got when --quiet prints no banner
    # (the tests; under --reload each child writes it once it serves).
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    _add_limit_arguments(parser)
    return parser


# Server limits: (flag, make_server keyword, default, unit, help), from rswsgi's
# Limits (src/server/config.rs), where each default is written once.
LIMITS: list[tuple[str, str, int, str, str]] = _limits()


def _add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("limits (per request; see rswsgi's docs/limits.md)")
    for flag, dest, default, unit, text in LIMITS:
        seconds = unit == "seconds"
        group.add_argument(
            flag,
            dest=dest,
            type=_non_negative_seconds if seconds else _non_negative,
            default=None,
            metavar="SECONDS" if seconds else "N",
            help=f"{text} (default: {default})",
        )


def _add_reload_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reloading (with --reload; see rswsgi's docs/reload.md)")
    group.add_argument(
        "--reload-include",
        action="append",
        default=[],
        metavar="GLOB",
        help="also restart on changes to these files (a path or a glob, relative to the "
        "working directory; '*' matches across '/'); repeatable",
    )
    group.add_argument(
        "--reload-exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="never restart on changes to these files (a glob; without '/' it matches "
        "the file name anywhere); repeatable",
    )
    group.add_argument(
        "--reload-poll",
        type=_positive_seconds,
        metavar="SECONDS",
        help="look for changes by polling every SECONDS, everywhere (by default only "
        "where the OS gives no change notifications: NFS, SMB, 9p, FUSE, vboxsf)",
    )
    group.add_argument(
        "--no-live-reload",
        dest="live_reload",
        action="store_false",
        help="do not make open pages reload (or swap changed stylesheets) by themselves",
    )


def _argument(
    text: str, kind: Callable[[str], Any], what: str, ok: Callable[[Any], bool], bounds: str
) -> Any:
    """`kind(text)` when it parses (else "TEXT is not WHAT") and `ok` holds (else "TEXT is
    not BOUNDS"): argparse's `type=` converters, whose errors exit with status 2."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {bounds}")
    return value


def _port(text: str) -> int:
    port: int = _argument(text, int, "a port number", lambda v: 0 <= v <= 65535, "a port (0-65535)")
    return port


def _positive_seconds(text: str) -> float:
    seconds: float = _argument(
        text, float, "a number of seconds", lambda v: 0 < v < 3600, "between 0 and 3600 seconds"
    )
    return seconds


def _non_negative(text: str) -> int:
    count: int = _argument(text, int, "an integer", lambda v: v >= 0, "0 or more")
    return count


def _non_negative_seconds(text: str) -> float:
    """A number of seconds, decimals allowed (`1.5`), finite and not negative."""
    seconds: float = _argument(
        text,
        float,
        "a number of seconds",
        lambda v: math.isfinite(v) and v >= 0,
        "a finite number of seconds, 0 or more",
    )
    return seconds


def _static_mount(text: str) -> tuple[str, str]:
    prefix, eq, folder = text.partition("=")
    if not eq or not prefix.startswith("/") or not folder:
        raise argparse.ArgumentTypeError(f"{text!r} is not PREFIX=DIR (e.g. /assets=static)")
    return prefix, folder


def limit_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The `make_server` limit keywords given on the command line."""
    return {
        dest: getattr(args, dest) for _, dest, _, _, _ in LIMITS if getattr(args, dest) is not None
    }


def _limit(args: argparse.Namespace, dest: str) -> float:
    """The limit `dest` as the command line sets it, else its default."""
    given: float | None = limit_kwargs(args).get(dest)
    if given is not None:
        return given
    return next(default for _, name, default, _, _ in LIMITS if name == dest)


def load_app(target: str | None) -> Callable[..., Any]:
    """Imports and returns the application named by `target` (`None`: the demo app).

    Raises `TargetError` with a one-line message when it cannot.
    """
    if target is None:
        from ._demo import app

        return app
    module_name, _, attr = target.partition(":")
    if not module_name:
        raise TargetError(f"{target!r} has no module name (expected MODULE:APP)")
    if module_name.endswith(".py") or os.sep in module_name:
        module_name = _module_of_file(module_name)
    module = _import(module_name)
    if not attr:
        for name in ("app", "application"):
            if hasattr(module, name):
                attr = name
                break
        else:
            raise TargetError(f"module {module_name!r} has no 'app' or 'application' attribute")
    call = attr.endswith("()")
    path = attr[:-2] if call else attr
    obj: Any = module
    for part in path.split("."):
        if not part.isidentifier():
            raise TargetError(f"{attr!r} is not an attribute name or NAME()")
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"module {module_name!r} has no attribute {path!r}") from None
    if call:
        if not callable(obj):
            raise TargetError(f"{module_name}:{path} is not callable")
        try:
            obj = obj()
        except Exception as e:  # noqa: BLE001 - any failure of the factory is reported
            raise TargetError(f"{module_name}:{attr} raised {_one_line(e)}", trimmed(e)) from None
    if not callable(obj):
        raise TargetError(
            f"{module_name}:{attr} is not a WSGI application (a {type(obj).__name__}, not callable)"
        )
    return obj  # type: ignore[no-any-return]


def _module_of_file(path: str) -> str:
    """The dotted module name of the file `path` (`app.py`, `src/pkg/app.py`), with the
    folder above its package put first on `sys.path`, as `flask --app FILE` does."""
    real = os.path.realpath(path)
    if not os.path.isfile(real):
        raise TargetError(f"file {path!r} not found")
    folder, name = os.path.split(os.path.splitext(real)[0])
    parts = [] if name == "__init__" else [name]
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        folder, package = os.path.split(folder)
        parts.insert(0, package)
    if not parts or not all(p.isidentifier() for p in parts):
        raise TargetError(f"{path!r} is not an importable Python file")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return ".".join(parts)


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise TargetError(f"module {module_name!r} not found") from None
        raise TargetError(f"importing {module_name!r} failed: {_one_line(e)}", trimmed(e)) from None
    except Exception as e:  # noqa: BLE001 - SyntaxError, any error at import time
        raise TargetError(f"importing {module_name!r} failed: {_one_line(e)}", trimmed(e)) from None


def _import_urlconf(app: object) -> None:
    """Imports the URLconf of a Django project behind `app` (and so its views), as
    runserver's system checks do at start: a broken `urls.py` or `views.py` is then an
    error loading the app (its traceback at start, and in the page under `--reload`),
    not a bare 500 at each request (Django's technical 500 page needs the URLconf too).

    Raises `TargetError` carrying the user's exception when the import fails."""
    try:
        import_urlconf(app)
    except Exception as e:  # noqa: BLE001 - any error in the user's URLconf or views
        raise TargetError(f"importing the URLconf failed: {_one_line(e)}", trimmed(e)) from None


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _warn_if_public(host: str) -> None:
    """`--debug` on an address other machines can reach: one warning line on stderr."""
    if not _is_loopback(host):
        print(
            f"{PROG}: warning: --debug on --host {host}: the error page shows source code "
            "and request data to anyone who can reach this address",
            file=sys.stderr,
            flush=True,
        )


DEBUG_BANNER = (
    "Debug mode: an exception answers with its traceback "
    "(an HTML page in a browser, text otherwise)"
)


def _fail(message: str, status: int) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(status)


def _install_signal_handlers() -> None:
    # SIGTERM stops the server the way Ctrl-C does (gunicorn's habit): both get
    # Python's default_int_handler, which the server replaces while it serves so that
    # a first signal stops it gracefully without raising inside the app.
    # A non-interactive shell starts `cmd &` with SIGINT ignored, and Python
    # keeps an inherited SIG_IGN; install the handler explicitly so that
    # `kill -INT` stops a backgrounded server too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _install_signal_handlers()
    # --reload: this process only supervises; a child (--fd) loads and serves the app.
    reload_child = args.fd is not None
    if reload_child:
        from ._reload import leave_ctrl_c_to_the_parent

        leave_ctrl_c_to_the_parent()
    try:
        check(args.cert, args.key)
    except CertificateError as e:
        _fail(str(e), 2)
    if args.debug and not (reload_child or args.routes):
        _warn_if_public(args.host)
    if args.reload and not reload_child and not args.routes:
        return _supervise(args, sys.argv[1:] if argv is None else argv)
    # The port is bound (or found taken) before the app is imported, which may be slow.
    listener = None
    if not (reload_child or args.routes):
        from ._reload import listen

        try:
            listener = listen(args.host, args.port)
        except OSError as e:
            _fail(str(e), 2)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    broken: BaseException | None = None
    try:
        app = load_app(args.target)
        if not args.routes:
            _import_urlconf(app)
    except TargetError as e:
        if e.error is not None:
            sys.stderr.write(format_error(e.error))
        if not reload_child:
            _fail(str(e), 2)
        # Under --reload the child serves a 500 for every request until a save fixes it.
        print(f"{PROG}: error: {e}", file=sys.stderr, flush=True)
        broken = e.error or e
        app = broken_app(broken)
    if args.routes:
        from ._routes import print_routes

        target = args.target or "the demo app"
        return print_routes(app, target, prog=PROG, out=sys.stdout, err=sys.stderr)
    page = None if broken is not None else error_page(app, debug=args.debug)
    if page is None and args.debug:
        page = DEBUG_BANNER
    live = generation() if reload_child and args.live_reload else None
    if args.parent_fd is not None:
        from ._reload import library_dirs, report_to_parent

        found = folders(app, skip=library_dirs())
        # --static folders: a CSS save there swaps the stylesheet in open pages.
        found.static += [os.path.abspath(d) for _, d in args.static if os.path.isdir(d)]
        report_to_parent(args.parent_fd, found, failing_files(broken), page)
    try:
        app = wrap_app(
            app,
            debug=args.debug,
            show_errors=args.debug or _is_loopback(args.host),
            live_reload=live,
            django_static=not args.nostatic,
            broken=broken is not None,
            static=dict(args.static),
        )
    except ValueError as e:  # a --static folder that is not there
        _fail(str(e), 2)
    try:
        server = make_server(
            args.host,
            args.port,
            app,
            quiet=args.quiet,
            fd=args.fd if listener is None else listener.fileno(),
            cert=args.cert,
            key=args.key,
            live_reload=live,
            **limit_kwargs(args),
        )
    except (OSError, ValueError) as e:
        _fail(str(e), 1)
    finally:
        if listener is not None:
            listener.close()  # the server serves a duplicate
    if live is not None:
        from ._reload import send_events_to

        send_events_to(server.live_reload_event)
    host, port = server.server_address
    if args.port_file is not None:
        _write_port(args.port_file, port)
    shown = f"[{host}]" if ":" in host else host
    if not (reload_child or args.quiet):
        if page is not None:
            print(page, flush=True)
        fingerprint = server.certificate_fingerprint
        scheme = "http" if fingerprint is None else "https"
        print(f"Serving on {scheme}://{shown}:{port} (Ctrl-C to quit)", flush=True)
        for prefix, folder in args.static:
            print(f"Static files: {prefix} -> {os.path.abspath(folder)}", flush=True)
        if args.cert == ADHOC and fingerprint is not None:
            print(adhoc_banner(fingerprint), flush=True)
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            if not (reload_child or args.quiet):
                print("Shutting down.", flush=True)
    return 0


def _write_port(path: str, port: int) -> None:
    """`port` and a newline into `path`, whole or not at all (a reader may poll it)."""
    partial = f"{path}.{os.getpid()}"
    with open(partial, "w") as f:
        f.write(f"{port}\n")
    os.replace(partial, path)


def _supervise(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """`--reload`: run the parent that restarts a child serving the app (`_reload`)."""
    from . import _reload
    from ._watching import WatchOptions

    try:
        return _reload.supervise(
            args.host,
            args.port,
            argv,
            shutdown_grace_ms=int(_limit(args, "shutdown_grace_ms")),
            cert=args.cert,
            watch=WatchOptions(
                include=args.reload_include,
                exclude=args.reload_exclude,
                poll_secs=args.reload_poll,
                live_reload=args.live_reload,
                quiet=args.quiet,
            ),
        )
    except _reload.BindError as e:
        _fail(str(e), 2)
    except OSError as e:
        _fail(str(e), 1)


if __name__ == "__main__":
    sys.exit(main())
