"""CSV input of scripts/submit.py: the --delimiter it accepts, and cells as long as a body may be
(fraudchannel.submitter.readers)."""

from __future__ import annotations

import io

import pytest

from fraudchannel.submitter.errors import UsageProblem
from fraudchannel.submitter.items import ItemSpec
from fraudchannel.submitter.readers import (
    MAX_CSV_FIELD,
    csv_delimiter,
    detect_format,
    open_records,
    read_csv,
)

PHISHING = ["scam_type=phishing", "explanation=Listed by a feed"]


@pytest.mark.parametrize(
    ("given", "delimiter"),
    [(None, None), (";", ";"), ("|", "|"), ("\t", "\t"), ("\\t", "\t"), ("tab", "\t"),
     ("TAB", "\t")],
)  # fmt: skip
def test_a_delimiter_is_one_character_and_a_tab_has_two_spellings(
    given: str | None, delimiter: str | None
) -> None:
    assert csv_delimiter(given) == delimiter


@pytest.mark.parametrize("given", ["", ";;", "\\n", '"', "\n", "\r", "comma"])
def test_anything_else_is_refused_with_the_reason(given: str) -> None:
    with pytest.raises(ValueError, match="cannot delimit CSV cells"):
        csv_delimiter(given)


def test_a_cell_longer_than_the_csv_module_default_is_read() -> None:
    # A reviewer's finding: a 5 MB cell stopped the run ("field larger than field limit
    # (131072)", exit 1); the cell is read and the service refuses the value item by item.
    long_url = "https://evil.example/" + "a" * (5 * 1024 * 1024)
    stream = io.StringIO(f"url,note\n{long_url},x\nhttps://ok.example/,y\n", newline="")
    records = list(read_csv(stream).records)
    assert [len(r.fields["url"]) for r in records] == [len(long_url), len("https://ok.example/")]
    assert MAX_CSV_FIELD >= 64 * 1024 * 1024


def test_a_row_with_cells_past_the_header_is_refused_not_cut() -> None:
    # A reviewer's finding: the extra cells were dropped without a word.
    stream = io.StringIO("url,note\nhttps://a.example/,x\nhttps://b.example/,y,z\n", newline="")
    records = list(read_csv(stream).records)
    assert [(r.line, r.error) for r in records] == [(2, None), (3, "local.extra_cells")]
    spec = ItemSpec.from_flags(target_type="url", fmt="csv", maps=["target.url=url"], sets=PHISHING)
    (error,) = spec.build(records[1]).errors
    assert error["code"] == "local.extra_cells"
    assert "more cells than the header has columns" in error["detail"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "urls.txt",
            "https://a.example/\n",
            "column(s) 'nosuch' not in a plain list (columns: value)",
        ),
        ("empty.csv", "", "the CSV input is empty: it has no header line"),
    ],
)
def test_a_mapping_the_input_cannot_fill_is_a_usage_error(
    name: str, data: str, message: str
) -> None:
    # A reviewer's finding: on a plain list every row was refused one by one (exit 1).
    records = open_records(io.StringIO(data, newline=""), name, detect_format(name, data))
    fmt = detect_format(name, data)
    column = "nosuch" if fmt == "lines" else "url"
    spec = ItemSpec.from_flags(
        target_type="url", fmt=fmt, maps=[f"target.url={column}"], sets=PHISHING
    )
    with pytest.raises(UsageProblem) as caught:
        spec.check_columns(records.columns)
    assert caught.value.message == message
