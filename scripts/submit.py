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
input or key file, a mapped column missing from the CSV header).

Environment fallbacks: FC_URL, FC_CLIENT_ID, FC_KEY_FILE, FC_KID, FC_ALG, FC_SUBMITTER_NAME,
FC_SUBMITTER_EMAIL. The prefix is FC_, not FRAUDCHANNEL_, on purpose: the server refuses to start
when it sees a FRAUDCHANNEL_* variable it does not know, and integrators often run both in one
shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import csv
import hashlib
import io
import json
import logging
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any, Final, Literal, NoReturn

import aiohttp
import click

from fraudchannel import client
from fraudchannel.client import (
    ALGORITHMS,
    check_key_fits,
    default_alg,
    load_private_key,
    sign_client_assertion,
)

log = logging.getLogger("fraudchannel.submit")

Format = Literal["lines", "csv", "jsonl"]
FORMATS: Final = ("auto", "lines", "csv", "jsonl")
MAX_BATCH: Final = 10_000
MAX_EXPLANATION: Final = 2000
USER_AGENT: Final = "fraudchannel-submit/1"

# Target kinds and their fields (fraudchannel.models, report schema v1).
TARGET_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "url": ("url",),
    "platform_account": ("handle", "account_id", "profile_url"),
    "phone": ("number", "region"),
    "email": ("address",),
    "uk_bank_account": ("sort_code", "account_number"),
    "iban": ("iban",),
    "crypto_wallet": ("chain", "address"),
    "payment_handle": ("provider", "handle"),
}
# What a target needs: each inner tuple is "one of these" (platform_account: any identifier).
TARGET_REQUIRED: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "url": (("url",),),
    "platform_account": (("handle", "account_id", "profile_url"),),
    "phone": (("number",),),
    "email": (("address",),),
    "uk_bank_account": (("sort_code",), ("account_number",)),
    "iban": (("iban",),),
    "crypto_wallet": (("address",),),
    "payment_handle": (("provider",), ("handle",)),
}
# The field a plain list's value goes to, per target kind (none: a plain list cannot carry it).
PRIMARY_FIELD: Final[dict[str, str]] = {
    "url": "url",
    "platform_account": "handle",
    "phone": "number",
    "email": "address",
    "iban": "iban",
    "crypto_wallet": "address",
    "payment_handle": "handle",
}
ITEM_FIELDS: Final = frozenset(
    {
        "client_ref",
        "scam_type",
        "explanation",
        "legal_ground",
        "observed_at",
        "impersonated_brand",
        "victim_loss",
        "victim_loss.amount_minor",
        "victim_loss.currency",
        "victim_count",
        "confidence",
        "evidence",
        "related",
    }
)
INT_FIELDS: Final = frozenset({"victim_loss.amount_minor", "victim_count"})
LINES_COLUMN: Final = "value"  # the one column of a plain list
DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
KEY_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UsageProblem(click.UsageError):
    """A flag, the input or the key file cannot be used (exit 2)."""


class TransientError(Exception):
    """Worth retrying with the same Idempotency-Key: 429, 5xx, timeout, broken connection."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class BatchRefused(Exception):
    """The service refused this batch for good (413, 415, 422, ...): `status`, `detail`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class FatalError(Exception):
    """No batch can succeed (credentials or scope refused): stop the run."""


# ---------------------------------------------------------------------------------------------
# Reading records


@dataclass(frozen=True, slots=True)
class Record:
    """One input record: its 1-based first line, its fields and the text its client_ref hashes.

    `fields` maps column name to value (str for plain lists and CSV, any JSON value for JSON
    Lines); `error` is a local error code when the record could not be read.
    """

    line: int
    fields: dict[str, Any]
    raw: str
    error: str | None = None


@dataclass(slots=True)
class Records:
    """Records of one input: the CSV header (None for other formats) and the record iterator."""

    format: Format
    columns: list[str] | None
    records: Iterator[Record]


def detect_format(name: str, first_line: str) -> Format:
    """Return the format of input `name` from its extension, else from its first data line."""
    suffix = Path(name).suffix.lower()
    if suffix in {".csv", ".tsv"}:
        return "csv"
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix in {".txt", ".lst", ".list"}:
        return "lines"
    return "jsonl" if first_line.lstrip().startswith("{") else "lines"


def read_lines(stream: IO[str]) -> Iterator[Record]:
    """Yield one record per non-blank line not starting with `#` (column `value`).

    CR/LF are stripped; surrounding white space too.
    """
    for number, text in enumerate(stream, start=1):
        value = text.strip()
        if not value or value.startswith("#"):
            continue
        yield Record(number, {LINES_COLUMN: value}, value)


