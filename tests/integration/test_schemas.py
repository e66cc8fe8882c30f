"""The committed JSON Schema in schemas/: generated from the models, drift detected, and usable
by an integrator to check a batch before sending it."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from fraudchannel import models, schemas

BATCH_FILE = schemas.SCHEMAS_DIR / models.BATCH_SCHEMA_FILE

SAMPLE: dict[str, Any] = {
    "schema_version": "1",
    "submitter": {"name": "Ann Analyst", "email": "ann@bank.example"},
    "good_faith": True,
    "reports": [
        {
            "client_ref": "CASE-2026-0001",
            "target": {"type": "url", "url": "hxxps://secure-login[.]example-bank.co.uk/verify"},
            "related": [
                {"type": "uk_bank_account", "sort_code": "12-34-56", "account_number": "12345678"}
            ],
            "scam_type": "impersonation_bank",
            "explanation": "Clone of Example Bank's login page harvesting credentials.",
            "legal_ground": "Fraud Act 2006 s2",
            "observed_at": "2026-11-29T10:00:00+00:00",
            "impersonated_brand": "Example Bank",
            "victim_loss": {"amount_minor": 250000, "currency": "GBP"},
            "victim_count": 4,
            "confidence": "high",
            "evidence": [
                {"kind": "screenshot", "sha256": "0" * 64, "uri": "https://evidence.example/1"}
            ],
        },
        {
            "client_ref": "CASE-2026-0002",
            "target": {"type": "phone", "number": "07700 900123"},
            "scam_type": "impersonation_police",
            "explanation": "Caller poses as a detective and asks for a 'safe account' transfer.",
        },
    ],
}


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    result: dict[str, Any] = node
    return result


_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def problems(root: dict[str, Any], schema: dict[str, Any], value: Any, at: str = "") -> list[str]:
    """Return where `value` breaks `schema`: the JSON Schema 2020-12 keywords the file uses."""
    if "$ref" in schema:
        return problems(root, _resolve(root, schema["$ref"]), value, at)
    kind = schema.get("type")
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if (kind == "integer" and not is_int) or (
        kind not in (None, "integer") and not isinstance(value, _TYPES[kind])
    ):
        return [f"{at}: not {kind}"]
    found = _scalar_problems(schema, value, at)
    if isinstance(value, dict):
        found += _object_problems(root, schema, value, at)
    if isinstance(value, list):
        found += _array_problems(root, schema, value, at)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            ok = sum(not problems(root, s, value, at) for s in schema[key])
            if ok == 0 or (key == "oneOf" and ok != 1):
                found.append(f"{at}: {key} matched {ok}")
    return found


def _scalar_problems(schema: dict[str, Any], value: Any, at: str) -> list[str]:
    found = []
    if isinstance(value, str | int):
        if "const" in schema and value != schema["const"]:
            found.append(f"{at}: not {schema['const']!r}")
        if "enum" in schema and value not in schema["enum"]:
            found.append(f"{at}: not in enum")
    if isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 10**9):
            found.append(f"{at}: length")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{at}: pattern")
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and not schema.get("minimum", -(10**30)) <= value <= schema.get("maximum", 10**30):
        found.append(f"{at}: range")
    return found


def _object_problems(
    root: dict[str, Any], schema: dict[str, Any], value: dict[str, Any], at: str
) -> list[str]:
    props = schema.get("properties", {})
    found = [f"{at}/{k}: missing" for k in schema.get("required", []) if k not in value]
    if schema.get("additionalProperties") is False:
        found += [f"{at}/{k}: unknown" for k in value if k not in props]
    for k, v in value.items():
        if k in props:
            found += problems(root, props[k], v, f"{at}/{k}")
    return found


def _array_problems(
    root: dict[str, Any], schema: dict[str, Any], value: list[Any], at: str
) -> list[str]:
    found = []
    if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", 10**9):
        found.append(f"{at}: item count")
    for i, v in enumerate(value):
        found += problems(root, schema.get("items", {}), v, f"{at}/{i}")
    return found


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(BATCH_FILE.read_text(encoding="utf-8"))
    return doc


def test_the_committed_schema_is_what_the_models_generate() -> None:
    assert schemas.drift() == []
    assert BATCH_FILE.read_text(encoding="utf-8") == schemas.render(models.report_batch_schema)


def test_drift_is_detected(tmp_path: Path) -> None:
    schemas.write(tmp_path)
    assert schemas.drift(tmp_path) == []
    path = tmp_path / models.BATCH_SCHEMA_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["$defs"]["ReportItem"]["properties"]["explanation"]["maxLength"] = 5000
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert schemas.drift(tmp_path) == [models.BATCH_SCHEMA_FILE]
    path.unlink()
    assert schemas.drift(tmp_path) == [models.BATCH_SCHEMA_FILE]
    assert schemas.main(["check"]) == 0


def test_the_schema_names_its_dialect_and_id(committed: dict[str, Any]) -> None:
    assert committed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert committed["$id"].endswith("/report-batch.v1.schema.json")
    assert committed["properties"]["reports"]["maxItems"] == 10_000
    assert committed["additionalProperties"] is False


def test_the_committed_schema_accepts_a_sample_batch(committed: dict[str, Any]) -> None:
    assert problems(committed, committed, SAMPLE) == []
    models.ReportBatch.model_validate_json(json.dumps(SAMPLE))  # the models agree
    if importlib.util.find_spec("jsonschema") is not None:  # pragma: no cover - not installed here
        jsonschema = importlib.import_module("jsonschema")
        jsonschema.Draft202012Validator(committed).validate(SAMPLE)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("good_faith",), False),
        (("reports", 0, "scam_type"), "spam"),
        (("reports", 0, "target", "type"), "fax"),
        (("reports", 0, "victim_loss", "currency"), "XXX"),
        (("reports", 0, "explanation"), "x" * 2001),
        (("reports", 0, "client_ref"), " padded"),
        (("reports", 1, "unknown"), 1),
        (("reports", 0, "evidence", 0, "sha256"), "xyz"),
    ],
)
def test_the_committed_schema_refuses_what_the_models_refuse(
    committed: dict[str, Any], path: tuple[str | int, ...], value: Any
) -> None:
    bad = copy.deepcopy(SAMPLE)
    node: Any = bad
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert problems(committed, committed, bad)
    with pytest.raises(ValueError, match="validation error"):
        models.ReportBatch.model_validate_json(json.dumps(bad))
