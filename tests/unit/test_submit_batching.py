"""fraudchannel.submitter (behind scripts/submit.py), sending:
batches, bodies, idempotency keys, backoff, results, summary.
"""

from __future__ import annotations

import io
import json
from typing import Any, cast

import pytest

from fraudchannel.submitter.batches import (
    Batch,
    encode_body,
    envelope,
    idempotency_key,
    make_batches,
    source_identity,
)
from fraudchannel.submitter.errors import UsageProblem
from fraudchannel.submitter.fields import relative_pointer
from fraudchannel.submitter.items import Prepared
from fraudchannel.submitter.results import ResultWriter, Summary, batch_results
from fraudchannel.submitter.transport import (
    TokenSource,
    backoff_delay,
    key_alg,
    parse_retry_after,
    problem_detail,
    retry_wait,
)


def ok(line: int, ref: str | None = None) -> Any:
    ref = ref or f"r{line}"
    return Prepared(line, ref, {"client_ref": ref})


def bad(line: int) -> Any:
    return Prepared(line, f"r{line}", None, [{"pointer": "", "code": "local.x"}])


# ---- batching -------------------------------------------------------------------------------


def test_batches_count_sendable_items_only_and_keep_rejects_in_place() -> None:
    prepared = [ok(1), bad(2), ok(3), ok(4), bad(5), ok(6), bad(7)]
    batches = list(make_batches(prepared, 2))
    assert [[p.line for p in b.records] for b in batches] == [[1, 2, 3], [4, 5, 6, 7]]
    assert [b.index for b in batches] == [0, 1]
    assert [len(b.items) for b in batches] == [2, 2]


def test_a_trailing_batch_may_hold_only_rejects() -> None:
    batches = list(make_batches([ok(1), ok(2), bad(3)], 2))
    assert [[p.line for p in b.records] for b in batches] == [[1, 2, 3]]
    batches = list(make_batches([bad(1)], 2))
    assert len(batches) == 1
    assert batches[0].items == []


def test_no_input_no_batches() -> None:
    assert list(make_batches([], 5)) == []


@pytest.mark.parametrize(("n", "size", "expected"), [(5, 1, 5), (5, 5, 1), (5, 2, 3), (10, 3, 4)])
def test_batch_counts(n: int, size: int, expected: int) -> None:
    batches = list(make_batches([ok(i) for i in range(n)], size))
    assert len(batches) == expected
    assert sum(len(b.items) for b in batches) == n


# ---- bodies and keys ------------------------------------------------------------------------


def test_body_bytes_do_not_depend_on_key_order() -> None:
    a = envelope("N", "n@bank.example", [{"b": 1, "a": {"y": 2, "x": 1}}])
    b = envelope("N", "n@bank.example", [{"a": {"x": 1, "y": 2}, "b": 1}])
    assert encode_body(a) == encode_body(b)
    assert json.loads(encode_body(a)) == {
        "schema_version": "1",
        "submitter": {"name": "N", "email": "n@bank.example"},
        "good_faith": True,
        "reports": [{"a": {"x": 1, "y": 2}, "b": 1}],
    }


def test_idempotency_key_is_deterministic_and_changes_with_index_and_content() -> None:
    body = b'{"reports":[1]}'
    key = idempotency_key("urls.txt", 3, body)
    assert key == idempotency_key("urls.txt", 3, body)
    assert key.startswith("fcsubmit.urls.txt.3.")
    assert key != idempotency_key("urls.txt", 4, body)
    assert key != idempotency_key("urls.txt", 3, b'{"reports":[2]}')
    assert key != idempotency_key("other.txt", 3, body)


def test_idempotency_key_is_printable_and_short_enough() -> None:
    source = source_identity("/data/" + "\u00e9 x;" * 100 + ".csv")
    key = idempotency_key(source, 9999, b"x")
    assert len(key) <= 200
    assert all("!" <= c <= "~" for c in key)


@pytest.mark.parametrize(
    ("path", "identity"),
    [
        ("-", "stdin"),
        ("/data/2025-12/phishing urls.txt", "phishing_urls.txt"),
        ("relative/w.csv", "w.csv"),
        ("/x/\u00e9\u00e9\u00e9", "input"),
    ],
)
def test_source_identity(path: str, identity: str) -> None:
    assert source_identity(path) == identity


