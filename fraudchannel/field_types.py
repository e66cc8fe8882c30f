"""The bounded field types of the report schema v1 (pydantic v2 annotated types).

Every string is bounded and NUL-free (PostgreSQL text cannot store NUL); free text a person
writes is also never only white space (`Prose*`). Date-times are RFC 3339 with an offset, never
guessed from numbers, and representable in UTC. fraudchannel.pointers turns their failures into
`{pointer, code, detail}`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from fraudchannel.iso4217 import CURRENCIES
from fraudchannel.pointers import NUL_FREE, PROSE

# Printable ASCII, no leading or trailing space: safe in logs, URLs and spreadsheets.
CLIENT_REF_PATTERN: Final = r"^[!-~](?:[ -~]*[!-~])?$"

Text32 = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=NUL_FREE)]
Text64 = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NUL_FREE)]
Text128 = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NUL_FREE)]
Text256 = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=NUL_FREE)]
Text320 = Annotated[str, StringConstraints(min_length=1, max_length=320, pattern=NUL_FREE)]
UrlText = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=NUL_FREE)]
# What a person writes (names, explanations): also never empty of visible characters.
Prose200 = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=PROSE)]
Prose500 = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=PROSE)]
Prose1000 = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=PROSE)]
Prose2000 = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=PROSE)]
ClientRef = Annotated[
    str,
    StringConstraints(max_length=128, pattern=CLIENT_REF_PATTERN),
    Field(description="The reporter's own id of this report, unique per organisation."),
]


def _known_currency(code: str) -> str:
    if code not in CURRENCIES:
        raise PydanticCustomError("currency_unknown", "not an ISO 4217 currency code in use")
    return code


def _true_boolean(value: Any) -> Any:
    # Literal[True] alone matches 1 and 1.0 (1 == True): a boolean must be a JSON boolean.
    if not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "Input should be a valid boolean")
    return value


TrueBoolean = Annotated[Literal[True], BeforeValidator(_true_boolean)]

# An RFC 3339 date-time starts with its full-date; pydantic explains every other flaw precisely.
_RFC3339_START: Final = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _rfc3339_text(value: Any) -> Any:
    # Lax datetimes read numbers (and digit strings) as Unix seconds: a guess (s or ms?).
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339_START.match(value):
        raise PydanticCustomError(
            "datetime_format", "Input should be an RFC 3339 date-time with an offset"
        )
    return value


# observed_at: no report is of something seen before the Unix epoch, or after receipt (the clocks
# of reporter and service may differ by minutes; a wrong offset is hours, and is refused).
OBSERVED_FROM: Final = datetime(1970, 1, 1, tzinfo=UTC)
OBSERVED_LEEWAY: Final = timedelta(minutes=15)


def _observed_plausible(value: datetime) -> datetime:
    if value < OBSERVED_FROM:
        raise PydanticCustomError(
            "observed_at_too_early", "observed_at lies before 1970-01-01T00:00:00Z"
        )
    if value > datetime.now(UTC) + OBSERVED_LEEWAY:
        raise PydanticCustomError(
            "observed_at_in_future",
            "observed_at lies in the future (more than 15 minutes after the service's clock): "
            "check the UTC offset",
        )
    return value


def _utc_representable(value: datetime) -> datetime:
    # "0001-01-01T00:00:00+14:00" parses, but its UTC instant lies before year 1: neither Python
    # nor the database driver can store it.
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range", "The instant in UTC lies outside years 1 to 9999"
        ) from None
    return value


Rfc3339 = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_text),
    AfterValidator(_utc_representable),
    Field(strict=False),
]


Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_known_currency),
    Field(json_schema_extra={"enum": sorted(CURRENCIES)}),
]


ObservedAt = Annotated[Rfc3339, AfterValidator(_observed_plausible)]
