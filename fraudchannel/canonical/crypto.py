"""Canonical crypto wallet addresses: "chain:address", one key per wallet (DESIGN).

Formats are recognised from the address itself; a chain hint must agree with the format
("crypto-chain-mismatch") and is never used to guess. What each key prefix covers and verifies:

- evm: 0x + 40 hex; EIP-55 checksum verified when mixed case; every EVM chain shares the key.
- bitcoin: Base58Check versions 0x00/0x05 (double SHA-256); bc1 segwit, Bech32/Bech32m with the
  BIP-173/BIP-350 rules (version, program length, checksum variant, 90 characters).
- litecoin: Base58Check 0x30/0x32 (0x05 only with the litecoin hint: its legacy P2SH); ltc1.
- dogecoin (0x1e/0x16), tron (0x41), neo (0x17), dash (0x4c/0x10), zcash (t1/t3, two-byte
  versions): Base58Check, double SHA-256.
- bitcoin_cash: CashAddr ("bitcoincash:" prefix optional; BCH-code checksum, cashaddr.md); a
  legacy 1.../3... address with the bitcoin_cash hint is keyed as its CashAddr form.
- xrp: Base58Check in the Ripple alphabet, version 0.
- polkadot (prefix 0), kusama (2), substrate (42), ss58-N: SS58 with a 32-byte account id,
  blake2b-512 "SS58PRE" checksum; a generic (42) address with a polkadot/kusama hint is keyed
  in that network's form.
- solana: Base58 of a 32-byte ed25519 key. The format has no checksum: typos are undetectable.
- stellar: StrKey "G..." account (SEP-23), CRC16-XModem verified. Muxed "M..." is not accepted.
- monero: 95/106-character mainnet addresses, Monero base58, Keccak-256 checksum verified.
- cardano: Byron Base58 CBOR with its CRC-32 verified; Shelley "addr1" Bech32 checksum only.
- bnb: BNB Beacon Chain "bnb1" Bech32, 20-byte payload.

Keys: hex, Bech32, CashAddr lower-case, StrKey upper-case (single-case inputs only); Base58 is
case-sensitive and kept exactly. Fullwidth forms are read as their ASCII characters.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import base58

from fraudchannel.canonical import codecs
from fraudchannel.canonical.defang import FULLWIDTH_TO_ASCII, STRIP_CHARS
from fraudchannel.canonical.errors import InvalidTarget, quote

CHAINS = frozenset(
    {
        "bitcoin", "ethereum", "bsc", "polygon", "arbitrum", "optimism", "base", "avalanche",
        "evm", "tron", "litecoin", "bitcoin_cash", "dogecoin", "xrp", "solana", "polkadot",
        "kusama", "stellar", "monero", "cardano", "other",
    }
)  # fmt: skip
EVM_CHAINS = frozenset(
    {"ethereum", "bsc", "polygon", "arbitrum", "optimism", "base", "avalanche", "evm"}
)
# Chains a key may name that have no hint in the vocabulary (only detected from the format).
_FORMAT_ONLY = frozenset({"neo", "zcash", "dash", "bnb", "substrate"})
_BASE58CHECK_VERSIONS = {
    b"\x00": "bitcoin",  # P2PKH "1..."
    b"\x05": "bitcoin",  # P2SH "3..." (also Litecoin's legacy P2SH)
    b"\x30": "litecoin",  # "L..."
    b"\x32": "litecoin",  # "M..."
    b"\x1e": "dogecoin",  # "D..."
    b"\x16": "dogecoin",  # "9..." / "A..."
    b"\x41": "tron",  # "T..."
    b"\x17": "neo",  # "A..." (NEO legacy)
    b"\x4c": "dash",  # "X..."
    b"\x10": "dash",  # "7..."
    b"\x1c\xb8": "zcash",  # "t1..." transparent P2PKH
    b"\x1c\xbd": "zcash",  # "t3..." transparent P2SH
}
_BECH32_HRPS = (("bc1", "bitcoin"), ("ltc1", "litecoin"), ("bnb1", "bnb"), ("addr1", "cardano"))
_SS58_NAMES = {0: "polkadot", 2: "kusama", 42: "substrate"}
_MAX_ADDRESS = 200
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
_EVM = re.compile(r"0[xX]([0-9a-fA-F]{40})")
_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_PREFIXED = re.compile(r"([a-z_]+|ss58-\d{1,5}):(.+)", re.IGNORECASE | re.DOTALL)


class _Address(NamedTuple):
    chain: str  # key prefix
    address: str  # canonical address (the key without "chain:")
    accepts: frozenset[str]  # hints that agree with the format


def canonical_crypto(address: str, chain: str | None = None) -> str:
    """Return the dedup key "chain:address" of a wallet address ("evm:0x00e0...", "tron:TP...").

    `chain` is an optional hint from the vocabulary in `CHAINS` (any case; "other" means no
    hint). The address may carry its own "chain:" prefix (a key from this function, "bitcoin:",
    "bitcoincash:"), which then acts as a hint too: the function is idempotent. A payment URI
    (BIP 21 "bitcoin:ADDR?amount=1", EIP-681 "ethereum:pay-ADDR@1?value=1") gives its address.

    Raises InvalidTarget: "crypto-empty", "crypto-chain-unknown", "crypto-chain-mismatch",
    "crypto-unknown-format", "crypto-not-an-address" (an EVM transaction hash),
    "crypto-eip55-checksum", "crypto-bech32-checksum", "crypto-bech32-invalid" (BIP-173/350
    version or program length), "crypto-bech32-mixed-case", "crypto-base58-checksum",
    "crypto-ss58-checksum", "crypto-checksum" (Monero, Stellar, Cardano, CashAddr),
    "crypto-payment-uri-function" (an EIP-681 contract call).
    """
    hint = _hint(chain)
    text = address.translate(FULLWIDTH_TO_ASCII).strip(STRIP_CHARS)
    if not text:
        raise InvalidTarget("crypto-empty", "The address is empty.")
    if len(text) > _MAX_ADDRESS or not _PRINTABLE.fullmatch(text):
        raise InvalidTarget("crypto-unknown-format", f"{quote(text)} is no known address format.")
    prefixed = _PREFIXED.fullmatch(text)
    if prefixed and prefixed.group(1).lower() == "bitcoincash":
        text = text.partition("?")[0]  # a BIP-21 style payment URI: the parameters go
    elif prefixed:
        own = prefixed.group(1).lower()
        if own not in CHAINS and own not in _FORMAT_ONLY and not own.startswith("ss58-"):
            raise InvalidTarget("crypto-unknown-format", f"Unknown address prefix {quote(own)}.")
        both_evm = own in EVM_CHAINS and hint in EVM_CHAINS
        if hint is not None and own != hint and not both_evm:
            raise InvalidTarget("crypto-chain-mismatch", f"Prefix {own!r} contradicts {hint!r}.")
        hint = hint or (None if own == "other" else own)
        text = _payment_uri_address(prefixed.group(2), evm=own in EVM_CHAINS)
    if not text or text.endswith(":"):  # "bitcoin:?amount=1", "bitcoincash:?amount=1"
        raise InvalidTarget("crypto-empty", f"{quote(address)} names no address.")
    found = _detect(text, hint)
    if hint is not None and hint not in found.accepts:
        raise InvalidTarget(
            "crypto-chain-mismatch",
            f"{quote(text)} is an address on {found.chain}, not on {hint}.",
        )
    return found.chain + ":" + found.address


def evm_display(key: str) -> str:
    """Return "evm:0x" plus the EIP-55 checksum form for an "evm:0x..." key (what is shown)."""
    return "evm:" + codecs.eip55(key[6:])


def _payment_uri_address(text: str, *, evm: bool) -> str:
    """Return the address of a payment URI's rest after "chain:", or `text` as it is.

    BIP 21 ("bitcoin:ADDR?amount=1&label=x") and EIP-681 ("ethereum:pay-ADDR@1?value=1e18"):
    the parameters (amount, label, chain id) do not change whose wallet it is, and are dropped.
    An EIP-681 function call ("ethereum:TOKEN/transfer?address=ADDR") names a token contract,
    not the wallet paid (that is in its parameters): refused, never guessed.
    """
    address = text.partition("?")[0]
    if not evm:
        return address
    if address[:4].lower() == "pay-":  # upper-case in QR codes' alphanumeric mode
        address = address[4:]
    if "/" in address:
        raise InvalidTarget(
            "crypto-payment-uri-function",
            f"{quote(text)} calls a contract function: the contract is not the wallet paid; "
            "send the recipient's address alone.",
        )
    return address.partition("@")[0]


def _hint(chain: str | None) -> str | None:
    if chain is None:
        return None
    hint = chain.strip(STRIP_CHARS).lower()
    if hint not in CHAINS:
        raise InvalidTarget("crypto-chain-unknown", f"Unknown chain {quote(chain, 30)}.")
    return None if hint == "other" else hint


def _detect(text: str, hint: str | None) -> _Address:
    """Return the format `text` is in, verified, or raise InvalidTarget (see canonical_crypto)."""
    if text[:2] in ("0x", "0X"):
        return _evm(text)
    found = _single_case(text)
    if found is not None:
        return found
    if text[0] == "r":
        raw = codecs.base58_decode(text, base58.XRP_ALPHABET)
        payload = None if raw is None else codecs.base58check_payload(raw)
        if payload is not None and len(payload) == 21 and payload[0] == 0:
            return _Address("xrp", text, frozenset({"xrp"}))
    if len(text) in (95, 106) and text[0] in "48":
        if codecs.monero_decode(text) is None:
            raise InvalidTarget("crypto-checksum", f"{quote(text)} fails its Monero checksum.")
        return _Address("monero", text, frozenset({"monero"}))
    return _base58(text, hint)


def _single_case(text: str) -> _Address | None:
    """Return a Bech32, CashAddr or StrKey address (case-insensitive formats), or None."""
    lower = text.lower()
    mixed = lower != text and text.upper() != text
    for hrp, chain in _BECH32_HRPS:
        if lower.startswith(hrp):
            if mixed:
                raise InvalidTarget("crypto-bech32-mixed-case", f"{quote(text)} mixes cases.")
            return _bech32(lower, hrp[:-1], chain)
    if lower.startswith(("tb1", "bcrt1", "tltc1")):
        raise InvalidTarget("crypto-unknown-format", f"{quote(text)} is a testnet address.")
    if lower.startswith("bitcoincash:") or (len(text) == 42 and lower[0] in "qp" and not mixed):
        return _cashaddr(text, mixed)
    if len(text) == 56 and lower[0] == "g" and not mixed:
        account = codecs.stellar_account(text.upper())
        if account is None:
            raise InvalidTarget("crypto-checksum", f"{quote(text)} fails its StrKey CRC16.")
        return _Address("stellar", text.upper(), frozenset({"stellar"}))
    return None


def _evm(text: str) -> _Address:
    match = _EVM.fullmatch(text)
    if match is None:
        if _HEX.fullmatch(text) and len(text) == 66:
            raise InvalidTarget(
                "crypto-not-an-address", f"{quote(text)} is a 32-byte hash, not an address."
            )
        raise InvalidTarget("crypto-unknown-format", f"{quote(text)} is not 0x + 40 hex digits.")
    body = match.group(1)
    lower = body.lower()
    if body != lower and body != body.upper() and codecs.eip55(lower)[2:] != body:
        raise InvalidTarget(
            "crypto-eip55-checksum", f"{quote(text)} is mixed case but fails its EIP-55 checksum."
        )
    return _Address("evm", "0x" + lower, EVM_CHAINS)


def _bech32(lower: str, hrp: str, chain: str) -> _Address:
    if chain in ("bitcoin", "litecoin"):
        result = codecs.segwit_program(hrp, lower)
        if isinstance(result, str):
            code = "crypto-bech32-checksum" if "checksum" in result else "crypto-bech32-invalid"
            raise InvalidTarget(code, f"{quote(lower)}: {result}.")
    else:
        decoded = codecs.bech32_decode(lower)
        if decoded is None or decoded[0] != hrp or decoded[2] != codecs.BECH32:
            raise InvalidTarget("crypto-bech32-checksum", f"{quote(lower)} fails its checksum.")
        data = codecs.convertbits(decoded[1], 5, 8, pad=False)
        if data is None or (chain == "bnb" and len(data) != 20):
            raise InvalidTarget("crypto-bech32-invalid", f"{quote(lower)} has a bad payload.")
    return _Address(chain, lower, frozenset({chain}))


def _cashaddr(text: str, mixed: bool) -> _Address:
    lower = text.lower()
    payload = lower.removeprefix("bitcoincash:")
    if mixed or codecs.cashaddr_decode("bitcoincash", payload) is None:
        raise InvalidTarget("crypto-checksum", f"{quote(text)} is not a valid CashAddr address.")
    return _Address("bitcoin_cash", payload, frozenset({"bitcoin_cash"}))


def _base58(text: str, hint: str | None) -> _Address:
    raw = codecs.base58_decode(text)
    if raw is None:
        raise InvalidTarget("crypto-unknown-format", f"{quote(text)} is no known address format.")
    if len(raw) in (25, 26):
        payload = codecs.base58check_payload(raw)
        if payload is None:
            raise InvalidTarget("crypto-base58-checksum", f"{quote(text)} fails its checksum.")
        version = payload[: len(payload) - 20]
        chain = _BASE58CHECK_VERSIONS.get(version)
        if chain is None:
            raise InvalidTarget(
                "crypto-unknown-format", f"Base58Check version {version.hex()} is no known chain."
            )
        if chain == "bitcoin" and hint == "bitcoin_cash":
            # The legacy form of a Bitcoin Cash address: key it as the CashAddr form.
            kind = 0 if version == b"\x00" else 1
            cashaddr = codecs.cashaddr_encode("bitcoincash", kind, payload[1:])
            return _Address("bitcoin_cash", cashaddr, frozenset({"bitcoin_cash"}))
        if version == b"\x05" and hint == "litecoin":
            return _Address("litecoin", text, frozenset({"litecoin"}))
        return _Address(chain, text, frozenset({chain}))
    if len(raw) in (35, 36):
        decoded = codecs.ss58_decode(raw)
        if decoded is None:
            raise InvalidTarget("crypto-ss58-checksum", f"{quote(text)} fails its SS58 checksum.")
        return _ss58(text, decoded[0], decoded[1], hint)
    if len(raw) == 32 and 32 <= len(text) <= 44:
        return _Address("solana", text, frozenset({"solana"}))
    if len(raw) > 36 and text.startswith(("Ae2", "DdzFF")):
        if not codecs.cardano_byron_ok(raw):
            raise InvalidTarget("crypto-checksum", f"{quote(text)} fails its Byron CRC-32.")
        return _Address("cardano", text, frozenset({"cardano"}))
    raise InvalidTarget("crypto-unknown-format", f"{quote(text)} is no known address format.")


def _ss58(text: str, prefix: int, account: bytes, hint: str | None) -> _Address:
    name = _SS58_NAMES.get(prefix, f"ss58-{prefix}")
    if prefix == 42 and hint in ("polkadot", "kusama"):
        # The generic Substrate form of a Polkadot/Kusama account: key it in the network's form.
        network = 0 if hint == "polkadot" else 2
        return _Address(hint, codecs.ss58_encode(network, account), frozenset({hint}))
    return _Address(name, text, frozenset({name}))
