"""URL, host and registrable-domain canonicalisation (fraudchannel.canonical.url / host)."""

from __future__ import annotations

import pytest

from fraudchannel.canonical import (
    MAX_URL_LENGTH,
    CanonicalTarget,
    InvalidTarget,
    canonical_url,
    defang,
)


def shown(raw: str) -> str:
    return canonical_url(raw).canonical


def rejected(raw: str) -> str:
    with pytest.raises(InvalidTarget) as info:
        canonical_url(raw)
    return info.value.code


# Safe Browsing v4 "URLs and hashing" canonicalisation examples
# (https://developers.google.com/safe-browsing/v4/urls-hashing#canonicalization) that we follow
# exactly.
SAFE_BROWSING = [
    ("http://host/%25%32%35", "http://host/%25"),
    ("http://host/%25%32%35%25%32%35", "http://host/%25%25"),
    ("http://host/%2525252525252525", "http://host/%25"),
    ("http://host/asdf%25%32%35asd", "http://host/asdf%25asd"),
    ("http://host/%%%25%32%35asd%%", "http://host/%25%25%25asd%25%25"),
    ("http://www.google.com/", "http://www.google.com/"),
    (
        "http://%31%36%38%2e%31%38%38%2e%39%39%2e%32%36/%2E%73%65%63%75%72%65/%77%77%77%2E%65%62%61%79%2E%63%6F%6D/",
        "http://168.188.99.26/.secure/www.ebay.com/",
    ),
    (
        "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/",
        "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/",
    ),
    (  # the Safe Browsing host is "host%23.com", which is no DNS name: same path, valid host
        "http://host.com/%257Ea%2521b%2540c%2523d%2524e%25f%255E00%252611%252A22%252833%252944_55%252B",
        "http://host.com/~a!b@c%23d$e%25f^00&11*22(33)44_55+",
    ),
    ("http://3279880203/blah", "http://195.127.0.11/blah"),
    ("http://www.google.com/blah/..", "http://www.google.com/"),
    ("www.google.com/", "http://www.google.com/"),
    ("www.google.com", "http://www.google.com/"),
    ("http://www.evil.com/blah#frag", "http://www.evil.com/blah"),
    ("http://www.GOOgle.com/", "http://www.google.com/"),
    ("http://www.google.com.../", "http://www.google.com/"),
    ("http://www.google.com/foo\tbar\rbaz\n2", "http://www.google.com/foobarbaz2"),
    ("http://www.google.com/q?", "http://www.google.com/q?"),
    ("http://www.google.com/q?r?", "http://www.google.com/q?r?"),
    ("http://www.google.com/q?r?s", "http://www.google.com/q?r?s"),
    ("http://evil.com/foo#bar#baz", "http://evil.com/foo"),
    ("http://evil.com/foo;", "http://evil.com/foo;"),
    ("http://evil.com/foo?bar;", "http://evil.com/foo?bar;"),
    ("http://notrailingslash.com", "http://notrailingslash.com/"),
    ("  http://www.google.com/  ", "http://www.google.com/"),
    ("https://www.securesite.com/", "https://www.securesite.com/"),
    ("http://host.com/ab%23cd", "http://host.com/ab%23cd"),
    ("http://host.com//twoslashes?more//slashes", "http://host.com/twoslashes?more//slashes"),
    # google/safebrowsing urls_test.go (TestCanonicalHost, TestCanonicalPath)
    ("http://google.com./foo.html", "http://google.com/foo.html"),
    ("http://google...com/foo.html", "http://google.com/foo.html"),
    ("http://..google.com/foo.html", "http://google.com/foo.html"),
    ("http://0x12.0x43.0x44.0x01", "http://18.67.68.1/"),
    ("http://192.168.0.1:80/index.html", "http://192.168.0.1/index.html"),
    ("http://[::192.9.5.5]/ipng", "http://[::c009:505]/ipng"),
    ("http://a.com/foo/.././bar/./../foo.html", "http://a.com/foo.html"),
    ("http://a.com//a//b///c////", "http://a.com/a/b/c/"),
    ("http%3A%2F%2Fwackyurl.com:80/", "REJECT"),  # SB decodes the scheme; browsers do not
]


