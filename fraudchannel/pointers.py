"""Validation errors as RFC 6901 JSON Pointers into the request body: `[{pointer, code, detail}]`.

pydantic reports where an error lies as a `loc` tuple; a client needs a pointer into what it sent
("/reports/3/target/url"). Discriminated-union tags that pydantic inserts in `loc` are left out,
and the NUL-free pattern's mismatch gets its own code (PostgreSQL text cannot hold NUL).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from pydantic import ValidationError

from fraudchannel.terms import TARGET_TYPES

NUL_FREE: Final = r"^[^\x00]*$"  # the pattern every bounded string of the schema carries
# Characters that show nothing: controls, White_Space, and the BMP's Default_Ignorable_Code_Point
# (zero-width and bidi marks, fillers, variation selectors), plus U+2800 BRAILLE PATTERN BLANK.
# Spelled out, not "\s": the schema's regex engines (Rust's here, ECMA-262 in JSON Schema
# validators) disagree on what "\s" holds (U+0085, U+FEFF).
INVISIBLE: Final = (
    r"\x00-\x20\x7f-\xa0\xad\u034f\u061c\u115f\u1160\u1680\u17b4\u17b5\u180b-\u180f"
    r"\u2000-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0"
    r"\ufff0-\ufff8"
)
# Free text a person writes (an explanation, a name): NUL-free, with a character that shows.
PROSE: Final = rf"^[^\x00]*[^{INVISIBLE}][^\x00]*$"


def escape_pointer_token(token: str | int) -> str:
    """Return one reference token escaped per RFC 6901 §3 ("~" -> "~0", "/" -> "~1")."""
    return str(token).replace("~", "~0").replace("/", "~1")


def _tokens(loc: Iterable[str | int]) -> list[str | int]:
    """Return a pydantic `loc` without the tags pydantic inserts after a discriminated union."""
    out: list[str | int] = []
    union_next = False
    for part in loc:
        if union_next and isinstance(part, str) and part in TARGET_TYPES:
            union_next = False
            continue
        out.append(part)
        union_next = (len(out) == 1 and part == "target") or (
            len(out) == 2 and out[0] == "related" and isinstance(part, int)
        )
    return out


def pointer_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Return `exc`'s errors as `[{pointer, code, detail}]`, pointers under `prefix` (RFC 6901)."""
    errors = []
    for err in exc.errors(include_url=False, include_input=True, include_context=True):
        tokens = _tokens(err["loc"])
        pointer = prefix + "".join("/" + escape_pointer_token(t) for t in tokens)
        code, detail = err["type"], err["msg"]
        if code in ("union_tag_invalid", "union_tag_not_found"):
            pointer += "/type"
        pattern = (
            (err.get("ctx") or {}).get("pattern") if code == "string_pattern_mismatch" else None
        )
        if pattern == NUL_FREE or (pattern == PROSE and "\x00" in str(err.get("input"))):
            code, detail = "nul_character", "NUL characters are not allowed"
        elif pattern == PROSE:
            code, detail = (
                "blank_text",
                "The text must hold a visible character, not only white space",
            )
        errors.append({"pointer": pointer, "code": code, "detail": detail})
    return errors
