"""Wire models (pydantic v2): placeholder until the report schema lands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SCHEMA_DOCUMENTS: dict[str, Callable[[], dict[str, Any]]] = {}
