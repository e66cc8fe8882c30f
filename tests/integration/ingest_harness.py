"""What the ingest tests share: an organisation inserted straight into the database, and a batch
submitted through `ingest.submit` (no HTTP) with its answer parsed."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import asyncpg

from fraudchannel import ingest
from fraudchannel.parsing import parse_envelope
from fraudchannel.principal import ROLE_SCOPES, Principal
from tests.builders import batch


async def new_org(pool: asyncpg.Pool, trust_tier: int = 2) -> Principal:
    """Insert a reporter organisation directly and return it as a caller."""
    slug = f"t-{uuid.uuid4().hex[:16]}"
    org_id = await pool.fetchval(
        "INSERT INTO organisations (slug, legal_name, role, trust_tier, contact_email) "
        "VALUES ($1, $2, 'reporter', $3, 'fraud@bank.example') RETURNING id",
        slug,
        f"Bank {slug}",
        trust_tier,
    )
    return Principal(org_id, slug, "reporter", trust_tier, ROLE_SCOPES["reporter"], "test")


async def one(pool: asyncpg.Pool, sql: str, *args: Any) -> asyncpg.Record:
    """Return the one row `sql` selects."""
    row = await pool.fetchrow(sql, *args)
    assert row is not None
    return row


def body_of(items: list[Any]) -> bytes:
    """Return the JSON body of a batch of `items`."""
    return json.dumps(batch(items)).encode()


async def submit(
    pool: asyncpg.Pool, org: Principal, items: list[Any], key: str | None = None
) -> dict[str, Any]:
    """Submit `items` as `org` (optionally under an Idempotency-Key); return the 202 answer."""
    body = body_of(items)
    answer = await ingest.submit(
        pool,
        org,
        parse_envelope(body, max_reports=10_000),
        request_sha256=hashlib.sha256(body).digest(),
        idempotency_key=key,
    )
    assert answer.status == 202
    doc: dict[str, Any] = json.loads(answer.body)
    return doc
