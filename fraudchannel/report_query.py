"""The query parameters of GET /v1/reports and GET /v1/report-batches as pydantic models:
filters, cursor and page size.

Read leniently as text (query strings have no types), but every value is checked: a filter
outside its closed vocabulary (fraudchannel.terms) or a malformed instant is a 400 problem with
the parameter named (fraudchannel.parsing.parse_query).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from fraudchannel.field_types import ClientRef, Rfc3339
from fraudchannel.taxonomy import ScamType
from fraudchannel.terms import StoredOutcome, TargetType, TicketStatus


def _decimal_digits(value: Any) -> Any:
    # int("1_0") == 10 and int(" 5") == 5: a query integer is plain ASCII digits only.
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,9}", value):
        raise PydanticCustomError("int_parsing", "Input should be a decimal integer (digits only)")
    return value


# The `after` of a `next` link: base64url text, opaque to the client (fraudchannel.reports).
Cursor = Annotated[str, StringConstraints(max_length=200, pattern=r"^[A-Za-z0-9_=-]+$")]
PageSize = Annotated[int, BeforeValidator(_decimal_digits)]


class ReportQuery(BaseModel):
    """Filters and cursor of GET /v1/reports (query parameters, read leniently as text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_type: TargetType | None = Field(
        None, description="Only reports whose target is of this type."
    )
    scam_type: ScamType | None = Field(None, description="Only reports of this scam type.")
    outcome: StoredOutcome | None = Field(None, description="Only reports with this outcome.")
    status: TicketStatus | None = Field(
        None, description="Only reports whose ticket is in this state."
    )
    created_after: Rfc3339 | None = Field(
        None, description="Only reports stored at or after this instant (RFC 3339, with offset)."
    )
    created_before: Rfc3339 | None = Field(
        None, description="Only reports stored before this instant (RFC 3339, with offset)."
    )
    client_ref: ClientRef | None = Field(None, description="Only the report of this client_ref.")
    after: Cursor | None = Field(
        None, description="The cursor of a `next` link: the page after it."
    )
    limit: PageSize = Field(100, ge=1, le=1000, description="Most reports on the page.")


class BatchQuery(BaseModel):
    """Filters and cursor of GET /v1/report-batches (query parameters, read leniently as text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    received_after: Rfc3339 | None = Field(
        None, description="Only batches received at or after this instant (RFC 3339, with offset)."
    )
    received_before: Rfc3339 | None = Field(
        None, description="Only batches received before this instant (RFC 3339, with offset)."
    )
    after: Cursor | None = Field(
        None, description="The cursor of a `next` link: the page after it."
    )
    limit: PageSize = Field(100, ge=1, le=1000, description="Most batches on the page.")
