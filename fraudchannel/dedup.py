"""Deduplication steps of ingest: targets (committed on their own first), then, in the batch's
transaction, tickets and reports, set-based.

Targets are unique on (kind, key); a target has at most one open ticket (partial unique index,
fraudchannel.ticketing); a report is unique on (org_id, client_ref). Each step is one statement
over arrays (sql/queries/ingest.sql) or one COPY, rows taken in one fixed order (targets upserted
by (kind, key hash); in the transaction the main targets locked first, by id, then their tickets
by ticket id; reports by client_ref) so that concurrent batches queue instead of deadlocking. A
client_ref a concurrent batch of the same organisation stored first raises Retry: the caller
runs the whole transaction again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from fraudchannel import notices, ticketing
from fraudchannel.db import Conn, Retry, RowId, new_id, query, release
from fraudchannel.notices import Notice, TargetIdent
from fraudchannel.principal import Principal
from fraudchannel.ticketing import Contribution

UPSERT_TARGETS: Final = query("ingest", "upsert_targets")
TARGET_IDS: Final = query("ingest", "target_ids")
# Rows written with COPY (binary): the fastest way in for rows whose every value is known here
# (measured: a third less time per report than INSERT ... SELECT FROM unnest(...)). A unique
# violation (a client_ref stored meanwhile by the same organisation) aborts it: Retry.
REPORT_COLUMNS: Final = (
    "id",
    "org_id",
    "batch_id",
    "item_index",
    "client_ref",
    "target_id",
    "target_kind",
    "ticket_id",
    "outcome",
    "scam_type",
    "loss_major",
    "victim_count",
    "observed_at",
    "target_evidence",
    "body",
)
LINK_RELATED_TARGETS: Final = query("ingest", "link_related_targets")


@dataclass(slots=True)
class Stored:
    """A stored notice as answers show it: its report, ticket, target and outcome."""

    report_id: RowId
    ticket_id: RowId
    target: dict[str, str]
    outcome: str
    decision_by: datetime | None
    content_differs: bool = False  # a re-sent client_ref whose item differs from the stored one
    body: bytes | None = None  # the stored item, when an earlier batch stored it


@dataclass(frozen=True, slots=True)
class TargetIds:
    """The targets of a batch's notices: {ident: target id}, and the ids of those it created."""

    ids: dict[TargetIdent, int]
    created: frozenset[int]


async def upsert_targets(
    conn: Conn, items: Sequence[Notice], skip: Set[TargetIdent] = frozenset()
) -> TargetIds:
    """Make sure every target the notices name exists (sorted, once each); return their ids.

    Run on its own, before the batch's transaction (autocommit): a target is an identity, not a
    notice, so it may exist without reports (a batch that then fails leaves its new targets
    behind, unseen: every API shows targets through reports and tickets). Committing them at
    once means concurrent batches naming the same new targets wait for one short statement, not
    for each other's whole transaction. Targets are never deleted, so every id read stays valid.
    Only the ids of targets that existed before are read back, by a second statement. Targets
    whose ident is in `skip` (upserted before) are left out of both.
    """
    targets = {t.ident: t for n in items for t in (n.target, *n.related) if t.ident not in skip}
    if not targets:
        return TargetIds({}, frozenset())
    order = sorted(targets)
    cts = [targets[i].canonical for i in order]
    inserted = await conn.fetch(
        UPSERT_TARGETS,
        [i[0] for i in order],
        [c.key for c in cts],
        [i[1] for i in order],
        [c.canonical for c in cts],
        [c.registrable_domain for c in cts],
    )
    ids: dict[TargetIdent, int] = {(r["kind"], r["key_sha256"]): r["id"] for r in inserted}
    created = frozenset(ids.values())
    known = [i for i in order if i not in ids]
    if known:
        rows = await conn.fetch(TARGET_IDS, [i[0] for i in known], [i[1] for i in known])
        if len(rows) != len(known):  # targets are never deleted: a broken invariant
            raise RuntimeError(f"{len(known) - len(rows)} targets vanished after their upsert")
        for ident, r in zip(known, rows, strict=True):
            ids[ident] = r["id"]
    return TargetIds(ids, created)


