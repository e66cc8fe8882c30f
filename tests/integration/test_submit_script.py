"""scripts/submit.py end to end, run as a subprocess the way an integrator runs it.

Three kinds of counterpart, each on a real socket:
- a scripted stand-in of the service (no database): proves the client's side of the contract
  (token reuse and refresh, retries with the same Idempotency-Key, refusals, exit codes);
- the real server with an organisation from `make_org`;
- a flaky proxy in front of the real server that answers 503 or drops the connection after
  forwarding: retries with the same Idempotency-Key store every report exactly once.
scripts/demo.py runs last, against the real server and the operator commands.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import jwt
import pytest
from aiohttp import web

from tests.auth_fixtures import MakeOrg, OrgCredentials
from tests.conftest import Served, ServeFactory, free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "submit.py"
SUBMITTER = ["--submitter-name", "Fraud Team", "--submitter-email", "fraud-team@bank.example"]
PHISHING = ["--set", "scam_type=phishing", "--set", "explanation=Listed by Phishing.Database"]
# chain_by_format values of the sample in the service's chain vocabulary (fraudchannel.canonical)
CHAIN_RECODES = [
    "target.chain:ss58-polkadot=polkadot",
    "target.chain:bitcoin-p2pkh=bitcoin",
    "target.chain:bitcoin-p2sh(or-ltc)=bitcoin",
    "target.chain:litecoin-p2pkh=litecoin",
    "target.chain:neo=other",
    "target.chain:evm-tx-hash-not-address=other",
]
CASES = ROOT / "examples" / "phishing_urls.sample.txt"

pytestmark = pytest.mark.slow  # each test starts the script (about half a second of imports)


@dataclass
class Run:
    """One finished run of the script: exit code, summary (stdout JSON) and stderr."""

    code: int
    summary: dict[str, Any]
    stderr: str


async def run_submit(*args: object, env: dict[str, str] | None = None) -> Run:
    """Run scripts/submit.py with `args`; return its exit code, stdout JSON and stderr."""
    return await run_script(SCRIPT, *args, env=env)


async def run_script(script: Path, *args: object, env: dict[str, str] | None = None) -> Run:
    """Run `script` with `args`; return its exit code, stdout JSON and stderr.

    Runs as a child process without blocking the event loop (the servers live in this loop).
    """
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("FC_")}
    child_env.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=110)
    assert proc.returncode is not None
    try:
        summary = json.loads(out) if out.strip() else {}
    except ValueError:
        pytest.fail(f"stdout is not JSON: {out[:500]!r}; stderr: {err.decode()[-2000:]}")
    return Run(proc.returncode, summary, err.decode())


def results(path: Path) -> list[dict[str, Any]]:
    """Return the per-item result lines of a --results file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on a free 127.0.0.1 port; yield its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


# ---- a scripted stand-in of the service -----------------------------------------------------


