"""Restore defanged indicators, trim pasted text and read fullwidth forms; shared by every
canonicaliser."""

from __future__ import annotations

import re
from typing import Final

# Characters trimmed from both ends of any reported value: ASCII controls and space (WHATWG URL
# "C0 control or space"), DEL, C1 controls, and the Unicode spaces, joiners, marks and BOM that
# come along when a value is copied out of a document or a spreadsheet.
STRIP_CHARS = (
    "".join(map(chr, range(0x21)))
    + "\x7f"
    + "".join(map(chr, range(0x80, 0xA0)))
    + "\xa0\xad\u1680\u180e"
    + "".join(map(chr, range(0x2000, 0x2010)))
    + "\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
)

# Scheme markers, only at the very start and only when a colon (or a defanged one) follows:
# hxxp, hXXps, h**p, h__p, h[tt]p, hxtp, htxp -> http(s); fxp, f[t]p -> ftp.
# Fullwidth forms (U+FF01-U+FF5E) and the ideographic space (U+3000), as a CJK input method
# types them, to their ASCII letters, digits and punctuation: one character for one, so a length
# rule (ISO 13616's) still counts what was written. NFKC maps them alike.
FULLWIDTH_TO_ASCII: Final = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_SCHEME = re.compile(
    r"^(?:h(?:xx|xt|tx|\*\*|__|\[tt\]|\[xx\])p(?P<s>s?)|f(?:x|\[t\])p)(?=:|\[:|\(:|\{:)",
    re.IGNORECASE,
)
# Bracketed markers anywhere: [.] (.) {.} [dot] -> "."; [:] -> ":"; [/] [//] [://]; [@] [at] -> "@".
_MARKERS = {
    ".": (r"\[\.\]", r"\(\.\)", r"\{\.\}", r"\[dot\]", r"\(dot\)", r"\{dot\}"),
    ":": (r"\[:\]", r"\(:\)", r"\{:\}"),
    "://": (r"\[://\]",),
    "//": (r"\[//\]",),
    "/": (r"\[/\]",),
    "@": (r"\[@\]", r"\(@\)", r"\{@\}", r"\[at\]", r"\(at\)", r"\{at\}"),
}
TOKEN = re.compile("|".join(p for ps in _MARKERS.values() for p in ps), re.IGNORECASE)
_RESTORE = {re.sub(r"\\(.)", r"\1", p).lower(): plain for plain, ps in _MARKERS.items() for p in ps}
_SCHEME_STARTS = frozenset("hHfF")
_PLAIN_SCHEMES = frozenset({"http", "ftp:"})


def defang(raw: str) -> str:
    """Return `raw` with defanged markers restored, in one pass (no nested markers undone).

    Restores hxxp/hxxps/hXXp/h**p/h[tt]p/fxp schemes at the start, and [.] (.) {.} [dot],
    [:] (:), [/] [//] [://], [@] [at] (at) anywhere (the forms iocextract, CyberChef and MISP
    produce). A half-refanged value ("1.1.1.]1") is left as it is for the parser to reject.
    Callers that need a fixed point check `TOKEN.search` on the result.
    """
    text = raw
    if text[:1] in _SCHEME_STARTS and text[:4].lower() not in _PLAIN_SCHEMES:
        text = _SCHEME.sub(_scheme, text, count=1)
    if "[" in text or "(" in text or "{" in text:
        text = TOKEN.sub(_marker, text)
    return text


def _scheme(match: re.Match[str]) -> str:
    return "ftp" if match.group(0)[0] in "fF" else "http" + match.group("s").lower()


def _marker(match: re.Match[str]) -> str:
    return _RESTORE[match.group(0).lower()]


_ESCAPES = {"[": "%5B", "]": "%5D", "(": "%28", ")": "%29", "{": "%7B", "}": "%7D"}


def escape_markers(text: str) -> str:
    """Percent-encode the brackets of any defang marker in `text` ("[.]" -> "%5B.%5D").

    Canonical URLs pass through `defang` again when re-canonicalised; a path that decodes to a
    literal "[.]" must not turn into "." on the second pass (idempotence).
    """
    if "[" not in text and "(" not in text and "{" not in text:
        return text
    return TOKEN.sub(lambda m: "".join(_ESCAPES.get(c, c) for c in m.group(0)), text)
