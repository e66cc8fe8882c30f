"""HTTP routes of reporters: submit report batches, read their own batches and reports.

POST /v1/report-batches      scope reports:write  202 answer (fraudchannel.ingest), or a problem:
                                                  413 too large, 415 not JSON, 400 unreadable
                                                  JSON or header, 422 envelope (with `errors`)
                                                  or Idempotency-Key reused
GET  /v1/report-batches/{id} scope reports:read   the batch's 202 answer, byte for byte
GET  /v1/reports/{id}        scope reports:read   one report (fraudchannel.reports)
GET  /v1/reports             scope reports:read   a page of reports with a `next` link
Problems are RFC 9457 documents; error pointers are RFC 6901.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import sys
from typing import Final

from aiohttp import web
from pydantic_core import to_json

from fraudchannel import ingest, reports
from fraudchannel.errors import BadRequest, UnsupportedMediaType
from fraudchannel.http.bodies import ACCEPT_ENCODING, UNREADABLE_BODY, unsupported_coding
from fraudchannel.http.routes import ScopedRoutes
from fraudchannel.keys import DB, PRINCIPAL, SETTINGS
from fraudchannel.parsing import parse_envelope, parse_report_query

routes = ScopedRoutes()

IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
_IDEMPOTENCY_KEY: Final = re.compile(r"^[!-~]{1,255}$")  # printable ASCII, no spaces


def raw_json(body: bytes, status: int = 200) -> web.Response:
    """Return rendered JSON text as an application/json response.

    Bodies are rendered with pydantic_core.to_json: UUIDs as strings, datetimes as RFC 3339.
    """
    return web.Response(body=body, status=status, content_type="application/json")


async def read_json_body(request: web.Request) -> bytes:
    """Return the request body, decoded from gzip or deflate when so labelled.

    Raises UnsupportedMediaType unless it is application/json in UTF-8 and in a content coding
    that is read here, BadRequest when it is not the coding it claims or arrives broken. aiohttp
    refuses a body over the app's client_max_size (settings.max_body_bytes, decoded) with 413.
    """
    charset = request.charset
    if request.content_type != "application/json" or (charset and charset.lower() != "utf-8"):
        raise UnsupportedMediaType("Send the batch as application/json (UTF-8).")
    problem = unsupported_coding(request)
    if problem is not None:
        error = UnsupportedMediaType(problem)
        error.headers["Accept-Encoding"] = ACCEPT_ENCODING
        raise error
    try:
        return await request.read()
    except web.RequestPayloadError:
        unreadable = BadRequest(UNREADABLE_BODY)
        unreadable.headers["Connection"] = "close"  # the rest of the body cannot be read either
        raise unreadable from None


def idempotency_key(request: web.Request) -> str | None:
    """Return the Idempotency-Key header (printable ASCII, 1-255), None when absent."""
    values = request.headers.getall(IDEMPOTENCY_HEADER, [])
    if not values:
        return None
    if len(values) > 1 or not _IDEMPOTENCY_KEY.match(values[0]):
        raise BadRequest(f"{IDEMPOTENCY_HEADER} must be one value of 1-255 printable characters.")
    return values[0]


@routes.post("/v1/report-batches", scope="reports:write")
async def post_report_batch(request: web.Request) -> web.Response:
    """Store a batch of reports: 202 with one result per item (DSA Art 16(4) receipt)."""
    key = idempotency_key(request)
    body = await read_json_body(request)
    answer = await ingest.submit(
        request.app[DB],
        request[PRINCIPAL],
        parse_envelope(body, max_reports=request.app[SETTINGS].max_batch_reports),  # not kept
        request_sha256=hashlib.sha256(body).digest(),
        idempotency_key=key,
    )
    if len(body) >= TRIM_AFTER_BYTES:
        release_free_memory()
    return raw_json(answer.body, status=answer.status)


# After a batch this large, hand the heap's free pages back to the system: a worker that read one
# 58 MB batch otherwise kept ~190 MB resident for good (found by a break-it run).
TRIM_AFTER_BYTES: Final = 8 * 1024 * 1024
_malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None) if sys.platform == "linux" else None


def release_free_memory() -> None:
    """Return freed heap memory to the operating system (glibc malloc_trim; else nothing)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


@routes.get("/v1/report-batches/{batch_id}", scope="reports:read")
async def get_report_batch(request: web.Request) -> web.Response:
    """Answer one of the caller's batches as it was answered on receipt."""
    batch_id = reports.parse_id(request.match_info["batch_id"])
    body = await reports.get_batch(request.app[DB], request[PRINCIPAL], batch_id)
    return raw_json(body)


@routes.get("/v1/reports/{report_id}", scope="reports:read")
async def get_report(request: web.Request) -> web.Response:
    """Answer one of the caller's reports, with its ticket's state and the item as sent."""
    report_id = reports.parse_id(request.match_info["report_id"])
    report = await reports.get_report(request.app[DB], request[PRINCIPAL], report_id)
    return raw_json(to_json(report))


@routes.get("/v1/reports", scope="reports:read")
async def list_reports(request: web.Request) -> web.Response:
    """Answer a page of the caller's reports (filters and keyset cursor in the query)."""
    q = parse_report_query(request.query.items())
    page = await reports.list_reports(request.app[DB], request[PRINCIPAL], q)
    return raw_json(to_json(page))
