"""The closed vocabularies of fraudchannel.terms are exactly the database's enums."""

from __future__ import annotations

import asyncpg
import pytest

from fraudchannel import terms


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        ("target_kind", tuple(sorted(terms.TARGET_TYPES))),
        (
            "report_outcome",
            tuple(sorted(o for o in terms.OUTCOMES if o != "duplicate_of_own_report")),
        ),
        ("ticket_state", tuple(sorted(terms.TICKET_STATES))),
    ],
)
async def test_each_vocabulary_is_its_database_enum(
    pool: asyncpg.Pool, enum: str, values: tuple[str, ...]
) -> None:
    labels = await pool.fetchval(f"SELECT enum_range(NULL::{enum})::text[]")
    assert tuple(sorted(labels)) == values
