"""The server's own lines in the chosen format: `text` as they always were, or `json`, one object a line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from openovc.api.observe import JSON_LINES, stdout_line, timestamp
from openovc.cli.common import say


def announcer(log_format: str) -> Callable[[str], None]:
    """Writes a line for the operator (start-up, generated passwords) in the log format."""
    if log_format != JSON_LINES:
        return say

    def announce(line: str) -> None:
        record = {"time": timestamp(time.time()), "level": "info", "logger": "openovc", "message": line}
        stdout_line(orjson.dumps(record).decode())

    return announce


class JsonFormatter(logging.Formatter):
    """uvicorn's and the application's log records as JSON objects, one a line."""

    def format(self, record: logging.LogRecord) -> str:
        found: dict[str, Any] = {
            "time": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            found["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(found).decode()


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's logging configuration: its own for text (None), and JSON for everything otherwise.

    uvicorn's access log stays off either way: the application writes its own (api/observe.py).
    """
    if log_format != JSON_LINES:
        return None
    json_formatter = {"()": f"{__name__}.JsonFormatter"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": json_formatter, "access": json_formatter},
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
    }
