"""Phone, e-mail, handle, payment handle and the target dispatcher (banks: test_canonical_banks)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

import fraudchannel.canonical as canonical
from fraudchannel.canonical import (
    CanonicalTarget,
    InvalidTarget,
    canonical_email,
    canonical_handle,
    canonical_payment_handle,
    canonical_phone,
    canonical_target,
)
from tests.unit.rejections import code_of


# Ofcom "numbers for drama" (https://www.ofcom.org.uk/phones-and-broadband/phone-numbers/numbers-for-drama):
# possible but not valid in libphonenumber, and they must be accepted.
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("07700 900000", "+447700900000"),
        ("07700 900999", "+447700900999"),
        ("07700900123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
        ("0044 7700 900123", "+447700900123"),
        ("+44 (0) 7700 900123", "+447700900123"),
        ("(07700) 900-123", "+447700900123"),
        ("020 7946 0000", "+442079460000"),
        ("020 7946 0999", "+442079460999"),
        ("+44 (0)20 7946 0123", "+442079460123"),
        ("+44 20 7946 0123", "+442079460123"),
        ("tel:+44-20-7946-0123", "+442079460123"),
        ("0161 496 0000", "+441614960000"),  # Manchester drama range
        ("0121 496 0999", "+441214960999"),  # Birmingham drama range
        ("0808 157 0123", "+448081570123"),  # freephone drama range
        ("+44 20 7946 0123 ext. 12", "+442079460123"),  # E.164 has no extension
        ("\u00a0+44 20 7946 0123\u200b", "+442079460123"),
    ],
)
def test_uk_phone_numbers(raw: str, expected: str) -> None:
    assert canonical_phone(raw) == expected
    assert canonical_phone(expected) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(202) 555-0143", "US", "+12025550143"),
        ("+1 202 555 0143", "GB", "+12025550143"),  # the country code wins over the region
        ("07700 900123", "gb", "+447700900123"),
        ("07700 900123", "UK", "+447700900123"),
        ("030 901820", "DE", "+4930901820"),
        ("06 12 34 56 78", "FR", "+33612345678"),
    ],
)
def test_phone_regions(raw: str, region: str, expected: str) -> None:
    assert canonical_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "code"),
    [
        ("", "GB", "phone-empty"),
        ("hello", "GB", "phone-unparseable"),
        ("+", "GB", "phone-unparseable"),
        ("12", "GB", "phone-not-possible"),
        ("7946 0123", "GB", "phone-not-possible"),  # local only: no area code
        ("+44 20 7946 0123 4567 89", "GB", "phone-not-possible"),
        ("1" * 65, "GB", "phone-not-possible"),
        ("07700 900123", "XX", "phone-region-unknown"),
        ("07700 900123", "", "phone-region-unknown"),
        # Found by hypothesis: "000000" in DE printed as "+4900000", which reads back as
        # "+490000": a key that is not a fixed point would split one target in two.
        ("000000", "DE", "phone-ambiguous"),
        ("+49000000", "GB", "phone-ambiguous"),
        ("+490000000", "US", "phone-ambiguous"),
    ],
)
def test_phone_rejections(raw: str, region: str, code: str) -> None:
    assert code_of(canonical_phone, raw, region) == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("John.Smith@Example.COM", "john.smith@example.com"),
        ("user@ümlat.com", "user@xn--mlat-zra.com"),
        ("user@XN--MLAT-ZRA.com", "user@xn--mlat-zra.com"),
        ("Ünïcödé@example.com", "ünïcödé@example.com"),
        ("mailto:Scam.Desk@Evil-Mail.co.uk", "scam.desk@evil-mail.co.uk"),
        ("scammer[at]evil-mail[.]com", "scammer@evil-mail.com"),
        ("scammer[@]evil-mail(.)com", "scammer@evil-mail.com"),
        ("user+tag@gmail.com", "user+tag@gmail.com"),  # provider tricks are kept
        ("  a.b@example.org\n", "a.b@example.org"),
    ],
)
def test_email(raw: str, expected: str) -> None:
    assert canonical_email(raw) == expected
    assert canonical_email(expected) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "email-empty"),
        ("mailto:", "email-empty"),
        ("not-an-email", "email-invalid"),
        ("a@b", "email-invalid"),
        ("user@@example.com", "email-invalid"),
        ('"quoted"@example.com', "email-invalid"),
        ("user@[1.2.3.4]", "email-invalid"),
        ("John <john@example.com>", "email-invalid"),
        ("user@exa_mple.com", "email-invalid"),
        ("user@example.com.", "email-invalid"),
        ("x" * 321, "email-invalid"),
        ("user[[@]]example.com", "email-defang-broken"),
    ],
)
def test_email_rejections(raw: str, code: str) -> None:
    assert code_of(canonical_email, raw) == code


def test_email_target_has_registrable_domain() -> None:
    target = canonical_target("email", {"address": "Help@Support.Bank-Secure.co.uk"})
    assert target == CanonicalTarget(
        "email", "help@support.bank-secure.co.uk", "help@support.bank-secure.co.uk",
        "bank-secure.co.uk",
    )  # fmt: skip


# SWIFT IBAN registry examples (ISO 13616).
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@Scam_Support", "scam_support"),
        (" @ScamGuy ", "scamguy"),
        ("ScamGuy", "scamguy"),
        ("user@Mastodon.Social", "user@mastodon.social"),
        ("Cafe\u0301", "café"),  # NFC
        ("ÉCOLE", "école"),
    ],
)
def test_handles(raw: str, expected: str) -> None:
    assert canonical_handle(raw) == expected
    assert canonical_handle(expected) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "handle-empty"),
        ("@", "handle-empty"),
        ("\u200b", "handle-empty"),
        ("@@scam", "handle-invalid"),
        ("scam guy", "handle-invalid"),
        ("https://instagram.com/scam", "handle-invalid"),
        ("scam\x00guy", "handle-invalid"),
        ("x" * 101, "handle-invalid"),
    ],
)
def test_handle_rejections(raw: str, code: str) -> None:
    assert code_of(canonical_handle, raw) == code


@pytest.mark.parametrize(
    ("provider", "handle", "expected"),
    [
        ("paypal", "ScamGuy", "paypal:scamguy"),
        ("PayPal.me", "@ScamGuy", "paypal:scamguy"),
        ("paypal", "https://www.paypal.me/ScamGuy/10", "paypal:scamguy"),
        ("paypal", "paypal.com/paypalme/ScamGuy", "paypal:scamguy"),
        ("Cash App", "$ScamGuy", "cashapp:scamguy"),
        ("cashapp", "https://cash.app/$ScamGuy", "cashapp:scamguy"),
        ("revolut", "revolut.me/scamguy", "revolut:scamguy"),
        ("Revolut.me", "@ScamGuy", "revolut:scamguy"),
        ("monzo", "https://monzo.me/ScamGuy/25.00", "monzo:scamguy"),
        ("venmo", "@Scam-Guy", "venmo:scam-guy"),
        ("venmo", "https://venmo.com/u/Scam-Guy", "venmo:scam-guy"),
        ("venmo", "https://venmo.com/U/Scam-Guy", "venmo:scam-guy"),
        ("venmo", "https://account.venmo.com/u/Scam-Guy", "venmo:scam-guy"),
        # The key given back as the handle is the same target (break-it finding: it was
        # "paypal:paypal:scamguy").
        ("paypal", "paypal:ScamGuy", "paypal:scamguy"),
        ("paypal", "https://paypal.me/paypal:ScamGuy", "paypal:scamguy"),
        ("paypal", "https://www.paypal.me/ScamGuy/10EUR", "paypal:scamguy"),
        ("paypal", "https://www.paypal.com/paypalme/ScamGuy/12.50", "paypal:scamguy"),
        ("cashapp", "https://cash.app/$ScamGuy/20", "cashapp:scamguy"),
        ("Wise", "@scam", "wise:scam"),
    ],
)
def test_payment_handles(provider: str, handle: str, expected: str) -> None:
    assert canonical_payment_handle(provider, handle) == expected
    assert canonical_payment_handle(provider, expected) == expected  # a fixed point
    target = canonical_target("payment_handle", {"provider": provider, "handle": handle})
    assert (target.kind, target.key) == ("payment_handle", expected)


@pytest.mark.parametrize(
    ("provider", "handle", "code"),
    [
        ("", "scam", "payment-provider-invalid"),
        ("pay pal!", "scam", "payment-provider-invalid"),
        ("paypal", "", "payment-handle-empty"),
        ("paypal", "$", "payment-handle-empty"),
        ("paypal", "@@scam", "payment-handle-invalid"),
        ("paypal", "scam guy", "payment-handle-invalid"),
        ("paypal", "https://cash.app/$scam", "payment-provider-mismatch"),
        ("paypal", "https://evil.example/scam", "payment-provider-mismatch"),
        ("paypal", "https://paypal.me/", "payment-handle-empty"),
        ("paypal", "paypal.me", "payment-handle-empty"),
        ("paypal", "www.PayPal.me", "payment-handle-empty"),
        # Pages of a provider's site that name no handle: refused, not merged by a path segment
        # (found by a break-it review: these all became "venmo:code", "paypal:payment", ...).
        ("venmo", "https://venmo.com/code?user_id=1111111111", "payment-link-unrecognised"),
        ("venmo", "venmo.com/signin", "payment-link-unrecognised"),
        ("paypal", "https://www.paypal.com/ncp/payment/ABCDEF123", "payment-link-unrecognised"),
        ("paypal", "paypal.com/pools/c/AAA", "payment-link-unrecognised"),
        ("paypal", "paypal.com/gb/signin", "payment-link-unrecognised"),
        ("paypal", "paypal.me/ScamGuy/10/extra", "payment-link-unrecognised"),
        ("cashapp", "cash.app/qr/ScamGuy", "payment-link-unrecognised"),
    ],
)
def test_payment_handle_rejections(provider: str, handle: str, code: str) -> None:
    assert code_of(canonical_payment_handle, provider, handle) == code


def test_platform_account_prefers_the_stable_id() -> None:
    target = canonical_target(
        "platform_account",
        {
            "handle": "@Scam_Guy",
            "account_id": " 1234567890 ",
            "profile_url": "instagram.com/scam_guy",
        },
    )
    assert (target.kind, target.key, target.canonical) == (
        "platform_account",
        "id:1234567890",
        "id:1234567890",
    )
    assert target.evidence == {"handle": "scam_guy", "profile_url": "http://instagram.com/scam_guy"}


def test_platform_account_by_handle_or_profile_url() -> None:
    by_handle = canonical_target("platform_account", {"handle": "@Scam_Guy", "account_id": None})
    assert (by_handle.key, by_handle.canonical) == ("handle:scam_guy", "@scam_guy")
    by_url = canonical_target(
        "platform_account", {"profile_url": "https://www.instagram.com/scam_guy/?igshid=abc#x"}
    )
    assert by_url.key == "www.instagram.com/scam_guy/"
    assert by_url.canonical == "https://www.instagram.com/scam_guy/"
    assert by_url.registrable_domain is None


def test_account_ids_keep_their_case() -> None:
    target = canonical_target("platform_account", {"account_id": "UCxYz-AbC"})
    assert target.key == "id:UCxYz-AbC"


@pytest.mark.parametrize(
    ("kind", "fields", "code"),
    [
        ("domain", {"url": "x.example"}, "target-kind-unknown"),
        ("url", {}, "target-field-missing"),
        ("url", {"url": ""}, "target-field-missing"),
        ("url", {"url": None}, "target-field-missing"),
        ("url", {"url": "x.example", "note": "hi"}, "target-field-unknown"),
        ("url", {"url": 5}, "target-field-type"),
        ("platform_account", {"handle": None}, "target-field-missing"),
        ("uk_bank_account", {"sort_code": "601613"}, "target-field-missing"),
        ("payment_handle", {"handle": "x"}, "target-field-missing"),
        ("phone", {"number": "07700 900123", "region": "ZZ"}, "phone-region-unknown"),
        ("crypto_wallet", {"address": "0x00", "chain": "ethereum"}, "crypto-unknown-format"),
    ],
)
def test_dispatcher_rejections(kind: str, fields: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidTarget) as info:
        canonical_target(kind, fields)  # type: ignore[arg-type]
    assert info.value.code == code


def test_dispatcher_kinds() -> None:
    phone = canonical_target("phone", {"number": "07700 900123 ext 5"})
    assert (phone.kind, phone.key, dict(phone.evidence)) == (
        "phone",
        "+447700900123",
        {"extension": "5"},
    )
    us = canonical_target("phone", {"number": "(202) 555-0143", "region": "US"})
    assert us.key == "+12025550143"
    url = canonical_target("url", {"url": "hxxps://bins-mailer[.]top:443/info"})
    assert (url.kind, url.key, url.canonical) == (
        "url",
        "bins-mailer.top/info",
        "https://bins-mailer.top/info",
    )
    wallet = canonical_target(
        "crypto_wallet", {"chain": "bsc", "address": "0x00e01a648ff41346cdeb873182383333d2184dd1"}
    )
    assert wallet.key == "evm:0x00e01a648ff41346cdeb873182383333d2184dd1"
    assert wallet.canonical == "evm:0x00e01A648Ff41346CDeB873182383333D2184dd1"  # EIP-55 shown
    assert wallet.evidence == {"chain": "bsc"}
    tron = canonical_target("crypto_wallet", {"address": "TPcDNYz4AxCaLCY2Xx4i95jGYwCjUrxg5r"})
    assert (tron.key, tron.canonical, dict(tron.evidence)) == (
        "tron:TPcDNYz4AxCaLCY2Xx4i95jGYwCjUrxg5r", "tron:TPcDNYz4AxCaLCY2Xx4i95jGYwCjUrxg5r", {}
    )  # fmt: skip


def test_rejection_codes_are_all_listed() -> None:
    """Every code-like literal in the package is listed, and every listed code occurs."""
    source = "\n".join(
        path.read_text(encoding="utf-8")
        for path in Path(canonical.__file__).parent.glob("*.py")
        if path.name != "__init__.py"
    )
    prefixes = "url|phone|email|iban|ukacct|handle|account-id|payment|crypto|target"
    found = set(re.findall(rf'"((?:{prefixes})-[a-z0-9-]+)"', source))
    assert found >= canonical.REJECTION_CODES
    assert found - canonical.REJECTION_CODES == {"payment-handle"}  # a check_token() prefix


def test_invalid_target_shape() -> None:
    error = InvalidTarget("iban-checksum", "GB28...: fails the mod 97 check.")
    assert (error.code, error.detail) == ("iban-checksum", "GB28...: fails the mod 97 check.")
    assert isinstance(error, ValueError)
    assert str(error) == "iban-checksum: GB28...: fails the mod 97 check."
    copied = copy.deepcopy(error)  # __reduce__, as pickling across processes uses
    assert (copied.code, copied.detail) == (error.code, error.detail)


@pytest.mark.parametrize(
    ("handle", "link"),
    [
        ("https://www.paypal.me/ScamGuy/10", "https://www.paypal.me/ScamGuy/10"),
        ("  paypal.me/ScamGuy/25.50#pay ", "http://paypal.me/ScamGuy/25.50"),
        ("@ScamGuy", None),
    ],
)
def test_a_payment_link_is_kept_as_evidence(handle: str, link: str | None) -> None:
    target = canonical_target("payment_handle", {"provider": "paypal", "handle": handle})
    assert target.key == "paypal:scamguy"
    assert dict(target.evidence) == ({"link": link} if link else {})
