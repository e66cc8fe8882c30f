"""The README stays true to the code."""

from __future__ import annotations

from pathlib import Path

from fraudchannel.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [f for f in Settings.model_fields if f"FRAUDCHANNEL_{f.upper()}" not in README]
    assert missing == []


def test_the_two_commands_are_shown() -> None:
    assert "make run" in README
    assert "make test" in README


def _paragraph(start: str) -> str:
    """Return the README text from `start` to the end of its paragraph."""
    assert README.count(start) == 1, start
    return start + README.split(start, 1)[1].split("\n\n", 1)[0]


def test_the_limits_are_stated_with_the_settings_defaults() -> None:
    # Integrators should not expect 429: the per-request caps are the only limits.
    limits = " ".join(_paragraph("There are no rate limits today").split())
    body = Settings.model_fields["max_body_bytes"].default
    reports = Settings.model_fields["max_batch_reports"].default
    assert "429" in limits
    assert f"at most {body // 2**20} MiB (`FRAUDCHANNEL_MAX_BODY_BYTES`, default {body:,}" in limits
    assert f"at most {reports:,} reports per batch" in limits


def test_what_key_revocation_does_is_said_in_one_marked_place() -> None:
    marked = README.split("<!-- key-revocation:", 1)[1].split("<!-- /key-revocation -->", 1)[0]
    assert README.count("<!-- key-revocation:") == 1
    assert "FRAUDCHANNEL_ACCESS_TOKEN_TTL_S" in marked
    assert f"{Settings.model_fields['access_token_ttl_s'].default} s" in marked
