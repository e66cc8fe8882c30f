"""The shared canonicalisation cases (tests/unit/data/canonical_cases.jsonl), one test per id.

The file is a copy of shared/cases/canonical_cases.jsonl so that a fresh clone can run it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fraudchannel.canonical import (
    InvalidTarget,
    canonical_crypto,
    canonical_host,
    canonical_iban,
    canonical_phone,
    canonical_url,
)

CASES_FILE = Path(__file__).parent / "data" / "canonical_cases.jsonl"
CASES: dict[str, dict[str, Any]] = {
    case["id"]: case
    for case in map(json.loads, CASES_FILE.read_text(encoding="utf-8").splitlines())
}


def _registrable(raw: str) -> str | None:
    return canonical_url(raw).registrable_domain


# What each kind compares ("shown") and what expect_same_as compares ("key").
SHOWN: dict[str, Callable[[str], str | None]] = {
    "url": lambda raw: canonical_url(raw).canonical,
    "domain": canonical_host,
    "registrable_domain": _registrable,
    "iban": canonical_iban,
    "phone": canonical_phone,
    "crypto": canonical_crypto,
}
KEY: dict[str, Callable[[str], str | None]] = {**SHOWN, "url": lambda raw: canonical_url(raw).key}


def test_the_cases_file_is_read_whole() -> None:
    assert len(CASES) == 36
    assert {case["kind"] for case in CASES.values()} <= SHOWN.keys()


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_case(case_id: str) -> None:
    case = CASES[case_id]
    shown = SHOWN[case["kind"]]
    if case["expected"] == "REJECT":
        with pytest.raises(InvalidTarget):
            shown(case["input"])
    else:
        assert shown(case["input"]) == case["expected"], case["note"]


@pytest.mark.parametrize(
    "case_id", sorted(case_id for case_id, case in CASES.items() if case.get("expect_same_as"))
)
def test_same_target_as(case_id: str) -> None:
    case = CASES[case_id]
    other = CASES[case["expect_same_as"]]
    key = KEY[case["kind"]]
    assert key(case["input"]) == key(other["input"])


@pytest.mark.parametrize(
    "case_id", sorted(case_id for case_id, case in CASES.items() if case["expected"] != "REJECT")
)
def test_case_output_is_a_fixed_point(case_id: str) -> None:
    case = CASES[case_id]
    shown = SHOWN[case["kind"]]
    if case["kind"] == "registrable_domain":
        assert canonical_url(case["expected"]).registrable_domain == case["expected"]
    elif case["kind"] == "crypto":
        assert canonical_crypto(case["expected"]) == case["expected"]
    else:
        assert shown(case["expected"]) == case["expected"]
