"""Properties the other canonical tests leave out, for accounts and wallets: spellings of one
IBAN, UK account, phone, handle, payment handle or wallet share a key, and distinct ones keep
apart. URLs and e-mail: test_canonical_equivalences.py."""

from __future__ import annotations

import base58
import phonenumbers
from hypothesis import assume, given
from hypothesis import strategies as st

from fraudchannel.canonical import (
    CHAINS,
    canonical_crypto,
    canonical_handle,
    canonical_iban,
    canonical_payment_handle,
    canonical_phone,
    canonical_target,
    canonical_uk_bank_account,
    canonical_url,
    codecs,
)
from fraudchannel.canonical.accounts import canonical_account_id
from fraudchannel.canonical.crypto import EVM_CHAINS
from tests.unit.test_canonical_properties import (
    ANY_TEXT,
    SETTINGS,
    VALID_ADDRESSES,
    _gb_iban,
    only_invalid_target,
)

# -- IBAN and UK bank accounts ------------------------------------------------------------------

GB_IBANS = st.builds(
    _gb_iban,
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=4),
    st.text("0123456789", min_size=14, max_size=14),
)


@SETTINGS
@given(iban=GB_IBANS, sep=st.sampled_from([" ", "-", "\xa0", "  ", "\u2009"]), data=st.data())
def test_iban_spellings_share_a_key(iban: str, sep: str, data: st.DataObject) -> None:
    """ISO 13616-1: paper format, case, the "IBAN" label and separators do not matter; a GB
    IBAN is the same target as its sort code and account number, however they are written."""
    key = canonical_iban(iban)
    paper = sep.join(iban[i : i + 4] for i in range(0, len(iban), 4))
    label = data.draw(st.sampled_from(["", "IBAN ", "iban:", "IBAN: "]))
    for variant in (paper, paper.lower(), label + paper, "\u200b" + iban + "\n"):
        assert canonical_iban(variant) == key, variant
    target = canonical_target("iban", {"iban": label + paper})
    code, number = iban[8:14], iban[14:]
    dashed = f"{code[:2]}-{code[2:4]}-{code[4:]}"
    spaced = f"{code[:2]} {code[2:4]} {code[4:]}"
    for sort_code in (code, dashed, spaced):
        account = canonical_target(
            "uk_bank_account", {"sort_code": sort_code, "account_number": number}
        )
        assert (account.kind, account.key) == (target.kind, target.key)
    assert target.key == canonical_uk_bank_account(code, number)
    again = canonical_target("iban", {"iban": target.canonical})
    assert (again.kind, again.key) == (target.kind, target.key)


@SETTINGS
@given(a=GB_IBANS, b=GB_IBANS)
def test_distinct_ibans_keep_apart(a: str, b: str) -> None:
    """Two GB IBANs are one target only when sort code and account number agree: the bank code
    (the BIC's first four letters) follows from the sort code (dispatch docstring)."""
    assume(a != b)
    assert canonical_iban(a) != canonical_iban(b)
    assume(a[8:] != b[8:])
    assert canonical_target("iban", {"iban": a}).key != canonical_target("iban", {"iban": b}).key


@SETTINGS
@given(
    number=st.text("0123456789", min_size=6, max_size=8),
    code=st.text("0123456789", min_size=6, max_size=6),
)
def test_short_uk_account_numbers_are_zero_padded(number: str, code: str) -> None:
    key = canonical_uk_bank_account(code, number)
    assert key == code + "-" + number.zfill(8)
    assert canonical_uk_bank_account(key[:6], key[7:]) == key


# -- phones -------------------------------------------------------------------------------------


def _fullwidth_digits(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


@SETTINGS
@given(rest=st.integers(0, 999), kind=st.sampled_from(["7700 900", "20 7946 0", "161 496 0"]))
def test_phone_spellings_share_a_key(rest: int, kind: str) -> None:
    """E.164 whatever the formatting: national, +44, 0044, "(0)", separators, fullwidth."""
    national = "0" + kind + f"{rest:03d}"
    key = canonical_phone(national)
    digits = national.replace(" ", "")
    for variant in (
        "+44 " + national[1:],
        "+44 (0)" + national[1:],
        "0044 " + national[1:],
        "+44-" + digits[1:4] + "-" + digits[4:],
        "+44." + digits[1:],
        "tel:+44" + digits[1:],
        _fullwidth_digits(national),
        " " + national + "\u200b",
    ):
        assert canonical_phone(variant) == key, variant
        if variant.startswith(("+", "tel:")):  # international: the region does not matter
            assert canonical_phone(variant, "US") == key, variant
    assert canonical_phone(key, "FR") == key
    assert phonenumbers.is_possible_number(phonenumbers.parse(key, None))


# -- handles, account ids, payment handles ------------------------------------------------------


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


HANDLE_TEXT = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9_.\-]{1,20}\Z"),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=10),
    ANY_TEXT,
)


@SETTINGS
@given(raw=HANDLE_TEXT)
def test_handle_spellings_share_a_key(raw: str) -> None:
    handle = only_invalid_target(lambda: canonical_handle(raw))
    if handle is None:
        return
    for variant in (
        "@" + handle,
        _fullwidth("@" + handle),
        handle[:1] + "\u200b" + handle[1:],
        "\u00ad" + handle + "\ufeff",
        " @" + handle + " ",
    ):
        assert canonical_handle(variant) == handle, variant
    target = canonical_target("platform_account", {"handle": raw})
    assert target.key == "handle:" + handle
    again = canonical_target("platform_account", {"handle": target.canonical})
    assert again.key == target.key


