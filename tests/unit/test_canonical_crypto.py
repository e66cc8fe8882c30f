"""Crypto wallet addresses: formats, checksums, chain hints (fraudchannel.canonical.crypto)."""

from __future__ import annotations

import bech32
import pytest

from fraudchannel.canonical import CHAINS, InvalidTarget, canonical_crypto
from fraudchannel.canonical.codecs import base58check_encode


def code_of(address: str, chain: str | None = None) -> str:
    with pytest.raises(InvalidTarget) as info:
        canonical_crypto(address, chain)
    return info.value.code


# EIP-55 test vectors (https://eips.ethereum.org/EIPS/eip-55).
EIP55 = [
    "0x52908400098527886E0F7030069857D2E4169EE7",  # all caps
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",  # all lower
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # checksummed
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", EIP55)
def test_eip55_vectors(address: str) -> None:
    assert canonical_crypto(address) == "evm:0x" + address[2:].lower()
    assert canonical_crypto(address.lower()) == "evm:0x" + address[2:].lower()
    assert canonical_crypto("0X" + address[2:].upper()) == "evm:0x" + address[2:].lower()


@pytest.mark.parametrize(
    "address", [a for a in EIP55 if a[2:] not in (a[2:].lower(), a[2:].upper())]
)
def test_eip55_flipped_case_is_rejected(address: str) -> None:
    for i, char in enumerate(address[2:], start=2):
        if char.isalpha():
            flipped = address[:i] + char.swapcase() + address[i + 1 :]
            assert code_of(flipped) == "crypto-eip55-checksum"


@pytest.mark.parametrize(
    "chain",
    [
        "ethereum",
        "bsc",
        "polygon",
        "arbitrum",
        "optimism",
        "base",
        "avalanche",
        "evm",
        "EVM",
        " Ethereum ",
    ],
)
def test_every_evm_chain_shares_one_key(chain: str) -> None:
    assert canonical_crypto(EIP55[4], chain) == "evm:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "crypto-eip55-checksum"),
        ("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae", "crypto-unknown-format"),  # 39 hex
        ("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaedd", "crypto-unknown-format"),
        ("0xg2908400098527886e0f7030069857d2e4169ee7", "crypto-unknown-format"),
        (
            "0x11c058c3efbf53939fb6872b09a2b5cf2410a1e2c3f3c867664e43a626d878c0",
            "crypto-not-an-address",  # a transaction hash (real darklist row)
        ),
        ("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "crypto-unknown-format"),  # no 0x
    ],
)
def test_evm_rejections(address: str, code: str) -> None:
    assert code_of(address) == code


# BIP-173 / BIP-350 segwit test vectors (https://github.com/bitcoin/bips/blob/master/bip-0350.mediawiki).
BIP350_VALID_MAINNET = [
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
    "BC1SW50QGDZ25J",
    "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
]


@pytest.mark.parametrize("address", BIP350_VALID_MAINNET)
def test_segwit_valid(address: str) -> None:
    assert canonical_crypto(address) == "bitcoin:" + address.lower()
    assert canonical_crypto(address.upper(), "bitcoin") == "bitcoin:" + address.lower()


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "crypto-unknown-format"),
        ("tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c", "crypto-unknown-format"),
        ("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "crypto-unknown-format"),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
            "crypto-bech32-checksum",
        ),
        (
            "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
            "crypto-bech32-checksum",
        ),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "crypto-bech32-checksum"),
        (
            "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
            "crypto-bech32-checksum",
        ),
        ("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "crypto-bech32-invalid"),
        ("bc1pw5dgrnzv", "crypto-bech32-invalid"),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
            "crypto-bech32-invalid",
        ),
        ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "crypto-bech32-invalid"),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
            "crypto-bech32-invalid",
        ),
        ("bc1gmk9yu", "crypto-bech32-invalid"),
        ("bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "crypto-bech32-mixed-case"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "crypto-bech32-checksum"),
    ],
)
def test_segwit_invalid(address: str, code: str) -> None:
    assert code_of(address) == code


