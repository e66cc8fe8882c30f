"""Ingest benchmark: end-to-end reports/s over HTTP against the raw PostgreSQL upsert limit.

A benchmark, not a test: it prints figures, asserts nothing, and exits 0 unless it could not run.

What it does, in one run on one machine (so the ratios compare like with like):
1. a PostgreSQL (DATABASE_URL's server, else a temporary embedded one) and a fresh database,
   migrated; two reporter organisations with real ES256 keys;
2. `fraudchannel serve` in its own process (real HTTP on 127.0.0.1), tokens by the real exchange;
3. the raw limit: the same target rows upserted straight through asyncpg, one
   `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING` per batch, one connection;
4. end to end: both organisations submit at once, batches of 1,000 and of 10,000 URL reports,
   30% of them naming a target already reported (by either organisation);
5. the same again with 1,000,000 targets (and their open tickets) already present;
6. where the CPU goes: microseconds of CPU per report of the server's processes, PostgreSQL's
   (the benchmark database's backends and the background processes), this client's and the
   rest of the machine, and the machine's idle time (Linux /proc); and the rate a server costing
   no CPU at all would reach with the same PostgreSQL and client work (a ceiling);
7. the server's memory: the peak RSS (VmHWM) of its largest process, the sum of its processes'
   peaks (which counts pages the forked workers share once per process), and the peak of their
   proportional set size together (shared pages counted once), sampled every 50 ms.

Usage: python bench/ingest.py [--reports-1k N] [--reports-10k N] [--existing N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from process_stats import (  # noqa: E402
    PssSampler,
    cpu_snapshot,
    cpu_us_per_report,
    peak_rss_mb,
    reset_peak_rss,
)
from workload import (  # noqa: E402  (bench/, next to this script)
    Reporter,
    Workload,
    raw_limit,
    seed_existing,
)

from fraudchannel import client, migrations, orgs, public_keys  # noqa: E402
from fraudchannel.db import create_pool  # noqa: E402


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """Yield DATABASE_URL, else the DSN of a temporary embedded PostgreSQL (removed after)."""
    dsn = os.environ.get("DATABASE_URL")
    if dsn:
        yield dsn
        return
    from fraudchannel.embedded_pg import EmbeddedPostgres

    folder = Path(tempfile.mkdtemp(prefix="fc-bench-"))
    server = EmbeddedPostgres(folder / "pg", temporary=True)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)  # the temporary cluster removes only "pg"


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def swap_db(dsn: str, name: str) -> str:
    """Return `dsn` naming database `name` instead."""
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{name}"


async def register(pool: asyncpg.Pool, slug: str) -> Reporter:
    """Register a reporter organisation with a fresh ES256 key."""
    await orgs.create_org(
        pool,
        slug=slug,
        legal_name=f"{slug} plc",
        role="reporter",
        contact_email="fraud@bank.example",
        trust_tier=1,
    )
    key = client.generate_private_key("ES256")
    pem = client.private_key_pem(key)
    jwk = client.public_jwk(key, "ES256")
    parsed = public_keys.parse_public_key(json.dumps(jwk).encode())
    await orgs.add_key(pool, slug, parsed)
    return Reporter(slug, parsed.kid, pem)


async def fetch_token(http: aiohttp.ClientSession, base: str, who: Reporter) -> None:
    """Obtain an access token by the real client-credentials exchange."""
    audience = f"{base}/oauth/token"
    assertion = client.sign_client_assertion(who.pem, who.kid, "ES256", who.slug, audience)
    async with http.post(audience, data=client.token_form(assertion)) as resp:
        body = await resp.json()
        if resp.status != 200:
            raise SystemExit(f"token exchange failed: {resp.status} {body}")
        who.token = body["access_token"]


async def submit_stream(
    http: aiohttp.ClientSession, base: str, who: Reporter, bodies: list[bytes]
) -> int:
    """Post `bodies` one after another for `who`; return the reports accepted."""
    accepted = 0
    for body in bodies:
        headers = {"Authorization": f"Bearer {who.token}", "Content-Type": "application/json"}
        async with http.post(f"{base}/v1/report-batches", data=body, headers=headers) as resp:
            answer = await resp.json()
            if resp.status != 202:
                raise SystemExit(f"batch failed: {resp.status} {str(answer)[:500]}")
            accepted += answer["counts"]["accepted"]
    return accepted


async def end_to_end(
    http: aiohttp.ClientSession,
    base: str,
    reporters: list[Reporter],
    work: Workload,
    *,
    total: int,
    batch_size: int,
    tag: str,
    server_pid: int,
    database: str,
) -> tuple[float, int, dict[str, float]]:
    """Run both organisations at once; return (reports/s, reports accepted, CPU microseconds per
    report by process group while they ran: the bodies are made before)."""
    per_org = max(1, total // (len(reporters) * batch_size))
    streams = [
        [work.batch(f"{tag}-{who.slug}-{b}", batch_size) for b in range(per_org)]
        for who in reporters
    ]
    for who in reporters:
        await fetch_token(http, base, who)
    # The client's own heap (bodies, seeded rows) would make its collector's full passes the
    # measured client's largest cost: park it, as a load generator would not carry it.
    gc.collect()
    gc.freeze()
    cpu_before = cpu_snapshot(server_pid, database)
    started = time.perf_counter()
    done = await asyncio.gather(
        *(
            submit_stream(http, base, who, bodies)
            for who, bodies in zip(reporters, streams, strict=True)
        )
    )
    seconds = time.perf_counter() - started
    cpu = cpu_us_per_report(cpu_before, cpu_snapshot(server_pid, database), max(sum(done), 1))
    gc.unfreeze()
    sent = sum(len(s) for s in streams) * batch_size
    return sent / seconds, sum(done), cpu


async def wait_ready(http: aiohttp.ClientSession, base: str, proc: subprocess.Popen[bytes]) -> None:
    """Wait until /readyz answers 200 (at most 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            async with http.get(f"{base}/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the server did not become ready in 60 s")


async def run(args: argparse.Namespace, admin_dsn: str) -> list[dict[str, Any]]:
    """Run every phase; return the result rows."""
    name = f"fc_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = swap_db(admin_dsn, name)
    proc: subprocess.Popen[bytes] | None = None
    rows: list[dict[str, Any]] = []
    try:
        conn = await asyncpg.connect(dsn)
        await migrations.migrate(conn)
        await conn.execute("CREATE TABLE bench_raw_targets (LIKE targets INCLUDING ALL)")
        pool = await create_pool(dsn, min_size=1, max_size=2)
        reporters = [await register(pool, f"bench-bank-{i}-{uuid.uuid4().hex[:6]}") for i in (1, 2)]
        await pool.close()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDCHANNEL_")} | {
            "DATABASE_URL": dsn,
            "FRAUDCHANNEL_PORT": str(port),
            "FRAUDCHANNEL_LOG_LEVEL": "warning",
        }
        proc = subprocess.Popen(  # noqa: ASYNC220 (started once, before any timing)
            [sys.executable, "-m", "fraudchannel", "serve"], env=env, cwd=ROOT
        )
        timeout = aiohttp.ClientTimeout(total=600)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await wait_ready(http, base, proc)
            for existing in (0, args.existing):
                if existing:
                    seconds = await seed_existing(conn, existing)
                    print(
                        f"seeded {existing:,} targets + open tickets in {seconds:.1f} s",
                        file=sys.stderr,
                    )
                for batch_size, total in ((1_000, args.reports_1k), (10_000, args.reports_10k)):
                    tag = f"e{existing}-b{batch_size}"
                    raw = await raw_limit(
                        conn,
                        Workload(seed=batch_size + existing),
                        total=total,
                        batch_size=batch_size,
                    )
                    if batch_size == 10_000:
                        reset_peak_rss(proc.pid)
                    with PssSampler(proc.pid) as pss:
                        rate, accepted, cpu = await end_to_end(
                            http,
                            base,
                            reporters,
                            Workload(seed=7 + batch_size + existing),
                            total=total,
                            batch_size=batch_size,
                            tag=tag,
                            server_pid=proc.pid,
                            database=name,
                        )
                    peak, peak_total = peak_rss_mb(proc.pid)
                    row = {
                        "existing_targets": existing,
                        "batch_size": batch_size,
                        "reports": accepted,
                        "e2e_reports_per_s": round(rate),
                        "raw_rows_per_s": round(raw),
                        "ratio": round(rate / raw, 3),
                        "server_peak_rss_mb": round(peak, 1),
                        "server_peak_rss_sum_mb": round(peak_total, 1),
                        "server_peak_pss_mb": round(pss.peak, 1),
                        "cpu_us_per_report": cpu,
                    }
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr)
        await conn.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return rows


