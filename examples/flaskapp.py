"""A Flask application, served through its `wsgi_app`.

python -m rswsgi.dev examples.flaskapp:app
"""

from __future__ import annotations

from flask import Flask, Response, request

flask_app = Flask("flaskapp")


@flask_app.route("/hello")
def hello_world() -> Response:
    """The seed articles' greeting."""
    return Response("Hello world from Flask!\n", mimetype="text/plain")


@flask_app.route("/whereami")
def whereami() -> Response:
    """Show where Flask thinks it is mounted (`SCRIPT_NAME`) and the path below it."""
    return Response(
        f"SCRIPT_NAME={request.script_root} PATH_INFO={request.path}\n", mimetype="text/plain"
    )


app = flask_app.wsgi_app
