#!/usr/bin/env python3
"""Submit a file of scam URLs or accounts to fraudchannel as report batches.

Reads a plain list (one value a line; blank lines and `#` comments skipped), CSV (a header row) or
JSON Lines, turns each record into one report item (column mapping flags), sends the items in
batches of `--batch-size` to `POST {url}/v1/report-batches`, and writes what became of each item.

Authentication: OAuth 2.0 client credentials with `private_key_jwt` (RFC 7523): the org's private
key signs a short client assertion, `POST {url}/oauth/token` answers an access token, refreshed
before it expires and once more when the service answers 401.

Retries: 429, 5xx, timeouts and broken connections are retried with exponential backoff and jitter
(`Retry-After` honoured) and the same `Idempotency-Key`, derived from (input file name, batch
index, SHA-256 of the batch body); each item's `client_ref` is derived from its record (or taken
from a column). Re-running after a crash therefore doubles nothing: replayed batches get the stored
answer, and items already stored come back as `duplicate_of_own_report`.

Output: per-item results as JSON Lines (`--results`), in input order, one line per record:
  {"line": 12, "batch": 0, "client_ref": "...", "outcome": "new_ticket", "report_id": "...",
   "ticket_id": "...", "target": {"type": "url", "canonical": "..."}}
  {"line": 13, "batch": 0, "client_ref": "...", "errors": [{"pointer": "/target/url",
   "code": "...", "detail": "..."}]}
(pointers are relative to the item), and one summary JSON object on stdout at the end (see
`Summary.as_json`). Logs go to stderr; a progress bar is shown only when stderr is a terminal.

Exit codes: 0 every item accepted; 1 an item was rejected (by the service or locally), a batch
failed for good, or the run was aborted (credentials refused); 2 usage error (bad flags, unreadable
input or key file, a mapped column missing from the CSV header); 130 interrupted (Ctrl-C: the
summary still comes, and re-running the same command finishes the job, storing nothing twice).

Environment fallbacks: FC_URL, FC_CLIENT_ID, FC_KEY_FILE, FC_KID, FC_ALG, FC_SUBMITTER_NAME,
FC_SUBMITTER_EMAIL. The prefix is FC_, not FRAUDCHANNEL_, on purpose: the server refuses to start
when it sees a FRAUDCHANNEL_* variable it does not know, and integrators often run both in one
shell.
"""

from __future__ import annotations

import json
import sys

import click

from fraudchannel.client import ALGORITHMS
from fraudchannel.submitter.batches import MAX_BATCH
from fraudchannel.submitter.fields import TARGET_FIELDS
from fraudchannel.submitter.readers import FORMATS, csv_delimiter
from fraudchannel.submitter.runner import configure_logging, submit_file

TARGET_TYPES = tuple(TARGET_FIELDS)