@pytest.mark.parametrize(("raw", "expected"), SAFE_BROWSING)
def test_safe_browsing_examples(raw: str, expected: str) -> None:
    if expected == "REJECT":
        rejected(raw)
    else:
        assert shown(raw) == expected


# Where we deliberately differ from Safe Browsing (module docstring of canonical.url).
SAFE_BROWSING_DEVIATIONS = [
    ("http://www.gotaport.com:1234/", "http://www.gotaport.com:1234/"),  # SB drops any port
    ("http://host.com/a%3Fb", "http://host.com/a%3Fb"),  # "?" stays escaped in the path
    ("http://host.com/a%5Cb", "http://host.com/a%5Cb"),  # "\" too (WHATWG reads it as "/")
    ("http://host.com/x%5B.%5Dy", "http://host.com/x%5B.%5Dy"),  # a decoded defang marker
]


@pytest.mark.parametrize(("raw", "expected"), SAFE_BROWSING_DEVIATIONS)
def test_deliberate_deviations_from_safe_browsing(raw: str, expected: str) -> None:
    assert shown(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "http://\x01\x80.com/",  # SB: http://%01%80.com/
        "http:// leadingspace.com/",  # SB: http://%20leadingspace.com/
        "http://%20leadingspace.com/",
        "%20leadingspace.com/",
        "http://W!eird<>Ho$^.com/",  # SB: http://w!eird<>ho$^.com/
        "http://ex!ample.com/",
        "http://host%23.com/",
    ],
)
def test_hosts_that_are_no_dns_names_are_rejected(raw: str) -> None:
    assert rejected(raw) in {"url-host-invalid", "url-unparseable"}


# WHATWG URL Standard behaviours (https://url.spec.whatwg.org/), as browsers parse.
WHATWG = [
    ("http://example.com\\foo\\bar", "http://example.com/foo/bar"),
    ("https://evil.example\\@bank.example/", "https://evil.example/@bank.example/"),
    ("http:example.com/x", "http://example.com/x"),
    ("http:/example.com/x", "http://example.com/x"),
    ("http:///example.com/x", "http://example.com/x"),  # special schemes skip extra slashes
    ("HTTP://EXAMPLE.COM/Path", "http://example.com/Path"),  # path case is kept
    (
        "http://\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25\u3002com/",
        "http://example.com/",
    ),  # fullwidth
    ("http://exa\u00admple.com/", "http://example.com/"),  # soft hyphen is ignored (UTS #46)
    ("http://faß.de/", "http://xn--fa-hia.de/"),  # nontransitional: ß kept
    ("http://ᏣᎳᎩ.com/", "http://xn--f9dt7l.com/"),  # Cherokee (NOTES: IDNA 2003 differs)
    ("http://%77%77%77.example.com/", "http://www.example.com/"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("http://0300.0250.0.1/", "http://192.168.0.1/"),
    ("http://192.168.257/", "http://192.168.1.1/"),
    ("http://017700000001/", "http://127.0.0.1/"),
    ("http://1.2.3.4./", "http://1.2.3.4/"),
    ("http://0x7f.1../", "http://127.0.0.1/"),  # numeric once the stray dots are gone
    ("http://[2001:DB8:0:0::1]:80/", "http://[2001:db8::1]/"),
    ("http://[::ffff:192.168.0.1]/", "http://[::ffff:c0a8:1]/"),
    ("https://x.example:443/", "https://x.example/"),
    ("http://x.example:443/", "http://x.example:443/"),  # not the default port of http
    ("http://x.example:0080/", "http://x.example/"),
    ("ftp://files.example:21/a", "ftp://files.example/a"),
    ('http://h.example/a b<c>"d`{e}', 'http://h.example/a%20b<c>"d`{e}'),
    ("http://h.example/%2e%2E/a/%2e/b", "http://h.example/a/b"),
    ("http://h.example/a/%2F..%2Fb", "http://h.example/b"),  # "/a//../b": as Go path.Clean
    ("http://h.example/\u00e9?\u00e9=\u00e9", "http://h.example/%C3%A9?%C3%A9=%C3%A9"),
    ("http://h.example/%c3%a9", "http://h.example/%C3%A9"),
    ("http://h.example/%ff", "http://h.example/%FF"),  # not UTF-8: kept as a byte
    ("http://h.example/a%0Ab", "http://h.example/a%0Ab"),  # escaped LF is kept, escaped
]


@pytest.mark.parametrize(("raw", "expected"), WHATWG)
def test_whatwg_parsing(raw: str, expected: str) -> None:
    assert shown(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "http://1.1.1.]1",
        "http://1.2.3.4.5/",
        "http://1.2..3.4/",
        "http://a.b.c.1/",  # ends in a number but is no IPv4 address (WHATWG)
        "http://256.1.1.1/",
        "http://0x100000000/",
        "http://[::1/",
        "http://exa\x00mple.com/",
        "http://a\u200db.com/",  # ZERO WIDTH JOINER outside its context (CheckJoiners)
        "http://x.example:65536/",
        "http://x.example:8o/",
        "http://bank.example%40evil.example/",
        "http://.../",
        "http://" + "a" * 64 + ".com/",  # a label over 63 octets
        "http://" + ".".join(["abcdefghi"] * 26) + ".com/",  # over 253 octets
        "http://💩.la/",  # valid in UTS #46, not IDNA2008: rejected as idna.encode does
        "http://xn--a.com/",  # not decodable Punycode
        "http://xn--ls8h.la/",
    ],
)
def test_broken_urls_are_rejected(raw: str) -> None:
    assert rejected(raw) in {
        "url-unparseable",
        "url-host-invalid",
        "url-host-idna",
        "url-defang-broken",
    }