def read_jsonl(stream: IO[str]) -> Iterator[Record]:
    """Yield one record per non-blank line; a line that is not a JSON object is a local error.

    Lines starting with `#` (never JSON) are skipped as comments, as in plain lists.
    """
    for number, text in enumerate(stream, start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            value = json.loads(stripped)
        except ValueError:
            yield Record(number, {}, stripped, "local.invalid_json")
            continue
        if not isinstance(value, dict):
            yield Record(number, {}, stripped, "local.not_an_object")
            continue
        raw = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        yield Record(number, value, raw)


def read_csv(stream: IO[str], *, delimiter: str = ",", header: bool = True) -> Records:
    """Return the CSV header and its rows as records (quoted newlines allowed).

    Without a header, columns are named "1", "2", ... Rows whose cells are all empty are skipped.
    The hashed text is the row's cells as a JSON array, so quoting and line ends do not matter.
    """
    reader = csv.reader(stream, delimiter=delimiter)
    columns: list[str] | None = None
    if header:
        first = next(reader, None)
        columns = [c.strip() for c in first] if first else []

    def rows() -> Iterator[Record]:
        nonlocal columns
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if columns is None:
                columns = [str(i) for i in range(1, len(row) + 1)]
            names = columns if header else [str(i) for i in range(1, len(row) + 1)]
            values = {name: cell.strip() for name, cell in zip(names, row, strict=False)}
            raw = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
            yield Record(line, values, raw)

    return Records("csv", columns, rows())


def open_records(
    stream: IO[str], name: str, fmt: str, *, delimiter: str | None = None, header: bool = True
) -> Records:
    """Return the records of `stream` (already decoded) in format `fmt` ("auto": guess).

    `name` is the file name ("-" for standard input), used by "auto" and for TSV.
    """
    if fmt == "auto":
        buffered = io.StringIO(stream.read()) if not stream.seekable() else stream
        start = buffered.tell()
        first = ""
        for text in buffered:
            if text.strip() and not text.lstrip().startswith("#"):
                first = text
                break
        buffered.seek(start)
        stream, fmt = buffered, detect_format(name, first)
    if fmt == "lines":
        return Records("lines", None, read_lines(stream))
    if fmt == "jsonl":
        return Records("jsonl", None, read_jsonl(stream))
    if delimiter is None:
        delimiter = "\t" if name.lower().endswith(".tsv") else ","
    return read_csv(stream, delimiter=delimiter, header=header)


@contextlib.contextmanager
def open_input(path: str) -> Iterator[IO[str]]:
    """Yield `path` ("-": standard input) as text: UTF-8, a leading BOM dropped, CRLF as LF.

    `newline=""` keeps quoted line breaks intact for the csv module; the line readers strip
    line ends themselves.
    """
    if path == "-":
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        try:
            yield stream
        finally:
            stream.detach()
        return
    with open(path, encoding="utf-8-sig", newline="") as f:
        yield f


# ---------------------------------------------------------------------------------------------
# Turning records into report items


@dataclass(frozen=True, slots=True)
class Prepared:
    """One record made ready: `item` to send, or local `errors` (then `item` is None)."""

    line: int
    client_ref: str | None
    item: dict[str, Any] | None
    errors: list[dict[str, str]] = field(default_factory=list)


def parse_assignment(text: str, flag: str) -> tuple[str, str]:
    """Split "FIELD=VALUE" (the first "=") or raise UsageProblem naming `flag`."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageProblem(f"{flag} expects FIELD=VALUE, got {text!r}")
    return name.strip(), value


def check_field(path: str, target_type: str, flag: str) -> None:
    """Raise UsageProblem unless `path` names an item field ("target.url", "scam_type", ...)."""
    if path.startswith("target."):
        allowed = {f"target.{f}" for f in TARGET_FIELDS[target_type]} | {"target.type"}
        if path not in allowed:
            raise UsageProblem(
                f"{flag}: {path!r} is not a field of a {target_type} target "
                f"(fields: {', '.join(sorted(allowed))})"
            )
    elif path not in ITEM_FIELDS:
        raise UsageProblem(
            f"{flag}: unknown item field {path!r} "
            f"(fields: target.*, {', '.join(sorted(ITEM_FIELDS))})"
        )


def get_path(obj: dict[str, Any], path: str) -> Any:
    """Return obj's value at dotted `path` (an exact key first), or None."""
    if path in obj:
        return obj[path]
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set obj's value at dotted `path`, creating objects on the way."""
    *parents, last = path.split(".")
    node = obj
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value


def normalise_value(path: str, value: Any) -> tuple[Any, str | None]:
    """Return (value, None), or (None, local error code) for a value the schema cannot take.

    Integers given as text become int; an `observed_at` date without time becomes midnight UTC.
    """
    if path in INT_FIELDS and isinstance(value, str):
        try:
            return int(value), None
        except ValueError:
            return None, "local.not_an_integer"
    if path == "observed_at" and isinstance(value, str) and DATE_ONLY.fullmatch(value):
        return f"{value}T00:00:00Z", None
    return value, None


TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")


def render_template(template: str, fields: dict[str, Any]) -> str:
    """Return `template` with each "{column}" replaced by the record's value ("" when empty)."""

    def value(match: re.Match[str]) -> str:
        found = get_path(fields, match.group(1))
        return "" if found is None else str(found)

    return TEMPLATE_FIELD.sub(value, template).strip()


def check_ref_prefix(prefix: str) -> None:
    """Raise UsageProblem unless `prefix` keeps client_ref printable ASCII within 128 chars."""
    if len(prefix) > 64 or not all(" " <= c <= "~" for c in prefix) or prefix[:1] == " ":
        raise UsageProblem("--ref-prefix: at most 64 printable ASCII characters, no leading space")


def parse_fields(texts: Iterable[str], target_type: str, flag: str) -> dict[str, str]:
    """Return {field: value} from "FIELD=VALUE" flag values; raise UsageProblem on a bad one."""
    out: dict[str, str] = {}
    for text in texts:
        path, value = parse_assignment(text, flag)
        check_field(path, target_type, flag)
        out[path] = value
    return out


def parse_constants(
    sets: Iterable[str], set_jsons: Iterable[str], target_type: str
) -> dict[str, Any]:
    """Return the constant item fields of `--set` (text) and `--set-json` (JSON) values.

    Integer fields given as text become int. Raises UsageProblem on bad syntax or values.
    """
    constants: dict[str, Any] = dict(parse_fields(sets, target_type, "--set"))
    for path, text in parse_fields(set_jsons, target_type, "--set-json").items():
        try:
            constants[path] = json.loads(text)
        except ValueError as exc:
            raise UsageProblem(f"--set-json {path}: not JSON: {exc}") from exc
    for path, value in list(constants.items()):
        constants[path], error = normalise_value(path, value)
        if error:
            raise UsageProblem(f"--set {path}: {error.removeprefix('local.')}: {value!r}")
    return constants


@dataclass(frozen=True)
class ItemSpec:
    """How records become items: constants, columns, templates, recoding, client_ref prefix.

    `constants`, `columns` and `templates` map dotted item fields ("target.chain", "scam_type")
    to a value, a column name, or a text with "{column}" placeholders; `recode` maps a field to
    {value as read: value sent}. In `passthrough` mode (JSON Lines without any `target.*`
    mapping) each object already is an item, and the constants only fill what it leaves out.
    A derived client_ref is `ref_prefix` + SHA-256 (hex) of the record's text.
    """

    target_type: str
    constants: dict[str, Any]
    columns: dict[str, str]
    recode: dict[str, dict[str, str]] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    ref_prefix: str = ""
    passthrough: bool = False

    @classmethod
    def from_flags(
        cls,
        *,
        target_type: str,
        fmt: str,
        sets: Iterable[str] = (),
        set_jsons: Iterable[str] = (),
        maps: Iterable[str] = (),
        templates: Iterable[str] = (),
        map_values: Iterable[str] = (),
        ref_prefix: str = "",
    ) -> ItemSpec:
        """Build a spec from `--set`, `--set-json`, `--map`, `--template`, `--map-value` values.

        Raises UsageProblem for unknown fields, bad syntax or a required field with no source.
        """
        check_ref_prefix(ref_prefix)
        constants = parse_constants(sets, set_jsons, target_type)
        columns = {
            path: column.strip()
            for path, column in parse_fields(maps, target_type, "--map").items()
        }
        texts = parse_fields(templates, target_type, "--template")
        recode: dict[str, dict[str, str]] = {}
        for text in map_values:
            left, to = parse_assignment(text, "--map-value")
            path, sep, frm = left.partition(":")
            if not sep:
                raise UsageProblem(f"--map-value expects FIELD:FROM=TO, got {text!r}")
            check_field(path, target_type, "--map-value")
            recode.setdefault(path, {})[frm] = to
        mapped = list(columns) + list(texts)
        passthrough = fmt == "jsonl" and not any(p.startswith("target.") for p in mapped)
        if fmt == "lines" and not any(p.startswith("target.") for p in mapped):
            primary = PRIMARY_FIELD.get(target_type)
            if primary is None:
                raise UsageProblem(
                    f"a plain list cannot carry a {target_type} target: use CSV or JSON Lines"
                )
            columns[f"target.{primary}"] = LINES_COLUMN
        spec = cls(target_type, constants, columns, recode, texts, ref_prefix, passthrough)
        if not passthrough:
            spec.check_complete()
        return spec

    def check_complete(self) -> None:
        """Raise UsageProblem when a required field has no column, template or constant."""
        given = set(self.columns) | set(self.templates) | set(self.constants)
        missing = [
            " or ".join(f"target.{f}" for f in group)
            for group in TARGET_REQUIRED[self.target_type]
            if not any(f"target.{f}" in given for f in group)
        ]
        missing += [p for p in ("scam_type", "explanation") if p not in given]
        if missing:
            raise UsageProblem(
                f"no value for {', '.join(missing)}: "
                "give --map FIELD=COLUMN, --template FIELD=TEXT or --set FIELD=VALUE"
            )

    def check_columns(self, columns: list[str] | None) -> None:
        """Raise UsageProblem when a mapped column is not in the CSV header `columns`."""
        if columns is None:
            return
        wanted = set(self.columns.values())
        for template in self.templates.values():
            wanted.update(TEMPLATE_FIELD.findall(template))
        unknown = sorted(wanted - set(columns))
        if unknown:
            raise UsageProblem(
                f"column(s) {', '.join(map(repr, unknown))} not in the header "
                f"(columns: {', '.join(columns)})"
            )

    def build(self, record: Record) -> Prepared:
        """Return the item for `record`, or its local errors (pointers relative to the item).

        Order: the record itself (passthrough), then constants where nothing is set, then
        templates and columns (an empty cell leaves the constant standing).
        """
        if record.error:
            return Prepared(record.line, None, None, [local_error("", record.error)])
        errors: list[dict[str, str]] = []
        item: dict[str, Any]
        if self.passthrough:
            item = copy.deepcopy(record.fields)
        else:
            item = {"target": {"type": self.target_type}}
        for path, value in self.constants.items():
            if get_path(item, path) is None:
                set_path(item, path, copy.deepcopy(value))
        if self.passthrough and isinstance(item.get("target"), dict):
            item["target"].setdefault("type", self.target_type)
        found: list[tuple[str, Any, str]] = [
            (path, render_template(text, record.fields), "template")
            for path, text in self.templates.items()
        ]
        found += [
            (path, get_path(record.fields, column), f"column {column!r}")
            for path, column in self.columns.items()
        ]
        for path, value, source in found:
            if value is None or value == "":
                continue
            if isinstance(value, str):
                value = self.recode.get(path, {}).get(value, value)
            value, error = normalise_value(path, value)
            if error:
                errors.append(local_error(pointer(path), error, f"{source}: {error}"))
                continue
            set_path(item, path, value)
        client_ref = item.get("client_ref")
        if not isinstance(client_ref, str) or not client_ref:
            client_ref = self.ref_prefix + hashlib.sha256(record.raw.encode("utf-8")).hexdigest()
            item["client_ref"] = client_ref
        errors += check_item(item)
        if errors:
            return Prepared(record.line, client_ref, None, errors)
        return Prepared(record.line, client_ref, item)


def pointer(path: str) -> str:
    """Return the JSON Pointer (RFC 6901) of dotted item field `path`."""
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path.split("."))


