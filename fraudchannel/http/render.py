"""Response rendering: JSON bodies and RFC 9457 problem documents."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

PROBLEM_JSON = "application/problem+json"


def dumps(data: Any) -> str:
    """Return compact JSON text (UTF-8 kept as is)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Return `data` as an application/json response."""
    return web.Response(
        text=dumps(data), status=status, content_type="application/json", headers=headers
    )


def problem_response(doc: dict[str, Any], *, status: int) -> web.Response:
    """Return an RFC 9457 problem document (`application/problem+json`)."""
    return web.Response(text=dumps(doc), status=status, content_type=PROBLEM_JSON)
