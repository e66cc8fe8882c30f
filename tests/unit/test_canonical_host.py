"""Hosts and registrable domains (fraudchannel.canonical.host): Safe Browsing host rules, UTS #46
IDNA, and the Public Suffix List with its private section, checked against tldextract."""

from __future__ import annotations

import pytest

from fraudchannel.canonical import (
    InvalidTarget,
    canonical_host,
    canonical_url,
    registrable_domain,
)
from fraudchannel.canonical.host import PSL, domain_registrable


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.com.", "example.com"),
        ("..example..com..", "example.com"),
        ("evil[.]com", "evil.com"),
        ("0x7f.1", "127.0.0.1"),
        ("3279880203", "195.127.0.11"),
        ("[2001:DB8::1]", "[2001:db8::1]"),
        ("faß.de", "xn--fa-hia.de"),
        ("ᏣᎳᎩ.com", "xn--f9dt7l.com"),
        ("www.ümlat.com", "www.xn--mlat-zra.com"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("XN--MLAT-ZRA.com", "xn--mlat-zra.com"),
        ("a_b.godaddysites.com", "a_b.godaddysites.com"),  # real feed hosts (DNS allows "_")
        ("my--sso-x.webflow.io", "my--sso-x.webflow.io"),  # hyphens in positions 3-4
        (" \u200bexample.com\ufeff ", "example.com"),
    ],
)
def test_canonical_host(raw: str, expected: str) -> None:
    assert canonical_host(raw) == expected
    assert canonical_host(expected) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "url-host-invalid"),
        ("example.com/path", "url-host-invalid"),
        ("example.com:80", "url-host-invalid"),
        ("user@example.com", "url-host-invalid"),
        ("http://example.com", "url-host-invalid"),
        ("ex!ample.com", "url-host-invalid"),
        ("a" * 64 + ".com", "url-host-invalid"),
        ("x" * 1025, "url-host-invalid"),
        ("💩.la", "url-host-idna"),
        ("xn--a.com", "url-host-idna"),
        ("evil[[.]]com", "url-defang-broken"),
        ("1.2.3.4.5", "url-host-invalid"),
    ],
)
def test_canonical_host_rejections(raw: str, code: str) -> None:
    with pytest.raises(InvalidTarget) as info:
        canonical_host(raw)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://meta-muse.pages.dev", "meta-muse.pages.dev"),  # PSL private section
        ("https://a.b.vercel.app/x", "b.vercel.app"),
        ("https://x.y.github.io/", "y.github.io"),
        ("http://www.ledger.fr-support.com", "fr-support.com"),
        ("https://www.google.co.uk./maps", "google.co.uk"),
        ("http://пример.рф/", "xn--e1afmkfd.xn--p1ai"),
        ("http://www.ck/", "www.ck"),  # exception rule !www.ck
        ("http://a.b.ck/", "a.b.ck"),  # wildcard rule *.ck
        ("http://pages.dev/", None),  # a public suffix itself
        ("http://localhost/", None),
        ("http://1.2.3.4/", None),
        ("http://[::1]/", None),
    ],
)
def test_registrable_domain_of_urls(raw: str, expected: str | None) -> None:
    assert canonical_url(raw).registrable_domain == expected


def test_registrable_domain_function() -> None:
    assert registrable_domain("WWW.Ledger.FR-support.com.") == "fr-support.com"
    assert registrable_domain("3279880203") is None
    assert registrable_domain("[::1]") is None
    with pytest.raises(InvalidTarget):
        registrable_domain("not a host")


@pytest.mark.parametrize(
    "host",
    [
        "meta-muse.pages.dev",
        "www.ck",
        "a.b.ck",
        "ck",
        "x.kawasaki.jp",
        "city.kawasaki.jp",
        "a.city.kawasaki.jp",
        "www.xn--e1afmkfd.xn--p1ai",
        "s3.amazonaws.com",
        "bucket.s3.amazonaws.com",
        "foo.bar.example",
        "com",
        "a_b.godaddysites.com",
    ],
)
def test_own_suffix_lookup_agrees_with_tldextract(host: str) -> None:
    expected = PSL.extract_str(host).top_domain_under_public_suffix or None
    assert domain_registrable(host) == expected
