"""The embedded local cluster: `mpx db up | status | down` on a fresh directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import psycopg
import pytest

from mpx.adapters.db.cluster import LocalCluster, find_bindir
from mpx.errors import SetupError

from helpers import invoke_mpx as run_mpx


def test_db_up_status_down_on_a_fresh_directory() -> None:
    base = Path(tempfile.mkdtemp(prefix="mpx-cluster-test-"))
    base.chmod(0o755)
    env = {"MPX_PG_DIR": str(base / "pg")}
    try:
        up = run_mpx("db", "up", env=env)
        assert up.code == 0, up.stderr
        assert "created and started" in up.stdout
        again = run_mpx("db", "up", env=env)
        assert again.code == 0 and "already running" in again.stdout
        assert run_mpx("db", "migrate", env=env).code == 0
        status = run_mpx("db", "status", env=env)
        assert status.code == 0, status.stderr
        assert str(base / "pg") in status.stdout
        assert "001_core.sql" in status.stdout and "applied" in status.stdout
        # Unix socket only: no TCP listener to collide with
        with psycopg.connect(LocalCluster(base / "pg").conninfo("mpx")) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
    finally:
        down = run_mpx("db", "down", env=env)
    assert down.code == 0 and "stopped" in down.stdout
    after = run_mpx("db", "status", env=env)
    assert after.code == 75 and "not running" in after.stderr


def test_missing_binaries_say_how_to_install_or_use_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("MPX_PG_BIN", raising=False)
    with pytest.raises(SetupError) as err:
        find_bindir(patterns=())
    assert "apt-get install postgresql" in (err.value.hint or "")
    assert "MPX_DATABASE_URL" in (err.value.hint or "")


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root invocation hands the server to the postgres user")
def test_a_directory_the_postgres_user_cannot_reach_moves_to_var_tmp() -> None:
    private = Path(tempfile.mkdtemp(prefix="mpx-private-"))  # 0700, owned by root
    try:
        cluster = LocalCluster(private / "pg")
        assert cluster.data_dir.parent == Path("/var/tmp") and cluster.data_dir.name.startswith("mpx-pg-")
        assert LocalCluster(private / "pg").data_dir == cluster.data_dir  # the same place every time
    finally:
        private.rmdir()


def test_a_socket_path_too_long_for_unix_sockets_moves_to_var_tmp(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 120) / "pg"
    cluster = LocalCluster(deep)
    assert cluster.data_dir.parent == Path("/var/tmp")
    assert len(str(cluster.socket_dir / ".s.PGSQL.5432")) < 108
