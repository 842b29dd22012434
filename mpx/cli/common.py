"""What every command shares: the output-format option, the renderer, settings for this invocation."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mpx.errors import UsageError

if TYPE_CHECKING:  # imported when first needed: `mpx --help` starts without pydantic
    from mpx.settings import Settings


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output format: table (for people), csv or json.")
]


class _Invocation:
    """Per-invocation state set by the top-level callback (tests call main() many times)."""

    traceback: bool = False
    settings: Settings | None = None


invocation = _Invocation()


def settings() -> Settings:
    """The validated settings (ConfigError, exit 78, when invalid)."""
    if invocation.settings is None:
        from mpx.settings import load_settings

        invocation.settings = load_settings()
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


def since_option(since: str | None) -> datetime | None:
    """``--since 30m`` → the time that long ago (UTC); a bad duration is a usage error (exit 2)."""
    if since is None:
        return None
    from mpx.domain.durations import parse_duration

    try:
        return datetime.now(UTC) - parse_duration(since)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
