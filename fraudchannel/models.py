"""Wire models of the report schema v1 (pydantic v2) and the JSON Schema documents built from them.

Strict by design: unknown members are refused (`extra="forbid"`), every string is bounded and may
not hold NUL (PostgreSQL text cannot store it), numbers are never read from strings, and
timestamps must carry a UTC offset (the field types: fraudchannel.field_types).
fraudchannel.parsing reads requests into these models with RFC 6901 pointers on every error;
`SCHEMA_DOCUMENTS` feeds `make schemas` (fraudchannel.schemas).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fraudchannel.field_types import (
    ClientRef,
    Currency,
    ObservedAt,
    Prose200,
    Prose500,
    Prose1000,
    Prose2000,
    Text32,
    Text64,
    Text128,
    Text256,
    Text320,
    TrueBoolean,
    UrlText,
)
from fraudchannel.pointers import pointer_errors
from fraudchannel.settings import Settings
from fraudchannel.taxonomy import ScamType

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE: Final = "https://fraudchannel.example/schemas/"
BATCH_SCHEMA_FILE: Final = "report-batch.v1.schema.json"
DEFAULT_MAX_REPORTS: Final[int] = Settings.model_fields["max_batch_reports"].default
MAX_RELATED: Final = 10
MAX_EVIDENCE: Final = 10


class _Wire(BaseModel):
    """Base of every wire model: strict, closed, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ---- targets: a discriminated union on `type` -------------------------------------------------


class UrlTarget(_Wire):
    """A web page or site: any absolute URL, defanged forms ("hxxp", "[.]") accepted."""

    type: Literal["url"]
    url: UrlText

    def fields(self) -> dict[str, str | None]:
        """Return the fields canonicalisation reads."""
        return {"url": self.url}


class PlatformAccountTarget(_Wire):
    """An account on the platform: its handle, its numeric id or its profile URL (one at least)."""

    type: Literal["platform_account"]
    handle: Text256 | None = None
    account_id: Text128 | None = None
    profile_url: UrlText | None = None

    @model_validator(mode="after")
    def _one_identifier(self) -> PlatformAccountTarget:
        if self.handle is None and self.account_id is None and self.profile_url is None:
            raise PydanticCustomError(
                "identifier_missing", "give at least one of handle, account_id, profile_url"
            )
        return self

    def fields(self) -> dict[str, str | None]:
        """Return the fields canonicalisation reads."""
        return {
            "handle": self.handle,
            "account_id": self.account_id,
            "profile_url": self.profile_url,
        }


class PhoneTarget(_Wire):
    """A telephone number; `region` (ISO 3166-1 alpha-2) reads national forms, default GB."""

    type: Literal["phone"]
    number: Text64
    region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None

    def fields(self) -> dict[str, str | None]:
        """Return the fields canonicalisation reads."""
        return {"number": self.number, "region": self.region}


class EmailTarget(_Wire):
    """An e-mail address used by the scam."""

    type: Literal["email"]
    address: Text320

    def fields(self) -> dict[str, str | None]:
        """Return the fields canonicalisation reads."""
        return {"address": self.address}


class UkBankAccountTarget(_Wire):
    """A UK bank account: sort code ("12-34-56") and account number ("12345678")."""

    type: Literal["uk_bank_account"]
    sort_code: Text32
    account_number: Text32

    def fields(self) -> dict[str, str | None]:
        """Return the fields canonicalisation reads."""
        return {"sort_code": self.sort_code, "account_number": self.account_number}


class IbanTarget(_Wire):
    """An IBAN (ISO 13616), spaces allowed; a GB IBAN is the same target as its UK account."""

    type: Literal["iban"]
    iban: Text64

    def fields(self) -> dict[str, str | None]:
        """Return the fields canonicalisation reads."""
        return {"iban": self.iban}


class CryptoWalletTarget(_Wire):
    """A crypto-asset address; `chain` ("bitcoin", "ethereum", ...) helps read it."""

    type: Literal["crypto_wallet"]
    chain: Text32 | None = None
    address: Text128

    def fields(self) -> dict[str, str | None]:
        """Return the fields canonicalisation reads."""
        return {"chain": self.chain, "address": self.address}


class PaymentHandleTarget(_Wire):
    """A handle on a payment service ("paypal", "revolut", "venmo", ...)."""

    type: Literal["payment_handle"]
    provider: Text64
    handle: Text256

    def fields(self) -> dict[str, str | None]:
        """Return the fields canonicalisation reads."""
        return {"provider": self.provider, "handle": self.handle}


