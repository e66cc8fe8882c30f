"""Canonicalisation and dedup keys of report targets: pure functions, no I/O (DESIGN).

Every function raises only InvalidTarget on any text; canonical forms are fixed points
(canonicalising a canonical value returns it unchanged).
"""

from __future__ import annotations

from fraudchannel.canonical.accounts import (
    canonical_email,
    canonical_handle,
    canonical_iban,
    canonical_phone,
    canonical_uk_bank_account,
)
from fraudchannel.canonical.crypto import CHAINS, canonical_crypto
from fraudchannel.canonical.defang import defang
from fraudchannel.canonical.dispatch import canonical_target
from fraudchannel.canonical.errors import InvalidTarget
from fraudchannel.canonical.host import canonical_host, registrable_domain
from fraudchannel.canonical.payments import canonical_payment_handle
from fraudchannel.canonical.target import CanonicalTarget
from fraudchannel.canonical.url import MAX_URL_LENGTH, TRACKING_PARAMETERS, canonical_url

# Every InvalidTarget.code these functions raise (a test keeps the list honest).
REJECTION_CODES = frozenset(
    {
        "target-kind-unknown", "target-field-missing", "target-field-unknown", "target-field-type",
        "url-empty", "url-too-long", "url-defang-broken", "url-scheme-unsupported",
        "url-scheme-malformed", "url-host-missing", "url-unparseable", "url-host-invalid",
        "url-host-idna",
        "phone-empty", "phone-region-unknown", "phone-unparseable", "phone-not-possible",
        "phone-ambiguous",
        "email-empty", "email-defang-broken", "email-invalid",
        "iban-empty", "iban-characters", "iban-country", "iban-length", "iban-structure",
        "iban-checksum",
        "ukacct-sort-code", "ukacct-account-number", "ukacct-non-standard",
        "handle-empty", "handle-invalid", "account-id-empty", "account-id-invalid",
        "payment-provider-invalid", "payment-handle-empty", "payment-handle-invalid",
        "payment-provider-mismatch", "payment-link-unrecognised",
        "crypto-empty", "crypto-chain-unknown", "crypto-chain-mismatch", "crypto-unknown-format",
        "crypto-not-an-address", "crypto-eip55-checksum", "crypto-bech32-checksum",
        "crypto-bech32-invalid", "crypto-bech32-mixed-case", "crypto-base58-checksum",
        "crypto-ss58-checksum", "crypto-checksum", "crypto-payment-uri-function",
    }
)  # fmt: skip

__all__ = [
    "CHAINS",
    "MAX_URL_LENGTH",
    "REJECTION_CODES",
    "TRACKING_PARAMETERS",
    "CanonicalTarget",
    "InvalidTarget",
    "canonical_crypto",
    "canonical_email",
    "canonical_handle",
    "canonical_host",
    "canonical_iban",
    "canonical_payment_handle",
    "canonical_phone",
    "canonical_target",
    "canonical_uk_bank_account",
    "canonical_url",
    "defang",
    "registrable_domain",
]
