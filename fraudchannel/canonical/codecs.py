"""Address checksums and encodings that the crypto rules verify (pure, table-free, small).

Each function returns decoded bytes or None; none of them raises on any text.
"""

from __future__ import annotations

import base64
import hashlib
import zlib

import base58
from Crypto.Hash import keccak

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_VALUES = {char: value for value, char in enumerate(BECH32_CHARSET)}
BECH32, BECH32M = 1, 0x2BC830A3  # BIP-173 / BIP-350 checksum constants
_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_BASE58_VALUES = {char: value for value, char in enumerate(base58.BITCOIN_ALPHABET.decode())}


def keccak256(data: bytes) -> bytes:
    """Return the Keccak-256 digest of `data` (the pre-NIST padding Ethereum uses)."""
    return keccak.new(digest_bits=256, data=data).digest()


def eip55(hex40: str) -> str:
    """Return "0x" plus the EIP-55 mixed-case checksum form of 40 lower-case hex digits."""
    digest = keccak256(hex40.encode("ascii")).hex()
    return "0x" + "".join(
        char.upper() if char.isalpha() and digest[i] in "89abcdef" else char
        for i, char in enumerate(hex40)
    )


def convertbits(data: list[int] | bytes, frombits: int, tobits: int, pad: bool) -> list[int] | None:
    """Regroup `data` from `frombits`- to `tobits`-bit values (BIP-173 reference `convertbits`).

    Without `pad`, leftover bits must be fewer than `frombits` and all zero, else None.
    """
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or (acc << (tobits - bits)) & maxv:
        return None
    return out


def _bech32_polymod(values: list[int]) -> int:
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_BECH32_GENERATOR):
            if (top >> i) & 1:
                check ^= generator
    return check


def bech32_decode(text: str) -> tuple[str, list[int], int] | None:
    """Return (hrp, data without checksum, BECH32 or BECH32M) for a lower-case bech32 string.

    BIP-173 §Bech32 / BIP-350: HRP of 1-83 characters in 33-126, "1" separator, at least a
    6-character checksum from the bech32 alphabet. No overall length limit here: segwit callers
    apply 90, Cardano has longer addresses.
    """
    separator = text.rfind("1")
    if separator < 1 or separator > 83 or separator + 7 > len(text):
        return None
    hrp = text[:separator]
    if any(not 33 <= ord(char) <= 126 for char in hrp):
        return None
    try:
        data = [_BECH32_VALUES[char] for char in text[separator + 1 :]]
    except KeyError:
        return None
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    constant = _bech32_polymod(expanded + data)
    if constant not in (BECH32, BECH32M):
        return None
    return hrp, data[:-6], constant


def segwit_program(hrp: str, text: str) -> tuple[int, list[int]] | str:
    """Return (witness version, program) for a lower-case segwit address, or why it is invalid.

    BIP-173 §Segwit address format with BIP-350: at most 90 characters; version 0 uses Bech32
    and a 20- or 32-byte program, versions 1-16 use Bech32m and 2-40 bytes.
    """
    if len(text) > 90:
        return "longer than 90 characters"
    decoded = bech32_decode(text)
    if decoded is None:
        return "bad checksum or characters (BIP-173)"
    got_hrp, data, constant = decoded
    if got_hrp != hrp or not data:
        return "wrong prefix or no witness data"
    version = data[0]
    program = convertbits(data[1:], 5, 8, pad=False)
    if version > 16 or program is None or not 2 <= len(program) <= 40:
        return "invalid witness version or program"
    if version == 0 and len(program) not in (20, 32):
        return "invalid version 0 program length"
    if constant != (BECH32 if version == 0 else BECH32M):
        return "wrong checksum variant (BIP-350)"
    return version, program


def _cashaddr_polymod(values: list[int]) -> int:
    check = 1
    for value in values:
        top = check >> 35
        check = ((check & 0x07FFFFFFFF) << 5) ^ value
        if top & 0x01:
            check ^= 0x98F2BC8E61
        if top & 0x02:
            check ^= 0x79B76D99E2
        if top & 0x04:
            check ^= 0xF33E5FB3C4
        if top & 0x08:
            check ^= 0xAE2EABE2A8
        if top & 0x10:
            check ^= 0x1E4F43E470
    return check ^ 1


def cashaddr_decode(prefix: str, payload: str) -> tuple[int, bytes] | None:
    """Return (type, hash) for a lower-case CashAddr payload ("qpm2q..."), or None.

    Bitcoin Cash "cashaddr.md" spec: BCH-code checksum over the prefix; version byte = type
    (0 P2PKH, 1 P2SH) << 3 | size code; only 160-bit hashes (size code 0) are accepted.
    """
    try:
        data = [_BECH32_VALUES[char] for char in payload]
    except KeyError:
        return None
    if len(data) < 9 or _cashaddr_polymod([ord(c) & 31 for c in prefix] + [0] + data) != 0:
        return None
    raw = convertbits(data[:-8], 5, 8, pad=False)
    if raw is None or len(raw) != 21 or raw[0] & 0x87 != 0:
        return None
    return raw[0] >> 3, bytes(raw[1:])


