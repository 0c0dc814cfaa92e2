"""One JSON object per line, with the fields Cloud Logging reads (severity, message)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Fields a caller may pass with `extra=` and that are copied into the JSON line.
CONTEXT_FIELDS = (
    "function",
    "job_id",
    "video_id",
    "step",
    "attempt",
    "duration_ms",
    "outcome",
    "reason",
    "event_id",
    "target",
    "status_code",
    "worker",
    "timings_ms",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "logger": record.name,
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value if isinstance(value, int | float | bool | dict) else str(value)
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of the write, not at creation: a replaced
    stderr (a test's capture, a server's redirect) never leaves a handler on a closed stream."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def get_logger(name: str) -> logging.Logger:
    root = logging.getLogger("vidpipe")
    if not root.handlers:
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    return root.getChild(name)
