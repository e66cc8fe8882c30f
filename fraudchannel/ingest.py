"""The ingest service: store a batch of notices, deduplicate their targets, open or link tickets.

The batch's targets are upserted first, on their own (identities, not notices: see
fraudchannel.dedup.upsert_targets), while its items are still being validated; then one
transaction of a handful of set-based statements (sql/queries/ingest.sql) stores the notices:
every good item is stored or none is; bad items are answered, not stored. Concurrent batches,
from any organisations, naming the same targets end with one open ticket per target: identity
and "one open ticket" are unique indexes, and each batch locks its targets by id before it opens
or links their tickets (fraudchannel.ticketing), so batches queue instead of deadlocking. A rare
race (the same client_ref sent twice at once by one organisation) retries the whole
transaction.

The answer (HTTP 202, DSA Art 16(4) confirmation of receipt) lists every item in order:
    {"batch_id": uuid, "received_at": RFC 3339, "counts": {accepted, rejected, new_ticket,
     linked_to_open_ticket, recurrence_after_action, duplicate_of_own_report},
     "items": [{"index", "client_ref", "report_id", "target": {"type", "canonical",
                "registrable_domain"?}, "outcome", "ticket_id", "indicative_decision_by"}
               | {"index", "client_ref"?, "errors": [{"pointer", "code", "detail"}]}]}
`indicative_decision_by` is the ticket's SLA due time for its priority band (fraudchannel.priority).
A `duplicate_of_own_report` answer (a client_ref sent in an earlier batch, or earlier in this
one) carries `"content_differs": true` when the item differs from the stored one (nothing is
changed). The first valid item of a client_ref is the one stored.
"""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg
import structlog
from pydantic_core import to_json

from fraudchannel import notices
from fraudchannel.db import Conn, Retry, query, release
from fraudchannel.dedup import Stored, TargetIds, TargetUpserts, store_fresh
from fraudchannel.errors import IdempotencyKeyReused, Unavailable
from fraudchannel.models import RawBatch
from fraudchannel.notices import Notice, Prepared
from fraudchannel.principal import Principal
from fraudchannel.terms import OUTCOMES

log = structlog.get_logger(__name__)

OPEN_BATCH: Final = query("ingest", "open_batch")
IDEMPOTENT_ANSWER: Final = query("ingest", "idempotent_answer")
OWN_REPORTS: Final = query("ingest", "own_reports")
FINISH_BATCH: Final = query("ingest", "finish_batch")

ATTEMPTS: Final = 6


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send back: HTTP status and the JSON body (bytes), as stored for replays."""

    status: int
    body: bytes
    replayed: bool = False


class _Replay(Exception):
    """The Idempotency-Key was used before: roll back and answer `answer`."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("replay")
        self.answer = answer


async def submit(
    pool: asyncpg.Pool,
    principal: Principal,
    batch: RawBatch,
    *,
    request_sha256: bytes,
    idempotency_key: str | None = None,
) -> Answer:
    """Store `batch` for `principal`'s organisation and return the 202 answer.

    Pass the batch without keeping a reference to it: its raw items are let go once prepared.

    `request_sha256` is the SHA-256 of the request body: with `idempotency_key`, the same key and
    body replay the stored answer (same status and bytes, nothing stored); the same key with
    another body raises IdempotencyKeyReused (422). Retries a transaction a concurrent batch
    disturbed (deadlock, a ticket decided meanwhile, a client_ref stored meanwhile) up to
    ATTEMPTS times, a random pause apart; then raises Unavailable (503, nothing stored).
    """
    # Validation and canonicalisation are CPU work, done once before a connection is taken. On
    # the event loop, a chunk at a time with a yield between chunks so that other requests are
    # served meanwhile: in a worker thread they ran at a third of the speed with a concurrent
    # batch (GIL hand-offs at each of canonicalisation's C calls) and in no parallel anyway.
    item_count, submitter = len(batch.reports), batch.submitter.model_dump(mode="json")
    preparer = notices.Preparer(batch)
    del batch  # the raw items go with the preparer: a third of a large batch's memory
    with _frozen_heap():
        upserts = TargetUpserts(pool)  # each chunk's targets, while the next is prepared
        try:
            done = False
            while not done:
                ready = len(preparer.result.notices)
                done = _prepare_step(preparer)
                upserts.add(preparer.result.notices[ready:])
                await asyncio.sleep(0)  # the upsert goes out; other requests run meanwhile
            prepared = preparer.result
            del preparer
            targets = await upserts.result()
        finally:
            await upserts.close()
        return await _submit(
            pool,
            principal,
            prepared,
            targets,
            request_sha256,
            idempotency_key,
            item_count,
            submitter,
        )


