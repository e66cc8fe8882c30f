"""Real feed data: phishing URLs and scam wallet addresses (samples in tests/unit/data/)."""

from __future__ import annotations

import contextlib
import csv
from collections import defaultdict
from pathlib import Path

import pytest

from fraudchannel.canonical import InvalidTarget, canonical_crypto, canonical_url

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # a dev checkout only


def _lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")
    ]
    return list(csv.DictReader(lines))


PHISHING = _lines(DATA / "phishing_urls_sample.txt")
WALLETS = _csv_rows(DATA / "scam_crypto_addresses_sample.csv")

# chain_by_format (the data set's own classification) -> our key prefix, or the rejection code.
FORMAT_TO_KEY = {
    "evm": "evm",
    "bitcoin-p2pkh": "bitcoin",
    "bitcoin-p2sh(or-ltc)": "bitcoin",
    "bitcoin-bech32": "bitcoin",
    "litecoin-p2pkh": "litecoin",
    "litecoin-p2sh": "litecoin",
    "tron": "tron",
    "xrp": "xrp",
    "neo": "neo",
    "ss58-polkadot": "polkadot",
    "ss58-kusama": "kusama",
    "bitcoincash-cashaddr": "bitcoin_cash",
    "bnb-beacon-bech32": "bnb",
    "stellar": "stellar",
    "monero": "monero",
    "cardano-byron": "cardano",
    "base58check-version-28": "zcash",  # t1... (two-byte version 0x1cb8)
    "base58check-version-76": "dash",  # X...
}
FORMAT_TO_REJECTION = {
    "evm-tx-hash-not-address": "crypto-not-an-address",
    "unknown": "crypto-base58-checksum",
}
DECLARED_TO_HINT = {
    "ETH": "ethereum", "ETC": "evm", "BTC": "bitcoin", "LTC": "litecoin", "TRX": "tron",
    "XRP": "xrp", "BCH": "bitcoin_cash", "NEO": "other", "DOT/KSM (Substrate)": None,
}  # fmt: skip


def test_samples_are_there() -> None:
    assert 400 <= len(PHISHING) <= 500
    assert len(WALLETS) > 200


def test_phishing_urls_canonicalise() -> None:
    """Every feed URL canonicalises (or is rejected with a reason) and is a fixed point."""
    rejected: list[tuple[str, str]] = []
    for raw in PHISHING:
        try:
            target = canonical_url(raw)
        except InvalidTarget as exc:
            rejected.append((raw, exc.code))
            continue
        assert target.kind == "url"
        assert target.canonical.endswith(target.key)
        again = canonical_url(target.canonical)
        assert (again.key, again.canonical) == (target.key, target.canonical), raw
    assert rejected == []  # the feed holds browser-valid URLs only


def test_feed_duplicates_collapse() -> None:
    keys: dict[str, set[str]] = defaultdict(set)
    for raw in PHISHING:
        keys[canonical_url(raw).key].add(raw)
    assert len(keys) < len(PHISHING)  # http/https, :443 and fragment variants share a key
    assert any(len(raws) > 1 for raws in keys.values())


@pytest.mark.parametrize(
    "row", WALLETS, ids=lambda row: f"{row['chain_by_format']}:{row['address'][:14]}"
)
def test_scam_wallet_rows(row: dict[str, str]) -> None:
    address, fmt = row["address"], row["chain_by_format"]
    if fmt in FORMAT_TO_REJECTION:
        with pytest.raises(InvalidTarget) as info:
            canonical_crypto(address)
        assert info.value.code == FORMAT_TO_REJECTION[fmt]
        return
    key = canonical_crypto(address)
    assert key.split(":", 1)[0] == FORMAT_TO_KEY[fmt]
    assert canonical_crypto(key) == key
    hint = DECLARED_TO_HINT[row["declared_chain"]]
    hinted, error = _try_crypto(address, hint)
    if error is not None:  # e.g. a Bitcoin address declared under ETH upstream
        assert error.code == "crypto-chain-mismatch"
    else:
        # Same key, unless the hint selects the other reading of an ambiguous legacy form.
        assert hinted == key or hinted.split(":")[0] in {"bitcoin_cash", "litecoin"}


def _try_crypto(address: str, hint: str | None) -> tuple[str, InvalidTarget | None]:
    try:
        return canonical_crypto(address, hint), None
    except InvalidTarget as exc:
        return "", exc


def test_case_variants_of_one_wallet_share_a_key() -> None:
    keys: dict[str, set[str]] = defaultdict(set)
    for row in WALLETS:
        if row["chain_by_format"] == "evm":
            keys[row["address"].lower()].add(canonical_crypto(row["address"]))
    assert all(len(found) == 1 for found in keys.values())
    assert keys["0x00e01a648ff41346cdeb873182383333d2184dd1"] == {
        "evm:0x00e01a648ff41346cdeb873182383333d2184dd1"
    }


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/data is only in a development checkout")
def test_whole_phishing_feed() -> None:
    for raw in _lines(SHARED / "phishing_urls.txt")[:2000]:
        with contextlib.suppress(InvalidTarget):
            canonical_url(raw)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/data is only in a development checkout")
def test_whole_wallet_list() -> None:
    for row in _csv_rows(SHARED / "scam_crypto_addresses.csv"):
        fmt = row["chain_by_format"]
        if fmt in FORMAT_TO_REJECTION:
            with pytest.raises(InvalidTarget):
                canonical_crypto(row["address"])
        else:
            assert canonical_crypto(row["address"]).split(":", 1)[0] == FORMAT_TO_KEY[fmt]
