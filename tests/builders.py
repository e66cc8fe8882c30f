"""Builders of report items and batches (schema v1) shared by the ingest and API tests."""

from __future__ import annotations

import uuid
from typing import Any


def host() -> str:
    """Return a fresh scam-looking host name, unique per call."""
    return f"evil-{uuid.uuid4().hex[:12]}.co.uk"


def url_item(ref: str, url: str, **over: Any) -> dict[str, Any]:
    """Return a valid phishing report of `url` with client_ref `ref`, fields in `over` replaced."""
    doc: dict[str, Any] = {
        "client_ref": ref,
        "target": {"type": "url", "url": url},
        "scam_type": "phishing",
        "explanation": "Imitates the bank's login page.",
    }
    doc.update(over)
    return doc


def mixed_items() -> list[dict[str, Any]]:
    """Return four items on a fresh host that get every kind of answer in one batch: a new
    ticket, a refusal (not a URL), a repeated client_ref, and a link (the http form of the
    first URL is the same target)."""
    h = host()
    return [
        url_item("a", f"https://{h}/login"),
        url_item("b", "::"),  # refused: not a URL
        url_item("a", f"https://{h}/login"),  # the same client_ref again
        url_item("c", f"http://{h}/login"),  # the same target as "a"
    ]


def batch(items: list[Any], **over: Any) -> dict[str, Any]:
    """Return a batch envelope around `items`, fields in `over` replaced."""
    doc: dict[str, Any] = {
        "schema_version": "1",
        "submitter": {"name": "Ann Analyst", "email": "ann@bank.example"},
        "good_faith": True,
        "reports": items,
    }
    doc.update(over)
    return doc
