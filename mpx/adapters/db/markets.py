"""Events, markets and outcomes: upserts from a snapshot, and loading them back as domain objects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mpx.domain.models import Event, FeeSchedule, Market, Outcome
from mpx.errors import DataError

_EVENT_COLS = ("id", "title", "neg_risk", "neg_risk_augmented", "end_date", "category", "listed_markets", "dropped",
               "slug", "venue")
_MARKET_COLS = (
    "id", "event_id", "slug", "question", "end_date", "status", "active", "accepting_orders", "category",
    "neg_risk", "neg_risk_other", "fees_enabled", "fee_rate", "fee_exponent", "tick_size", "min_order_size",
    "liquidity", "description", "resolution_source", "protocol_version", "fee_type", "fee_taker_only",
    "fee_rebate_rate", "venue", "fee_quantum", "fee_round_up",
)


def _upsert_sql(table: str, cols: Sequence[str], key: str) -> str:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != key)
    changed = " OR ".join(f"{table}.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in cols if c != key)
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}, updated_at = now() WHERE {changed}"
    )


def upsert_metadata(conn: psycopg.Connection, events: Iterable[Event], markets: Iterable[Market]) -> int:
    """Insert or update events, markets and their outcomes; rows that did not change are not touched.
    Returns the number of markets given."""
    ev_rows = [(e.id, e.title, e.neg_risk, e.neg_risk_augmented, e.end_date, e.category, e.listed_markets,
                list(e.dropped), e.slug, e.venue) for e in events]
    mk_rows: list[tuple[Any, ...]] = []
    oc_rows: list[tuple[Any, ...]] = []
    for m in markets:
        mk_rows.append((
            m.id, m.event_id, m.slug, m.question, m.end_date, m.status, m.active, m.accepting_orders,
            m.category, m.neg_risk, m.neg_risk_other, m.fee.enabled, m.fee.rate, m.fee.exponent,
            m.tick_size, m.min_order_size, m.liquidity, m.description, m.resolution_source,
            m.version, m.fee.fee_type, m.fee.taker_only, m.fee.rebate_rate, m.venue, m.fee.quantum,
            m.fee.round_up,
        ))
        oc_rows.extend((o.token_id, m.id, o.label, o.index, o.settle_price) for o in m.outcomes)
    _refuse_venue_clash(conn, "event", [(e.id, e.venue) for e in events])
    _refuse_venue_clash(conn, "market", [(r[0], r[_MARKET_COLS.index("venue")]) for r in mk_rows])
    with conn.cursor() as cur:
        if ev_rows:
            cur.executemany(_upsert_sql("event", _EVENT_COLS, "id"), ev_rows)
        if mk_rows:
            cur.executemany(_upsert_sql("market", _MARKET_COLS, "id"), mk_rows)
        if oc_rows:
            cur.executemany(
                """INSERT INTO outcome (token_id, market_id, label, idx, settle_price) VALUES (%s, %s, %s, %s, %s)
                   ON CONFLICT (token_id) DO UPDATE SET market_id = EXCLUDED.market_id,
                       label = EXCLUDED.label, idx = EXCLUDED.idx, settle_price = EXCLUDED.settle_price
                   WHERE (outcome.market_id, outcome.label, outcome.idx, outcome.settle_price)
                         IS DISTINCT FROM (EXCLUDED.market_id, EXCLUDED.label, EXCLUDED.idx,
                                           EXCLUDED.settle_price)""",
                oc_rows,
            )
    return len(mk_rows)


def _refuse_venue_clash(conn: psycopg.Connection, table: str, ids: Sequence[tuple[str, str]]) -> None:
    """A venue's id already stored for another venue is never overwritten: the pass fails with both
    venues named (ids of different venues have different shapes; a clash is a bug or a bad source)."""
    if not ids:
        return
    clash = conn.execute(
        f"""SELECT t.id, t.venue, n.venue FROM {table} t
            JOIN unnest(%s::text[], %s::text[]) AS n(id, venue) ON n.id = t.id
            WHERE t.venue <> n.venue LIMIT 3""",
        ([i for i, _ in ids], [v for _, v in ids]),
    ).fetchall()
    if clash:
        shown = "; ".join(f"{i} is {old}'s, not {new}'s" for i, old, new in clash)
        raise DataError(f"{table} id(s) already stored for another venue: {shown}",
                        hint="ids are per venue; the source sent an id another venue owns — nothing was written")


def active_tokens(conn: psycopg.Connection, venue: str | None = None) -> list[str]:
    """Tokens of stored markets open for trading (of one venue, or all), in a stable order (the
    books to fetch)."""
    rows = conn.execute(
        """SELECT o.token_id FROM outcome o JOIN market m ON m.id = o.market_id
           WHERE m.status = 'active' AND m.active AND m.accepting_orders
             AND (%(v)s::text IS NULL OR m.venue = %(v)s)
           ORDER BY o.market_id, o.idx""", {"v": venue}
    ).fetchall()
    return [r[0] for r in rows]


def token_markets(conn: psycopg.Connection, venue: str | None = None) -> dict[str, str]:
    """token id → market id for every known outcome (of one venue, or all; closed markets' books are
    stored too; the rules skip markets that are not tradable)."""
    if venue is None:
        return dict(conn.execute("SELECT token_id, market_id FROM outcome").fetchall())
    return dict(conn.execute(
        "SELECT o.token_id, o.market_id FROM outcome o JOIN market m ON m.id = o.market_id WHERE m.venue = %s",
        (venue,)).fetchall())


def load_reference(conn: psycopg.Connection) -> tuple[dict[str, Market], dict[str, Event]]:
    """Every market (with outcomes) and event, as domain objects."""
    cur = conn.cursor(row_factory=dict_row)
    outcomes: dict[str, list[Outcome]] = {}
    for r in cur.execute("SELECT token_id, market_id, label, idx, settle_price FROM outcome ORDER BY market_id, idx"):
        outcomes.setdefault(r["market_id"], []).append(
            Outcome(r["token_id"], r["market_id"], r["label"], r["idx"], r["settle_price"]))
    markets: dict[str, Market] = {}
    event_markets: dict[str, list[str]] = {}
    for r in cur.execute(f"SELECT {', '.join(_MARKET_COLS)} FROM market ORDER BY id"):
        markets[r["id"]] = _market(r, tuple(outcomes.get(r["id"], ())))
        if r["event_id"]:
            event_markets.setdefault(r["event_id"], []).append(r["id"])
    events: dict[str, Event] = {}
    for r in cur.execute(f"SELECT {', '.join(_EVENT_COLS)} FROM event ORDER BY id"):
        events[r["id"]] = Event(
            id=r["id"], title=r["title"], market_ids=tuple(event_markets.get(r["id"], ())),
            neg_risk=r["neg_risk"], neg_risk_augmented=r["neg_risk_augmented"], end_date=r["end_date"],
            category=r["category"], listed_markets=r["listed_markets"], dropped=tuple(r["dropped"] or ()),
            slug=r["slug"], venue=r["venue"],
        )
    return markets, events


def load_markets(conn: psycopg.Connection, market_ids: Sequence[str]) -> dict[str, Market]:
    """The given markets (with outcomes) as domain objects; unknown ids are left out."""
    cur = conn.cursor(row_factory=dict_row)
    ids = list(set(market_ids))
    outcomes: dict[str, list[Outcome]] = {}
    for r in cur.execute("SELECT token_id, market_id, label, idx, settle_price FROM outcome "
                         "WHERE market_id = ANY(%s) ORDER BY market_id, idx", (ids,)):
        outcomes.setdefault(r["market_id"], []).append(
            Outcome(r["token_id"], r["market_id"], r["label"], r["idx"], r["settle_price"]))
    return {r["id"]: _market(r, tuple(outcomes.get(r["id"], ())))
            for r in cur.execute(f"SELECT {', '.join(_MARKET_COLS)} FROM market WHERE id = ANY(%s)", (ids,))}


def load_event(conn: psycopg.Connection, event_id: str) -> tuple[Event, dict[str, Market]] | None:
    """One event with its stored markets (with outcomes), as domain objects; ``None`` if unknown."""
    cur = conn.cursor(row_factory=dict_row)
    r = cur.execute(f"SELECT {', '.join(_EVENT_COLS)} FROM event WHERE id = %s", (event_id,)).fetchone()
    if r is None:
        return None
    ids = [row[0] for row in conn.execute("SELECT id FROM market WHERE event_id = %s ORDER BY id", (event_id,))]
    event = Event(id=r["id"], title=r["title"], market_ids=tuple(ids), neg_risk=r["neg_risk"],
                  neg_risk_augmented=r["neg_risk_augmented"], end_date=r["end_date"], category=r["category"],
                  listed_markets=r["listed_markets"], dropped=tuple(r["dropped"] or ()), slug=r["slug"],
                  venue=r["venue"])
    return event, load_markets(conn, ids)


def _market(r: dict[str, Any], outcomes: tuple[Outcome, ...]) -> Market:
    return Market(
        id=r["id"], question=r["question"], outcomes=outcomes, event_id=r["event_id"], slug=r["slug"],
        end_date=r["end_date"], status=r["status"], accepting_orders=r["accepting_orders"], active=r["active"],
        fee=FeeSchedule(enabled=r["fees_enabled"], rate=r["fee_rate"], exponent=r["fee_exponent"],
                        taker_only=r["fee_taker_only"], rebate_rate=r["fee_rebate_rate"], fee_type=r["fee_type"],
                        quantum=r["fee_quantum"], round_up=r["fee_round_up"]),
        tick_size=r["tick_size"], min_order_size=r["min_order_size"], category=r["category"],
        neg_risk=r["neg_risk"], neg_risk_other=r["neg_risk_other"], liquidity=r["liquidity"],
        description=r["description"], resolution_source=r["resolution_source"], version=r["protocol_version"],
        venue=r["venue"],
    )


# How an outcome's book stands, for display: a missing or one-sided book is shown as such, never
# filled in. "missing": tradable but not fetched in the latest pass (or never); "no book": the
# market is closed, resolved or not accepting orders, so there is nothing to fetch.
BOOK_STATE_SQL = """CASE
    WHEN NOT (m.active AND m.status = 'active' AND m.accepting_orders) THEN 'no book'
    WHEN t.ts IS NULL OR o.token_id = ANY(lp.missing) THEN 'missing'
    WHEN cardinality(t.bid_px) = 0 AND cardinality(t.ask_px) = 0 THEN 'empty'
    WHEN cardinality(t.bid_px) = 0 THEN 'no bids'
    WHEN cardinality(t.ask_px) = 0 THEN 'no asks'
    ELSE 'ok' END"""
LAST_PASS_SQL = ("LEFT JOIN LATERAL (SELECT missing FROM ingest_pass WHERE ingest_pass.venue = m.venue "
                 "ORDER BY ts DESC LIMIT 1) lp ON true")
"""The market's venue's latest pass (whose ``missing`` says which of its books were not seen)."""


def list_markets(
    conn: psycopg.Connection, *, status: str | None = None, search: str | None = None, venue: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Markets with their YES token's latest prices, most recently ticked first. ``search`` is text
    in the question (literally: ``%`` and ``_`` are not wildcards), or a market id or slug."""
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        """SELECT m.id, m.question, m.category, m.status, m.end_date, e.title AS event,
                  t.best_bid AS yes_bid, t.best_ask AS yes_ask, t.price AS yes_mid, t.ts AS last_tick,
                  """ + BOOK_STATE_SQL + """ AS book, m.venue
           FROM market m
           LEFT JOIN event e ON e.id = m.event_id
           LEFT JOIN outcome o ON o.market_id = m.id AND o.idx = 0
           LEFT JOIN LATERAL (SELECT ts, best_bid, best_ask, price, bid_px, ask_px FROM tick
                              WHERE tick.token_id = o.token_id ORDER BY ts DESC LIMIT 1) t ON true
           """ + LAST_PASS_SQL + """
           WHERE (%(status)s::text IS NULL OR m.status = %(status)s)
             AND (%(venue)s::text IS NULL OR m.venue = %(venue)s)
             AND (%(search)s::text IS NULL OR m.question ILIKE %(pattern)s ESCAPE '\\'
                  OR m.id = %(search)s OR m.slug = %(search)s)
           ORDER BY t.ts DESC NULLS LAST, m.id
           LIMIT %(limit)s""",
        {"status": status, "search": search, "venue": venue, "limit": limit,
         "pattern": None if search is None else f"%{like_escape(search)}%"},
    ).fetchall()


