"""Structured logs (structlog over the standard library): one JSON object per line, or a
readable console line, with phone numbers masked to their last two digits as a safety net.

The service never logs a phone number or a message's text on purpose; :func:`mask_phones`
catches what slips through (an exception's text, a third-party library's message). Every
record goes through it, the standard library's (uvicorn's, SQLAlchemy's) as well as structlog's.

``configure_structlog()`` sets structlog's processors (idempotent; the app calls it);
``logging_config()`` is the ``logging.config.dictConfig`` of a server process (``optimizer
serve`` hands it to uvicorn, which applies it in every worker); ``install()`` puts the same
formatter on the root logger of this process (tests, scripts).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import IO, Any, Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["json", "console"]
LOG_FORMATS: tuple[LogFormat, ...] = ("json", "console")

# A phone number as people and programs write it: E.164 (+ and 7 to 15 digits) or 10 to 15
# digits with single separators ("(305) 555-0142", "305 555 0142", "1.305.555.0142"). Not a
# run inside a word, an id or a hex string (a UUID's all-digit group, a request id), nor a
# date followed by a time ("2026-11-30 10:00").
_PHONE = re.compile(
    r"(?<![\w+\-.])"
    r"(?:\+\d{7,15}|\+?\(?\d(?:[ ().\-]{0,2}\d){9,14})"
    r"(?![\w:\-])"
)


def _mask_match(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "***" + digits[-2:]


def mask_text(text: str) -> str:
    """``text`` with every phone-number-looking run replaced by ``***`` and its last 2 digits."""
    return _PHONE.sub(_mask_match, text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {key: _mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(item) for item in value]
    return value


def mask_phones(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask phone numbers in every string of the event (nested too)."""
    for key, value in event_dict.items():
        if key.startswith("_"):  # structlog's own bookkeeping (the record, the logger)
            continue
        event_dict[key] = _mask_value(value)
    return event_dict


_FIRST = ("timestamp", "level", "event", "logger", "pid", "request_id")


def _add_pid(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The process id: which worker of ``optimizer serve --workers N`` wrote the line."""
    event_dict.setdefault("pid", os.getpid())
    return event_dict


def _first_keys_first(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The time, level, event, logger and request id at the start of the line."""
    ordered = {key: event_dict.pop(key) for key in _FIRST if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_pid,
    ]


def configure_structlog() -> None:
    """structlog loggers hand their event to the standard library (masked already), whose
    handler's :func:`formatter` renders it."""
    if structlog.is_configured():
        return
    structlog.configure(
        processors=[
            *_shared(),
            mask_phones,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def formatter(fmt: LogFormat = "json") -> logging.Formatter:
    """The formatter of every handler: JSON (one object per line) or a console line; a
    traceback is rendered into the event, then masked like the rest."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(LOG_FORMATS)}")
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            mask_phones,
            _first_keys_first,
            renderer,
        ],
    )


def logging_config(fmt: LogFormat, level: str) -> dict[str, Any]:
    """A ``dictConfig`` sending every logger (uvicorn's included) through :func:`formatter` to
    stderr at ``level``."""
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": "optimizer.logs.formatter", "fmt": fmt}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": upper},
        "loggers": {
            name: {"handlers": [], "level": upper, "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def install(
    fmt: LogFormat = "json", level: int | str = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Add a handler with :func:`formatter` to the root logger of this process and return it
    (remove it with ``logging.getLogger().removeHandler``)."""
    configure_structlog()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def get_logger(name: str) -> Any:
    configure_structlog()
    return structlog.stdlib.get_logger(name)
