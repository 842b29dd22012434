"""``mpx db up | down | status | migrate``: the embedded local cluster and the schema."""

from __future__ import annotations

import typer

from mpx.adapters.db import migrate as migrations
from mpx.adapters.db import timescale
from mpx.adapters.db.connection import connect, resolve_target
from mpx.cli.common import FormatOption, OutputFormat, render, render_mapping, settings
from mpx.errors import UnavailableError
from mpx.jobs.contract import Job, run_job
from mpx.jobs.migrate import load_migrations, run_migrate

app = typer.Typer(help="Start, stop, inspect and migrate the database.", no_args_is_help=True)


@app.command("up")
def up() -> None:
    """Start the project-local PostgreSQL cluster (creating it under MPX_PG_DIR on first use).

    Unix socket only, no TCP port. Run as root, the server runs as the `postgres` OS user.
    Where TimescaleDB is installed into these PostgreSQL binaries, the cluster preloads it (then
    `mpx db migrate` makes `tick` a hypertable). With MPX_DATABASE_URL or POSTGRES_HOST set there is
    nothing to start.
    """
    s = settings()
    target = resolve_target(s)
    if target.local is None:
        typer.echo(f"using an external server ({target.description}); nothing to start")
        return
    cluster = target.local
    created = cluster.init()
    started = cluster.start()
    cluster.ensure_database(s.postgres_db)
    state = "created and started" if created else ("started" if started else "already running")
    with connect(s, autocommit=True, target=target) as conn:
        ts = migrations.timescaledb_state(conn)
    flavour = {"active": "TimescaleDB active", "preloaded": "TimescaleDB preloaded",
               "not preloaded": "TimescaleDB installed but not loaded: `mpx db down && mpx db up` to load it",
               "not installed": "plain PostgreSQL"}[ts]
    typer.echo(f"local cluster {state}: {cluster.data_dir} (socket {cluster.socket_dir}; {flavour})")


@app.command("down")
def down() -> None:
    """Stop the project-local PostgreSQL cluster (its data stays)."""
    target = resolve_target(settings())
    if target.local is None:
        typer.echo(f"using an external server ({target.description}); nothing to stop")
        return
    stopped = target.local.stop()
    typer.echo(f"local cluster {'stopped' if stopped else 'was not running'}: {target.local.data_dir}")


@app.command("status")
def status(fmt: FormatOption = OutputFormat.table) -> None:
    """Server version, data directory, migrations and whether TimescaleDB is active.

    Exits 75 when the database cannot be reached.
    """
    s = settings()
    target = resolve_target(s)
    if target.local is not None and not target.local.is_running():
        raise UnavailableError(f"local cluster at {target.local.data_dir} is not running", hint="run `mpx db up`")
    files = migrations.discover(s.mpx_sql_dir)
    with connect(s, autocommit=True, target=target) as conn:
        version, data_dir = migrations.server_info(conn)
        ts = migrations.extensions(conn).get("timescaledb")
        state = migrations.timescaledb_state(conn)
        storage = timescale.summary(conn) if state == "active" else None
        rows = migrations.status(conn, files)
    info = [
        ("server", target.description),
        ("server_version", version),
        ("data_directory", data_dir or "(not visible to this user)"),
        ("timescaledb", {
            "active": f"active ({ts})",
            "preloaded": "preloaded, extension not created yet: run `mpx db migrate`",
            "not preloaded": f"installed but not preloaded (plain PostgreSQL): {migrations.ENABLE_HINT}",
            "not installed": "not installed (plain PostgreSQL)",
        }[state]),
        *([("storage", storage)] if storage else []),
        ("migrations", f"{sum(r.state == 'applied' for r in rows)} applied, "
                       f"{sum(r.state != 'applied' for r in rows)} not applied"),
    ]
    if fmt is OutputFormat.json:
        import json

        typer.echo(json.dumps({**dict(info), "migration_list": [
            {"version": r.version, "name": r.name, "state": r.state, "applied_at": r.applied_at} for r in rows
        ]}, indent=2, default=str))
        return
    render_mapping(info, fmt)
    typer.echo("")
    render([{"version": r.version, "name": r.name, "state": r.state, "applied_at": r.applied_at} for r in rows],
           fmt)


@app.command("migrate")
def migrate() -> None:
    """Apply pending sql/NNN_*.sql migrations (MPX_SQL_DIR) in order, each in its own transaction.

    Refuses to run (exit 78) when an already-applied file has changed. TimescaleDB-only files
    apply only where the extension is active. Runs under the job contract (lock, job_run,
    metrics): exit 75 when another migration runs or the database is unavailable.
    """
    s = settings()
    files = load_migrations(s)
    res = run_job(s, Job.migrate, lambda ctx: run_migrate(ctx, files), bootstrap=True)
    if res.applied:
        typer.echo("applied: " + ", ".join(res.applied))
    else:
        typer.echo("schema up to date")
    for r in res.waiting:
        typer.echo(f"not applied: {r.name} ({r.state})")