def _prepare_step(preparer: notices.Preparer) -> bool:
    """Run one step of `preparer`, then park what it made in the permanent GC generation.

    Re-enabling the collector after a step with thousands of new containers would run a young
    collection over them at the next allocation, and older ones later (measured: 6% of the
    server's time). gc.freeze() is O(1) and resets the young counts; _frozen_heap hands the
    objects back.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        done = preparer.step()
        gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
    return done


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep the cyclic garbage collector off the objects alive now (the parsed batch) meanwhile.

    The batch's 10^5-10^6 containers would be walked by every full collection the database phase
    triggers (measured: a third of its Python time). gc.freeze() parks them, O(1), and
    gc.unfreeze() hands them back; concurrent batches may unfreeze each other early, which only
    costs speed. Cyclic garbage among frozen objects waits for the unfreeze.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _submit(
    pool: asyncpg.Pool,
    principal: Principal,
    prepared: Prepared,
    targets: TargetIds,
    request_sha256: bytes,
    idempotency_key: str | None,
    item_count: int,
    submitter: dict[str, Any],
) -> Answer:
    """Run the ingest transaction (the targets exist), retrying one a concurrent batch
    disturbed."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            conn = await pool.acquire()
            try:
                async with conn.transaction():
                    head = await conn.fetchrow(
                        OPEN_BATCH,
                        principal.org_id,
                        request_sha256,
                        submitter,
                        item_count,
                        idempotency_key,
                    )
                    if head is None:  # INSERT ... RETURNING yields one row
                        raise RuntimeError("open_batch returned no row")
                    if not head["key_claimed"]:
                        await _replay(conn, principal, idempotency_key, request_sha256)
                    answer = await _store(
                        conn, principal, prepared, targets, head["id"], head["received_at"]
                    )
            finally:
                await release(pool, conn)
            return answer  # committed: a failure to hand the connection back changes nothing
        except _Replay as replay:
            return replay.answer
        except (Retry, asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
            log.warning("report_batch_retried", attempt=attempt, reason=type(exc).__name__)
            if attempt == ATTEMPTS:
                raise Unavailable(
                    "Concurrent batches of your organisation (or other reporters) kept changing "
                    "the same client_refs or tickets; nothing of this batch was stored. Send it "
                    "again (with the same Idempotency-Key).",
                    retry_after_s=1,
                ) from exc
            # Apart, at random: batches that collided would otherwise collide again in step.
            await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)  # noqa: S311 (jitter)
    raise AssertionError("unreachable")  # pragma: no cover


async def _replay(conn: Conn, principal: Principal, key: str | None, request_sha256: bytes) -> None:
    """Raise _Replay with the stored answer of `key`, or IdempotencyKeyReused."""
    row = await conn.fetchrow(IDEMPOTENT_ANSWER, principal.org_id, key)
    if row is None or row["response"] is None:  # the key's batch rolled back meanwhile
        raise Retry
    if bytes(row["request_sha256"]) != request_sha256:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request body; use a new key."
        )
    log.info("report_batch_replayed", org_id=str(principal.org_id))
    raise _Replay(Answer(202, row["response"].encode(), replayed=True))