def test_a_run_label_gives_new_keys_for_the_same_batch() -> None:
    plain = source_identity("urls.txt")
    labelled = source_identity("urls.txt", "resend 2025-12-01")
    assert labelled == "resend_2025-12-01.urls.txt"
    assert idempotency_key(plain, 0, b"x") != idempotency_key(labelled, 0, b"x")
    assert len(idempotency_key(source_identity("a" * 99, "b" * 99), 10**9, b"")) <= 200


# ---- backoff --------------------------------------------------------------------------------


def test_backoff_doubles_from_the_base_and_is_capped() -> None:
    assert [backoff_delay(a, 1.0) for a in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(20, 1.0) == 30.0
    assert backoff_delay(100, 1.0, base=0.01, cap=1.0) == 1.0


@pytest.mark.parametrize("attempt", [1, 2, 5, 12])
@pytest.mark.parametrize("jitter", [0.0, 0.3, 0.999])
def test_backoff_jitter_stays_within_half_and_whole(attempt: int, jitter: float) -> None:
    whole = backoff_delay(attempt, 1.0)
    delay = backoff_delay(attempt, jitter)
    assert whole / 2 <= delay <= whole


def test_retry_after_wins_when_longer_but_is_bounded() -> None:
    assert retry_wait(1, 0.0, None) == 0.25
    assert retry_wait(1, 0.0, 7.0) == 7.0
    assert retry_wait(5, 1.0, 0.1) == 8.0
    assert retry_wait(1, 0.0, 86400.0) == 300.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("", None), ("5", 5.0), (" 12 ", 12.0), ("soon", None)],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_http_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# ---- error bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (
            b'{"error": "invalid_client", "error_description": "unknown kid"}',
            "invalid_client: unknown kid",
        ),
        (
            b'{"title": "Payload too large", "detail": "over 64 MiB"}',
            "Payload too large - over 64 MiB",
        ),
        (
            b'{"title": "Validation failed", "errors": [{"pointer": "/submitter/email", '
            b'"detail": "bad"}]}',
            "Validation failed - 1 error(s), first: /submitter/email bad",
        ),
        (b"<html>bad gateway</html>", "<html>bad gateway</html>"),
        (b"", "HTTP 502"),
        (b"[]", "HTTP 502"),
    ],
)
def test_problem_detail(payload: bytes, detail: str) -> None:
    assert problem_detail(502, payload) == detail


# ---- per-item results -----------------------------------------------------------------------


def test_results_follow_input_order_and_map_answers_by_sent_index() -> None:
    batch = Batch(4, [ok(10), bad(11), ok(12), ok(13)])
    answer = {
        "items": [
            {
                "index": 0,
                "client_ref": "r10",
                "report_id": "rep-1",
                "target": {"type": "url", "canonical": "http://a.example/"},
                "outcome": "new_ticket",
                "ticket_id": "t-1",
            },
            {
                "index": 1,
                "client_ref": "r12",
                "errors": [
                    {"pointer": "/reports/1/target/url", "code": "url_invalid", "detail": "d"}
                ],
            },
        ]
    }
    rows = batch_results(batch, answer, None)
    assert rows == [
        {
            "line": 10,
            "batch": 4,
            "client_ref": "r10",
            "outcome": "new_ticket",
            "report_id": "rep-1",
            "ticket_id": "t-1",
            "target": {"type": "url", "canonical": "http://a.example/"},
        },
        {
            "line": 11,
            "batch": 4,
            "client_ref": "r11",
            "errors": [{"pointer": "", "code": "local.x"}],
        },
        {
            "line": 12,
            "batch": 4,
            "client_ref": "r12",
            "errors": [{"pointer": "/target/url", "code": "url_invalid", "detail": "d"}],
        },
        {
            "line": 13,
            "batch": 4,
            "client_ref": "r13",
            "errors": [{"pointer": "", "code": "missing_result", "detail": ""}],
        },
    ]


