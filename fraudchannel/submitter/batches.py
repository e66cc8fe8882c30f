"""Batches, request bodies and Idempotency-Keys (deterministic, so a re-run doubles nothing)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fraudchannel.submitter.items import Prepared

MAX_BATCH: Final = 10_000


KEY_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(slots=True)
class Batch:
    """Up to `--batch-size` items plus the local rejects read alongside them, in input order."""

    index: int
    records: list[Prepared]

    @property
    def items(self) -> list[Prepared]:
        """Return the records that will be sent (those without local errors)."""
        return [p for p in self.records if p.item is not None]


def make_batches(prepared: Iterable[Prepared], size: int) -> Iterator[Batch]:
    """Yield batches of at most `size` sendable items; local rejects travel with their batch.

    The last batch may hold only local rejects (nothing to send). Indexes count from 0.
    """
    index, count = 0, 0
    records: list[Prepared] = []
    for p in prepared:
        if p.item is not None and count == size:
            yield Batch(index, records)
            index, records, count = index + 1, [], 0
        records.append(p)
        if p.item is not None:
            count += 1
    if records:
        yield Batch(index, records)


def envelope(
    submitter_name: str, submitter_email: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return the batch body (schema v1): submitter (DSA Art 16(2)(c)), good faith (16(2)(d))."""
    return {
        "schema_version": "1",
        "submitter": {"name": submitter_name, "email": submitter_email},
        "good_faith": True,
        "reports": items,
    }


def encode_body(body: dict[str, Any]) -> bytes:
    """Return `body` as compact UTF-8 JSON with sorted keys: the same bytes on every run."""
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def source_identity(path: str, run_label: str = "") -> str:
    """Return the input's part of its Idempotency-Keys: "[<run_label>.]<file name>".

    The file name is "stdin" for "-"; characters outside [A-Za-z0-9._-] become "_"; at most 40
    characters of label and 64 of name are kept.
    """
    name = "stdin" if path == "-" else KEY_SAFE.sub("_", Path(path).name).strip("_") or "input"
    label = KEY_SAFE.sub("_", run_label).strip("_")[:40]
    return f"{label}.{name[:64]}" if label else name[:64]


def idempotency_key(source: str, index: int, body: bytes) -> str:
    """Return the batch's Idempotency-Key: "fcsubmit.<source>.<index>.<sha256(body)>".

    Deterministic, so a re-run sends the same key with the same body and the service answers its
    stored result; printable ASCII, at most 9 + 105 + 1 + 10 + 1 + 64 = 190 chars (limit: 200).
    """
    digest = hashlib.sha256(body).hexdigest()
    return f"fcsubmit.{KEY_SAFE.sub('_', source)[:105]}.{index}.{digest}"
