"""Canonicalise one report target of any kind: the single entry point of the ingest service."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fraudchannel.canonical.accounts import (
    canonical_email,
    canonical_iban,
    canonical_uk_bank_account,
    phone_parts,
    uk_account_from_iban,
)
from fraudchannel.canonical.crypto import EVM_CHAINS, canonical_crypto, evm_display
from fraudchannel.canonical.defang import STRIP_CHARS
from fraudchannel.canonical.errors import InvalidTarget, quote
from fraudchannel.canonical.host import domain_registrable
from fraudchannel.canonical.payments import canonical_payment_handle, platform_account
from fraudchannel.canonical.target import CanonicalTarget
from fraudchannel.canonical.url import canonical_url

Fields = Mapping[str, str | None]

# Fields each kind takes: (required, optional).
FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "url": (frozenset({"url"}), frozenset()),
    "platform_account": (frozenset(), frozenset({"handle", "account_id", "profile_url"})),
    "phone": (frozenset({"number"}), frozenset({"region"})),
    "email": (frozenset({"address"}), frozenset()),
    "uk_bank_account": (frozenset({"sort_code", "account_number"}), frozenset()),
    "iban": (frozenset({"iban"}), frozenset()),
    "crypto_wallet": (frozenset({"address"}), frozenset({"chain"})),
    "payment_handle": (frozenset({"provider", "handle"}), frozenset()),
}


def canonical_target(kind: str, fields: Fields) -> CanonicalTarget:
    """Return the canonical target of one report item's `target` (DESIGN: report schema v1).

    kind and fields: url {url}; platform_account {handle?, account_id?, profile_url?} (one at
    least); phone {number, region? = "GB"}; email {address}; uk_bank_account {sort_code,
    account_number}; iban {iban}; crypto_wallet {address, chain?}; payment_handle {provider,
    handle}. Empty strings count as absent.

    A GB IBAN is the same target as its sort code and account number: kind "uk_bank_account",
    key "SSSSSS-AAAAAAAA", canonical the IBAN, evidence {"iban": ...}.

    Raises InvalidTarget: "target-kind-unknown", "target-field-missing", "target-field-unknown",
    "target-field-type", or the rejection of the kind's canonicaliser.
    """
    spec = FIELDS.get(kind)
    if spec is None:
        raise InvalidTarget("target-kind-unknown", f"Unknown target kind {quote(str(kind), 30)}.")
    values = _fields(kind, fields, *spec)
    return _BUILDERS[kind](values)


def _fields(
    kind: str, fields: Fields, required: frozenset[str], optional: frozenset[str]
) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in fields.items():
        if value is None or value == "":
            continue
        if name not in required and name not in optional:
            detail = f"{kind} has no field {quote(str(name), 30)}."
            raise InvalidTarget("target-field-unknown", detail)
        if not isinstance(value, str):
            raise InvalidTarget("target-field-type", f"{kind}.{name} must be a string.")
        values[name] = value
    missing = sorted(required - values.keys())
    if missing:
        raise InvalidTarget("target-field-missing", f"{kind} needs {', '.join(missing)}.")
    return values


def _url(values: dict[str, str]) -> CanonicalTarget:
    return canonical_url(values["url"])


def _platform_account(values: dict[str, str]) -> CanonicalTarget:
    return platform_account(
        values.get("handle"), values.get("account_id"), values.get("profile_url")
    )


def _phone(values: dict[str, str]) -> CanonicalTarget:
    number, extension = phone_parts(values["number"], values.get("region", "GB"))
    evidence = {"extension": extension} if extension else {}
    return CanonicalTarget("phone", number, number, None, evidence)


def _email(values: dict[str, str]) -> CanonicalTarget:
    address = canonical_email(values["address"])
    domain = address.rpartition("@")[2]
    return CanonicalTarget("email", address, address, domain_registrable(domain))


def _uk_bank_account(values: dict[str, str]) -> CanonicalTarget:
    key = canonical_uk_bank_account(values["sort_code"], values["account_number"])
    shown = f"{key[0:2]}-{key[2:4]}-{key[4:6]} {key[7:]}"
    return CanonicalTarget("uk_bank_account", key, shown)


def _iban(values: dict[str, str]) -> CanonicalTarget:
    iban = canonical_iban(values["iban"])
    uk_key = uk_account_from_iban(iban)
    if uk_key is not None:
        return CanonicalTarget("uk_bank_account", uk_key, iban, None, {"iban": iban})
    return CanonicalTarget("iban", iban, iban)


def _crypto_wallet(values: dict[str, str]) -> CanonicalTarget:
    chain = values.get("chain")
    key = canonical_crypto(values["address"], chain)
    shown = evm_display(key) if key.startswith("evm:") else key
    hint = (chain or "").strip().lower()
    evidence = {"chain": hint} if hint in EVM_CHAINS and hint != "evm" else {}
    return CanonicalTarget("crypto_wallet", key, shown, None, evidence)


def _payment_handle(values: dict[str, str]) -> CanonicalTarget:
    key = canonical_payment_handle(values["provider"], values["handle"])
    # A link says more than its handle ("paypal.me/name/10" asks for 10): kept, canonical.
    text = values["handle"].strip(STRIP_CHARS)
    evidence = {"link": canonical_url(text).canonical} if "/" in text else {}
    return CanonicalTarget("payment_handle", key, key, None, evidence)


_BUILDERS: dict[str, Callable[[dict[str, str]], CanonicalTarget]] = {
    "url": _url,
    "platform_account": _platform_account,
    "phone": _phone,
    "email": _email,
    "uk_bank_account": _uk_bank_account,
    "iban": _iban,
    "crypto_wallet": _crypto_wallet,
    "payment_handle": _payment_handle,
}
