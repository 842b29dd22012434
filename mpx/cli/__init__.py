"""The command line: composition root and the one error boundary.

Commands parse arguments, call one job or query, and render. Every :class:`MpxError` becomes one
line on stderr (plus a hint) and its exit code; anything else is exit 1, with the full traceback
under ``--traceback``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
import typer.main

from mpx import __version__
from mpx.errors import ConfigError, MpxError, UnavailableError
from mpx.exit import ExitCode
from mpx.log import setup_logging

# Every command: (module under mpx.cli, its Typer sub-app or command function, the line `mpx --help`
# lists it with). A command's module — and what it imports: psycopg, pandas, python-telegram-bot… —
# is imported only when that command runs or its own --help is asked for: `mpx --help` and every
# job start without importing what the other commands need.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "seed": ("seed", "seed", "Write the mock universe's markets and first frame of ticks."),
    "ingest": ("ingest", "ingest", "Fetch one snapshot of markets and books; store the books that changed."),
    "stream": ("stream", "stream", "Stream order books over the websocket; store the changed books every second."),
    "evaluate": ("evaluate", "evaluate", "Run the rules over every ingest pass since the last evaluate."),
    "signals": ("signals", "signals", "Stored signals, newest first, each with its class."),
    "opportunities": ("opportunities", "opportunities", "Episodes: when each opportunity opened and closed."),
    "run": ("health", "run", "Chain ingest → evaluate (local debugging)."),
    "runs": ("runs", "runs", "Recent job runs: duration, rows, status, error."),
    "health": ("health", "health", "Pipeline health as JSON; exit 0 healthy, 1 degraded."),
    "metrics": ("health", "metrics", "Totals and freshness metrics in Prometheus text format."),
    "kpi": ("kpi", "kpi", "Roll signals and opportunities up per day, rule and class."),
    "backtest": ("backtest", "backtest", "Replay stored ticks through a rule: hits, PnL, DEPLOY / NO-DEPLOY."),
    "archive": ("archive", "archive", "Move whole days of old ticks from PostgreSQL into Parquet files."),
    "export": ("export", "export", "Export ticks, signals, opportunities or intents to Parquet or CSV."),
    "db": ("db", "app", "Start, stop, inspect and migrate the database."),
    "alerts": ("alerts", "app", "Telegram alerts: send a test message, flush the outbox, list what was alerted."),
    "telegram": ("telegram", "app", "One tap in Telegram: answer the alert buttons (poll), list every tap."),
    "intents": ("intents", "app", "Order intents from P1/P2 arbitrage signals: create, confirm, unwind, list."),
    "config": ("config", "app", "Inspect the configuration."),
    "markets": ("markets", "app", "Inspect stored markets."),
    "rules": ("rules", "app", "List and validate rule files."),
    "synonyms": ("synonyms", "app", "Synonym groups, relations and candidates: refresh, list, confirm, reject."),
    "pairs": ("pairs", "app", "Cross-venue pairs (Polymarket ↔ Kalshi): propose, confirm, reject, list."),
}


class LazyGroup(typer.core.TyperGroup):
    """The root command group: imports a command's module the first time the command is needed.
    ``commands`` (what walks the whole tree reads) loads them all."""

    _loaded: dict[str, Any]
    _listing = False

    @property  # type: ignore[override]
    def commands(self) -> dict[str, Any]:
        for name in COMMANDS:
            self._load(name)
        return self._loaded

    @commands.setter
    def commands(self, value: Any) -> None:
        self._loaded = dict(value)

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(n for n in self._loaded if n not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if self._listing and cmd_name in COMMANDS and cmd_name not in self._loaded:
            # the root's --help lists commands by their line in COMMANDS: no import
            return typer.core.TyperCommand(name=cmd_name, short_help=COMMANDS[cmd_name][2])
        return self._load(cmd_name) if cmd_name in COMMANDS else self._loaded.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def _load(self, name: str) -> Any:
        if name not in self._loaded:
            module, attr, short_help = COMMANDS[name]
            target = getattr(importlib.import_module(f"mpx.cli.{module}"), attr)
            holder = typer.Typer(rich_markup_mode=None)
            holder.callback()(lambda: None)
            if isinstance(target, typer.Typer):
                holder.add_typer(target, name=name, short_help=short_help)
            else:
                holder.command(name, short_help=short_help)(target)
            self._loaded[name] = typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]
        return self._loaded[name]


app = typer.Typer(
    name="mpx",
    cls=LazyGroup,
    help="MarketPulse-X: one-pass batch jobs that watch Polymarket for mispricing.\n\n"
    "Exit codes: 0 ok, 1 failed, 2 usage, 75 skipped/busy/unavailable (retry later), 78 bad configuration.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help and errors: importing rich would cost ~0.2 s a start
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mpx {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    traceback: Annotated[bool, typer.Option("--traceback", help="Show the full traceback on errors.")] = False,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="stderr log level (default MPX_LOG_LEVEL or INFO).")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    metrics_textfile: Annotated[
        Path | None, typer.Option("--metrics-textfile", help="Also write the job's metrics to this file for "
                                  "node_exporter's textfile collector (or MPX_METRICS_TEXTFILE).")
    ] = None,
) -> None:
    from mpx.cli.common import invocation

    invocation.traceback = traceback
    invocation.settings = None
    invocation.log_level = log_level
    invocation.metrics_textfile = metrics_textfile
    setup_logging(log_level or os.environ.get("MPX_LOG_LEVEL") or "INFO", os.environ.get("MPX_LOG_FORMAT"))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app and map errors to exit codes."""
    from mpx.cli.common import invocation

    invocation.traceback = "--traceback" in (argv if argv is not None else sys.argv[1:])
    try:
        app(args=argv, prog_name="mpx")
    except MpxError as exc:
        if invocation.traceback:
            raise
        _fail(exc)
    except KeyboardInterrupt:
        sys.stderr.write("mpx: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        if invocation.traceback:
            raise
        if _database_lost(exc):
            _fail(UnavailableError(f"database unavailable: {(str(exc).strip() or type(exc).__name__).splitlines()[0]}",
                                   hint="try again later; check the database server"))
        if _schema_behind(exc):
            _fail(ConfigError(f"the database schema is behind this version of mpx ({str(exc).splitlines()[0]})",
                              hint="run `mpx db migrate`"))
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        sys.stderr.write(f"mpx: internal error: {type(exc).__name__}: {first}\n"
                         "hint: run again with --traceback for the full story\n")
        sys.exit(ExitCode.FAILED)


def _database_lost(exc: BaseException) -> bool:
    import psycopg

    return isinstance(exc, psycopg.OperationalError)


def _schema_behind(exc: BaseException) -> bool:
    import psycopg.errors

    return isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn)


def _fail(exc: MpxError) -> None:
    text = str(exc) if isinstance(exc, ConfigError) else exc.message
    sys.stderr.write(f"mpx: error: {text}\n")
    if exc.hint:
        sys.stderr.write(f"hint: {exc.hint}\n")
    sys.exit(int(exc.exit_code))
