"""Generate the committed documents in `schemas/` from the pydantic models and the routes.

The JSON Schema of the report batch (models.SCHEMA_DOCUMENTS) and the OpenAPI 3.1 document of
the HTTP API (fraudchannel.openapi). `python -m fraudchannel.schemas write` rewrites them;
`... check` exits 1 when they drift.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
OPENAPI_FILE = "openapi.v1.json"  # served as GET /openapi.json (fraudchannel.http.openapi)


def _documents() -> dict[str, Callable[[], dict[str, Any]]]:
    """Return {file name: builder of its JSON document}."""
    from fraudchannel import models, openapi  # openapi imports the whole app: only when asked

    return {**models.SCHEMA_DOCUMENTS, OPENAPI_FILE: openapi.document}


def render(build: Callable[[], dict[str, Any]]) -> str:
    """Return the stable text of one document (sorted keys, 2-space indent, final newline)."""
    return json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(folder: Path = SCHEMAS_DIR) -> list[Path]:
    """Write every document into `folder`; return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in _documents().items():
        path = folder / name
        path.write_text(render(build), encoding="utf-8")
        written.append(path)
    return written


def drift(folder: Path = SCHEMAS_DIR) -> list[str]:
    """Return the names of documents that are missing or differ from the models."""
    stale = []
    for name, build in _documents().items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != render(build):
            stale.append(name)
    return stale


def main(argv: list[str]) -> int:
    """Run `write` or `check`; return the exit status."""
    if argv == ["write"]:
        for path in write():
            print(f"wrote {path.relative_to(SCHEMAS_DIR.parent)}")
        return 0
    if argv == ["check"]:
        stale = drift()
        if stale:
            print(
                f"schemas/ is out of date: {', '.join(stale)}; run `make schemas`", file=sys.stderr
            )
            return 1
        print("schemas/ matches the models")
        return 0
    print("usage: python -m fraudchannel.schemas write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
