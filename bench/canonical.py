"""URL canonicalisation cost: microseconds per URL, against the bare WHATWG parse of the same URLs.

A benchmark, not a test: `canonical_url` (and `canonical_target("url", ...)`, the ingest entry
point) over the real phishing URLs in the shared data set and over synthetic clean ones
("https://secure-login-<12 hex>.bank-verify.top/account/123/verify?utm_source=sms&id=123"),
beside `_ada.parse` of the same URLs measured in the same run. Each function runs over the whole
list `--rounds` times, the functions taking turns; the fastest round counts (the least disturbed
by other processes). Rejected URLs are timed too (InvalidTarget is caught).

Usage: python bench/canonical.py [--rounds N] [--synthetic N] [--urls FILE]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fraudchannel.canonical import InvalidTarget, canonical_target, canonical_url  # noqa: E402
from fraudchannel.canonical._ada import parse  # noqa: E402

REAL_URLS = ROOT.parent / "shared" / "data" / "phishing_urls.txt"


def synthetic_urls(count: int, seed: int = 1) -> list[str]:
    """Return `count` distinct clean URLs of one shape (one host each, a tracking parameter)."""
    rng = random.Random(seed)
    return [
        f"https://secure-login-{rng.getrandbits(48):012x}.bank-verify.top/account/123/verify"
        "?utm_source=sms&id=123"
        for _ in range(count)
    ]


def round_seconds(function: Callable[[str], object], urls: list[str]) -> float:
    """Return the wall seconds of one call of `function` per URL, rejections included."""
    start = time.perf_counter()
    for url in urls:
        try:  # noqa: SIM105  (contextlib.suppress would add a context manager to every call)
            function(url)
        except (InvalidTarget, UnicodeError):
            pass
    return time.perf_counter() - start


def measure(
    functions: dict[str, Callable[[str], object]], urls: list[str], rounds: int
) -> dict[str, float]:
    """Return µs per URL of each function: the fastest of `rounds` interleaved rounds."""
    for function in functions.values():  # warm up caches and lazy imports
        round_seconds(function, urls)
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(rounds):
        for name, function in functions.items():
            best[name] = min(best[name], round_seconds(function, urls))
    return {name: seconds / len(urls) * 1e6 for name, seconds in best.items()}


def main() -> None:
    """Print µs per URL for both data sets and the ratio to the bare parse."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds per function (default 7)")
    parser.add_argument("--synthetic", type=int, default=20_000, help="synthetic URLs (20000)")
    parser.add_argument("--urls", type=Path, default=REAL_URLS, help="one URL a line")
    args = parser.parse_args()

    datasets = {"synthetic": synthetic_urls(args.synthetic)}
    if args.urls.is_file():
        real = [line for line in args.urls.read_text(encoding="utf-8").splitlines() if line]
        datasets = {f"real ({args.urls.name})": real, **datasets}
    else:
        print(f"{args.urls} not found: synthetic URLs only", file=sys.stderr)
    functions: dict[str, Callable[[str], object]] = {
        "_ada.parse (baseline)": parse,
        "canonical_url": canonical_url,
        'canonical_target("url")': lambda url: canonical_target("url", {"url": url}),
    }
    print(f"µs per URL, fastest of {args.rounds} rounds; ratio to _ada.parse in the same run")
    for label, urls in datasets.items():
        results = measure(functions, urls, args.rounds)
        baseline = results["_ada.parse (baseline)"]
        print(f"\n{label}: {len(urls)} URLs")
        for name, micros in results.items():
            print(f"  {name:26} {micros:6.2f} µs  {micros / baseline:5.2f}x")


if __name__ == "__main__":
    main()
