"""Opening and linking the tickets of a batch's targets, inside the ingest transaction.

A target has at most one open ticket (the partial unique index tickets_one_open_per_target).
First the batch locks its targets' rows, in id order, in one statement (`lock_targets`): from
then on no other batch can open or link a ticket of them until we commit, so the steps below
never wait on another batch (no deadlock) and read what stays true. A target the batch created
(dedup.upsert_targets, committed just before) almost always has no ticket yet, so its first
ticket is written by COPY, the fastest way in, under a savepoint: when a concurrent batch
ticketed one of those targets between the upsert and the lock (the COPY hits the unique index,
or a count finds another ticket of them), the savepoint is rolled back and they take the general
path. That path checks each known target for an open ticket (open_tickets; a recurrence after a
decided one) and, when it has one, adds the batch's notices to it under a row lock taken in
ticket-id order (lock_open_tickets, update_tickets). Priority comes from fraudchannel.priority
(DSA Art 22(1): trusted flaggers' notices first); a ticket decided between open_tickets and its
lock (the platform's decisions take no target lock) gets its next ticket opened at once
(`ticket_targets`: the batch holds the target). Whatever decides tickets must take
locks in an order compatible with this one (its tickets' targets first, by `lock_targets`, or one
ticket per transaction): a transaction locking several tickets in another order can deadlock
with ingest.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from fraudchannel import priority
from fraudchannel.db import Conn, Retry, RowId, new_id, query
from fraudchannel.notices import Notice
from fraudchannel.principal import Principal

OPEN_TICKETS: Final = query("ingest", "open_tickets")
LOCK_OPEN_TICKETS: Final = query("ingest", "lock_open_tickets")
REPORTED_BEFORE: Final = query("ingest", "reported_before")
UPDATE_TICKETS: Final = query("ingest", "update_tickets")
COUNT_TICKETS: Final = query("ingest", "count_tickets")
LOCK_TARGETS: Final = query("ingest", "lock_targets")
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
)  # first_reported_at, last_reported_at: the transaction's now(); opened_at: the row's own time


@dataclass(frozen=True, slots=True)
class Opened:
    """A ticket this batch opened: its id, the state of the one it follows, its SLA due time."""

    ticket_id: RowId
    prev_state: str | None
    due: datetime


@dataclass(slots=True)
class Ticketed:
    """Where a batch's targets' notices go: {target id: ticket opened here}, {target id: its
    ticket (opened or linked)}, {ticket id: SLA due time}."""

    opened: dict[int, Opened]
    ticket_of: dict[int, RowId]
    due: dict[RowId, datetime]


async def ticket_targets(
    conn: Conn,
    principal: Principal,
    main_ids: list[int],
    created: Set[int],
    adds: dict[int, Contribution],
    now: datetime,
) -> Ticketed:
    """Open or link the ticket of each of `main_ids` (sorted) for the batch's notices (`adds`).

    A linked ticket decided between open_tickets and its lock (decisions take no target lock)
    gets its next ticket opened here and now: the batch holds the target's lock, so nobody else
    can, and the transaction need not run again.
    """
    opened = await open_tickets(conn, principal, main_ids, created, adds, now)
    ticket_of = {tid: o.ticket_id for tid, o in opened.items()}
    due = {o.ticket_id: o.due for o in opened.values()}
    linked = [tid for tid in main_ids if tid not in opened]
    if linked:
        linked_due, decided = await link_tickets(conn, principal, linked, adds, ticket_of, now)
        due.update(linked_due)
        if decided:
            again = await _open_known(conn, principal.trust_tier, decided, adds, now)
            if len(again) != len(decided):  # pragma: no cover (the targets are ours, locked)
                raise Retry
            opened.update(again)
            ticket_of.update((tid, o.ticket_id) for tid, o in again.items())
            due.update((o.ticket_id, o.due) for o in again.values())
    return Ticketed(opened, ticket_of, due)


async def open_tickets(
    conn: Conn,
    principal: Principal,
    main_ids: list[int],
    created: Set[int],
    adds: dict[int, Contribution],
    now: datetime,
) -> dict[int, Opened]:
    """Open tickets, counts and priority included, for targets without an open one.

    Locks the targets first (`lock_targets`). Targets in `created` (made for this batch) get
    their first ticket by COPY when no other ticket of them exists; the others are checked for
    an open ticket first (and may recur after a decision). Returns {target id: the ticket
    opened} for the targets whose ticket this batch opened.
    """
    tier = principal.trust_tier
    await lock_targets(conn, main_ids)
    first = [tid for tid in main_ids if tid in created]
    opened: dict[int, Opened] = {}
    if first:
        rows = _TicketRows()
        for tid in first:
            rows.add(tid, adds[tid], tier, now)
        if await _copy_first_tickets(conn, rows, tier):
            opened = {
                tid: Opened(ticket_id, None, due)
                for tid, ticket_id, due in zip(rows.targets, rows.ids, rows.dues, strict=True)
            }
    rest = [tid for tid in main_ids if tid not in opened]
    if rest:
        opened.update(await _open_known(conn, tier, rest, adds, now))
    return opened


async def _open_known(
    conn: Conn, tier: int, target_ids: list[int], adds: dict[int, Contribution], now: datetime
) -> dict[int, Opened]:
    """open_tickets' general path: a ticket for each target (sorted) without an open one."""
    known = _TicketRows()
    for tid in target_ids:
        known.add(tid, adds[tid], tier, now)
    found = await conn.fetch(OPEN_TICKETS, *known.args(tier))
    due_of = dict(zip(known.targets, known.dues, strict=True))
    return {r["target_id"]: Opened(r["id"], r["prev_state"], due_of[r["target_id"]]) for r in found}


