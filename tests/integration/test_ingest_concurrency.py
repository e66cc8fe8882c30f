"""Concurrent batches: one ticket per target, exact counts, no deadlock, no double report."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg

from fraudchannel.errors import Unavailable
from tests.builders import host, url_item
from tests.integration.ingest_harness import new_org, one, submit


async def test_same_org_concurrent_batches_with_shared_client_refs_store_each_once(
    pool: asyncpg.Pool,
) -> None:
    org = await new_org(pool)
    hosts = [host() for _ in range(60)]
    a = [url_item(f"ref-{i}", f"https://{hosts[i]}/") for i in range(0, 40)]
    b = [url_item(f"ref-{i}", f"https://{hosts[i]}/") for i in range(20, 60)]
    first, second = await asyncio.gather(submit(pool, org, a), submit(pool, org, b))
    stored = await pool.fetchval("SELECT count(*) FROM reports WHERE org_id = $1", org.org_id)
    assert stored == 60
    dups = first["counts"]["duplicate_of_own_report"] + second["counts"]["duplicate_of_own_report"]
    assert dups == 20  # the 20 shared client_refs: stored by one batch, answered by the other
    by_ref: dict[str, set[str]] = {}
    for doc in (first, second):
        for item in doc["items"]:
            by_ref.setdefault(item["client_ref"], set()).add(item["report_id"])
    assert all(len(ids) == 1 for ids in by_ref.values())
    counts = await pool.fetch(
        "SELECT k.report_count, k.org_count FROM tickets k JOIN targets t ON t.id = k.target_id "
        "WHERE t.key = ANY($1::text[])",
        [f"{h}/" for h in hosts],
    )
    assert sorted((r["report_count"], r["org_count"]) for r in counts) == [(1, 1)] * 60


async def test_many_large_overlapping_batches_never_deadlock(pool: asyncpg.Pool) -> None:
    orgs = [await new_org(pool) for _ in range(4)]
    hosts = [host() for _ in range(500)]
    rnd = random.Random(7)  # noqa: S311 - reproducible test data
    jobs = []
    expected: dict[str, int] = {}
    for k, org in enumerate(orgs):
        for b in range(2):
            picked = rnd.sample(hosts, 300)
            items: list[dict[str, Any]] = [
                url_item(
                    f"{k}-{b}-{h}",
                    f"https://{h}/p",
                    related=[{"type": "url", "url": f"https://{hosts[0]}/rel"}],
                )
                for h in picked
            ]
            for h in picked:
                expected[h] = expected.get(h, 0) + 1
            jobs.append(submit(pool, org, items))
    docs = await asyncio.gather(*jobs)
    assert all(d["counts"]["rejected"] == 0 for d in docs)
    rows = await pool.fetch(
        "SELECT t.key, k.report_count, k.state::text FROM tickets k "
        "JOIN targets t ON t.id = k.target_id WHERE t.key = ANY($1::text[])",
        [f"{h}/p" for h in hosts],
    )
    assert len(rows) == len(expected)
    assert {r["key"]: r["report_count"] for r in rows} == {f"{h}/p": n for h, n in expected.items()}
    ids = {i["ticket_id"] for d in docs for i in d["items"]}
    assert len(ids) == len(expected)


async def test_batches_sharing_client_refs_pairwise_are_stored_or_refused_never_lost(
    pool: asyncpg.Pool,
) -> None:
    # Bug (found by a break-it run): 4 batches of one organisation, each pair sharing a
    # client_ref, kept colliding until the retries ran out: 500. Now the retries are spaced at
    # random, and when they do run out the answer is 503 (nothing stored), never 500.
    org = await new_org(pool)
    n = 6
    urls = {(i, j): f"https://{host()}/" for i in range(n) for j in range(i + 1, n)}
    batches = [
        [
            url_item(f"p-{min(k, j)}-{max(k, j)}", urls[min(k, j), max(k, j)])
            for j in range(n)
            if j != k
        ]
        for k in range(n)
    ]

    refused: list[Unavailable] = []

    async def one(items: list[dict[str, Any]]) -> dict[str, Any] | None:
        try:
            return await submit(pool, org, items)
        except Unavailable as exc:
            refused.append(exc)
            return None

    docs = await asyncio.gather(*(one(b) for b in batches))
    stored = await pool.fetch(
        "SELECT client_ref, count(*) AS n FROM reports WHERE org_id = $1 GROUP BY client_ref",
        org.org_id,
    )
    assert all(r["n"] == 1 for r in stored)
    answered = {i["client_ref"] for d in docs if d is not None for i in d["items"]}
    assert answered <= {r["client_ref"] for r in stored}  # every answered ref is stored once
    assert sum(d is not None for d in docs) >= n - 1  # random spacing lets nearly all through
    assert all(exc.status == 503 and exc.headers["Retry-After"] == "1" for exc in refused)


async def _ticketed_between_upsert_and_copy(
    pool: asyncpg.Pool, monkeypatch: Any, decide: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Submit one new URL for org A; right after A's targets are committed (before A's first
    tickets are copied), org B reports the same URL, and its ticket is then `decide`d (or left
    open). Return (A's answer item, B's answer item)."""
    from fraudchannel import dedup

    url = f"https://{host()}/login"
    a, b = await new_org(pool), await new_org(pool)
    real = dedup.upsert_targets
    seen: dict[str, Any] = {}

    async def upsert_then_race(conn: Any, items: Any, **kw: Any) -> Any:
        ids = await real(conn, items, **kw)
        if not seen:
            seen["racing"] = True  # B's own upsert comes through here too
            seen["b"] = (await submit(pool, b, [url_item("b-1", url)]))["items"][0]
            if decide is not None:
                await pool.execute(
                    "UPDATE tickets SET state = $2::ticket_state, decided_at = now() "
                    "WHERE id = $1::uuid",
                    seen["b"]["ticket_id"],
                    decide,
                )
        return ids

    monkeypatch.setattr(dedup, "upsert_targets", upsert_then_race)
    mine = (await submit(pool, a, [url_item("a-1", url)]))["items"][0]
    return mine, seen["b"]


async def test_a_new_target_ticketed_by_another_batch_meanwhile_is_linked_to_its_ticket(
    pool: asyncpg.Pool, monkeypatch: Any
) -> None:
    mine, theirs = await _ticketed_between_upsert_and_copy(pool, monkeypatch, decide=None)
    assert theirs["outcome"] == "new_ticket"
    assert mine["outcome"] == "linked_to_open_ticket"
    assert mine["ticket_id"] == theirs["ticket_id"]
    row = await one(
        pool,
        "SELECT report_count, org_count, (SELECT count(*) FROM tickets k2 "
        "WHERE k2.target_id = k.target_id) AS tickets FROM tickets k WHERE id = $1::uuid",
        mine["ticket_id"],
    )
    assert (row["report_count"], row["org_count"], row["tickets"]) == (2, 2, 1)


async def test_a_new_target_whose_ticket_was_decided_meanwhile_recurs(
    pool: asyncpg.Pool, monkeypatch: Any
) -> None:
    mine, theirs = await _ticketed_between_upsert_and_copy(pool, monkeypatch, decide="actioned")
    assert mine["outcome"] == "recurrence_after_action"
    assert mine["ticket_id"] != theirs["ticket_id"]
    row = await one(
        pool,
        "SELECT recurrence_of::text, report_count FROM tickets WHERE id = $1::uuid",
        mine["ticket_id"],
    )
    assert (row["recurrence_of"], row["report_count"]) == (theirs["ticket_id"], 1)
