"""The query parameters of the list routes (GET /v1/reports): read as text, checked strictly,
and every refusal a 400 naming the parameter (fraudchannel.parsing.parse_report_query)."""

from __future__ import annotations

import pytest

from fraudchannel.errors import BadRequest
from fraudchannel.parsing import parse_report_query


def test_report_query_reads_text_parameters() -> None:
    q = parse_report_query(
        [("target_type", "url"), ("limit", "5"), ("created_after", "2026-01-01T00:00:00Z")]
    )
    assert q.limit == 5
    assert q.target_type == "url"


@pytest.mark.parametrize(
    "params",
    [
        [("limit", "0")],
        [("limit", "x")],
        [("nope", "1")],
        [("scam_type", "spam")],
        [("created_after", "2026-01-01T00:00:00")],
        [("status", "a"), ("status", "b")],
        [("after", "not a cursor!")],
    ],
)
def test_report_query_refuses_bad_parameters(params: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_report_query(params)
    assert caught.value.extensions["errors"]


# ---- taxonomy and currencies ------------------------------------------------------------------


def test_an_offset_whose_plus_became_a_space_is_explained() -> None:
    # A reviewer's finding: "?created_after=2026-11-30T12:00:00+01:00" unencoded arrives with a
    # space for the "+", and the answer only said "unexpected extra characters".
    with pytest.raises(BadRequest) as caught:
        parse_report_query([("created_after", "2026-11-30T12:00:00 01:00")])
    (error,) = caught.value.extensions["errors"]
    assert error["parameter"] == "created_after"
    assert error["detail"].endswith("send the offset's '+' as %2B)")
    with pytest.raises(BadRequest) as caught:
        parse_report_query([("created_after", "yesterday")])
    assert "%2B" not in caught.value.extensions["errors"][0]["detail"]
