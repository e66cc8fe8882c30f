"""Nothing a reporter wrote is lost without a word: phone extensions, and handles in any form.

Phone extensions are kept as evidence beside the E.164 key; text libphonenumber would drop
is refused. Handles, account ids and payment handles are compared in compatibility form
(NFKC, Default_Ignorable_Code_Point removed, the existing lower-case rule).
"""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fraudchannel.canonical import (
    InvalidTarget,
    canonical_handle,
    canonical_payment_handle,
    canonical_phone,
    canonical_target,
)
from fraudchannel.canonical.accounts import canonical_account_id, fold_identifier, phone_parts
from tests.unit.test_canonical_properties import ANY_TEXT, SETTINGS, only_invalid_target


def code_of(call: object, *args: str) -> tuple[str, str]:
    assert callable(call)
    with pytest.raises(InvalidTarget) as info:
        call(*args)
    return info.value.code, info.value.detail


def fullwidth(text: str) -> str:
    """Return ASCII `text` in its fullwidth forms (U+FF01-U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# -- phone extensions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "extension"),
    [
        ("+44 20 7946 0018 ext. 123", "GB", "123"),
        ("020 7946 0018 x123", "GB", "123"),
        ("020 7946 0018 X123", "GB", "123"),
        ("020 7946 0018 extension 123", "GB", "123"),
        ("020 7946 0018 #123", "GB", "123"),
        ("020 7946 0018 ext 0123", "GB", "0123"),  # leading zeros are dialled: kept
        ("tel:+44-20-7946-0018;ext=123", "GB", "123"),  # RFC 3966
        ("+44 20 7946 0018;ext=123", "GB", "123"),
        ("020 7946 0018 ext. \uff11\uff12\uff13", "GB", "123"),  # fullwidth digits
        ("020 7946 0018 ext. \u0661\u0662\u0663", "GB", "123"),  # Arabic-Indic digits
        ("(202) 555-0143 ext. 7", "US", "7"),
        ("020 7946 0018", "GB", None),
    ],
)
def test_the_extension_is_kept_as_evidence(raw: str, region: str, extension: str | None) -> None:
    key = "+12025550143" if region == "US" else "+442079460018"
    assert phone_parts(raw, region) == (key, extension)
    assert canonical_phone(raw, region) == key  # the line is the target
    target = canonical_target("phone", {"number": raw, "region": region})
    assert (target.kind, target.key, target.canonical) == ("phone", key, key)
    assert dict(target.evidence) == ({"extension": extension} if extension else {})


def test_extensions_do_not_split_the_target() -> None:
    plain = canonical_target("phone", {"number": "020 7946 0018"})
    with_ext = canonical_target("phone", {"number": "+44 20 7946 0018 ext. 123"})
    assert (plain.kind, plain.key, plain.canonical) == (
        with_ext.kind,
        with_ext.key,
        "+442079460018",
    )
    assert hash(plain) == hash(with_ext)  # evidence is not part of the hash
    assert dict(with_ext.evidence) == {"extension": "123"}


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        # libphonenumber deletes ";isub=" and all after it, an ";ext=" included.
        ("tel:+44-20-7946-0018;isub=4", "phone-unparseable", "ISDN subaddress"),
        ("tel:+442079460018;isub=4;ext=123", "phone-unparseable", "ISDN subaddress"),
        ("020 7946 0018; ISUB=12", "phone-unparseable", "ISDN subaddress"),
        # ... and cuts at "/x" or "\x" (its SECOND_NUMBER_START_PATTERN).
        ("020 7946 0018 x302/x2303", "phone-ambiguous", "second number"),
        ("07700 900123/x456", "phone-ambiguous", "second number"),
        ("07700 900123 / x 07700 900124", "phone-ambiguous", "second number"),
        ("07700 900123\\x456", "phone-ambiguous", "second number"),
    ],
)
def test_text_libphonenumber_would_drop_is_refused(raw: str, code: str, words: str) -> None:
    got, detail = code_of(canonical_phone, raw)
    assert got == code
    assert words in detail
    with pytest.raises(InvalidTarget) as info:
        canonical_target("phone", {"number": raw})
    assert info.value.code == code


# -- compatibility forms of handles -------------------------------------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\ufe0f"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (fullwidth("@scammer"), "scammer"),
        (fullwidth("@ScamGuy"), "scamguy"),
        ("\ufe6bscammer", "scammer"),  # small commercial at
        ("scam\u200bmer", "scammer"),
        ("scam\u200dmer", "scammer"),
        ("\ufeffscam\ufeffmer", "scammer"),
        ("scam\u00admer", "scammer"),  # soft hyphen, left by hyphenation in pages
        ("\u202escammer", "scammer"),  # bidi override
        ("scam\ufe0fmer", "scammer"),  # variation selector
        ("\ufb01sh", "fish"),  # ligature
        ("\u1d2c\u1d2e", "ab"),  # modifier capitals: NFKC first, then lower case
        ("e\u034f\u0301x", "\u00e9x"),  # without the grapheme joiner the accent composes
        ("Stra\u00dfe", "stra\u00dfe"),  # str.lower, not casefold: the existing rule
        ("\u0441cammer", "\u0441cammer"),  # Cyrillic es: a confusable, not folded
    ],
)
def test_handles_fold_compatibility_forms(raw: str, expected: str) -> None:
    assert canonical_handle(raw) == expected
    assert canonical_handle(expected) == expected
    target = canonical_target("platform_account", {"handle": raw})
    assert (target.key, target.canonical) == ("handle:" + expected, "@" + expected)
    payment = canonical_target("payment_handle", {"provider": "paypal", "handle": raw})
    assert payment.key == "paypal:" + expected


def test_the_finding_fullwidth_and_plain_are_one_target() -> None:
    assert canonical_handle(fullwidth("@scammer")) == canonical_handle("@scammer")
    assert canonical_payment_handle(fullwidth("PayPal"), fullwidth("@scammer")) == (
        canonical_payment_handle("paypal", "@scammer")
    )
    assert canonical_payment_handle("cashapp", fullwidth("$ScamGuy")) == "cashapp:scamguy"
    link = "https://paypal.me/Scam%E2%80%8BGuy/10"  # a U+200B inside, percent-encoded
    assert canonical_payment_handle("paypal", link) == "paypal:scamguy"


def test_account_ids_fold_but_keep_their_case() -> None:
    assert canonical_account_id(fullwidth("UCxYz-AbC")) == "UCxYz-AbC"
    assert canonical_account_id("1234\u200b5678") == "12345678"
    target = canonical_target("platform_account", {"account_id": fullwidth("1234567890")})
    assert target.key == "id:1234567890"


@pytest.mark.parametrize(
    ("call", "raw", "code"),
    [
        (canonical_handle, fullwidth("@"), "handle-empty"),
        (canonical_handle, "\u200b\u200d\ufeff", "handle-empty"),
        (canonical_handle, "@\u200b", "handle-empty"),
        (canonical_handle, fullwidth("@@scam"), "handle-invalid"),
        (canonical_handle, fullwidth("scam/guy"), "handle-invalid"),
        (canonical_handle, "scam\u3000guy", "handle-invalid"),  # ideographic space: a space
        (canonical_handle, "\u2100", "handle-invalid"),  # NFKC "a/c"
        (canonical_handle, "scam\u0600guy", "handle-invalid"),  # a format character that shows
        (canonical_account_id, "\u200b", "account-id-empty"),
        (canonical_account_id, fullwidth("12?34"), "account-id-invalid"),
    ],
)
def test_folded_rejections_keep_their_codes(call: object, raw: str, code: str) -> None:
    assert code_of(call, raw)[0] == code


@pytest.mark.parametrize(
    ("handle", "code"),
    [
        (fullwidth("$"), "payment-handle-empty"),
        ("\u200b@", "payment-handle-empty"),
        (fullwidth("$$scam"), "payment-handle-invalid"),
        ("\u2100", "payment-handle-invalid"),  # folds to "a/c": a bad handle, not a link
        (fullwidth("scam?x"), "payment-handle-invalid"),
        ("https://cash.app/$scam", "payment-provider-mismatch"),
    ],
)
def test_folded_payment_rejections_keep_their_codes(handle: str, code: str) -> None:
    assert code_of(canonical_payment_handle, "paypal", handle)[0] == code


def test_provider_names_fold_too() -> None:
    assert canonical_payment_handle("Pay\u200bPal", "x") == "paypal:x"
    assert canonical_payment_handle(fullwidth("Cash App"), "x") == "cashapp:x"


def test_folding_is_a_fixed_point_for_every_code_point() -> None:
    changed = []
    for point in range(sys.maxunicode + 1):
        if 0xD800 <= point <= 0xDFFF:
            continue
        for lower in (True, False):
            once = fold_identifier(chr(point), lower=lower)
            if fold_identifier(once, lower=lower) != once:
                changed.append((hex(point), lower))
    assert changed == []
    assert unicodedata.unidata_version  # the check runs against this Python's Unicode tables


HANDLE_TEXT = st.one_of(
    ANY_TEXT,
    st.lists(st.sampled_from([*"@$Scam_gu.y-1", *INVISIBLE, "\uff20", "\uff33"]), max_size=20).map(
        "".join
    ),
)


@SETTINGS
@given(raw=HANDLE_TEXT)
@example(raw="\u1d2c")
@example(raw="@\u200b@x")
def test_folded_handles_are_fixed_points(raw: str) -> None:
    handle = only_invalid_target(lambda: canonical_handle(raw))
    if handle is not None:
        assert canonical_handle(handle) == handle
    account = only_invalid_target(lambda: canonical_account_id(raw))
    if account is not None:
        assert canonical_account_id(account) == account
    key = only_invalid_target(lambda: canonical_payment_handle("paypal", raw))
    if key is not None:
        assert canonical_payment_handle("paypal", key.partition(":")[2]) == key


def outcome(call: object, *args: str) -> str:
    """Return what `call(*args)` gives: its key, or "refused: <code>"."""
    assert callable(call)
    try:
        return str(call(*args))
    except InvalidTarget as exc:
        return f"refused: {exc.code}"


@SETTINGS
@given(raw=st.text("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_.-", min_size=1, max_size=30))
@example(raw="ACCount.venmo.Com")  # a provider's host names no handle, written either way
@example(raw="www.PayPal.me")
@example(raw="x")
def test_fullwidth_and_invisible_variants_are_one_target(raw: str) -> None:
    plain = outcome(canonical_handle, raw)
    assert outcome(canonical_handle, fullwidth("@" + raw)) == plain
    assert outcome(canonical_handle, "\u200b".join(raw)) == plain
    for provider in ("venmo", "paypal"):
        plain_key = outcome(canonical_payment_handle, provider, raw)
        assert outcome(canonical_payment_handle, provider, fullwidth(raw)) == plain_key
        assert outcome(canonical_payment_handle, provider, "\u2060".join(raw)) == plain_key