def local_error(ptr: str, code: str, detail: str = "") -> dict[str, str]:
    """Return an error entry shaped like the service's: {pointer, code, detail}."""
    return {"pointer": ptr, "code": code, "detail": detail or code.removeprefix("local.")}


def check_item(item: dict[str, Any]) -> list[dict[str, str]]:
    """Return the local errors of `item`: a missing required field, an over-long explanation.

    Everything else is the service's to judge (it validates each item on its own); `--dry-run`
    also applies the schema itself (see `schema_errors`).
    """
    target = item.get("target")
    if not isinstance(target, dict) or target.get("type") not in TARGET_REQUIRED:
        return [local_error("/target/type", "local.missing_value", "no target of a known type")]
    errors: list[dict[str, str]] = []
    for group in TARGET_REQUIRED[target["type"]]:
        if all(target.get(f) in (None, "") for f in group):
            path = "target." + group[0]
            errors.append(
                local_error(pointer(path), "local.missing_value", f"no {' or '.join(group)}")
            )
    for path in ("scam_type", "explanation"):
        if item.get(path) in (None, ""):
            errors.append(local_error(pointer(path), "local.missing_value", f"no {path}"))
    explanation = item.get("explanation")
    if isinstance(explanation, str) and len(explanation) > MAX_EXPLANATION:
        errors.append(
            local_error("/explanation", "local.too_long", f"longer than {MAX_EXPLANATION} chars")
        )
    return errors