def test_half_restored_defang_is_named() -> None:
    assert rejected("http://1.1.1.]1") == "url-defang-broken"
    assert rejected("hxxp://evil[.com/") == "url-defang-broken"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("hxxp://evil[.]com/login", "http://evil.com/login"),
        ("hxxps://bins-mailer[.]top/info", "https://bins-mailer.top/info"),
        ("hXXps[:]//evil(.)com", "https://evil.com/"),
        ("HXXPS://EVIL[.]COM/A", "https://evil.com/A"),
        ("h**ps://evil{.}com", "https://evil.com/"),
        ("h[tt]ps://evil[dot]com/x[.]php", "https://evil.com/x.php"),
        ("hxxps[://]evil[.]com[/]x", "https://evil.com/x"),
        ("evil[.]com", "http://evil.com/"),
        ("fxp://files[.]example/x", "ftp://files.example/x"),
        ("http://1[.]2[.]3[.]4/", "http://1.2.3.4/"),
    ],
)
def test_defanged_urls_are_restored(raw: str, expected: str) -> None:
    assert shown(raw) == expected


def test_nested_defang_markers_are_rejected() -> None:
    assert rejected("http://evil[[.]]com/") == "url-defang-broken"
    assert rejected("http://evil.com/[(.)]") == "url-defang-broken"


