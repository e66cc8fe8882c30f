"""dedup.TargetUpserts: a batch's targets upserted a chunk at a time while the next is prepared."""

from __future__ import annotations

import dataclasses
import json

import asyncpg
import pytest

from fraudchannel import dedup, notices
from fraudchannel.parsing import parse_envelope
from tests.builders import batch, host, url_item


def prepared(urls: list[str]) -> list[notices.Notice]:
    """Return the notices of a batch reporting `urls` (client_refs r-0, r-1, ...)."""
    body = json.dumps(batch([url_item(f"r-{i}", u) for i, u in enumerate(urls)])).encode()
    result = notices.prepare(parse_envelope(body, max_reports=10_000))
    assert not result.rejected
    return result.notices


async def test_chunks_share_ids_and_created_counts_only_targets_made_here(
    pool: asyncpg.Pool,
) -> None:
    old, new_a, new_b = (f"https://{host()}/" for _ in range(3))
    async with pool.acquire() as conn:
        before = await dedup.upsert_targets(conn, prepared([old]))
    first, second = prepared([new_a, old]), prepared([new_a, new_b, old])
    upserts = dedup.TargetUpserts(pool)
    try:
        upserts.add(first)
        upserts.add(second)  # names new_a again: created by the chunk before, not read as known
        found = await upserts.result()
    finally:
        await upserts.close()
    ident = {n.target.canonical.canonical: n.target.ident for n in first + second}
    old_id = before.ids[ident[old]]
    assert found.ids[ident[old]] == old_id
    assert found.created == {found.ids[ident[new_a]], found.ids[ident[new_b]]}
    assert len(set(found.ids.values())) == 3


async def test_a_failing_chunk_raises_from_result_and_the_connection_goes_back(
    pool: asyncpg.Pool,
) -> None:
    good = prepared([f"https://{host()}/"])
    bad = prepared([f"https://{host()}/"])
    # A key hash of the wrong length breaks the targets table's CHECK: a database error.
    bad[0].target = dataclasses.replace(bad[0].target, ident=("url", b"short"))
    idle = pool.get_idle_size() + (pool.get_max_size() - pool.get_size())
    upserts = dedup.TargetUpserts(pool)
    try:
        upserts.add(good)
        upserts.add(bad)
        with pytest.raises(asyncpg.CheckViolationError):
            await upserts.result()
    finally:
        await upserts.close()
    assert pool.get_idle_size() + (pool.get_max_size() - pool.get_size()) == idle


async def test_close_without_result_cancels_and_gives_the_connection_back(
    pool: asyncpg.Pool,
) -> None:
    idle = pool.get_idle_size() + (pool.get_max_size() - pool.get_size())
    upserts = dedup.TargetUpserts(pool)
    upserts.add(prepared([f"https://{host()}/" for _ in range(50)]))
    await upserts.close()
    assert pool.get_idle_size() + (pool.get_max_size() - pool.get_size()) == idle


async def test_asynchronous_commit_ends_with_the_upserts(db_dsn: str) -> None:
    # The targets' statements commit without waiting for the disk; the connection must not
    # carry that into the next request's transaction (the pool's RESET ALL undoes it).
    pool = await asyncpg.create_pool(
        db_dsn, min_size=1, max_size=1, server_settings={"synchronous_commit": "remote_write"}
    )  # a value of its own (the embedded test server runs with it off)
    try:
        upserts = dedup.TargetUpserts(pool)
        upserts.add(prepared([f"https://{host()}/"]))
        await upserts.result()
        await upserts.close()
        assert await pool.fetchval("SHOW synchronous_commit") == "remote_write"
    finally:
        await pool.close()
