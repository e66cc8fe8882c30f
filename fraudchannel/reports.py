"""Reading a reporter's own batches and reports (GET /v1/report-batches[/{id}], /v1/reports).

Tenant isolation is in every query: an id of another organisation reads exactly like an unknown
id (NotFound, 404), so ids leak nothing. Reporters never learn which other organisations
reported the same target (DESIGN: Authentication and authorisation).

A report reads as:
    {"id", "client_ref", "batch_id", "index", "created_at", "target": {"type", "canonical",
     "registrable_domain"?}, "scam_type", "outcome", "ticket_id", "status", "decided_at",
     "report": the item as sent (GET /v1/reports/{id} only)}
`status` is the ticket's state (open, in_review, needs_info, appealed, actioned, no_action).
The list answers {"items": [...], "next": "/v1/reports?...&after=CURSOR" | null}; the cursor is
opaque (base64url of the last row's created_at and sequence number).

A batch in the list reads as:
    {"id", "received_at", "submitter": {"name", "email"}, "item_count", "counts": {accepted,
     rejected, new_ticket, linked_to_open_ticket, recurrence_after_action,
     duplicate_of_own_report}, "receipt": "/v1/report-batches/<id>"}
and the list as {"items": [...], "next": "/v1/report-batches?...&after=CURSOR" | null}, its cursor
base64url of the last batch's received_at (UTC) and id.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode
from uuid import UUID

import asyncpg

from fraudchannel.db import query
from fraudchannel.errors import BadRequest, NotFound
from fraudchannel.notices import shown_target
from fraudchannel.principal import Principal
from fraudchannel.report_query import BatchQuery, ReportQuery

GET_BATCH: Final = query("reports", "get_batch")
GET_REPORT: Final = query("reports", "get_report")
LIST_REPORTS: Final = query("reports", "list_reports")
LIST_BATCHES: Final = query("reports", "list_batches")
CUSTOM_PLANS: Final = query("reports", "custom_plans")
LIST_PATH: Final = "/v1/reports"
BATCHES_PATH: Final = "/v1/report-batches"


def parse_id(text: str) -> UUID:
    """Return `text` as a UUID; raise NotFound when it is not one (a malformed id names nothing)."""
    try:
        return UUID(text)
    except ValueError:
        raise NotFound() from None


async def get_batch(pool: asyncpg.Pool, principal: Principal, batch_id: UUID) -> bytes:
    """Return the stored answer (JSON bytes) of one of the caller's batches; NotFound otherwise."""
    text = await pool.fetchval(GET_BATCH, batch_id, principal.org_id)
    if text is None:
        raise NotFound()
    return str(text).encode()


async def get_report(pool: asyncpg.Pool, principal: Principal, report_id: UUID) -> dict[str, Any]:
    """Return one of the caller's reports, with the item as sent; NotFound otherwise."""
    row = await pool.fetchrow(GET_REPORT, report_id, principal.org_id)
    if row is None:
        raise NotFound()
    view = _view(row)
    view["report"] = row["body"]
    return view


async def list_reports(pool: asyncpg.Pool, principal: Principal, q: ReportQuery) -> dict[str, Any]:
    """Return a page of the caller's reports matching `q`, oldest first, with a `next` link.

    Raises BadRequest on a cursor this service did not write.
    """
    cursor_at, cursor_seq = decode_cursor(q.after) if q.after else (None, None)
    page, more = await _page(
        pool,
        LIST_REPORTS,
        principal.org_id,
        q.target_type,
        q.scam_type,
        q.outcome,
        q.status,
        q.created_after,
        q.created_before,
        q.client_ref,
        cursor_at,
        cursor_seq,
        limit=q.limit,
    )
    next_link = None
    if more:
        last = page[-1]
        next_link = _next_link(LIST_PATH, q, encode_cursor(last["created_at"], last["seq"]))
    return {"items": [_view(r) for r in page], "next": next_link}


