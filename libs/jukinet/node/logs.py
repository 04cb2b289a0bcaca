"""Structured JSON logs. Log records carry codes, ids and counts — never personal data."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

__all__ = ["CONTEXT_FIELDS", "JsonFormatter", "logging_config"]

# ``extra=`` fields a log line may carry: identifiers and counts, never personal data.
CONTEXT_FIELDS = (
    "correlation_id",
    "correlation_ids",
    "message_id",
    "origin",
    "node",
    "version",
    "count",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                doc[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            doc["error"] = record.exc_info[0].__name__
        return json.dumps(doc, ensure_ascii=False)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document for services run under uvicorn."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "jukinet.node.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"level": level},
            "uvicorn.access": {"level": "WARNING"},
        },
    }
