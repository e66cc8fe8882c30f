"""Reading records: plain lists, CSV and JSON Lines (BOM, CRLF and `#` comments handled)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal

Format = Literal["lines", "csv", "jsonl"]


FORMATS: Final = ("auto", "lines", "csv", "jsonl")


LINES_COLUMN: Final = "value"  # the one column of a plain list


@dataclass(frozen=True, slots=True)
class Record:
    """One input record: its 1-based first line, its fields and the text its client_ref hashes.

    `fields` maps column name to value (str for plain lists and CSV, any JSON value for JSON
    Lines); `error` is a local error code when the record could not be read.
    """

    line: int
    fields: dict[str, Any]
    raw: str
    error: str | None = None


@dataclass(slots=True)
class Records:
    """Records of one input: its columns (a CSV's header, a plain list's one column "value"; None
    for JSON Lines) and the record iterator."""

    format: Format
    columns: list[str] | None
    records: Iterator[Record]


def detect_format(name: str, first_line: str) -> Format:
    """Return the format of input `name` from its extension, else from its first data line."""
    suffix = Path(name).suffix.lower()
    if suffix in {".csv", ".tsv"}:
        return "csv"
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix in {".txt", ".lst", ".list"}:
        return "lines"
    return "jsonl" if first_line.lstrip().startswith("{") else "lines"


def read_lines(stream: IO[str]) -> Iterator[Record]:
    """Yield one record per non-blank line not starting with `#` (column `value`).

    CR/LF are stripped; surrounding white space too.
    """
    for number, text in enumerate(stream, start=1):
        value = text.strip()
        if not value or value.startswith("#"):
            continue
        yield Record(number, {LINES_COLUMN: value}, value)


def read_jsonl(stream: IO[str]) -> Iterator[Record]:
    """Yield one record per non-blank line; a line that is not a JSON object is a local error.

    Lines starting with `#` (never JSON) are skipped as comments, as in plain lists.
    """
    for number, text in enumerate(stream, start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            value = json.loads(stripped)
        except ValueError:
            yield Record(number, {}, stripped, "local.invalid_json")
            continue
        if not isinstance(value, dict):
            yield Record(number, {}, stripped, "local.not_an_object")
            continue
        raw = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        yield Record(number, value, raw)


# A cell may be as long as a request body may be (FRAUDCHANNEL_MAX_BODY_BYTES' default): a
# longer value is the service's to refuse, item by item, not a reason to stop reading the file.
MAX_CSV_FIELD = 64 * 1024 * 1024


def csv_delimiter(value: str | None) -> str | None:
    """Return the --delimiter value as the one character it names ("\\t" and "tab": a tab).

    Raises ValueError for anything else (submit.py makes it a usage error, exit status 2).
    """
    if value is None:
        return None
    named = {"\\t": "\t", "tab": "\t"}.get(value.lower(), value)
    if len(named) != 1 or named in '\r\n"':
        raise ValueError(
            f"{value!r} cannot delimit CSV cells: give one character other than a quote or a "
            "line end (a tab may be written \\t or tab)"
        )
    return named


def read_csv(stream: IO[str], *, delimiter: str = ",", header: bool = True) -> Records:
    """Return the CSV header and its rows as records (quoted newlines allowed).

    Without a header, columns are named "1", "2", ... Rows whose cells are all empty are skipped;
    a row with non-empty cells past the header's columns is an error record (local.extra_cells).
    The hashed text is the row's cells as a JSON array, so quoting and line ends do not matter.
    """
    csv.field_size_limit(MAX_CSV_FIELD)
    reader = csv.reader(stream, delimiter=delimiter)
    columns: list[str] | None = None
    if header:
        first = next(reader, None)
        columns = [c.strip() for c in first] if first else []

    def rows() -> Iterator[Record]:
        nonlocal columns
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if columns is None:
                columns = [str(i) for i in range(1, len(row) + 1)]
            names = columns if header else [str(i) for i in range(1, len(row) + 1)]
            values = {name: cell.strip() for name, cell in zip(names, row, strict=False)}
            raw = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
            # cells past the header's last column would be dropped unread: refuse the row (often
            # an unquoted delimiter inside a value) rather than send part of it
            extra = any(cell.strip() for cell in row[len(names) :])
            yield Record(line, values, raw, "local.extra_cells" if extra else None)

    return Records("csv", columns, rows())


def open_records(
    stream: IO[str], name: str, fmt: str, *, delimiter: str | None = None, header: bool = True
) -> Records:
    """Return the records of `stream` (already decoded) in format `fmt` ("auto": guess).

    `name` is the file name ("-" for standard input), used by "auto" and for TSV.
    """
    if fmt == "auto":
        buffered = io.StringIO(stream.read()) if not stream.seekable() else stream
        start = buffered.tell()
        first = ""
        for text in buffered:
            if text.strip() and not text.lstrip().startswith("#"):
                first = text
                break
        buffered.seek(start)
        stream, fmt = buffered, detect_format(name, first)
    if fmt == "lines":
        return Records("lines", [LINES_COLUMN], read_lines(stream))  # its one column
    if fmt == "jsonl":
        return Records("jsonl", None, read_jsonl(stream))
    if delimiter is None:
        delimiter = "\t" if name.lower().endswith(".tsv") else ","
    return read_csv(stream, delimiter=delimiter, header=header)


@contextlib.contextmanager
def open_input(path: str) -> Iterator[IO[str]]:
    """Yield `path` ("-": standard input) as text: UTF-8, a leading BOM dropped, CRLF as LF.

    `newline=""` keeps quoted line breaks intact for the csv module; the line readers strip
    line ends themselves.
    """
    if path == "-":
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        try:
            yield stream
        finally:
            stream.detach()
        return
    with open(path, encoding="utf-8-sig", newline="") as f:
        yield f


def count_records(path: str, fmt: str, delimiter: str | None, header: bool) -> int | None:
    """Return the number of records in regular file `path` (for the progress bar), else None."""
    if path == "-" or not Path(path).is_file():
        return None
    with open_input(path) as stream:
        return sum(
            1 for _ in open_records(stream, path, fmt, delimiter=delimiter, header=header).records
        )
