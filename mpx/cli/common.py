"""What every command shares: the options defined once (``--format``, ``--limit``, ``--since``, the
levels), the renderer, settings for this invocation."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mpx.errors import UsageError
from mpx.log import setup_logging

if TYPE_CHECKING:  # imported when first needed: `mpx --help` starts without pydantic
    from mpx.settings import Settings


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output format: table (for people), csv or json.")
]
LimitOption = Annotated[int, typer.Option("--limit", min=1, max=100_000, help="At most this many rows.")]
"""``--limit N``; each command sets its default (``limit: LimitOption = 50``)."""


def _since(value: str) -> datetime:
    from mpx.domain.durations import parse_duration

    try:
        return datetime.now(UTC) - parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


SinceOption = Annotated[datetime | None, typer.Option(
    "--since", parser=_since, metavar="DURATION",
    help="Only rows newer than this long ago, e.g. 30m, 1h, 2d (a bad duration exits 2).")]
"""``--since 30m`` → the time that long ago (UTC)."""


class Venue(StrEnum):
    polymarket = "polymarket"
    kalshi = "kalshi"


VenueOption = Annotated[Venue | None, typer.Option(
    "--venue", case_sensitive=False, help="Only rows with a market on this venue (polymarket or kalshi).")]
"""``--venue kalshi``: rows with a market on that venue (a cross-venue row has both)."""


class Level(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


class _Invocation:
    """Per-invocation state set by the top-level callback (tests call main() many times)."""

    traceback: bool = False
    settings: Settings | None = None
    log_level: str | None = None
    """``--log-level``, which wins over MPX_LOG_LEVEL."""
    metrics_textfile: Path | None = None
    """``--metrics-textfile``, which wins over MPX_METRICS_TEXTFILE (never written into the environment:
    one invocation's option must not leak into the next in the same process)."""


invocation = _Invocation()


def settings() -> Settings:
    """The validated settings (ConfigError, exit 78, when invalid)."""
    if invocation.settings is None:
        from mpx.settings import load_settings

        overrides = {} if invocation.metrics_textfile is None else {"mpx_metrics_textfile": invocation.metrics_textfile}
        invocation.settings = load_settings(**overrides)
        # the settings may come from .env, which the logging set up before them did not read
        setup_logging(invocation.log_level or invocation.settings.mpx_log_level, invocation.settings.mpx_log_format)
    return invocation.settings


def _cell(value: Any, fmt: OutputFormat) -> Any:
    if value is None:
        return "" if fmt is not OutputFormat.json else None
    if isinstance(value, datetime):
        return value.isoformat() if fmt is not OutputFormat.table else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Decimal):
        return str(value)  # exact, in every format (JSON numbers would go through float)
    if isinstance(value, Mapping | list) and fmt is not OutputFormat.json:
        return json.dumps(value, default=str)
    return value


def render(rows: Sequence[Mapping[str, Any]], fmt: OutputFormat, columns: Sequence[str] | None = None,
           *, empty: str = "(no rows)") -> None:
    """Print rows on stdout as a table, CSV or JSON (machine output: stdout only)."""
    cols = list(columns or (rows[0].keys() if rows else []))
    data = [{c: _cell(r.get(c), fmt) for c in cols} for r in rows]
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    elif fmt is OutputFormat.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        writer.writerows(data)
        sys.stdout.write(buf.getvalue())
    elif not data:
        typer.echo(empty)
    else:
        from tabulate import tabulate

        typer.echo(tabulate([[r[c] for c in cols] for r in data], headers=cols, tablefmt="simple",
                            disable_numparse=True))


def render_mapping(pairs: Iterable[tuple[str, Any]], fmt: OutputFormat) -> None:
    items = list(pairs)
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(dict(items), indent=2, default=str) + "\n")
    else:
        render([{"key": k, "value": v} for k, v in items], fmt, ["key", "value"])


def truncate(text: str | None, width: int) -> str:
    if not text:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def parse_when(value: str | None, name: str, default: datetime) -> datetime:
    """``--start``/``--end``: an ISO time (UTC unless it says) or a duration ago (``30m``, ``7d``);
    anything else is a UsageError (exit 2) naming the option."""
    if value is None:
        return default
    from mpx.domain.durations import parse_duration

    try:
        return datetime.now(UTC) - parse_duration(value)
    except ValueError:
        pass
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{name}: {value!r} is neither a time (2026-11-25T10:00, ISO 8601, UTC unless it says) "
                         "nor a duration ago (30m, 2h, 7d)") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def check_output_path(path: Path | None, option: str) -> None:
    """A file an option asks us to write must be writable before any work starts: its directory
    exists and is writable, and it is not a directory (UsageError, exit 2, naming the path)."""
    if path is None:
        return
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory", hint="give a file name")
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {parent} does not exist", hint="create it first")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {path}: not writable", hint="choose a path this user may write")

