"""Reading requests into the wire models, with RFC 6901 JSON Pointers on every error.

A batch is read in two steps so that one bad item never spoils the others (DESIGN: the report
schema): `parse_envelope` validates the envelope with every item left as a raw JSON value, then
`models.validate_item` validates each item on its own (fraudchannel.notices calls it). Envelope
problems are RFC 9457 documents (BadRequest 400, ValidationFailed 422) whose `errors` extension
lists `{pointer, code, detail}`; item problems are the same entries inside the 202 answer.
"""

from __future__ import annotations

import base64
import gc
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any, Final, TypeVar

import jiter
from pydantic import BaseModel, ValidationError

from fraudchannel.errors import BadRequest, ValidationFailed
from fraudchannel.models import RawBatch
from fraudchannel.pointers import pointer_errors
from fraudchannel.report_query import BatchQuery, ReportQuery

_CURSOR_SEQ: Final = re.compile(r"^[0-9]{1,19}$")
Q = TypeVar("Q", bound=BaseModel)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a synchronous, allocation-heavy step.

    Reading a 10,000-item batch makes some 10^5 long-lived containers; each one survives the young
    generations and so triggers full collections that walk them all again (measured: prepare runs
    at a third of its speed). They hold no reference cycles, so reference counting frees them
    and pausing the collector loses nothing. Synchronous code only: no await inside.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_DUPLICATE_MEMBER: Final = re.compile(
    r'^Detected duplicate key "(.*)" at (line \d+ column \d+)$', re.DOTALL
)
_WHERE: Final = re.compile(r" at line (\d+) column (\d+)$")
_NOT_NUMBERS: Final = (b"-Infinity", b"Infinity", b"NaN")


UTF8_BOM: Final = b"\xef\xbb\xbf"


def read_json(body: bytes) -> Any:
    """Return the one JSON value of `body`, or raise BadRequest (400).

    Refused: anything not JSON text (syntax, trailing data, invalid UTF-8, lone surrogate
    escapes, nesting deeper than 200), NaN and Infinity (not JSON numbers, RFC 8259 §6), and an
    object repeating a member name: parsers disagree on which value wins, so the service never
    guesses (RFC 7493 §2.3, I-JSON). One pass of jiter, the parser inside pydantic. A UTF-8 byte
    order mark at the start is ignored (RFC 8259 §8.1 allows it; .NET and PowerShell write one).
    """
    if body.startswith(UTF8_BOM):
        body = body[len(UTF8_BOM) :]
    try:
        return jiter.from_json(body, catch_duplicate_keys=True, allow_inf_nan=False)
    except ValueError as exc:
        message = str(exc)
        duplicate = _DUPLICATE_MEMBER.match(message)
        if duplicate:  # jiter quotes the name as JSON text already
            raise BadRequest(
                "The body is not one unambiguous JSON document: the member "
                f'"{duplicate.group(1)[:80]}" appears more than once ({duplicate.group(2)}).'
            ) from None
        raise BadRequest(f"The body is not valid JSON: {_explain(body, message)}.") from None


def _explain(body: bytes, message: str) -> str:
    """Return jiter's `message`, naming NaN/Infinity where jiter only says "expected value" or
    "invalid number" (looked up at the line and column it gives; the body is not parsed again)."""
    where = _WHERE.search(message)
    if where is None:
        return message
    line, column = int(where.group(1)), int(where.group(2))
    start = 0
    for _ in range(line - 1):
        start = body.find(b"\n", start) + 1
        if start == 0:
            return message
    around = body[start + max(0, column - 2) : start + column + 9]
    for constant in _NOT_NUMBERS:
        if constant in around:
            return f"{constant.decode()} is not a JSON number (RFC 8259 §6), {where.group(0)[4:]}"
    return message


