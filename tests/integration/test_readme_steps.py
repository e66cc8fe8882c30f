"""The README's step-by-step blocks, run literally against a real server process."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from tests.auth_fixtures import GetToken, MakeOrg, bearer
from tests.conftest import ROOT, Served, free_port

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(
    r"<!-- readme-steps:(?P<name>[a-z-]+) -->\s*```sh\n(?P<script>.*?)```\s*<!-- /readme-steps -->",
    re.DOTALL,
)


def readme_block(name: str) -> str:
    """Return the shell text of the README block `name`."""
    for match in BLOCK.finditer(README):
        if match["name"] == name:
            return match["script"]
    raise AssertionError(f"README has no readme-steps block {name!r}")


def serve(dsn: str, port: int, cwd: Path) -> subprocess.Popen[bytes]:
    """Start `fraudchannel serve` (what `make run` runs) and wait until it is ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDCHANNEL_")}
    env |= {
        "DATABASE_URL": dsn,
        "FRAUDCHANNEL_PORT": str(port),
        "FRAUDCHANNEL_LOG_LEVEL": "warning",
    }
    log = cwd / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fraudchannel", "serve"],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(log.read_text()) from None
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not become ready")


@pytest.mark.slow
async def test_register_and_token_steps_work_as_written(
    clone_db: Callable[[], Awaitable[str]], tmp_path: Path
) -> None:
    dsn = await clone_db()
    port = free_port()
    for name in (".venv", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / ".data").mkdir()
    # The one liberty taken: a free port instead of 8080, which a developer may be using.
    script = readme_block("register-and-token").replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    proc = await asyncio.to_thread(serve, dsn, port, tmp_path)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FRAUDCHANNEL_", "FC_"))}
        env["DATABASE_URL"] = dsn
        done = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert '"slug":"acme-bank"' in done.stdout.replace(" ", "")
    assert '"role":"reporter"' in done.stdout.replace(" ", "")
    # Step 5's batch: 202 (curl --fail-with-body), its one report accepted, not refused.
    assert '"outcome":"new_ticket"' in done.stdout.replace(" ", "")
    assert '"errors"' not in done.stdout


async def test_the_readme_batch_example_is_accepted_as_written(
    server: Served, http: aiohttp.ClientSession, make_org: MakeOrg, get_token: GetToken
) -> None:
    section = README.split("## Submit reports", 1)[1]
    example = section.split("```json\n", 1)[1].split("```", 1)[0]
    token = await get_token(await make_org(role="reporter"))
    headers = {**bearer(token), "Content-Type": "application/json"}
    async with http.post(f"{server.url}/v1/report-batches", data=example, headers=headers) as resp:
        answer = await resp.json()
    assert resp.status == 202, answer
    [item] = answer["items"]
    assert item["outcome"] == "new_ticket"
    assert item["target"]["canonical"] == "https://secure-login.acme-bank-verify.top/login"
    assert item["target"]["registrable_domain"] == "acme-bank-verify.top"
