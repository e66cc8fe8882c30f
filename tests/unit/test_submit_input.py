"""fraudchannel.submitter (behind scripts/submit.py), reading:
plain lists, CSV and JSON Lines, and mapping records to items.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pytest

from fraudchannel.submitter.errors import UsageProblem
from fraudchannel.submitter.fields import ITEM_FIELDS, TARGET_FIELDS, TARGET_REQUIRED, schema_errors
from fraudchannel.submitter.items import ItemSpec
from fraudchannel.submitter.readers import (
    Record,
    detect_format,
    open_records,
    read_csv,
    read_jsonl,
    read_lines,
)

PHISHING = ["--set", "scam_type=phishing", "--set", "explanation=Listed by a feed"]


def text(data: str) -> io.StringIO:
    """Return `data` as a decoded stream the way open_input makes one (newline="")."""
    return io.StringIO(data, newline="")


def decoded(raw: bytes) -> io.TextIOWrapper:
    """Return `raw` decoded as open_input does: UTF-8, BOM dropped, line ends kept."""
    return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline="")


def spec(fmt: str = "lines", target_type: str = "url", **flags: Any) -> Any:
    """Return an ItemSpec from flag values; constants default to a phishing report."""
    flags.setdefault("sets", ["scam_type=phishing", "explanation=Listed by a feed"])
    return ItemSpec.from_flags(target_type=target_type, fmt=fmt, **flags)


# ---- plain lists ----------------------------------------------------------------------------


def test_lines_skip_blank_and_comment_lines_and_strip_bom_and_crlf() -> None:
    raw = "\ufeff# exported\r\nhttp://a.example/x\r\n\r\n   \r\n  # indented\r\nb.example\r\n"
    records = list(read_lines(decoded(raw.encode())))
    assert [(r.line, r.fields, r.raw) for r in records] == [
        (2, {"value": "http://a.example/x"}, "http://a.example/x"),
        (6, {"value": "b.example"}, "b.example"),
    ]


def test_lines_keep_a_hash_inside_a_url() -> None:
    records = list(read_lines(text("http://a.example/#login\n")))
    assert records[0].fields["value"] == "http://a.example/#login"


def test_lines_without_final_newline() -> None:
    assert [r.raw for r in read_lines(text("a\nb"))] == ["a", "b"]


# ---- CSV ------------------------------------------------------------------------------------


def test_csv_header_bom_quoted_newline_and_line_numbers() -> None:
    raw = '\ufeffaddress,context\r\n0xabc,"two\r\nlines"\r\n\r\n0xdef,plain\r\n'
    records = read_csv(decoded(raw.encode()))
    assert records.columns == ["address", "context"]
    rows = list(records.records)
    assert [(r.line, r.fields) for r in rows] == [
        (2, {"address": "0xabc", "context": "two\r\nlines"}),
        (5, {"address": "0xdef", "context": "plain"}),
    ]
    assert rows[0].raw == json.dumps(["0xabc", "two\r\nlines"], separators=(",", ":"))


def test_csv_without_header_names_columns_by_position() -> None:
    records = read_csv(text("a,b\nc,d\n"), header=False)
    assert [r.fields for r in records.records] == [{"1": "a", "2": "b"}, {"1": "c", "2": "d"}]


def test_csv_cells_are_trimmed_and_short_rows_leave_columns_out() -> None:
    rows = list(read_csv(text("a,b,c\n x ,y\n")).records)
    assert rows[0].fields == {"a": "x", "b": "y"}


def test_tsv_is_detected_by_its_name() -> None:
    records = open_records(text("address\tchain\n0xabc\tevm\n"), "w.tsv", "csv")
    assert [r.fields for r in records.records] == [{"address": "0xabc", "chain": "evm"}]


def test_csv_hash_ignores_quoting_and_line_ends() -> None:
    a = next(read_csv(text('x,y\n"1",2\r\n')).records)
    b = next(read_csv(text("x,y\n1,2\n")).records)
    assert a.raw == b.raw


# ---- JSON Lines -----------------------------------------------------------------------------


def test_jsonl_objects_and_bad_lines() -> None:
    raw = '{"url": "http://a.example", "n": 2}\n\n[1, 2]\n{not json\n'
    records = list(read_jsonl(text(raw)))
    assert [(r.line, r.error) for r in records] == [
        (1, None),
        (3, "local.not_an_object"),
        (4, "local.invalid_json"),
    ]
    assert records[0].fields == {"url": "http://a.example", "n": 2}
    assert records[0].raw == '{"n":2,"url":"http://a.example"}'  # key order does not matter


# ---- format detection -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "first", "fmt"),
    [
        ("urls.txt", "{", "lines"),
        ("wallets.CSV", "", "csv"),
        ("w.tsv", "", "csv"),
        ("r.jsonl", "", "jsonl"),
        ("r.ndjson", "", "jsonl"),
        ("-", '  {"url": 1}', "jsonl"),
        ("-", "http://a.example", "lines"),
        ("export", "http://a.example", "lines"),
    ],
)
def test_detect_format(name: str, first: str, fmt: str) -> None:
    assert detect_format(name, first) == fmt


class Unseekable(io.StringIO):
    """A pipe-like stream."""

    def seekable(self) -> bool:
        return False


def test_auto_format_on_a_pipe_skips_comments_and_keeps_every_record() -> None:
    stream = Unseekable('# header\n{"target": {"type": "url", "url": "http://a.example"}}\n')
    records = open_records(stream, "-", "auto")
    assert records.format == "jsonl"
    assert len(list(records.records)) == 1


# ---- mapping records to items ---------------------------------------------------------------


def record(fields: dict[str, Any], raw: str = "raw", line: int = 1) -> Any:
    return Record(line, fields, raw)


def test_plain_list_value_goes_to_the_target_s_main_field() -> None:
    p = spec().build(record({"value": "http://a.example"}, raw="http://a.example"))
    assert p.errors == []
    assert p.item == {
        "target": {"type": "url", "url": "http://a.example"},
        "scam_type": "phishing",
        "explanation": "Listed by a feed",
        "client_ref": hashlib.sha256(b"http://a.example").hexdigest(),
    }


def test_client_ref_is_deterministic_prefixed_and_within_the_schema_limit() -> None:
    s = spec(ref_prefix="bank-x/2025-12/")
    a = s.build(record({"value": "http://a.example"}, raw="http://a.example"))
    b = s.build(record({"value": "http://a.example"}, raw="http://a.example", line=9))
    assert a.client_ref == b.client_ref
    assert a.client_ref.startswith("bank-x/2025-12/")
    assert len(a.client_ref) <= 128


@pytest.mark.parametrize("prefix", ["x" * 65, "caf\u00e9", " lead", "tab\t"])
def test_bad_ref_prefix_is_a_usage_error(prefix: str) -> None:
    with pytest.raises(UsageProblem, match="--ref-prefix"):
        spec(ref_prefix=prefix)


def test_client_ref_from_a_column() -> None:
    s = spec("csv", maps=["target.url=u", "client_ref=id"])
    p = s.build(record({"u": "http://a.example", "id": "case-17"}))
    assert p.client_ref == "case-17"
    assert p.item["client_ref"] == "case-17"


def test_crypto_columns_recoding_templates_and_dates() -> None:
    s = spec(
        "csv",
        "crypto_wallet",
        maps=["target.address=address", "target.chain=chain_by_format", "observed_at=date"],
        map_values=["target.chain:evm=ethereum", "target.chain:ss58-polkadot=polkadot"],
        templates=["explanation=Listed in {source_repo} ({context})"],
        sets=["scam_type=crypto_investment", "explanation=fallback"],
    )
    s.check_columns(["address", "chain_by_format", "date", "source_repo", "context"])
    p = s.build(
        record(
            {
                "address": "0xAbC",
                "chain_by_format": "evm",
                "date": "2020-11-17",
                "source_repo": "MyEtherWallet/ethereum-lists",
                "context": "fake exchange",
            }
        )
    )
    assert p.item["target"] == {"type": "crypto_wallet", "address": "0xAbC", "chain": "ethereum"}
    assert p.item["explanation"] == "Listed in MyEtherWallet/ethereum-lists (fake exchange)"
    assert p.item["observed_at"] == "2020-11-17T00:00:00Z"
    unknown = s.build(
        record({"address": "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "chain_by_format": "x"})
    )
    assert unknown.item["target"]["chain"] == "x"  # no recoding: passed on as read


def test_an_empty_cell_leaves_the_constant_standing() -> None:
    s = spec(
        "csv",
        maps=["target.url=u", "impersonated_brand=brand"],
        sets=["scam_type=phishing", "explanation=e", "impersonated_brand=Acme Bank"],
    )
    assert s.build(record({"u": "http://a.example", "brand": ""})).item["impersonated_brand"] == (
        "Acme Bank"
    )
    assert (
        s.build(record({"u": "http://a.example", "brand": "B"})).item["impersonated_brand"] == "B"
    )


def test_integers_from_text_and_a_local_error_when_not_one() -> None:
    s = spec(
        "csv",
        maps=["target.url=u", "victim_count=n", "victim_loss.amount_minor=loss"],
        sets=["scam_type=phishing", "explanation=e", "victim_loss.currency=GBP"],
    )
    good = s.build(record({"u": "http://a.example", "n": "3", "loss": "12500"}))
    assert good.item["victim_count"] == 3
    assert good.item["victim_loss"] == {"amount_minor": 12500, "currency": "GBP"}
    bad = s.build(record({"u": "http://a.example", "n": "three"}))
    assert bad.item is None
    assert bad.errors == [
        {
            "pointer": "/victim_count",
            "code": "local.not_an_integer",
            "detail": "column 'n': local.not_an_integer",
        }
    ]


def test_set_json_and_integer_constants() -> None:
    s = spec(
        sets=["scam_type=phishing", "explanation=e", "victim_count=2"],
        set_jsons=['evidence=[{"kind": "screenshot", "uri": "https://x.example/1.png"}]'],
    )
    item = s.build(record({"value": "http://a.example"})).item
    assert item["victim_count"] == 2
    assert item["evidence"] == [{"kind": "screenshot", "uri": "https://x.example/1.png"}]


def test_missing_values_are_local_errors_with_pointers() -> None:
    s = spec("csv", maps=["target.url=u", "explanation=why"], sets=["scam_type=phishing"])
    p = s.build(record({"u": "", "why": ""}, line=7))
    assert p.item is None
    assert p.line == 7
    assert [(e["pointer"], e["code"]) for e in p.errors] == [
        ("/target/url", "local.missing_value"),
        ("/explanation", "local.missing_value"),
    ]


def test_an_over_long_explanation_is_a_local_error() -> None:
    s = spec(sets=["scam_type=phishing", "explanation=" + "x" * 2001])
    p = s.build(record({"value": "http://a.example"}))
    assert [e["code"] for e in p.errors] == ["local.too_long"]


def test_platform_account_needs_any_one_identifier() -> None:
    s = spec("csv", "platform_account", maps=["target.account_id=id", "target.handle=h"])
    assert s.build(record({"id": "123", "h": ""})).errors == []
    assert [e["pointer"] for e in s.build(record({"id": "", "h": ""})).errors] == ["/target/handle"]


def test_jsonl_objects_pass_through_and_constants_fill_the_gaps() -> None:
    s = spec("jsonl")
    obj = {"client_ref": "r1", "target": {"url": "http://a.example"}, "explanation": "own"}
    p = s.build(record(obj))
    assert p.item == {
        "client_ref": "r1",
        "target": {"url": "http://a.example", "type": "url"},
        "explanation": "own",
        "scam_type": "phishing",
    }
    assert obj == {"client_ref": "r1", "target": {"url": "http://a.example"}, "explanation": "own"}


def test_jsonl_with_target_mapping_reads_nested_keys() -> None:
    s = spec("jsonl", "phone", maps=["target.number=contact.phone"])
    p = s.build(record({"contact": {"phone": "+44 7700 900123"}}))
    assert p.item["target"] == {"type": "phone", "number": "+44 7700 900123"}


def test_unreadable_records_become_local_errors() -> None:
    p = spec("jsonl").build(Record(4, {}, "{x", "local.invalid_json"))
    assert p.item is None
    assert p.errors[0]["code"] == "local.invalid_json"


# ---- usage errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"sets": ["scam_type=phishing"]}, "no value for explanation"),
        ({"sets": ["scam_typ=phishing"]}, "unknown item field 'scam_typ'"),
        ({"maps": ["target.address=a"]}, "not a field of a url target"),
        ({"maps": ["target.url"]}, "--map expects FIELD=VALUE"),
        ({"map_values": ["target.url=x"]}, "FIELD:FROM=TO"),
        ({"set_jsons": ["evidence=[nope"]}, "not JSON"),
        ({"sets": [*PHISHING[1::2], "victim_count=lots"]}, "not_an_integer"),
    ],
)
def test_usage_errors(flags: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageProblem, match=message):
        ItemSpec.from_flags(target_type="url", fmt="lines", **flags)


def test_a_plain_list_cannot_carry_a_uk_bank_account() -> None:
    with pytest.raises(UsageProblem, match="plain list"):
        spec("lines", "uk_bank_account")


def test_mapped_columns_must_be_in_the_header() -> None:
    s = spec("csv", maps=["target.url=link"], templates=["impersonated_brand={brand}"])
    s.check_columns(["link", "brand"])
    with pytest.raises(UsageProblem, match="'brand', 'link' not in the header"):
        s.check_columns(["url"])


# ---- the service's schema (dry run) ---------------------------------------------------------


def test_schema_errors_point_into_the_item() -> None:
    item = {
        "client_ref": "r",
        "target": {"type": "url", "url": "http://a.example"},
        "scam_type": "phishing",
        "explanation": "e",
        "observed_at": "7/18/17",
    }
    assert [e["pointer"] for e in schema_errors(item)] == ["/observed_at"]
    item["observed_at"] = "2017-07-18T00:00:00Z"
    assert schema_errors(item) == []


# ---- the script's field tables agree with the service's models ------------------------------


def test_target_fields_match_the_report_schema() -> None:
    from typing import get_args

    from fraudchannel import models

    fields = {}
    for model in get_args(models.AnyTarget):
        names = set(model.model_fields) - {"type"}
        (kind,) = get_args(model.model_fields["type"].annotation)
        fields[kind] = names
        required = {n for n, f in model.model_fields.items() if f.is_required()} - {"type"}
        assert required <= {f for group in TARGET_REQUIRED[kind] for f in group}, kind
    assert fields == {kind: set(names) for kind, names in TARGET_FIELDS.items()}


def test_item_fields_match_the_report_schema() -> None:
    from fraudchannel import models

    top = {f.split(".")[0] for f in ITEM_FIELDS}
    assert top | {"target"} == set(models.ReportItem.model_fields)
    assert {f"victim_loss.{n}" for n in models.VictimLoss.model_fields} <= ITEM_FIELDS