@dataclass
class FakeService:
    """The token and ingest endpoints, with failures scripted per test.

    `batch_faults` are answered, in order, before any real answer: an HTTP status (503, 429,
    401, 413, ...) or "drop" (store the batch, then cut the connection without an answer).
    `stored` maps Idempotency-Key to (body sha, answer): a replay gets the stored answer.
    """

    url: str = ""
    token_faults: list[int] = field(default_factory=list)
    batch_faults: list[int | str] = field(default_factory=list)
    fail_batches_with: dict[int, int] = field(default_factory=dict)  # nth distinct key -> status
    expires_in: int = 600
    tokens_issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    assertions: list[dict[str, Any]] = field(default_factory=list)
    posts: list[tuple[str, str, bytes]] = field(default_factory=list)  # (key, token, body)
    stored: dict[str, tuple[bytes, dict[str, Any]]] = field(default_factory=dict)
    client_refs: dict[str, str] = field(default_factory=dict)  # client_ref -> report id
    distinct_keys: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth/token", self.token)
        app.router.add_post("/v1/report-batches", self.batch)
        return app

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        assertion = str(form["client_assertion"])
        self.assertions.append(
            {
                "form": dict(form),
                "header": jwt.get_unverified_header(assertion),
                "claims": jwt.decode(assertion, options={"verify_signature": False}),
            }
        )
        if self.token_faults:
            status = self.token_faults.pop(0)
            return web.json_response(
                {"error": "invalid_client", "error_description": "unknown kid"}, status=status
            )
        token = f"tok-{len(self.tokens_issued)}"
        self.tokens_issued.append(token)
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    async def batch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        key = request.headers["Idempotency-Key"]
        self.posts.append((key, token, body))
        assert request.content_type == "application/json"
        if token not in self.tokens_issued or token in self.revoked:
            return problem(401, "token expired")
        if key not in self.distinct_keys:
            self.distinct_keys.append(key)
        nth = self.distinct_keys.index(key)
        if nth in self.fail_batches_with:
            return problem(self.fail_batches_with[nth], "scripted failure")
        fault = self.batch_faults.pop(0) if self.batch_faults else None
        if isinstance(fault, int):
            if fault == 401:
                self.revoked.add(token)
            headers = {"Retry-After": "0"} if fault == 429 else {}
            return problem(fault, "scripted", headers)
        if key in self.stored:
            sha, answer = self.stored[key]
            assert sha == body, "same Idempotency-Key with another body"
        else:
            answer = self.ingest(json.loads(body))
            self.stored[key] = (body, answer)
        if fault == "drop":
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError  # the handler ends with the connection, as on a crash
        return web.json_response(answer, status=202)

    def ingest(self, doc: dict[str, Any]) -> dict[str, Any]:
        assert doc["schema_version"] == "1"
        assert doc["good_faith"] is True
        assert doc["submitter"] == {"name": "Fraud Team", "email": "fraud-team@bank.example"}
        items = []
        for index, item in enumerate(doc["reports"]):
            ref = item["client_ref"]
            url = item["target"].get("url", "")
            if "invalid" in url:
                items.append(
                    {
                        "index": index,
                        "client_ref": ref,
                        "errors": [
                            {
                                "pointer": f"/reports/{index}/target/url",
                                "code": "url_invalid",
                                "detail": "not a URL",
                            }
                        ],
                    }
                )
                continue
            outcome = "duplicate_of_own_report" if ref in self.client_refs else "new_ticket"
            report_id = self.client_refs.setdefault(ref, f"rep-{len(self.client_refs)}")
            items.append(
                {
                    "index": index,
                    "client_ref": ref,
                    "report_id": report_id,
                    "target": {"type": "url", "canonical": url},
                    "outcome": outcome,
                    "ticket_id": "t-" + report_id,
                }
            )
        return {"batch_id": f"b-{len(self.stored)}", "items": items, "counts": {}}


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"type": "about:blank", "title": "scripted", "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
        headers=headers,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeService]:
    service = FakeService()
    async for url in serve_app(service.app()):
        service.url = url
        yield service


@pytest.fixture(scope="module")
def key_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fraudchannel.client import generate_private_key, private_key_pem

    path = tmp_path_factory.mktemp("keys") / "org.pem"
    path.write_bytes(private_key_pem(generate_private_key("ES256")))
    return path


def fake_env(fake: FakeService, key_pem: Path) -> dict[str, str]:
    return {
        "FC_URL": fake.url,
        "FC_CLIENT_ID": "bank-x",
        "FC_KEY_FILE": str(key_pem),
        "FC_KID": "kid-1",
    }


def url_list(tmp_path: Path, n: int, name: str = "urls.txt") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"http://scam-{i}.example/login\n" for i in range(n)))
    return path


FAST = ["--retry-base", "0.001"]


async def test_a_plain_list_with_bom_crlf_comments_and_blank_lines(
    fake: FakeService, key_pem: Path, tmp_path: Path
) -> None:
    src = tmp_path / "urls.txt"
    src.write_bytes(
        b"\xef\xbb\xbf# feed export\r\nhttp://a.example/x\r\n\r\nhttp://invalid.example\r\n"
        b"  hxxp://b[.]example/y  \r\n"
    )
    out = tmp_path / "results.jsonl"
    env = fake_env(fake, key_pem) | {"FC_SUBMITTER_NAME": "Fraud Team"}
    run = await run_submit(
        src, "--submitter-email", "fraud-team@bank.example", *PHISHING, "--results", out, env=env
    )
    assert run.code == 1, run.stderr  # one item rejected
    s = run.summary
    assert (s["records"], s["accepted"], s["rejected"]) == (3, 2, 1)
    assert s["outcomes"] == {"new_ticket": 2}
    assert s["rejected_by_code"] == {"url_invalid": 1}
    assert s["batches"] == {"total": 1, "sent": 1, "failed": 0, "retries": 0, "token_requests": 1}
    rows = results(out)
    assert [r["line"] for r in rows] == [2, 4, 5]
    assert rows[1]["errors"] == [
        {"pointer": "/target/url", "code": "url_invalid", "detail": "not a URL"}
    ]
    assert rows[2]["outcome"] == "new_ticket"
    sent = json.loads(fake.posts[0][2])
    assert [r["target"]["url"] for r in sent["reports"]] == [
        "http://a.example/x",
        "http://invalid.example",
        "hxxp://b[.]example/y",
    ]
    # the client assertion (RFC 7523 §3)
    claims, header = fake.assertions[0]["claims"], fake.assertions[0]["header"]
    assert claims["iss"] == claims["sub"] == "bank-x"
    assert claims["aud"] == f"{fake.url}/oauth/token"
    assert claims["exp"] - claims["iat"] <= 300
    assert header == {"alg": "ES256", "kid": "kid-1", "typ": "JWT"}
    assert fake.assertions[0]["form"]["grant_type"] == "client_credentials"