async def lock_targets(conn: Conn, target_ids: list[int]) -> None:
    """Lock the rows of `target_ids` (sorted) until the transaction ends (see module docstring).

    Raises RuntimeError when a target is missing (targets are never deleted)."""
    locked = await conn.fetchval(LOCK_TARGETS, target_ids)
    if locked != len(target_ids):
        raise RuntimeError(f"{len(target_ids) - locked} targets vanished before their tickets")


async def _copy_first_tickets(conn: Conn, rows: _TicketRows, trust_tier: int) -> bool:
    """Write `rows` as the first tickets of their targets, all or none; return False (nothing
    written) when any of those targets has another ticket: a concurrent batch opened it between
    the targets' upsert and now (an open one stops the COPY at the unique index)."""
    try:
        async with conn.transaction():  # a savepoint inside the batch's transaction
            await conn.copy_records_to_table(
                "tickets", records=rows.records(trust_tier), columns=TICKET_COLUMNS
            )
            if await conn.fetchval(COUNT_TICKETS, rows.targets) != len(rows.ids):
                raise _Ticketed
    except (_Ticketed, asyncpg.UniqueViolationError):
        return False
    return True


class _Ticketed(Exception):
    """A target thought new has a ticket already: undo the COPY of first tickets."""


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

    def add(self, tid: int, add: Contribution, trust_tier: int, now: datetime) -> None:
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

    def records(self, trust_tier: int) -> list[tuple[Any, ...]]:
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


async def link_tickets(
    conn: Conn,
    principal: Principal,
    linked: list[int],
    adds: dict[int, Contribution],
    ticket_of: dict[int, RowId],
    now: datetime,
) -> tuple[dict[RowId, datetime], list[int]]:
    """Add the notices to the open tickets of `linked` targets: lock them (by ticket id), add
    counts, re-score; fill `ticket_of`. Returns the tickets' SLA due times, and the targets
    (sorted) whose open ticket was decided before it could be locked: they have none now.
    """
    locked = await conn.fetch(LOCK_OPEN_TICKETS, linked)
    decided = sorted(set(linked) - {r["target_id"] for r in locked})
    if not locked:
        return {}, decided
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
        # The SLA runs from the receipt of the ticket's first notice (first_reported_at: the
        # opening transaction's now(), as a new ticket's sla_due_at = now + SLA).
        due[ticket_id] = (old["first_reported_at"] or old["opened_at"]) + score.sla
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
    return due, decided


class Contribution:
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
        self.victims += n.victim_count or 0
        loss = n.loss_major
        if loss is not None and (self.max_loss is None or loss > self.max_loss):
            self.max_loss = loss
        self.scam_types.add(n.scam_type)
