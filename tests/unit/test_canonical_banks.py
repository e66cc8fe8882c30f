"""Bank targets: IBAN (ISO 13616, checksum ISO 7064 mod 97-10) and UK sort code + account
number, and the rule that a GB IBAN is the same target as its sort code and account."""

from __future__ import annotations

import pytest

from fraudchannel.canonical import (
    CanonicalTarget,
    canonical_iban,
    canonical_target,
    canonical_uk_bank_account,
)
from tests.unit.rejections import code_of

IBAN_EXAMPLES = [
    "GB29NWBK60161331926819",
    "GB82WEST12345698765432",
    "DE89370400440532013000",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "BE68539007547034",
    "CH9300762011623852957",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
    "IE29AIBK93115212345678",
    "NO9386011117947",
    "MT84MALT011000012345MTLCAST001S",
    "SA0380000000608010167519",
    "PL61109010140000071219812874",
    "AT611904300234573201",
    "DK5000400440116243",
    "SE4550000000058398257466",
    "FI2112345600000785",
    "LC55HEMM000100010012001200023015",
    "GI75NWBK000000007099453",
]


@pytest.mark.parametrize("iban", IBAN_EXAMPLES)
def test_iban_registry_examples(iban: str) -> None:
    assert canonical_iban(iban) == iban
    spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)).lower()
    assert canonical_iban(spaced) == iban


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("gb82 west 1234 5698 7654 32", "GB82WEST12345698765432"),
        ("IBAN GB29 NWBK 6016 1331 9268 19", "GB29NWBK60161331926819"),
        ("iban: GB29NWBK60161331926819", "GB29NWBK60161331926819"),
        ("GB82-WEST-1234-5698-7654-32", "GB82WEST12345698765432"),
        ("GB82\u00a0WEST\u00a01234\u00a05698\u00a07654\u00a032", "GB82WEST12345698765432"),
    ],
)
def test_iban_formats(raw: str, expected: str) -> None:
    assert canonical_iban(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "iban-empty"),
        ("GB28NWBK60161331926819", "iban-checksum"),
        ("GB29NWBK60161331926818", "iban-checksum"),
        ("XX89370400440532013000", "iban-country"),
        ("GB29NWBK601613319268", "iban-length"),
        ("GB29NWBK6016133192681A", "iban-structure"),
        ("GB29NWBK6016133192681\u0662", "iban-characters"),  # ARABIC-INDIC DIGIT TWO
        ("GB29/NWBK60161331926819", "iban-characters"),
        ("GB" + "1" * 40, "iban-characters"),
    ],
)
def test_iban_rejections(raw: str, code: str) -> None:
    assert code_of(canonical_iban, raw) == code


@pytest.mark.parametrize(
    ("sort_code", "account", "expected"),
    [
        ("60-16-13", "31926819", "601613-31926819"),
        ("601613", "31926819", "601613-31926819"),
        ("60 16 13", "3192 6819", "601613-31926819"),
        ("60\u201316\u201313", "31926819", "601613-31926819"),  # en dashes (a word processor)
        ("20-00-00", "1234567", "200000-01234567"),  # 7 digits: one leading zero
        ("20-00-00", "123456", "200000-00123456"),  # 6 digits: two leading zeros
    ],
)
def test_uk_bank_account(sort_code: str, account: str, expected: str) -> None:
    assert canonical_uk_bank_account(sort_code, account) == expected


@pytest.mark.parametrize(
    ("sort_code", "account", "code"),
    [
        ("6016", "31926819", "ukacct-sort-code"),
        ("60-16-1x", "31926819", "ukacct-sort-code"),
        ("٦٠١٦١٣", "31926819", "ukacct-sort-code"),  # Arabic-Indic digits
        ("60-16-13", "12345", "ukacct-account-number"),
        ("60-16-13", "3192681x", "ukacct-account-number"),
        ("60-16-13", "12345678901", "ukacct-account-number"),
        ("60-16-13", "123456789", "ukacct-non-standard"),  # Santander 9-digit: bank-specific
        ("60-16-13", "0031926819", "ukacct-non-standard"),  # NatWest/Co-op 10-digit
    ],
)
def test_uk_bank_account_rejections(sort_code: str, account: str, code: str) -> None:
    assert code_of(canonical_uk_bank_account, sort_code, account) == code


def test_gb_iban_is_the_same_target_as_its_sort_code_and_account() -> None:
    from_iban = canonical_target("iban", {"iban": "GB29 NWBK 6016 1331 9268 19"})
    from_account = canonical_target(
        "uk_bank_account", {"sort_code": "60-16-13", "account_number": "31926819"}
    )
    assert (from_iban.kind, from_iban.key) == (from_account.kind, from_account.key)
    assert from_iban.key == "601613-31926819"
    assert from_iban.canonical == "GB29NWBK60161331926819"
    assert from_iban.evidence == {"iban": "GB29NWBK60161331926819"}
    assert from_account.canonical == "60-16-13 31926819"


def test_other_ibans_stay_ibans() -> None:
    target = canonical_target("iban", {"iban": "de89 3704 0044 0532 0130 00"})
    assert target == CanonicalTarget("iban", "DE89370400440532013000", "DE89370400440532013000")


def fullwidth(text: str) -> str:
    """Return `text` as a CJK input method types it: fullwidth forms, ideographic spaces."""
    return "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text
    )


def test_fullwidth_bank_details_are_the_same_target() -> None:
    # A reviewer's finding: a fullwidth IBAN was refused as iban-characters while fullwidth phone
    # numbers and handles were read. One character for one: the length rule still holds.
    assert canonical_iban(fullwidth("GB29 NWBK 6016 1331 9268 19")) == "GB29NWBK60161331926819"
    assert canonical_iban(fullwidth("iban de89 3704 0044 0532 0130 00")) == (
        "DE89370400440532013000"
    )
    assert canonical_uk_bank_account(fullwidth("60-16-13"), fullwidth("31926819")) == (
        "601613-31926819"
    )
    assert code_of(canonical_iban, fullwidth("GB29NWBK601613319268199")) == "iban-length"


@pytest.mark.parametrize("dash", ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015"])
def test_any_dash_separates_iban_groups_and_account_digits(dash: str) -> None:
    # A reviewer's finding: sort codes took U+2010-U+2015, IBANs refused them.
    assert canonical_iban(dash.join(["GB29", "NWBK", "6016", "1331", "9268", "19"])) == (
        "GB29NWBK60161331926819"
    )
    assert canonical_uk_bank_account(f"60{dash}16{dash}13", f"3192{dash}6819") == (
        "601613-31926819"
    )