def test_litecoin_segwit() -> None:
    program = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")
    address = bech32.encode("ltc", 0, program)
    assert address == "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"
    assert canonical_crypto(address.upper(), "litecoin") == "litecoin:" + address
    assert code_of(address, "bitcoin") == "crypto-chain-mismatch"


# CashAddr spec test vectors (bitcoincashorg spec/cashaddr.md): legacy <-> CashAddr.
CASHADDR = [
    ("1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu", "qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"),
    ("1KXrWXciRDZUpQwQmuM1DbwsKDLYAYsVLR", "qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy"),
    ("16w1D5WRVKJuZUsSRzdLp9w3YGcgoxDXb", "qqq3728yw0y47sqn6l2na30mcw6zm78dzqre909m2r"),
    ("3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC", "ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq"),
    ("3LDsS579y7sruadqu11beEJoTjdFiFCdX4", "pr95sy3j9xwd2ap32xkykttr4cvcu7as4yc93ky28e"),
    ("31nwvkZwyPdgzjBJZXfDmSWsC4ZLKpYyUw", "pqq3728yw0y47sqn6l2na30mcw6zm78dzq5ucqzc37"),
]


@pytest.mark.parametrize(("legacy", "cashaddr"), CASHADDR)
def test_bitcoin_cash_forms_share_one_key(legacy: str, cashaddr: str) -> None:
    key = "bitcoin_cash:" + cashaddr
    assert canonical_crypto("bitcoincash:" + cashaddr) == key
    assert canonical_crypto(cashaddr) == key
    assert canonical_crypto(("bitcoincash:" + cashaddr).upper(), "bitcoin_cash") == key
    assert canonical_crypto(legacy, "bitcoin_cash") == key
    assert canonical_crypto(legacy) == "bitcoin:" + legacy  # without the hint: Bitcoin


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6b", "crypto-checksum"),
        ("bitcoincash:qpm2qsznhks23z7629Mms6s4cwef74vcwvy22gdx6a", "crypto-checksum"),  # mixed
        # bare and mixed case: read as Base58 (a Solana key may look like this), which fails
        ("qpm2qsznhks23z7629Mms6s4cwef74vcwvy22gdx6a", "crypto-unknown-format"),
        ("bitcoincash:0pm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a", "crypto-checksum"),
    ],
)
def test_cashaddr_rejections(address: str, code: str) -> None:
    assert code_of(address) == code


# Base58Check chains; case-sensitive, kept as written.
BASE58 = [
    ("1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu", "bitcoin"),
    ("3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC", "bitcoin"),
    ("LaXXasBpGtqnzi7AMywnujYeD3BFD1NFv2", "litecoin"),  # real darklist rows from here on
    ("MMdDAFeUu7saKRZKzy6H855jp5sWvP7zUp", "litecoin"),
    ("TPcDNYz4AxCaLCY2Xx4i95jGYwCjUrxg5r", "tron"),
    ("rGD1q9qfHd9gYbm9VUdcBXjumAaMZen8tr", "xrp"),
    ("rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh", "xrp"),  # XRP Ledger genesis account
    ("ATVMaR3SXKRBtwCNgPjV5k2YzEgzMDYeaf", "neo"),
    ("XrE5MMmXD1ShEKh9jBbhEiTGCLg2BLsd5r", "dash"),
    ("t1R2tWtBWr7Us5PSXoLJZgEPoxPbNL8uk5C", "zcash"),
    ("DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L", "dogecoin"),
    (base58check_encode(b"\x1e" + bytes(range(20))), "dogecoin"),
    (base58check_encode(b"\x16" + bytes(range(20))), "dogecoin"),
]


@pytest.mark.parametrize(("address", "chain"), BASE58)
def test_base58check_chains(address: str, chain: str) -> None:
    assert canonical_crypto(address) == f"{chain}:{address}"
    if chain in CHAINS:
        assert canonical_crypto(address, chain) == f"{chain}:{address}"
    else:  # no vocabulary hint: only "other" or none
        assert canonical_crypto(address, "other") == f"{chain}:{address}"