def schema_errors(item: dict[str, Any]) -> list[dict[str, str]]:
    """Return `item`'s errors against the report schema v1 (the service's own model).

    Used by `--dry-run` only: a real run leaves judging to the service, whose schema version is
    the one that counts. Pointers are relative to the item; codes are pydantic's.
    """
    from fraudchannel.models import validate_item

    result = validate_item(0, item)
    if not isinstance(result, list):
        return []
    return [{**e, "pointer": relative_pointer(e["pointer"], 0)} for e in result]


# ---------------------------------------------------------------------------------------------
# Batches, bodies and idempotency keys


@dataclass(slots=True)
class Batch:
    """Up to `--batch-size` items plus the local rejects read alongside them, in input order."""

    index: int
    records: list[Prepared]

    @property
    def items(self) -> list[Prepared]:
        """Return the records that will be sent (those without local errors)."""
        return [p for p in self.records if p.item is not None]


def make_batches(prepared: Iterable[Prepared], size: int) -> Iterator[Batch]:
    """Yield batches of at most `size` sendable items; local rejects travel with their batch.

    The last batch may hold only local rejects (nothing to send). Indexes count from 0.
    """
    index, count = 0, 0
    records: list[Prepared] = []
    for p in prepared:
        if p.item is not None and count == size:
            yield Batch(index, records)
            index, records, count = index + 1, [], 0
        records.append(p)
        if p.item is not None:
            count += 1
    if records:
        yield Batch(index, records)


