"""The WSGI application: Django's, behind one fix for chunked request bodies.

Django reads ``CONTENT_LENGTH`` bytes of a request body and no more, so a body
sent with ``Transfer-Encoding: chunked`` (no length up front, as streaming
HTTP clients send) would reach every view as empty. gunicorn, the production
and ``make run`` server, decodes the chunks and marks its input
``wsgi.input_terminated`` (it ends where the body ends): ``ChunkedBodies``
reads the body from it, bounded, and hands it on with its length.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.wsgi import get_wsgi_application

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class ChunkedBodies:
    """WSGI middleware: give the application a chunked request body, with
    ``CONTENT_LENGTH`` set, when the server has decoded the chunks.

    It reads at most one byte more than the largest body the site accepts
    (``DATA_UPLOAD_MAX_MEMORY_SIZE``: the import route's limit), so a larger
    body is a 413 without reading the rest. A server that does not decode
    chunks (wsgiref, Django's ``runserver``) gives the application no way to
    read such a body: that request is a 411, never an empty body.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        codings = environ.get("HTTP_TRANSFER_ENCODING", "")
        if codings.rsplit(",", 1)[-1].strip().lower() != "chunked":
            return self.app(environ, start_response)
        if not environ.get("wsgi.input_terminated"):
            return _refuse(
                start_response,
                411,
                "This server cannot read a chunked request body; send it with a Content-Length.",
            )
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = environ["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            return _refuse(
                start_response, 413, f"The request body is larger than the {limit:,} bytes allowed."
            )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


def _refuse(start_response: StartResponse, status: int, message: str) -> list[bytes]:
    """Listrak's error shape (``api.errors``), before Django sees the request."""
    reasons = {411: "Length Required", 413: "Content Too Large"}
    error = {"status": status, "error": "ERROR_MALFORMED_REQUEST_BODY", "message": message}
    content = json.dumps(error).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(content)))]
    start_response(f"{status} {reasons[status]}", headers)
    return [content]


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = ChunkedBodies(get_wsgi_application())
