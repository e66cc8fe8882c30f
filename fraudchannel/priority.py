"""Ticket priority: an explained score 0-100, its band P1-P4 and the band's decision deadline.

Pure rules, no I/O (DESIGN: Tickets). Trusted flaggers' notices are decided with priority and
without undue delay (DSA Art 22(1)); the score orders the platform's queue and every point in it
carries a reason. The ticket-queue work refines the weights; the shape stays.

    score = 10 (base)
          + most trusted reporting org's tier    (tier 1: 25, tier 2: 15, tier 3: 5)
          + 6 per further distinct reporting org (at most 24)
          + largest single loss, major units     (>=100: 4, >=1k: 8, >=10k: 12, >=100k: 16)
          + victims reported in total            (>=2: 4, >=10: 8, >=100: 12)
          + most severe scam type reported       (SCAM_TYPE_POINTS, 0..10)
          + target the platform can act on       (url, platform_account: 5)
          + age of the first report              (>=24 h: 3, >=72 h: 6)
    clamped to 0..100; band P1 >= 70, P2 >= 50, P3 >= 30, else P4.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final, TypedDict

from pydantic_core import to_json

BASE: Final = 10
TRUST_TIER_POINTS: Final[dict[int, int]] = {1: 25, 2: 15, 3: 5}
EXTRA_ORG_POINTS: Final = 6
EXTRA_ORG_CAP: Final = 24
LOSS_STEPS: Final[tuple[tuple[int, int], ...]] = ((100_000, 16), (10_000, 12), (1_000, 8), (100, 4))
VICTIM_STEPS: Final[tuple[tuple[int, int], ...]] = ((100, 12), (10, 8), (2, 4))
AGE_STEPS: Final[tuple[tuple[timedelta, int], ...]] = (
    (timedelta(hours=72), 6),
    (timedelta(hours=24), 3),
)
SCAM_TYPE_POINTS: Final[dict[str, int]] = {
    "impersonation_police": 10,
    "impersonation_bank": 10,
    "impersonation_government": 10,
    "investment": 9,
    "crypto_investment": 9,
    "phishing": 8,
    "romance": 8,
    "money_mule_recruitment": 8,
    "invoice_mandate": 8,
    "impersonation_other": 6,
    "advance_fee": 6,
    "fake_shop": 5,
    "purchase": 5,
    "ticket": 5,
    "job": 5,
    "other": 0,
}
ACTIONABLE_KINDS: Final[frozenset[str]] = frozenset({"url", "platform_account"})
ACTIONABLE_POINTS: Final = 5
BANDS: Final[tuple[tuple[int, str], ...]] = ((70, "P1"), (50, "P2"), (30, "P3"), (0, "P4"))
# Indicative time to decision per band: the SLA the platform's queue works to, and what a
# reporter is told on receipt (DSA Art 16(4)). Constants until the ticket queue makes them settings.
SLA: Final[dict[str, timedelta]] = {
    "P1": timedelta(hours=4),
    "P2": timedelta(hours=24),
    "P3": timedelta(hours=72),
    "P4": timedelta(days=7),
}


class Reason(TypedDict):
    """One reason behind a score: a slug, the points it adds and a sentence."""

    code: str
    points: int
    detail: str


@dataclass(frozen=True, slots=True)
class Signals:
    """What a ticket's priority is computed from (aggregated over every linked report).

    best_trust_tier: the most trusted reporting org's tier, 1 (highest) .. 3.
    max_loss_major: the largest single reported loss, in major units of its currency.
    first_reported_at, now: timezone-aware.
    """

    best_trust_tier: int
    org_count: int
    max_loss_major: float
    victim_count: int
    scam_types: frozenset[str]
    target_kind: str
    first_reported_at: datetime
    now: datetime


@dataclass(frozen=True, slots=True)
class Priority:
    """A score 0..100, its band, and the reasons: `[{"code", "points", "detail"}]`.

    `reasons_json` is `reasons` as compact JSON text (what tickets.priority_reasons stores).
    """

    score: int
    band: str
    reasons: tuple[Reason, ...]
    reasons_json: str

    @property
    def sla(self) -> timedelta:
        """Return the band's indicative time to decision."""
        return SLA[self.band]


def _bucket(value: float, steps: Iterable[tuple[int, int]]) -> int:
    """Return the highest threshold of `steps` that `value` reaches, 0 when none."""
    for threshold, _points in steps:
        if value >= threshold:
            return threshold
    return 0


def band_of(score: int) -> str:
    """Return the band ("P1".."P4") of a score 0..100."""
    for floor, band in BANDS:
        if score >= floor:
            return band
    return "P4"


def score(s: Signals) -> Priority:
    """Return the priority of a ticket with signals `s` (the formula is in the module docstring)."""
    waited = s.now - s.first_reported_at
    age = next((limit for limit, _points in AGE_STEPS if waited >= limit), timedelta(0))
    loss = _bucket(s.max_loss_major, LOSS_STEPS)
    victims = _bucket(s.victim_count, VICTIM_STEPS)
    # Signals fall into few buckets: scores are memoised on the buckets (a batch scores
    # thousands of tickets).
    return _score(s.best_trust_tier, s.org_count, loss, victims, s.scam_types, s.target_kind, age)


@lru_cache(maxsize=8192)
def _score(
    tier: int,
    org_count: int,
    loss: int,
    victims: int,
    scam_types: frozenset[str],
    target_kind: str,
    age: timedelta,
) -> Priority:
    reasons: list[Reason] = [{"code": "base", "points": BASE, "detail": "base score"}]

    def add(code: str, points: int, detail: str) -> None:
        if points:
            reasons.append({"code": code, "points": points, "detail": detail})

    add(
        "trust_tier",
        TRUST_TIER_POINTS.get(tier, 0),
        f"reported by a trust tier {tier} organisation",
    )
    add(
        "several_orgs",
        min(EXTRA_ORG_POINTS * max(org_count - 1, 0), EXTRA_ORG_CAP),
        f"reported by {org_count} distinct organisations",
    )
    add(
        "victim_loss",
        dict(LOSS_STEPS).get(loss, 0),
        f"a reported loss of at least {loss:,} (major units)",
    )
    add("victims", dict(VICTIM_STEPS).get(victims, 0), f"at least {victims:,} victims reported")
    worst = max(scam_types, key=lambda t: (SCAM_TYPE_POINTS.get(t, 0), t), default=None)
    if worst is not None:
        add("scam_type", SCAM_TYPE_POINTS.get(worst, 0), f"scam type {worst}")
    if target_kind in ACTIONABLE_KINDS:
        add("actionable_target", ACTIONABLE_POINTS, f"a {target_kind} the platform can act on")
    hours = age.total_seconds() / 3600
    add("waiting", dict(AGE_STEPS).get(age, 0), f"first reported over {hours:.0f} h ago")
    total = max(0, min(100, sum(r["points"] for r in reasons)))
    frozen = tuple(reasons)
    return Priority(total, band_of(total), frozen, to_json(frozen).decode())
