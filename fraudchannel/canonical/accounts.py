"""Canonical account identifiers: phone, e-mail, IBAN, UK bank account, handles, payment handles.

DESIGN (canonicalisation): phone to E.164 (default region GB), IBAN upper-case without spaces
and checksum-validated, UK sort code + account number to "SSSSSS-AAAAAAAA", e-mail with the
domain lower-cased in IDNA, handles lower-case without "@". Handles, account ids and payment
handles are compared in compatibility form (`fold_identifier`): fullwidth "@scammer" (U+FF20,
U+FF53, ...) is "@scammer".
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
import schwifty
from email_validator import EmailNotValidError, validate_email
from schwifty import exceptions as iban_errors

from fraudchannel.canonical.defang import FULLWIDTH_TO_ASCII, STRIP_CHARS, TOKEN, defang
from fraudchannel.canonical.errors import InvalidTarget, quote

MAX_PHONE_INPUT = 64
MAX_EMAIL = 320  # 64-octet local part, "@", 255-octet domain (RFC 5321 §4.5.3.1)
MAX_HANDLE = 100
MAX_ACCOUNT_ID = 255

_POSSIBLE = phonenumbers.ValidationResult.IS_POSSIBLE
_PHONE_REASONS = {
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "lacks an area code",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has no valid country code",
    phonenumbers.ValidationResult.TOO_SHORT: "is too short",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has an impossible length",
    phonenumbers.ValidationResult.TOO_LONG: "is too long",
}
_REGION_ALIASES = {"UK": "GB"}  # ISO 3166-1 reserves "UK" for the United Kingdom
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015]+")  # spaces, hyphen-minus, Unicode dashes
_IBAN_LABEL = re.compile(r"^IBAN[\s:]*", re.IGNORECASE)  # ISO 13616-1 paper format: "IBAN GB29 ..."
_SORT_CODE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015.]+")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_NOT_IN_HANDLE = re.compile(r"[/\\?#]")
# RFC 3966 ";isub=": libphonenumber deletes it and everything after it (an ";ext=" too).
_ISDN_SUBADDRESS = re.compile(r";\s*isub=", re.IGNORECASE)
# libphonenumber's SECOND_NUMBER_START_PATTERN: it cuts the text at "/x" or "\x" ("x302/x2303"
# keeps extension 302 and drops 2303), so anything from there on would be lost.
_SECOND_NUMBER = re.compile(r"[\\/] *x")
# Unicode Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15): invisible in
# every rendering (zero-width space and joiners, soft hyphen, bidi controls, variation
# selectors, Hangul fillers, tags). NFKC_Casefold (UAX #44, used by UAX #31 R5) removes them.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def canonical_phone(raw: str, region: str = "GB") -> str:
    """Return the dedup key of a phone number: its E.164 string ("+447700900123"; ITU-T E.164).

    National numbers are read in `region` (ISO 3166-1 alpha-2, any case; "UK" means GB);
    "+44 (0)20 ..." drops the bracketed trunk prefix. The number must be *possible* (length
    fits the country's plan), not *valid*: Ofcom's drama ranges (07700 900xxx, 020 7946 0xxx)
    are possible but not valid and must be accepted.

    An extension is not part of the key: an E.164 number has none (ITU-T E.164: country code
    and national significant number, at most 15 digits), and the takedown target is the line. It
    is not lost either: `phone_parts` returns it and `canonical_target` keeps it as the target's
    evidence, {"extension": "123"}, as a URL's userinfo is kept. Extensions are read as
    libphonenumber reads them (its EXTN_PATTERNS_FOR_PARSING: "ext. 123", "x123", "#123",
    "extension 123", RFC 3966 ";ext=123", ...). Text libphonenumber would drop without a word
    is refused instead: an RFC 3966 ISDN subaddress (";isub=", "phone-unparseable") and a
    second number or extension after "/x" ("phone-ambiguous").

    Raises InvalidTarget: "phone-empty", "phone-region-unknown", "phone-unparseable",
    "phone-not-possible", "phone-ambiguous" (two numbers, or an E.164 form that reads back as
    another number).
    """
    return phone_parts(raw, region)[0]


def phone_parts(raw: str, region: str = "GB") -> tuple[str, str | None]:
    """Return (E.164 number, extension in ASCII digits or None) ("+442079460018", "123").

    See `canonical_phone` for the rules and errors.
    """
    text = raw.strip(STRIP_CHARS)
    if not text:
        raise InvalidTarget("phone-empty", "The phone number is empty.")
    code = region.strip(STRIP_CHARS).upper()
    code = _REGION_ALIASES.get(code, code)
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidTarget("phone-region-unknown", f"Unknown region {quote(region, 10)}.")
    if len(text) > MAX_PHONE_INPUT:
        raise InvalidTarget("phone-not-possible", f"Longer than {MAX_PHONE_INPUT} characters.")
    if _ISDN_SUBADDRESS.search(text):
        raise InvalidTarget(
            "phone-unparseable",
            f"{quote(text)} has an ISDN subaddress (RFC 3966 ';isub='), which neither E.164 "
            "nor an extension can hold; send the number without it.",
        )
    if _SECOND_NUMBER.search(text):
        raise InvalidTarget(
            "phone-ambiguous",
            f"{quote(text)} names a second number or extension after '/x'; "
            "report one number, with at most one extension.",
        )
    try:
        number = phonenumbers.parse(text, code)
    except phonenumbers.NumberParseException as exc:
        raise InvalidTarget("phone-unparseable", f"{quote(text)}: {exc}") from None
    except Exception as exc:  # libphonenumber raises more than NumberParseException on odd text
        raise InvalidTarget("phone-unparseable", f"{quote(text)}: {type(exc).__name__}.") from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != _POSSIBLE:
        why = _PHONE_REASONS.get(reason, "is not a possible number")
        raise InvalidTarget("phone-not-possible", f"{quote(text)} {why} (region {code}).")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # Some possible numbers do not survive their own E.164 form: "+4900000" (national number 0,
    # three leading zeros) prints as "+490000", which reads back as another number. A key that
    # is not a fixed point would split one target in two: refuse rather than guess.
    again = phonenumbers.parse(e164, None)
    if phonenumbers.format_number(again, phonenumbers.PhoneNumberFormat.E164) != e164 or (
        phonenumbers.is_possible_number_with_reason(again) != _POSSIBLE
    ):
        raise InvalidTarget(
            "phone-ambiguous", f"{quote(text)} has no stable E.164 form (region {code})."
        )
    # libphonenumber keeps the extension's digits as written ("١٢٣"); the evidence is ASCII.
    return e164, phonenumbers.normalize_digits_only(number.extension or "") or None


def canonical_email(raw: str) -> str:
    """Return the dedup form of an e-mail address: lower-case, domain in IDNA A-labels.

    Syntax per RFC 5322/6531 via email-validator (no quoted local parts, no IP literals, no
    display names, no DNS look-up). "mailto:" and defanged "[@]" / "[.]" are undone. The local
    part is lower-cased too: RFC 5321 §2.4 lets a host treat case as significant, but mailbox
    providers do not, and one scam mailbox must be one target. Provider tricks (Gmail dots,
    "+tags") are kept: they are not universal.

    Raises InvalidTarget: "email-empty", "email-defang-broken", "email-invalid".
    """
    text = defang(raw.strip(STRIP_CHARS))
    if text[:7].lower() == "mailto:":
        text = text[7:]
    if not text:
        raise InvalidTarget("email-empty", "The e-mail address is empty.")
    if len(text) > MAX_EMAIL:
        raise InvalidTarget("email-invalid", f"Longer than {MAX_EMAIL} characters.")
    if TOKEN.search(text):
        raise InvalidTarget("email-defang-broken", f"Nested defang markers in {quote(text)}.")
    try:
        valid = validate_email(
            text,
            check_deliverability=False,
            allow_smtputf8=True,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as exc:
        raise InvalidTarget("email-invalid", f"{quote(text)}: {exc}") from None
    except Exception as exc:  # idna and unicodedata errors surface on odd text
        raise InvalidTarget("email-invalid", f"{quote(text)}: {type(exc).__name__}.") from None
    local = unicodedata.normalize("NFC", valid.local_part.lower())
    return local + "@" + valid.ascii_domain.lower()


def canonical_iban(raw: str) -> str:
    """Return an IBAN in electronic format: upper-case, no spaces ("GB29NWBK60161331926819").

    ISO 13616-1: fullwidth forms are read as ASCII (`FULLWIDTH_TO_ASCII`); an optional "IBAN"
    label, spaces and hyphens are removed; the country's length
    and BBAN structure (SWIFT IBAN registry, via schwifty) and the ISO 7064 mod 97-10 check
    digits must hold. National BBAN check digits are not verified.

    Raises InvalidTarget: "iban-empty", "iban-characters", "iban-country", "iban-length",
    "iban-structure", "iban-checksum".
    """
    raw = raw.translate(FULLWIDTH_TO_ASCII)
    text = _SEPARATORS.sub("", _IBAN_LABEL.sub("", raw.strip(STRIP_CHARS), count=1))
    if not text:
        raise InvalidTarget("iban-empty", "The IBAN is empty.")
    if not (text.isascii() and text.isalnum()) or len(text) > 34:
        raise InvalidTarget("iban-characters", f"{quote(text)} is not 34 or fewer letters/digits.")
    text = text.upper()
    try:
        schwifty.IBAN(text)
    except iban_errors.InvalidCountryCode:
        raise InvalidTarget("iban-country", f"{quote(text[:2])} has no IBAN format.") from None
    except iban_errors.InvalidLength:
        raise InvalidTarget("iban-length", f"{quote(text)} has the wrong length.") from None
    except iban_errors.InvalidChecksumDigits:
        raise InvalidTarget("iban-checksum", f"{quote(text)} fails the mod 97 check.") from None
    except Exception as exc:  # InvalidStructure, InvalidBBANChecksum and anything else
        raise InvalidTarget("iban-structure", f"{quote(text)}: {exc}") from None
    return text


def uk_account_from_iban(iban: str) -> str | None:
    """Return "SSSSSS-AAAAAAAA" for a canonical GB IBAN (GBkk BBBB SSSSSS AAAAAAAA), else None."""
    if iban[:2] != "GB" or len(iban) != 22:
        return None
    return iban[8:14] + "-" + iban[14:22]


def canonical_uk_bank_account(sort_code: str, account_number: str) -> str:
    """Return a UK account as "SSSSSS-AAAAAAAA" ("60-16-13", "31926819" -> "601613-31926819").

    Fullwidth digits are read as ASCII ones. Sort code: 6 digits, dashes and spaces allowed.
    Account number: 8 digits; 6- and 7-digit
    numbers are zero-padded (Pay.UK/Vocalink "Validating account numbers": prefix zeros). 9- and
    10-digit numbers are rejected: mapping them (Santander, NatWest, Co-operative rules) needs
    the bank behind the sort code, which is not bundled. No modulus check is made.

    Raises InvalidTarget: "ukacct-sort-code", "ukacct-account-number", "ukacct-non-standard".
    """
    sort_code = sort_code.translate(FULLWIDTH_TO_ASCII)
    account_number = account_number.translate(FULLWIDTH_TO_ASCII)
    code = _SORT_CODE_SEPARATORS.sub("", sort_code.strip(STRIP_CHARS))
    if len(code) != 6 or not _ASCII_DIGITS.fullmatch(code):
        raise InvalidTarget("ukacct-sort-code", f"{quote(sort_code, 20)} is not 6 digits.")
    number = _SEPARATORS.sub("", account_number.strip(STRIP_CHARS))
    if not _ASCII_DIGITS.fullmatch(number) or not 6 <= len(number) <= 10:
        raise InvalidTarget(
            "ukacct-account-number", f"{quote(account_number, 20)} is not 6 to 8 digits."
        )
    if len(number) > 8:
        raise InvalidTarget(
            "ukacct-non-standard",
            f"A {len(number)}-digit account number needs its bank's conversion rule; "
            "send the 8-digit form or the IBAN.",
        )
    return code + "-" + number.zfill(8)


def fold_identifier(text: str, *, lower: bool = True) -> str:
    """Return `text` in compatibility form: NFKC, invisible characters removed, lower-cased.

    Unicode NFKC (UAX #15) maps compatibility variants to one form: fullwidth "@scam" (U+FF20
    U+FF53 ...) is "@scam", the ligature U+FB01 is "fi", modifier letter U+1D2C is "A".
    Default_Ignorable_Code_Point characters (U+200B zero-width space, U+200C/U+200D joiners,
    U+FEFF, U+00AD soft hyphen, bidi controls, variation selectors, Hangul fillers, ...) are
    removed, as Unicode's NFKC_Casefold does (UAX #44; UAX #31 R5): nobody can see them, so
    two handles that differ only by them read as one. The case rule is the existing one,
    `str.lower` (not full case folding: "ß" stays "ß"); `lower=False` keeps the case. NFKC runs
    again after removal (dropping a U+034F grapheme joiner can let marks compose) and after
    lower-casing, so the result is a fixed point (checked for every code point by a test).

    Confusables (Cyrillic U+0430 for Latin "a", UTS #39) are not folded: they are different
    characters, and a platform that allows both may hold two different accounts.
    """
    text = unicodedata.normalize("NFKC", _IGNORABLE.sub("", unicodedata.normalize("NFKC", text)))
    return unicodedata.normalize("NFKC", text.lower()) if lower else text


def canonical_handle(raw: str) -> str:
    """Return a platform handle in compatibility form, lower-cased, without one leading "@".

    "@Scam_Support" -> "scam_support"; fullwidth "@Scam" with a U+200B inside -> "scam"
    (`fold_identifier`: NFKC, invisible characters removed); "user@instance.social" keeps its
    inner "@". Rejects whitespace, controls, "/", "\\", "?", "#" (a profile URL goes in
    profile_url) and a second leading "@", after folding (fullwidth U+FF0F is a "/").

    Raises InvalidTarget: "handle-empty", "handle-invalid".
    """
    text = fold_identifier(raw.strip(STRIP_CHARS))
    if text[:1] == "@":
        text = text[1:]
    if not text:
        raise InvalidTarget("handle-empty", "The handle is empty.")
    check_token(text, "handle", MAX_HANDLE)
    if text[0] == "@":
        raise InvalidTarget("handle-invalid", f"{quote(text)} starts with a second '@'.")
    return text


def check_token(text: str, what: str, limit: int) -> None:
    """Raise InvalidTarget("<what>-invalid") unless `text` is one printable token."""
    if len(text) > limit:
        raise InvalidTarget(f"{what}-invalid", f"Longer than {limit} characters.")
    if _NOT_IN_HANDLE.search(text) or any(unicodedata.category(char)[0] in "CZ" for char in text):
        raise InvalidTarget(
            f"{what}-invalid", f"{quote(text)} holds spaces, controls or URL characters."
        )


def canonical_account_id(raw: str) -> str:
    """Return a platform account id trimmed and NFKC-folded; case kept (ids may be case-sensitive).

    `fold_identifier` without lower-casing: fullwidth digits are ASCII digits, invisible
    characters go.

    Raises InvalidTarget: "account-id-empty", "account-id-invalid".
    """
    text = fold_identifier(raw.strip(STRIP_CHARS), lower=False)
    if not text:
        raise InvalidTarget("account-id-empty", "The account id is empty.")
    check_token(text, "account-id", MAX_ACCOUNT_ID)
    return text
