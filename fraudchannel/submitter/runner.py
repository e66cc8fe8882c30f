"""A submit run: credentials, reading and checking the input, sending batches concurrently,
and the summary (`submit_file`, what scripts/submit.py calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NoReturn

import aiohttp

from fraudchannel import client
from fraudchannel.client import sign_client_assertion
from fraudchannel.submitter.batches import (
    Batch,
    encode_body,
    envelope,
    idempotency_key,
    make_batches,
    source_identity,
)
from fraudchannel.submitter.errors import UsageProblem
from fraudchannel.submitter.fields import schema_errors
from fraudchannel.submitter.items import ItemSpec
from fraudchannel.submitter.readers import count_records, open_input, open_records
from fraudchannel.submitter.results import ResultWriter, Summary, batch_results
from fraudchannel.submitter.transport import USER_AGENT, Options, Sender, TokenSource, key_alg

log = logging.getLogger("fraudchannel.submit")


def configure_logging(level: str) -> None:
    """Send log lines to stderr: "time level message"."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s submit: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level.upper())
    log.propagate = False


def fail_usage(message: str) -> NoReturn:
    """Raise a usage error (exit 2)."""
    raise UsageProblem(message)


async def run(
    batches: Iterator[Batch],
    sender: Sender,
    writer: ResultWriter,
    concurrency: int,
) -> None:
    """Send `batches` with at most `concurrency` in flight; read input off the event loop.

    After an abort, batches already read are written as "not_sent" and reading stops.
    """
    summary = sender.summary
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def one(batch: Batch) -> None:
        try:
            results = await sender.send(batch)
        finally:
            slots.release()
        writer.add(batch.index, results)

    while not sender.abort.is_set():
        await slots.acquire()
        try:
            batch = await asyncio.to_thread(next, batches, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            slots.release()
            summary.aborted = f"input unreadable after {summary.batches} batch(es): {exc}"
            log.error("stopping: %s", summary.aborted)
            break
        if batch is None:
            slots.release()
            break
        summary.batches += 1
        if sender.abort.is_set():
            slots.release()
            writer.add(batch.index, batch_results(batch, None, "not_sent: run aborted"))
            break
        task = asyncio.create_task(one(batch))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


def credentials(
    options: Options,
    url: str | None,
    client_id: str | None,
    key_file: str | None,
    kid: str | None,
    alg: str,
) -> Callable[[], str]:
    """Set `options.url`; return a factory of client assertions (a fresh jti each call).

    Raises UsageProblem when a credential is missing or the key file cannot be used, before any
    input is read.
    """
    given = {"--url": url, "--client-id": client_id, "--key-file": key_file}
    missing = [name for name, value in given.items() if not value]
    if missing:
        fail_usage(f"missing {', '.join(missing)} (flags, or FC_URL, FC_CLIENT_ID, FC_KEY_FILE)")
    pem = Path(str(key_file)).read_bytes()
    chosen = key_alg(pem, alg)
    # Like get_token.py: the default kid is the key's RFC 7638 thumbprint, as keygen and the
    # operator's `key add` name it.
    kid = kid or client.public_jwk(client.load_private_key(pem), chosen)["kid"]
    options.url = str(url).rstrip("/")
    token_url = f"{options.url}/oauth/token"  # the assertion's audience (RFC 7523 §3)

    def assertion() -> str:
        return sign_client_assertion(pem, str(kid), chosen, str(client_id), token_url)

    return assertion


def check_only(
    batches: Iterator[Batch], options: Options, summary: Summary, writer: ResultWriter
) -> dict[str, Any]:
    """Read and check the whole input (`--dry-run`); return the summary with the first batch.

    Items are batched exactly as a real run would (so `first_idempotency_key` is the key the
    first batch will carry), then each is also checked against the report schema. Adds "valid"
    (items the schema accepts), "first_idempotency_key" and "first_batch" (the request body,
    or null). Results, when written, list the rejected records only.
    """
    summary.dry_run = True
    first: dict[str, Any] | None = None
    first_key: str | None = None
    for batch in batches:
        summary.batches += 1
        items = [p.item for p in batch.items if p.item is not None]
        if first is None and items:
            first = envelope(options.submitter_name, options.submitter_email, items)
            first_key = idempotency_key(options.source, batch.index, encode_body(first))
        rows = []
        for p in batch.records:
            errors = p.errors if p.item is None else schema_errors(p.item)
            row = {"line": p.line, "batch": batch.index, "client_ref": p.client_ref}
            if errors:
                rows.append({**row, "errors": errors})
            else:
                summary.accepted += 1  # counted as valid below, never as accepted
                summary.records += 1
        writer.add(batch.index, rows)
    full = summary.as_json()
    return {
        **{k: full[k] for k in ("input", "format", "target_type", "dry_run", "records")},
        "valid": summary.accepted,
        "rejected": summary.rejected,
        "rejected_by_code": full["rejected_by_code"],
        "batches": summary.batches,
        "seconds": full["seconds"],
        "results": summary.results,
        "exit_code": full["exit_code"],
        "first_idempotency_key": first_key,
        "first_batch": first,
    }


def submit(
    batches: Iterator[Batch],
    options: Options,
    assertion: Callable[[], str],
    summary: Summary,
    out: IO[str] | None,
    total: int | None,
) -> dict[str, Any]:
    """Send every batch; return the summary (see `Summary.as_json`).

    The progress bar (tqdm, on stderr) is shown only when stderr is a terminal.
    """
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    show = sys.stderr.isatty()
    with contextlib.ExitStack() as stack:
        progress = stack.enter_context(
            tqdm(total=total, unit="report", file=sys.stderr, disable=not show, dynamic_ncols=True)
        )
        if show:
            stack.enter_context(logging_redirect_tqdm([log]))
        writer = ResultWriter(out, summary, progress)
        try:
            asyncio.run(_submit(batches, options, assertion, summary, writer))
        except KeyboardInterrupt:  # asyncio.run has cancelled the batches in flight
            summary.interrupted = True
            summary.aborted = INTERRUPTED
            log.warning("stopping: %s", INTERRUPTED)
    return summary.as_json()


INTERRUPTED = (
    "interrupted (Ctrl-C): run the same command again to finish; batches already stored are "
    "answered as before (same Idempotency-Key), nothing is stored twice"
)


async def _submit(
    batches: Iterator[Batch],
    options: Options,
    assertion: Callable[[], str],
    summary: Summary,
    writer: ResultWriter,
) -> None:
    timeout = aiohttp.ClientTimeout(total=options.timeout_s)
    connector = aiohttp.TCPConnector(limit=options.concurrency + 1)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=connector, headers={"User-Agent": USER_AGENT}
    ) as session:
        tokens = TokenSource(session, f"{options.url}/oauth/token", assertion)
        sender = Sender(session, tokens, options, summary)
        try:
            await run(batches, sender, writer, options.concurrency)
        finally:
            summary.token_requests = tokens.requests


