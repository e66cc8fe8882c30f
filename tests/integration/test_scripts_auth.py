"""The integrator's scripts end to end: keygen -> operator registers the JWK -> get_token -> /v1."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from fraudchannel import orgs
from tests.auth_fixtures import bearer
from tests.conftest import ROOT, Served
from tests.integration.test_cli_orgs import FRAUDCHANNEL, Run, run, script_env

pytestmark = pytest.mark.slow  # every step is a process start-up

KEYGEN = ROOT / "scripts" / "keygen.py"
GET_TOKEN = ROOT / "scripts" / "get_token.py"


def _env(server: Served, db_dsn: str, **fc: str) -> dict[str, str]:
    env = script_env(db_dsn)
    env.update({f"FC_{k.upper()}": v for k, v in fc.items()})
    env.setdefault("FC_URL", server.url)
    return env


async def _script(path: Path, env: dict[str, str], *args: str) -> Run:
    return await run([sys.executable, str(path), *args], env)


async def _register(pool: asyncpg.Pool, role: str = "reporter") -> str:
    slug = f"s-{uuid.uuid4().hex[:12]}"
    await orgs.create_org(
        pool, slug=slug, legal_name="Script Bank", role=role, contact_email="it@bank.example"
    )
    return slug


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256", "RS256"])
async def test_keygen_register_get_token_call(
    alg: str,
    tmp_path: Path,
    pool: asyncpg.Pool,
    db_dsn: str,
    server: Served,
    http: aiohttp.ClientSession,
) -> None:
    slug = await _register(pool)
    key_file, jwk_file = tmp_path / "bank.key.pem", tmp_path / "bank.jwk.json"
    env = _env(server, db_dsn, client_id=slug, key_file=str(key_file))

    # 1. The integrator makes a key pair.
    made = await _script(
        KEYGEN, env, "--alg", alg, "--rsa-bits", "2048", "--jwk-file", str(jwk_file)
    )
    assert made.code == 0, made.err
    jwk = json.loads(made.out)
    assert json.loads(jwk_file.read_text()) == jwk
    assert "d" not in jwk
    assert jwk["alg"] == alg
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert b"PRIVATE KEY" in key_file.read_bytes()
    assert "keep it secret" in made.err
    assert ("--alg RS256" in made.err) == (alg == "RS256")  # RSA keys default to PS256

    # 2. The operator registers the public JWK.
    added = await run([str(FRAUDCHANNEL), "key", "add", slug, str(jwk_file)], env)
    assert added.code == 0, added.err
    assert jwk["kid"] in added.out

    # 3. The integrator obtains a token (kid and alg default from the key, but an RSA key
    #    defaults to PS256) and calls the API.
    got = await _script(GET_TOKEN, env, *(["--alg", alg] if alg == "RS256" else []))
    assert got.code == 0, got.err
    token = got.out.strip()
    assert "expires in 600 s" in got.err
    assert token not in got.err  # tokens never go to the log stream
    async with http.get(f"{server.url}/v1/whoami", headers=bearer(token)) as resp:
        assert resp.status == 200
        assert (await resp.json())["slug"] == slug


async def test_get_token_json_scope_and_flags(
    tmp_path: Path, pool: asyncpg.Pool, db_dsn: str, server: Served
) -> None:
    slug = await _register(pool, role="platform")
    key_file = tmp_path / "p.key.pem"
    env = _env(server, db_dsn, key_file=str(key_file))
    made = await _script(KEYGEN, env, "--kid", "platform-1")
    assert made.code == 0, made.err
    jwk_file = tmp_path / "p.jwk"
    jwk_file.write_text(made.out)
    assert (await run([str(FRAUDCHANNEL), "key", "add", slug, str(jwk_file)], env)).code == 0

    flags = ["--client-id", slug, "--kid", "platform-1", "--alg", "ES256"]
    by_env = env | {"FC_CLIENT_ID": slug, "FC_KID": "platform-1"}
    as_json, narrowed, refused = await asyncio.gather(
        _script(GET_TOKEN, env, *flags, "--json"),
        _script(GET_TOKEN, by_env, "--scope", "tickets:read", "--json"),
        _script(GET_TOKEN, env, *flags, "--scope", "reports:write", "--json"),
    )
    assert as_json.code == 0, as_json.err
    answer = json.loads(as_json.out)
    assert answer["token_type"] == "Bearer"
    assert answer["scope"] == "tickets:read tickets:write"
    assert json.loads(narrowed.out)["scope"] == "tickets:read"
    assert refused.code == 1
    assert json.loads(refused.out)["error"] == "invalid_scope"
    assert "refused: invalid_scope" in refused.err


async def test_script_errors_and_exit_codes(tmp_path: Path, db_dsn: str, server: Served) -> None:
    key_file = tmp_path / "k.pem"
    env = _env(server, db_dsn, key_file=str(key_file), client_id="nobody-here")
    assert (await _script(KEYGEN, env)).code == 0
    again, unknown, unreachable, usage, bad_alg, helped = await asyncio.gather(
        _script(KEYGEN, env),  # never overwrites a private key
        _script(GET_TOKEN, env),
        _script(GET_TOKEN, env | {"FC_URL": "http://127.0.0.1:9"}),
        _script(GET_TOKEN, {k: v for k, v in env.items() if k != "FC_CLIENT_ID"}),
        _script(KEYGEN, env, "--alg", "HS256"),
        _script(GET_TOKEN, env, "--help"),
    )
    assert again.code == 1
    assert "cannot write" in again.err
    assert (unknown.code, unknown.out) == (1, "")
    assert "invalid_client" in unknown.err
    assert unreachable.code == 1
    assert "no answer" in unreachable.err
    assert usage.code == 2
    assert "--client-id" in usage.err
    assert bad_alg.code == 2
    for name in ("FC_URL", "FC_CLIENT_ID", "FC_KEY_FILE", "FC_KID"):
        assert name in helped.out
