"""The closed vocabularies the API shares: target types, report outcomes, ticket states.

One definition each, as `Literal` types for the pydantic models (fraudchannel.models,
fraudchannel.api_models, fraudchannel.report_query) and as tuples/sets for the code; the database
enums (sql/migrations/0002_reports.sql: target_kind, report_outcome, ticket_state) hold the
same values, which tests/unit/test_terms.py checks.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

TargetType = Literal[
    "url",
    "platform_account",
    "phone",
    "email",
    "uk_bank_account",
    "iban",
    "crypto_wallet",
    "payment_handle",
]
# What storing a report did (reports.outcome).
StoredOutcome = Literal["new_ticket", "linked_to_open_ticket", "recurrence_after_action"]
# What a batch's answer says of an item: a stored outcome, or a client_ref stored before.
Outcome = Literal[
    "new_ticket", "linked_to_open_ticket", "recurrence_after_action", "duplicate_of_own_report"
]
# A ticket's lifecycle (DESIGN: Tickets): open, in_review, needs_info, appealed; then decided.
TicketStatus = Literal["open", "in_review", "needs_info", "appealed", "actioned", "no_action"]

TARGET_TYPES: Final[frozenset[str]] = frozenset(get_args(TargetType))
OUTCOMES: Final[tuple[str, ...]] = get_args(Outcome)
TICKET_STATES: Final[tuple[str, ...]] = get_args(TicketStatus)
