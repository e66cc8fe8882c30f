"""Where ingest time goes: microseconds per report for each phase of one batch, in process.

A benchmark, not a test: one organisation submits batches one after another straight through
`fraudchannel.ingest` (no HTTP), and the run prints, per report: parsing the envelope, preparing
the notices (validation + canonicalisation), each SQL statement's wall time as asyncpg sees it
(encoding, the round trip, the server's work, decoding), and the Python time between them.
30% of the items name a target reported before, as in bench/ingest.py.

Usage: python bench/ingest_phases.py [--batches N] [--batch-size N]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import Workload, postgres, swap_db  # noqa: E402  (bench/ingest.py)

from fraudchannel import db, ingest, migrations, orgs, parsing  # noqa: E402
from fraudchannel.logs import configure_logging  # noqa: E402
from fraudchannel.principal import ROLE_SCOPES, Principal  # noqa: E402

STATEMENT_NAMES = {
    text: f"{service}.{name}" for service in ("ingest",) for name, text in db._load(service).items()
}


class Timer:
    """Accumulates seconds by phase name."""

    def __init__(self) -> None:
        self.seconds: collections.defaultdict[str, float] = collections.defaultdict(float)

    def log_query(self, record: Any) -> None:
        """asyncpg query logger: add the statement's elapsed time under its name."""
        name = STATEMENT_NAMES.get(record.query)
        if name is None:  # COPY rows in: "COPY reports(...) FROM STDIN ..."
            words = record.query.split()
            name = f"copy {words[1].split('(')[0]}" if words[:1] == ["COPY"] else "other"
        self.seconds["sql " + name] += record.elapsed

    def log_plan(self, conn: Any, message: Any) -> None:
        """auto_explain notice: add the statement's execution time inside PostgreSQL."""
        text = message.message
        start = text.find("{")
        if not text.startswith("duration: ") or start < 0:
            return
        duration_ms = float(text.split()[1])
        name = STATEMENT_NAMES.get(json.loads(text[start:]).get("Query Text", ""), "other")
        self.seconds["pg  " + name] += duration_ms / 1000


async def run(dsn: str, batches: int, batch_size: int, explain: bool) -> None:
    """Submit `batches` batches and print the phases per report."""
    timer = Timer()

    async def init(conn: asyncpg.Connection) -> None:
        await db._init_connection(conn)
        conn.add_query_logger(timer.log_query)

    async def setup(conn: Any) -> None:  # each acquire: the pool's reset undoes these
        if explain:
            await conn.execute("LOAD 'auto_explain'")
            await conn.execute("SET auto_explain.log_min_duration = 0")
            await conn.execute("SET auto_explain.log_analyze = on")
            await conn.execute("SET auto_explain.log_timing = off")
            await conn.execute("SET auto_explain.log_level = notice")
            await conn.execute("SET auto_explain.log_format = json")
            conn.add_log_listener(timer.log_plan)

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1, init=init, setup=setup)
    slug = f"phases-{uuid.uuid4().hex[:6]}"
    org = await orgs.create_org(
        pool,
        slug=slug,
        legal_name="Phases plc",
        role="reporter",
        contact_email="fraud@bank.example",
        trust_tier=1,
    )
    principal = Principal(org.id, slug, "reporter", 1, ROLE_SCOPES["reporter"], "bench")
    work = Workload(seed=11)
    bodies = [work.batch(f"p-{b}", batch_size) for b in range(batches)]
    timer.seconds.clear()
    wall = 0.0
    for body in bodies:
        started = time.perf_counter()
        batch = parsing.parse_envelope(body, max_reports=batch_size)
        parsed = time.perf_counter()
        timer.seconds["parse_envelope"] += parsed - started
        await ingest.submit(pool, principal, batch, request_sha256=hashlib.sha256(body).digest())
        wall += time.perf_counter() - started
    await pool.close()
    reports = batches * batch_size
    sql = sum(v for k, v in timer.seconds.items() if k.startswith("sql "))
    if explain:
        print("(pg: execution inside PostgreSQL; sql: as asyncpg sees it, round trip included)")
    print(
        f"{reports:,} reports in {batches} batches of {batch_size:,}: "
        f"{reports / wall:,.0f} reports/s in process, one organisation"
    )
    print(f"{'phase':<36} {'us/report':>10}")
    for name, seconds in sorted(timer.seconds.items(), key=lambda kv: -kv[1]):
        print(f"{name:<36} {seconds / reports * 1e6:>10.1f}")
    other = wall - sql - timer.seconds["parse_envelope"]
    print(f"{'python outside parse and sql':<36} {other / reports * 1e6:>10.1f}")
    print(f"{'total':<36} {wall / reports * 1e6:>10.1f}")


async def main_async(args: argparse.Namespace, admin_dsn: str) -> None:
    """Create a fresh database, migrate it, run, drop it."""
    name = f"fc_phases_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = swap_db(admin_dsn, name)
        conn = await asyncpg.connect(dsn)
        await migrations.migrate(conn)
        await conn.close()
        await run(dsn, args.batches, args.batch_size, args.explain)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    """Find a PostgreSQL (DATABASE_URL's, else a temporary embedded one) and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1_000)
    parser.add_argument(
        "--explain", action="store_true", help="also time each statement inside PostgreSQL"
    )
    args = parser.parse_args()
    configure_logging("warning")
    with postgres() as dsn:
        asyncio.run(main_async(args, dsn))


if __name__ == "__main__":
    main()
