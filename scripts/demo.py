#!/usr/bin/env python3
"""Submit the example files to a running service as a demo reporter (`make demo`).

With `make run` serving (default http://127.0.0.1:8080), this script:
1. registers the reporter organisation `demo-bank` unless it exists (`fraudchannel org add`);
2. makes its key pair with scripts/keygen.py in .data/demo/ unless one is there, and registers
   the public key unless it is (`fraudchannel key add`);
3. runs scripts/submit.py on examples/phishing_urls.sample.txt and
   examples/scam_crypto_addresses.sample.csv, results in .data/demo/*.results.jsonl.

Running it again reuses the organisation and key. Each run sends its batches under a new
`--run-label`, so the service answers by client_ref: every report comes back as
`duplicate_of_own_report` (a re-run of one crashed submit.py run would reuse its labels and get
the stored answers instead).

The registry commands run as subprocesses with this process's environment, so they reach the
database `make run` uses (DATABASE_URL, or the embedded PostgreSQL in FRAUDCHANNEL_PG_DATA_DIR).

Output: one JSON document on stdout:
  {"url", "org", "kid", "runs": [{"file", "exit_code", "summary": <submit.py summary>}]}
and a line per run on stderr. Exit codes: 0 both files submitted (the crypto sample's three
transaction hashes are rejected by design), 1 the service is unreachable, registration failed or
a batch failed for good, 2 usage error. Environment fallbacks: FC_URL (service URL),
FC_DEMO_SLUG (organisation).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Final

import click

ROOT: Final = Path(__file__).resolve().parents[1]
BIN: Final = Path(sys.executable).parent
SUBMIT: Final = ROOT / "scripts" / "submit.py"
KEYGEN: Final = ROOT / "scripts" / "keygen.py"
EXAMPLES: Final = ROOT / "examples"
SUBMITTER: Final = [
    "--submitter-name",
    "Demo Fraud Team",
    "--submitter-email",
    "fraud@demo.example",
]

# The sample's `chain_by_format` values in the service's chain vocabulary; unlisted values
# ("evm", "tron") are already in it.
CHAIN_RECODES: Final = {
    "ss58-polkadot": "polkadot",
    "bitcoin-p2pkh": "bitcoin",
    "bitcoin-p2sh(or-ltc)": "bitcoin",
    "litecoin-p2pkh": "litecoin",
    "neo": "other",
    "evm-tx-hash-not-address": "other",
}

log = logging.getLogger("fraudchannel.demo")


class DemoFailed(click.ClickException):
    """A step of the demo failed (exit 1)."""

    exit_code = 1


def fraudchannel(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the operator command `fraudchannel ARGS` (the venv's) and return the finished process."""
    command = [str(BIN / "fraudchannel"), *args]
    log.debug("running %s", " ".join(command))
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)


