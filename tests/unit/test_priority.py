"""Ticket priority: an explained score, its band and SLA (pure rules)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fraudchannel import priority
from fraudchannel.priority import Signals, band_of, score

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def signals(**over: object) -> Signals:
    values: dict[str, object] = {
        "best_trust_tier": 2,
        "org_count": 1,
        "max_loss_major": 0.0,
        "victim_count": 0,
        "scam_types": frozenset({"other"}),
        "target_kind": "phone",
        "first_reported_at": NOW,
        "now": NOW,
    }
    values.update(over)
    return Signals(**values)  # type: ignore[arg-type]


def test_minimal_ticket_scores_base_plus_trust() -> None:
    p = score(signals())
    assert p.score == 25
    assert p.band == "P4"
    assert [r["code"] for r in p.reasons] == ["base", "trust_tier"]
    assert p.sla == timedelta(days=7)


def test_points_add_up_and_every_point_has_a_reason() -> None:
    p = score(
        signals(
            best_trust_tier=1,
            org_count=3,
            max_loss_major=12_000.0,
            victim_count=12,
            scam_types=frozenset({"romance", "impersonation_bank"}),
            target_kind="url",
            first_reported_at=NOW - timedelta(hours=30),
        )
    )
    codes = {r["code"]: r["points"] for r in p.reasons}
    assert codes == {
        "base": 10,
        "trust_tier": 25,
        "several_orgs": 12,
        "victim_loss": 12,
        "victims": 8,
        "scam_type": 10,
        "actionable_target": 5,
        "waiting": 3,
    }
    assert p.score == sum(codes.values()) == 85
    assert p.band == "P1"
    assert json.loads(p.reasons_json) == [dict(r) for r in p.reasons]


def test_score_is_clamped_to_100() -> None:
    p = score(
        signals(
            best_trust_tier=1,
            org_count=50,
            max_loss_major=10**9,
            victim_count=10**6,
            scam_types=frozenset({"impersonation_police"}),
            target_kind="platform_account",
            first_reported_at=NOW - timedelta(days=10),
        )
    )
    assert p.score == 100
    assert sum(r["points"] for r in p.reasons) > 100


@pytest.mark.parametrize(
    ("value", "band"), [(0, "P4"), (29, "P4"), (30, "P3"), (49, "P3"), (50, "P2"), (70, "P1")]
)
def test_bands(value: int, band: str) -> None:
    assert band_of(value) == band


def test_more_of_anything_never_lowers_the_score() -> None:
    base = score(signals()).score
    assert score(signals(org_count=2)).score > base
    assert score(signals(max_loss_major=150.0)).score > base
    assert score(signals(victim_count=2)).score > base
    assert score(signals(best_trust_tier=1)).score > base
    assert score(signals(best_trust_tier=3)).score < base
    assert score(signals(first_reported_at=NOW - timedelta(days=4))).score > base


def test_every_scam_type_has_points_and_an_sla_per_band() -> None:
    from fraudchannel.taxonomy import SCAM_TYPES

    assert set(priority.SCAM_TYPE_POINTS) == set(SCAM_TYPES)
    assert set(priority.SLA) == {"P1", "P2", "P3", "P4"}
    assert priority.SLA["P1"] < priority.SLA["P2"] < priority.SLA["P3"] < priority.SLA["P4"]


def test_same_buckets_give_the_same_cached_priority() -> None:
    assert score(signals(max_loss_major=150.0)) is score(signals(max_loss_major=999.0))
