"""Canonical payment handles ("paypal:scammer") and platform accounts (id, handle or URL)."""

from __future__ import annotations

import re
from urllib.parse import unquote

from fraudchannel.canonical.accounts import (
    canonical_account_id,
    canonical_handle,
    check_token,
    fold_identifier,
)
from fraudchannel.canonical.defang import STRIP_CHARS
from fraudchannel.canonical.errors import InvalidTarget, quote
from fraudchannel.canonical.target import CanonicalTarget
from fraudchannel.canonical.url import canonical_url

# Provider names as reporters write them, squashed (lower case, no spaces, dots, "-" or "_").
PROVIDER_ALIASES = {
    "paypalme": "paypal",
    "paypalcom": "paypal",
    "cashme": "cashapp",
    "squarecash": "cashapp",
    "revolutme": "revolut",
    "monzome": "monzo",
    "venmocom": "venmo",
}
# The payment links that name a handle, per host (after "www."), as patterns of the canonical
# URL's path: the handle, then at most an amount (and currency) to pay. Any other page of a
# provider's site (a sign-in page, a one-off payment link, a money pool, a QR code, ...) names no
# handle and is refused rather than read as one (a path segment such as "payment" or "signin"
# would merge unrelated accounts).
_AMOUNT = r"(?:/[0-9]+(?:[.,][0-9]{1,2})?(?:[A-Za-z]{3})?)?/?"
_LINKS: dict[str, tuple[str, re.Pattern[str]]] = {
    "paypal.me": ("paypal", re.compile(r"/([^/]+)" + _AMOUNT)),
    "paypal.com": ("paypal", re.compile(r"/paypalme/([^/]+)" + _AMOUNT, re.IGNORECASE)),
    "cash.app": ("cashapp", re.compile(r"/(\$[^/]+)" + _AMOUNT)),
    "cash.me": ("cashapp", re.compile(r"/(\$[^/]+)" + _AMOUNT)),
    "revolut.me": ("revolut", re.compile(r"/([^/]+)" + _AMOUNT)),
    "monzo.me": ("monzo", re.compile(r"/([^/]+)" + _AMOUNT)),
    "venmo.com": ("venmo", re.compile(r"/u/([^/]+)/?", re.IGNORECASE)),
    "account.venmo.com": ("venmo", re.compile(r"/u/([^/]+)/?", re.IGNORECASE)),
}
_PROVIDER = re.compile(r"[a-z0-9]{1,40}")
_SQUASH = re.compile(r"[\s._\-]+")
MAX_PAYMENT_HANDLE = 100


def canonical_provider(raw: str) -> str:
    """Return a payment provider slug: "PayPal.me" -> "paypal", "Cash App" -> "cashapp".

    The name is folded first (`fold_identifier`: NFKC, invisible characters removed, lower
    case), so a fullwidth "PayPal" is "paypal".

    Raises InvalidTarget("payment-provider-invalid") unless it is 1-40 letters and digits once
    spaces, dots, hyphens and underscores are removed.
    """
    squashed = _SQUASH.sub("", fold_identifier(raw))
    if not _PROVIDER.fullmatch(squashed):
        raise InvalidTarget("payment-provider-invalid", f"{quote(raw, 40)} is not a provider.")
    return PROVIDER_ALIASES.get(squashed, squashed)