def envelope(
    submitter_name: str, submitter_email: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return the batch body (schema v1): submitter (DSA Art 16(2)(c)), good faith (16(2)(d))."""
    return {
        "schema_version": "1",
        "submitter": {"name": submitter_name, "email": submitter_email},
        "good_faith": True,
        "reports": items,
    }


def encode_body(body: dict[str, Any]) -> bytes:
    """Return `body` as compact UTF-8 JSON with sorted keys: the same bytes on every run."""
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def source_identity(path: str, run_label: str = "") -> str:
    """Return the input's part of its Idempotency-Keys: "[<run_label>.]<file name>".

    The file name is "stdin" for "-"; characters outside [A-Za-z0-9._-] become "_"; at most 40
    characters of label and 64 of name are kept.
    """
    name = "stdin" if path == "-" else KEY_SAFE.sub("_", Path(path).name).strip("_") or "input"
    label = KEY_SAFE.sub("_", run_label).strip("_")[:40]
    return f"{label}.{name[:64]}" if label else name[:64]


def idempotency_key(source: str, index: int, body: bytes) -> str:
    """Return the batch's Idempotency-Key: "fcsubmit.<source>.<index>.<sha256(body)>".

    Deterministic, so a re-run sends the same key with the same body and the service answers its
    stored result; printable ASCII, at most 9 + 105 + 1 + 10 + 1 + 64 = 190 chars (limit: 200).
    """
    digest = hashlib.sha256(body).hexdigest()
    return f"fcsubmit.{KEY_SAFE.sub('_', source)[:105]}.{index}.{digest}"


# ---------------------------------------------------------------------------------------------
# Retrying


def backoff_delay(attempt: int, jitter: float, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Return seconds to wait before retry `attempt` (1-based), "equal jitter".

    delay = d/2 + jitter·d/2 with d = min(cap, base·2^(attempt-1)) and jitter in [0, 1), so waits
    grow 0.5, 1, 2, 4 ... s (halved at random) and never exceed `cap`.
    """
    d = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return d / 2 + jitter * d / 2


def retry_wait(
    attempt: int, jitter: float, retry_after: float | None, *, base: float = 0.5, cap: float = 30.0
) -> float:
    """Return the wait before retry `attempt`: the backoff, or longer when `Retry-After` asks.

    A Retry-After beyond 5 minutes is cut to 5 minutes.
    """
    delay = backoff_delay(attempt, jitter, base=base, cap=cap)
    if retry_after is not None:
        delay = max(delay, min(retry_after, 300.0))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """Return Retry-After (RFC 9110 §10.2.3) in seconds; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError):  # TypeError: a date without zone
        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


def problem_detail(status: int, payload: bytes) -> str:
    """Return a one-line reason from an error body (RFC 9457 or RFC 6749 JSON, else text)."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace").strip()[:300] or f"HTTP {status}"
    if not isinstance(doc, dict):
        return f"HTTP {status}"
    if "error" in doc:  # RFC 6749 §5.2
        return f"{doc['error']}: {doc.get('error_description', '')}".strip(": ")
    parts = [str(doc[k]) for k in ("title", "detail") if doc.get(k)]
    errors = doc.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        parts.append(f"{len(errors)} error(s), first: {first.get('pointer')} {first.get('detail')}")
    return " - ".join(parts) or f"HTTP {status}"