def test_a_failed_batch_marks_every_sent_item() -> None:
    batch = Batch(0, [ok(1), bad(2)])
    rows = batch_results(batch, None, "batch_failed: HTTP 413: too large")
    assert rows[0]["errors"] == [
        {"pointer": "", "code": "batch_failed", "detail": "HTTP 413: too large"}
    ]
    assert rows[1]["errors"][0]["code"] == "local.x"


@pytest.mark.parametrize(
    ("ptr", "index", "relative"),
    [
        ("/reports/3/target/url", 3, "/target/url"),
        ("/reports/3", 3, ""),
        ("/reports/31/x", 3, "/reports/31/x"),
        (None, 0, ""),
        ("/submitter", 0, "/submitter"),
    ],
)
def test_relative_pointer(ptr: str | None, index: int, relative: str) -> None:
    assert relative_pointer(ptr, index) == relative


# ---- summary and ordered writing ------------------------------------------------------------


def summary() -> Any:
    return Summary("in.txt", "lines", "url")


def test_summary_counts_outcomes_codes_and_exit_code() -> None:
    s = summary()
    s.add(
        [
            {"outcome": "new_ticket"},
            {"outcome": "duplicate_of_own_report"},
            {"outcome": "new_ticket"},
            {"errors": [{"code": "url_invalid"}, {"code": "url_invalid"}, {"code": "other"}]},
            {"errors": [{"code": "local.missing_value"}]},
        ]
    )
    doc = s.as_json()
    assert (doc["records"], doc["accepted"], doc["rejected"]) == (5, 3, 2)
    assert doc["outcomes"] == {"duplicate_of_own_report": 1, "new_ticket": 2}
    assert doc["rejected_by_code"] == {"local.missing_value": 1, "other": 1, "url_invalid": 1}
    assert doc["exit_code"] == 1


def test_summary_exit_code_zero_only_when_all_accepted() -> None:
    s = summary()
    s.add([{"outcome": "new_ticket"}])
    assert s.exit_code == 0
    s.batches_failed.append({"batch": 0})
    assert s.exit_code == 1
    s = summary()
    s.add([{"errors": [{"code": "not_sent"}]}])
    assert (s.not_sent, s.rejected, s.exit_code) == (1, 0, 1)
    s = summary()
    s.aborted = "token refused"
    assert s.exit_code == 1


def test_results_are_written_in_batch_order() -> None:
    out = io.StringIO()
    s = summary()
    writer = ResultWriter(out, s)
    writer.add(1, [{"line": 3, "outcome": "new_ticket"}])
    writer.add(2, [{"line": 5, "outcome": "new_ticket"}])
    assert out.getvalue() == ""
    writer.add(0, [{"line": 1, "outcome": "new_ticket"}])
    assert [json.loads(x)["line"] for x in out.getvalue().splitlines()] == [1, 3, 5]
    assert s.accepted == 3


# ---- credentials ----------------------------------------------------------------------------


def test_key_alg_from_the_key_and_a_mismatch_is_a_usage_error() -> None:
    from fraudchannel.client import generate_private_key, private_key_pem

    ec_pem = private_key_pem(generate_private_key("ES256"))
    assert key_alg(ec_pem, "auto") == "ES256"
    assert key_alg(private_key_pem(generate_private_key("EdDSA")), "auto") == "EdDSA"
    with pytest.raises(UsageProblem, match="--key-file"):
        key_alg(ec_pem, "PS256")
    with pytest.raises(UsageProblem, match="--key-file"):
        key_alg(b"not a key", "auto")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_reused_until_its_margin_then_dropped_on_invalidate() -> None:
    clock = FakeClock()
    session = cast(Any, None)  # never used: nothing is fetched here
    tokens = TokenSource(session, "http://x/oauth/token", lambda: "jwt", clock)
    tokens.token, tokens.expires_at = "t1", clock.now + 10
    assert tokens.valid()
    clock.now += 11
    assert not tokens.valid()
    clock.now -= 11
    tokens.invalidate("other")
    assert tokens.token == "t1"
    tokens.invalidate("t1")
    assert tokens.token is None
