"""The example project's views."""

import hashlib
import json

from django.http import HttpRequest, HttpResponse


def hello(request: HttpRequest) -> HttpResponse:
    """The seed articles' greeting."""
    return HttpResponse("Hello world from Django!\n", content_type="text/plain")


def upload(request: HttpRequest) -> HttpResponse:
    """Reads the request body in blocks, as an upload view streams one, and answers with its
    size and SHA-256 and the framing the server gave Django (JSON).

    Django reads `wsgi.input` up to `CONTENT_LENGTH` (no `CONTENT_LENGTH`, no body), so a
    chunked upload arrives only from a server that decodes it and sets the length.
    """
    digest, size = hashlib.sha256(), 0
    while block := request.read(65536):
        digest.update(block)
        size += len(block)
    seen = {
        "size": size,
        "sha256": digest.hexdigest(),
        "CONTENT_LENGTH": request.META.get("CONTENT_LENGTH"),
        "HTTP_TRANSFER_ENCODING": request.META.get("HTTP_TRANSFER_ENCODING"),
    }
    return HttpResponse(json.dumps(seen), content_type="application/json")