def canonical_payment_handle(provider: str, handle: str) -> str:
    """Return the dedup key "provider:handle" ("paypal:scammer") of a payment handle.

    The handle may be written "@name", "$name" (Cash App) or as the provider's link
    ("https://paypal.me/Name/10", "cash.app/$name", "venmo.com/u/name"). The handle is folded
    as platform handles are (`fold_identifier`: NFKC, so fullwidth "@" U+FF20 and "$" U+FF04
    are "@" and "$"; Default_Ignorable characters such as U+200B removed; lower case), then
    loses its leading "@" or "$", and the "provider:" of a key given back ("paypal:name" is
    "paypal:name", not "paypal:paypal:name"). A link to another provider's host is rejected.
    Whether the text is a link is decided before folding: only an ASCII "/" makes one.

    Raises InvalidTarget: "payment-provider-invalid", "payment-handle-empty",
    "payment-handle-invalid", "payment-provider-mismatch", "payment-link-unrecognised".
    """
    name = canonical_provider(provider)
    text = handle.strip(STRIP_CHARS)
    # A compatibility character may fold into a "/" (U+2100 is "a/c"): that is a bad handle,
    # not a link to another provider, so links are told apart on the text as written.
    text = fold_identifier(_handle_from_link(text, name) if "/" in text else text)
    if text.removeprefix("www.") in _LINKS:  # "paypal.me": a link that names nobody
        raise InvalidTarget("payment-handle-empty", f"{quote(handle)} names no handle.")
    text = text.removeprefix(name + ":")  # our own key ("paypal:alice") sent back: idempotent
    if text[:1] in ("@", "$"):
        text = text[1:]
    if not text:
        raise InvalidTarget("payment-handle-empty", "The payment handle is empty.")
    check_token(text, "payment-handle", MAX_PAYMENT_HANDLE)
    if text[0] in "@$":
        raise InvalidTarget("payment-handle-invalid", f"{quote(text)} has two leading signs.")
    return name + ":" + text


def _handle_from_link(text: str, provider: str) -> str:
    """Return the handle a provider's payment link names (percent-decoded, not yet folded).

    Raises InvalidTarget: "payment-provider-mismatch" (not a link of `provider`),
    "payment-handle-empty" (the link names nobody), "payment-link-unrecognised" (a page of the
    provider's site that is not a handle link, see _LINKS), "payment-handle-invalid".
    """
    target = canonical_url(text)
    host, _, rest = target.key.partition("/")
    link = _LINKS.get(host.removeprefix("www."))
    if link is None or link[0] != provider:
        raise InvalidTarget(
            "payment-provider-mismatch", f"{quote(text)} is not a {provider} payment link."
        )
    path = "/" + rest.split("?", 1)[0]
    if path.strip("/") == "":
        raise InvalidTarget("payment-handle-empty", f"{quote(text)} names no handle.")
    found = link[1].fullmatch(path)
    if found is None:
        raise InvalidTarget(
            "payment-link-unrecognised",
            f"{quote(text)} is not a {provider} link to a handle; give the handle itself.",
        )
    try:
        return unquote(found.group(1), errors="strict")
    except UnicodeDecodeError:
        raise InvalidTarget("payment-handle-invalid", f"{quote(text)} is not UTF-8.") from None


def platform_account(
    handle: str | None, account_id: str | None, profile_url: str | None
) -> CanonicalTarget:
    """Return the target for a platform account given by id, handle and/or profile URL.

    The key is the most stable field given: "id:<account id>", else "handle:<handle>", else the
    profile URL's canonical URL key. The other fields, canonicalised, are kept as evidence.

    Raises InvalidTarget: "target-field-missing" when none is given, or the field's own errors.
    """
    evidence: dict[str, str] = {}
    if handle:
        evidence["handle"] = canonical_handle(handle)
    if account_id:
        evidence["account_id"] = canonical_account_id(account_id)
    if profile_url:
        evidence["profile_url"] = canonical_url(profile_url).canonical
    if "account_id" in evidence:
        key = "id:" + evidence.pop("account_id")
        shown = key
    elif "handle" in evidence:
        key = "handle:" + evidence.pop("handle")
        shown = "@" + key[7:]
    elif "profile_url" in evidence:
        shown = evidence.pop("profile_url")
        key = canonical_url(shown).key
    else:
        raise InvalidTarget(
            "target-field-missing", "A platform account needs handle, account_id or profile_url."
        )
    return CanonicalTarget("platform_account", key, shown, None, evidence)
