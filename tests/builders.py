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
