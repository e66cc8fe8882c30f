"""Turning records into report items: constants, column mapping, templates, recoding, client_ref."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from fraudchannel.submitter.errors import UsageProblem
from fraudchannel.submitter.fields import (
    INT_FIELDS,
    ITEM_FIELDS,
    PRIMARY_FIELD,
    TARGET_FIELDS,
    TARGET_REQUIRED,
    check_item,
    local_error,
    pointer,
)
from fraudchannel.submitter.readers import LINES_COLUMN, Record

DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")


# What a record the reader could not read means (fraudchannel.submitter.readers).
READ_ERRORS: Final = {
    "local.invalid_json": "the line is not JSON",
    "local.not_an_object": "the line is JSON but not an object",
    "local.extra_cells": "the row has more cells than the header has columns (a delimiter "
    "inside an unquoted value?); nothing of it was sent",
}


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
        """Raise UsageProblem when a mapped column is not among the input's `columns` (a CSV's
        header, a plain list's "value"); None (JSON Lines) checks nothing."""
        if columns is None:
            return
        if not columns:
            raise UsageProblem("the CSV input is empty: it has no header line")
        wanted = set(self.columns.values())
        for template in self.templates.values():
            wanted.update(TEMPLATE_FIELD.findall(template))
        unknown = sorted(wanted - set(columns))
        if unknown:
            where = "the header" if columns != [LINES_COLUMN] else "a plain list"
            raise UsageProblem(
                f"column(s) {', '.join(map(repr, unknown))} not in {where} "
                f"(columns: {', '.join(columns)})"
            )

    def build(self, record: Record) -> Prepared:
        """Return the item for `record`, or its local errors (pointers relative to the item).

        Order: the record itself (passthrough), then constants where nothing is set, then
        templates and columns (an empty cell leaves the constant standing).
        """
        if record.error:
            detail = READ_ERRORS.get(record.error, "")
            return Prepared(record.line, None, None, [local_error("", record.error, detail)])
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