@SETTINGS
@given(raw=HANDLE_TEXT)
def test_account_id_spellings_share_a_key(raw: str) -> None:
    account = only_invalid_target(lambda: canonical_account_id(raw))
    if account is None:
        return
    assert canonical_account_id(account) == account
    assert canonical_account_id(_fullwidth(account)) == account
    assert canonical_account_id(account + "\u200d") == account
    target = canonical_target("platform_account", {"account_id": raw, "handle": "x"})
    assert target.key == "id:" + account


LINKS = {
    "paypal": ("https://paypal.me/{}", "paypal.me/{}/10", "https://www.paypal.com/paypalme/{}"),
    "cashapp": ("https://cash.app/${}", "cash.me/${}"),
    "venmo": ("https://venmo.com/u/{}", "account.venmo.com/u/{}"),
    "revolut": ("revolut.me/{}",),
    "monzo": ("https://monzo.me/{}/5",),
}
PROVIDER_SPELLINGS = {
    "paypal": ("PayPal", "paypal.me", "PayPal.com", "\uff30\uff41\uff59\uff30\uff41\uff4c"),
    "cashapp": ("Cash App", "cash.me", "Square Cash"),
    "venmo": ("Venmo", "venmo.com"),
    "revolut": ("Revolut", "revolut.me"),
    "monzo": ("Monzo", "monzo.me"),
}


@SETTINGS
@given(
    provider=st.sampled_from(sorted(LINKS)),
    name=st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.\-]{0,19}\Z"),
    data=st.data(),
)
def test_payment_handle_spellings_share_a_key(
    provider: str, name: str, data: st.DataObject
) -> None:
    assume(name.strip(".") and not name.isdigit())
    key = canonical_payment_handle(provider, name)
    assert key == provider + ":" + name.lower()
    spelling = data.draw(st.sampled_from(PROVIDER_SPELLINGS[provider]))
    for variant in ("@" + name, "$" + name, _fullwidth("@" + name), key, name.upper()):
        assert canonical_payment_handle(spelling, variant) == key, variant
    for template in LINKS[provider]:
        link = template.format(name)
        assert canonical_payment_handle(spelling, link) == key, link
        target = canonical_target("payment_handle", {"provider": spelling, "handle": link})
        assert target.key == key
        assert dict(target.evidence) == {"link": canonical_url(link).canonical}


# -- crypto -------------------------------------------------------------------------------------

ADDRESSES = st.one_of(
    st.binary(min_size=20, max_size=20).map(lambda b: codecs.eip55(b.hex())),
    st.binary(min_size=20, max_size=20).map(
        lambda b: base58.b58encode_check(b"\x00" + b).decode("ascii")
    ),
    st.tuples(st.sampled_from([0, 2, 42]), st.binary(min_size=32, max_size=32)).map(
        lambda t: codecs.ss58_encode(*t)
    ),
    st.sampled_from(VALID_ADDRESSES),
)


@SETTINGS
@given(address=ADDRESSES, hint=st.sampled_from([None, "other", *sorted(EVM_CHAINS), "polkadot"]))
def test_crypto_spellings_share_a_key(address: str, hint: str | None) -> None:
    key = only_invalid_target(lambda: canonical_crypto(address, hint))
    if key is None:
        return
    chain, _, body = key.partition(":")
    assert canonical_crypto(" \u200b" + address + "\n", hint) == key
    assert canonical_crypto(key, hint) == key
    if chain == "evm":
        assert canonical_crypto(address.lower(), hint) == key
        assert canonical_crypto("0X" + address[2:].upper(), hint) == key
        for other in EVM_CHAINS:
            assert canonical_crypto(address, other) == key
    if body[:3] in ("bc1", "bnb") or body.startswith("bitcoincash"):
        assert canonical_crypto(address.upper(), hint) == key
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in address)
    assert canonical_crypto(fullwidth, hint) == key
    # a payment URI (BIP 21, EIP-681) names the same wallet, whatever its parameters
    if chain == "evm":
        assert canonical_crypto(f"ethereum:pay-{address}@137?value=1e18", hint) == key
    elif chain in CHAINS and chain != "bitcoin_cash" and hint in (None, chain):
        assert canonical_crypto(f"{chain}:{address}?amount=1&label=x", hint) == key
    target = canonical_target("crypto_wallet", {"address": address, "chain": hint})
    assert target.key == key
    shown = canonical_target("crypto_wallet", {"address": target.canonical, "chain": hint})
    assert shown.key == key


@SETTINGS
@given(a=st.binary(min_size=20, max_size=20), b=st.binary(min_size=20, max_size=20))
def test_distinct_wallets_keep_apart(a: bytes, b: bytes) -> None:
    assume(a != b)
    assert canonical_crypto("0x" + a.hex()) != canonical_crypto("0x" + b.hex())
    first = base58.b58encode_check(b"\x00" + a).decode("ascii")
    second = base58.b58encode_check(b"\x00" + b).decode("ascii")
    assert canonical_crypto(first) != canonical_crypto(second)
