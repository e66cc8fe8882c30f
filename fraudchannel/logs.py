"""Logging: structlog configured once, stdlib loggers (aiohttp, asyncpg) rendered alike."""

from __future__ import annotations

import logging
import sys
from typing import Final, Literal

import structlog
from aiohttp import http_exceptions, web

# What a client's request can make aiohttp's server raise on its own (a header over 8190 bytes, a
# body that is not the coding it claims, a malformed request line): the client gets its 400, and
# the log says so at info level. Error level stays for faults of ours.
CLIENT_FAULTS: Final = (http_exceptions.HttpProcessingError, web.RequestPayloadError)


def configure_logging(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    """Send every log line to stderr: JSON unless `fmt` says console or stderr is a terminal."""
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info if json_lines else _noop,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # stdlib records carry exc_info as a tuple: render it as text, not a repr
                structlog.processors.format_exc_info if json_lines else _noop,
                renderer,
            ],
        )
    )
    for name in ("aiohttp.server", "aiohttp.web"):  # on the loggers: every handler sees it so
        logging.getLogger(name).addFilter(client_faults_as_info)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # we log request_served


def _noop(
    _logger: object, _name: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    return event_dict


def client_faults_as_info(record: logging.LogRecord) -> bool:
    """Rewrite a log record of a client's unreadable request (CLIENT_FAULTS) in place: info level,
    event "client_request_unreadable" with the fault's class name, and no traceback; return
    whether to keep it (False when the log level is above info).

    Only the class name is kept: aiohttp's messages quote request bytes (a header that may hold a
    token). Other records pass unchanged. A logging filter (PEP 282), so it runs for aiohttp's
    records before any formatting.
    """
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, CLIENT_FAULTS) and record.levelno > logging.INFO:
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.msg, record.args = "client_request_unreadable: %s", (type(exc).__name__,)
        record.exc_info = record.exc_text = None
        return logging.getLogger().isEnabledFor(logging.INFO)  # dropped when the level is above
    return True