def cashaddr_encode(prefix: str, kind: int, hash160: bytes) -> str:
    """Return the CashAddr payload (without prefix) for a 20-byte hash of type `kind`."""
    data = convertbits(bytes([kind << 3]) + hash160, 8, 5, pad=True) or []
    check = _cashaddr_polymod([ord(c) & 31 for c in prefix] + [0] + data + [0] * 8)
    data += [(check >> 5 * (7 - i)) & 31 for i in range(8)]
    return "".join(BECH32_CHARSET[value] for value in data)


def base58_decode(text: str, alphabet: bytes = base58.BITCOIN_ALPHABET) -> bytes | None:
    """Return the bytes of a Base58 string (leading "1"s are zero bytes), or None."""
    try:
        return base58.b58decode(text, alphabet=alphabet)
    except ValueError:
        return None


def base58check_payload(raw: bytes) -> bytes | None:
    """Return `raw` without its 4-byte double-SHA-256 checksum when that checksum holds."""
    if len(raw) < 5:
        return None
    digest = hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()
    return raw[:-4] if digest[:4] == raw[-4:] else None


def base58check_encode(payload: bytes) -> str:
    """Return the Base58Check string of `payload` (version bytes included)."""
    return base58.b58encode_check(payload).decode("ascii")


def ss58_decode(raw: bytes) -> tuple[int, bytes] | None:
    """Return (network prefix, 32-byte account id) for decoded SS58 bytes, or None.

    Substrate SS58 format: 1-byte prefix (< 64) or 2-byte prefix, account id, and the first two
    bytes of blake2b-512(b"SS58PRE" + prefix + id) as checksum.
    """
    if len(raw) == 35 and raw[0] < 64:
        prefix, body = raw[0], raw[:33]
    elif len(raw) == 36 and 64 <= raw[0] < 128:
        prefix, body = ((raw[0] & 0x3F) << 2) | (raw[1] >> 6) | ((raw[1] & 0x3F) << 8), raw[:34]
    else:
        return None
    if hashlib.blake2b(b"SS58PRE" + body, digest_size=64).digest()[:2] != raw[len(body) :]:
        return None
    return prefix, body[-32:]


def ss58_encode(prefix: int, account: bytes) -> str:
    """Return the SS58 address of a 32-byte account id under a network prefix below 64."""
    body = bytes([prefix]) + account
    check = hashlib.blake2b(b"SS58PRE" + body, digest_size=64).digest()[:2]
    return base58.b58encode(body + check).decode("ascii")


_MONERO_BLOCK_SIZES = (0, -1, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8)  # chars in block -> bytes


def monero_decode(text: str) -> bytes | None:
    """Return the bytes of a Monero address when its Keccak-256 checksum holds, else None.

    Monero base58 encodes 8-byte blocks as 11 characters (the last block shorter); the last four
    bytes are the first four of Keccak-256 over the rest (Monero "cryptonote" address format).
    """
    out = bytearray()
    for start in range(0, len(text), 11):
        block = text[start : start + 11]
        size = _MONERO_BLOCK_SIZES[len(block)]
        if size < 0:
            return None
        number = 0
        for char in block:
            value = _BASE58_VALUES.get(char)
            if value is None:
                return None
            number = number * 58 + value
        if number >= 1 << (8 * size):
            return None
        out += number.to_bytes(size, "big")
    if len(out) < 5 or keccak256(bytes(out[:-4]))[:4] != out[-4:]:
        return None
    return bytes(out)


def stellar_account(text: str) -> bytes | None:
    """Return the 32-byte key of a Stellar "G..." account (StrKey, SEP-23), or None.

    StrKey: base32 of version byte 6 << 3, the key, and CRC16-XModem (little-endian) over both.
    """
    if len(text) != 56:
        return None
    try:
        raw = base64.b32decode(text)
    except ValueError:
        return None
    if raw[0] != 6 << 3 or _crc16_xmodem(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
        return None
    return raw[1:-2]


def _crc16_xmodem(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def cardano_byron_ok(raw: bytes) -> bool:
    """Tell whether decoded Base58 bytes are a Byron address: CBOR [#6.24(bytes), crc32].

    Cardano Byron address format (CIP-19 "Byron addresses"): a two-element CBOR array holding
    the tag-24 wrapped payload and the CRC-32 of that payload.
    """
    if raw[:3] != b"\x82\xd8\x18":
        return False
    head, pos = raw[3:4], 4
    if not head or head[0] >> 5 != 2:  # CBOR major type 2: byte string
        return False
    length = head[0] & 0x1F
    if length == 24:
        length, pos = int.from_bytes(raw[pos : pos + 1], "big"), pos + 1
    elif length == 25:
        length, pos = int.from_bytes(raw[pos : pos + 2], "big"), pos + 2
    elif length > 23:
        return False
    payload, pos = raw[pos : pos + length], pos + length
    if len(payload) != length or raw[pos : pos + 1] != b"\x1a" or len(raw) != pos + 5:
        return False  # the CRC is a CBOR uint32 (0x1a + 4 bytes) and ends the address
    return zlib.crc32(payload) == int.from_bytes(raw[pos + 1 :], "big")
