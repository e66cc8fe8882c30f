"""scripts/submit.py against a scripted stand-in of the service, run as an integrator runs it.

The stand-in (no database, on a real socket) proves the client's side of the contract: token
reuse and refresh, retries with the same Idempotency-Key, refusals, exit codes and usage errors.
The real server is in test_submit_real_server.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web

from tests.integration.submit_harness import (
    FAST,
    PHISHING,
    ROOT,
    SCRIPT,
    SUBMITTER,
    problem,
    results,
    run_submit,
    serve_app,
    url_list,
)

pytestmark = pytest.mark.slow  # each test starts the script (about half a second of imports)


# ---- a scripted stand-in of the service -----------------------------------------------------


@dataclass
class FakeService:
    """The token and ingest endpoints, with failures scripted per test.

    `batch_faults` are answered, in order, before any real answer: an HTTP status (503, 429,
    401, 413, ...), "drop" (store the batch, then cut the connection without an answer) or
    "hang" (no answer for a minute).
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
    released: asyncio.Event = field(default_factory=asyncio.Event)  # ends every "hang"

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
        if fault == "hang":  # an answer that never comes (until the test ends)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.released.wait(), 60)
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


@pytest.fixture
async def fake() -> AsyncIterator[FakeService]:
    service = FakeService()
    async for url in serve_app(service.app()):
        service.url = url
        yield service
        service.released.set()  # before the server waits for its handlers


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
        # a reviewer's bug: these crashed with a traceback inside the csv module, exit 1
        (["--dry-run", "--delimiter", ";;"], "';;' cannot delimit CSV cells"),
        (["--dry-run", "--delimiter", ""], "'' cannot delimit CSV cells"),
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


async def test_ctrl_c_ends_the_run_with_its_summary_and_exit_130(
    fake: FakeService, key_pem: Path, tmp_path: Path
) -> None:
    # A reviewer's finding: Ctrl-C printed "Aborted!" and no summary, exit 1.
    fake.batch_faults = ["hang"]
    src = url_list(tmp_path, 30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FC_")}
    env.update(fake_env(fake, key_pem))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), str(src), *SUBMITTER, *PHISHING, "--batch-size", "10",
        "--concurrency", "1", "--results", str(tmp_path / "r.jsonl"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    for _ in range(200):  # until the first batch is in flight
        if fake.posts:
            break
        await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 130, err.decode()[-2000:]
    summary = json.loads(out)
    assert summary["exit_code"] == 130
    assert summary["aborted"].startswith("interrupted (Ctrl-C): run the same command again")
    assert "Aborted!" not in err.decode()