def submit_file(
    input_path: str,
    *,
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
) -> dict[str, Any]:
    """Submit (or with `dry_run` only check) INPUT as scripts/submit.py's flags say.

    Returns the summary (see `Summary.as_json`, or `check_only`); its "exit_code" is the run's.
    Raises UsageProblem (exit 2) for bad flags, an unreadable input or key file.
    """
    if input_path != "-" and not Path(input_path).is_file():
        fail_usage(f"INPUT {input_path!r} is not a readable file")
    source = source_identity(input_path, run_label)
    options = Options(
        url="",
        submitter_name=submitter_name,
        submitter_email=submitter_email,
        source=source,
        batch_size=batch_size,
        concurrency=concurrency,
        timeout_s=timeout,
        max_attempts=max_attempts,
        retry_base_s=retry_base,
    )
    assertion = None if dry_run else credentials(options, url, client_id, key_file, kid, alg)
    header = not no_header
    with open_input(input_path) as stream, contextlib.ExitStack() as stack:
        try:
            records = open_records(stream, input_path, fmt, delimiter=delimiter, header=header)
        except (UnicodeDecodeError, csv.Error) as exc:
            fail_usage(f"INPUT cannot be read: {exc}")
        spec = ItemSpec.from_flags(
            target_type=target_type,
            fmt=records.format,
            sets=sets,
            set_jsons=set_jsons,
            maps=maps,
            templates=templates,
            map_values=map_values,
            ref_prefix=ref_prefix,
        )
        spec.check_columns(records.columns)
        summary = Summary(input_path, records.format, spec.target_type, results=results_path)
        out = (
            stack.enter_context(open(results_path, "w", encoding="utf-8")) if results_path else None
        )
        batches = make_batches(map(spec.build, records.records), batch_size)
        if assertion is None:
            try:
                doc = check_only(batches, options, summary, ResultWriter(out, summary))
            except (UnicodeDecodeError, csv.Error) as exc:
                fail_usage(f"INPUT cannot be read: {exc}")
        else:
            total = None
            if sys.stderr.isatty():
                total = count_records(input_path, records.format, delimiter, header)
            doc = submit(batches, options, assertion, summary, out, total)
    return doc