async def _store(
    conn: Conn,
    principal: Principal,
    prepared: Prepared,
    targets: TargetIds,
    batch_id: UUID,
    received_at: datetime,
) -> Answer:
    """Run the ingest steps on `conn` (inside a transaction) and return the answer."""
    org_id = principal.org_id
    stored: dict[int, Stored] = {}
    existing = await _own_reports(conn, org_id, prepared.notices)
    fresh: list[Notice] = []
    for n in prepared.notices:
        if n.client_ref in existing:
            stored[n.index] = existing[n.client_ref]
        else:
            fresh.append(n)
    if fresh:
        stored.update(await store_fresh(conn, principal, fresh, batch_id, received_at, targets))
    answer, counts = _answer(prepared, stored, batch_id, received_at)
    del stored  # a 10,000-item batch holds three copies of its results at this point: free one
    body = to_json(answer)
    del answer
    await conn.execute(FINISH_BATCH, batch_id, counts, body)
    log.info(
        "report_batch_stored",
        org_id=str(org_id),
        batch_id=str(batch_id),
        items=prepared.size,
        **counts,
    )
    return Answer(202, body)


async def _own_reports(conn: Conn, org_id: UUID, items: Sequence[Notice]) -> dict[str, Stored]:
    """Return {client_ref: stored report} for client_refs this organisation already used."""
    if not items:
        return {}
    rows = await conn.fetch(OWN_REPORTS, org_id, [n.client_ref for n in items])
    if not rows:
        return {}
    sent = {n.client_ref: n.body for n in items}
    return {
        r["client_ref"]: Stored(
            r["id"],
            r["ticket_id"],
            notices.shown_target(r["kind"], r["canonical"], r["registrable_domain"]),
            "duplicate_of_own_report",
            r["sla_due_at"],
            # Nothing is changed either way; saying so keeps a correction from vanishing unseen.
            content_differs=not notices.same_item(
                sent[r["client_ref"]], body := r["body"].encode()
            ),
            body=body,
        )
        for r in rows
    }


def _answer(
    prepared: Prepared, stored: dict[int, Stored], batch_id: UUID, received_at: datetime
) -> tuple[dict[str, Any], dict[str, int]]:
    """Return the answer document and its counts (shape in the module docstring)."""
    items: list[dict[str, Any]] = []
    counts = dict.fromkeys(("accepted", "rejected", *OUTCOMES), 0)
    refs = {n.index: n.client_ref for n in prepared.notices}
    bodies = {n.index: n.body for n in prepared.notices} if prepared.repeats else {}
    for index in range(prepared.size):
        rejected = prepared.rejected.get(index)
        if rejected is not None:
            counts["rejected"] += 1
            items.append(rejected)
            continue
        earlier = prepared.repeats.get(index)
        s = stored[index if earlier is None else earlier]
        outcome = s.outcome if earlier is None else "duplicate_of_own_report"
        counts["accepted"] += 1
        counts[outcome] += 1
        entry = {
            "index": index,
            "client_ref": refs[index if earlier is None else earlier],
            "report_id": str(s.report_id),  # asyncpg's UUID type serialises 5x slower
            "target": s.target,
            "outcome": outcome,
            "ticket_id": str(s.ticket_id),
            "indicative_decision_by": s.decision_by,
        }
        if earlier is None:
            differs = s.content_differs
        else:  # a repeat is compared with what is stored: by an earlier batch, or by this one
            stored_body = bodies[earlier] if s.body is None else s.body
            differs = not notices.same_item(prepared.repeat_bodies[index], stored_body)
        if differs:
            entry["content_differs"] = True
        items.append(entry)
    answer = {
        "batch_id": str(batch_id),
        "received_at": received_at,
        "counts": counts,
        "items": items,
    }
    return answer, counts