async def list_batches(pool: asyncpg.Pool, principal: Principal, q: BatchQuery) -> dict[str, Any]:
    """Return a page of the caller's batches matching `q`, oldest first, with a `next` link.

    Raises BadRequest on a cursor this service did not write.
    """
    cursor_at, cursor_id = decode_batch_cursor(q.after) if q.after else (None, None)
    page, more = await _page(
        pool,
        LIST_BATCHES,
        principal.org_id,
        q.received_after,
        q.received_before,
        cursor_at,
        cursor_id,
        limit=q.limit,
    )
    next_link = None
    if more:
        last = page[-1]
        cursor = encode_batch_cursor(last["received_at"], last["id"])
        next_link = _next_link(BATCHES_PATH, q, cursor)
    return {"items": [_batch_view(r) for r in page], "next": next_link}


async def _page(
    pool: asyncpg.Pool, sql: str, *args: object, limit: int
) -> tuple[list[asyncpg.Record], bool]:
    """Return up to `limit` rows of a keyset query (its last argument is the row limit), and
    whether more follow. Planned for the filters given (CUSTOM_PLANS), in a read-only
    transaction."""
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute(CUSTOM_PLANS)
        rows = await conn.fetch(sql, *args, limit + 1)
    return rows[:limit], len(rows) > limit


def _next_link(path: str, q: ReportQuery | BatchQuery, cursor: str) -> str:
    """Return the path and query of the page after `cursor`: `q`'s parameters, then `after`."""
    params = q.model_dump(mode="json", exclude_none=True, exclude={"after"})
    params["after"] = cursor
    return f"{path}?{urlencode(params)}"


def _batch_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "received_at": row["received_at"],
        "submitter": row["submitter"],
        "item_count": row["item_count"],
        "counts": row["counts"],
        "receipt": f"{BATCHES_PATH}/{row['id']}",
    }


def _view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "client_ref": row["client_ref"],
        "batch_id": row["batch_id"],
        "index": row["item_index"],
        "created_at": row["created_at"],
        "target": shown_target(row["target_type"], row["canonical"], row["registrable_domain"]),
        "scam_type": row["scam_type"],
        "outcome": row["outcome"],
        "ticket_id": row["ticket_id"],
        "status": row["status"],
        "decided_at": row["decided_at"],
    }


def encode_cursor(created_at: datetime, seq: int) -> str:
    """Return the opaque keyset cursor of a row: base64url("<created_at ISO>|<seq>")."""
    raw = f"{created_at.isoformat()}|{seq}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Return (created_at, seq) of a cursor from encode_cursor; raise BadRequest otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, seq = raw.partition("|")
        when = datetime.fromisoformat(at)
        number = int(seq)
        if when.tzinfo is None or not 0 <= number < 2**63:
            raise ValueError("naive time or sequence out of range")
        return when, number
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor() from None


def encode_batch_cursor(received_at: datetime, batch_id: UUID) -> str:
    """Return the opaque keyset cursor of a batch: base64url("<received_at ISO, UTC>|<id>")."""
    raw = f"{received_at.astimezone(UTC).isoformat()}|{batch_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_batch_cursor(cursor: str) -> tuple[datetime, UUID]:
    """Return (received_at, id) of a cursor from encode_batch_cursor; raise BadRequest otherwise.

    Only the exact text encode_batch_cursor writes is read back (UTC offset, lower-case hyphenated
    UUID, no padding): any other spelling of the same values is refused as not our cursor.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, batch_id = raw.partition("|")
        when, uuid = datetime.fromisoformat(at), UUID(batch_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor() from None
    if when.utcoffset() != timedelta(0) or encode_batch_cursor(when, uuid) != cursor:
        raise _bad_cursor()
    return when, uuid


def _bad_cursor() -> BadRequest:
    return BadRequest(
        "The cursor is not valid; use the `next` link of a previous page.",
        errors=[{"parameter": "after", "code": "cursor_invalid", "detail": "not our cursor"}],
    )
