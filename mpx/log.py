"""JSON-lines logging on stderr: one object per line with ``ts``, ``level``, ``msg`` and the context
keys that apply (``job``, ``ruleId``, ``marketId``, ``trace``). Human output goes to stdout."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

CONTEXT_KEYS = ("job", "ruleId", "marketId", "trace")
_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Never print ``value`` (a bot token, a password) in a log line: it is replaced by ``***``."""
    if value and len(value) >= 6:
        _SECRETS.add(value)
_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["exc"] = self.formatException(record.exc_info)
        line = json.dumps(out, default=str, ensure_ascii=False)
        for secret in _SECRETS:
            line = line.replace(secret, "***")
        return line


def setup_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    # an invalid MPX_LOG_LEVEL is reported by settings validation (exit 78); log at INFO meanwhile
    root.setLevel(level.upper() if level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
    for noisy in ("httpx", "httpcore", "telegram"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
