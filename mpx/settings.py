"""Settings from the environment and ``.env``, validated once with every error reported at once.

Names are the original design's (``POSTGRES_*``, ``TELEGRAM_*``, ``EXEC_*``, …); ``.env.example``
documents each. ``load_settings()`` raises :class:`ConfigError` (exit 78) listing every bad key.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mpx.domain.durations import Duration
from mpx.errors import ConfigError
from mpx.log import LogFormat, register_secret

SECRET_MASK = "********"
_CHECKOUT_SQL = Path(__file__).resolve().parents[1] / "sql"
SQL_DIR = _CHECKOUT_SQL if _CHECKOUT_SQL.is_dir() else Path("sql")
"""The migrations: ``sql/`` of the checkout ``mpx`` runs from, else ``./sql`` (an installed package,
as in the container: ``/opt/mpx/sql``). ``MPX_SQL_DIR`` overrides it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
        validate_default=True,
    )

    # --- database: one URL, or the POSTGRES_* parts, or (neither) the embedded local cluster
    mpx_database_url: SecretStr | None = Field(None, description="libpq URL or conninfo; wins over POSTGRES_*")
    postgres_host: str | None = Field(None, description="server host or socket directory")
    postgres_port: int = Field(5432, ge=1, le=65535, description="server port")
    postgres_db: str = Field("mpx", min_length=1, description="database name")
    postgres_user: str = Field("mpx", min_length=1, description="database user")
    postgres_password: SecretStr | None = Field(None, description="database password")
    mpx_pg_dir: Path = Field(Path(".mpx/pg"), description="data directory of the embedded local cluster")
    mpx_db_connect_timeout: int = Field(5, ge=1, le=300, description="seconds to wait for a connection")
    mpx_sql_dir: Path = Field(SQL_DIR, description="directory of the sql/NNN_*.sql migrations")

    # --- data source
    data_source: str = Field("mock", description="where books come from: a source, or a comma list of sources of "
                             "different venues (e.g. real,kalshi); each ingests under its own lock")
    mpx_mock_seed: int = Field(42, description="seed of the simulated universe")
    mpx_mock_latency_ms: int = Field(0, ge=0, le=60_000, description="simulated network latency of the mock source")
    mpx_book_depth: int = Field(10, ge=1, le=50, description="order-book levels stored per side in each tick")
    mpx_gamma_url: str = Field("https://gamma-api.polymarket.com", description="Gamma API base URL")
    mpx_clob_url: str = Field("https://clob.polymarket.com", description="CLOB API base URL")
    mpx_replay_dir: Path | None = Field(None, description="recorded responses for DATA_SOURCE=replay")
    mpx_metadata_ttl: Duration = Field(timedelta(minutes=5), description="refresh events/markets when older")
    mpx_pass_deadline: Duration = Field(timedelta(seconds=60), description="deadline of one fetch pass")
    mpx_http_concurrency: int = Field(8, ge=1, le=64, description="requests in flight at once")
    mpx_http_timeout: float = Field(10.0, gt=0, le=300, description="seconds per request")
    mpx_http_retries: int = Field(3, ge=0, le=10, description="retries on 429/5xx/timeouts/connection errors")
    mpx_books_batch: int = Field(100, ge=1, le=500, description="tokens per POST /books request")
    mpx_gamma_page_size: int = Field(100, ge=1, le=500,
                                     description="events per Gamma /events/keyset (or fallback /events) page")

    # --- live stream (mpx stream)
    mpx_ws_url: str = Field("wss://ws-subscriptions-clob.polymarket.com/ws/market",
                            description="CLOB websocket market channel")
    mpx_ws_assets_per_conn: int = Field(500, ge=1, le=5000, description="assets subscribed on one websocket")
    mpx_ws_ping: Duration = Field(timedelta(seconds=10), description="send PING this often on each websocket")
    mpx_ws_stale: Duration = Field(
        timedelta(seconds=30), description="reconnect a websocket with no data (or no PONG) for this long")
    mpx_ws_connect_timeout: Duration = Field(timedelta(seconds=10), description="websocket opening handshake limit")
    mpx_stream_flush: Duration = Field(timedelta(seconds=1), description="write the changed books this often")
    mpx_stream_max_age: Duration = Field(
        timedelta(minutes=2), description="health: the last stream pass within (once a stream has run)")

    # --- tick archive (mpx archive, mpx export, backtests over archived days)
    mpx_archive_dir: str = Field(".mpx/archive", description="where mpx archive writes the Parquet days "
                                 "(day=YYYY-MM-DD/part-0.parquet) and readers find them")
    mpx_archive_after: Duration = Field(
        timedelta(days=2), description="mpx archive moves whole UTC days of ticks older than this to Parquet")

    # --- rules
    mpx_rules_dir: Path = Field(Path("rules"), description="directory of rules/*.yaml")
    mpx_synonyms_file: Path = Field(Path("synonyms.yml"), description="synonym groups file")
    mpx_max_book_age: Duration = Field(timedelta(minutes=2), description="rules ignore books not observed for longer")
    mpx_max_cross_venue_skew: Duration = Field(
        timedelta(seconds=30), description="CROSS_VENUE: both books observed within this of each other")
    mpx_pair_max_date_gap: Duration = Field(
        timedelta(days=3), description="mpx pairs propose: close times of the two markets at most this far apart")
    mpx_episode_improve_bps: Decimal = Field(
        Decimal(25), ge=0, description="an open opportunity alerts again when its edge grows by this much")

    # --- alerts
    mpx_notifier: str = Field("telegram", description="the channel alerts go to (mpx/adapters/notify/)")
    telegram_enabled: bool = Field(False, description="send alerts to Telegram (otherwise dry-run)")
    telegram_bot_token: SecretStr | None = Field(None, description="bot token (secret)")
    telegram_chat_id: str | None = Field(None, description="chat to alert")
    telegram_api_url: str = Field("https://api.telegram.org/bot", description="Bot API base URL")
    telegram_allowed_users: str = Field(
        "", description="Telegram user ids (comma-separated) whose button taps act (`mpx telegram poll`); empty: none")
    mpx_metrics_textfile: Path | None = Field(None, description="also write each job's metrics here (node_exporter)")
    mpx_heartbeat_max_age: Duration = Field(timedelta(seconds=30), description="health: last good evaluate within")
    mpx_ingest_max_age: Duration = Field(timedelta(minutes=2), description="health: the last ingest pass within")
    mpx_alert_min_level: Literal["P1", "P2", "P3"] = Field("P2", description="alert signals of this level and above")
    mpx_alert_cooldown: Duration = Field(timedelta(minutes=10), description="at most one alert per signature within")

    # --- execution and risk
    exec_mode: Literal["paper", "live"] = Field("paper", description="execution adapter")
    exec_max_notional_per_order: Decimal = Field(Decimal("100"), gt=0, description="USDC per order intent")
    exec_max_concurrent_orders: int = Field(3, ge=1, description="open intents at once")
    exec_max_daily_notional: Decimal = Field(Decimal("1000"), gt=0, description="USDC per UTC day")
    exec_slippage_bps: int = Field(50, ge=0, le=10_000, description="allowed re-pricing slippage")
    exec_min_edge_bps: Decimal = Field(
        Decimal(100), ge=0, le=10_000,
        description="the edge left with every leg at its limit must be at least this (bps of the worst-case cost)")
    exec_max_unwind_loss: Decimal = Field(
        Decimal(5), gt=0, description="USDC an unwind may lose selling back the legs that filled before one was killed")
    exec_max_book_age: Duration = Field(timedelta(minutes=2), description="confirm refuses books observed longer ago")
    exec_breaker_max_failures: int = Field(3, ge=1, le=1000, description="consecutive rejections/failures that open it")
    exec_breaker_max_loss: Decimal = Field(Decimal("50"), gt=0, description="realised loss (USDC) within the window")
    exec_breaker_window: Duration = Field(timedelta(hours=24), description="window of the loss limit")
    exec_breaker_cooldown: Duration = Field(timedelta(minutes=30), description="how long an opened breaker stays open")
    exec_confirm_ttl: Duration = Field(timedelta(minutes=2),
                                       description="a Telegram button older than this has expired (one-tap)")
    exec_max_daily_loss: Decimal = Field(
        Decimal("50"), gt=0, description="realised loss (USDC) per UTC day that opens the breaker until the next day")
    exec_rule_max_daily_notional: Decimal = Field(
        Decimal("1000"), gt=0, description="USDC per UTC day reserved by the intents of one rule (strategy level)")
    exec_rule_max_open_intents: int = Field(3, ge=1, description="open intents of one rule at once (strategy level)")
    exec_max_exposure: Decimal = Field(
        Decimal("1000"), gt=0, description="USDC across every open intent (sent, filled, unwinding) (account level)")
    exec_paper_balance: Decimal = Field(
        Decimal("10000"), ge=0, description="the paper venue's starting USDC balance (account level, paper mode)")
    exec_reconcile_grace: Duration = Field(
        timedelta(minutes=5), description="a live intent still `sent` this long after its confirm died: reconcile "
        "looks for its trades")
    exec_canary: bool = Field(
        False, description="send the first intent of a UTC day, and the first after a policy change, at minimum size")

    # --- metrics and logs
    pushgateway_url: str | None = Field(None, description="Prometheus Pushgateway base URL")
    mpx_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="stderr log level")
    mpx_log_format: LogFormat = Field(
        "auto", description="stderr logs: text (for people), json (for machines), auto: text on a terminal")

    # --- live execution (EXEC_MODE=live, Polymarket CLOB V2 at MPX_CLOB_URL)
    exec_key_file: Path | None = Field(
        None, description="file (mode 0600, yours) with the wallet private_key and optional API creds/funder")
    exec_chain_id: int = Field(137, description="chain the orders are signed for (137 = Polygon)")

    @field_validator("mpx_log_level", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v

    @field_validator("mpx_log_format", "mpx_notifier", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("mpx_notifier")
    @classmethod
    def _known_notifier(cls, v: str) -> str:
        from mpx.adapters.notify import NOTIFIERS  # the registry imports no channel until one is chosen

        if v not in NOTIFIERS:
            raise ValueError(f"must be one of: {', '.join(sorted(NOTIFIERS))}")
        return v

    @field_validator(
        "postgres_host", "telegram_chat_id", "pushgateway_url", "mpx_database_url",
        "telegram_bot_token", "postgres_password", "mpx_replay_dir", "mpx_metrics_textfile", "exec_key_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("telegram_allowed_users")
    @classmethod
    def _user_ids(cls, v: str) -> str:
        ids = [p.strip() for p in v.replace(";", ",").split(",") if p.strip()]
        bad = [p for p in ids if not p.lstrip("-").isdigit()]
        if bad:
            raise ValueError(f"must be numeric Telegram user ids separated by commas, not {', '.join(bad)}")
        return ",".join(ids)

    @property
    def allowed_telegram_users(self) -> frozenset[int]:
        """TELEGRAM_ALLOWED_USERS as ids (empty: nobody may act through the buttons)."""
        return frozenset(int(p) for p in self.telegram_allowed_users.split(",") if p)

    @field_validator("exec_max_unwind_loss")
    @classmethod
    def _unwind_within_order(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        per_order = info.data.get("exec_max_notional_per_order")
        if per_order is not None and v > per_order:
            raise ValueError(f"must not exceed EXEC_MAX_NOTIONAL_PER_ORDER ({per_order}): a cap above what an "
                             "order can spend would let an unwind sell at any price")
        return v

    @field_validator("data_source", mode="before")
    @classmethod
    def _sources(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        from mpx.adapters.sources import SOURCES, canonical  # the registry imports no source until one is made

        names = [canonical(p.strip().lower()) for p in v.split(",") if p.strip()]
        if not names:
            raise ValueError(f"name at least one source: {', '.join(SOURCES)}")
        unknown = [n for n in names if n not in SOURCES]
        if unknown:
            raise ValueError(f"no such source {', '.join(unknown)}; one or more (comma-separated) of: "
                             f"{', '.join(SOURCES)}")
        by_venue: dict[str, list[str]] = {}
        for n in dict.fromkeys(names):
            by_venue.setdefault(SOURCES[n].venue, []).append(n)
        clash = {venue: ns for venue, ns in by_venue.items() if len(ns) > 1}
        if clash:
            venue, ns = next(iter(clash.items()))
            raise ValueError(f"{' and '.join(ns)} both produce {venue} markets: name one source per venue")
        return ",".join(dict.fromkeys(names))

    @property
    def source_names(self) -> list[str]:
        """The configured sources (``polymarket`` read as ``real``), one per venue, in order."""
        return self.data_source.split(",")

    @property
    def source_name(self) -> str:
        """The first configured source (the one `mpx seed` and `--record` work with)."""
        return self.source_names[0]

    def redacted(self) -> dict[str, Any]:
        """The effective settings as ``ENV_NAME -> value`` with every secret masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "mpx_database_url" and value is not None:
                value = redact_conninfo(value.get_secret_value())
            elif isinstance(value, SecretStr):
                value = SECRET_MASK
            elif isinstance(value, Path | Decimal | timedelta):
                value = str(value)
            out[name.upper()] = value
        return out


def redact_conninfo(conninfo: str) -> str:
    """Mask the password of a libpq URL or ``key=value`` conninfo string."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = conninfo_to_dict(conninfo)
    except Exception:
        return SECRET_MASK
    if "password" in params:
        params["password"] = SECRET_MASK
    if conninfo.startswith(("postgres://", "postgresql://")):
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(conninfo)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", f":{SECRET_MASK}@")
            return urlunsplit(parts._replace(netloc=netloc))
        return conninfo
    return make_conninfo(**{k: str(v) for k, v in params.items()})


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read and validate the settings; raise ConfigError naming every bad key."""
    try:
        settings = Settings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]).upper() or "?"
            raw = os.environ.get(key)
            shown = "" if raw is None or _is_secret(key) else f" (got {raw!r})"
            problems.append(f"{key}: {err['msg']}{shown}")
        raise ConfigError(
            f"invalid settings: {len(problems)} problem(s)",
            problems,
            hint="fix the environment or .env; every key is documented in .env.example",
        ) from None
    for secret in (settings.telegram_bot_token, settings.postgres_password):
        if secret is not None:
            register_secret(secret.get_secret_value())
    return settings


def _is_secret(key: str) -> bool:
    return key in {"TELEGRAM_BOT_TOKEN", "POSTGRES_PASSWORD", "MPX_DATABASE_URL"}
