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
