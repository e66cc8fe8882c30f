"""Key material: RFC 7638 thumbprints, public JWKs, and what the registry accepts as a key."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from fraudchannel import client, public_keys
from fraudchannel.errors import ValidationFailed
from tests.auth_fixtures import new_private_key

# RFC 7638 §3.1: the example key and its thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
    "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6We"
    "Zu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
# RFC 8037 Appendix A.2, A.3: an Ed25519 public key and its thumbprint.
RFC8037_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def _pem(key: Any) -> bytes:
    public = key.public_key() if hasattr(key, "private_bytes") else key
    pem: bytes = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def test_thumbprint_matches_rfc7638_example() -> None:
    assert client.jwk_thumbprint(RFC7638_JWK) == RFC7638_THUMBPRINT


def test_thumbprint_matches_rfc8037_example() -> None:
    assert client.jwk_thumbprint(RFC8037_JWK) == RFC8037_THUMBPRINT


def test_thumbprint_ignores_optional_members() -> None:
    extra = RFC8037_JWK | {"kid": "x", "alg": "EdDSA", "use": "sig"}
    assert client.jwk_thumbprint(extra) == RFC8037_THUMBPRINT


@pytest.mark.parametrize("jwk", [{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "EC", "crv": "P-256"}])
def test_thumbprint_refuses_other_types_and_missing_members(jwk: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"thumbprint|lacks"):
        client.jwk_thumbprint(jwk)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256", "RS256"])
def test_public_jwk_holds_public_members_only(alg: str) -> None:
    key = new_private_key(alg)
    jwk = client.public_jwk(key, alg)
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
    assert jwk["alg"] == alg
    assert jwk["use"] == "sig"
    assert jwk["kid"] == client.jwk_thumbprint(jwk)
    assert client.public_jwk(key, alg, kid="mine")["kid"] == "mine"


@pytest.mark.parametrize(
    ("alg", "key"),
    [
        ("ES256", ec.generate_private_key(ec.SECP384R1())),
        ("ES256", ed25519.Ed25519PrivateKey.generate()),
        ("EdDSA", ed448.Ed448PrivateKey.generate()),
        ("PS256", ec.generate_private_key(ec.SECP256R1())),
        ("RS256", rsa.generate_private_key(65537, 1024)),  # noqa: S505 - weak on purpose
        ("HS256", ec.generate_private_key(ec.SECP256R1())),
        ("none", ec.generate_private_key(ec.SECP256R1())),
    ],
)
def test_keys_that_do_not_fit_the_alg_are_refused(alg: str, key: Any) -> None:
    with pytest.raises(ValueError, match=r"needs|bits|unsupported"):
        client.check_key_fits(key, alg)


def test_default_alg_by_key_type() -> None:
    assert client.default_alg(new_private_key("ES256")) == "ES256"
    assert client.default_alg(new_private_key("EdDSA")) == "EdDSA"
    assert client.default_alg(new_private_key("PS256")) == "PS256"


def test_signed_client_assertion_carries_rfc7523_claims() -> None:
    key = new_private_key("EdDSA")
    pem = client.private_key_pem(key)
    token = client.sign_client_assertion(pem, "k1", "EdDSA", "acme", "https://fc.test/oauth/token")
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": "k1", "typ": "JWT"}
    claims = jwt.decode(
        token, key.public_key(), algorithms=["EdDSA"], audience="https://fc.test/oauth/token"
    )
    assert claims["iss"] == claims["sub"] == "acme"
    assert claims["exp"] - claims["iat"] == 60
    assert len(claims["jti"]) == 32
    again = client.sign_client_assertion(pem, "k1", "EdDSA", "acme", "https://fc.test/oauth/token")
    assert jwt.decode(again, options={"verify_signature": False})["jti"] != claims["jti"]


def test_encrypted_private_keys_are_refused() -> None:
    pem = new_private_key("ES256").private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass"),
    )
    with pytest.raises(ValueError, match="encrypted"):
        client.load_private_key(pem)


def test_token_form_names_rfc7523_parameters() -> None:
    assert client.token_form("a.b.c", scope="reports:read", client_id="acme") == {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": "a.b.c",
        "scope": "reports:read",
        "client_id": "acme",
    }


# -- parse_public_key: what an operator may register -----------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256", "RS256"])
def test_a_public_jwk_is_accepted_with_its_kid_and_alg(alg: str) -> None:
    jwk = client.public_jwk(new_private_key(alg), alg, kid="bank-2026")
    parsed = public_keys.parse_public_key(_json(jwk))
    assert (parsed.kid, parsed.alg) == ("bank-2026", alg)
    assert parsed.jwk == jwk
    assert parsed.thumbprint == client.jwk_thumbprint(jwk)


def test_the_rfc7638_example_key_is_accepted() -> None:
    parsed = public_keys.parse_public_key(_json(RFC7638_JWK))
    assert (parsed.kid, parsed.alg, parsed.thumbprint) == (
        "2011-04-29",
        "RS256",
        RFC7638_THUMBPRINT,
    )


def test_a_jwk_without_kid_gets_its_thumbprint() -> None:
    jwk = {k: v for k, v in RFC8037_JWK.items()}
    parsed = public_keys.parse_public_key(_json(jwk))
    assert parsed.kid == RFC8037_THUMBPRINT
    assert parsed.alg == "EdDSA"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_a_pem_public_key_is_accepted_with_default_kid(alg: str) -> None:
    key = new_private_key(alg)
    parsed = public_keys.parse_public_key(_pem(key))
    assert parsed.alg == alg
    assert parsed.kid == client.jwk_thumbprint(client.public_jwk(key, alg))
    assert public_keys.parse_public_key(_pem(key), kid="given").kid == "given"


def test_a_pem_rsa_key_needs_its_alg() -> None:
    key = new_private_key("PS256")
    with pytest.raises(ValidationFailed, match="PS256 or --alg RS256"):
        public_keys.parse_public_key(_pem(key))
    assert public_keys.parse_public_key(_pem(key), alg="RS256").alg == "RS256"


def test_a_pkcs1_rsa_public_key_is_accepted() -> None:
    pem = (
        new_private_key("PS256")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    )
    assert public_keys.parse_public_key(pem, alg="PS256").alg == "PS256"


def _refused(data: bytes, match: str, **kw: str) -> None:
    with pytest.raises(ValidationFailed, match=match):
        public_keys.parse_public_key(data, **kw)


def test_private_keys_are_refused_as_jwk_and_pem() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
    _refused(_json(private_jwk), r"private or symmetric key material \(d\)")
    _refused(client.private_key_pem(key), "this is a private key")
    rsa_pem = new_private_key("PS256").private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    _refused(rsa_pem, "this is a private key")  # "BEGIN RSA PRIVATE KEY"


def test_symmetric_keys_are_refused() -> None:
    _refused(_json({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}), "symmetric")


def test_weak_rsa_keys_are_refused() -> None:
    weak = rsa.generate_private_key(65537, 1024)  # noqa: S505 - weak on purpose
    _refused(_pem(weak), "2048 to 8192 bits; this one has 1024", alg="PS256")
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(weak.public_key())) | {"alg": "RS256"}
    _refused(_json(jwk), "2048 to 8192")


@pytest.mark.parametrize(
    ("jwk", "match"),
    [
        ({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}, "not a valid EC"),
        (
            {"kty": "OKP", "crv": "X25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            "OKP",
        ),
        ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, "not a valid EC"),
        ({"kty": "foo"}, "unsupported key type"),
        ({"keys": []}, "not a JWK set"),
        (RFC8037_JWK | {"use": "enc"}, "use must be sig"),
        (RFC8037_JWK | {"alg": "ES384"}, "unsupported alg"),
        (RFC8037_JWK | {"alg": "HS256"}, "unsupported alg"),
        (RFC8037_JWK | {"alg": "ES256"}, "ES256 needs an EC key"),
        (RFC8037_JWK | {"kid": 7}, "kid must be a string"),
        (RFC8037_JWK | {"kid": "has space"}, "kid must be"),
    ],
)
def test_bad_jwks_are_refused(jwk: dict[str, Any], match: str) -> None:
    _refused(_json(jwk), match)


def test_p384_keys_are_refused() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    _refused(_pem(key), "P-256")


def test_ed448_keys_are_refused() -> None:
    _refused(_pem(ed448.Ed448PrivateKey.generate()), "unsupported key type Ed448")


def test_contradicting_alg_or_kid_is_refused() -> None:
    jwk = RFC8037_JWK | {"alg": "EdDSA", "kid": "a"}
    _refused(_json(jwk), "contradicts", alg="ES256")
    _refused(_json(jwk), "contradicts", kid="b")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"{not json",
        b"[1, 2]",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"\xff\xfe{",
        b"{" + b" " * public_keys.MAX_KEY_BYTES + b"}",
    ],
)
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(ValidationFailed):
        public_keys.parse_public_key(data)
