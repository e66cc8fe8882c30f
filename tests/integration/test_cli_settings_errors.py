"""Bad settings and the status of every CLI problem document: what the operator sees.

A bad setting is one line naming the variable the operator set (DATABASE_URL or
FRAUDCHANNEL_<NAME>) and why, in plain words, with exit status 2; with --json, one RFC 9457
problem line on stderr. `serve` (what `make run` runs) says the same as every other command.
No database is needed: settings are read before any is touched, and the unreachable one is
refused at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fraudchannel.cli import main

FRAUDCHANNEL = Path(sys.executable).with_name("fraudchannel")
PROBLEMS = "https://fraudchannel.example/problems/"
UNREACHABLE_DSN = "postgresql://postgres@127.0.0.1:1/postgres"  # port 1: refused at once
DSN_WORDS = "must be a PostgreSQL URL like postgresql://USER@HOST:5432/DATABASE"


def clean_env(**settings: str) -> dict[str, str | None]:
    """Return a CliRunner env: `settings` set, every other FRAUDCHANNEL_* and DATABASE_URL unset."""
    env: dict[str, str | None] = {
        k: None for k in os.environ if k.upper().startswith("FRAUDCHANNEL_")
    }
    env["DATABASE_URL"] = None
    env.update(settings)
    return env


# (environment, the one line the operator sees after "Error: ")
CASES: list[tuple[dict[str, str], str]] = [
    ({"DATABASE_URL": "notaurl"},
     f"invalid setting DATABASE_URL: {DSN_WORDS} (this one is not a URL)"),
    ({"DATABASE_URL": "postgresql://user:s3cr3t@db.example:notaport/x"},
     f"invalid setting DATABASE_URL: {DSN_WORDS} (its port is not a number from 1 to 65535)"),
    ({"FRAUDCHANNEL_PUBLIC_URL": "notaurl"},
     "invalid setting FRAUDCHANNEL_PUBLIC_URL: must be an http:// or https:// URL with a host, "
     "like https://fc.example, not 'notaurl'"),
    ({"DATABASE_URL": "postgresql://u@db.example/x",
      "FRAUDCHANNEL_DATABASE_URL": "postgresql:///x"},
     f"invalid setting FRAUDCHANNEL_DATABASE_URL: {DSN_WORDS} (this one names no host)"),
    ({"DATABASE_URL": "mysql://u:secret@db.example/x"},
     "invalid setting DATABASE_URL: must be a PostgreSQL URL starting with postgresql://, like "
     "postgresql://USER@HOST:5432/DATABASE"),
    ({"FRAUDCHANNEL_PORT": "abc"},
     "invalid setting FRAUDCHANNEL_PORT: must be a whole number, not 'abc'"),
    ({"FRAUDCHANNEL_PORT": "70000"},
     "invalid setting FRAUDCHANNEL_PORT: must be at most 65535, not '70000'"),
    ({"FRAUDCHANNEL_DB_POOL_MIN": "0"},
     "invalid setting FRAUDCHANNEL_DB_POOL_MIN: must be at least 1, not '0'"),
    ({"FRAUDCHANNEL_SHUTDOWN_TIMEOUT_S": "soon"},
     "invalid setting FRAUDCHANNEL_SHUTDOWN_TIMEOUT_S: must be a number, not 'soon'"),
    ({"FRAUDCHANNEL_SHUTDOWN_TIMEOUT_S": "601.5"},
     "invalid setting FRAUDCHANNEL_SHUTDOWN_TIMEOUT_S: must be at most 600, not '601.5'"),
    ({"FRAUDCHANNEL_EMBEDDED_PG": "maybe"},
     "invalid setting FRAUDCHANNEL_EMBEDDED_PG: must be true or false, not 'maybe'"),
    ({"FRAUDCHANNEL_LOG_LEVEL": "loud"},
     "invalid setting FRAUDCHANNEL_LOG_LEVEL: must be 'debug', 'info', 'warning' or 'error', "
     "not 'loud'"),
]  # fmt: skip


def _problem(stderr: str) -> dict[str, Any]:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr  # one JSON line, nothing before or after
    doc: dict[str, Any] = json.loads(lines[0])
    return doc


@pytest.mark.parametrize(("env", "line"), CASES)
def test_a_bad_setting_is_one_plain_line_naming_the_variable_set(
    env: dict[str, str], line: str
) -> None:
    runner = CliRunner()
    for argv in (["org", "list"], ["serve"], ["migrate"]):  # serve: what `make run` runs
        result = runner.invoke(main, argv, env=clean_env(**env))
        assert (result.exit_code, result.stdout) == (2, ""), (argv, result.output)
        assert result.stderr == f"Error: {line}\n", argv

        as_json = runner.invoke(main, [*argv, "--json"], env=clean_env(**env))
        assert (as_json.exit_code, as_json.stdout) == (2, ""), argv
        assert _problem(as_json.stderr) == {
            "type": PROBLEMS + "invalid-settings",
            "title": "Invalid settings",
            "status": 400,
            "detail": line,
            "exit_code": 2,
        }, argv


def test_a_database_url_is_never_repeated() -> None:
    # It may hold a password; the other values are shown so the typo can be seen.
    dsn = "mysql://u:secret@db.example/x"
    for argv in (["org", "list"], ["org", "list", "--json"]):
        result = CliRunner().invoke(main, argv, env=clean_env(DATABASE_URL=dsn))
        assert result.exit_code == 2
        assert "secret" not in result.output
        assert "pydantic" not in result.output


def test_several_bad_settings_are_one_line_each() -> None:
    env = clean_env(FRAUDCHANNEL_PORT="abc", FRAUDCHANNEL_LOG_FORMAT="xml", DATABASE_URL="notaurl")
    lines = [
        f"invalid setting DATABASE_URL: {DSN_WORDS} (this one is not a URL)",
        "invalid setting FRAUDCHANNEL_PORT: must be a whole number, not 'abc'",
        "invalid setting FRAUDCHANNEL_LOG_FORMAT: must be 'auto', 'json' or 'console', not 'xml'",
    ]
    plain = CliRunner().invoke(main, ["org", "list"], env=env)
    assert plain.exit_code == 2
    assert plain.stderr == "".join(f"Error: {line}\n" for line in lines)
    as_json = CliRunner().invoke(main, ["org", "list", "--json"], env=env)
    assert as_json.exit_code == 2
    assert _problem(as_json.stderr)["detail"] == "; ".join(lines)


def test_an_unknown_setting_is_one_plain_line_without_usage_text() -> None:
    result = CliRunner().invoke(main, ["org", "list"], env=clean_env(FRAUDCHANNEL_PROT="1"))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: unknown setting(s): FRAUDCHANNEL_PROT (known: ")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.slow
def test_the_console_scripts_serve_says_the_same() -> None:
    # `make run` runs `fraudchannel serve`: the real entry point, not CliRunner.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDCHANNEL_")}
    env |= {"DATABASE_URL": "notaurl", "FRAUDCHANNEL_PORT": "abc"}
    done = subprocess.run(
        [FRAUDCHANNEL, "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"Error: invalid setting DATABASE_URL: {DSN_WORDS} (this one is not a URL)\n"
        "Error: invalid setting FRAUDCHANNEL_PORT: must be a whole number, not 'abc'\n"
    )


# -- every problem document has a status --------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "kind", "status", "code"),
    [
        (["org", "list"], {"DATABASE_URL": UNREACHABLE_DSN}, "database-unavailable", 503, 1),
        (["migrate"], {"DATABASE_URL": UNREACHABLE_DSN}, "database-unavailable", 503, 1),
        (["org", "list"], {"FRAUDCHANNEL_PORT": "x"}, "invalid-settings", 400, 2),
        (["org", "show"], {"DATABASE_URL": UNREACHABLE_DSN}, "missing-parameter", 400, 2),
        (["org", "list", "--bogus"], {}, "no-such-option", 400, 2),
        (["org", "list", "--status", "x"], {}, "invalid-parameter", 400, 2),
        (["no-such-command"], {}, "usage-error", 400, 2),
    ],
)
def test_every_problem_document_has_a_status(
    argv: list[str], env: dict[str, str], kind: str, status: int, code: int
) -> None:
    result = CliRunner().invoke(main, [*argv, "--json"], env=clean_env(**env))
    assert result.exit_code == code, result.output
    doc = json.loads(result.stderr.splitlines()[-1])
    assert (doc["type"], doc["status"], doc["exit_code"]) == (PROBLEMS + kind, status, code)
