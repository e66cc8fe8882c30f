"""Log lines: a traceback of a stdlib logger is readable text, and a client's unreadable request
is an info line without its bytes (fraudchannel.logs)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import http_exceptions, web

from fraudchannel.logs import configure_logging


@pytest.fixture
def json_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Yield a function returning the JSON lines logged so far; restore the root logger after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    yield lines
    root.handlers[:], level = saved
    root.setLevel(level)


def fail(exc: BaseException) -> None:
    try:
        raise exc
    except BaseException:
        logging.getLogger("aiohttp.server").exception("Error handling request")


def test_a_stdlib_traceback_is_text(json_lines: Any) -> None:
    configure_logging("info", "json")
    fail(RuntimeError("a fault of ours"))
    (line,) = json_lines()
    assert line["level"] == "error"
    assert "exc_info" not in line  # it used to be ["<class ...>", "...", "<traceback object>"]
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: a fault of ours" in line["exception"]


@pytest.mark.parametrize(
    "fault",
    [
        http_exceptions.LineTooLong("GET /v1/whoami?token=secret-bytes", "8190"),
        http_exceptions.BadStatusLine("Authorization: Bearer secret-bytes"),
        http_exceptions.ContentEncodingError("Can not decode content-encoding: gzip"),
        web.RequestPayloadError("Can not decode content-encoding: gzip"),
    ],
)
def test_a_clients_unreadable_request_is_info_without_its_bytes(
    json_lines: Any, fault: Exception
) -> None:
    configure_logging("info", "json")
    fail(fault)
    (line,) = json_lines()
    assert line["level"] == "info"
    assert line["event"] == f"client_request_unreadable: {type(fault).__name__}"
    assert "secret" not in json.dumps(line)
    assert "exception" not in line


def test_above_info_a_clients_unreadable_request_is_not_logged(json_lines: Any) -> None:
    configure_logging("warning", "json")
    fail(web.RequestPayloadError("Can not decode content-encoding: gzip"))
    fail(RuntimeError("a fault of ours"))
    assert [line["event"] for line in json_lines()] == ["Error handling request"]
