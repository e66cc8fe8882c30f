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

from ingest import postgres, swap_db  # noqa: E402  (bench/ingest.py)
from workload import Workload  # noqa: E402  (bench/workload.py)

from fraudchannel import db, ingest, migrations, notices, orgs, parsing  # noqa: E402
from fraudchannel.logs import configure_logging  # noqa: E402
from fraudchannel.principal import ROLE_SCOPES, Principal  # noqa: E402

STATEMENT_NAMES = {
    text: f"{service}.{name}" for service in ("ingest",) for name, text in db._load(service).items()
}


class Timer:
    """Accumulates (wall seconds, this process's CPU seconds) by phase name."""

    def __init__(self) -> None:
        self.wall: collections.defaultdict[str, float] = collections.defaultdict(float)
        self.cpu: collections.defaultdict[str, float] = collections.defaultdict(float)

    def add(self, name: str, wall: float, cpu: float) -> None:
        """Add one timed call of phase `name`."""
        self.wall[name] += wall
        self.cpu[name] += cpu

    def log_plan(self, conn: Any, message: Any) -> None:
        """auto_explain notice: add the statement's execution time inside PostgreSQL."""
        text = message.message
        start = text.find("{")
        if not text.startswith("duration: ") or start < 0:
            return
        duration_ms = float(text.split()[1])
        name = STATEMENT_NAMES.get(json.loads(text[start:]).get("Query Text", ""), "other")
        self.wall["pg   " + name] += duration_ms / 1000


def instrument(timer: Timer) -> None:
    """Wrap asyncpg's statement methods and the service's CPU steps to time them. One batch at a
    time runs in this process, so the process CPU time during a call is that call's."""
    cls = asyncpg.connection.Connection
    for method in ("execute", "fetch", "fetchrow", "fetchval", "copy_records_to_table"):
        original = getattr(cls, method)

        async def timed(
            self: Any,
            first: str,
            *args: Any,
            _original: Any = original,
            _m: str = method,
            **kw: Any,
        ) -> Any:
            name = f"copy {first}" if _m == "copy_records_to_table" else STATEMENT_NAMES.get(first)
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return await _original(self, first, *args, **kw)
            finally:
                timer.add(
                    f"sql  {name or 'other'}", time.perf_counter() - wall, time.process_time() - cpu
                )

        setattr(cls, method, timed)
    for owner, attr, label in (
        (notices.Preparer, "step", "prepare (validate, canonicalise)"),
        (ingest, "_answer", "answer document"),
        (ingest, "to_json", "answer JSON"),
    ):
        plain = getattr(owner, attr)

        def step(*args: Any, _plain: Any = plain, _label: str = label, **kw: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return _plain(*args, **kw)
            finally:
                timer.add(_label, time.perf_counter() - wall, time.process_time() - cpu)

        setattr(owner, attr, step)


async def run(dsn: str, batches: int, batch_size: int, explain: bool) -> None:
    """Submit `batches` batches and print the phases per report."""
    timer = Timer()

    async def init(conn: asyncpg.Connection) -> None:
        await db._init_connection(conn)

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
    instrument(timer)
    timer.wall.clear()
    timer.cpu.clear()
    wall = cpu = 0.0
    for body in bodies:
        started, started_cpu = time.perf_counter(), time.process_time()
        batch = parsing.parse_envelope(body, max_reports=batch_size)
        timer.add(
            "parse envelope (jiter)",
            time.perf_counter() - started,
            time.process_time() - started_cpu,
        )
        await ingest.submit(pool, principal, batch, request_sha256=hashlib.sha256(body).digest())
        wall += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
    await pool.close()
    reports = batches * batch_size
    print(
        f"{reports:,} reports in {batches} batches of {batch_size:,}: "
        f"{reports / wall:,.0f} reports/s in process, one organisation"
    )
    print("wall: elapsed; cpu: this process only (encoding, decoding; not PostgreSQL's work)")
    if explain:
        print("pg: execution time inside PostgreSQL (auto_explain; COPY not included)")
    print(f"{'phase':<44} {'wall us/report':>14} {'cpu us/report':>14}")
    for name, seconds in sorted(timer.wall.items(), key=lambda kv: -kv[1]):
        cpu_of = f"{timer.cpu[name] / reports * 1e6:>14.1f}" if name in timer.cpu else ""
        print(f"{name:<44} {seconds / reports * 1e6:>14.1f} {cpu_of}")
    known_wall = sum(v for k, v in timer.wall.items() if not k.startswith("pg "))
    known_cpu = sum(timer.cpu.values())
    print(
        f"{'other (python between the steps)':<44} {(wall - known_wall) / reports * 1e6:>14.1f} "
        f"{(cpu - known_cpu) / reports * 1e6:>14.1f}"
    )
    print(f"{'total':<44} {wall / reports * 1e6:>14.1f} {cpu / reports * 1e6:>14.1f}")


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
