"""Token requests and their refusals, shared by the token-endpoint tests: the form of an RFC 7523
client assertion request, and the check of an RFC 6749 §5.2 error that is also an RFC 9457
problem document."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from tests.auth_fixtures import (
    Answer,
    OrgCredentials,
    assertion_claims,
    post_token,
    sign_assertion,
)
from tests.conftest import Served

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def token_form(assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }


def assert_refused(answer: Answer, status: int, error: str, match: str = "") -> None:
    """Check an RFC 6749 §5.2 error that is also an RFC 9457 problem document."""
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.body
    assert body["error"] == error
    assert body["error_description"] == body["detail"]
    assert body["status"] == status
    assert body["title"]
    assert body["type"].startswith("https://")
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("private_key_jwt ")
    assert re.search(match, body["error_description"]), body["error_description"]


async def post_claims(
    http: aiohttp.ClientSession, server: Served, creds: OrgCredentials, **changes: Any
) -> Answer:
    claims = assertion_claims(creds, server.token_endpoint, **changes)
    return await post_token(http, server, token_form(sign_assertion(creds, claims)))