def parse_envelope(body: bytes, *, max_reports: int) -> RawBatch:
    """Return the batch envelope of the JSON text `body`, items left raw.

    Raises BadRequest (400) when `body` is not one unambiguous JSON document (see read_json),
    ValidationFailed (422, `errors: [{pointer, code, detail}]`) when the envelope breaks the
    schema or holds more than `max_reports` items.
    """
    with gc_paused():
        document = read_json(body)
        try:
            batch = RawBatch.model_validate(document)
        except ValidationError as exc:
            raise ValidationFailed(errors=pointer_errors(exc)) from None
    if len(batch.reports) > max_reports:
        raise ValidationFailed(
            f"A batch holds at most {max_reports} reports.",
            errors=[
                {
                    "pointer": "/reports",
                    "code": "too_long",
                    "detail": f"{len(batch.reports)} reports; at most {max_reports} per batch",
                }
            ],
        )
    return batch


def parse_query(model: type[Q], params: Iterable[tuple[str, str]]) -> Q:
    """Return the query parameters `params`, (name, value) pairs, as a `model` (ReportQuery,
    BatchQuery).

    Raises BadRequest (400, `errors: [{parameter, code, detail}]`) on an unknown, repeated or
    malformed parameter. A cursor (`after`) is only checked for its characters here.
    """
    values: dict[str, str] = {}
    for name, value in params:
        if name in values:
            raise BadRequest(
                f"Give {name} at most once.",
                errors=[{"parameter": name, "code": "repeated", "detail": "given twice"}],
            )
        values[name] = value
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [
            {
                "parameter": ".".join(str(p) for p in err["loc"]),
                "code": err["type"],
                "detail": err["msg"] + _PLUS_HINT * _plus_read_as_space(err),
            }
            for err in exc.errors(include_url=False, include_input=True)
        ]
        raise BadRequest("A query parameter is not valid.", errors=errors) from None


# A query string reads "+" as a space (HTML form encoding): "...T12:00:00+01:00" arrives as
# "...T12:00:00 01:00", which no date-time parser can explain by itself.
_PLUS_HINT: Final = " (a '+' in a query string reads as a space: send the offset's '+' as %2B)"


def _plus_read_as_space(err: Any) -> bool:
    text = err.get("input")
    return isinstance(text, str) and err["type"].startswith("datetime") and " " in text


def parse_report_query(params: Iterable[tuple[str, str]]) -> ReportQuery:
    """Return the query of GET /v1/reports from its (name, value) pairs.

    Raises BadRequest as parse_query does, and on a cursor this service did not write.
    """
    query = parse_query(ReportQuery, params)
    if query.after is not None:
        _check_cursor(query.after)
    return query


def parse_batch_query(params: Iterable[tuple[str, str]]) -> BatchQuery:
    """Return the query of GET /v1/report-batches from its (name, value) pairs.

    Raises BadRequest as parse_query does, and on a cursor this service did not write.
    """
    from fraudchannel.reports import decode_batch_cursor  # reports -> notices -> parsing: late

    query = parse_query(BatchQuery, params)
    if query.after is not None:
        decode_batch_cursor(query.after)  # refuses all but what encode_batch_cursor writes
    return query


def _check_cursor(cursor: str) -> None:
    """Raise BadRequest unless `cursor` is what reports.encode_cursor writes, in range."""
    from fraudchannel.reports import decode_cursor  # reports -> notices -> parsing: import late

    when, _ = decode_cursor(cursor)  # raises BadRequest on a cursor that does not decode
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    seq = text.rpartition("|")[2]
    try:
        when.astimezone(UTC)  # "0001-01-01T00:00:00+14:00" lies before year 1 in UTC
    except OverflowError:
        seq = ""
    if not _CURSOR_SEQ.match(seq):  # int() also reads "1_000", " 1" and other digits
        raise BadRequest(
            "The cursor is not valid; use the `next` link of a previous page.",
            errors=[{"parameter": "after", "code": "cursor_invalid", "detail": "not our cursor"}],
        )