# ---------------------------------------------------------------------------------------------
# Credentials


def key_alg(private_key_pem: bytes, alg: str) -> str:
    """Return the JWS alg to sign with: `alg`, or the key's default when "auto".

    Raises UsageProblem when the PEM is no usable private key or does not fit `alg`.
    """
    try:
        key = load_private_key(private_key_pem)
        chosen = default_alg(key) if alg == "auto" else alg
        check_key_fits(key, chosen)
    except ValueError as exc:
        raise UsageProblem(f"--key-file: {exc}") from exc
    return chosen


class TokenSource:
    """Access tokens from `POST {url}/oauth/token`, cached until shortly before they expire.

    `get()` returns a valid token (one request at a time, however many batches wait);
    `invalidate(token)` drops it after a 401 so the next `get()` fetches a new one.
    Raises TransientError (worth retrying) or FatalError (credentials refused).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        token_url: str,
        assertion: Callable[[], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.token_url = token_url
        self.assertion = assertion
        self.clock = clock
        self.token: str | None = None
        self.expires_at = 0.0
        self.requests = 0
        self._lock = asyncio.Lock()

    def valid(self) -> bool:
        """Return whether the cached token has more than its margin left."""
        return self.token is not None and self.clock() < self.expires_at

    async def get(self) -> str:
        """Return a cached or fresh access token."""
        async with self._lock:
            if self.token is not None and self.valid():
                return self.token
            return await self._fetch()

    def invalidate(self, token: str) -> None:
        """Forget `token` if it is still the cached one (another batch may have refreshed)."""
        if self.token == token:
            self.token = None

    async def _fetch(self) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.assertion(),
        }
        self.requests += 1
        try:
            async with self.session.post(self.token_url, data=form) as resp:
                status, payload = resp.status, await resp.read()
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"token endpoint: {type(exc).__name__}: {exc}") from exc
        if status == 429 or status >= 500:
            raise TransientError(f"token endpoint: {problem_detail(status, payload)}", retry_after)
        if status != 200:
            raise FatalError(f"token refused (HTTP {status}): {problem_detail(status, payload)}")
        try:
            doc = json.loads(payload)
            token, lifetime = str(doc["access_token"]), float(doc.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise FatalError(f"token endpoint answered no access_token: {exc}") from exc
        self.token = token
        # Refresh with a margin (a quarter of the lifetime, at most a minute) so a token never
        # expires between being read here and reaching the service.
        self.expires_at = self.clock() + lifetime - min(60.0, lifetime / 4)
        log.info("token obtained (expires in %.0f s, scope %s)", lifetime, doc.get("scope"))
        return token


# ---------------------------------------------------------------------------------------------
# Sending and results


@dataclass(slots=True)
class Summary:
    """Counts of one run; `as_json()` is the summary printed on stdout."""

    input: str
    format: str
    target_type: str
    dry_run: bool = False
    records: int = 0
    accepted: int = 0
    rejected: int = 0
    not_sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    rejected_by_code: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    batches_sent: int = 0
    batches_failed: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0
    token_requests: int = 0
    aborted: str | None = None
    results: str | None = None
    started: float = field(default_factory=time.monotonic)

    def add(self, results: list[dict[str, Any]]) -> None:
        """Count per-item result lines (shaped as in the results file)."""
        for r in results:
            self.records += 1
            if "outcome" in r:
                self.accepted += 1
                self.outcomes[str(r["outcome"])] += 1
                continue
            codes = {str(e.get("code", "unknown")) for e in r.get("errors", [])} or {"unknown"}
            if codes == {"not_sent"}:
                self.not_sent += 1
                continue
            self.rejected += 1
            self.rejected_by_code.update(codes)

    @property
    def exit_code(self) -> int:
        """Return 0 when every record was accepted, else 1."""
        failed = self.rejected or self.not_sent or self.batches_failed or self.aborted
        return 1 if failed else 0

    def as_json(self) -> dict[str, Any]:
        """Return the summary: totals by outcome, rejected by error code, batches, timing.

        {"input", "format", "target_type", "dry_run", "records", "accepted", "rejected",
         "not_sent", "outcomes": {outcome: n}, "rejected_by_code": {code: n} (an item counts once
         per distinct code), "batches": {"total", "sent", "failed", "retries", "token_requests"},
         "failed_batches": [{"batch", "status", "detail"}], "aborted": str | null,
         "seconds", "reports_per_second", "results": path | null, "exit_code"}
        """
        seconds = time.monotonic() - self.started
        return {
            "input": self.input,
            "format": self.format,
            "target_type": self.target_type,
            "dry_run": self.dry_run,
            "records": self.records,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "not_sent": self.not_sent,
            "outcomes": dict(sorted(self.outcomes.items())),
            "rejected_by_code": dict(sorted(self.rejected_by_code.items())),
            "batches": {
                "total": self.batches,
                "sent": self.batches_sent,
                "failed": len(self.batches_failed),
                "retries": self.retries,
                "token_requests": self.token_requests,
            },
            "failed_batches": self.batches_failed,
            "aborted": self.aborted,
            "seconds": round(seconds, 3),
            "reports_per_second": round(self.accepted / seconds, 1) if seconds > 0 else None,
            "results": self.results,
            "exit_code": self.exit_code,
        }


def relative_pointer(ptr: Any, index: int) -> str:
    """Return `ptr` with its "/reports/<index>" prefix removed (a pointer into the item)."""
    text = str(ptr or "")
    prefix = f"/reports/{index}"
    if text == prefix or text.startswith(prefix + "/"):
        return text[len(prefix) :]
    return text


def batch_results(
    batch: Batch, answer: dict[str, Any] | None, failure: str | None
) -> list[dict[str, Any]]:
    """Return the per-item result lines of `batch`, in input order.

    `answer` is the service's 202 body; `failure` ("batch_failed: ..." or "not_sent: ...") marks
    every sent item when there is no answer. Items the answer leaves out get code "missing_result".
    """
    by_index: dict[int, dict[str, Any]] = {}
    if answer is not None:
        for entry in answer.get("items", []):
            if isinstance(entry, dict) and isinstance(entry.get("index"), int):
                by_index[entry["index"]] = entry
    out: list[dict[str, Any]] = []
    sent = 0
    for p in batch.records:
        row: dict[str, Any] = {"line": p.line, "batch": batch.index, "client_ref": p.client_ref}
        if p.item is None:
            row["errors"] = p.errors
        elif answer is None:
            code, _, detail = (failure or "batch_failed: no answer").partition(": ")
            row["errors"] = [{"pointer": "", "code": code, "detail": detail}]
        else:
            entry = by_index.get(sent)
            if entry is None:
                row["errors"] = [{"pointer": "", "code": "missing_result", "detail": ""}]
            elif entry.get("errors"):
                row["errors"] = [
                    {
                        "pointer": relative_pointer(e.get("pointer"), sent),
                        "code": str(e.get("code", "")),
                        "detail": str(e.get("detail", "")),
                    }
                    for e in entry["errors"]
                    if isinstance(e, dict)
                ]
            else:
                for key in ("outcome", "report_id", "ticket_id", "target"):
                    if key in entry:
                        row[key] = entry[key]
                row.setdefault("outcome", "accepted")
        if p.item is not None:
            sent += 1
        out.append(row)
    return out


@dataclass
class Options:
    """What a run needs besides the input: endpoint, batch shape, retry policy."""

    url: str
    submitter_name: str
    submitter_email: str
    source: str
    batch_size: int = 1000
    concurrency: int = 4
    timeout_s: float = 120.0
    max_attempts: int = 8
    retry_base_s: float = 0.5
    retry_cap_s: float = 30.0


class Sender:
    """Sends batches with retries; owns the HTTP session's use, the token source and counters."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: TokenSource,
        options: Options,
        summary: Summary,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.options = options
        self.summary = summary
        self.rng = rng
        self.abort = asyncio.Event()

    async def send(self, batch: Batch) -> list[dict[str, Any]]:
        """Send `batch` until it is answered, refused for good or the run is aborted.

        Returns its per-item result lines. Raises nothing but CancelledError: FatalError sets
        `abort` (the reason is in the summary) and the items become "not_sent".
        """
        items = batch.items
        if not items:
            return batch_results(batch, {"items": []}, None)
        o = self.options
        body = encode_body(
            envelope(o.submitter_name, o.submitter_email, [p.item for p in items if p.item])
        )
        key = idempotency_key(o.source, batch.index, body)
        started = time.monotonic()
        try:
            answer, attempts = await self._post_with_retries(body, key, batch.index)
        except BatchRefused as exc:
            self.summary.batches_failed.append(
                {"batch": batch.index, "status": exc.status, "detail": exc.detail}
            )
            log.error("batch %d failed for good: %s", batch.index, exc)
            return batch_results(batch, None, f"batch_failed: {exc}")
        except FatalError as exc:
            if not self.abort.is_set():
                self.summary.aborted = str(exc)
                log.error("stopping: %s", exc)
                self.abort.set()
            return batch_results(batch, None, "not_sent: run aborted")
        self.summary.batches_sent += 1
        counts = answer.get("counts", {})
        log.info(
            "batch %d: %d item(s) accepted=%s rejected=%s in %.2f s (%d attempt(s), key %s)",
            batch.index,
            len(items),
            counts.get("accepted"),
            counts.get("rejected"),
            time.monotonic() - started,
            attempts,
            key,
        )
        return batch_results(batch, answer, None)

    async def _post_with_retries(
        self, body: bytes, key: str, index: int
    ) -> tuple[dict[str, Any], int]:
        o = self.options
        refreshed = False
        attempt = 0
        while True:
            if self.abort.is_set():
                raise FatalError("run aborted")
            attempt += 1
            try:
                return await self._post(body, key), attempt
            except _Unauthorized as exc:
                if refreshed:
                    raise FatalError(f"access token refused twice: {exc}") from exc
                refreshed = True
                self.tokens.invalidate(exc.token)
                log.info("batch %d: token refused (%s), refreshing", index, exc)
                attempt -= 1  # a refresh is not a failed attempt
                continue
            except TransientError as exc:
                if attempt >= o.max_attempts:
                    raise BatchRefused(0, f"gave up after {attempt} attempts: {exc}") from exc
                wait = retry_wait(
                    attempt, self.rng(), exc.retry_after, base=o.retry_base_s, cap=o.retry_cap_s
                )
                self.summary.retries += 1
                log.warning(
                    "batch %d: %s; retry %d in %.2f s (same Idempotency-Key)",
                    index,
                    exc,
                    attempt,
                    wait,
                )
                await asyncio.sleep(wait)

    async def _post(self, body: bytes, key: str) -> dict[str, Any]:
        token = await self.tokens.get()
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        url = f"{self.options.url}/v1/report-batches"
        try:
            async with self.session.post(url, data=body, headers=headers) as resp:
                status, payload = resp.status, await resp.read()
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        if status in (200, 201, 202):
            try:
                answer = json.loads(payload)
            except ValueError as exc:
                raise TransientError(f"HTTP {status} with an unreadable body") from exc
            if not isinstance(answer, dict):
                raise TransientError(f"HTTP {status} with an unexpected body")
            return answer
        detail = problem_detail(status, payload)
        if status == 401:
            raise _Unauthorized(token, detail)
        if status == 403:
            raise FatalError(f"HTTP 403: {detail}")
        if status in (408, 429) or status >= 500:
            raise TransientError(f"HTTP {status}: {detail}", retry_after)
        if status == 413:
            detail += " (use a smaller --batch-size)"
        raise BatchRefused(status, detail)


