"""What the ingest benchmark sends and compares against: generated URL reports (30% naming a
target generated before), the raw baseline (the same target rows upserted straight through
asyncpg) and the seeded existing targets."""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg

DUPLICATE_SHARE = 0.30
SCAM_TLDS = ("top", "xyz", "online", "shop", "click", "co.uk", "com", "pages.dev")


@dataclass
class Reporter:
    """A registered reporter organisation with its private key and current access token."""

    slug: str
    kid: str
    pem: bytes
    token: str = ""


class Workload:
    """Generate URL report items; about 30% name a target generated before (any organisation)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seen: list[str] = []
        self.serial = 0

    def url(self) -> str:
        """Return a new URL, or (30%) one already used."""
        if self.seen and self.rng.random() < DUPLICATE_SHARE:
            return self.rng.choice(self.seen)
        self.serial += 1
        tld = SCAM_TLDS[self.serial % len(SCAM_TLDS)]
        host = f"secure-login-{uuid.UUID(int=self.rng.getrandbits(128)).hex[:12]}.bank-verify.{tld}"
        url = f"https://{host}/account/{self.serial}/verify?utm_source=sms&id={self.serial}"
        self.seen.append(url)
        return url

    def batch(self, prefix: str, size: int) -> bytes:
        """Return the JSON body of one batch of `size` phishing reports."""
        reports = [
            {
                "client_ref": f"{prefix}-{i}",
                "target": {"type": "url", "url": self.url()},
                "scam_type": "phishing",
                "explanation": "Credential phishing page imitating a UK bank's login.",
                "victim_loss": {"amount_minor": 125_000, "currency": "GBP"},
                "victim_count": 1,
            }
            for i in range(size)
        ]
        envelope = {
            "schema_version": "1",
            "submitter": {"name": "Bench Fraud Team", "email": "fraud-team@bank.example"},
            "good_faith": True,
            "reports": reports,
        }
        return json.dumps(envelope).encode()


def raw_rows(
    urls: list[str], batch_size: int
) -> Iterator[tuple[list[str], list[bytes], list[str]]]:
    """Yield (keys, sha256s, canonicals) per batch, as the service would store URL targets."""
    for start in range(0, len(urls), batch_size):
        chunk = urls[start : start + batch_size]
        keys = [u.split("://", 1)[1].split("?", 1)[0] for u in chunk]
        yield keys, [hashlib.sha256(k.encode()).digest() for k in keys], chunk


RAW_UPSERT = """
INSERT INTO bench_raw_targets (kind, key, key_sha256, canonical)
SELECT 'url', r.key, r.sha, r.canonical
  FROM unnest($1::text[], $2::bytea[], $3::text[]) AS r(key, sha, canonical)
    ON CONFLICT (kind, key_sha256) DO NOTHING
"""


async def raw_limit(
    conn: asyncpg.Connection, work: Workload, *, total: int, batch_size: int
) -> float:
    """Return rows/s of the plain upsert of `total` rows (30% duplicates), `batch_size` a batch."""
    urls = [work.url() for _ in range(total)]
    batches = list(raw_rows(urls, batch_size))
    started = time.perf_counter()
    for keys, shas, canonicals in batches:
        await conn.execute(RAW_UPSERT, keys, shas, canonicals)
    return total / (time.perf_counter() - started)


async def seed_existing(conn: asyncpg.Connection, count: int) -> float:
    """Insert `count` URL targets, each with an open ticket, and the same into the raw table."""
    started = time.perf_counter()
    await conn.execute(
        """
        INSERT INTO targets (kind, key, key_sha256, canonical, registrable_domain)
        SELECT 'url', k, sha256(convert_to(k, 'UTF8')), 'https://' || k, 'seed.example'
          FROM (SELECT 'seed-' || n || '.seed.example/login' AS k
                  FROM generate_series(1, $1::integer) AS n) AS s
        """,
        count,
    )
    await conn.execute(
        "INSERT INTO tickets (target_id, report_count, org_count) "
        "SELECT id, 1, 1 FROM targets WHERE registrable_domain = 'seed.example'"
    )
    await conn.execute(
        "INSERT INTO bench_raw_targets (kind, key, key_sha256, canonical) "
        "SELECT kind, key, key_sha256, canonical FROM targets "
        "WHERE registrable_domain = 'seed.example'"
    )
    await conn.execute("VACUUM ANALYZE targets")
    await conn.execute("VACUUM ANALYZE tickets")
    await conn.execute("VACUUM ANALYZE bench_raw_targets")
    return time.perf_counter() - started
