"""Registry field checks (pure): what an operator may type when registering an organisation or
changing one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from fraudchannel.errors import ValidationFailed
from fraudchannel.orgs import Organisation, OrgChanges, check_changes, check_new_org

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


# -- changes to a registered organisation (check_changes) --------------------------------------

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
CURRENT = Organisation(
    id=uuid.UUID(int=1),
    slug="acme-bank",
    legal_name="Acme Bank plc",
    role="reporter",
    scheme="ofcom_icu_d14",
    expertise=("investment",),
    trust_tier=2,
    status="active",
    status_reason=None,
    valid_from=datetime(2026, 1, 1, tzinfo=UTC),
    valid_until=datetime(2027, 1, 1, tzinfo=UTC),
    contact_email="fraud-ops@acme-bank.example",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    updated_at=datetime(2026, 1, 1, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("changes", "expected", "changed"),
    [
        (OrgChanges(), OrgChanges(), ()),
        # what is already there changes nothing, once normalised
        (OrgChanges(trust_tier=2, legal_name=" Acme Bank plc "), OrgChanges(), ()),
        (OrgChanges(contact_email="Fraud-Ops@ACME-BANK.example"),
         OrgChanges(contact_email="Fraud-Ops@acme-bank.example"), ("contact_email",)),
        (OrgChanges(expertise=()), OrgChanges(expertise=()), ("expertise",)),
        (OrgChanges(trust_tier=1, scheme="dsa_art22"),
         OrgChanges(scheme="dsa_art22", trust_tier=1), ("scheme", "trust_tier")),
        (OrgChanges(no_end_date=True), OrgChanges(no_end_date=True), ("valid_until",)),
        (OrgChanges(valid_until=datetime(2030, 1, 1, tzinfo=UTC)),
         OrgChanges(valid_until=datetime(2030, 1, 1, tzinfo=UTC)), ("valid_until",)),
    ],
)  # fmt: skip
def test_changes_are_normalised_and_named(
    changes: OrgChanges, expected: OrgChanges, changed: tuple[str, ...]
) -> None:
    assert check_changes(CURRENT, changes, NOW) == (expected, changed)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        # the organisation after the change is checked whole: either date can break the order
        (OrgChanges(valid_from=datetime(2027, 6, 1, tzinfo=UTC)), "valid_until", "after"),
        (OrgChanges(valid_until=datetime(2025, 1, 1, tzinfo=UTC)), "valid_until", "after"),
        (OrgChanges(valid_until=datetime(2030, 1, 1, tzinfo=UTC), no_end_date=True),
         "valid_until", "not both"),
        (OrgChanges(valid_until=datetime(2030, 1, 1)), "valid_until", "time zone"),  # noqa: DTZ001
        # a reviewer's bug: datetime.min/max were stored as -infinity/infinity and read back
        # without a zone, so `org list` crashed for every organisation
        (OrgChanges(valid_from=datetime.min.replace(tzinfo=UTC)), "valid_from", "1970 to 9998"),
        (OrgChanges(valid_until=datetime.max.replace(tzinfo=UTC)), "valid_until", "1970 to 9998"),
        (OrgChanges(valid_from=datetime.fromisoformat("0001-01-01T00:00:00+14:00")),
         "valid_from", "1970 to 9998"),
        (OrgChanges(legal_name="Acme\nBank"), "legal_name", "legal name"),
        (OrgChanges(contact_email="nope"), "contact_email", "e-mail"),
        (OrgChanges(trust_tier=4), "trust_tier", "trust tier"),
        (OrgChanges(scheme="whatever"), "scheme", "scheme"),
        (OrgChanges(expertise=("Bad Area",)), "expertise", "expertise"),
    ],
)  # fmt: skip
def test_a_bad_change_names_its_field(changes: OrgChanges, field: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message) as info:
        check_changes(CURRENT, changes, NOW)
    assert info.value.extensions["field"] == field


def test_a_later_start_with_a_later_end_is_one_change() -> None:
    later = OrgChanges(
        valid_from=datetime(2027, 6, 1, tzinfo=UTC), valid_until=datetime(2028, 1, 1, tzinfo=UTC)
    )
    assert check_changes(CURRENT, later, NOW) == (later, ("valid_from", "valid_until"))
