"""Properties the other canonical tests leave out, for URLs, hosts and e-mail: spellings of one
target share a key, pages that differ keep apart, derived fields agree with the helpers, and
long text is still refused only with InvalidTarget. Accounts and wallets:
test_canonical_account_equivalences.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fraudchannel.canonical import (
    InvalidTarget,
    canonical_crypto,
    canonical_email,
    canonical_handle,
    canonical_host,
    canonical_iban,
    canonical_payment_handle,
    canonical_phone,
    canonical_target,
    canonical_uk_bank_account,
    canonical_url,
    defang,
    registrable_domain,
)
from fraudchannel.canonical.accounts import canonical_account_id
from fraudchannel.canonical.host import domain_registrable
from tests.unit.test_canonical_properties import (
    ANY_TEXT,
    LABELS,
    SETTINGS,
    URLS,
    only_invalid_target,
)

DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21"}


def _split(canonical: str) -> tuple[str, str, str, str]:
    """Return (scheme, host, port-with-colon, rest from the path on) of a canonical URL."""
    scheme, _, tail = canonical.partition("://")
    authority, slash, rest = tail.partition("/")
    if authority.startswith("["):
        host, _, port = authority.partition("]")
        host += "]"
    else:
        host, _, port = authority.partition(":")
        port = ":" + port if port else ""
    return scheme, host, port, slash + rest


# -- URLs ---------------------------------------------------------------------------------------


@SETTINGS
@given(raw=st.one_of(URLS, ANY_TEXT))
def test_url_derived_fields_agree(raw: str) -> None:
    """The key is the canonical URL less an http(s) scheme; the host is a canonical host whose
    registrable domain (a label-aligned suffix of it) is the one reported."""
    target = only_invalid_target(lambda: canonical_url(raw))
    if target is None:
        return
    scheme, host, port, rest = _split(target.canonical)
    assert scheme in ("http", "https", "ftp")
    assert rest.startswith("/")
    assert len(target.canonical) <= 8192
    if scheme == "ftp":
        assert target.key == target.canonical
    else:
        assert target.key == target.canonical[len(scheme) + 3 :]
    assert canonical_host(host) == host
    assert registrable_domain(host) == target.registrable_domain
    if target.registrable_domain is not None:
        assert host == target.registrable_domain or host.endswith("." + target.registrable_domain)
    assert port != ":" + DEFAULT_PORTS[scheme]


@SETTINGS
@given(raw=st.one_of(URLS, ANY_TEXT), pad=st.sampled_from(["", " ", "\u200b", "\t\n", "\ufeff"]))
def test_url_spellings_of_one_page_share_a_key(raw: str, pad: str) -> None:
    """Case of scheme and host, a default port, a fragment, userinfo, tracking parameters,
    surrounding blanks, an http/https swap and defanging leave the key as it is (DESIGN)."""
    target = only_invalid_target(lambda: canonical_url(raw))
    if target is None:
        return
    scheme, host, port, rest = _split(target.canonical)
    query = rest.partition("?")[2]
    variants = [
        scheme.upper() + "://" + host.upper() + port + rest,
        target.canonical + "#fragment",
        pad + target.canonical + pad,
        scheme + "://user:pass@" + host + port + rest,
        target.canonical.replace("://", "[://]", 1).replace(".", "[.]", 1),
    ]
    if scheme != "ftp":
        variants.append(scheme.replace("http", "hxxp") + "://" + host + port + rest)
    if not port:
        variants.append(scheme + "://" + host + ":" + DEFAULT_PORTS[scheme] + rest)
    if scheme != "ftp" and port not in (":80", ":443"):
        other = "https" if scheme == "http" else "http"
        variants.append(other + "://" + host + port + rest)
    if query:  # an empty "?" stays, one emptied of trackers goes (url.py docstring)
        variants.append(target.canonical + "&utm_source=x&FBCLID=1&gclid")
    elif "?" not in rest:
        variants.append(target.canonical + "?utm_medium=y&_ga=2")
    for variant in variants:
        assert canonical_url(variant).key == target.key, variant


@SETTINGS
@given(
    labels=st.lists(st.from_regex(r"\A[a-z][a-z0-9]{0,8}\Z"), min_size=1, max_size=3),
    path=st.from_regex(r"\A[a-z][a-z0-9]{0,8}\Z"),
)
def test_url_path_case_and_trailing_slash_keep_pages_apart(labels: list[str], path: str) -> None:
    """Only the scheme and host are case-insensitive; "/x" and "/x/" are two pages."""
    base = "http://" + ".".join([*labels, "com"]) + "/"
    lower = canonical_url(base + path).key
    assert canonical_url(base + path.upper()).key != lower or path.upper() == path
    assert canonical_url(base + path + "/").key != lower
    assert canonical_url("ftp" + base[4:] + path).key != lower


@SETTINGS
@given(raw=st.one_of(st.lists(LABELS, min_size=1, max_size=5).map(".".join), ANY_TEXT))
def test_registrable_domain_is_a_suffix_of_the_host(raw: str) -> None:
    host = only_invalid_target(lambda: canonical_host(raw))
    if host is None:
        return
    domain = registrable_domain(raw)
    assert domain == registrable_domain(host)
    if domain is not None:
        assert host == domain or host.endswith("." + domain)
        assert registrable_domain(domain) == domain
    assert canonical_url("http://" + host + "/").key == host + "/"


# -- e-mail -------------------------------------------------------------------------------------


@SETTINGS
@given(raw=st.one_of(st.emails(), ANY_TEXT))
def test_email_spellings_share_a_key(raw: str) -> None:
    address = only_invalid_target(lambda: canonical_email(raw))
    if address is None:
        return
    local, _, domain = address.rpartition("@")
    assert domain == domain.lower()
    assert domain.isascii()
    if local.isascii():  # "ß".upper().lower() is "ss": only ASCII case round-trips
        assert canonical_email(address.upper()) == address
    for variant in (
        "MAILTO:" + address,
        " " + address + "\u200b",
        local + "[at]" + domain.replace(".", "[.]"),
        local + "(@)" + domain.upper(),
    ):
        assert canonical_email(variant) == address, variant
    target = canonical_target("email", {"address": raw})
    assert (target.key, target.canonical) == (address, address)
    assert target.registrable_domain == domain_registrable(domain)


# -- the dispatcher -----------------------------------------------------------------------------


@SETTINGS
@given(raw=st.one_of(URLS, ANY_TEXT))
def test_url_targets_are_fixed_points_through_the_dispatcher(raw: str) -> None:
    target = only_invalid_target(lambda: canonical_target("url", {"url": raw}))
    if target is None:
        return
    again = canonical_target("url", {"url": target.canonical})
    assert (again.kind, again.key, again.canonical) == (target.kind, target.key, target.canonical)
    profile = canonical_target("platform_account", {"profile_url": raw})
    assert profile.key == target.key


# -- long and hostile text ----------------------------------------------------------------------

PIECES = st.one_of(
    st.sampled_from(
        ["\x00", "\ud800", "\udfff", "%", "%25", "[.]", "(.)", "hxxp", "http://", "//", "@",
         "utm_a=1&", "xn--", "\uff10", "\u0301", "ß", ".", "..", "\u200b", "a", "0", "+44"]
    ),
    st.characters(exclude_categories=()),
)  # fmt: skip
LONG_TEXT = st.builds(
    lambda prefix, body, times: prefix + body * times,
    st.sampled_from(
        ["", "http://", "https://a.com/", "a.com/?", "+44", "GB82", "0x", "@", "mailto:a@"]
    ),
    st.lists(PIECES, min_size=1, max_size=6).map("".join),
    st.sampled_from([1, 50, 300, 1500, 8200]),
)


@SETTINGS
@given(raw=LONG_TEXT)
def test_long_text_raises_only_invalid_target(raw: str) -> None:
    assert isinstance(defang(raw), str)
    for call in (
        lambda: canonical_url(raw),
        lambda: canonical_host(raw),
        lambda: registrable_domain(raw),
        lambda: canonical_phone(raw),
        lambda: canonical_email(raw),
        lambda: canonical_iban(raw),
        lambda: canonical_uk_bank_account(raw, raw),
        lambda: canonical_handle(raw),
        lambda: canonical_account_id(raw),
        lambda: canonical_crypto(raw),
        lambda: canonical_payment_handle("paypal", raw),
        lambda: canonical_payment_handle(raw, "name"),
        lambda: canonical_target("platform_account", {"handle": raw, "profile_url": raw}),
        lambda: canonical_target("crypto_wallet", {"address": raw, "chain": raw}),
    ):
        only_invalid_target(call)  # raises nothing but InvalidTarget with a declared code


def test_a_defanged_scheme_without_colon_is_refused_like_a_plain_one() -> None:
    """REGRESSION (fails before the fix): "https//x" is refused (url-scheme-malformed), but its
    defanged spelling "hxxps//x" was read as host "hxxps" with path "/x"."""
    for raw in ("hxxps//evil.com/x", "hXXp//evil.com", "hxxps/evil.com", "fxp//evil.com"):
        with pytest.raises(InvalidTarget) as info:
            canonical_url(raw)
        assert info.value.code == "url-scheme-malformed", raw
