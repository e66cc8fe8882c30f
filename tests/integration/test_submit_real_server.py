"""scripts/submit.py and scripts/demo.py against the real server, run as an integrator runs them.

- the real server with an organisation from `make_org`: plain lists, a re-run, a crypto CSV;
- a flaky proxy in front of the real server that answers 503 or drops the connection after
  forwarding: retries with the same Idempotency-Key store every report exactly once;
- scripts/demo.py, against the real server and the operator commands.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from tests.auth_fixtures import MakeOrg
from tests.conftest import Served, ServeFactory
from tests.integration.submit_harness import (
    CASES,
    CHAIN_RECODES,
    FAST,
    PHISHING,
    ROOT,
    count_reports,
    org_env,
    problem,
    results,
    run_script,
    run_submit,
    serve_app,
    url_list,
)

pytestmark = pytest.mark.slow  # each test starts the script (about half a second of imports)


async def test_real_server_plain_list_then_rerun(
    server: Served, make_org: MakeOrg, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    creds, env = await org_env(make_org, server.url, tmp_path)
    src = tmp_path / "urls.txt"
    lines = CASES.read_text(encoding="utf-8").splitlines()[:40]
    src.write_text("# sample\n" + "\n".join(lines) + "\nnot a url at all\n")
    out = tmp_path / "r.jsonl"
    args = [src, *PHISHING, "--batch-size", "15", "--results", out]
    first = await run_submit(*args, env=env)
    s = first.summary
    assert s["records"] == 41, first.stderr
    assert s["accepted"] == 40, first.stderr
    assert s["rejected"] == 1
    assert first.code == 1
    assert set(s["outcomes"]) <= {"new_ticket", "linked_to_open_ticket"}
    rows = results(out)
    assert [r["line"] for r in rows] == list(range(2, 43))
    assert all(r["report_id"] and r["ticket_id"] for r in rows[:40])
    assert rows[40]["errors"][0]["pointer"].startswith("/target")
    assert await count_reports(pool, creds.org_id) == (40, 3)

    again = await run_submit(*args, env=env)  # same keys, same bodies: the stored answers
    assert again.summary["outcomes"] == s["outcomes"]
    assert await count_reports(pool, creds.org_id) == (40, 3)

    resend = await run_submit(*args, "--run-label", "resend", env=env)
    assert resend.summary["outcomes"] == {"duplicate_of_own_report": 40}
    assert await count_reports(pool, creds.org_id) == (40, 6)


async def test_real_server_crypto_csv(
    server: Served, make_org: MakeOrg, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    _, env = await org_env(make_org, server.url, tmp_path)
    sample = ROOT / "examples" / "scam_crypto_addresses.sample.csv"
    args = [sample, "--target-type", "crypto_wallet", "--map", "target.address=address"]
    args += ["--map", "target.chain=chain_by_format", "--map", "observed_at=date"]
    for recode in CHAIN_RECODES:
        args += ["--map-value", recode]
    args += ["--set", "scam_type=crypto_investment"]
    args += ["--template", "explanation=Listed by {source_repo}: {context}"]
    run = await run_submit(*args, "--batch-size", "100", env=env)
    s = run.summary
    assert s["records"] == 300, run.stderr
    assert s["accepted"] + s["rejected"] == 300
    assert s["accepted"] == 297, s["rejected_by_code"]
    assert s["rejected_by_code"] == {"crypto-not-an-address": 3}  # transaction hashes
    assert s["batches"]["failed"] == 0


# ---- a flaky proxy in front of the real server ----------------------------------------------


@dataclass
class FlakyProxy:
    """Forwards to `upstream`; the first request of each Idempotency-Key fails once.

    mode "503": answered 503 without forwarding; mode "drop": forwarded (the server stores the
    batch), then the connection is cut before the answer reaches the client.
    """

    upstream: str
    mode: str
    session: aiohttp.ClientSession
    seen: dict[str, int] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.forward)
        return app

    async def forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        key = request.headers.get("Idempotency-Key")
        first = key is not None and key not in self.seen
        if key is not None:
            self.seen[key] = self.seen.get(key, 0) + 1
        if first and self.mode == "503":
            return problem(503, "flaky proxy")
        hop = {"host", "content-length", "transfer-encoding", "connection"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
        async with self.session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as resp:
            payload = await resp.read()
            status, content_type = resp.status, resp.headers.get("Content-Type")
        if first and self.mode == "drop":
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        return web.Response(
            body=payload, status=status, headers={"Content-Type": content_type or ""}
        )


@pytest.mark.parametrize("mode", ["503", "drop"])
async def test_retries_through_a_flaky_proxy_store_each_report_once(
    serve: ServeFactory,
    make_org: MakeOrg,
    pool: asyncpg.Pool,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    mode: str,
) -> None:
    proxy = FlakyProxy("", mode, http)
    async for proxy_url in serve_app(proxy.app()):
        # The service's public URL is the proxy's, as behind any reverse proxy: client
        # assertions name the proxy's token endpoint as their audience.
        upstream = await serve(public_url=proxy_url)
        proxy.upstream = upstream.url.replace(
            proxy_url, f"http://127.0.0.1:{upstream.settings.port}"
        )
        creds, env = await org_env(make_org, proxy_url, tmp_path)
        src = url_list(tmp_path, 30, f"flaky-{mode}.txt")
        args = [src, *PHISHING, *FAST, "--batch-size", "10", "--concurrency", "3"]
        run = await run_submit(*args, env=env)
        assert run.summary.get("aborted") is None, run.stderr[-3000:]
        assert run.code == 0, run.stderr[-3000:]
        assert run.summary["accepted"] == 30
        assert run.summary["batches"]["retries"] == 3
        assert set(proxy.seen.values()) == {2}  # every batch: one failure, one retry, same key
        assert await count_reports(pool, creds.org_id) == (30, 3)


# ---- scripts/demo.py ------------------------------------------------------------------------


async def test_demo_registers_once_then_resubmits_as_duplicates(
    server: Served, db_dsn: str, tmp_path: Path
) -> None:
    env = {
        "FRAUDCHANNEL_DATABASE_URL": db_dsn,  # the operator commands reach the test database
        "FC_DEMO_SLUG": f"demo-{uuid.uuid4().hex[:12]}",
    }
    args = ["--url", server.url, "--data-dir", tmp_path / "demo"]
    first = await run_script(ROOT / "scripts" / "demo.py", *args, env=env)
    assert first.code == 0, first.stderr[-3000:]
    assert "registering organisation" in first.stderr
    phishing, crypto = (run["summary"] for run in first.summary["runs"])
    assert phishing["accepted"] == 1500
    assert crypto["accepted"] == 297
    assert "duplicate_of_own_report" not in phishing["outcomes"]

    second = await run_script(ROOT / "scripts" / "demo.py", *args, env=env)
    assert second.code == 0, second.stderr[-3000:]
    assert "reusing organisation" in second.stderr
    assert "reusing key" in second.stderr
    assert second.summary["kid"] == first.summary["kid"]
    phishing, crypto = (run["summary"] for run in second.summary["runs"])
    assert phishing["outcomes"] == {"duplicate_of_own_report": 1500}
    assert crypto["outcomes"] == {"duplicate_of_own_report": 297}
