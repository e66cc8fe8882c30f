"""Request-wide middleware: request id and log context, then RFC 9457 problem responses."""

from __future__ import annotations

import re
import time
from http import HTTPStatus
from typing import Final
from uuid import uuid4

import asyncpg
import structlog
from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

from fraudchannel.errors import BadRequest, FraudChannelError, Unavailable
from fraudchannel.http.bodies import UNREADABLE_BODY
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


# Errors that say the database could not finish the request now (unreachable, out of connection
# slots, restarting, the connection cut mid-statement, a statement cancelled or timed out behind a
# lock), not that the request was wrong: answered 503 with Retry-After instead of 500.
_DATABASE_UNAVAILABLE = (
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,  # admin shutdown, query cancelled, statement timeout
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "the underlying connection is closed" and the like
    asyncpg.InternalClientError,  # the driver's state after a COPY cut off mid-stream
    ConnectionError,
    TimeoutError,  # connecting took longer than the driver waits
)
DATABASE_UNAVAILABLE_DETAIL = (
    "The database could not complete this request now. Send it again in a moment: with the same "
    "Idempotency-Key a batch that was stored after all is answered as it was, and a client_ref "
    "is never stored twice."
)


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
    except _DATABASE_UNAVAILABLE as exc:
        log.warning("database_unavailable", error=type(exc).__name__, detail=str(exc)[:200])
        return exc_response(Unavailable(DATABASE_UNAVAILABLE_DETAIL), request)
    except web.RequestPayloadError:  # a handler read a body that is not what it claims
        response = exc_response(BadRequest(UNREADABLE_BODY), request)
        response.force_close()
        return response
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


_PARSER_DETAIL = re.compile(r"[^\x20-\x7e]")
LINE_TOO_LONG: Final = (
    "The request line or a header is longer than 8190 bytes (aiohttp's limit): a query string, "
    "an access token or an Idempotency-Key that long cannot be read."
)


def _parser_error_page(
    handler: RequestHandler,
    request: web.BaseRequest,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    """Answer a request aiohttp itself refused (before any middleware) with a problem document.

    aiohttp's HTTP parser answers a bad request line, an oversized or malformed header, too many
    headers or an undecodable Content-Encoding in text/plain; this keeps its logging and
    connection handling and renders the answer as RFC 9457 problem+json instead.
    """
    request_id = uuid4()
    with structlog.contextvars.bound_contextvars(request_id=request_id.hex):  # on its log line
        _aiohttp_error_page(handler, request, status, exc, message)  # logs; raises once sent
    detail = HTTPStatus(status).description
    if isinstance(exc, LineTooLong):  # its message names neither the limit's subject nor a fix
        detail = LINE_TOO_LONG
    elif status < 500 and message:
        first = message.strip().splitlines()[0] if message.strip() else ""
        for quoted in (": b'", ' b"', "bytearray(", ': b"'):  # never echo what was sent
            first = first.split(quoted, 1)[0]
        detail = _PARSER_DETAIL.sub("?", first).rstrip(" :")[:200] or detail
    response = problem_response(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            # The request could not be read, path included: name this occurrence instead.
            "instance": request_id.urn,
        },
        status=status,
    )
    response.headers[REQUEST_ID_HEADER] = request_id.hex
    response.force_close()
    return response


_aiohttp_error_page = getattr(
    RequestHandler.handle_error, "__wrapped_error_page__", RequestHandler.handle_error
)
_parser_error_page.__wrapped_error_page__ = _aiohttp_error_page  # type: ignore[attr-defined]
# aiohttp offers no hook for these answers (they are made before the application is reached),
# so the handler class is patched once, when the app's middleware is first imported.
RequestHandler.handle_error = _parser_error_page  # type: ignore[method-assign, assignment]
