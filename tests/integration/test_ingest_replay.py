"""Re-sent reports and re-sent batches on a real PostgreSQL: a client_ref sent again returns the
original report and changes nothing; an Idempotency-Key replays the stored answer (DESIGN.md,
"The report schema"); a key reused for another body is refused."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import asyncpg
import pytest

from fraudchannel import ingest
from fraudchannel.errors import IdempotencyKeyReused
from fraudchannel.parsing import parse_envelope
from tests.builders import host, url_item
from tests.integration.ingest_harness import body_of, new_org, one, submit


async def test_a_resent_client_ref_returns_the_original_and_changes_nothing(
    pool: asyncpg.Pool,
) -> None:
    org = await new_org(pool)
    h = host()
    first = await submit(pool, org, [url_item("ref-1", f"https://{h}/a")])
    again = await submit(
        pool,
        org,
        [url_item("ref-1", f"https://{h}/totally-different"), url_item("ref-2", f"https://{h}/a")],
    )
    original, dup = first["items"][0], again["items"][0]
    assert dup["outcome"] == "duplicate_of_own_report"
    assert (dup["report_id"], dup["ticket_id"], dup["target"]) == (
        original["report_id"],
        original["ticket_id"],
        original["target"],
    )
    assert dup["content_differs"] is True  # the changed re-send is not stored, and says so
    assert again["items"][1]["outcome"] == "linked_to_open_ticket"
    assert again["counts"]["duplicate_of_own_report"] == 1
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE org_id = $1", org.org_id) == 2
    counts = await one(
        pool,
        "SELECT report_count, org_count FROM tickets WHERE id = $1",
        uuid.UUID(original["ticket_id"]),
    )
    assert (counts["report_count"], counts["org_count"]) == (2, 1)


async def test_an_identical_resend_does_not_claim_a_difference(pool: asyncpg.Pool) -> None:
    org = await new_org(pool)
    item = url_item("same", f"https://{host()}/a")
    await submit(pool, org, [item])
    [dup] = (await submit(pool, org, [item]))["items"]
    assert dup["outcome"] == "duplicate_of_own_report"
    assert "content_differs" not in dup


async def test_a_client_ref_twice_in_one_batch_is_a_duplicate_of_the_first(
    pool: asyncpg.Pool,
) -> None:
    org = await new_org(pool)
    doc = await submit(
        pool, org, [url_item("same", f"https://{host()}/"), url_item("same", f"https://{host()}/")]
    )
    first, second = doc["items"]
    assert second["outcome"] == "duplicate_of_own_report"
    assert second["report_id"] == first["report_id"]
    assert second["index"] == 1
    assert second["content_differs"] is True  # another URL: the second item is not stored
    assert "content_differs" not in first
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE org_id = $1", org.org_id) == 1


async def test_an_in_batch_repeat_says_whether_it_differs_from_what_is_stored(
    pool: asyncpg.Pool,
) -> None:
    # A reviewer's bug: a repeat naming another target came back without content_differs, so
    # the second target was dropped without a word. Every kind of difference is one.
    org = await new_org(pool)
    url = f"https://{host()}/"
    phone = {"type": "phone", "number": "+447700900123"}
    doc = await submit(
        pool,
        org,
        [
            url_item("a", url),
            url_item("a", url),  # the same item again
            url_item("a", url, target=phone),  # another target
            url_item("a", url, explanation="Another explanation."),  # another field
        ],
    )
    items = doc["items"]
    assert [i["outcome"] for i in items] == ["new_ticket", *["duplicate_of_own_report"] * 3]
    assert [i.get("content_differs") for i in items] == [None, None, True, True]
    assert {i["target"]["canonical"] for i in items} == {url}
    # In a later batch, each repeat is compared with the report stored by the first batch.
    later = await submit(pool, org, [url_item("a", url, explanation="New."), url_item("a", url)])
    assert [i.get("content_differs") for i in later["items"]] == [True, None]
    later = await submit(pool, org, [url_item("a", url), url_item("a", url, explanation="New.")])
    assert [i.get("content_differs") for i in later["items"]] == [None, True]
    again = await submit(
        pool, org, [url_item("a", url, explanation="New."), url_item("a", url, explanation="New.")]
    )
    assert [i.get("content_differs") for i in again["items"]] == [True, True]


async def test_the_first_valid_item_of_a_client_ref_is_the_one_stored(pool: asyncpg.Pool) -> None:
    org = await new_org(pool)
    url = f"https://{host()}/"
    doc = await submit(
        pool, org, [url_item("b", "http://[not a url"), url_item("b", url), url_item("b", url)]
    )
    refused, stored, repeat = doc["items"]
    assert refused["errors"][0]["pointer"] == "/reports/0/target/url"
    assert (stored["outcome"], stored["target"]["canonical"]) == ("new_ticket", url)
    assert (repeat["outcome"], repeat["report_id"]) == (
        "duplicate_of_own_report",
        stored["report_id"],
    )


async def test_idempotency_key_replays_the_stored_answer(pool: asyncpg.Pool) -> None:
    org = await new_org(pool)
    items = [url_item("k-1", f"https://{host()}/")]
    body = body_of(items)
    sha = hashlib.sha256(body).digest()
    batch = parse_envelope(body, max_reports=10)
    first = await ingest.submit(pool, org, batch, request_sha256=sha, idempotency_key="key-1")
    second = await ingest.submit(pool, org, batch, request_sha256=sha, idempotency_key="key-1")
    assert (second.status, second.body, second.replayed) == (202, first.body, True)
    assert (
        await pool.fetchval("SELECT count(*) FROM report_batches WHERE org_id = $1", org.org_id)
        == 1
    )
    other = body_of([url_item("k-2", f"https://{host()}/")])
    with pytest.raises(IdempotencyKeyReused):
        await ingest.submit(
            pool,
            org,
            parse_envelope(other, max_reports=10),
            request_sha256=hashlib.sha256(other).digest(),
            idempotency_key="key-1",
        )
    # keys belong to an organisation: another may use the same one
    stranger = await new_org(pool)
    third = await ingest.submit(pool, stranger, batch, request_sha256=sha, idempotency_key="key-1")
    assert not third.replayed


async def test_concurrent_same_key_requests_store_once(pool: asyncpg.Pool) -> None:
    org = await new_org(pool)
    body = body_of([url_item(f"c-{i}", f"https://{host()}/") for i in range(50)])
    sha = hashlib.sha256(body).digest()
    batch = parse_envelope(body, max_reports=100)
    answers = await asyncio.gather(
        *(
            ingest.submit(pool, org, batch, request_sha256=sha, idempotency_key="same")
            for _ in range(3)
        )
    )
    assert len({a.body for a in answers}) == 1
    assert sorted(a.replayed for a in answers) == [False, True, True]
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE org_id = $1", org.org_id) == 50


async def test_member_order_and_spelled_out_nulls_are_no_difference(pool: asyncpg.Pool) -> None:
    # A reviewer's finding: a resend serialised in another member order, or with
    # "impersonated_brand": null, was flagged content_differs, a "correction" that was none.
    org = await new_org(pool)
    url = f"https://{host()}/"
    item = url_item("o", url)
    reordered = dict(reversed(list(item.items())))
    with_null = item | {"impersonated_brand": None, "evidence": None}
    changed = item | {"impersonated_brand": "Acme Bank"}
    doc = await submit(pool, org, [item, reordered, with_null, changed])
    assert [i.get("content_differs") for i in doc["items"]] == [None, None, None, True]
    later = await submit(pool, org, [with_null])
    assert "content_differs" not in later["items"][0]
    later = await submit(pool, org, [reordered, changed])
    assert [i.get("content_differs") for i in later["items"]] == [None, True]
