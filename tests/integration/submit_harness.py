"""What the scripts/submit.py tests share: running a script as a child process, serving an app
on a free port, a scripted problem answer, URL lists and an organisation's environment."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from tests.auth_fixtures import MakeOrg, OrgCredentials
from tests.conftest import free_port

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


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"type": "about:blank", "title": "scripted", "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
        headers=headers,
    )


def url_list(tmp_path: Path, n: int, name: str = "urls.txt") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"http://scam-{i}.example/login\n" for i in range(n)))
    return path


FAST = ["--retry-base", "0.001"]


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
