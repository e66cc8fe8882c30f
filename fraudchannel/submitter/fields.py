"""The report item as the submitter knows it (schema v1): target kinds and their fields, the
local checks of an item, and JSON Pointers into it.
"""

from __future__ import annotations

from typing import Any, Final

MAX_EXPLANATION: Final = 2000


# Target kinds and their fields (fraudchannel.models, report schema v1).
TARGET_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "url": ("url",),
    "platform_account": ("handle", "account_id", "profile_url"),
    "phone": ("number", "region"),
    "email": ("address",),
    "uk_bank_account": ("sort_code", "account_number"),
    "iban": ("iban",),
    "crypto_wallet": ("chain", "address"),
    "payment_handle": ("provider", "handle"),
}


# What a target needs: each inner tuple is "one of these" (platform_account: any identifier).
TARGET_REQUIRED: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "url": (("url",),),
    "platform_account": (("handle", "account_id", "profile_url"),),
    "phone": (("number",),),
    "email": (("address",),),
    "uk_bank_account": (("sort_code",), ("account_number",)),
    "iban": (("iban",),),
    "crypto_wallet": (("address",),),
    "payment_handle": (("provider",), ("handle",)),
}


# The field a plain list's value goes to, per target kind (none: a plain list cannot carry it).
PRIMARY_FIELD: Final[dict[str, str]] = {
    "url": "url",
    "platform_account": "handle",
    "phone": "number",
    "email": "address",
    "iban": "iban",
    "crypto_wallet": "address",
    "payment_handle": "handle",
}


ITEM_FIELDS: Final = frozenset(
    {
        "client_ref",
        "scam_type",
        "explanation",
        "legal_ground",
        "observed_at",
        "impersonated_brand",
        "victim_loss",
        "victim_loss.amount_minor",
        "victim_loss.currency",
        "victim_count",
        "confidence",
        "evidence",
        "related",
    }
)


INT_FIELDS: Final = frozenset({"victim_loss.amount_minor", "victim_count"})


def pointer(path: str) -> str:
    """Return the JSON Pointer (RFC 6901) of dotted item field `path`."""
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path.split("."))


def relative_pointer(ptr: Any, index: int) -> str:
    """Return `ptr` with its "/reports/<index>" prefix removed (a pointer into the item)."""
    text = str(ptr or "")
    prefix = f"/reports/{index}"
    if text == prefix or text.startswith(prefix + "/"):
        return text[len(prefix) :]
    return text


def local_error(ptr: str, code: str, detail: str = "") -> dict[str, str]:
    """Return an error entry shaped like the service's: {pointer, code, detail}."""
    return {"pointer": ptr, "code": code, "detail": detail or code.removeprefix("local.")}


def check_item(item: dict[str, Any]) -> list[dict[str, str]]:
    """Return the local errors of `item`: a missing required field, an over-long explanation.

    Everything else is the service's to judge (it validates each item on its own); `--dry-run`
    also applies the schema itself (see `schema_errors`).
    """
    target = item.get("target")
    if not isinstance(target, dict) or target.get("type") not in TARGET_REQUIRED:
        return [local_error("/target/type", "local.missing_value", "no target of a known type")]
    errors: list[dict[str, str]] = []
    for group in TARGET_REQUIRED[target["type"]]:
        if all(target.get(f) in (None, "") for f in group):
            path = "target." + group[0]
            errors.append(
                local_error(pointer(path), "local.missing_value", f"no {' or '.join(group)}")
            )
    for path in ("scam_type", "explanation"):
        if item.get(path) in (None, ""):
            errors.append(local_error(pointer(path), "local.missing_value", f"no {path}"))
    explanation = item.get("explanation")
    if isinstance(explanation, str) and len(explanation) > MAX_EXPLANATION:
        errors.append(
            local_error("/explanation", "local.too_long", f"longer than {MAX_EXPLANATION} chars")
        )
    return errors


def schema_errors(item: dict[str, Any]) -> list[dict[str, str]]:
    """Return `item`'s errors against the report schema v1 (the service's own model).

    Used by `--dry-run` only: a real run leaves judging to the service, whose schema version is
    the one that counts. Pointers are relative to the item; codes are pydantic's.
    """
    from fraudchannel.models import validate_item

    result = validate_item(0, item)
    if not isinstance(result, list):
        return []
    return [{**e, "pointer": relative_pointer(e["pointer"], 0)} for e in result]