AnyTarget = (
    UrlTarget
    | PlatformAccountTarget
    | PhoneTarget
    | EmailTarget
    | UkBankAccountTarget
    | IbanTarget
    | CryptoWalletTarget
    | PaymentHandleTarget
)
Target = Annotated[AnyTarget, Field(discriminator="type")]
# The field an InvalidTarget points at, per target type (None: the target as a whole).
PRIMARY_FIELD: Final[dict[str, str | None]] = {
    "url": "url",
    "platform_account": None,
    "phone": "number",
    "email": "address",
    "uk_bank_account": None,
    "iban": "iban",
    "crypto_wallet": "address",
    "payment_handle": "handle",
}


# ---- the rest of an item --------------------------------------------------------------------


class VictimLoss(_Wire):
    """Money victims lost, in minor units of an ISO 4217 currency (pence for GBP)."""

    amount_minor: int = Field(ge=0, le=10**15)
    currency: Currency


class Evidence(_Wire):
    """One piece of evidence the reporter holds: its SHA-256 and/or where it can be fetched."""

    kind: Literal[
        "screenshot",
        "web_archive",
        "html",
        "email",
        "sms",
        "chat",
        "call_recording",
        "transaction",
        "document",
        "other",
    ]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    uri: (
        Annotated[
            str,
            StringConstraints(max_length=2048, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:[^\x00\s]+$"),
        ]
        | None
    ) = None
    description: Prose1000 | None = None

    @model_validator(mode="after")
    def _locatable(self) -> Evidence:
        if self.sha256 is None and self.uri is None:
            raise PydanticCustomError("evidence_unlocatable", "give sha256, uri or both")
        return self


class ReportItem(_Wire):
    """One notice (DSA Art 16(2)): what is reported, why it is illegal, and the reporter's facts.

    `confidence` is the reporter's own categorical judgement (low/medium/high) rather than a
    probability, which reporters cannot calibrate alike.
    """

    client_ref: ClientRef
    target: Target
    related: list[Target] | None = Field(
        None,
        max_length=MAX_RELATED,
        description="Other targets behind the same scam (they are stored, not ticketed).",
    )
    scam_type: ScamType
    explanation: Prose2000 = Field(
        description="Why the target is illegal: a sufficiently substantiated explanation "
        "(DSA Art 16(2)(a))."
    )
    legal_ground: Prose500 | None = Field(
        None, description="Law breached, e.g. 'Fraud Act 2006 s2'."
    )
    observed_at: ObservedAt | None = Field(
        None,
        description="When the reporter saw it (RFC 3339 with offset): from 1970 up to 15 "
        "minutes after receipt.",
    )
    impersonated_brand: Prose200 | None = None
    victim_loss: VictimLoss | None = None
    victim_count: int | None = Field(None, ge=0, le=1_000_000_000)
    confidence: Literal["low", "medium", "high"] | None = None
    evidence: list[Evidence] | None = Field(None, max_length=MAX_EVIDENCE)


class Submitter(_Wire):
    """The individual submitting on the organisation's behalf (DSA Art 16(2)(c))."""

    name: Prose200
    email: EmailStr = Field(max_length=320)


class _Envelope(_Wire):
    schema_version: Literal["1"]
    submitter: Submitter
    good_faith: TrueBoolean = Field(
        description="The submitter's bona fide statement that the notice is accurate and "
        "complete (DSA Art 16(2)(d)); must be true."
    )


class ReportBatch(_Envelope):
    """A batch of fraud reports from one trusted organisation (fraudchannel schema v1)."""

    reports: list[ReportItem] = Field(min_length=1, max_length=DEFAULT_MAX_REPORTS)


class RawBatch(_Envelope):
    """The envelope with its items still raw JSON values (each validated later on its own)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, title="ReportBatch")

    reports: list[Any] = Field(min_length=1)


_validate_item: Final = ReportItem.__pydantic_validator__.validate_python


def validate_item(index: int, raw: Any) -> ReportItem | list[dict[str, str]]:
    """Return item `index` of a batch as a ReportItem, or its errors (pointers from the body)."""
    try:
        item: ReportItem = _validate_item(raw)
    except ValidationError as exc:
        return pointer_errors(exc, f"/reports/{index}")
    return item


# ---- committed JSON Schema documents ---------------------------------------------------------


def report_batch_schema() -> dict[str, Any]:
    """Return the JSON Schema (2020-12) of a report batch, with `$schema` and `$id`."""
    doc = ReportBatch.model_json_schema(mode="validation")
    return {"$schema": DIALECT, "$id": SCHEMA_BASE + BATCH_SCHEMA_FILE, **doc}


SCHEMA_DOCUMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    BATCH_SCHEMA_FILE: report_batch_schema,
}
