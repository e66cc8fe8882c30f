"""The operator's registry commands, run as the real console script against a real database."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fraudchannel import client

pytestmark = pytest.mark.slow  # every command is a process start-up

FRAUDCHANNEL = Path(sys.executable).with_name("fraudchannel")


@dataclass(frozen=True, slots=True)
class Run:
    """A finished command: exit status, stdout, stderr."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """Return stdout parsed as JSON."""
        return json.loads(self.out)


Fc = Callable[..., Awaitable[Run]]


def script_env(dsn: str) -> dict[str, str]:
    """Return the environment of a command on `dsn`: no stray FRAUDCHANNEL_* of the test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDCHANNEL_")}
    env.update(DATABASE_URL=dsn, FRAUDCHANNEL_LOG_LEVEL="warning", FRAUDCHANNEL_LOG_FORMAT="json")
    return env


async def run(argv: list[str], env: dict[str, str], stdin: bytes | None = None) -> Run:
    """Run `argv` to completion and return what it did."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate(stdin)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


@pytest.fixture(scope="module")
async def cli_dsn(clone_db: Callable[[], Awaitable[str]]) -> str:
    """Return a database of the module's own."""
    return await clone_db()


@pytest.fixture
def fc(cli_dsn: str) -> Fc:
    """Return `await fc("org", "list", ...)`: run the fraudchannel command on the module's DB."""

    async def call(*args: str, stdin: bytes | None = None) -> Run:
        return await run([str(FRAUDCHANNEL), *args], script_env(cli_dsn), stdin)

    return call


def _slug(name: str) -> str:
    return f"{name}-{os.urandom(4).hex()}"