def test_defang_alone() -> None:
    assert defang("hxxps://a[.]b[/]c") == "https://a.b/c"
    assert defang("user[at]example[.]com") == "user@example.com"
    assert defang("http://1.1.1.]1") == "http://1.1.1.]1"
    assert defang("hxxpfoo.com") == "hxxpfoo.com"  # a scheme marker needs its colon
    assert defang("https://ok.example/") == "https://ok.example/"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "https://shop.example/p?id=7&utm_source=fb&utm_medium=x&fbclid=abc&ref=2",
            "https://shop.example/p?id=7&ref=2",
        ),
        ("https://x.example/?fbclid=abc", "https://x.example/"),  # emptied: the "?" goes too
        ("https://x.example/?&fbclid=abc", "https://x.example/"),
        ("https://x.example/?UTM_Source=a&b=1", "https://x.example/?b=1"),
        ("https://x.example/?utm%5Fsource=a&b=1", "https://x.example/?b=1"),
        ("https://x.example/?b=2&a=1&gclid=9", "https://x.example/?b=2&a=1"),  # order kept
        ("https://x.example/?a=1&&b=2&msclkid=1", "https://x.example/?a=1&&b=2"),
        (
            "https://x.example/?_ga=1&mc_eid=2&mc_cid=3&yclid=4&igshid=5&dclid=6",
            "https://x.example/",
        ),
        ("https://x.example/?utm=1&utmsource=2", "https://x.example/?utm=1&utmsource=2"),
        ("https://x.example/?q=a%26utm_source%3Db", "https://x.example/?q=a"),  # SB decodes %26
    ],
)
def test_tracking_parameters_are_removed(raw: str, expected: str) -> None:
    assert shown(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com:8080/x", "http://example.com:8080/x"),
        ("www.google.com:80", "http://www.google.com/"),  # urls_test.go TestParseURL
        ("localhost:8080", "http://localhost:8080/"),
        ("example.com:", "http://example.com/"),
        ("//evil.example/x", "http://evil.example/x"),
        ("\\\\evil.example/x", "http://evil.example/x"),
        ("1.2.3.4/x", "http://1.2.3.4/x"),
        ("[2001:db8::1]/x", "http://[2001:db8::1]/x"),
    ],
)
def test_missing_scheme_means_http(raw: str, expected: str) -> None:
    assert shown(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("javascript:alert(1)", "url-scheme-unsupported"),
        ("data:text/html,<script>alert(1)</script>", "url-scheme-unsupported"),
        ("mailto:someone@example.com", "url-scheme-unsupported"),
        ("file:///etc/passwd", "url-scheme-unsupported"),
        ("ws://x.example/", "url-scheme-unsupported"),
        ("sftp://x.example/", "url-scheme-unsupported"),
        ("www.google.com:xxyy/foo.html:80", "url-scheme-unsupported"),
        ("https//evil.example/", "url-scheme-malformed"),
        ("/relative/path", "url-host-missing"),
        ("?query#ref", "url-host-missing"),
        ("#ref", "url-host-missing"),
        ("///x", "url-host-missing"),
        ("", "url-empty"),
        (" \t\r\n\u200b ", "url-empty"),
        ("http://x.example/" + "a" * MAX_URL_LENGTH, "url-too-long"),
        ("http://x.example/" + "é" * 2000, "url-too-long"),  # 12,000 once escaped
        ("http://#ref", "url-unparseable"),
        ("http://?query", "url-unparseable"),
        ("http://\ud800.example/", "url-unparseable"),  # lone surrogate
    ],
)
def test_rejections_have_codes(raw: str, code: str) -> None:
    assert rejected(raw) == code


def test_target_shape_and_evidence() -> None:
    target = canonical_url("http://bank.example:pw@evil.example:8080/a/../login?utm_source=x#/w")
    assert target == CanonicalTarget(
        kind="url",
        key="evil.example:8080/login",
        canonical="http://evil.example:8080/login",
        registrable_domain=None,  # ".example" is no listed suffix
        evidence={"userinfo": "bank.example:pw", "fragment": "/w"},
    )
    with pytest.raises(TypeError):
        target.evidence["x"] = "y"  # type: ignore[index]
    assert hash(target) == hash(canonical_url("http://evil.example:8080/login"))


def test_evidence_is_frozen_and_empty_by_default() -> None:
    plain = canonical_url("https://bins-mailer.top/info")
    assert plain.evidence == {}
    given = {"userinfo": "x"}
    target = CanonicalTarget("url", "k", "c", None, given)
    given["userinfo"] = "changed"
    assert target.evidence == {"userinfo": "x"}


def test_http_and_https_share_a_key_ftp_keeps_its_scheme() -> None:
    http, https = canonical_url("http://x.example/a"), canonical_url("https://x.example/a")
    assert http.key == https.key == "x.example/a"
    assert (http.canonical, https.canonical) == ("http://x.example/a", "https://x.example/a")
    assert canonical_url("ftp://x.example/a").key == "ftp://x.example/a"


def test_userinfo_trick_keys_on_the_real_host() -> None:
    target = canonical_url("http://www.bank.example@evil.example/")
    assert target.key == "evil.example/"
    assert target.evidence["userinfo"] == "www.bank.example"


@pytest.mark.parametrize(
    "raw",
    [raw for raw, expected in SAFE_BROWSING + WHATWG if expected != "REJECT"]
    + ["hxxp://evil[.]com/login", "http://x.example/?utm_source=a&b=%26&c=%3D#x"],
)
def test_canonical_urls_are_fixed_points(raw: str) -> None:
    first = canonical_url(raw)
    again = canonical_url(first.canonical)
    assert (again.canonical, again.key) == (first.canonical, first.key)
    assert canonical_url(first.key).key == first.key or first.key.startswith("ftp://")
