"""Preparing a batch's notices for storage: per-item validation, canonical targets, and in-batch
duplicates collapsed. Pure (no I/O); `fraudchannel.ingest` stores what this returns.

Rules (DESIGN: The report schema; Canonicalisation and deduplication):
- each item is validated on its own; a bad item gets `{index, client_ref?, errors}` with RFC 6901
  pointers into the request, and the good items go on;
- a target that cannot be canonicalised is an error of its item (`/reports/i/target/...`);
- two valid items of one batch with the same `client_ref`: the first is the notice, each later
  one is answered `duplicate_of_own_report` of it (as if re-sent in a later batch) and stores
  nothing, whatever its content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import jiter
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from fraudchannel.canonical import CanonicalTarget, InvalidTarget, canonical_target
from fraudchannel.canonical.url import canonical_url
from fraudchannel.iso4217 import minor_units
from fraudchannel.models import (
    PRIMARY_FIELD,
    AnyTarget,
    RawBatch,
    ReportItem,
    UrlTarget,
    validate_item,
)
from fraudchannel.parsing import gc_paused

# Items are validated a chunk at a time in one call (a third cheaper than one call per item,
# measured); a chunk holding a bad item is validated again item by item, for its pointers.
_validate_items = TypeAdapter(list[ReportItem]).validate_python
CHUNK = 1000  # items per prepare step: about 20-40 ms of CPU

ItemError = dict[str, str]  # {pointer, code, detail}
TargetIdent = tuple[str, bytes]  # (kind, sha256 of key): the dedup identity of a target


@dataclass(frozen=True, slots=True)
class Target:
    """A canonical target and its identity as the targets table indexes it."""

    canonical: CanonicalTarget
    ident: TargetIdent


def shown_target(kind: str, canonical: str, registrable_domain: str | None) -> dict[str, str]:
    """Return {type, canonical, registrable_domain?} (the domain only when there is one)."""
    shown = {"type": kind, "canonical": canonical}
    if registrable_domain:
        shown["registrable_domain"] = registrable_domain
    return shown


@dataclass(slots=True)
class Notice:
    """One valid item to store: its position, raw JSON text and canonical targets.

    loss_major: the reported loss in major units of its currency (None when not given).
    target_evidence: canonicalisation's evidence as JSON text (UTF-8), None when there is none.
    Both are computed here, outside the ingest transaction.
    """

    index: int
    item: InitVar[ReportItem]  # read into the fields below, not kept (a large batch's memory)
    body: bytes  # the item as sent, re-serialised from its parsed JSON value (UTF-8 JSON text)
    target: Target
    related: list[Target]
    client_ref: str = field(init=False)
    scam_type: str = field(init=False)
    victim_count: int | None = field(init=False)
    observed_at: datetime | None = field(init=False)
    loss_major: float | None = field(init=False)
    target_evidence: bytes | None = field(init=False)

    def __post_init__(self, item: ReportItem) -> None:
        self.client_ref = item.client_ref
        self.scam_type = item.scam_type
        self.victim_count = item.victim_count
        self.observed_at = item.observed_at
        loss = item.victim_loss
        self.loss_major = (
            None if loss is None else loss.amount_minor / 10.0 ** minor_units(loss.currency)
        )
        evidence = self.target.canonical.evidence
        self.target_evidence = to_json(dict(evidence)) if evidence else None


@dataclass(slots=True)
class Prepared:
    """A batch split into what to store and what to answer without storing.

    notices: valid items, the first valid one of each client_ref, in index order (an invalid
        item stores nothing, so a later valid item with its client_ref is the one stored).
    repeats: {index: index of the earlier notice with the same client_ref}.
    repeat_bodies: {index: the repeat's item as sent (as Notice.body)}, to tell whether it
        differs from the one stored.
    rejected: {index: {index, client_ref?, errors}}.
    """

    size: int
    notices: list[Notice] = field(default_factory=list)
    repeats: dict[int, int] = field(default_factory=dict)
    repeat_bodies: dict[int, bytes] = field(default_factory=dict)
    rejected: dict[int, dict[str, Any]] = field(default_factory=dict)


# Canonical forms of recently reported targets, process-wide: a target reported again in a later
# batch (by any organisation: the point of deduplication) is read once. Canonicalisation is pure,
# so a cached answer is the answer; at ~1 kB an entry, the cache stays under 20 MB.
CANONICAL_CACHE_SIZE = 16_384
_FieldItems = tuple[tuple[str, str | None], ...]


def _canonical_uncached(kind: str, fields: _FieldItems) -> Target | ItemError:
    """Return the Target of one raw target, or its error (pointer left empty); never mutated."""
    return _identified(canonical_target, kind, dict(fields))


def _identified(build: Callable[..., CanonicalTarget], *args: Any) -> Target | ItemError:
    """Return `build(*args)` with its identity, or its rejection as an error (pointer empty)."""
    try:
        ct = build(*args)
    except InvalidTarget as exc:
        return {"pointer": "", "code": exc.code, "detail": exc.detail}
    except ValueError as exc:  # a codec's own error escaping canonicalisation: still input
        return {"pointer": "", "code": "target-invalid", "detail": str(exc)[:200]}
    return Target(ct, (ct.kind, hashlib.sha256(ct.key.encode()).digest()))


_canonical = lru_cache(maxsize=CANONICAL_CACHE_SIZE)(_canonical_uncached)


@lru_cache(maxsize=CANONICAL_CACHE_SIZE)
def _canonical_url(url: str) -> Target | ItemError:
    """`_canonical` of a URL target, cached by the URL alone. A validated UrlTarget's url is a
    non-empty string, all canonical_target("url", ...) would check before canonical_url."""
    return _identified(canonical_url, url)


class _Canonicaliser:
    """canonical_target through the cache, errors pointed at the item's field."""

    def __call__(self, target: AnyTarget, pointer: str) -> Target | ItemError:
        if isinstance(target, UrlTarget):  # the common case, without building a fields tuple
            found = _canonical_url(target.url)
        else:
            found = _canonical(target.type, tuple(target.fields().items()))
        if isinstance(found, dict):
            primary = PRIMARY_FIELD[target.type]
            where = pointer + (f"/{primary}" if primary else "")
            return {"pointer": where, "code": found["code"], "detail": found["detail"]}
        return found


def _client_ref_of(raw: Any) -> str | None:
    """Return a raw item's client_ref when it is a short string (to label an error answer)."""
    ref = raw.get("client_ref") if isinstance(raw, dict) else None
    if isinstance(ref, str) and 0 < len(ref) <= 128 and "\x00" not in ref:
        return ref
    return None


def prepare(batch: RawBatch) -> Prepared:
    """Return the batch's notices, in-batch repeats and rejected items (see module docstring)."""
    preparer = Preparer(batch)
    while not preparer.step():
        pass
    return preparer.result


class Preparer:
    """`prepare` in steps of CHUNK items, so that a caller on the event loop can yield between
    them (a worker thread would not run in parallel anyway, and contends for the GIL).
    """

    def __init__(self, batch: RawBatch) -> None:
        self._raw = batch.reports
        self._done = 0
        self._first_of: dict[str, Notice] = {}
        self._canonical = _Canonicaliser()
        self.result = Prepared(size=len(batch.reports))

    def step(self, size: int = CHUNK) -> bool:
        """Prepare the next `size` items; return True when every item is prepared."""
        start, stop = self._done, min(self._done + size, len(self._raw))
        with gc_paused():
            self._prepare(start, self._raw[start:stop])
        self._done = stop
        return stop >= len(self._raw)

    def _prepare(self, start: int, chunk: list[Any]) -> None:
        out = self.result
        first_of = self._first_of
        canonical = self._canonical
        try:
            checked_items: list[ReportItem | list[ItemError]] = list(_validate_items(chunk))
        except ValidationError:
            checked_items = [validate_item(start + i, raw) for i, raw in enumerate(chunk)]
        for index, raw, checked in zip(
            range(start, start + len(chunk)), chunk, checked_items, strict=True
        ):
            if isinstance(checked, list):
                out.rejected[index] = _rejection(index, raw, checked)
                continue
            base = f"/reports/{index}"
            errors: list[ItemError] = []
            target = canonical(checked.target, base + "/target")
            if isinstance(target, dict):
                errors.append(target)
            related: list[Target] = []
            for j, other in enumerate(checked.related or ()):
                found = canonical(other, f"{base}/related/{j}")
                if isinstance(found, dict):
                    errors.append(found)
                else:
                    related.append(found)
            if errors or isinstance(target, dict):
                out.rejected[index] = _rejection(index, raw, errors)
                continue
            body = to_json(raw)
            earlier = first_of.get(checked.client_ref)
            if earlier is not None:
                out.repeats[index] = earlier.index
                out.repeat_bodies[index] = body
                continue
            notice = Notice(index, checked, body, target, related)
            first_of[checked.client_ref] = notice
            out.notices.append(notice)


def _rejection(index: int, raw: Any, errors: list[ItemError]) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": index}
    ref = _client_ref_of(raw)
    if ref is not None:
        entry["client_ref"] = ref
    entry["errors"] = errors
    return entry


def same_item(sent: bytes, stored: bytes) -> bool:
    """Return whether two items (JSON text, as Notice.body) say the same thing.

    Equal bytes are the common case. Otherwise the JSON values are compared with members whose
    value is null left out (the schema reads null as absent), so member order and spelled-out
    nulls are not "a difference" (`content_differs`); any other change of any value is.
    """
    if sent == stored:
        return True
    try:
        same: bool = _without_nulls(jiter.from_json(sent)) == _without_nulls(
            jiter.from_json(stored)
        )
    except ValueError:  # not JSON: cannot be the same item
        return False
    return same


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