def _delimiter(value: str | None) -> str | None:
    try:
        return csv_delimiter(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(
    context_settings={
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
        "terminal_width": 100,
    },
    epilog="Credentials and submitter fall back to FC_* variables (shown per option). Not "
    "FRAUDCHANNEL_*: the server refuses FRAUDCHANNEL_* variables it does not know.",
)
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--url", envvar="FC_URL", show_envvar=True, help="Service base URL, e.g. https://fraud.example."
)
@click.option(
    "--client-id", envvar="FC_CLIENT_ID", show_envvar=True, help="Your org's client id (slug)."
)
@click.option(
    "--key-file",
    envvar="FC_KEY_FILE",
    show_envvar=True,
    type=click.Path(dir_okay=False, exists=True),
    help="PEM private key whose public half is registered (scripts/keygen.py).",
)
@click.option(
    "--kid",
    envvar="FC_KID",
    show_envvar=True,
    help="Key id registered with the public key (default: its RFC 7638 thumbprint).",
)
@click.option(
    "--alg",
    envvar="FC_ALG",
    show_envvar=True,
    default="auto",
    show_default=True,
    type=click.Choice(["auto", *ALGORITHMS]),
    help="Signature algorithm of the client assertion; auto: from the key.",
)
@click.option(
    "--submitter-name",
    envvar="FC_SUBMITTER_NAME",
    show_envvar=True,
    required=True,
    help="Name of the person submitting (DSA Art 16(2)(c)).",
)
@click.option(
    "--submitter-email",
    envvar="FC_SUBMITTER_EMAIL",
    show_envvar=True,
    required=True,
    help="E-mail of the person submitting.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Input format; auto: by extension (.csv .tsv .jsonl .txt), else by content.",
)
@click.option(
    "--target-type",
    type=click.Choice(TARGET_TYPES),
    default="url",
    show_default=True,
    help="Kind of target each record names.",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Take item FIELD from a CSV column or JSON key (repeat), e.g. "
    "--map target.address=address --map client_ref=id.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Default value of an item FIELD (repeat), e.g. --set scam_type=phishing.",
)
@click.option(
    "--set-json",
    "set_jsons",
    multiple=True,
    metavar="FIELD=JSON",
    help="Like --set with a JSON value, e.g. --set-json 'evidence=[...]'.",
)
@click.option(
    "--template",
    "templates",
    multiple=True,
    metavar="FIELD=TEXT",
    help="Build item FIELD from columns (repeat), e.g. --template "
    '"explanation=Listed in {source_repo}: {context}".',
)
@click.option(
    "--map-value",
    "map_values",
    multiple=True,
    metavar="FIELD:FROM=TO",
    help="Recode a value read for FIELD (repeat), e.g. --map-value target.chain:evm=ethereum.",
)
@click.option(
    "--ref-prefix",
    default="",
    metavar="TEXT",
    help="Prefix of derived client_ref values (prefix + SHA-256 of the record).",
)
@click.option(
    "--run-label",
    default="",
    metavar="TEXT",
    help="Mixed into every Idempotency-Key. Keep it (default: none) to resume a crashed run; "
    "change it to send the same reports again on purpose (the service then answers "
    "duplicate_of_own_report by client_ref).",
)
@click.option(
    "--delimiter",
    default=None,
    callback=lambda _ctx, _param, value: _delimiter(value),
    help="CSV delimiter: one character, or \\t or tab [default: , (tab for .tsv)].",
)
@click.option("--no-header", is_flag=True, help="The CSV has no header: columns are 1, 2, ...")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH), default=1000, show_default=True)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Batches in flight at once.",
)
@click.option(
    "--results",
    "results_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write per-item results here as JSON Lines (input order).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=120,
    show_default=True,
    help="Seconds one HTTP request may take.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 100),
    default=8,
    show_default=True,
    help="Tries per batch on transient errors (429, 5xx, timeouts, broken connections).",
)
@click.option(
    "--retry-base",
    type=click.FloatRange(0.001, 60),
    default=0.5,
    show_default=True,
    help="First backoff, seconds (doubled per retry, capped at 30 s, jittered).",
)
@click.option(
    "--dry-run", is_flag=True, help="Validate locally and print the first batch; send nothing."
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def main(
    input_path: str,
    url: str | None,
    client_id: str | None,
    key_file: str | None,
    kid: str | None,
    alg: str,
    submitter_name: str,
    submitter_email: str,
    fmt: str,
    target_type: str,
    maps: tuple[str, ...],
    sets: tuple[str, ...],
    set_jsons: tuple[str, ...],
    templates: tuple[str, ...],
    map_values: tuple[str, ...],
    ref_prefix: str,
    run_label: str,
    delimiter: str | None,
    no_header: bool,
    batch_size: int,
    concurrency: int,
    results_path: str | None,
    timeout: float,
    max_attempts: int,
    retry_base: float,
    dry_run: bool,
    log_level: str,
) -> None:
    """Submit the scam URLs or accounts in INPUT ("-": stdin) as report batches.

    \b
    Examples:
      submit.py urls.txt --set scam_type=phishing --set explanation="Listed by Phishing.Database"
      submit.py wallets.csv --target-type crypto_wallet --map target.address=address \\
          --map target.chain=chain_by_format --map-value target.chain:evm=ethereum \\
          --set scam_type=crypto_investment --set explanation="..." --results out.jsonl
      submit.py reports.jsonl   # each line already a report item

    Prints a summary JSON on stdout; exit 0 all accepted, 1 something rejected or failed,
    2 usage error.
    """
    configure_logging(log_level)
    doc = submit_file(
        input_path,
        url=url,
        client_id=client_id,
        key_file=key_file,
        kid=kid,
        alg=alg,
        submitter_name=submitter_name,
        submitter_email=submitter_email,
        fmt=fmt,
        target_type=target_type,
        maps=maps,
        sets=sets,
        set_jsons=set_jsons,
        templates=templates,
        map_values=map_values,
        ref_prefix=ref_prefix,
        run_label=run_label,
        delimiter=delimiter,
        no_header=no_header,
        batch_size=batch_size,
        concurrency=concurrency,
        results_path=results_path,
        timeout=timeout,
        max_attempts=max_attempts,
        retry_base=retry_base,
        dry_run=dry_run,
    )
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    sys.exit(doc["exit_code"])


if __name__ == "__main__":
    main()
