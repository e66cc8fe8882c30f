"""Canonical URLs: one key per page, whichever way a reporter wrote it (DESIGN: canonicalisation).

Rules, in order (sources in brackets):
1. Reject input over 8,192 characters; trim controls and spaces at both ends; delete ASCII tab,
   CR and LF anywhere [WHATWG URL "basic URL parser"; Safe Browsing v4 "URLs and hashing"].
2. Restore defanged forms (hxxp, [.], [:], (.)) [iocextract conventions]; nested or broken
   markers are rejected, never guessed.
3. No scheme -> http [Safe Browsing]; only http, https and ftp are accepted.
4. Parse as a browser does [WHATWG URL, via ada]: "\\" is "/", userinfo split off (kept as
   evidence, never in the key), IDNA (UTS #46), IPv4 numeric forms, default port and dot
   segments handled, fragment dropped (kept as evidence).
5. Host: leading, trailing and repeated dots removed [Safe Browsing]; must be a valid DNS name or
   IP address (see `host.finish_host`).
6. Path and query: percent-unescaped until stable, then only bytes <= 0x20, >= 0x7F, "#" and
   "%" re-escaped with upper-case hex [Safe Browsing]; in the path, runs of "/" collapsed
   [Safe Browsing] and dot segments resolved again [RFC 3986 §5.2.4].
7. Tracking parameters (utm_*, fbclid, gclid, ...) removed; the other parameters keep their order.
8. Key: the canonical URL without "http://" or "https://" (a Safe Browsing host/path expression:
   one page served both ways is one takedown); ftp keeps its scheme.

A URL already in canonical form (lower-case http(s), a plain host, nothing to decode or resolve;
most reports) goes straight to rules 7 and 8, with the same result (`_clean_url`).

Deviations from Safe Browsing: a non-default port is kept (it is part of the WHATWG origin, and
the DESIGN drops only the default one); a query left empty by rule 7 loses its "?"; "?" and "\\"
decoded into the path are re-escaped (%3F, %5C), as are the brackets of a decoded defang marker
("%5B.%5D"), so that the canonical URL re-parses to itself (idempotence). Decoding "%26" into "&"
in a query follows Safe Browsing, although such a query then reads differently.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from fraudchannel.canonical._ada import HOST_DOMAIN, parse
from fraudchannel.canonical.defang import STRIP_CHARS, TOKEN, defang, escape_markers
from fraudchannel.canonical.errors import InvalidTarget, quote
from fraudchannel.canonical.host import domain_registrable, finish_host
from fraudchannel.canonical.target import CanonicalTarget

MAX_URL_LENGTH = 8192

# Query parameters that identify a click or a campaign, not a page (exact names, case-insensitive;
# plus every utm_* name): Google, Meta, Microsoft, Mailchimp, Yandex, HubSpot, Marketo, TikTok ...
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "mc_eid", "mc_cid",
        "_ga", "_gl", "yclid", "ysclid", "igshid", "twclid", "ttclid", "li_fat_id", "epik",
        "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsctatracking", "mkt_tok", "vero_id",
        "vero_conv", "oly_anon_id", "oly_enc_id", "rb_clickid", "s_cid", "wickedid", "srsltid",
        "_kx", "ml_subscriber", "ml_subscriber_hash",
    }
)  # fmt: skip
# One tracking parameter and the "&" before it, in a query with "&" put in front: "&", a name that
# starts with "utm_" or is in TRACKING_PARAMETERS, then "=..." or nothing, up to the next "&".
# IGNORECASE makes this alternation several times slower (measured), so the case-insensitive
# pattern only runs on a query with upper-case letters that matches once lower-cased.
_TRACKING_PATTERN = (
    r"&(?:utm_[^&]*|(?:" + "|".join(sorted(TRACKING_PARAMETERS)) + r")(?:=[^&]*)?)(?=&|\Z)"
)
_TRACKING = re.compile(_TRACKING_PATTERN)
_TRACKING_ANY_CASE = re.compile(_TRACKING_PATTERN, re.IGNORECASE | re.ASCII)
_TAB_CR_LF = str.maketrans("", "", "\t\r\n")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_PORT_NOT_SCHEME = re.compile(r"(?:\d+[/\\?#]|\d*$)")  # "example.com:8080/x" is host:port
# "https//x", and its defanged spellings ("hxxps//x", "fxp//x": fraudchannel.canonical.defang)
_SCHEME_WITHOUT_COLON = re.compile(
    r"(?:h(?:tt|xx|xt|tx|\*\*|__|\[tt\]|\[xx\])ps?|f(?:t|x|\[t\])p)(?:/|\\)", re.IGNORECASE
)
_STRAY_BRACKET = re.compile(r"^[^/]*//[^\[/?#]+[\[\]({]")  # "1.1.1.]1": half-restored
# A URL already in canonical form, the common case of a report: lower-case http(s), a lower-case
# host of letters, digits and hyphens in labels of 1-63 characters, the last starting with a
# letter (so no IPv4 number); no userinfo, port, fragment, "%", "\\", space, control or non-ASCII
# character (the character sets of `_PLAIN` in _ada.py, which parses such a URL unchanged).
# Possessive repeats ("*+", "{1,63}+"): nothing they take could be given back for a match, and
# a URL that does not match fails without backtracking (7-15% faster, measured).
_CLEAN = re.compile(
    r"(https?)://((?:[a-z0-9-]{1,63}+\.)*+[a-z][a-z0-9-]{0,62}+)"
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*+)?"
    r"(?:\?([A-Za-z0-9._~!$&()*+,;=:@/?\[\]|^-]*+))?"
)
_ACCEPTED_SCHEMES = frozenset({"http", "https", "ftp"})
_KEY_WITHOUT_SCHEME = frozenset({"http", "https"})


# Controls and bytes >= 0x7F (as latin-1 code points) to "%XX"; `_reescape` does the others.
_CONTROL_OR_HIGH = {byte: f"%{byte:02X}" for byte in (*range(0x20), *range(0x7F, 0x100))}


def _reescape(text: str, path: bool) -> str:
    """Return latin-1 `text` with the bytes Safe Browsing escapes as "%XX" (upper-case hex).

    Those are the bytes <= 0x20 and >= 0x7F, "#" and "%"; in a path also "?" and "\\", which would
    move the query or add a segment on re-parse. `str.replace` first ("%" before the escapes it
    would hit), `str.translate` only for controls and non-ASCII: a table of multi-character
    strings takes translate's slow path for the whole text (~45 ns a character, measured).
    """
    text = text.replace("%", "%25").replace("#", "%23").replace(" ", "%20")
    if path:
        text = text.replace("?", "%3F").replace("\\", "%5C")
    if not (text.isascii() and text.isprintable()):
        text = text.translate(_CONTROL_OR_HIGH)
    return text


def canonical_url(raw: str) -> CanonicalTarget:
    """Return the canonical URL target of `raw` (rules in the module docstring).

    key: "bins-mailer.top/info" for "hxxps://bins-mailer[.]top:443/info#x"; canonical:
    "https://bins-mailer.top/info"; registrable_domain: PSL with private suffixes, None for IP
    hosts; evidence: "userinfo" and "fragment" when present.

    Raises InvalidTarget ("url-empty", "url-too-long", "url-defang-broken",
    "url-scheme-unsupported", "url-scheme-malformed", "url-host-missing", "url-unparseable",
    "url-host-invalid", "url-host-idna") and nothing else, whatever the text.
    """
    return _clean_url(raw) or _full_url(raw)


def _clean_url(raw: str) -> CanonicalTarget | None:
    """Return `_full_url(raw)` for a URL that is already clean (see `_CLEAN`), else None.

    For such a URL rules 1-6 change nothing: no character to trim or delete, no defang marker
    (checked), an accepted scheme, and `parse` splits it as `_CLEAN` does (`_PLAIN` in _ada.py
    takes every URL `_CLEAN` takes); the host passes `finish_host` unchanged (labels of 1-63
    characters, no "xn--", at most 253 in all); the path has no "%", "//" or "/." (nothing to
    decode, collapse or resolve). Only rules 7 and 8 are left; `escape_markers` has nothing to
    escape either, as the parameters kept are pieces of `raw` and no marker holds the "&" that
    joins them. A canonical URL over the length limit is left to `_full_url` to reject.
    """
    if len(raw) > MAX_URL_LENGTH:
        return None
    clean = _CLEAN.fullmatch(raw)
    if clean is None:
        return None
    scheme, host, path, query = clean.groups()
    if len(host) > 253 or "xn--" in host:
        return None
    if path is not None and ("//" in path or "/." in path):
        return None
    if ("(" in raw or "[" in raw) and TOKEN.search(raw):
        return None
    canonical = raw
    if query:
        kept = _drop_tracking(query)
        if len(kept) < len(query):  # an emptied query loses its "?"
            canonical = raw[: clean.start(4) - (0 if kept else 1)] + kept
    if path is None:
        canonical = canonical[: clean.end(2)] + "/" + canonical[clean.end(2) :]
        if len(canonical) > MAX_URL_LENGTH:  # rejected by _full_url
            return None
    key = canonical[len(scheme) + 3 :]
    return CanonicalTarget("url", key, canonical, domain_registrable(host))


def _full_url(raw: str) -> CanonicalTarget:
    """`canonical_url` for any text: every rule, in order."""
    if len(raw) > MAX_URL_LENGTH:
        raise InvalidTarget("url-too-long", f"The URL is longer than {MAX_URL_LENGTH} characters.")
    text = raw.strip(STRIP_CHARS)
    if "\t" in text or "\r" in text or "\n" in text:
        text = text.translate(_TAB_CR_LF)
    if not text:
        raise InvalidTarget("url-empty", "The URL is empty.")
    text = defang(text)
    if ("[" in text or "(" in text or "{" in text) and TOKEN.search(text):
        raise InvalidTarget("url-defang-broken", f"Nested defang markers in {quote(text)}.")
    text = _with_scheme(text)
    try:
        parsed = parse(text)
    except UnicodeError:
        raise InvalidTarget("url-unparseable", "The URL is not valid Unicode text.") from None
    if parsed is None or parsed.scheme is None:
        if _STRAY_BRACKET.search(text):
            raise InvalidTarget("url-defang-broken", f"Stray bracket in {quote(text)}.")
        raise InvalidTarget("url-unparseable", f"{quote(text)} is not a URL a browser can open.")
    host, host_type = finish_host(parsed.host, parsed.host_type)
    path = _canonical_path(parsed.path)
    query = parsed.query
    if query:  # an empty "?" stays (Safe Browsing, WHATWG); one emptied of trackers goes
        query = _canonical_query(query)
        query = "?" + query if query else ""
    elif query is not None:
        query = "?"
    tail = host + (":" + parsed.port if parsed.port else "") + path + (query or "")
    canonical = parsed.scheme + "://" + tail
    if len(canonical) > MAX_URL_LENGTH:
        raise InvalidTarget("url-too-long", "The canonical URL is longer than 8192 characters.")
    key = tail if parsed.scheme in _KEY_WITHOUT_SCHEME else canonical
    registrable = domain_registrable(host) if host_type == HOST_DOMAIN else None
    if parsed.userinfo or parsed.fragment:
        evidence = {"userinfo": parsed.userinfo, "fragment": parsed.fragment or ""}
        evidence = {name: value for name, value in evidence.items() if value}
        return CanonicalTarget("url", key, canonical, registrable, evidence)
    return CanonicalTarget("url", key, canonical, registrable)


def _with_scheme(text: str) -> str:
    """Return `text` with an accepted scheme, adding "http://" when it has none (Safe Browsing)."""
    if text[:7].lower() == "http://" or text[:8].lower() == "https://":
        return text
    match = _SCHEME.match(text)
    if match:
        if match.group(1).lower() in _ACCEPTED_SCHEMES:
            return text
        if _PORT_NOT_SCHEME.match(text, match.end()):
            return "http://" + text
        raise InvalidTarget(
            "url-scheme-unsupported", f"Scheme {quote(match.group(1), 20)} is not http(s) or ftp."
        )
    if text[:2] in ("//", "\\\\", "/\\", "\\/"):  # scheme-relative; "\" is "/" for http (WHATWG)
        if text[2:3] in ("", "/", "\\"):
            raise InvalidTarget("url-host-missing", f"{quote(text)} has no host.")
        return "http:" + text
    if text[0] in "/\\?#":
        raise InvalidTarget("url-host-missing", f"{quote(text)} has no host.")
    if _SCHEME_WITHOUT_COLON.match(text):
        raise InvalidTarget("url-scheme-malformed", f"{quote(text)} has a scheme without ':'.")
    return "http://" + text


def _unescape(data: bytes) -> bytes:
    """Percent-decode `data` until it no longer changes (Safe Browsing: "%2525" -> "%")."""
    while b"%" in data:
        decoded = unquote_to_bytes(data)
        if decoded == data:
            break
        data = decoded
    return data


def _canonical_path(path: str) -> str:
    """Return a WHATWG path (ASCII, starts with "/") with Safe Browsing escaping and slashes."""
    if "%" in path:
        data = _unescape(path.encode("ascii"))
        if b"//" in data or b"/." in data:
            data = _resolve(data)
        path = _reescape(data.decode("latin-1"), path=True)
    elif "//" in path:
        path = _resolve(path.encode("ascii")).decode("ascii")
    return escape_markers(path)


def _resolve(path: bytes) -> bytes:
    """Collapse runs of "/" (Safe Browsing), then remove "." and ".." segments (RFC 3986 §5.2.4).

    A trailing "/", ".", or ".." leaves a trailing slash, as WHATWG does ("/a/b/.." -> "/a/").
    """
    segments = path.split(b"/")[1:]
    kept: list[bytes] = []
    for segment in segments:
        if segment == b"..":
            if kept:
                kept.pop()
        elif segment not in (b"", b"."):
            kept.append(segment)
    if not kept:
        return b"/"
    trailing = segments[-1] in (b"", b".", b"..")
    return b"/" + b"/".join(kept) + (b"/" if trailing else b"")


def _canonical_query(query: str) -> str:
    """Return a WHATWG query (no "?") with Safe Browsing escaping and tracking parameters gone."""
    if "%" in query:
        query = _reescape(_unescape(query.encode("ascii")).decode("latin-1"), path=False)
    return escape_markers(_drop_tracking(query))


def _drop_tracking(query: str) -> str:
    """Return an ASCII query without its tracking parameters, the others joined by "&" in order.

    Each "&"-separated parameter whose lower-cased name (up to the first "=") starts with "utm_"
    or is in TRACKING_PARAMETERS goes: "a=1&utm_source=x&&b" -> "a=1&&b", "fbclid=1&" -> "".
    With "&" put in front, each parameter is "&" + itself, and removing one is removing its match.
    """
    amp = "&" + query
    lowered = amp.lower()
    if lowered == amp:
        return _TRACKING.sub("", amp)[1:]
    if _TRACKING.search(lowered) is None:
        return query
    return _TRACKING_ANY_CASE.sub("", amp)[1:]
