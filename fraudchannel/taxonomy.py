"""Scam types of the report schema, mapped to the DSA Transparency Database's vocabulary.

Every `scam_type` a reporter may send falls under the Transparency Database statement category
`STATEMENT_CATEGORY_SCAMS_AND_FRAUD`, refined by one `category_specification` keyword. The keywords
that category allows (DSA Transparency Database API documentation, "Category Specification",
transparency.dsa.ec.europa.eu/page/api-documentation) are exactly:
KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING, KEYWORD_INAUTHENTIC_ACCOUNTS, KEYWORD_INAUTHENTIC_LISTINGS,
KEYWORD_INAUTHENTIC_USER_REVIEWS, KEYWORD_PHISHING, KEYWORD_PYRAMID_SCHEMES and KEYWORD_OTHER (with
a free-text `category_specification_other`). Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

ScamType = Literal[
    "phishing",
    "impersonation_bank",
    "impersonation_police",
    "impersonation_government",
    "impersonation_other",
    "investment",
    "crypto_investment",
    "romance",
    "purchase",
    "fake_shop",
    "advance_fee",
    "invoice_mandate",
    "job",
    "ticket",
    "money_mule_recruitment",
    "other",
]
SCAM_TYPES: Final[tuple[str, ...]] = get_args(ScamType)

STATEMENT_CATEGORY: Final = "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"

# The category_specification values the Transparency Database accepts under SCAMS_AND_FRAUD.
SCAM_KEYWORDS: Final[frozenset[str]] = frozenset(
    {
        "KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING",
        "KEYWORD_INAUTHENTIC_ACCOUNTS",
        "KEYWORD_INAUTHENTIC_LISTINGS",
        "KEYWORD_INAUTHENTIC_USER_REVIEWS",
        "KEYWORD_PHISHING",
        "KEYWORD_PYRAMID_SCHEMES",
        "KEYWORD_OTHER",
    }
)


@dataclass(frozen=True, slots=True)
class TdbClassification:
    """How one scam type is filed in a statement of reasons (DSA Art 17, Art 24(5)).

    `other` is the `category_specification_other` text, set only with KEYWORD_OTHER.
    """

    category: str
    keyword: str
    other: str | None = None


def _other(text: str) -> TdbClassification:
    return TdbClassification(STATEMENT_CATEGORY, "KEYWORD_OTHER", text)


def _kw(keyword: str) -> TdbClassification:
    return TdbClassification(STATEMENT_CATEGORY, keyword)


# Impersonation scams (of a bank, the police, a government body, a payee in invoice/mandate fraud)
# are "impersonation"; fake shops, non-delivery purchase scams and fake tickets are listings that
# are not what they claim; romance scams run on fake personas ("inauthentic accounts").
TDB: Final[dict[str, TdbClassification]] = {
    "phishing": _kw("KEYWORD_PHISHING"),
    "impersonation_bank": _kw("KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING"),
    "impersonation_police": _kw("KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING"),
    "impersonation_government": _kw("KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING"),
    "impersonation_other": _kw("KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING"),
    "investment": _other("Investment fraud"),
    "crypto_investment": _other("Crypto-asset investment fraud"),
    "romance": _kw("KEYWORD_INAUTHENTIC_ACCOUNTS"),
    "purchase": _kw("KEYWORD_INAUTHENTIC_LISTINGS"),
    "fake_shop": _kw("KEYWORD_INAUTHENTIC_LISTINGS"),
    "advance_fee": _other("Advance-fee fraud"),
    "invoice_mandate": _kw("KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING"),
    "job": _other("Job and employment scam"),
    "ticket": _kw("KEYWORD_INAUTHENTIC_LISTINGS"),
    "money_mule_recruitment": _other("Money mule recruitment"),
    "other": _other("Other scam or fraud"),
}


def classify(scam_type: str) -> TdbClassification:
    """Return the Transparency Database category and keyword of `scam_type`.

    Raises KeyError for a value outside `SCAM_TYPES` (the wire schema never lets one through).
    """
    return TDB[scam_type]
