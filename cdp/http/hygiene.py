"""HTTP hygiene for every response and request body.

- ``X-Content-Type-Options: nosniff`` on every response, and ``Cache-Control: no-store``
  on every API response (customer views, lookups, audit entries, DSR packages, export
  files and their errors): no browser, proxy or CDN keeps a copy of personal data. The
  OpenAPI document alone may be cached.
- A body sent with ``Transfer-Encoding: chunked`` has no length to check up front: it is
  read here up to the limit, and one byte more means 413, as a ``Content-Length`` over the
  limit does. Without this, the body was cut at the limit and the truncated JSON answered
  422, which hid the real problem from the client.
"""

from __future__ import annotations

import io

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

PUBLIC_CACHEABLE = frozenset({"/v1/openapi.json"})
_READ_CHUNK = 64 * 1024


def _bound_streamed_body() -> None:
    environ = request.environ
    if environ.get("CONTENT_LENGTH") or "chunked" not in environ.get(
        "HTTP_TRANSFER_ENCODING", ""
    ).lower():
        return
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None:
        return
    stream = environ["wsgi.input"]
    buf = bytearray()
    while len(buf) <= limit:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - len(buf)))
        if not chunk:
            break
        buf += chunk
    if len(buf) > limit:
        raise RequestEntityTooLarge(f"the body is larger than {limit} bytes")
    # From here on the body is an ordinary one of known length.
    environ["wsgi.input"] = io.BytesIO(bytes(buf))
    environ["CONTENT_LENGTH"] = str(len(buf))
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)


def _protective_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.path.startswith("/v1/") and request.path not in PUBLIC_CACHEABLE:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    # First of the before_request hooks: nothing may read the body before it is bounded.
    app.before_request_funcs.setdefault(None, []).insert(0, _bound_streamed_body)
    app.after_request(_protective_headers)
