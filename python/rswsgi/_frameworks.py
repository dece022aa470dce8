"""What `python -m rswsgi.dev` learns about the framework behind the served app.

The Flask app or Django handler is found by walking down the wrappers from the served
app, as `--routes` finds the Router (`_routes.WRAPPED`), plus `__self__`, so that
`flask_app.wsgi_app` (a bound method) leads to its Flask app. Nothing here imports a
framework: a framework the user's code did not import cannot be the served app.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._routes import find_inner


def flask_app(app: object) -> Any:
    """The Flask application behind `app`, or `None`."""
    flask = sys.modules.get("flask")
    if flask is None:
        return None
    return find_inner(app, lambda obj: isinstance(obj, flask.Flask))


def django_handler(app: object) -> Any:
    """Django's WSGI handler behind `app`, or `None`."""
    module = sys.modules.get("django.core.handlers.wsgi")
    if module is None:
        return None
    return find_inner(app, lambda obj: isinstance(obj, module.WSGIHandler))


def import_urlconf(app: object) -> None:
    """Imports `ROOT_URLCONF` of the Django project behind `app`, if any (Django imports
    it at the first request otherwise). Raises whatever that import raises."""
    if django_handler(app) is None:
        return
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the property imports the module


def _existing(paths: Iterable[object]) -> list[str]:
    out: list[str] = []
    for path in paths:
        if isinstance(path, os.PathLike | str):
            real = os.path.realpath(os.fspath(path))
            if os.path.isdir(real) and real not in out:
                out.append(real)
    return out


@dataclass
class Folders:
    """The folders of the served app that the reloader watches (absolute, existing)."""

    templates: list[str] = field(default_factory=list)
    static: list[str] = field(default_factory=list)


def _flask_folders(flask: Any) -> Folders:
    owners = [flask, *flask.iter_blueprints()]
    templates: list[object] = []
    static: list[object] = []
    for owner in owners:
        loader = getattr(owner, "jinja_loader", None)
        templates.extend(getattr(loader, "searchpath", None) or ())
        if getattr(owner, "has_static_folder", False):
            static.append(owner.static_folder)
    return Folders(_existing(templates), _existing(static))


def _django_folders() -> Folders:
    from django.apps import apps
    from django.conf import settings

    templates: list[object] = []
    app_dirs = False
    for backend in getattr(settings, "TEMPLATES", ()):
        templates.extend(backend.get("DIRS", ()))
        app_dirs = app_dirs or bool(backend.get("APP_DIRS"))
    static: list[object] = [
        entry[1] if isinstance(entry, tuple) else entry
        for entry in getattr(settings, "STATICFILES_DIRS", ())
    ]
    for config in apps.get_app_configs():
        if app_dirs:
            templates.append(os.path.join(config.path, "templates"))
        static.append(os.path.join(config.path, "static"))
    return Folders(_existing(templates), _existing(static))


def folders(app: object, *, skip: tuple[str, ...] = ()) -> Folders:
    """The template and static folders of the Flask app or Django project behind `app`,
    minus those under the directories `skip` (installed packages, e.g. Django's admin:
    nobody edits them while developing, and each folder costs OS watches)."""
    found = Folders()
    flask = flask_app(app)
    if flask is not None:
        found = _flask_folders(flask)
    elif django_handler(app) is not None:
        found = _django_folders()
    found.templates = [f for f in found.templates if not f.startswith(skip)]
    found.static = [f for f in found.static if not f.startswith(skip)]
    return found


def django_debug() -> bool:
    """Django's `settings.DEBUG` (only called once a Django handler was found)."""
    from django.conf import settings

    return bool(settings.DEBUG)


def serve_django_static(app: Any) -> Any:
    """`app` wrapped in Django's `StaticFilesHandler`, as `manage.py runserver` does,
    when `django.contrib.staticfiles` is installed and `DEBUG` is true; else `app`.

    The handler answers `STATIC_URL` from the staticfiles finders (each app's
    `static/` and `STATICFILES_DIRS`, read at each request, so a new file shows at
    once) and passes every other path to `app`."""
    from django.conf import settings

    if not settings.DEBUG or "django.contrib.staticfiles" not in settings.INSTALLED_APPS:
        return app
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    return StaticFilesHandler(app)


def error_page(app: object, *, debug: bool) -> str | None:
    """The banner line that says which page an exception in a view shows, or `None`
    when the default (a plain 500, or rswsgi's page under `--debug`) needs no word.

    With `debug`, a Flask app found behind `app` is set to let its exceptions through
    (`PROPAGATE_EXCEPTIONS`, else Flask answers them with its own 500 page before
    rswsgi's handler sees them) and to reload templates (`TEMPLATES_AUTO_RELOAD`)."""
    flask = flask_app(app)
    if flask is not None and debug:
        flask.config["PROPAGATE_EXCEPTIONS"] = True
        flask.config["TEMPLATES_AUTO_RELOAD"] = True
        flask.jinja_env.auto_reload = True
        return (
            "Debug mode: an exception in a Flask view shows rswsgi's debug page "
            "(PROPAGATE_EXCEPTIONS is set)"
        )
    if django_handler(app) is not None:
        if django_debug():
            return "Errors: Django's technical 500 page (DEBUG = True in the settings)"
        if debug:
            return (
                "Debug mode: Django answers its views' exceptions with its own 500 page "
                "(DEBUG = False); set DEBUG = True for its technical page"
            )
    return None
