"""The result of canonicalising one report target: its dedup kind and key, and what is shown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

NO_EVIDENCE: Mapping[str, str] = MappingProxyType({})


def _no_evidence() -> Mapping[str, str]:
    return NO_EVIDENCE


@dataclass(frozen=True, slots=True)
class CanonicalTarget:
    """One canonical target: `(kind, key)` is the dedup identity (DESIGN: canonicalisation).

    kind: "url", "platform_account", "phone", "email", "uk_bank_account", "iban",
        "crypto_wallet" or "payment_handle".
    key: the dedup key, unique with kind. For http(s) URLs the canonical URL without its scheme
        ("bins-mailer.top/info", a Safe Browsing host/path expression); ftp keeps its scheme.
    canonical: what is shown ("https://bins-mailer.top/info").
    registrable_domain: for URLs and e-mail addresses, the Public Suffix List registrable domain
        (private section included); None for IP hosts and hosts under no listed suffix.
    evidence: things left out of the key but worth keeping ({"userinfo": "bank.example"});
        read-only, never shared mutable state. Not part of the hash.
    """

    kind: str
    key: str
    canonical: str
    registrable_domain: str | None = None
    evidence: Mapping[str, str] = field(default_factory=_no_evidence, hash=False)

    def __post_init__(self) -> None:
        if self.evidence is not NO_EVIDENCE:
            # A caller's dict (or a proxy of one) would stay mutable behind a frozen dataclass.
            frozen = MappingProxyType(dict(self.evidence)) if self.evidence else NO_EVIDENCE
            object.__setattr__(self, "evidence", frozen)