class _Unauthorized(Exception):
    def __init__(self, token: str, detail: str) -> None:
        super().__init__(detail)
        self.token = token


class ResultWriter:
    """Writes per-item results in batch order, whatever order batches finish in; counts them."""

    def __init__(self, out: IO[str] | None, summary: Summary, progress: Any = None) -> None:
        self.out = out
        self.summary = summary
        self.progress = progress
        self.pending: dict[int, list[dict[str, Any]]] = {}
        self.next_index = 0

    def add(self, index: int, results: list[dict[str, Any]]) -> None:
        """Take batch `index`'s results; write every batch now complete in order."""
        self.pending[index] = results
        while self.next_index in self.pending:
            rows = self.pending.pop(self.next_index)
            self.summary.add(rows)
            if self.out is not None:
                for row in rows:
                    self.out.write(json.dumps(row, ensure_ascii=False) + "\n")
                self.out.flush()
            if self.progress is not None:
                self.progress.update(len(rows))
            self.next_index += 1


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


# ---------------------------------------------------------------------------------------------
# The command


def fail_usage(message: str) -> NoReturn:
    """Raise a usage error (exit 2)."""
    raise UsageProblem(message)


def count_records(path: str, fmt: str, delimiter: str | None, header: bool) -> int | None:
    """Return the number of records in regular file `path` (for the progress bar), else None."""
    if path == "-" or not Path(path).is_file():
        return None
    with open_input(path) as stream:
        return sum(
            1 for _ in open_records(stream, path, fmt, delimiter=delimiter, header=header).records
        )


def configure_logging(level: str) -> None:
    """Send log lines to stderr: "time level message"."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s submit: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level.upper())
    log.propagate = False


TARGET_TYPES = tuple(TARGET_FIELDS)


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
@click.option("--delimiter", default=None, help="CSV delimiter [default: , (tab for .tsv)].")
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
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    sys.exit(doc["exit_code"])


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
        asyncio.run(_submit(batches, options, assertion, summary, writer))
    return summary.as_json()


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


if __name__ == "__main__":
    main()