def registry_json(*args: str) -> Any:
    """Run `fraudchannel ARGS --json`; return its JSON, or raise DemoFailed with its stderr."""
    done = fraudchannel(*args, "--json")
    if done.returncode != 0:
        raise DemoFailed(f"fraudchannel {' '.join(args)}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def check_service(url: str) -> None:
    """Raise DemoFailed unless GET {url}/healthz answers 200."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as resp:  # noqa: S310 (http(s) URL)
            if resp.status == 200:
                return
    except (urllib.error.URLError, OSError) as exc:
        raise DemoFailed(f"no service at {url} ({exc}): start it with `make run`") from exc
    raise DemoFailed(f"{url}/healthz did not answer 200")


def ensure_org(slug: str) -> dict[str, Any]:
    """Return organisation `slug` (with its keys), registering it as a demo reporter if missing."""
    done = fraudchannel("org", "show", slug, "--json")
    if done.returncode == 0:
        org: dict[str, Any] = json.loads(done.stdout)
        log.info("reusing organisation %s (%s)", slug, org.get("status"))
        return org
    log.info("registering organisation %s", slug)
    registry_json(
        "org", "add", slug,
        "--name", "Demo Bank plc (demo data)",
        "--role", "reporter",
        "--email", "fraud@demo.example",
        "--scheme", "other",
        "--expertise", "phishing,crypto_investment",
    )  # fmt: skip
    shown: dict[str, Any] = registry_json("org", "show", slug)
    return shown


def ensure_key(org: dict[str, Any], folder: Path) -> tuple[Path, str]:
    """Return (private key file, kid): made with scripts/keygen.py once, registered once."""
    slug = org["slug"]
    key_file, jwk_file = folder / f"{slug}.key.pem", folder / f"{slug}.jwk.json"
    if not key_file.exists():
        log.info("making a key pair in %s", key_file)
        done = subprocess.run(
            [sys.executable, str(KEYGEN), "--key-file", str(key_file), "--jwk-file", str(jwk_file)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise DemoFailed(f"keygen.py: {done.stderr.strip()}")
    if not jwk_file.exists():  # the key survived, its public half did not: derive it again
        from fraudchannel import client

        key = client.load_private_key(key_file.read_bytes())
        jwk_file.write_text(json.dumps(client.public_jwk(key, client.default_alg(key))))
    kid = str(json.loads(jwk_file.read_text())["kid"])
    active = {k["kid"] for k in org.get("keys", []) if k.get("status") == "active"}
    if kid in active:
        log.info("reusing key %s", kid)
    else:
        log.info("registering key %s", kid)
        registry_json("key", "add", slug, str(jwk_file))
    return key_file, kid


def submit(
    url: str, slug: str, key_file: Path, kid: str, args: list[str], results: Path, label: str
) -> dict[str, Any]:
    """Run scripts/submit.py with `args`; return {"file", "exit_code", "summary"}."""
    command = [
        sys.executable, str(SUBMIT), *args, *SUBMITTER,
        "--url", url, "--client-id", slug, "--key-file", str(key_file), "--kid", kid,
        "--results", str(results), "--run-label", label,
    ]  # fmt: skip
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False, cwd=ROOT)
    if done.returncode == 2 or not done.stdout.strip():
        raise DemoFailed(f"submit.py failed (exit {done.returncode}); see its log above")
    summary: dict[str, Any] = json.loads(done.stdout)
    return {"file": args[0], "exit_code": done.returncode, "summary": summary}


def describe(run: dict[str, Any]) -> str:
    """Return one line about a submit.py run."""
    s = run["summary"]
    outcomes = ", ".join(f"{k} {v}" for k, v in s["outcomes"].items()) or "none"
    rejected = ", ".join(f"{k} {v}" for k, v in s["rejected_by_code"].items())
    return (
        f"{Path(run['file']).name}: {s['records']} records, {s['accepted']} accepted ({outcomes})"
        + (f", {s['rejected']} rejected ({rejected})" if s["rejected"] else "")
        + f" in {s['seconds']} s"
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="FC_URL",
    show_envvar=True,
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Base URL of the running service (`make run`).",
)
@click.option(
    "--slug",
    envvar="FC_DEMO_SLUG",
    show_envvar=True,
    default="demo-bank",
    show_default=True,
    help="Client id of the demo reporter organisation.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=ROOT / ".data" / "demo",
    show_default=".data/demo",
    help="Where the demo keeps its key pair and results.",
)
def main(url: str, slug: str, data_dir: Path) -> None:
    """Register a demo reporter (once) and submit the examples/ files to the running service."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="demo: %(message)s")
    url = url.rstrip("/")
    check_service(url)
    data_dir.mkdir(parents=True, exist_ok=True)
    org = ensure_org(slug)
    if org.get("status") != "active":
        raise DemoFailed(f"organisation {slug} is {org.get('status')}: reactivate it first")
    key_file, kid = ensure_key(org, data_dir)
    label = "demo-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    phishing = [
        str(EXAMPLES / "phishing_urls.sample.txt"),
        "--set", "scam_type=phishing",
        "--set", "explanation=Listed as a phishing URL by Phishing.Database (MIT licence).",
    ]  # fmt: skip
    crypto = [
        str(EXAMPLES / "scam_crypto_addresses.sample.csv"),
        "--target-type", "crypto_wallet",
        "--map", "target.address=address",
        "--map", "target.chain=chain_by_format",
        "--map", "observed_at=date",
        "--set", "scam_type=crypto_investment",
        "--template", "explanation=Listed as a scam address by {source_repo}: {context}",
    ]  # fmt: skip
    for frm, to in CHAIN_RECODES.items():
        crypto += ["--map-value", f"target.chain:{frm}={to}"]
    runs = []
    for name, args in (("phishing", phishing), ("crypto", crypto)):
        run = submit(url, slug, key_file, kid, args, data_dir / f"{name}.results.jsonl", label)
        log.info("%s", describe(run))
        runs.append(run)
    click.echo(json.dumps({"url": url, "org": slug, "kid": kid, "runs": runs}, indent=2))
    failed = [r for r in runs if r["summary"]["failed_batches"] or r["summary"]["aborted"]]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
