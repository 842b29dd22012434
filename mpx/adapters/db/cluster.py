"""The embedded default: a project-local PostgreSQL cluster from the machine's own binaries.

Unix socket only (``listen_addresses=''``), so there is no TCP port to collide with; the socket
lives in the data directory. PostgreSQL refuses to run as root, so when invoked as root every
server command runs as the ``postgres`` OS user (``runuser``) and the data directory belongs to it.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mpx.errors import SetupError, UnavailableError
from mpx.log import get_logger

log = get_logger(__name__)

SUPERUSER = "mpx"
PORT = 5432
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; leave room for ".s.PGSQL.5432"

INSTALL_HINT = (
    "install the PostgreSQL server binaries (Debian/Ubuntu: `apt-get install postgresql`), put their "
    "bin directory on PATH or in MPX_PG_BIN, or point mpx at an existing server with MPX_DATABASE_URL "
    "(or POSTGRES_HOST/POSTGRES_PORT/POSTGRES_DB/POSTGRES_USER/POSTGRES_PASSWORD)"
)


SEARCH_PATTERNS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin")


def find_bindir(patterns: tuple[str, ...] = SEARCH_PATTERNS) -> Path:
    """The directory holding ``initdb``/``pg_ctl``/``postgres``: MPX_PG_BIN, PATH, or the usual
    package layouts (newest version first)."""
    env = os.environ.get("MPX_PG_BIN")
    candidates: list[Path] = []
    if env:
        candidates.append(Path(env))
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for pattern in patterns:
        found = sorted(glob.glob(pattern), key=_version_key, reverse=True)
        candidates.extend(Path(p) for p in found)
    for c in candidates:
        if all((c / b).exists() for b in ("initdb", "pg_ctl", "postgres")):
            return c
    raise SetupError("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found", hint=INSTALL_HINT)


def timescaledb_installed(bindir: Path | None = None) -> bool:
    """TimescaleDB is installed into these PostgreSQL binaries' directories (its library in
    ``pg_config --pkglibdir`` and its control file in ``--sharedir``/extension)."""
    try:
        bindir = bindir or find_bindir()
    except SetupError:
        return False
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        out = subprocess.run([str(pg_config), "--pkglibdir", "--sharedir"], capture_output=True, text=True,
                             check=False).stdout.split()
        if len(out) == 2:
            return (Path(out[0]) / "timescaledb.so").exists() and \
                (Path(out[1]) / "extension" / "timescaledb.control").exists()
    # Debian's layout without pg_config: /usr/lib/postgresql/15/{bin,lib}, /usr/share/postgresql/15
    major = bindir.parent.name
    return (bindir.parent / "lib" / "timescaledb.so").exists() and \
        Path(f"/usr/share/postgresql/{major}/extension/timescaledb.control").exists()


TESTED_TIMESCALEDB = "2.22.1"
"""The TimescaleDB release the test lane runs (``compose.yaml`` pins its image to it)."""

TIMESCALEDB_OPTIONS = {"shared_preload_libraries": "'timescaledb'", "timescaledb.telemetry_level": "off"}
"""What a cluster needs to load TimescaleDB (telemetry off: nothing leaves the machine)."""


def _version_key(path: str) -> tuple[int, ...]:
    digits = "".join(ch if ch.isdigit() else " " for ch in path).split()
    return tuple(int(d) for d in digits)


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _postgres_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise SetupError(
            "running as root, but there is no `postgres` OS user to run the server as",
            hint="create it (`useradd --system postgres`), run mpx as a non-root user, or " + INSTALL_HINT,
        ) from None


@dataclass
class LocalCluster:
    configured_dir: Path
    server_options: dict[str, str] = field(default_factory=dict)
    timescaledb: bool | None = None
    """Preload TimescaleDB: ``None`` whenever it is installed, ``True`` always, ``False`` never."""

    def __post_init__(self) -> None:
        self.configured_dir = self.configured_dir.expanduser().absolute()
        self.data_dir = self._effective_dir(self.configured_dir)

    # --- where things are
    @staticmethod
    def _effective_dir(wanted: Path) -> Path:
        """``wanted``, unless the server user could not reach it or its socket path is too long:
        then a stable directory under /var/tmp derived from it (logged)."""
        too_long = len(str(wanted / f".s.PGSQL.{PORT}")) > _SOCKET_PATH_MAX
        unreachable = _running_as_root() and not _reachable_by_postgres(wanted)
        if not (too_long or unreachable):
            return wanted
        digest = hashlib.sha1(str(wanted).encode()).hexdigest()[:12]
        alt = Path("/var/tmp") / f"mpx-pg-{digest}"
        reason = "socket path too long" if too_long else "not reachable by the postgres OS user"
        log.warning("local cluster directory moved", extra={"wanted": str(wanted), "using": str(alt),
                                                              "reason": reason})
        return alt

    @property
    def socket_dir(self) -> Path:
        return self.data_dir

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def conninfo(self, dbname: str = "mpx") -> str:
        return f"host={self.socket_dir} port={PORT} dbname={dbname} user={SUPERUSER}"

    # --- commands
    def _run(self, args: Sequence[str | Path], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if _running_as_root():
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise SetupError(f"{Path(args[0]).name} failed: {' | '.join(tail)}",
                             hint=f"see {self.log_file}" if self.log_file.exists() else None)
        return proc

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.initialized:
            return False
        bindir = find_bindir()
        return self._run([bindir / "pg_ctl", "status", "-D", self.data_dir], check=False).returncode == 0

    def init(self) -> bool:
        """Create the cluster if needed. Returns True when it was created now."""
        if self.initialized:
            return False
        bindir = find_bindir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _running_as_root():
            pg = _postgres_user()
            os.chown(self.data_dir, pg.pw_uid, pg.pw_gid)
        os.chmod(self.data_dir, 0o700)
        self._run([bindir / "initdb", "-D", self.data_dir, "-U", SUPERUSER, "--auth=trust",
                   "-E", "UTF8", "--no-locale", "--no-instructions"])
        return True

    def start(self) -> bool:
        """Start the server (initialising it first). Returns True when it was started now."""
        self.init()
        if self.is_running():
            return False
        bindir = find_bindir()
        opts = {"listen_addresses": "''", "unix_socket_directories": f"'{self.socket_dir}'",
                "port": str(PORT), **self.server_options}
        if self.timescaledb or (self.timescaledb is None and timescaledb_installed(bindir)):
            opts.update(TIMESCALEDB_OPTIONS)
        optstr = " ".join(f"-c {k}={v}" for k, v in opts.items())
        self._run([bindir / "pg_ctl", "start", "-D", self.data_dir, "-l", self.log_file,
                   "-w", "-t", "60", "-o", optstr])
        return True

    def stop(self) -> bool:
        if not self.is_running():
            return False
        bindir = find_bindir()
        self._run([bindir / "pg_ctl", "stop", "-D", self.data_dir, "-m", "fast", "-w", "-t", "60"])
        return True

    def ensure_database(self, dbname: str = "mpx") -> None:
        import psycopg
        from psycopg import sql

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.conninfo("postgres"), autocommit=True, connect_timeout=5) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
                    if not exists:
                        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise UnavailableError(
                        f"the local cluster in {self.data_dir} is running but does not answer on its socket: {exc}",
                        hint="restart it: `mpx db down && mpx db up`") from None
                time.sleep(0.2)


def _reachable_by_postgres(path: Path) -> bool:
    """Can the postgres OS user traverse every existing ancestor of ``path``?"""
    try:
        pg = _postgres_user()
    except SetupError:
        return True  # reported later, when we try to run anything
    probe = path
    while not probe.exists():
        probe = probe.parent
    for p in [probe, *probe.parents]:
        st = p.stat()
        if st.st_uid == pg.pw_uid:
            mode_bit = 0o100
        elif st.st_gid == pg.pw_gid:
            mode_bit = 0o010
        else:
            mode_bit = 0o001
        if not st.st_mode & mode_bit:
            return False
    return True
