"""Logging on stderr, for machines or for people (``MPX_LOG_FORMAT``):

- ``json``: one object per line with ``ts``, ``level``, ``logger``, ``msg`` and the context keys that
  apply (``job``, ``run``, ``ruleId``, ``marketId``, …) — what a journal, a log shipper or ``jq`` reads;
- ``text``: ``12:00:01.234 INFO  pass finished  job=ingest run=12 rows=40`` — for a terminal;
- ``auto`` (the default): text when stderr is a terminal, JSON otherwise (systemd, cron, pipes).

Every secret registered with :func:`register_secret` is replaced by ``***`` in both formats.
Human output (tables, results) goes to stdout."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LOG_FORMATS = ("auto", "text", "json")
LogFormat = Literal["auto", "text", "json"]
_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Never print ``value`` (a bot token, a password) in a log line: it is replaced by ``***``."""
    if value and len(value) >= 6:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(_extras(record))
        if record.exc_info and record.exc_info[0] is not None:
            out["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(out, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """One line a person reads: local time, level, message, then ``key=value`` context."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).astimezone().strftime("%H:%M:%S.%f")[:-3]
        parts = [f"{ts} {record.levelname:<7} {record.getMessage()}"]
        extras = _extras(record)
        if extras:
            parts.append(" ".join(f"{k}={_value(v)}" for k, v in extras.items()))
        line = "  ".join(parts)
        if record.exc_info and record.exc_info[0] is not None:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


def _value(v: Any) -> str:
    """``key=value`` as a person reads it: lists joined by commas, quoted only when it has spaces."""
    if isinstance(v, str):
        text = v
    elif isinstance(v, list | tuple | set | frozenset):
        text = ",".join(str(x) for x in v)
    elif isinstance(v, dict):
        text = json.dumps(v, default=str, ensure_ascii=False)
    else:
        text = json.dumps(v, default=str) if v is None or isinstance(v, bool) else str(v)
    return json.dumps(text, ensure_ascii=False) if (not text or any(c.isspace() for c in text)) else text


def resolve_format(fmt: str | None, stream: Any = None) -> Literal["text", "json"]:
    """``text`` or ``json``: ``auto`` (or anything unknown: settings validation reports it, exit 78)
    is text when ``stream`` (stderr) is a terminal."""
    choice = (fmt or "auto").strip().lower()
    if choice in ("text", "json"):
        return choice  # type: ignore[return-value]
    stream = sys.stderr if stream is None else stream
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def setup_logging(level: str = "INFO", fmt: str | None = "auto") -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter() if resolve_format(fmt, sys.stderr) == "text" else JsonFormatter())
    root.addHandler(handler)
    # an invalid MPX_LOG_LEVEL is reported by settings validation (exit 78); log at INFO meanwhile
    root.setLevel(level.upper() if level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
    for noisy in ("httpx", "httpcore", "telegram"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
