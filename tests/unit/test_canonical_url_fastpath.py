"""The shortcuts of URL canonicalisation give what the long way gives (fraudchannel.canonical.url).

`_clean_url` (an already clean URL) against `_full_url` (every rule); the rewritten helpers
against the plain definitions they replaced: tracking parameters, re-escaping, PSL lookup.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fraudchannel.canonical import TRACKING_PARAMETERS, InvalidTarget, canonical_url
from fraudchannel.canonical._ada import _PLAIN
from fraudchannel.canonical.host import _RULES, domain_registrable
from fraudchannel.canonical.target import CanonicalTarget
from fraudchannel.canonical.url import _clean_url, _drop_tracking, _full_url, _reescape

SETTINGS = settings(max_examples=800)  # the rest from the profile (tests/conftest.py)

# Mostly clean pieces, so that about half the URLs take the short way.
LABELS = st.one_of(
    *[st.from_regex(r"[a-z][a-z0-9-]{0,9}", fullmatch=True)] * 8,
    st.sampled_from(
        ["xn--mlat-zra", "xn--a", "a" * 63, "a" * 64, "123", "0x7f", "Ab", "a_b", "", "-", "ck",
         "co", "uk", "pages", "dev", "github", "io", "top", "com", "www"]
    ),
)  # fmt: skip
SEGMENTS = st.one_of(
    *[st.text("abXZ09._~!$&'()*+,;=:@-", min_size=1, max_size=8)] * 6,
    st.sampled_from(
        ["", ".", "..", ".well-known", "(.)", "(dot)", "[.]", "(at)", "%41", "%2e", "é", " ",
         "{x}", "\\", "a?b", "#x", "index.php", "(S(x1))"]
    ),
)  # fmt: skip
PARAMETERS = st.one_of(
    *[st.text("abUTM_09.=-()[]|^/:?", max_size=10)] * 3,
    st.sampled_from(
        ["utm_source=sms", "UTM_Medium=y", "utm_", "utm=1", "fbclid=1", "gclid", "_ga=1", "_GL=2",
         "ml_subscriber", "ml_subscriber_hash=2", "ml_subscriberx=1", "", "=", "id=123",
         "b=[.]", "c=(.)", "d=%26", "e='", "f=a b", "g=|^", "h=é"]
    ),
)  # fmt: skip
URLS = st.builds(
    lambda scheme, labels, segments, parameters: (
        scheme + ".".join(labels) + ("" if segments is None else "/" + "/".join(segments))
        + ("" if parameters is None else "?" + "&".join(parameters))
    ),
    st.sampled_from(["https://"] * 8 + ["http://"] * 8 + ["HTTP://", "ftp://", "", " https://"]),
    st.lists(LABELS, min_size=1, max_size=5),
    st.none() | st.lists(SEGMENTS, max_size=5),
    st.none() | st.lists(PARAMETERS, max_size=5),
)  # fmt: skip


def full(raw: str) -> CanonicalTarget | str:
    """`_full_url(raw)`, or the code it rejects `raw` with."""
    try:
        return _full_url(raw)
    except InvalidTarget as exc:
        return exc.code


@SETTINGS
@given(raw=URLS)
@example(raw="https://secure-login-0123456789ab.bank-verify.top/account/123/verify?utm_source=sms")
@example(raw="http://x.example?fbclid=1")
@example(raw="http://a.example?" + "q" * 8175)  # 8,192 characters, 8,193 with the "/"
def test_clean_url_is_the_full_canonicalisation(raw: str) -> None:
    fast = _clean_url(raw)
    if fast is not None:
        assert fast == full(raw)
        assert canonical_url(raw) == fast
        assert _PLAIN.fullmatch(raw)  # what _clean_url's docstring relies on


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (
            "https://secure-login-0123456789ab.bank-verify.top/account/123/verify?utm_source=sms&id=123",
            "secure-login-0123456789ab.bank-verify.top/account/123/verify?id=123",
        ),
        ("http://82428-gemini.com", "82428-gemini.com/"),
        ("http://a.example/x?", "a.example/x?"),
        ("http://a.example?utm_source=x", "a.example/"),
        ("https://rbfcu-star.azurewebsites.net/(S(tpiie501))/Main/Login", None),
    ],
)
def test_common_urls_take_the_short_way(raw: str, key: str | None) -> None:
    fast = _clean_url(raw)
    assert fast is not None
    assert fast == _full_url(raw)
    assert fast.key == (key or raw.split("://", 1)[1])


@pytest.mark.parametrize(
    "raw",
    [
        "HTTPS://a.example/",  # upper case
        "https://a.example:8443/",  # port
        "https://u@a.example/",  # userinfo
        "https://a.example/#x",  # fragment
        "https://a.example//x",  # slashes to collapse
        "https://a.example/./x",  # dot segment
        "https://a.example/%41",  # escapes
        "https://xn--mlat-zra.example/",  # IDNA, checked by the long way
        "https://a.example/(.)x",  # a defang marker
        "https://1.2.3.4/",  # IPv4
        " https://a.example/",  # spaces to trim
        "http://a.example?" + "q" * 8175,  # too long once the "/" is added
    ],
)
def test_other_urls_take_the_long_way(raw: str) -> None:
    assert _clean_url(raw) is None


def tracking_dropped(query: str) -> str:
    """The definition `_drop_tracking` implements with one regex pass."""
    kept = []
    for parameter in query.split("&"):
        name = parameter.split("=", 1)[0].lower()
        if not (name.startswith("utm_") or name in TRACKING_PARAMETERS):
            kept.append(parameter)
    return "&".join(kept)


@SETTINGS
@given(parameters=st.lists(PARAMETERS | st.sampled_from(sorted(TRACKING_PARAMETERS)), max_size=7))
def test_drop_tracking_keeps_the_other_parameters_in_order(parameters: list[str]) -> None:
    query = "&".join(parameters)
    assert _drop_tracking(query) == tracking_dropped(query)
    assert _drop_tracking(query.upper()) == tracking_dropped(query.upper())


@SETTINGS
@given(text=st.text(st.characters(max_codepoint=0xFF), max_size=40))
def test_reescape_escapes_what_safe_browsing_escapes(text: str) -> None:
    for extra, path in (("", False), ("?\\", True)):
        escaped = "".join(
            f"%{ord(c):02X}" if ord(c) <= 0x20 or ord(c) >= 0x7F or c in "#%" + extra else c
            for c in text
        )
        assert _reescape(text, path) == escaped


def registrable_walk(host: str) -> str | None:
    """The PSL algorithm as a loop over suffixes (what `domain_registrable` caches per parent)."""
    previous, suffix = None, host
    while True:
        if suffix in _RULES:
            return previous
        if "!" + suffix in _RULES:
            return suffix
        dot = suffix.find(".")
        if dot < 0:
            return None
        if "*." + suffix[dot + 1 :] in _RULES:
            return previous
        previous, suffix = suffix, suffix[dot + 1 :]


RULE_LABELS = sorted({label for rule in _RULES for label in rule.split(".")})[::4]


@SETTINGS
@given(labels=st.lists(st.sampled_from(["x", "www", "ck", "uk", *RULE_LABELS]), max_size=6))
@example(labels=["www", "ck"])
@example(labels=["a", "b", "ck"])
@example(labels=["x", "city", "kawasaki", "jp"])
def test_domain_registrable_is_the_psl_walk(labels: list[str]) -> None:
    host = ".".join(labels)
    assert domain_registrable(host) == registrable_walk(host)