async def test_batches_share_one_token_and_results_keep_input_order(
    fake: FakeService, key_pem: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    args = [url_list(tmp_path, 23), *SUBMITTER, *PHISHING, "--batch-size", "2"]
    run = await run_submit(
        *args, "--concurrency", "4", "--results", out, env=fake_env(fake, key_pem)
    )
    assert run.code == 0, run.stderr
    assert run.summary["accepted"] == 23
    assert run.summary["batches"]["total"] == 12
    assert run.summary["batches"]["token_requests"] == 1
    assert [r["line"] for r in results(out)] == list(range(1, 24))
    assert len({key for key, _, _ in fake.posts}) == 12


async def test_transient_failures_are_retried_with_the_same_key_and_body(
    fake: FakeService, key_pem: Path, tmp_path: Path
) -> None:
    fake.batch_faults = [503, 429, "drop", 502]
    args = [url_list(tmp_path, 3), *SUBMITTER, *PHISHING, *FAST, "--concurrency", "1"]
    run = await run_submit(*args, env=fake_env(fake, key_pem))
    assert run.code == 0, run.stderr
    assert run.summary["batches"]["retries"] == 4
    assert run.summary["outcomes"] == {"new_ticket": 3}  # the dropped answer was replayed
    assert len(fake.posts) == 5
    assert len({(key, body) for key, _, body in fake.posts}) == 1
    assert len(fake.client_refs) == 3


async def test_a_refused_token_is_refreshed_once(
    fake: FakeService, key_pem: Path, tmp_path: Path
) -> None:
    fake.batch_faults = [401]
    run = await run_submit(
        url_list(tmp_path, 2), *SUBMITTER, *PHISHING, env=fake_env(fake, key_pem)
    )
    assert run.code == 0, run.stderr
    assert run.summary["batches"]["token_requests"] == 2
    assert [token for _, token, _ in fake.posts] == ["tok-0", "tok-1"]
    assert fake.assertions[0]["claims"]["jti"] != fake.assertions[1]["claims"]["jti"]


async def test_a_token_refused_twice_stops_the_run(
    fake: FakeService, key_pem: Path, tmp_path: Path
) -> None:
    fake.batch_faults = [401, 401]
    out = tmp_path / "r.jsonl"
    args = [url_list(tmp_path, 4), *SUBMITTER, *PHISHING, "--batch-size", "2", "--concurrency", "1"]
    run = await run_submit(*args, "--results", out, env=fake_env(fake, key_pem))
    assert run.code == 1
    assert "refused twice" in run.summary["aborted"]
    assert run.summary["not_sent"] == 4  # the batch tried and the one read after it
    assert run.summary["accepted"] == 0
    assert {r["errors"][0]["code"] for r in results(out)} == {"not_sent"}


async def test_credentials_refused_at_the_token_endpoint_stop_the_run(
    fake: FakeService, key_pem: Path, tmp_path: Path
) -> None:
    fake.token_faults = [400]
    run = await run_submit(
        url_list(tmp_path, 2), *SUBMITTER, *PHISHING, env=fake_env(fake, key_pem)
    )
    assert run.code == 1
    assert run.summary["aborted"] == "token refused (HTTP 400): invalid_client: unknown kid"
    assert fake.posts == []


async def test_a_batch_refused_for_good_does_not_stop_the_others(
    fake: FakeService, key_pem: Path, tmp_path: Path
) -> None:
    fake.fail_batches_with = {1: 413}
    args = [url_list(tmp_path, 6), *SUBMITTER, *PHISHING, "--batch-size", "2", "--concurrency", "1"]
    run = await run_submit(*args, env=fake_env(fake, key_pem))
    assert run.code == 1
    s = run.summary
    assert (s["accepted"], s["rejected"]) == (4, 2)
    assert s["rejected_by_code"] == {"batch_failed": 2}
    assert s["failed_batches"][0]["batch"] == 1
    assert s["failed_batches"][0]["status"] == 413
    assert "smaller --batch-size" in s["failed_batches"][0]["detail"]


async def test_a_rerun_after_a_failed_run_doubles_nothing(
    fake: FakeService, key_pem: Path, tmp_path: Path
) -> None:
    src = url_list(tmp_path, 6)
    args = [src, *SUBMITTER, *PHISHING, *FAST, "--batch-size", "2", "--concurrency", "1"]
    fake.fail_batches_with = {1: 503}  # the second batch never gets through
    first = await run_submit(*args, "--max-attempts", "2", env=fake_env(fake, key_pem))
    assert first.code == 1
    assert first.summary["accepted"] == 4
    assert first.summary["failed_batches"][0]["status"] == 0  # gave up: no answer for good
    fake.fail_batches_with = {}
    second = await run_submit(*args, env=fake_env(fake, key_pem))
    assert second.code == 0, second.stderr
    assert second.summary["outcomes"] == {"new_ticket": 6}  # batches 0, 2: the stored answers
    assert len(fake.client_refs) == 6
    assert len(fake.stored) == 3
    # a deliberate re-send (new run label): new keys, the same client_refs
    third = await run_submit(*args, "--run-label", "again", env=fake_env(fake, key_pem))
    assert third.summary["outcomes"] == {"duplicate_of_own_report": 6}
    assert len(fake.client_refs) == 6


async def test_dry_run_checks_locally_and_sends_nothing(tmp_path: Path) -> None:
    src = tmp_path / "w.csv"
    src.write_text("address,chain,seen\n0xabc,evm,2020-11-17\n,evm,\n0xdef,evm,7/18/17\n")
    out = tmp_path / "r.jsonl"
    args = [src, *SUBMITTER, "--target-type", "crypto_wallet", "--set", "scam_type=other"]
    args += ["--map", "target.address=address", "--map", "target.chain=chain"]
    args += ["--map-value", "target.chain:evm=ethereum", "--map", "observed_at=seen"]
    args += ["--template", "explanation=Listed ({chain})", "--dry-run", "--results", out]
    run = await run_submit(*args)  # no credentials needed
    assert run.code == 1
    s = run.summary
    assert (s["records"], s["valid"], s["rejected"]) == (3, 1, 2)
    assert s["rejected_by_code"] == {"datetime_format": 1, "local.missing_value": 1}
    assert s["first_batch"]["reports"][0]["target"] == {
        "type": "crypto_wallet",
        "address": "0xabc",
        "chain": "ethereum",
    }
    assert s["first_batch"]["reports"][0]["observed_at"] == "2020-11-17T00:00:00Z"
    assert s["first_idempotency_key"].startswith("fcsubmit.w.csv.0.")
    assert [(r["line"], r["errors"][0]["pointer"]) for r in results(out)] == [
        (3, "/target/address"),
        (4, "/observed_at"),
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "missing --url, --client-id, --key-file"),
        (["--url", "http://x", "--client-id", "c", "--kid", "k", "--key-file", "README.md"], "key"),
        (["--dry-run", "--map", "target.url=link"], "'link' not in the header"),
        (["--dry-run", "--set", "scam_typ=x"], "unknown item field"),
        (["--dry-run", "--batch-size", "10001"], "--batch-size"),
    ],
)
async def test_usage_errors_exit_2(tmp_path: Path, extra: list[str], message: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text("url\nhttp://a.example\n")
    run = await run_submit(src, *SUBMITTER, *PHISHING, *extra)
    assert run.code == 2
    assert message in run.stderr
    assert run.summary == {}


async def test_help_names_the_environment_fallbacks() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--help", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    for name in ("FC_URL", "FC_CLIENT_ID", "FC_KEY_FILE", "FC_KID", "FC_SUBMITTER_NAME"):
        assert name in out.decode()


# ---- against the real server ----------------------------------------------------------------


async def org_env(
    make_org: MakeOrg, base_url: str, tmp_path: Path
) -> tuple[OrgCredentials, dict[str, str]]:
    creds = await make_org(role="reporter")
    key = tmp_path / f"{creds.slug}.pem"
    key.write_bytes(creds.private_key_pem)
    env = {
        "FC_URL": base_url,
        "FC_CLIENT_ID": creds.slug,
        "FC_KEY_FILE": str(key),
        "FC_KID": creds.kid,
        "FC_SUBMITTER_NAME": "Fraud Team",
        "FC_SUBMITTER_EMAIL": "fraud-team@bank.example",
    }
    return creds, env


async def count_reports(pool: asyncpg.Pool, org_id: uuid.UUID) -> tuple[int, int]:
    """Return (reports, report batches) stored for the organisation."""
    reports = await pool.fetchval("SELECT count(*) FROM reports WHERE org_id = $1", org_id)
    batches = await pool.fetchval("SELECT count(*) FROM report_batches WHERE org_id = $1", org_id)
    return int(reports), int(batches)


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
