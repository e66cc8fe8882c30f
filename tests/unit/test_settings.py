"""Settings: environment names, defaults, and refusal of unknown FRAUDCHANNEL_* variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fraudchannel.settings import Settings, unknown_env_names


def test_unknown_prefixed_variables_are_reported() -> None:
    env = {"FRAUDCHANNEL_PORT": "1", "FRAUDCHANNEL_PROT": "2", "PATH": "/bin"}
    assert unknown_env_names(env) == ["FRAUDCHANNEL_PROT"]


def test_every_field_has_an_env_name_that_is_known() -> None:
    env = {f"FRAUDCHANNEL_{name.upper()}": "x" for name in Settings.model_fields}
    assert unknown_env_names(env) == []


def test_database_url_is_read_from_the_conventional_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example:5432/x")
    monkeypatch.delenv("FRAUDCHANNEL_DATABASE_URL", raising=False)
    assert str(Settings().database_url) == "postgresql://u@db.example:5432/x"


def test_token_endpoint_follows_public_url() -> None:
    s = Settings(database_url=None, public_url="https://fraud.example/", port=9)
    assert s.token_endpoint == "https://fraud.example/oauth/token"
    assert Settings(database_url=None, host="127.0.0.1", port=8081).base_url == (
        "http://127.0.0.1:8081"
    )


def test_access_tokens_cannot_outlive_ten_minutes() -> None:
    with pytest.raises(ValueError, match="access_token_ttl_s"):
        Settings(database_url=None, access_token_ttl_s=601)


def test_a_bad_setting_is_described_by_the_variable_that_was_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from fraudchannel.settings_errors import describe_invalid_settings

    monkeypatch.delenv("FRAUDCHANNEL_DATABASE_URL", raising=False)
    monkeypatch.delenv("FRAUDCHANNEL_PORT", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:secret@/x")
    monkeypatch.setenv("fraudchannel_port", "8o8o")  # pydantic-settings ignores the case
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert describe_invalid_settings(caught.value) == [
        "invalid setting DATABASE_URL: must be a PostgreSQL URL like "
        "postgresql://USER@HOST:5432/DATABASE (this one names no host)",
        "invalid setting fraudchannel_port: must be a whole number, not '8o8o'",
    ]
    # FRAUDCHANNEL_DATABASE_URL wins over DATABASE_URL when both are set.
    monkeypatch.setenv("FRAUDCHANNEL_DATABASE_URL", "notaurl")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example/x")
    monkeypatch.delenv("fraudchannel_port")
    with pytest.raises(ValidationError) as caught:
        Settings()
    [line] = describe_invalid_settings(caught.value)
    assert line.startswith("invalid setting FRAUDCHANNEL_DATABASE_URL: ")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("notaurl", "must be an http:// or https:// URL with a host"),
        ("ftp://fc.example", "must be an http:// or https:// URL with a host"),
        ("https://", "must be an http:// or https:// URL with a host"),
        ("https://fc.example/x?y", "must have no query or fragment"),
        ("https://fc.example/#top", "must have no query or fragment"),
    ],
)
def test_a_public_url_that_is_no_base_url_is_refused(url: str, reason: str) -> None:
    # A reviewer's finding: any text started the server, and tokens carried it as iss and aud.
    with pytest.raises(ValidationError, match=reason):
        Settings(database_url=None, public_url=url)