def main() -> None:
    """Parse arguments, find a PostgreSQL, run, print a table and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--reports-1k", type=int, default=100_000, help="reports in 1,000-item batches"
    )
    parser.add_argument(
        "--reports-10k", type=int, default=200_000, help="reports in 10,000-item batches"
    )
    parser.add_argument(
        "--existing", type=int, default=1_000_000, help="targets seeded for phase 2"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.reports_1k, args.reports_10k, args.existing = 4_000, 20_000, 50_000

    with postgres() as dsn:
        rows = asyncio.run(run(args, dsn))
    print(
        f"{'existing':>10} {'batch':>6} {'e2e rep/s':>10} {'raw rows/s':>11} {'ratio':>6} "
        f"{'peak RSS MB':>12} {'RSS sum':>8} {'peak PSS':>9}"
    )
    for r in rows:
        print(
            f"{r['existing_targets']:>10,} {r['batch_size']:>6,} {r['e2e_reports_per_s']:>10,} "
            f"{r['raw_rows_per_s']:>11,} {r['ratio']:>6.3f} {r['server_peak_rss_mb']:>12.1f} "
            f"{r['server_peak_rss_sum_mb']:>8.1f} {r['server_peak_pss_mb']:>9.1f}"
        )
    print(
        "CPU microseconds per report, by process group "
        "(the machine's busy + idle + steal = cores x wall):"
    )
    groups = (
        "server",
        "postgres",
        "client",
        "other",
        "machine_busy",
        "machine_idle",
        "machine_steal",
    )
    print(f"{'existing':>10} {'batch':>6} " + " ".join(f"{g:>12}" for g in groups))
    for r in rows:
        cpu = r["cpu_us_per_report"]
        print(
            f"{r['existing_targets']:>10,} {r['batch_size']:>6,} "
            + " ".join(f"{cpu[g]:>12.1f}" for g in groups)
        )
    cores = os.cpu_count() or 1
    print("Ceiling if the server's own work were free: cores / (postgres + client CPU per report)")
    for r in rows:
        cpu = r["cpu_us_per_report"]
        ceiling = cores / max(cpu["postgres"] + cpu["client"], 0.1) * 1e6
        print(
            f"{r['existing_targets']:>10,} {r['batch_size']:>6,} {ceiling:>10,.0f} reports/s "
            f"= {ceiling / r['raw_rows_per_s']:.3f} x raw"
        )
    print(json.dumps({"ingest": rows}))


if __name__ == "__main__":
    main()
