"""Registry field checks (pure): what an operator may type when registering an organisation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fraudchannel.errors import ValidationFailed
from fraudchannel.orgs import check_new_org

GOOD: dict[str, Any] = {
    "slug": "acme-bank",
    "legal_name": "Acme Bank plc",
    "role": "reporter",
    "scheme": "ofcom_icu_d14",
    "expertise": ("investment",),
    "trust_tier": 1,
    "contact_email": "fraud-ops@acme-bank.example",
    "valid_from": None,
    "valid_until": None,
    "now": datetime(2026, 11, 30, tzinfo=UTC),
}


def test_good_fields_pass_and_the_email_is_normalised() -> None:
    assert check_new_org(**GOOD | {"contact_email": "Fraud-Ops@ACME-BANK.example"}) == (
        "Fraud-Ops@acme-bank.example"
    )


@pytest.mark.parametrize(
    "name", ["Acme\x00Bank", "Acme\nBank", "Acme\x1b[31mBank", "", "   ", "x" * 201]
)
def test_control_characters_and_empty_or_long_legal_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationFailed, match="legal name"):
        check_new_org(**GOOD | {"legal_name": name})


def test_a_naive_validity_date_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="time zone"):
        check_new_org(**GOOD | {"valid_until": datetime(2027, 1, 1)})  # noqa: DTZ001
