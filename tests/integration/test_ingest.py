"""The ingest service on a real PostgreSQL: storing, deduplicating, linking and replaying."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest

from tests.builders import host, url_item
from tests.integration.ingest_harness import new_org, one, submit


async def test_mixed_batch_stores_the_good_items_and_answers_every_item(
    pool: asyncpg.Pool,
) -> None:
    org = await new_org(pool)
    h = host()
    doc = await submit(
        pool,
        org,
        [
            url_item("a", f"hxxps://{h}[.]/login?utm_source=sms"),
            url_item("b", "definitely not a url"),
            {"client_ref": "c", "target": {"type": "phone", "number": "+447700900123"}},
            url_item("d", f"https://{h}/other", victim_count=2),
            42,
        ],
    )
    items = doc["items"]
    assert [i["index"] for i in items] == [0, 1, 2, 3, 4]
    assert doc["counts"] == {
        "accepted": 2,
        "rejected": 3,
        "new_ticket": 2,
        "linked_to_open_ticket": 0,
        "recurrence_after_action": 0,
        "duplicate_of_own_report": 0,
    }
    assert items[0]["target"] == {
        "type": "url",
        "canonical": f"https://{h}/login",
        "registrable_domain": h,
    }
    assert items[0]["outcome"] == "new_ticket"
    assert items[1]["errors"][0]["pointer"] == "/reports/1/target/url"
    assert {e["pointer"] for e in items[2]["errors"]} == {
        "/reports/2/scam_type",
        "/reports/2/explanation",
    }
    assert items[4] == {"index": 4, "errors": items[4]["errors"]}
    rows = await pool.fetch(
        "SELECT client_ref, body, outcome::text, batch_id FROM reports WHERE org_id = $1 "
        "ORDER BY item_index",
        org.org_id,
    )
    assert [r["client_ref"] for r in rows] == ["a", "d"]
    assert rows[0]["body"]["target"]["url"] == f"hxxps://{h}[.]/login?utm_source=sms"
    assert str(rows[0]["batch_id"]) == doc["batch_id"]
    stored = await pool.fetchval(
        "SELECT response::text FROM report_batches WHERE id = $1", uuid.UUID(doc["batch_id"])
    )
    assert json.loads(stored) == doc


async def test_a_batch_of_only_bad_items_is_answered_and_recorded(pool: asyncpg.Pool) -> None:
    org = await new_org(pool)
    doc = await submit(pool, org, [{"client_ref": "x"}, "y"])
    assert doc["counts"]["accepted"] == 0
    assert doc["counts"]["rejected"] == 2
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE org_id = $1", org.org_id) == 0
    assert await pool.fetchval(
        "SELECT item_count FROM report_batches WHERE id = $1", uuid.UUID(doc["batch_id"])
    )


async def test_http_and_https_of_one_page_are_one_ticket(pool: asyncpg.Pool) -> None:
    org = await new_org(pool)
    h = host()
    doc = await submit(
        pool, org, [url_item("a", f"http://{h}/pay"), url_item("b", f"HTTPS://{h.upper()}/pay")]
    )
    a, b = doc["items"]
    assert a["ticket_id"] == b["ticket_id"]
    assert (a["outcome"], b["outcome"]) == ("new_ticket", "linked_to_open_ticket")
    # One target (the key leaves the scheme out); each report shows its own canonical URL.
    assert a["target"]["canonical"] == f"http://{h}/pay"
    assert b["target"]["canonical"] == f"https://{h}/pay"
    ticket = await one(
        pool, "SELECT report_count, org_count FROM tickets WHERE id = $1", uuid.UUID(a["ticket_id"])
    )
    assert (ticket["report_count"], ticket["org_count"]) == (2, 1)


async def test_a_report_after_action_opens_a_linked_recurrence(pool: asyncpg.Pool) -> None:
    org = await new_org(pool)
    url = f"https://{host()}/login"
    first = (await submit(pool, org, [url_item("r-1", url)]))["items"][0]
    old = uuid.UUID(first["ticket_id"])
    await pool.execute(
        "UPDATE tickets SET state = 'actioned', decided_at = now() WHERE id = $1", old
    )
    again = (await submit(pool, org, [url_item("r-2", url), url_item("r-3", url)]))["items"]
    assert again[0]["outcome"] == "recurrence_after_action"
    assert again[1]["outcome"] == "linked_to_open_ticket"
    new = uuid.UUID(again[0]["ticket_id"])
    assert new != old
    row = await one(
        pool,
        "SELECT recurrence_of, state::text, report_count, org_count FROM tickets WHERE id = $1",
        new,
    )
    assert (row["recurrence_of"], row["state"], row["report_count"], row["org_count"]) == (
        old,
        "open",
        2,
        1,
    )


async def test_a_report_after_no_action_opens_a_new_linked_ticket(pool: asyncpg.Pool) -> None:
    org = await new_org(pool)
    url = f"https://{host()}/"
    first = (await submit(pool, org, [url_item("n-1", url)]))["items"][0]
    old = uuid.UUID(first["ticket_id"])
    await pool.execute("UPDATE tickets SET state = 'no_action' WHERE id = $1", old)
    again = (await submit(pool, org, [url_item("n-2", url)]))["items"][0]
    assert again["outcome"] == "new_ticket"
    assert (
        await pool.fetchval(
            "SELECT recurrence_of FROM tickets WHERE id = $1", uuid.UUID(again["ticket_id"])
        )
        == old
    )


async def test_four_concurrent_submitters_share_one_ticket_per_target(pool: asyncpg.Pool) -> None:
    orgs = [await new_org(pool, trust_tier=t) for t in (1, 2, 2, 3)]
    hosts = [host() for _ in range(40)]
    # org k reports every target, plus each target once more in another form for org 0 and 1
    batches: list[list[dict[str, Any]]] = []
    for k, _org in enumerate(orgs):
        order = hosts[k:] + hosts[:k]  # a different order per org
        items = [url_item(f"o{k}-{h}", f"https://{h}/x") for h in order]
        if k < 2:
            items += [url_item(f"o{k}-again-{h}", f"http://{h}/x") for h in hosts[::2]]
        batches.append(items)
    docs = await asyncio.gather(
        *(submit(pool, org, items) for org, items in zip(orgs, batches, strict=True))
    )
    tickets = await pool.fetch(
        "SELECT k.id, k.report_count, k.org_count, k.best_trust_tier, t.key "
        "FROM tickets k JOIN targets t ON t.id = k.target_id WHERE t.key = ANY($1::text[])",
        [f"{h}/x" for h in hosts],
    )
    assert len(tickets) == len(hosts)  # one ticket per target, none twice
    by_key = {t["key"]: t for t in tickets}
    for i, h in enumerate(hosts):
        t = by_key[f"{h}/x"]
        assert t["org_count"] == 4
        assert t["report_count"] == (6 if i % 2 == 0 else 4)
        assert t["best_trust_tier"] == 1
    answered = {i["ticket_id"] for d in docs for i in d["items"]}
    assert answered == {str(t["id"]) for t in tickets}
    outcomes = [i["outcome"] for d in docs for i in d["items"]]
    assert outcomes.count("new_ticket") == len(hosts)
    reports = await pool.fetchval(
        "SELECT count(*) FROM reports WHERE org_id = ANY($1::uuid[])", [o.org_id for o in orgs]
    )
    assert reports == sum(len(b) for b in batches)


async def test_related_targets_are_stored_and_linked_without_tickets(pool: asyncpg.Pool) -> None:
    org = await new_org(pool)
    phone = "+447700900" + str(uuid.uuid4().int % 1000).zfill(3)
    doc = await submit(
        pool,
        org,
        [url_item("rel", f"https://{host()}/", related=[{"type": "phone", "number": phone}])],
    )
    report_id = uuid.UUID(doc["items"][0]["report_id"])
    rows = await pool.fetch(
        "SELECT t.kind::text, t.canonical, t.id FROM report_related_targets r "
        "JOIN targets t ON t.id = r.target_id WHERE r.report_id = $1",
        report_id,
    )
    assert [(r["kind"], r["canonical"]) for r in rows] == [("phone", phone)]
    assert (
        await pool.fetchval("SELECT count(*) FROM tickets WHERE target_id = $1", rows[0]["id"]) == 0
    )


async def test_tickets_carry_priority_reasons_and_sla(pool: asyncpg.Pool) -> None:
    org = await new_org(pool, trust_tier=1)
    doc = await submit(
        pool,
        org,
        [
            url_item(
                "p",
                f"https://{host()}/",
                scam_type="impersonation_police",
                victim_loss={"amount_minor": 5_000_000, "currency": "GBP"},
                victim_count=20,
            )
        ],
    )
    item = doc["items"][0]
    t = await one(
        pool,
        "SELECT priority, band::text, priority_reasons, sla_due_at, first_reported_at, "
        "max_loss_major, "
        "victim_count, scam_types FROM tickets WHERE id = $1",
        uuid.UUID(item["ticket_id"]),
    )
    assert t["band"] == "P1"
    assert t["priority"] == sum(r["points"] for r in t["priority_reasons"])
    # The SLA runs from the receipt of the first notice.
    assert (t["sla_due_at"] - t["first_reported_at"]).total_seconds() == 4 * 3600
    assert (t["max_loss_major"], t["victim_count"], t["scam_types"]) == (
        50_000.0,
        20,
        ["impersonation_police"],
    )
    assert item["indicative_decision_by"].startswith(str(t["sla_due_at"].date()))


async def test_linking_another_org_raises_org_count_and_priority(pool: asyncpg.Pool) -> None:
    a, b = await new_org(pool), await new_org(pool)
    url = f"https://{host()}/"
    first = (await submit(pool, a, [url_item("x", url)]))["items"][0]
    ticket_id = uuid.UUID(first["ticket_id"])
    before = await pool.fetchval("SELECT priority FROM tickets WHERE id = $1", ticket_id)
    second = (await submit(pool, b, [url_item("x", url)]))["items"][0]
    assert second["outcome"] == "linked_to_open_ticket"
    row = await one(
        pool, "SELECT priority, org_count, report_count FROM tickets WHERE id = $1", ticket_id
    )
    assert (row["org_count"], row["report_count"]) == (2, 2)
    assert row["priority"] > before
    third = (await submit(pool, b, [url_item("y", url)]))["items"][0]
    assert third["outcome"] == "linked_to_open_ticket"
    assert await pool.fetchval("SELECT org_count FROM tickets WHERE id = $1", ticket_id) == 2


async def test_the_answer_counts_add_up_on_a_large_batch(pool: asyncpg.Pool) -> None:
    org = await new_org(pool)
    hosts = [host() for _ in range(300)]
    items: list[Any] = [url_item(f"big-{i}", f"https://{hosts[i % 300]}/") for i in range(1000)]
    items[10] = {"client_ref": "broken"}
    doc = await submit(pool, org, items)
    c = doc["counts"]
    assert c["accepted"] + c["rejected"] == 1000
    assert c["rejected"] == 1
    assert c["new_ticket"] == 300
    assert c["linked_to_open_ticket"] == 699
    assert len(doc["items"]) == 1000


async def test_a_connection_that_breaks_after_commit_does_not_turn_the_receipt_into_an_error(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bug (found by the second break-it run): the connection was killed right after COMMIT; the
    # pool's reset on release raised, and a stored batch was answered 500.
    org = await new_org(pool)
    release = asyncpg.Pool.release

    async def broken_release(self: asyncpg.Pool, conn: Any, *args: Any, **kwargs: Any) -> None:
        await release(self, conn, *args, **kwargs)
        raise asyncpg.InterfaceError("cannot call Connection.reset(): the connection is closed")

    monkeypatch.setattr(asyncpg.Pool, "release", broken_release)
    doc = await submit(pool, org, [url_item("after-commit", f"https://{host()}/x")])
    monkeypatch.undo()
    assert doc["counts"]["new_ticket"] == 1
    stored = await pool.fetchval("SELECT count(*) FROM reports WHERE org_id = $1", org.org_id)
    assert stored == 1