@pytest.mark.parametrize(("address", "chain"), BASE58[:7])
def test_base58_case_is_significant(address: str, chain: str) -> None:
    assert code_of(address.swapcase(), chain) in {"crypto-base58-checksum", "crypto-unknown-format"}
    assert code_of(address[:-1] + ("2" if address[-1] != "2" else "3")) == "crypto-base58-checksum"


def test_legacy_p2sh_under_the_litecoin_hint() -> None:
    address = "3E8XidwZPe4BPym7CjqmNPvehetsRV326W"  # declared LTC in EtherScamDB
    assert canonical_crypto(address) == "bitcoin:" + address
    assert canonical_crypto(address, "litecoin") == "litecoin:" + address
    assert code_of("1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu", "litecoin") == "crypto-chain-mismatch"


def test_unknown_base58check_version() -> None:
    assert code_of(base58check_encode(b"\x99" + bytes(20))) == "crypto-unknown-format"
    assert code_of("1Mn386ue8o3mW9866octLNP8HFqcYsphJCV") == "crypto-base58-checksum"  # real row


ALICE = bytes.fromhex("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")


def test_ss58_networks() -> None:
    generic = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"  # Substrate dev account Alice
    polkadot = "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5"
    kusama = "HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F"
    assert canonical_crypto(generic) == "substrate:" + generic
    assert canonical_crypto(generic, "polkadot") == "polkadot:" + polkadot
    assert canonical_crypto(generic, "kusama") == "kusama:" + kusama
    assert (
        canonical_crypto(polkadot)
        == canonical_crypto(polkadot, "polkadot")
        == "polkadot:" + polkadot
    )
    assert canonical_crypto(kusama, "kusama") == "kusama:" + kusama
    assert code_of(polkadot, "kusama") == "crypto-chain-mismatch"
    assert code_of(polkadot[:-1] + "6") == "crypto-ss58-checksum"


def test_solana() -> None:
    assert canonical_crypto("So11111111111111111111111111111111111111112", "solana") == (
        "solana:So11111111111111111111111111111111111111112"
    )
    assert canonical_crypto("11111111111111111111111111111111") == "solana:" + "1" * 32
    assert (
        code_of("So11111111111111111111111111111111111111112", "ethereum")
        == "crypto-chain-mismatch"
    )


def test_stellar() -> None:
    account = "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ"  # SEP-23 example
    assert canonical_crypto(account) == "stellar:" + account
    assert canonical_crypto(account.lower(), "stellar") == "stellar:" + account
    assert code_of(account[:-1] + "A") == "crypto-checksum"
    real = "GBEI5U4S27SP6YMOTYPQBRCPLMVUNP64M5ELQQ5VB4S43FLWPULJTU2Y"
    assert canonical_crypto(real) == "stellar:" + real


MONERO = [
    "47v1cXsUdPN6vLeCwzCFAbAw8VjNEoMXSfLMpGkg76z9jPVM1wxxpmmjUvGDxnZQak4TqDM15MPbcPnhMcFu8TXAB6wugV1",
    "48RrK4L4z8hYq8iQS9qvTc1bJN99aSamhTuMrN9nCFVWRcroKb3EAawV14KtHmeqeuW4j5JLxUQfz4bG2veSYph445nnf8s",
]


@pytest.mark.parametrize("address", MONERO)
def test_monero(address: str) -> None:
    assert canonical_crypto(address, "monero") == "monero:" + address
    broken = address[:50] + ("A" if address[50] != "A" else "B") + address[51:]
    assert code_of(broken) == "crypto-checksum"


