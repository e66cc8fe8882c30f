"""Properties of every canonicaliser: only InvalidTarget escapes, and outputs are fixed points."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import idna
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from fraudchannel.canonical import (
    REJECTION_CODES,
    InvalidTarget,
    canonical_crypto,
    canonical_email,
    canonical_handle,
    canonical_host,
    canonical_iban,
    canonical_payment_handle,
    canonical_phone,
    canonical_target,
    canonical_uk_bank_account,
    canonical_url,
    defang,
    registrable_domain,
)

SETTINGS = settings(max_examples=300)  # the rest from the profile (tests/conftest.py)

# Any text: every code point class including surrogates, NUL and controls, plus characters
# that mean something to the parsers, so that they show up often.
SPECIAL = [
    *"\x00\t\n\r\x7f\x85\xa0\u200b\u200d\ufeff%[](){}./\\@:#?&=+$-_ ",
    *("\ud800", "\udfff", "xn--", "[.]", "hxxp", "\uff10"),
]
ANY_TEXT = st.lists(
    st.one_of(st.characters(exclude_categories=()), st.sampled_from(SPECIAL)), max_size=60
).map("".join)
LABELS = st.one_of(
    st.sampled_from(
        ["www", "example", "xn--mlat-zra", "ümlat", "a_b", "-x-", "0x7f", "1", "255", "017",
         "pages", "dev", "com", "co", "uk", "ck", "ß", "ﬀ", "ᏣᎳᎩ", "💩", "xn--a", "[.]", "(.)",
         "", "%41", "%2e", "\uff25\uff38", "a\u200db", "4294967295"]
    ),
    st.text(st.characters(exclude_categories=()), max_size=6),
)  # fmt: skip
SEGMENTS = st.one_of(
    st.sampled_from(
        ["", ".", "..", "%2e", "%2E%2e", "%25", "%2525", "%3F", "%23", "%5C", "%2F", "a b", "é",
         "%ff", "[.]", "%5B.%5D", "\\", "@evil", "%00", "%0A", "(dot)", "%", "%%", "login.php"]
    ),
    st.text(max_size=8),
)  # fmt: skip
PARAMETERS = st.one_of(
    st.sampled_from(
        ["utm_source=x", "UTM_Medium=y", "fbclid=1", "gclid=2", "a=1", "b=%26", "c=%3D", "=x",
         "", "utm%5Fsource=z", "q=%23", "x", "d=%2526"]
    ),
    st.text(max_size=8),
)  # fmt: skip
URLS = st.builds(
    lambda pad, scheme, user, labels, port, segments, params, fragment: (
        pad + scheme + user + ".".join(labels) + port + "/" + "/".join(segments)
        + ("?" + "&".join(params) if params else "") + fragment + pad
    ),
    st.sampled_from(["", " ", "\t", "\n", "\u200b"]),
    st.sampled_from(
        ["", "http://", "https://", "HTTP://", "ftp://", "hxxps://", "hXXp[:]//", "//", "http:",
         "javascript:", "http:\\\\", "fxp://", "https//", "data:"]
    ),
    st.sampled_from(["", "user@", "bank.example@", "u:p@", "@", "a%40b@"]),
    st.lists(LABELS, min_size=1, max_size=5),
    st.sampled_from(["", ":80", ":443", ":8080", ":0", ":99999", ":", ":21"]),
    st.lists(SEGMENTS, max_size=5),
    st.lists(PARAMETERS, max_size=4),
    st.sampled_from(["", "#", "#frag", "#/a?b", "#%20"]),
)  # fmt: skip


T = TypeVar("T")


def only_invalid_target(call: Callable[[], T]) -> T | None:
    """Run `call`; return its result, or None when it raises InvalidTarget with a known code."""
    try:
        return call()
    except InvalidTarget as exc:
        error = exc
    assert error.code in REJECTION_CODES, error.code
    assert isinstance(error.detail, str)
    assert error.detail
    return None


@SETTINGS
@given(raw=st.one_of(ANY_TEXT, URLS))
@example(raw="http://1.1.1.]1")
@example(raw="http://[::1]x")
@example(raw="\ud800")
def test_url_functions_raise_only_invalid_target(raw: str) -> None:
    only_invalid_target(lambda: canonical_url(raw))
    only_invalid_target(lambda: canonical_host(raw))
    only_invalid_target(lambda: registrable_domain(raw))
    assert isinstance(defang(raw), str)


@SETTINGS
@given(raw=ANY_TEXT, other=ANY_TEXT)
def test_identifier_functions_raise_only_invalid_target(raw: str, other: str) -> None:
    only_invalid_target(lambda: canonical_phone(raw))
    only_invalid_target(lambda: canonical_phone(raw, other))
    only_invalid_target(lambda: canonical_email(raw))
    only_invalid_target(lambda: canonical_iban(raw))
    only_invalid_target(lambda: canonical_uk_bank_account(raw, other))
    only_invalid_target(lambda: canonical_handle(raw))
    only_invalid_target(lambda: canonical_crypto(raw))
    only_invalid_target(lambda: canonical_crypto(raw, other))
    only_invalid_target(lambda: canonical_payment_handle(raw, other))


FIELDS = {
    "url": ["url"],
    "platform_account": ["handle", "account_id", "profile_url"],
    "phone": ["number", "region"],
    "email": ["address"],
    "uk_bank_account": ["sort_code", "account_number"],
    "iban": ["iban"],
    "crypto_wallet": ["chain", "address"],
    "payment_handle": ["provider", "handle"],
    "nonsense": ["x"],
}


@SETTINGS
@given(kind=st.sampled_from(sorted(FIELDS)), data=st.data())
def test_dispatcher_raises_only_invalid_target(kind: str, data: st.DataObject) -> None:
    fields = {
        name: data.draw(st.one_of(st.none(), ANY_TEXT, URLS), label=name) for name in FIELDS[kind]
    }
    target = only_invalid_target(lambda: canonical_target(kind, fields))
    if target is not None:
        assert canonical_target(kind, fields) == target  # deterministic


@SETTINGS
@given(raw=st.one_of(URLS, ANY_TEXT))
@example(raw="http://a/%5B%5B.%5D%5D")
@example(raw="http://a/?q=%26utm_source%3D1")
@example(raw="http://a/x%3Futm_source=1")
@example(raw="http://0x7f.1../")
def test_urls_are_fixed_points(raw: str) -> None:
    first = only_invalid_target(lambda: canonical_url(raw))
    if first is None:
        return
    again = canonical_url(first.canonical)
    assert (again.kind, again.key, again.canonical) == (first.kind, first.key, first.canonical)
    assert again.registrable_domain == first.registrable_domain


@SETTINGS
@given(raw=st.one_of(st.lists(LABELS, min_size=1, max_size=5).map(".".join), ANY_TEXT))
def test_hosts_are_fixed_points(raw: str) -> None:
    host = only_invalid_target(lambda: canonical_host(raw))
    if host is None:
        return
    assert canonical_host(str(host)) == host


PHONES = st.one_of(
    st.integers(0, 999).map(lambda n: f"07700 900{n:03d}"),
    st.integers(0, 999).map(lambda n: f"+44 (0)20 7946 0{n:03d}"),
    st.from_regex(r"\A\+?[0-9 ()\-.]{3,20}\Z"),
    ANY_TEXT,
)


@SETTINGS
@given(raw=PHONES, region=st.sampled_from(["GB", "US", "DE", "FR", "IN", "gb", "UK"]))
def test_phones_are_fixed_points(raw: str, region: str) -> None:
    number = only_invalid_target(lambda: canonical_phone(raw, region))
    if number is None:
        return
    assert canonical_phone(str(number), region) == number
    assert canonical_phone(str(number), "GB") == number  # E.164 ignores the region


def _gb_iban(bank: str, digits: str) -> str:
    bban = bank + digits
    numeric = "".join(str(int(c, 36)) for c in bban + "GB00")
    return f"GB{98 - int(numeric) % 97:02d}{bban}"


IBANS = st.one_of(
    st.builds(
        _gb_iban,
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=4),
        st.text("0123456789", min_size=14, max_size=14),
    ),
    ANY_TEXT,
)


@SETTINGS
@given(iban=IBANS, spaced=st.booleans(), lower=st.booleans())
def test_ibans_are_fixed_points(iban: str, spaced: bool, lower: bool) -> None:
    raw = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if spaced else iban
    raw = raw.lower() if lower else raw
    canonical = only_invalid_target(lambda: canonical_iban(raw))
    if canonical is None:
        return
    assert canonical_iban(str(canonical)) == canonical
    if iban.startswith("GB") and len(iban) == 22 and iban[2:].isalnum():
        target = canonical_target("iban", {"iban": raw})
        assert target.key == canonical_uk_bank_account(iban[8:14], iban[14:])


@SETTINGS
@given(raw=st.one_of(st.emails(), ANY_TEXT), upper=st.booleans())
def test_emails_are_fixed_points(raw: str, upper: bool) -> None:
    raw = raw.upper() if upper else raw
    address = only_invalid_target(lambda: canonical_email(raw))
    if address is None:
        return
    assert canonical_email(str(address)) == address


@SETTINGS
@given(raw=ANY_TEXT)
def test_handles_are_fixed_points(raw: str) -> None:
    handle = only_invalid_target(lambda: canonical_handle(raw))
    if handle is None:
        return
    assert canonical_handle(str(handle)) == handle


VALID_ADDRESSES = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xde709f2102306220921060314715629080e2fb77",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
    "1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu",
    "3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC",
    "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
    "TPcDNYz4AxCaLCY2Xx4i95jGYwCjUrxg5r",
    "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh",
    "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5",
    "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
    "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ",
    "So11111111111111111111111111111111111111112",
    "Ae2tdPwUPEZGpHCMV2L7iMY4vUGX6Pzx5U2YgQD1wK7ZUzKVmgg5RRmp2dF",
    "bnb160943aa8wjfwzq52snqe3dpzq3mgcxlfjm2d7y",
]
HINTS = st.sampled_from(
    [None, "other", "ethereum", "bitcoin", "bitcoin_cash", "polkadot", "kusama", "litecoin"]
)


@SETTINGS
@given(
    address=st.one_of(st.sampled_from(VALID_ADDRESSES), ANY_TEXT),
    hint=HINTS,
    form=st.sampled_from([str, str.lower, str.upper, str.swapcase, lambda s: f" {s}\n"]),
)
def test_crypto_keys_are_fixed_points(
    address: str, hint: str | None, form: Callable[[str], str]
) -> None:
    key = only_invalid_target(lambda: canonical_crypto(form(address), hint))
    if key is None:
        return
    assert canonical_crypto(str(key)) == key
    assert canonical_crypto(str(key), hint) == key


@SETTINGS
@given(
    address=st.sampled_from([a for a in VALID_ADDRESSES if a[:3] in ("bc1", "bnb", "bit")]),
    data=st.data(),
)
def test_any_single_substitution_in_bech32_is_caught(address: str, data: st.DataObject) -> None:
    """Bech32/CashAddr BCH codes detect every error in up to 4 characters (BIP-173)."""
    start = address.find("1") + 1 if not address.startswith("bitcoincash:") else 12
    index = data.draw(st.integers(start, len(address) - 1))
    char = data.draw(st.sampled_from("qpzry9x8gf2tvdw0s3jn54khce6mua7l"))
    assume(address[index] != char)
    with pytest.raises(InvalidTarget):
        canonical_crypto(address[:index] + char + address[index + 1 :])


@SETTINGS
@given(index=st.integers(2, 41))
def test_any_single_case_flip_in_eip55_is_caught(index: int) -> None:
    address = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assume(address[index].isalpha())
    flipped = address[:index] + address[index].swapcase() + address[index + 1 :]
    with pytest.raises(InvalidTarget) as info:
        canonical_crypto(flipped)
    assert info.value.code == "crypto-eip55-checksum"


UNICODE_LABELS = st.text(
    st.characters(categories=("Ll", "Lu", "Lo", "Nd", "Mn", "Pd")), min_size=1, max_size=10
)


@SETTINGS
@given(labels=st.lists(UNICODE_LABELS, min_size=1, max_size=4), tld=st.sampled_from(["com", "рф"]))
@example(labels=["myetherwall\u0435t"], tld="com")  # U+0435 CYRILLIC IE (real blocklist entry)
@example(labels=["ᏣᎳᎩ"], tld="com")  # Cherokee: IDNA 2003 differs, UTS #46 does not
def test_hosts_match_idna_uts46(labels: list[str], tld: str) -> None:
    """Where `idna.encode(host, uts46=True)` accepts a host, canonical_host gives its result."""
    host = ".".join([*labels, tld])
    try:
        expected = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return
    assert canonical_host(host) == expected
