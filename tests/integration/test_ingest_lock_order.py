"""Batches naming the same targets queue on the targets' row locks, taken first and in id order:
no deadlock between the COPY of first tickets and the general path, and a ticket decision made
while a batch waits is seen (a recurrence, not a second first ticket). Found by a break-it review:
each test pauses one batch inside its transaction at the point the race needs."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from structlog.testing import capture_logs

from fraudchannel import ticketing
from tests.builders import host, url_item
from tests.integration.ingest_harness import new_org, submit


async def _decide(pool: asyncpg.Pool, ticket_id: str) -> None:
    await pool.execute(
        "UPDATE tickets SET state = 'actioned', decided_at = now() WHERE id = $1::uuid", ticket_id
    )


def _pause_after_open_tickets(monkeypatch: Any, org: Any) -> tuple[asyncio.Event, asyncio.Event]:
    """Make `org`'s next batch pause inside its transaction once its tickets are open (target
    locks held): returns (set when it pauses, set this to let it go on)."""
    holding, release = asyncio.Event(), asyncio.Event()
    real = ticketing.open_tickets

    async def pause(conn: Any, principal: Any, *args: Any) -> Any:
        opened = await real(conn, principal, *args)
        if principal.org_id == org.org_id:
            holding.set()
            await release.wait()
        return opened

    monkeypatch.setattr(ticketing, "open_tickets", pause)
    return holding, release


async def test_first_tickets_and_known_targets_never_deadlock(
    pool: asyncpg.Pool, monkeypatch: Any
) -> None:
    # Y is known (its ticket decided); X is new to A. A copies X's first ticket and pauses; B,
    # naming [Y, X] (both known to B by then), must queue behind A, not lock Y and wait on X.
    a, b, c = await new_org(pool), await new_org(pool), await new_org(pool)
    y, x = f"https://{host()}/", f"https://{host()}/"
    await _decide(pool, (await submit(pool, c, [url_item("c1", y)]))["items"][0]["ticket_id"])
    copied, go_on = asyncio.Event(), asyncio.Event()
    real = ticketing._copy_first_tickets

    async def pause_after_copy(*args: Any) -> bool:
        done = await real(*args)
        copied.set()
        await go_on.wait()
        return done

    monkeypatch.setattr(ticketing, "_copy_first_tickets", pause_after_copy)

    async def second() -> dict[str, Any]:
        await copied.wait()
        later = asyncio.ensure_future(submit(pool, b, [url_item("b1", y), url_item("b2", x)]))
        await asyncio.sleep(0.3)  # B is now as far as it can get while A holds its locks
        go_on.set()
        return await later

    with capture_logs() as logs:
        first, then = await asyncio.gather(
            submit(pool, a, [url_item("a1", y), url_item("a2", x)]), second()
        )
    assert [e for e in logs if e["event"] == "report_batch_retried"] == []
    assert [i["outcome"] for i in first["items"]] == ["recurrence_after_action", "new_ticket"]
    assert [i["outcome"] for i in then["items"]] == ["linked_to_open_ticket"] * 2
    assert [i["ticket_id"] for i in then["items"]] == [i["ticket_id"] for i in first["items"]]


async def test_a_ticket_decided_while_a_batch_waits_makes_its_report_a_recurrence(
    pool: asyncpg.Pool, monkeypatch: Any
) -> None:
    # D opens T1's ticket and pauses uncommitted; A names [T1, T2] and waits for D; meanwhile B
    # reports T2 and the platform actions B's ticket. A's T2 report must recur after it.
    a, b, d = await new_org(pool), await new_org(pool), await new_org(pool)
    t1, t2 = f"https://{host()}/", f"https://{host()}/"
    holding, release = _pause_after_open_tickets(monkeypatch, d)
    held = asyncio.ensure_future(submit(pool, d, [url_item("d1", t1)]))
    await holding.wait()
    waiting = asyncio.ensure_future(submit(pool, a, [url_item("a1", t1), url_item("a2", t2)]))
    await asyncio.sleep(0.3)
    decided = (await submit(pool, b, [url_item("b1", t2)]))["items"][0]["ticket_id"]
    await _decide(pool, decided)
    release.set()
    await held
    items = {i["client_ref"]: i for i in (await waiting)["items"]}
    assert items["a1"]["outcome"] == "linked_to_open_ticket"
    assert items["a2"]["outcome"] == "recurrence_after_action"
    row = await pool.fetchrow(
        "SELECT recurrence_of::text FROM tickets WHERE id = $1::uuid", items["a2"]["ticket_id"]
    )
    assert row is not None
    assert row["recurrence_of"] == decided


async def test_a_recurrence_follows_the_ticket_opened_last_not_the_batch_begun_first(
    pool: asyncpg.Pool, monkeypatch: Any
) -> None:
    # A begins first but waits for D's lock on Y; meanwhile B opens X's first ticket, which is
    # actioned; A's X ticket then recurs after B's. Once A's is decided, the next report of X
    # must follow A's ticket (opened last), not B's (whose transaction began later: with
    # opened_at = now() it looked newer). Break-it finding.
    a, b, d, e = [await new_org(pool) for _ in range(4)]
    y, x = f"https://{host()}/", f"https://{host()}/"
    ids = await _target_ids(pool, [y, x])
    if ids[0] > ids[1]:
        y, x = x, y  # A must lock Y first: Y needs the lower id, so name them in that order
    holding, release = _pause_after_open_tickets(monkeypatch, d)
    held = asyncio.ensure_future(submit(pool, d, [url_item("d1", y)]))
    await holding.wait()
    waiting = asyncio.ensure_future(submit(pool, a, [url_item("a1", y), url_item("a2", x)]))
    await asyncio.sleep(0.3)
    first_x = (await submit(pool, b, [url_item("b1", x)]))["items"][0]["ticket_id"]
    await _decide(pool, first_x)
    release.set()
    await held
    recurrence = (await waiting)["items"][1]
    assert recurrence["outcome"] == "recurrence_after_action"
    await pool.execute(
        "UPDATE tickets SET state = 'no_action', decided_at = now() WHERE id = $1::uuid",
        recurrence["ticket_id"],
    )
    later = (await submit(pool, e, [url_item("e1", x)]))["items"][0]
    follows = await pool.fetchval(
        "SELECT recurrence_of::text FROM tickets WHERE id = $1::uuid", later["ticket_id"]
    )
    assert follows == recurrence["ticket_id"]
    assert later["outcome"] == "new_ticket"  # after a no_action decision


async def _target_ids(pool: asyncpg.Pool, urls: list[str]) -> list[int]:
    """Make the URLs known targets (as related targets of one report); return their ids."""
    org = await new_org(pool)
    related = [{"type": "url", "url": u} for u in urls]
    await submit(pool, org, [url_item("r", f"https://{host()}/", related=related)])
    rows = await pool.fetch(
        "SELECT id FROM targets WHERE key = ANY($1::text[]) ORDER BY array_position($1, key)",
        [u.split("//", 1)[1] for u in urls],
    )
    return [r["id"] for r in rows]


async def test_a_ticket_decided_before_the_batch_locks_it_recurs_without_a_retry(
    pool: asyncpg.Pool, monkeypatch: Any
) -> None:
    # The platform decides the open ticket after the batch found it open (open_tickets) but
    # before the batch locked it: the batch holds the target, so it opens the recurrence itself
    # instead of running the whole transaction again (break-it: busy deciders caused 503s).
    reporter, other = await new_org(pool), await new_org(pool)
    url = f"https://{host()}/"
    ticket = (await submit(pool, other, [url_item("o1", url)]))["items"][0]["ticket_id"]
    real = ticketing.open_tickets

    async def decide_after_open(*args: Any) -> Any:
        opened = await real(*args)
        await _decide(pool, ticket)
        return opened

    monkeypatch.setattr(ticketing, "open_tickets", decide_after_open)
    with capture_logs() as logs:
        item = (await submit(pool, reporter, [url_item("r1", url), url_item("r2", url)]))["items"]
    assert [e for e in logs if e["event"] == "report_batch_retried"] == []
    assert [i["outcome"] for i in item] == ["recurrence_after_action", "linked_to_open_ticket"]
    assert item[0]["ticket_id"] == item[1]["ticket_id"] != ticket
    row = await pool.fetchrow(
        "SELECT recurrence_of::text, report_count FROM tickets WHERE id = $1::uuid",
        item[0]["ticket_id"],
    )
    assert row is not None
    assert (row["recurrence_of"], row["report_count"]) == (ticket, 2)
