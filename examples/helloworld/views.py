"""The example project's one view."""

from django.http import HttpRequest, HttpResponse


def hello(request: HttpRequest) -> HttpResponse:
    """The seed articles' greeting."""
    return HttpResponse("Hello world from Django!\n", content_type="text/plain")
