"""`fraudchannel org update`: an operator changes an organisation's details, and the change
applies to its very next request (tokens read the organisation on every request)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
from click.testing import CliRunner, Result

from fraudchannel import orgs
from fraudchannel.cli import main
from tests.auth_fixtures import GetToken, MakeOrg, bearer
from tests.builders import batch, host, url_item
from tests.conftest import Served

Fc = Callable[..., Result]


@pytest.fixture(scope="module")
async def cli_dsn(clone_db: Callable[[], Awaitable[str]]) -> str:
    """Return a database of the module's own."""
    return await clone_db()


@pytest.fixture
def fc(cli_dsn: str) -> Fc:
    """Return `fc("org", "update", ...)`: the command in process, on the module's database."""
    runner = CliRunner()
    env = {"DATABASE_URL": cli_dsn, "FRAUDCHANNEL_DATABASE_URL": None}
    env["FRAUDCHANNEL_LOG_LEVEL"] = "warning"
    return lambda *argv: runner.invoke(main, list(argv), env=env)


def registered(fc: Fc, *extra: str) -> str:
    slug = f"bank-{uuid.uuid4().hex[:8]}"
    added = fc(
        "org", "add", slug, "--name", "Acme Bank", "--role", "reporter",
        "--email", "fraud@acme.example", "--expertise", "investment", *extra,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    return slug


def shown(fc: Fc, slug: str) -> dict[str, Any]:
    result = fc("org", "show", slug, "--json")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_only_the_given_fields_change(fc: Fc) -> None:
    slug = registered(fc, "--valid-until", "2030-01-01")
    before = shown(fc, slug)
    result = fc(
        "org", "update", slug, "--trust-tier", "1", "--email", "Ops@ACME.example",
        "--expertise", "romance,investment", "--expertise", "courier,romance",
        "--no-end-date", "--reason", "contract renewed", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["changed"] == ["contact_email", "expertise", "trust_tier", "valid_until"]
    after = shown(fc, slug)
    assert after["trust_tier"] == 1
    assert after["contact_email"] == "Ops@acme.example"
    assert after["expertise"] == ["romance", "investment", "courier"]
    assert after["valid_until"] is None
    unchanged = ("legal_name", "role", "scheme", "status", "valid_from", "created_at", "id")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert after["updated_at"] > before["updated_at"]


def test_asking_for_what_is_there_changes_nothing(fc: Fc) -> None:
    slug = registered(fc)
    before = shown(fc, slug)
    result = fc("org", "update", slug, "--name", " Acme Bank ", "--email", "fraud@ACME.example")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{slug} already had these\n")
    assert shown(fc, slug)["updated_at"] == before["updated_at"]


def test_expertise_can_be_emptied(fc: Fc) -> None:
    slug = registered(fc)
    assert fc("org", "update", slug, "--expertise", "").exit_code == 0
    assert shown(fc, slug)["expertise"] == []


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        ([], 2, "nothing to change: give at least one of --name"),
        (["--valid-until", "2001-01-01"], 2, "valid_until must lie after valid_from"),
        (["--valid-until", "2031-01-01", "--no-end-date"], 2, "not both"),
        (["--email", "nope"], 2, "contact e-mail is not valid"),
        (["--name", "Acme\x1bBank"], 2, "legal name must be"),
        (["--trust-tier", "0"], 2, "--trust-tier"),
        (["--scheme", "whatever"], 2, "--scheme"),
        (["--valid-from", "soon"], 2, "not an ISO 8601"),
        (["--valid-until", "9999-12-31T23:59:59.999999Z"], 2, "must lie in the years 1970"),
        (["--role", "admin"], 2, "No such option '--role'"),  # the role never changes
    ],
)
def test_bad_changes_are_refused_and_change_nothing(
    fc: Fc, argv: list[str], code: int, message: str
) -> None:
    slug = registered(fc)
    before = shown(fc, slug)
    result = fc("org", "update", slug, *argv)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert shown(fc, slug) == before


def test_unknown_and_revoked_organisations_exit_1(fc: Fc) -> None:
    missing = fc("org", "update", "no-such-org", "--trust-tier", "1", "--json")
    assert missing.exit_code == 1
    assert json.loads(missing.stderr)["detail"] == "no organisation 'no-such-org'"
    slug = registered(fc)
    assert fc("org", "revoke", slug).exit_code == 0
    revoked = fc("org", "update", slug, "--trust-tier", "1")
    assert revoked.exit_code == 1
    assert "is revoked; its details can no longer change" in revoked.stderr


async def test_a_change_applies_to_the_next_request(
    make_org: MakeOrg,
    get_token: GetToken,
    pool: asyncpg.Pool,
    server: Served,
    http: aiohttp.ClientSession,
) -> None:
    creds = await make_org(trust_tier=3)
    token = await get_token(creds, scope="reports:write")
    whoami = f"{server.url}/v1/whoami"

    await orgs.update_org(pool, creds.slug, orgs.OrgChanges(trust_tier=1))
    async with http.post(
        f"{server.url}/v1/report-batches",
        json=batch([url_item("r1", f"https://{host()}/login")]),
        headers=bearer(token),
    ) as resp:
        assert resp.status == 202, await resp.text()
        ticket_id = (await resp.json())["items"][0]["ticket_id"]
    reasons = await pool.fetchval(
        "SELECT priority_reasons FROM tickets WHERE id = $1::uuid", uuid.UUID(ticket_id)
    )
    assert "reported by a trust tier 1 organisation" in str(reasons)

    current = await orgs.get_org(pool, creds.slug)
    lapsed = orgs.OrgChanges(
        valid_from=current.valid_from.replace(year=2020),
        valid_until=current.valid_from.replace(year=2021),
    )
    _, changed = await orgs.update_org(pool, creds.slug, lapsed, reason="contract ended")
    assert changed == ("valid_from", "valid_until")
    async with http.get(whoami, headers=bearer(token)) as resp:
        assert resp.status == 401
        assert "not active (expired)" in (await resp.json(content_type=None))["detail"]

    await orgs.update_org(pool, creds.slug, orgs.OrgChanges(no_end_date=True))
    async with http.get(whoami, headers=bearer(token)) as resp:
        assert resp.status == 200


def test_json_may_come_before_the_command(fc: Fc) -> None:
    # Two reviewers typed `fraudchannel --json org list` and got "No such option '--json'".
    slug = registered(fc)
    first, last = fc("--json", "org", "show", slug), fc("org", "show", slug, "--json")
    assert first.exit_code == last.exit_code == 0, first.output
    assert json.loads(first.stdout) == json.loads(last.stdout)
    missing = fc("--json", "org", "update", "no-such-org", "--trust-tier", "1")
    assert missing.exit_code == 1
    assert json.loads(missing.stderr)["status"] == 404
    bare = fc("--json")  # no command: the top level has no --json of its own
    assert bare.exit_code == 2
    assert json.loads(bare.stderr)["detail"] == "No such option '--json'."
