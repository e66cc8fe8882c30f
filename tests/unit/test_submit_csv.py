"""CSV input of scripts/submit.py: the --delimiter it accepts, and cells as long as a body may be
(fraudchannel.submitter.readers)."""

from __future__ import annotations

import io

import pytest

from fraudchannel.submitter.readers import MAX_CSV_FIELD, csv_delimiter, read_csv


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
