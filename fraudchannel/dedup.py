"""Deduplication steps of the ingest transaction: targets, tickets and reports, set-based.

Targets are unique on (kind, key); a target has at most one open ticket (partial unique index);
a report is unique on (org_id, client_ref). Each step is one statement over arrays
(sql/queries/ingest.sql), rows taken in one fixed order (targets by (kind, key hash), tickets by
target id, then locked by ticket id, reports by client_ref) so that concurrent batches queue
instead of deadlocking. A target's first notice since its last decision opens its ticket (with
its counts and priority); later ones lock the open ticket, add to its counts and re-score it
(fraudchannel.priority). A ticket decided between two of our statements, or a client_ref a
concurrent batch of the same organisation stored first, raises Retry: the caller runs the whole
transaction again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg
import uuid_utils
from asyncpg.pool import PoolConnectionProxy

from fraudchannel import notices, priority
from fraudchannel.db import query
from fraudchannel.notices import Notice, TargetIdent
from fraudchannel.principal import Principal

UPSERT_TARGETS: Final = query("ingest", "upsert_targets")
TARGET_IDS: Final = query("ingest", "target_ids")
OPEN_TICKETS: Final = query("ingest", "open_tickets")
LOCK_OPEN_TICKETS: Final = query("ingest", "lock_open_tickets")
REPORTED_BEFORE: Final = query("ingest", "reported_before")
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
# A target's first ticket (the target was created by this batch: no other ticket can exist).
TICKET_COLUMNS: Final = (
    "id",
    "target_id",
    "priority",
    "band",
    "priority_reasons",
    "sla_due_at",
    "report_count",
    "org_count",
    "best_trust_tier",
    "max_loss_major",
    "victim_count",
    "scam_types",
    "first_reported_at",
    "last_reported_at",
)
LINK_RELATED_TARGETS: Final = query("ingest", "link_related_targets")
UPDATE_TICKETS: Final = query("ingest", "update_tickets")

# Row ids: read from the database (asyncpg's UUID) or made here (RFC 9562 version 7, time-ordered
# like the uuid_v7() column defaults, by uuid-utils: a tenth of the stdlib type's cost).
RowId = UUID | uuid_utils.UUID
new_id = uuid_utils.uuid7

# A connection as the service sees it: its own, or one borrowed from the pool.
Conn = asyncpg.Connection | PoolConnectionProxy


class Retry(Exception):
    """A concurrent batch changed what this one read; run the transaction again."""


@dataclass(frozen=True, slots=True)
class _Opened:
    """A ticket this batch opened: its id, the state of the one it follows, its SLA due time."""

    ticket_id: RowId
    prev_state: str | None
    due: datetime


@dataclass(slots=True)
class Stored:
    """A stored notice as answers show it: its report, ticket, target and outcome."""

    report_id: RowId
    ticket_id: RowId
    target: dict[str, str]
    outcome: str
    decision_by: datetime | None
    content_differs: bool = False  # a re-sent client_ref whose item differs from the stored one


async def _target_ids(
    conn: Conn, fresh: Sequence[Notice]
) -> tuple[dict[TargetIdent, int], set[int]]:
    """Upsert every target the notices name (sorted, once each).

    Returns ({ident: target id}, ids of the targets this statement created). Only the ids of
    targets that existed before are read back, by a second statement.
    """
    targets = {t.ident: t for n in fresh for t in (n.target, *n.related)}
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
    created = set(ids.values())
    known = [i for i in order if i not in ids]
    if known:
        rows = await conn.fetch(TARGET_IDS, [i[0] for i in known], [i[1] for i in known])
        if len(rows) != len(known):
            raise Retry
        for ident, r in zip(known, rows, strict=True):
            ids[ident] = r["id"]
    return ids, created


async def store_fresh(
    conn: Conn,
    principal: Principal,
    fresh: list[Notice],
    batch_id: UUID,
    now: datetime,
) -> dict[int, Stored]:
    """Store notices not seen before: targets, tickets, reports, links; return them by index."""
    target_id, created = await _target_ids(conn, fresh)
    tids = [target_id[n.target.ident] for n in fresh]  # each notice's main target, in order
    adds: dict[int, _Contribution] = {}
    for n, tid in zip(fresh, tids, strict=True):
        found = adds.get(tid)
        if found is None:
            found = adds[tid] = _Contribution(n.target.canonical.kind, n.index)
        found.add(n)
    main_ids = sorted(adds)
    opened = await _open_tickets(conn, principal, main_ids, created, adds, now)
    ticket_of = {tid: o.ticket_id for tid, o in opened.items()}
    due = {o.ticket_id: o.due for o in opened.values()}
    linked = [tid for tid in main_ids if tid not in opened]
    if linked:
        due.update(await _link_tickets(conn, principal, linked, adds, ticket_of, now))

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
            n.item.scam_type,
            n.loss_major,
            n.item.victim_count,
            n.item.observed_at,
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


async def _open_tickets(
    conn: Conn,
    principal: Principal,
    main_ids: list[int],
    created: set[int],
    adds: dict[int, _Contribution],
    now: datetime,
) -> dict[int, _Opened]:
    """Open tickets, counts and priority included, for targets without an open one.

    Targets in `created` (made by this batch) get their first ticket straight away; the others
    are checked for an open ticket first (and may recur after a decision). Returns {target id:
    the ticket opened} for the targets whose ticket this batch opened.
    """
    first = _TicketRows()
    known = _TicketRows()
    for tid in main_ids:
        add = adds[tid]
        (first if tid in created else known).add(tid, add, principal.trust_tier, now)
    opened: dict[int, _Opened] = {}
    if first.ids:
        await conn.copy_records_to_table(
            "tickets", records=first.records(principal.trust_tier, now), columns=TICKET_COLUMNS
        )
        opened = {
            tid: _Opened(ticket_id, None, due)
            for tid, ticket_id, due in zip(first.targets, first.ids, first.dues, strict=True)
        }
    if known.ids:
        rows = await conn.fetch(OPEN_TICKETS, *known.args(principal.trust_tier))
        due_of = dict(zip(known.targets, known.dues, strict=True))
        for r in rows:
            opened[r["target_id"]] = _Opened(r["id"], r["prev_state"], due_of[r["target_id"]])
    return opened


class _TicketRows:
    """The tickets a batch may open: rows for COPY (first tickets) or open_tickets' arguments.

    A new ticket's priority depends on its contribution's buckets only, so few distinct scores,
    reason lists and scam-type lists occur: each is computed and sent once per "shape".
    """

    __slots__ = (
        "_bands",
        "_counts",
        "_losses",
        "_priorities",
        "_shape_of",
        "_shapes",
        "_victims",
        "dues",
        "ids",
        "targets",
    )

    def __init__(self) -> None:
        self.ids: list[RowId] = []
        self.targets: list[int] = []
        self.dues: list[datetime] = []
        self._counts: list[int] = []
        self._losses: list[float | None] = []
        self._victims: list[int] = []
        self._priorities: list[int] = []
        self._bands: list[str] = []
        self._shapes: list[int] = []
        self._shape_of: dict[tuple[Any, ...], tuple[int, priority.Priority, str]] = {}

    def add(self, tid: int, add: _Contribution, trust_tier: int, now: datetime) -> None:
        """Add the ticket `add` opens for target `tid`, scored as priority.score says."""
        types = sorted(add.scam_types)
        key = (add.kind, add.max_loss, add.victims, *types)
        found = self._shape_of.get(key)
        if found is None:
            score = priority.score(
                priority.Signals(
                    best_trust_tier=trust_tier,
                    org_count=1,
                    max_loss_major=add.max_loss or 0.0,
                    victim_count=add.victims,
                    scam_types=frozenset(add.scam_types),
                    target_kind=add.kind,
                    first_reported_at=now,
                    now=now,
                )
            )
            found = self._shape_of[key] = (len(self._shape_of) + 1, score, ",".join(types))
        shape, score, _ = found
        self.ids.append(new_id())
        self.targets.append(tid)
        self.dues.append(now + score.sla)
        self._counts.append(add.reports)
        self._losses.append(add.max_loss)
        self._victims.append(add.victims)
        self._priorities.append(score.score)
        self._bands.append(score.band)
        self._shapes.append(shape)

    def records(self, trust_tier: int, now: datetime) -> list[tuple[Any, ...]]:
        """Return the tickets as rows of TICKET_COLUMNS (for COPY)."""
        shapes = sorted(self._shape_of.values(), key=lambda f: f[0])
        reasons = [score.reasons_json.encode() for _, score, _ in shapes]
        types = [kinds.split(",") for _, _, kinds in shapes]
        return [
            (
                ticket_id,
                tid,
                prio,
                band,
                reasons[shape - 1],
                due,
                count,
                1,
                trust_tier,
                loss,
                victims,
                types[shape - 1],
                now,
                now,
            )
            for ticket_id, tid, prio, band, shape, due, count, loss, victims in zip(
                self.ids,
                self.targets,
                self._priorities,
                self._bands,
                self._shapes,
                self.dues,
                self._counts,
                self._losses,
                self._victims,
                strict=True,
            )
        ]

    def args(self, trust_tier: int) -> list[Any]:
        """Return the arguments ($1..$12) of the open_tickets statement."""
        shapes = sorted(self._shape_of.values(), key=lambda f: f[0])
        return [
            self.ids,
            self.targets,
            self._counts,
            self._losses,
            self._victims,
            self._priorities,
            self._shapes,
            [score.reasons_json for _, score, _ in shapes],
            [types for _, _, types in shapes],
            self._bands,
            self.dues,
            trust_tier,
        ]


async def _link_tickets(
    conn: Conn,
    principal: Principal,
    linked: list[int],
    adds: dict[int, _Contribution],
    ticket_of: dict[int, RowId],
    now: datetime,
) -> dict[RowId, datetime]:
    """Add the notices to the open tickets of `linked` targets: lock them (by ticket id), add
    counts, re-score; fill `ticket_of` and return the tickets' SLA due times.
    """
    locked = await conn.fetch(LOCK_OPEN_TICKETS, linked)
    if len(locked) != len(linked):
        raise Retry  # a ticket was decided between open_tickets and the lock
    ticket_ids = [r["id"] for r in locked]
    before = {
        r["ticket_id"] for r in await conn.fetch(REPORTED_BEFORE, ticket_ids, principal.org_id)
    }
    cols: list[list[Any]] = [[] for _ in range(12)]
    due: dict[RowId, datetime] = {}
    for old in locked:
        ticket_id, add = old["id"], adds[old["target_id"]]
        ticket_of[old["target_id"]] = ticket_id
        tier = min(old["best_trust_tier"] or principal.trust_tier, principal.trust_tier)
        org_count = old["org_count"] + (0 if ticket_id in before else 1)
        losses = [x for x in (old["max_loss_major"], add.max_loss) if x is not None]
        max_loss = max(losses) if losses else None
        victims = old["victim_count"] + add.victims
        scam_types = set(old["scam_types"]) | add.scam_types
        first = old["first_reported_at"] or now
        score = priority.score(
            priority.Signals(
                best_trust_tier=tier,
                org_count=org_count,
                max_loss_major=max_loss or 0.0,
                victim_count=victims,
                scam_types=frozenset(scam_types),
                target_kind=add.kind,
                first_reported_at=first,
                now=now,
            )
        )
        due[ticket_id] = old["opened_at"] + score.sla
        row = (
            ticket_id,
            old["report_count"] + add.reports,
            org_count,
            tier,
            max_loss,
            victims,
            ",".join(sorted(scam_types)),
            first,
            score.score,
            score.band,
            score.reasons_json,
            due[ticket_id],
        )
        for col, value in zip(cols, row, strict=True):
            col.append(value)
    await conn.execute(UPDATE_TICKETS, *cols)
    return due


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


class _Contribution:
    """What one batch's notices add to one target's ticket (`first_index`: its first notice)."""

    __slots__ = ("first_index", "kind", "max_loss", "reports", "scam_types", "victims")

    def __init__(self, kind: str, first_index: int) -> None:
        self.kind = kind
        self.first_index = first_index
        self.reports = 0
        self.victims = 0
        self.max_loss: float | None = None
        self.scam_types: set[str] = set()

    def add(self, n: Notice) -> None:
        self.reports += 1
        self.victims += n.item.victim_count or 0
        loss = n.loss_major
        if loss is not None and (self.max_loss is None or loss > self.max_loss):
            self.max_loss = loss
        self.scam_types.add(n.item.scam_type)