class TargetUpserts:
    """`upsert_targets` of a batch's notices a chunk at a time, on one connection, while the
    caller prepares the next chunk: PostgreSQL's work overlaps the Python of preparing (each
    chunk's statements are their own transactions, sorted within: no deadlock is possible).

    Use: `add(notices)` after each prepared chunk (it returns at once), then `await result()`;
    `close()` in any case (it cancels what is pending and gives the connection back). Errors of
    the statements (database unavailable, ...) are raised by `result()`.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy | None = None
        self._ids: dict[TargetIdent, int] = {}
        self._created: set[int] = set()
        self._last: asyncio.Task[None] | None = None

    def add(self, items: Sequence[Notice]) -> None:
        """Queue the upsert of the targets of `items` after the ones queued before."""
        if items:
            self._last = asyncio.ensure_future(self._upsert(self._last, list(items)))

    async def _upsert(self, before: asyncio.Task[None] | None, items: list[Notice]) -> None:
        if before is not None:
            await before
        if self._conn is None:
            self._conn = await self._pool.acquire()
            # Each chunk's statements commit on their own: without waiting for the WAL to reach
            # disk (the pool's RESET ALL undoes this on release). Safe: a report naming these
            # targets commits synchronously later, and its flush covers every WAL record before
            # it, these included; a crash before then loses only targets nothing refers to.
            await self._conn.execute("SET synchronous_commit = off")
        found = await upsert_targets(self._conn, items, skip=self._ids.keys())
        self._ids.update(found.ids)
        self._created.update(found.created)

    async def result(self) -> TargetIds:
        """Wait for every queued upsert; return the ids of all targets added."""
        if self._last is not None:
            await self._last
        return TargetIds(self._ids, frozenset(self._created))

    async def close(self) -> None:
        """Cancel what is still pending and give the connection back to the pool."""
        if self._last is not None and not self._last.done():
            self._last.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._last
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await release(self._pool, conn)


async def store_fresh(
    conn: Conn,
    principal: Principal,
    fresh: list[Notice],
    batch_id: UUID,
    now: datetime,
    targets: TargetIds,
) -> dict[int, Stored]:
    """Store notices not seen before (their targets exist: `upsert_targets`): tickets, reports,
    links to related targets; return them by index."""
    target_id, created = targets.ids, targets.created
    tids = [target_id[n.target.ident] for n in fresh]  # each notice's main target, in order
    adds: dict[int, Contribution] = {}
    for n, tid in zip(fresh, tids, strict=True):
        found = adds.get(tid)
        if found is None:
            found = adds[tid] = Contribution(n.target.canonical.kind, n.index)
        found.add(n)
    main_ids = sorted(adds)
    ticketed = await ticketing.ticket_targets(conn, principal, main_ids, created, adds, now)
    opened, ticket_of, due = ticketed.opened, ticketed.ticket_of, ticketed.due

    outcomes: list[str] = []
    for n, tid in zip(fresh, tids, strict=True):
        o = opened.get(tid)
        if o is not None and adds[tid].first_index == n.index:  # it opened the ticket
            recurrence = o.prev_state == "actioned"
            outcomes.append("recurrence_after_action" if recurrence else "new_ticket")
        else:
            outcomes.append("linked_to_open_ticket")

    order = sorted(range(len(fresh)), key=lambda i: fresh[i].client_ref)
    rows = [fresh[i] for i in order]
    row_tids = [tids[i] for i in order]
    report_ids = [new_id() for _ in rows]
    org_id = principal.org_id
    records = [
        (
            rid,
            org_id,
            batch_id,
            n.index,
            n.client_ref,
            tid,
            n.target.canonical.kind,
            ticket_of[tid],
            outcomes[i],
            n.scam_type,
            n.loss_major,
            n.victim_count,
            n.observed_at,
            n.target_evidence,
            n.body,
        )
        for rid, i, n, tid in zip(report_ids, order, rows, row_tids, strict=True)
    ]
    try:
        await conn.copy_records_to_table("reports", records=records, columns=REPORT_COLUMNS)
    except asyncpg.UniqueViolationError as exc:
        # A concurrent batch of this organisation stored one of our client_refs first.
        raise Retry from exc
    report_id = {n.index: rid for n, rid in zip(rows, report_ids, strict=True)}
    await _link_related(conn, fresh, report_id, target_id)
    stored = {}
    for n, tid, outcome in zip(fresh, tids, outcomes, strict=True):
        ticket_id = ticket_of[tid]
        # Each report shows its own canonical form (its scheme kept); the target's key is shared.
        ct = n.target.canonical
        shown = notices.shown_target(ct.kind, ct.canonical, ct.registrable_domain)
        stored[n.index] = Stored(report_id[n.index], ticket_id, shown, outcome, due[ticket_id])
    return stored


async def _link_related(
    conn: Conn,
    fresh: Sequence[Notice],
    report_id: Mapping[int, RowId],
    target_id: dict[TargetIdent, int],
) -> None:
    links = [
        (report_id[n.index], target_id[t.ident], pos)
        for n in fresh
        for pos, t in enumerate(n.related)
    ]
    if links:
        await conn.execute(LINK_RELATED_TARGETS, *(list(col) for col in zip(*links, strict=True)))
