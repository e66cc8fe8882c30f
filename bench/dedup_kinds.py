"""Explain URL deduplication on real data: why did two inputs become one target?

Reads the URL list that scripts/submit.py sent and the per-item results it wrote
(`--results`), pairs each `linked_to_open_ticket` item with the first input of the same ticket,
and names the differences between the two raw strings (scheme, :443/:80, fragment, host case,
trailing dot, tracking parameters, ...). Prints JSON counts. Not a test; a report for humans.

Usage: python bench/dedup_kinds.py URLS.txt RESULTS.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, urlsplit

TRACKING = ("utm_", "fbclid", "gclid", "dclid", "msclkid", "mc_eid", "mc_cid", "yclid", "igshid")


def _host_kinds(a: SplitResult, b: SplitResult) -> list[str]:
    host_a, host_b = a.netloc.rsplit("@", 1)[-1], b.netloc.rsplit("@", 1)[-1]
    kinds = []
    if (a.port, b.port) != (None, None) and a.hostname == b.hostname and a.port != b.port:
        kinds.append("default port")
    if host_a != host_b and host_a.lower() == host_b.lower():
        kinds.append("host case")
    bare_a, bare_b = host_a.split(":")[0], host_b.split(":")[0]
    if bare_a.rstrip(".") != bare_b.rstrip(".") or bare_a == bare_b:
        return kinds
    return [*kinds, "trailing dot"]


def _path_kind(a: str, b: str) -> str:
    if a.rstrip("/") == b.rstrip("/"):
        return "empty path / trailing slash"
    if "%" in a + b:
        return "percent-encoding"
    return "dot segments" if "/." in a + b else "path other"


def differences(first: str, other: str) -> list[str]:
    """Return the names of the ways `other` differs from `first` (raw URL strings)."""
    a, b = urlsplit(first.strip()), urlsplit(other.strip())
    kinds = []
    if a.scheme.lower() != b.scheme.lower():
        kinds.append("scheme http/https")
    kinds += _host_kinds(a, b)
    if a.fragment != b.fragment:
        kinds.append("fragment")
    if a.query != b.query:
        keys = [k for q in (a.query, b.query) for k, _ in parse_qsl(q, keep_blank_values=True)]
        tracked = any(k.startswith(TRACKING) for k in keys)
        kinds.append("tracking parameters" if tracked else "query encoding")
    if a.path != b.path:
        kinds.append(_path_kind(a.path, b.path))
    if "@" in a.netloc or "@" in b.netloc:
        kinds.append("userinfo")
    if first.strip() == other.strip():
        kinds.append("identical string")
    return kinds or ["other"]


def main(urls_path: str, results_path: str) -> None:
    """Print {kind: count} for the URL pairs that landed on one ticket."""
    lines = Path(urls_path).read_text(encoding="utf-8").splitlines()
    first_of_ticket: dict[str, str] = {}
    kinds: Counter[str] = Counter()
    combos: Counter[str] = Counter()
    linked = 0
    for raw in Path(results_path).read_text(encoding="utf-8").splitlines():
        item = json.loads(raw)
        ticket = item.get("ticket_id")
        if not ticket:
            continue
        url = lines[item["line"] - 1]
        if item.get("outcome") == "new_ticket":
            first_of_ticket[ticket] = url
        elif item.get("outcome") == "linked_to_open_ticket" and ticket in first_of_ticket:
            linked += 1
            found = differences(first_of_ticket[ticket], url)
            kinds.update(found)
            combos[" + ".join(found)] += 1
    print(
        json.dumps(
            {
                "linked_pairs": linked,
                "by_kind": dict(kinds.most_common()),
                "by_combination": dict(combos.most_common(12)),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