def like_escape(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (``ESCAPE '\\'``): ``%``, ``_`` and ``\\``
    escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_market(conn: psycopg.Connection, key: str) -> dict[str, Any] | None:
    """A market by condition id, slug, or unique id prefix."""
    cur = conn.cursor(row_factory=dict_row)
    rows = cur.execute(
        """SELECT m.*, e.title AS event_title, e.neg_risk AS event_neg_risk,
                  e.neg_risk_augmented AS event_augmented
           FROM market m LEFT JOIN event e ON e.id = m.event_id
           WHERE m.id = %(k)s OR m.slug = %(k)s OR m.id LIKE %(prefix)s ESCAPE '\\' LIMIT 2""",
        {"k": key, "prefix": like_escape(key) + "%"},
    ).fetchall()
    exact = [r for r in rows if r["id"] == key or r["slug"] == key]
    if exact:
        return exact[0]
    return rows[0] if len(rows) == 1 else None


def market_outcomes(conn: psycopg.Connection, market_id: str, history_points: int = 40) -> list[dict[str, Any]]:
    """The market's outcomes with their latest book top and their recent mids (oldest first)."""
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        """SELECT o.token_id, o.label, o.idx, t.ts, t.price, t.best_bid, t.best_ask, t.bid_size, t.ask_size,
                  t.last_trade, t.bid_px, t.ask_px, """ + BOOK_STATE_SQL + """ AS book,
                  ARRAY(SELECT h.price FROM (SELECT ts, price FROM tick
                                             WHERE token_id = o.token_id ORDER BY ts DESC LIMIT %(n)s) h
                        ORDER BY h.ts) AS history
           FROM outcome o
           JOIN market m ON m.id = o.market_id
           LEFT JOIN LATERAL (SELECT * FROM tick WHERE tick.token_id = o.token_id ORDER BY ts DESC LIMIT 1) t
             ON true
           """ + LAST_PASS_SQL + """
           WHERE o.market_id = %(m)s ORDER BY o.idx""",
        {"m": market_id, "n": history_points},
    ).fetchall()


