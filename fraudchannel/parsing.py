"""Reading requests into the wire models, with RFC 6901 JSON Pointers on every error.

A batch is read in two steps so that one bad item never spoils the others (DESIGN: the report
schema): `parse_envelope` validates the envelope with every item left as a raw JSON value, then
`models.validate_item` validates each item on its own (fraudchannel.notices calls it). Envelope
problems are RFC 9457 documents (BadRequest 400, ValidationFailed 422) whose `errors` extension
lists `{pointer, code, detail}`; item problems are the same entries inside the 202 answer.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from fraudchannel.errors import BadRequest, ValidationFailed
from fraudchannel.models import RawBatch, ReportQuery, pointer_errors


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


def parse_envelope(body: bytes, *, max_reports: int) -> RawBatch:
    """Return the batch envelope of the JSON text `body`, items left raw.

    Raises BadRequest (400) when `body` is not JSON at all (syntax, invalid UTF-8, lone
    surrogates, nesting deeper than 200), ValidationFailed (422, `errors: [{pointer, code,
    detail}]`) when the envelope breaks the schema or holds more than `max_reports` items.
    """
    try:
        with gc_paused():
            batch = RawBatch.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "json_invalid":
            raise BadRequest(f"The body is not valid JSON: {first['msg']}") from None
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


def parse_report_query(params: Iterable[tuple[str, str]]) -> ReportQuery:
    """Return the query of GET /v1/reports from its (name, value) pairs.

    Raises BadRequest (400, `errors: [{parameter, code, detail}]`) on an unknown, repeated or
    malformed parameter.
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
        return ReportQuery.model_validate(values)
    except ValidationError as exc:
        errors = [
            {
                "parameter": ".".join(str(p) for p in err["loc"]),
                "code": err["type"],
                "detail": err["msg"],
            }
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise BadRequest("A query parameter is not valid.", errors=errors) from None
