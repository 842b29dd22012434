"""The command line: composition root and the one error boundary.

Commands parse arguments, call one job or query, and render. Every :class:`MpxError` becomes one
line on stderr (plus a hint) and its exit code; anything else is exit 1, with the full traceback
under ``--traceback``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mpx import __version__
from mpx.cli import alerts as alerts_cmd
from mpx.cli import backtest as backtest_cmd
from mpx.cli import config as config_cmd
from mpx.cli import db as db_cmd
from mpx.cli import evaluate as evaluate_cmd
from mpx.cli import health as health_cmd
from mpx.cli import ingest as ingest_cmd
from mpx.cli import intents as intents_cmd
from mpx.cli import kpi as kpi_cmd
from mpx.cli import markets as markets_cmd
from mpx.cli import opportunities as opportunities_cmd
from mpx.cli import rules as rules_cmd
from mpx.cli import runs as runs_cmd
from mpx.cli import seed as seed_cmd
from mpx.cli import signals as signals_cmd
from mpx.cli import synonyms as synonyms_cmd
from mpx.cli.common import invocation
from mpx.errors import ConfigError, MpxError, UnavailableError
from mpx.exit import ExitCode
from mpx.log import setup_logging

app = typer.Typer(
    name="mpx",
    help="MarketPulse-X: one-pass batch jobs that watch Polymarket for mispricing.\n\n"
    "Exit codes: 0 ok, 1 failed, 2 usage, 75 skipped/busy/unavailable (retry later), 78 bad configuration.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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
    invocation.traceback = traceback
    invocation.settings = None
    invocation.log_level = log_level
    if metrics_textfile is not None:
        os.environ["MPX_METRICS_TEXTFILE"] = str(metrics_textfile)
    setup_logging(log_level or os.environ.get("MPX_LOG_LEVEL") or "INFO", os.environ.get("MPX_LOG_FORMAT"))


app.add_typer(db_cmd.app, name="db")
app.add_typer(alerts_cmd.app, name="alerts")
app.add_typer(intents_cmd.app, name="intents")
app.add_typer(config_cmd.app, name="config")
app.add_typer(markets_cmd.app, name="markets")
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(synonyms_cmd.app, name="synonyms")
app.command("seed")(seed_cmd.seed)
app.command("ingest")(ingest_cmd.ingest)
app.command("evaluate")(evaluate_cmd.evaluate)
app.command("signals")(signals_cmd.signals)
app.command("opportunities")(opportunities_cmd.opportunities)
app.command("run")(health_cmd.run)
app.command("runs")(runs_cmd.runs)
app.command("health")(health_cmd.health)
app.command("metrics")(health_cmd.metrics)
app.command("kpi")(kpi_cmd.kpi)
app.command("backtest")(backtest_cmd.backtest)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app and map errors to exit codes."""
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
