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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_json

from fraudchannel.canonical import CanonicalTarget, InvalidTarget, canonical_target
from fraudchannel.iso4217 import minor_units
from fraudchannel.models import PRIMARY_FIELD, AnyTarget, RawBatch, ReportItem, validate_item
from fraudchannel.parsing import gc_paused

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
    """One valid item to store: its position, raw JSON text and canonical targets."""

    index: int
    item: ReportItem
    body: str  # the item exactly as sent, re-serialised from its parsed JSON value
    target: Target
    related: list[Target]

    @property
    def client_ref(self) -> str:
        """Return the reporter's id of this notice."""
        return self.item.client_ref

    @property
    def loss_major(self) -> float | None:
        """Return the reported loss in major units of its currency (None when not given)."""
        loss = self.item.victim_loss
        if loss is None:
            return None
        return loss.amount_minor / 10.0 ** minor_units(loss.currency)

    @property
    def target_evidence(self) -> str | None:
        """Return canonicalisation's evidence as JSON text, None when there is none."""
        evidence = self.target.canonical.evidence
        return to_json(dict(evidence)).decode() if evidence else None


@dataclass(slots=True)
class Prepared:
    """A batch split into what to store and what to answer without storing.

    notices: valid items, the first of each client_ref, in index order.
    repeats: {index: index of the earlier notice with the same client_ref}.
    rejected: {index: {index, client_ref?, errors}}.
    """

    size: int
    notices: list[Notice] = field(default_factory=list)
    repeats: dict[int, int] = field(default_factory=dict)
    rejected: dict[int, dict[str, Any]] = field(default_factory=dict)


class _Canonicaliser:
    """canonical_target with a per-batch memo (one target named by many items is read once)."""

    def __init__(self) -> None:
        self.memo: dict[tuple[str, tuple[tuple[str, str | None], ...]], Target | ItemError] = {}

    def __call__(self, target: AnyTarget, pointer: str) -> Target | ItemError:
        fields = target.fields()
        memo_key = (target.type, tuple(fields.items()))
        found = self.memo.get(memo_key)
        if found is None:
            found = self.memo[memo_key] = self._canonical(target.type, fields)
        if isinstance(found, dict):
            primary = PRIMARY_FIELD[target.type]
            where = pointer + (f"/{primary}" if primary else "")
            return {"pointer": where, "code": found["code"], "detail": found["detail"]}
        return found

    @staticmethod
    def _canonical(kind: str, fields: Mapping[str, str | None]) -> Target | ItemError:
        try:
            ct = canonical_target(kind, fields)
        except InvalidTarget as exc:
            return {"pointer": "", "code": exc.code, "detail": exc.detail}
        except ValueError as exc:  # a codec's own error escaping canonicalisation: still input
            return {"pointer": "", "code": "target-invalid", "detail": str(exc)[:200]}
        return Target(ct, (ct.kind, hashlib.sha256(ct.key.encode()).digest()))


def _client_ref_of(raw: Any) -> str | None:
    """Return a raw item's client_ref when it is a short string (to label an error answer)."""
    ref = raw.get("client_ref") if isinstance(raw, dict) else None
    if isinstance(ref, str) and 0 < len(ref) <= 128 and "\x00" not in ref:
        return ref
    return None


def prepare(batch: RawBatch) -> Prepared:
    """Return the batch's notices, in-batch repeats and rejected items (see module docstring)."""
    with gc_paused():
        return _prepare(batch)


def _prepare(batch: RawBatch) -> Prepared:
    out = Prepared(size=len(batch.reports))
    first_of: dict[str, int] = {}
    canonical = _Canonicaliser()
    for index, raw in enumerate(batch.reports):
        checked = validate_item(index, raw)
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
        earlier = first_of.get(checked.client_ref)
        if earlier is not None:
            out.repeats[index] = earlier
            continue
        first_of[checked.client_ref] = index
        out.notices.append(Notice(index, checked, to_json(raw).decode(), target, related))
    return out


def _rejection(index: int, raw: Any, errors: list[ItemError]) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": index}
    ref = _client_ref_of(raw)
    if ref is not None:
        entry["client_ref"] = ref
    entry["errors"] = errors
    return entry