def count_markets(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM market").fetchone()
    return int(row[0]) if row else 0


def set_tick_size(conn: psycopg.Connection, market_id: str, tick_size: Decimal) -> bool:
    """A market's new price grid (websocket ``tick_size_change``); False: no such market."""
    cur = conn.execute(
        """UPDATE market SET tick_size = %s, updated_at = now() WHERE id = %s AND tick_size IS DISTINCT FROM %s""",
        (tick_size, market_id, tick_size))
    return cur.rowcount > 0


def resolve_market(conn: psycopg.Connection, market_id: str, winning_token: str | None) -> bool:
    """Mark a market resolved (websocket ``market_resolved``): the winning outcome settles at 1, the
    others at 0 (when the winner is one of its outcomes). False: no such market."""
    cur = conn.execute(
        """UPDATE market SET status = 'resolved', accepting_orders = false, updated_at = now()
           WHERE id = %s""", (market_id,))
    if cur.rowcount and winning_token is not None:
        conn.execute(
            """UPDATE outcome SET settle_price = CASE WHEN token_id = %(win)s THEN 1 ELSE 0 END
               WHERE market_id = %(m)s AND EXISTS (SELECT 1 FROM outcome w WHERE w.market_id = %(m)s
                                                   AND w.token_id = %(win)s)""",
            {"win": winning_token, "m": market_id})
    return cur.rowcount > 0
