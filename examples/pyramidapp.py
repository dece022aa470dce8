"""A Pyramid application.

python -m rswsgi.dev examples.pyramidapp:app
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response


def hello_world(request: Request) -> Response:
    """The seed articles' greeting."""
    return Response("Hello world from Pyramid!\n", content_type="text/plain")


config = Configurator()
config.add_route("hello", "/hello")
config.add_view(hello_world, route_name="hello")
app = config.make_wsgi_app()
