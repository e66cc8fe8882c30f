"""Wallets written as payment URIs (BIP 21, EIP-681) and in fullwidth forms: the same wallet as
the plain address, or a precise refusal (fraudchannel.canonical.crypto)."""

from __future__ import annotations

import pytest

from fraudchannel.canonical import InvalidTarget, canonical_crypto

EVM_PAYEE = "0x52908400098527886E0F7030069857D2E4169EE7"


@pytest.mark.parametrize(
    ("uri", "key"),
    [
        # BIP 21: the parameters (amount, label, message) do not change whose wallet it is
        ("bitcoin:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa?amount=1&label=Refund",
         "bitcoin:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        ("BITCOIN:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa?amount=0.5",
         "bitcoin:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        ("litecoin:LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz?amount=2",
         "litecoin:LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz"),
        ("bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a?amount=1",
         "bitcoin_cash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"),
        # EIP-681: "pay-", the chain id and the parameters go
        (f"ethereum:{EVM_PAYEE}?value=2.014e18", "evm:" + EVM_PAYEE.lower()),
        (f"ethereum:pay-{EVM_PAYEE}@1", "evm:" + EVM_PAYEE.lower()),
        (f"ETHEREUM:PAY-{EVM_PAYEE}", "evm:" + EVM_PAYEE.lower()),  # a QR code's upper case
        (f"polygon:{EVM_PAYEE}@137?value=1", "evm:" + EVM_PAYEE.lower()),
    ],
)  # fmt: skip
def test_a_payment_uri_gives_its_address(uri: str, key: str) -> None:
    # A reviewer's finding: "ethereum:0x..." was read but "bitcoin:...?amount=1", as QR codes in
    # scam messages carry it, was refused. The whole kind (BIP 21, EIP-681) is read now.
    assert canonical_crypto(uri) == key


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        # an ERC-20 transfer names the token contract (here USDT's), not the wallet paid
        (f"ethereum:0xdAC17F958D2ee523a2206206994597C13D831ec7/transfer?address={EVM_PAYEE}"
         "&uint256=1", "crypto-payment-uri-function"),
        ("bitcoin:?amount=1", "crypto-empty"),
        ("bitcoincash:?amount=1", "crypto-empty"),
        ("ethereum:pay-@1", "crypto-empty"),
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa?amount=1", "crypto-unknown-format"),  # no scheme
        (f"bitcoin:{EVM_PAYEE}?amount=1", "crypto-chain-mismatch"),
    ],
)  # fmt: skip
def test_payment_uris_that_name_no_wallet_are_refused(uri: str, code: str) -> None:
    with pytest.raises(InvalidTarget) as info:
        canonical_crypto(uri)
    assert info.value.code == code


def test_a_fullwidth_address_is_the_same_wallet() -> None:
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    assert canonical_crypto(fullwidth) == "bitcoin:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
