"""HTTP routes of reporters: submit report batches, read their own batches and reports.

POST /v1/report-batches      scope reports:write  202 answer (fraudchannel.ingest), or a problem:
                                                  413 too large, 415 not JSON, 400 unreadable
                                                  JSON or header, 422 envelope (with `errors`)
                                                  or Idempotency-Key reused
GET  /v1/report-batches      scope reports:read   a page of batches with a `next` link
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

from aiohttp import hdrs, web
from pydantic_core import to_json

from fraudchannel import ingest, reports
from fraudchannel.api_models import (
    BatchAnswer,
    BatchPage,
    BatchPath,
    QueryProblem,
    ReportDetail,
    ReportPage,
    ReportPath,
    ValidationProblem,
)
from fraudchannel.errors import BadRequest, UnsupportedMediaType
from fraudchannel.http.apidoc import (
    CONTENT_ENCODING,
    DATABASE_UNAVAILABLE,
    ApiDoc,
    Header,
    Reply,
    problem,
)
from fraudchannel.http.bodies import ACCEPT_ENCODING, UNREADABLE_BODY, unsupported_coding
from fraudchannel.http.routes import ScopedRoutes
from fraudchannel.keys import DB, PRINCIPAL, SETTINGS
from fraudchannel.models import RawBatch, ReportBatch
from fraudchannel.parsing import parse_batch_query, parse_envelope, parse_report_query
from fraudchannel.report_query import BatchQuery, ReportQuery

routes = ScopedRoutes(tag="reports")

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


REPLAYED_HEADER: Final = "Idempotent-Replayed"


def idempotency_key(request: web.Request) -> str | None:
    """Return the Idempotency-Key header (printable ASCII, 1-255), None when absent."""
    values = request.headers.getall(IDEMPOTENCY_HEADER, [])
    if not values:
        return None
    if len(values) > 1 or not _IDEMPOTENCY_KEY.match(values[0]):
        raise BadRequest(f"{IDEMPOTENCY_HEADER} must be one value of 1-255 printable characters.")
    return values[0]


POST_BATCH_DOC: Final = ApiDoc(
    "Submit a batch of reports",
    (
        Reply(
            202,
            "The receipt: one result per item, in order. Good items are stored even when others "
            "are refused, all in one transaction. The same Idempotency-Key with the same body "
            "replays this answer byte for byte, marked Idempotent-Replayed.",
            BatchAnswer,
            headers=(REPLAYED_HEADER,),
        ),
        problem(
            400,
            "The body is not one unambiguous JSON document (syntax, NaN or Infinity, a member "
            "name repeated), not the content coding it claims or incomplete; or the "
            "Idempotency-Key header is malformed or repeated.",
        ),
        problem(
            413,
            "The body, decoded, is larger than the service accepts (FRAUDCHANNEL_MAX_BODY_BYTES, "
            "64 MiB by default).",
        ),
        problem(
            415,
            "The body is not application/json in UTF-8, or its Content-Encoding is not read "
            "here (Accept-Encoding names those that are).",
            headers=("Accept-Encoding",),
        ),
        problem(
            422,
            "The envelope breaks the schema, or the batch holds more than "
            "FRAUDCHANNEL_MAX_BATCH_REPORTS reports (`errors` lists each fault); or the "
            "Idempotency-Key was used before with another body.",
            ValidationProblem,
        ),
        DATABASE_UNAVAILABLE,
        problem(
            503,
            "Concurrent batches kept changing the same client_refs or tickets; nothing of this "
            "batch was stored. Send it again (with the same Idempotency-Key).",
            headers=("Retry-After",),
        ),
    ),
    description="Store a batch of reports (notices, DSA Art 16) of the report schema v1. Items "
    "are validated one by one: an item that breaks the schema or names a target that cannot "
    "be canonicalised is answered in the 202 with its errors, not stored. Re-sending a "
    "client_ref stores nothing and answers `duplicate_of_own_report`.",
    body=ReportBatch,
    body_description="A batch of up to FRAUDCHANNEL_MAX_BATCH_REPORTS reports (default "
    "10,000); unknown members are refused. Also published as "
    "schemas/report-batch.v1.schema.json.",
    headers=(
        Header(
            IDEMPOTENCY_HEADER,
            "Any printable-ASCII key (1-255 characters, no spaces): sending the same body "
            "with the same key again replays the stored answer and stores nothing; another "
            "body with the same key is refused with 422.",
            {"type": "string", "pattern": _IDEMPOTENCY_KEY.pattern},
        ),
        CONTENT_ENCODING,
    ),
)


@routes.post("/v1/report-batches", scope="reports:write", doc=POST_BATCH_DOC)
async def post_report_batch(request: web.Request) -> web.Response:
    """Store a batch of reports: 202 with one result per item (DSA Art 16(4) receipt)."""
    key = idempotency_key(request)
    body = await read_json_body(request)
    answer = await ingest.submit(
        request.app[DB],
        request[PRINCIPAL],
        _envelope(request, body),  # not kept here: ingest frees its items as it goes
        request_sha256=hashlib.sha256(body).digest(),
        idempotency_key=key,
    )
    if len(body) >= TRIM_AFTER_BYTES:
        release_free_memory()
    response = raw_json(answer.body, status=answer.status)
    if answer.replayed:  # as Stripe's API marks a replay: the client can tell, nothing else differs
        response.headers[REPLAYED_HEADER] = "true"
    return response


def _envelope(request: web.Request, body: bytes) -> RawBatch:
    """Return the batch envelope of `body` (fraudchannel.parsing.parse_envelope).

    A body that is not JSON and was sent compressed gets a hint: aiohttp's decoders do not
    report a gzip, deflate, br or zstd stream that stops before its end, so the JSON parser is
    the first to notice a compressed stream cut short.
    """
    try:
        return parse_envelope(body, max_reports=request.app[SETTINGS].max_batch_reports)
    except BadRequest as exc:
        coding = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
        if coding in ("", "identity"):
            raise
        hinted = BadRequest(
            f"{exc.detail} The body was decoded from {coding}: if the compressed stream was "
            "cut short, the JSON in it ends early.",
            **exc.extensions,
        )
        raise hinted from None


# After a batch this large, hand the heap's free pages back to the system: a worker that read one
# 58 MB batch otherwise kept ~190 MB resident for good (found by a break-it run).
TRIM_AFTER_BYTES: Final = 8 * 1024 * 1024
_malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None) if sys.platform == "linux" else None


def release_free_memory() -> None:
    """Return freed heap memory to the operating system (glibc malloc_trim; else nothing)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