def test_cardano() -> None:
    byron = "Ae2tdPwUPEZGpHCMV2L7iMY4vUGX6Pzx5U2YgQD1wK7ZUzKVmgg5RRmp2dF"  # real darklist row
    assert canonical_crypto(byron, "cardano") == "cardano:" + byron
    assert code_of(byron[:-1] + "G") in {"crypto-checksum", "crypto-unknown-format"}
    shelley = (  # CIP-19 test vector (type-0 base address, mainnet)
        "addr1qx2fxv2umyhttkxyxp8x0dlpdt3k6cwng5pxj3jhsydzer3n0d3vllmyqwsx5wktcd8cc3sq835lu7drv2xwl2wywfgse35a3x"
    )
    assert canonical_crypto(shelley.upper()) == "cardano:" + shelley
    assert code_of(shelley[:-1] + "y") == "crypto-bech32-checksum"


def test_bnb_beacon_chain_is_not_bsc() -> None:
    address = "bnb160943aa8wjfwzq52snqe3dpzq3mgcxlfjm2d7y"
    assert canonical_crypto(address) == "bnb:" + address
    assert code_of(address, "bsc") == "crypto-chain-mismatch"


@pytest.mark.parametrize(
    ("address", "chain", "code"),
    [
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "bitcoin", "crypto-chain-mismatch"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "tron", "crypto-chain-mismatch"),
        ("TPcDNYz4AxCaLCY2Xx4i95jGYwCjUrxg5r", "ethereum", "crypto-chain-mismatch"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "ethereum", "crypto-chain-mismatch"),
        ("rGD1q9qfHd9gYbm9VUdcBXjumAaMZen8tr", "bitcoin", "crypto-chain-mismatch"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "eth", "crypto-chain-unknown"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "", "crypto-chain-unknown"),
        ("not an address", "dogecoin", "crypto-unknown-format"),
        ("", None, "crypto-empty"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\u00e9", None, "crypto-unknown-format"),
        ("x" * 201, None, "crypto-unknown-format"),
        ("bitcoin:1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggX?amount=1", None, "crypto-base58-checksum"),
        ("evm:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "bitcoin", "crypto-chain-mismatch"),
        ("dogecoin:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", None, "crypto-chain-mismatch"),
        ("foo:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", None, "crypto-unknown-format"),
    ],
)
def test_hints_and_rejections(address: str, chain: str | None, code: str) -> None:
    assert code_of(address, chain) == code


def test_prefixed_addresses() -> None:
    evm = "evm:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
    assert canonical_crypto("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "bsc") == evm
    assert canonical_crypto("EVM:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "polygon") == evm
    bip21 = "bitcoin:1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu"  # a BIP-21 URI without parameters
    assert canonical_crypto(bip21) == bip21
    assert code_of(bip21, "bitcoin_cash") == "crypto-chain-mismatch"


def test_tron_under_two_declared_coins_dedups() -> None:
    address = "TPcDNYz4AxCaLCY2Xx4i95jGYwCjUrxg5r"  # EtherScamDB lists it under TRX and ETH
    assert canonical_crypto(address) == canonical_crypto(address, "tron") == "tron:" + address
    assert canonical_crypto(" " + address + "\n", "other") == "tron:" + address


@pytest.mark.parametrize(
    "key",
    [
        "evm:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        "bitcoin:1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu",
        "litecoin:3E8XidwZPe4BPym7CjqmNPvehetsRV326W",
        "bitcoin_cash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
        "polkadot:15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5",
        "substrate:5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        "stellar:GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ",
        "bnb:bnb160943aa8wjfwzq52snqe3dpzq3mgcxlfjm2d7y",
        "neo:ATVMaR3SXKRBtwCNgPjV5k2YzEgzMDYeaf",
        "zcash:t1R2tWtBWr7Us5PSXoLJZgEPoxPbNL8uk5C",
        "solana:So11111111111111111111111111111111111111112",
        "monero:" + MONERO[0],
        "cardano:Ae2tdPwUPEZGpHCMV2L7iMY4vUGX6Pzx5U2YgQD1wK7ZUzKVmgg5RRmp2dF",
        "xrp:rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh",
    ],
)
def test_keys_are_fixed_points(key: str) -> None:
    assert canonical_crypto(key) == key
