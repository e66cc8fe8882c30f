"""Reading what callers send: token requests (RFC 6749 §4.4.2), Authorization (RFC 6750)."""

from __future__ import annotations

import pytest

from fraudchannel.assertions import (
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    UnsupportedGrantType,
)
from fraudchannel.client import ASSERTION_TYPE
from fraudchannel.errors import Unauthorized
from fraudchannel.http.auth import InvalidBearerRequest, bearer_token
from fraudchannel.tokens import grant_scopes, parse_token_request

GOOD = [
    ("grant_type", "client_credentials"),
    ("client_assertion_type", ASSERTION_TYPE),
    ("client_assertion", "a.b.c"),
]


def test_a_complete_request_parses() -> None:
    parsed = parse_token_request([*GOOD, ("scope", "reports:read"), ("client_id", "acme")])
    assert (parsed.assertion, parsed.scope, parsed.client_id) == ("a.b.c", "reports:read", "acme")


def test_unknown_and_empty_parameters_are_ignored() -> None:
    parsed = parse_token_request([*GOOD, ("resource", "x"), ("scope", ""), ("client_id", "")])
    assert (parsed.scope, parsed.client_id) == (None, None)


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        (GOOD[1:], InvalidRequest, "grant_type is missing"),
        ([("grant_type", "password"), *GOOD[1:]], UnsupportedGrantType, "client_credentials"),
        ([*GOOD, ("grant_type", "client_credentials")], InvalidRequest, "grant_type repeated"),
        ([*GOOD, ("client_assertion", "d.e.f")], InvalidRequest, "client_assertion repeated"),
        ([GOOD[0], GOOD[2]], InvalidRequest, "client_assertion_type must be"),
        ([GOOD[0], ("client_assertion_type", "urn:x"), GOOD[2]], InvalidRequest, "must be urn"),
        (GOOD[:2], InvalidRequest, "client_assertion is missing"),
        ([*GOOD, ("client_secret", "s3cret")], InvalidRequest, "no client_secret"),
        ([*GOOD[:2], ("client_assertion", "x" * 8193)], InvalidRequest, "longer than 8192"),
        ([*GOOD, ("scope", "reports:read  events:read")], InvalidScope, "single spaces"),
        ([*GOOD, ("scope", 'a"b')], InvalidScope, "single spaces"),
        ([*GOOD, ("scope", "caf\u00e9")], InvalidScope, "single spaces"),
    ],
)
def test_bad_requests_are_refused(
    fields: list[tuple[str, str]], error: type[OAuthError], match: str
) -> None:
    with pytest.raises(error, match=match):
        parse_token_request(fields)


def test_an_authorization_header_beside_the_assertion_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="no Authorization header"):
        parse_token_request(GOOD, authorization_header=True)


def test_default_scope_is_the_roles() -> None:
    assert grant_scopes("platform", None) == {"tickets:read", "tickets:write"}


def test_a_subset_of_the_roles_scopes_is_granted() -> None:
    assert grant_scopes("reporter", "reports:read events:read") == {"reports:read", "events:read"}


@pytest.mark.parametrize("scope", ["tickets:read", "reports:read orgs:admin", "authenticated"])
def test_scopes_outside_the_role_are_refused(scope: str) -> None:
    with pytest.raises(InvalidScope, match="reporter role does not hold"):
        grant_scopes("reporter", scope)


def test_oauth_errors_carry_rfc6749_and_rfc9457_members() -> None:
    body = InvalidClient('bad "quoted" \\ d\u00e9tail').body("/oauth/token")
    assert body["error"] == "invalid_client"
    assert body["status"] == 401
    assert body["type"].endswith("/oauth-invalid-client")
    # RFC 6749 §5.2: error_description excludes '"', '\' and non-ASCII.
    assert body["error_description"] == "bad ?quoted? ? d?tail" == body["detail"]


def test_invalid_client_challenges() -> None:
    assert InvalidClient("x").headers["WWW-Authenticate"].startswith("private_key_jwt ")


# -- Authorization: Bearer (RFC 6750 §2.1) ----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc.def-_~+/ghi==", "abc.def-_~+/ghi=="),
        ("bearer abc", "abc"),
        ("BEARER  abc", "abc"),
    ],
)
def test_bearer_tokens_are_read(value: str, token: str) -> None:
    assert bearer_token([value]) == token


@pytest.mark.parametrize("values", [[], ["Basic dXNlcjpwYXNz"], ["Bearerabc"], ["Token abc"]])
def test_missing_or_other_scheme_is_401_without_error_code(values: list[str]) -> None:
    with pytest.raises(Unauthorized) as caught:
        bearer_token(values)
    assert caught.value.status == 401
    assert caught.value.headers["WWW-Authenticate"] == 'Bearer realm="fraudchannel"'


@pytest.mark.parametrize(
    "values",
    [
        ["Bearer"],
        ["Bearer "],
        ["Bearer a b"],
        ["Bearer a,b"],
        ["Bearer t\u00f6k\u00e9n"],
        ["Bearer a=b"],
        ["Bearer a", "Bearer b"],
    ],
)
def test_malformed_bearer_is_400_invalid_request(values: list[str]) -> None:
    with pytest.raises(InvalidBearerRequest) as caught:
        bearer_token(values)
    assert caught.value.status == 400
    assert 'error="invalid_request"' in caught.value.headers["WWW-Authenticate"]