BAD_QUERY: Final = problem(
    400,
    "A query parameter is unknown, repeated or malformed, or `after` is not a cursor of this "
    "service (`errors` names the parameter).",
    QueryProblem,
)


@routes.get(
    "/v1/report-batches",
    scope="reports:read",
    doc=ApiDoc(
        "List batches",
        (
            Reply(200, "A page of batches, oldest first, and the link to the next.", BatchPage),
            BAD_QUERY,
        ),
        description="Answer a page of your organisation's batches with their counts and the "
        "path of each receipt, filtered by the query parameters (all optional, each at most "
        "once; unknown ones are refused). Follow `next` for the following page.",
        query=BatchQuery,
    ),
)
async def list_report_batches(request: web.Request) -> web.Response:
    """Answer a page of the caller's batches (filters and keyset cursor in the query)."""
    q = parse_batch_query(request.query.items())
    page = await reports.list_batches(request.app[DB], request[PRINCIPAL], q)
    return raw_json(to_json(page))


@routes.get(
    "/v1/report-batches/{batch_id}",
    scope="reports:read",
    doc=ApiDoc(
        "Read a batch's receipt",
        (
            Reply(200, "The batch's answer exactly as given on receipt.", BatchAnswer),
            problem(404, "No batch of your organisation has this id."),
        ),
        path=BatchPath,
    ),
)
async def get_report_batch(request: web.Request) -> web.Response:
    """Answer one of the caller's batches as it was answered on receipt."""
    batch_id = reports.parse_id(request.match_info["batch_id"])
    body = await reports.get_batch(request.app[DB], request[PRINCIPAL], batch_id)
    return raw_json(body)


@routes.get(
    "/v1/reports/{report_id}",
    scope="reports:read",
    doc=ApiDoc(
        "Read a report",
        (
            Reply(200, "The report, its ticket's state and the item as sent.", ReportDetail),
            problem(404, "No report of your organisation has this id."),
        ),
        path=ReportPath,
    ),
)
async def get_report(request: web.Request) -> web.Response:
    """Answer one of the caller's reports, with its ticket's state and the item as sent."""
    report_id = reports.parse_id(request.match_info["report_id"])
    report = await reports.get_report(request.app[DB], request[PRINCIPAL], report_id)
    return raw_json(to_json(report))


@routes.get(
    "/v1/reports",
    scope="reports:read",
    doc=ApiDoc(
        "List reports",
        (
            Reply(200, "A page of reports, oldest first, and the link to the next.", ReportPage),
            BAD_QUERY,
        ),
        description="Answer a page of your organisation's reports, filtered by the query "
        "parameters (all optional, each at most once; unknown ones are refused). Follow `next` "
        "for the following page.",
        query=ReportQuery,
    ),
)
async def list_reports(request: web.Request) -> web.Response:
    """Answer a page of the caller's reports (filters and keyset cursor in the query)."""
    q = parse_report_query(request.query.items())
    page = await reports.list_reports(request.app[DB], request[PRINCIPAL], q)
    return raw_json(to_json(page))
