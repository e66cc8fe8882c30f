"""Canonical hosts and registrable domains (WHATWG host parsing, UTS #46, Safe Browsing, PSL)."""

from __future__ import annotations

import re
from functools import lru_cache

import idna
import tldextract

from fraudchannel.canonical._ada import HOST_DOMAIN, parse
from fraudchannel.canonical.defang import STRIP_CHARS, TOKEN, defang
from fraudchannel.canonical.errors import InvalidTarget, quote

MAX_HOST_INPUT = 1024  # characters before IDNA mapping; a DNS name is at most 253 (RFC 1035 §2.3.4)

# A DNS name after IDNA: labels of 1-63 letters, digits, hyphens and underscores, 253 in all
# (RFC 1035 §2.3.4, RFC 2181 §11). Underscores and hyphens at label edges or in positions 3-4 are
# real in phishing feeds (godaddysites.com, webflow.io subdomains) and browsers resolve them
# (UTS #46 with CheckHyphens=false, UseSTD3ASCIIRules=false, as in WHATWG), so they are kept.
_DNS_NAME = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}")
_DOT_RUNS = re.compile(r"\.{2,}")
_NOT_A_HOST = re.compile(r"[/\\?#@]")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")  # canonical hosts only: IPv4 is a dotted quad

# The Public Suffix List snapshot bundled with tldextract, private section included
# (*.pages.dev, *.vercel.app stay apart); never fetched, never cached on disk.
PSL = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def _a_label(label: str) -> str:
    """Return a PSL rule label as an IDNA A-label (rules are NFC lower-case Unicode)."""
    return label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")


# The same rules as one set of A-label strings ("co.uk", "*.ck", "!www.ck"), so that a lookup
# is a few set probes instead of tldextract's URL re-parse and trie walk (~9 µs per host,
# measured; the test suite checks both agree).
_RULES = frozenset(".".join(map(_a_label, rule.split("."))) for rule in PSL.tlds)
_EXCEPTIONS = frozenset(rule[1:] for rule in _RULES if rule[:1] == "!")  # "www.ck" for "!www.ck"
_WILDCARDS = frozenset(rule[2:] for rule in _RULES if rule[:2] == "*.")  # "ck" for "*.ck"


def canonical_host(raw: str) -> str:
    """Return the canonical form of a bare host name or IP address.

    Browser (WHATWG) host parsing: percent-decoding, UTS #46 mapping to IDNA A-labels
    (`idna.encode(host, uts46=True)`; nontransitional, so "faß.de" -> "xn--fa-hia.de"),
    lower case; decimal/octal/hex IPv4 forms to a dotted quad ("0x7f.1" -> "127.0.0.1"); IPv6 as
    "[compressed]". Then Safe Browsing v4 "URLs and hashing": leading, trailing and repeated dots
    removed. Defanged dots ("evil[.]com") are restored.

    Raises InvalidTarget ("url-host-invalid", "url-host-idna", "url-defang-broken") for anything
    that is not a single host: a port, path, userinfo, or a name that is no valid DNS name.
    """
    text = defang(raw.strip(STRIP_CHARS))
    if not text:
        raise InvalidTarget("url-host-invalid", "The host is empty.")
    if len(text) > MAX_HOST_INPUT:
        raise InvalidTarget("url-host-invalid", f"The host is longer than {MAX_HOST_INPUT} chars.")
    if TOKEN.search(text):
        raise InvalidTarget("url-defang-broken", f"Nested defang markers in {quote(text)}.")
    bracketed = text.startswith("[") and text.endswith("]")
    if _NOT_A_HOST.search(text) or (":" in text and not bracketed):
        raise InvalidTarget("url-host-invalid", f"{quote(text)} is not a bare host name.")
    try:
        parsed = parse("http://" + text + "/")
    except UnicodeError:
        raise InvalidTarget("url-host-invalid", "The host is not valid Unicode text.") from None
    if parsed is None or parsed.path != "/" or parsed.port or parsed.userinfo:
        raise InvalidTarget("url-host-invalid", f"{quote(text)} is not a valid host name.")
    return finish_host(parsed.host, parsed.host_type)[0]