def _public_pem(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


async def _add_org(fc: Fc, slug: str, *extra: str) -> Run:
    return await fc(
        "org", "add", slug, "--name", "Example Bank plc", "--role", "reporter",
        "--email", "fraud@bank.example", *extra,
    )  # fmt: skip


async def test_org_lifecycle(fc: Fc) -> None:
    bank, police = _slug("bank"), _slug("police")
    added, added_json = await asyncio.gather(
        _add_org(fc, bank, "--scheme", "ofcom_icu_d14", "--expertise", "investment,romance"),
        _add_org(fc, police, "--trust-tier", "1", "--valid-until", "2099-12-31", "--json"),
    )
    assert added.code == 0, added.err
    assert f"registered {bank}" in added.out
    assert "expertise:     investment, romance" in added.out
    doc = added_json.json()
    assert (doc["slug"], doc["trust_tier"], doc["status"]) == (police, 1, "active")
    assert doc["valid_until"].startswith("2099-12-31T00:00:00")

    listed, shown, human_list = await asyncio.gather(
        fc("org", "list", "--json"), fc("org", "show", bank, "--json"), fc("org", "list")
    )
    assert {bank, police} <= {o["slug"] for o in listed.json()}
    assert shown.json()["scheme"] == "ofcom_icu_d14"
    assert shown.json()["keys"] == []
    assert human_list.out.startswith("SLUG")
    assert bank in human_list.out

    suspended = await fc("org", "suspend", bank, "--reason", "under review")
    assert (suspended.code, suspended.out.strip()) == (0, f"{bank} is now suspended")
    only_suspended, shown = await asyncio.gather(
        fc("org", "list", "--status", "suspended", "--json"), fc("org", "show", bank)
    )
    assert bank in {o["slug"] for o in only_suspended.json()}
    assert police not in {o["slug"] for o in only_suspended.json()}
    assert "status:        suspended (under review)" in shown.out

    reactivated = await fc("org", "reactivate", bank, "--json")
    assert reactivated.json()["status"] == "active"
    revoked = await fc("org", "revoke", bank)
    assert revoked.code == 0
    again = await fc("org", "reactivate", bank)
    assert again.code == 1
    assert again.err.strip() == f"Error: organisation '{bank}' is revoked; it cannot become active"


async def test_key_commands(fc: Fc, tmp_path: Path) -> None:
    bank = _slug("bank")
    assert (await _add_org(fc, bank)).code == 0
    es = client.generate_private_key("ES256")
    jwk_file = tmp_path / "bank.jwk.json"
    jwk_file.write_text(json.dumps(client.public_jwk(es, "ES256", kid="bank-es-1")))
    ed = client.generate_private_key("EdDSA")
    pem_file = tmp_path / "bank-ed.pem"
    pem_file.write_bytes(_public_pem(ed))
    rsa_key = client.generate_private_key("PS256", rsa_bits=2048)
    rsa_file = tmp_path / "bank-rsa.pem"
    rsa_file.write_bytes(_public_pem(rsa_key))

    piped = _public_pem(client.generate_private_key("ES256"))
    from_jwk, from_pem, from_rsa, from_stdin = await asyncio.gather(
        fc("key", "add", bank, str(jwk_file), "--json"),
        fc("key", "add", bank, str(pem_file)),
        fc("key", "add", bank, str(rsa_file), "--kid", "bank-rsa", "--alg", "RS256", "--json"),
        fc("key", "add", bank, "-", "--kid", "stdin-key", stdin=piped),
    )
    assert from_jwk.code == 0, from_jwk.err
    assert (from_jwk.json()["kid"], from_jwk.json()["alg"]) == ("bank-es-1", "ES256")
    thumbprint = client.public_jwk(ed, "EdDSA")["kid"]  # the default kid of a PEM
    assert from_pem.out.startswith(f"registered key {thumbprint} (EdDSA) for {bank}")
    assert (from_rsa.json()["kid"], from_rsa.json()["alg"]) == ("bank-rsa", "RS256")
    assert "d" not in from_jwk.json()["jwk"]

    assert from_stdin.code == 0, from_stdin.err

    listed = await fc("key", "list", bank, "--json")
    assert {k["kid"] for k in listed.json()} == {"bank-es-1", thumbprint, "bank-rsa", "stdin-key"}
    revoked = await fc("key", "revoke", bank, "bank-es-1", "--json")
    assert revoked.json()["status"] == "revoked"
    active, human, twice, shown = await asyncio.gather(
        fc("key", "list", bank, "--active", "--json"),
        fc("key", "list", bank),
        fc("key", "revoke", bank, "bank-es-1"),
        fc("org", "show", bank),
    )
    assert "bank-es-1" not in {k["kid"] for k in active.json()}
    assert human.out.startswith("KID")
    assert "revoked" in human.out
    assert (twice.code, twice.err.strip()) == (
        1,
        f"Error: key 'bank-es-1' of '{bank}' is already revoked",
    )
    assert "bank-rsa  RS256  active" in shown.out


@pytest.fixture
def bad_files(tmp_path: Path) -> Path:
    """Return a folder of key files the registry must refuse (and one good public key)."""
    weak = rsa.generate_private_key(65537, 1024)  # noqa: S505 - weak on purpose
    (tmp_path / "weak.pem").write_bytes(_public_pem(weak))
    es = client.generate_private_key("ES256")
    (tmp_path / "private.pem").write_bytes(client.private_key_pem(es))
    private_jwk = client.public_jwk(es, "ES256") | {"d": "AAAA"}
    (tmp_path / "private.jwk").write_text(json.dumps(private_jwk))
    (tmp_path / "hs.jwk").write_text(json.dumps({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}))
    es384 = client.public_jwk(es, "ES256") | {"alg": "ES384"}
    (tmp_path / "es384.jwk").write_text(json.dumps(es384))
    (tmp_path / "public.pem").write_bytes(_public_pem(es))
    return tmp_path


async def test_bad_input_is_refused_clearly(fc: Fc, bad_files: Path) -> None:
    bank = _slug("bank")
    assert (await _add_org(fc, bank)).code == 0
    cases: list[tuple[list[str], int, str]] = [
        (["key", "add", bank, str(bad_files / "weak.pem"), "--alg", "PS256"], 2,
         "Error: RSA keys must have 2048 to 8192 bits; this one has 1024"),
        (["key", "add", bank, str(bad_files / "private.pem")], 2, "Error: this is a private key"),
        (["key", "add", bank, str(bad_files / "es384.jwk")], 2, "Error: unsupported alg 'ES384'"),
        (["org", "add", bank, "--name", "Again", "--role", "reporter", "--email", "a@b.example"],
         1, f"Error: an organisation with slug '{bank}' already exists"),
        (["org", "show", "no-such-org"], 1, "Error: no organisation 'no-such-org'"),
    ]  # fmt: skip
    results = await asyncio.gather(*(fc(*argv) for argv, _, _ in cases))
    for (argv, code, message), result in zip(cases, results, strict=True):
        assert result.code == code, (argv, result)
        assert message in result.err, (argv, result.err)
        assert result.out == "", argv
        assert "Traceback" not in result.err
    assert (await fc("key", "list", bank, "--json")).json() == []


def test_every_bad_input_has_its_message(cli_dsn: str, bad_files: Path) -> None:
    # The same command, in process (the matrix would cost a process start-up per line).
    from click.testing import CliRunner

    from fraudchannel.cli import main

    add = ["org", "add", "--name", "X", "--email", "a@b.example"]
    cases: list[tuple[list[str], int, str]] = [
        (["key", "add", "any", str(bad_files / "private.jwk")], 2, "private or symmetric key"),
        (["key", "add", "any", str(bad_files / "hs.jwk")], 2, "symmetric key material (k)"),
        (["key", "add", "any", str(bad_files / "public.pem"), "--alg", "ES384"], 2, "'--alg'"),
        (["key", "add", "any", str(bad_files / "missing.pem")], 2, "No such file"),
        (["key", "add", "no-such-org", str(bad_files / "public.pem")], 1, "no organisation"),
        (["key", "revoke", "no-such-org", "kid"], 1, "no organisation"),
        (["org", "suspend", "no-such-org"], 1, "no organisation"),
        ([*add, _slug("x"), "--role", "reporter", "--email", "nope"], 2, "e-mail is not valid"),
        ([*add, "Bad Slug", "--role", "reporter"], 2, "slug must be"),
        ([*add, _slug("x"), "--role", "king"], 2, "Invalid value for '--role'"),
        ([*add, _slug("x"), "--role", "admin", "--trust-tier", "9"], 2, "--trust-tier"),
        ([*add, _slug("x"), "--role", "admin", "--valid-from", "soon"], 2, "not an ISO 8601"),
        ([*add, _slug("x"), "--role", "admin", "--valid-from", "2030-01-02",
          "--valid-until", "2030-01-01"], 2, "valid_until must lie after valid_from"),
    ]  # fmt: skip
    runner = CliRunner()
    env = {
        "DATABASE_URL": cli_dsn,
        "FRAUDCHANNEL_DATABASE_URL": None,
        "FRAUDCHANNEL_LOG_LEVEL": "warning",
    }
    helped = runner.invoke(main, ["--help"], env=env)
    for name in ("org", "key", "service-key", "migrate", "serve"):
        assert name in helped.output
    for argv, code, message in cases:
        result = runner.invoke(main, argv, env=env)
        assert result.exit_code == code, (argv, result.output)
        assert message in result.stderr, (argv, result.stderr)


async def test_service_key_commands(fc: Fc) -> None:
    first = await fc("service-key", "rotate", "--json")
    assert first.code == 0, first.err
    second = await fc("service-key", "rotate")
    assert second.out.startswith("new signing key ")
    assert f"(retired {first.json()['kid']})" in second.out
    listed = await fc("service-key", "list", "--json")
    states = [k["state"] for k in listed.json()]
    assert states[0] == "active"
    assert states.count("active") == 1
    assert first.json()["kid"] in {k["kid"] for k in listed.json() if k["state"] == "published"}
    human = await fc("service-key", "list")
    assert human.out.startswith("KID")


# -- errors as JSON (--json) ----------------------------------------------------------------

UNREACHABLE_DSN = "postgresql://postgres@127.0.0.1:1/postgres"  # port 1: refused at once
PROBLEMS = "https://fraudchannel.example/problems/"


def _problem(stderr: str) -> dict[str, Any]:
    """Return the JSON problem on the last line of stderr (JSON log lines may come before)."""
    doc: dict[str, Any] = json.loads(stderr.strip().splitlines()[-1])
    assert {"type", "title", "status", "detail", "exit_code"} <= doc.keys(), doc
    return doc


def test_every_error_is_json_with_json(cli_dsn: str, bad_files: Path) -> None:
    from click.testing import CliRunner

    from fraudchannel.cli import main

    runner = CliRunner()
    env: dict[str, str | None] = {
        "DATABASE_URL": cli_dsn,
        "FRAUDCHANNEL_DATABASE_URL": None,
        "FRAUDCHANNEL_LOG_LEVEL": "warning",
    }
    bank = _slug("bank")
    add = ["org", "add", "--name", "X", "--email", "a@b.example", "--role", "reporter"]
    assert runner.invoke(main, [*add, bank], env=env).exit_code == 0
    assert runner.invoke(main, ["org", "revoke", bank], env=env).exit_code == 0
    # (argv, extra env, exit status, problem type, status member, words in detail)
    cases: list[tuple[list[str], dict[str, str], int, str, int, str]] = [
        (["org", "show", "no-such-org"], {}, 1, "not-found", 404, "no organisation"),
        (["key", "revoke", "no-such-org", "kid"], {}, 1, "not-found", 404, "no organisation"),
        ([*add, bank], {}, 1, "conflict", 409, "already exists"),
        (["org", "reactivate", bank], {}, 1, "conflict", 409, "is revoked"),
        (["key", "add", bank, str(bad_files / "private.pem")], {}, 2, "validation-failed", 422,
         "private key"),
        ([*add, _slug("x"), "--valid-from", "2030-01-02", "--valid-until", "2030-01-01"], {}, 2,
         "validation-failed", 422, "valid_until must lie after valid_from"),
        (["org", "add", _slug("x")], {}, 2, "missing-parameter", 400, "--name"),
        (["org", "show"], {}, 2, "missing-parameter", 400, "SLUG"),
        ([*add, _slug("x"), "--trust-tier", "9"], {}, 2, "invalid-parameter", 400,
         "--trust-tier"),
        ([*add, _slug("x"), "--valid-from", "soon"], {}, 2, "invalid-parameter", 400,
         "not an ISO 8601"),
        (["key", "add", bank, str(bad_files / "missing.pem")], {}, 2, "invalid-parameter",
         400, "No such file"),
        (["org", "show", bank, "--bogus"], {}, 2, "no-such-option", 400, "--bogus"),
        (["org", "list"], {"DATABASE_URL": UNREACHABLE_DSN}, 1, "database-unavailable", 503,
         "cannot reach the database"),
        (["migrate"], {"DATABASE_URL": UNREACHABLE_DSN}, 1, "database-unavailable", 503,
         "ConnectionRefusedError"),
        (["org", "list"], {"FRAUDCHANNEL_NO_SUCH_SETTING": "1"}, 2, "invalid-settings", 400,
         "FRAUDCHANNEL_NO_SUCH_SETTING"),
    ]  # fmt: skip
    for argv, extra, code, kind, status, words in cases:
        result = runner.invoke(main, [*argv, "--json"], env=env | extra)
        assert result.exit_code == code, (argv, result.output)
        assert result.stdout == "", argv  # stdout holds results only
        doc = _problem(result.stderr)
        assert doc["type"] == PROBLEMS + kind, (argv, doc)
        assert doc["status"] == status, (argv, doc)
        assert words in doc["detail"], (argv, doc)
        assert doc["exit_code"] == code
        assert cli_dsn not in result.stderr  # a DSN may hold a password
        plain = runner.invoke(main, argv, env=env | extra)  # the same error, for people
        assert plain.exit_code == code, argv
        assert "Error: " in plain.stderr, argv
        assert not plain.stderr.lstrip().startswith("{"), argv

    after_dashes = runner.invoke(main, ["org", "list", "--", "--json"], env=env)
    assert after_dashes.exit_code == 2  # "--json" after "--" is an argument, not the flag
    assert "Error: Got unexpected extra argument" in after_dashes.stderr
    migrated = runner.invoke(main, ["migrate", "--json"], env=env)
    assert (migrated.exit_code, json.loads(migrated.stdout)) == (0, {"applied": []})


async def test_json_errors_of_the_console_script(fc: Fc) -> None:
    # The real entry point, once for a service error and once for a database that is down.
    down = script_env(UNREACHABLE_DSN)
    missing, unreachable = await asyncio.gather(
        fc("org", "show", "no-such-org", "--json"),
        run([str(FRAUDCHANNEL), "org", "list", "--json"], down),
    )
    assert (missing.code, missing.out) == (1, "")
    assert _problem(missing.err) == {
        "type": PROBLEMS + "not-found",
        "title": "Not found",
        "status": 404,
        "detail": "no organisation 'no-such-org'",
        "exit_code": 1,
    }
    assert (unreachable.code, unreachable.out) == (1, "")
    assert "Traceback" not in unreachable.err
    doc = _problem(unreachable.err)
    assert (doc["type"], doc["title"], doc["status"]) == (
        PROBLEMS + "database-unavailable",
        "Database unavailable",
        503,
    )
