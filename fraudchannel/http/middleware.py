"""Request-wide middleware: request id and log context, then RFC 9457 problem responses."""

from __future__ import annotations

import re
import time
from http import HTTPStatus
from uuid import uuid4

import structlog
from aiohttp import web

from fraudchannel.errors import FraudChannelError
from fraudchannel.http.render import problem_response
from fraudchannel.http.routes import Handler

log = structlog.get_logger("fraudchannel.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
REQUEST_ID_HEADER = "X-Request-Id"


def clean_request_id(value: str | None) -> str | None:
    """Return a caller's request id when it is short and plain, else None (we make our own)."""
    return value if value and _REQUEST_ID.match(value) else None


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id to every log line of the request and echo it in `X-Request-Id`."""
    request_id = clean_request_id(request.headers.get(REQUEST_ID_HEADER)) or uuid4().hex
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # raised past the problem middleware: keep the id
            exc.headers[REQUEST_ID_HEADER] = request_id
            raise
        response.headers[REQUEST_ID_HEADER] = request_id
        log.info(
            "request_served",
            method=request.method,
            path=request.path,
            status=response.status,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
    return response


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> web.Response:
    status = exc.status
    doc = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": exc.text if exc.text and not exc.text.startswith(f"{status}:") else None,
        "instance": request.path,
    }
    if doc["detail"] is None:
        doc["detail"] = {
            404: "No route matches this path.",
            405: f"{request.method} is not allowed here.",
            413: "The request body is larger than the service accepts.",
        }.get(status, HTTPStatus(status).description)
    response = problem_response(doc, status=status)
    for name in ("Allow", "WWW-Authenticate", "Retry-After", "Location"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


@web.middleware
async def problem_responses(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every error, ours and aiohttp's own (404, 405, 413, ...), as problem+json."""
    try:
        return await handler(request)
    except FraudChannelError as exc:
        if exc.status >= 500:
            log.exception("request_failed", error=type(exc).__name__)
        return exc_response(exc, request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like pass through
        return _from_http_exception(exc, request)
    except Exception:
        log.exception("request_crashed")
        return problem_response(
            {
                "type": "about:blank",
                "title": "Internal Server Error",
                "status": 500,
                "detail": "The service failed to handle this request; it has been logged.",
                "instance": request.path,
            },
            status=500,
        )


def exc_response(exc: FraudChannelError, request: web.Request) -> web.Response:
    """Return the problem response of one of our errors, with its headers."""
    response = problem_response(exc.problem(instance=request.path), status=exc.status)
    response.headers.update(exc.headers)
    return response