def finish_host(host: str, host_type: int) -> tuple[str, int]:
    """Return a WHATWG-parsed host, with Safe Browsing dot rules applied, and its host type.

    Raises InvalidTarget ("url-host-invalid", "url-host-idna") when the host is no valid DNS
    name or IP address.
    """
    if host_type != HOST_DOMAIN:
        return host, host_type
    if host[:1] == "." or host[-1:] == "." or ".." in host:
        host = _DOT_RUNS.sub(".", host).strip(".")
        if not host:
            raise InvalidTarget("url-host-invalid", "The host is empty once its dots are removed.")
        # Stray dots can hide a numeric IPv4 form ("0x7f.1.." is not IPv4 to WHATWG, "0x7f.1" is).
        reparsed = parse("http://" + host + "/")
        if reparsed is None:
            raise InvalidTarget("url-host-invalid", f"{quote(host)} is not a valid host.")
        if reparsed.host_type != HOST_DOMAIN:
            return reparsed.host, reparsed.host_type
        host = reparsed.host
    if len(host) > 253 or not _DNS_NAME.fullmatch(host):
        raise InvalidTarget("url-host-invalid", f"{quote(host)} is not a valid DNS name.")
    if "xn--" in host:
        for label in host.split("."):
            if label.startswith("xn--") and not _idna_label_ok(label):
                raise InvalidTarget(
                    "url-host-idna", f"{quote(label)} is not a valid IDNA label (UTS #46)."
                )
    return host, HOST_DOMAIN


@lru_cache(maxsize=4096)
def _idna_label_ok(label: str) -> bool:
    """Tell whether an A-label is the exact UTS #46 / IDNA2008 encoding of what it decodes to.

    ada accepts some labels the `idna` package (IDNA2008 + UTS #46) refuses: undecodable
    Punycode ("xn--a"), symbols such as emoji, non-canonical encodings. The DESIGN names
    `idna.encode(host, uts46=True)` as the reference, so such labels are rejected.
    """
    try:
        unicode_label = idna.decode(label)
        return bool(idna.encode(unicode_label, uts46=True).decode("ascii") == label)
    except (idna.IDNAError, UnicodeError, ValueError, IndexError):
        return False


def registrable_domain(host: str) -> str | None:
    """Return the registrable domain of `host` (PSL, private section included), or None.

    "meta-muse.pages.dev" -> "meta-muse.pages.dev"; "www.ledger.fr-support.com" ->
    "fr-support.com"; None for IP addresses, public suffixes themselves and names under no
    listed suffix. `host` is canonicalised first (see `canonical_host`), so this raises
    InvalidTarget like it.
    """
    canonical = canonical_host(host)
    if canonical[:1] == "[" or _IPV4.fullmatch(canonical):
        return None
    return domain_registrable(canonical)


def domain_registrable(host: str) -> str | None:
    """Return the registrable domain of a canonical domain name (not an IP), or None.

    Public Suffix List algorithm (publicsuffix.org/list, "Algorithm"): the longest matching rule
    wins, an exception rule ("!www.ck") removes its leftmost label; the registrable domain is the
    public suffix plus one label. A name under no rule gives None (no implicit "*" rule), as
    tldextract does.
    """
    return _registrable(host) or None


def _registrable(name: str) -> str | None:
    """Return the registrable domain of `name`, "" when `name` is a public suffix itself.

    The walk of `domain_registrable`, longest suffix first: `name` is a public suffix when it is
    a rule or matches a wildcard rule "*.parent", registrable when an exception rule names it;
    otherwise its parent decides (`name` itself when the parent is a public suffix). Parents'
    answers are cached: hosts share parents far more often than whole names ("bank-verify.top",
    "pages.dev", "com").
    """
    if name in _RULES:
        return ""
    if name in _EXCEPTIONS:
        return name
    dot = name.find(".")
    if dot < 0:
        return None
    parent = name[dot + 1 :]
    if parent in _WILDCARDS:
        return ""
    under = _registrable_cached(parent)
    return name if under == "" else under


# ~2.5 MB when full; the 44k URLs of a phishing feed snapshot (shared/data) have 9.3k parents.
_registrable_cached = lru_cache(maxsize=16384)(_registrable)
