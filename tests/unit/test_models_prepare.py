"""notices.prepare: items validated and canonicalised one by one, in-batch repeats collapsed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fraudchannel import notices
from fraudchannel.notices import prepare
from fraudchannel.parsing import parse_envelope


def batch_of(*items: Any) -> Any:
    body = {
        "schema_version": "1",
        "submitter": {"name": "Ann", "email": "ann@bank.example"},
        "good_faith": True,
        "reports": list(items),
    }
    return parse_envelope(json.dumps(body).encode(), max_reports=100)


def url_item(ref: str, url: str, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "client_ref": ref,
        "target": {"type": "url", "url": url},
        "scam_type": "phishing",
        "explanation": "x",
    }
    doc.update(over)
    return doc


def test_good_items_become_notices_and_bad_ones_errors() -> None:
    p = prepare(
        batch_of(
            url_item("a", "hxxps://evil[.]example/login"),
            url_item("b", "not a url at all"),
            {"client_ref": "c", "target": {"type": "url"}},
            "just a string",
        )
    )
    assert [n.index for n in p.notices] == [0]
    assert p.notices[0].target.canonical.canonical == "https://evil.example/login"
    assert p.rejected[1]["client_ref"] == "b"
    assert p.rejected[1]["errors"][0]["pointer"] == "/reports/1/target/url"
    assert {e["pointer"] for e in p.rejected[2]["errors"]} >= {"/reports/2/target/url"}
    assert p.rejected[3] == {
        "index": 3,
        "errors": [
            {
                "pointer": "/reports/3",
                "code": "model_type",
                "detail": p.rejected[3]["errors"][0]["detail"],
            }
        ],
    }


def test_canonicalisation_errors_point_at_the_field_or_target() -> None:
    p = prepare(
        batch_of(
            url_item("a", "https://ok.example", related=[{"type": "iban", "iban": "GB00XXXX"}]),
            {
                "client_ref": "b",
                "target": {"type": "uk_bank_account", "sort_code": "1", "account_number": "2"},
                "scam_type": "other",
                "explanation": "x",
            },
        )
    )
    assert p.notices == []
    assert [e["pointer"] for e in p.rejected[0]["errors"]] == ["/reports/0/related/0/iban"]
    assert [e["pointer"] for e in p.rejected[1]["errors"]] == ["/reports/1/target"]


def test_a_repeated_client_ref_in_one_batch_answers_the_first() -> None:
    p = prepare(
        batch_of(
            url_item("same", "https://a.example"),
            url_item("other", "https://b.example"),
            url_item("same", "https://c.example"),
        )
    )
    assert [n.index for n in p.notices] == [0, 1]
    assert p.repeats == {2: 0}


def test_an_invalid_first_item_does_not_claim_its_client_ref() -> None:
    p = prepare(batch_of(url_item("same", "nope nope"), url_item("same", "https://a.example")))
    assert [n.index for n in p.notices] == [1]
    assert p.repeats == {}


def test_http_and_https_share_the_dedup_identity() -> None:
    p = prepare(batch_of(url_item("a", "http://x.example/p"), url_item("b", "https://x.example/p")))
    assert p.notices[0].target.ident == p.notices[1].target.ident
    assert p.notices[0].target.canonical.canonical != p.notices[1].target.canonical.canonical


def test_the_body_is_the_item_as_sent_and_loss_is_in_major_units() -> None:
    raw = url_item(
        "a",
        "https://user@x.example/p",
        victim_loss={"amount_minor": 12345, "currency": "GBP"},
        observed_at="2026-11-29T10:00:00+01:00",
    )
    p = prepare(batch_of(raw))
    n = p.notices[0]
    assert json.loads(n.body) == raw
    assert n.loss_major == 123.45
    assert n.target_evidence is not None
    assert json.loads(n.target_evidence) == {"userinfo": "user"}


@pytest.mark.parametrize(
    "url",
    [
        "https://Bank-Login.example.co.uk:443/a/../b?utm_source=x&id=1#frag",
        "hxxps://evil[.]example/login",
        "http://0x7f.1/",
        "not a url",
        "https://" + "a" * 300 + ".example/",
        "javascript:alert(1)",
    ],
)
def test_the_url_shortcut_answers_as_canonical_target_does(url: str) -> None:
    assert notices._canonical_url.__wrapped__(url) == notices._canonical_uncached(
        "url", (("url", url),)
    )
