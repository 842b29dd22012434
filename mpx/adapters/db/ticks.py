"""Ticks: the COPY write path (skipping unchanged books) and reads of books and price history."""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg

from mpx.adapters.db import state
from mpx.domain.models import Book, Level, PricePoint

TICK_COLUMNS = ("ts", "token_id", "market_id", "last_trade", "bid_px", "bid_sz", "ask_px", "ask_sz", "book_digest")
"""The columns a pass writes; top of book and mid are generated from the levels by PostgreSQL."""
COPY_SQL = f"COPY tick ({', '.join(TICK_COLUMNS)}) FROM STDIN"


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: int
    unchanged: int
    unknown_token: int


def _order_hash(token_ids: Sequence[str]) -> bytes:
    return hashlib.blake2b("\x1f".join(token_ids).encode(), digest_size=16).digest()


def previous_digests(conn: psycopg.Connection, token_ids: Sequence[str], venue: str = "polymarket"
                     ) -> Sequence[int | None]:
    """The digest of each token's latest stored tick, aligned with ``token_ids`` (None: no tick).

    From the packed state of the venue's latest pass when it listed the same tokens in the same order
    (one row); otherwise one index probe per token on ``tick (token_id, ts DESC)``. Each venue keeps
    its own state: its tokens are its own, so another venue's pass does not make it stale.
    """
    row = conn.execute(
        """SELECT s.order_hash, s.digests FROM ingest_digest_state s
           WHERE s.venue = %(v)s AND s.pass_ts = (SELECT max(ts) FROM ingest_pass WHERE venue = %(v)s)""",
        {"v": venue},
    ).fetchone()
    if row is not None and bytes(row[0]) == _order_hash(token_ids):
        packed = array("q")
        packed.frombytes(row[1])
        if sys.byteorder == "big":
            packed.byteswap()
        if len(packed) == len(token_ids):
            return packed
    found: dict[str, int] = dict(conn.execute(
        """SELECT o.token_id, t.book_digest
           FROM unnest(%s::text[]) AS o(token_id)
           CROSS JOIN LATERAL (SELECT book_digest FROM tick WHERE tick.token_id = o.token_id
                               ORDER BY ts DESC LIMIT 1) t""",
        (list(token_ids),),
    ).fetchall())
    return [found.get(t) for t in token_ids]


def save_digests(conn: psycopg.Connection, pass_ts: datetime, token_ids: Sequence[str], digests: array[int],
                 venue: str = "polymarket") -> None:
    if sys.byteorder == "big":
        digests = array("q", digests)
        digests.byteswap()
    conn.execute(
        """INSERT INTO ingest_digest_state (venue, pass_ts, order_hash, digests) VALUES (%s, %s, %s, %s)
           ON CONFLICT (venue) DO UPDATE SET pass_ts = EXCLUDED.pass_ts, order_hash = EXCLUDED.order_hash,
                                             digests = EXCLUDED.digests""",
        (venue, pass_ts, _order_hash(token_ids), digests.tobytes()),
    )


# --- the COPY write path -------------------------------------------------------------------
# Rows go out in COPY's text format, built here rather than with ``Copy.write_row``: psycopg dumps
# arrays element by element in Python, which made these array-heavy rows several times slower
# than the server could take them (bench/ingest_write.py; a binary encoder with a per-value cache
# was slower still, Decimal hashing being the cost). The text of a book's levels is also what its
# change digest is computed from, so a book is formatted once. Lines go out in small chunks as
# they are made, so PostgreSQL parses one chunk while Python formats the next (measured: faster
# than formatting first, and than psycopg's queued writer thread on this 2-core machine).

_CHUNK_ROWS = 100
_NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    """Escape a text field for COPY's text format (ids rarely need it)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value


def _num(value: Decimal | None) -> str:
    return _NULL if value is None else str(value)


def format_levels(book: Book, depth: int) -> tuple[int, str]:
    """(digest, the four level-array fields in COPY text format) of a book's top ``depth`` levels."""
    bids = book.bids[:depth]
    asks = book.asks[:depth]
    levels = (
        "{" + ",".join([str(lv.price) for lv in bids]) + "}\t{" + ",".join([str(lv.size) for lv in bids])
        + "}\t{" + ",".join([str(lv.price) for lv in asks]) + "}\t{" + ",".join([str(lv.size) for lv in asks])
        + "}"
    )
    raw = hashlib.blake2b(f"{levels}|{book.last_trade}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True), levels


def write_ticks(
    conn: psycopg.Connection, ts: datetime, books: Sequence[Book], market_of: Mapping[str, str], depth: int,
    venue: str = "polymarket",
) -> WriteResult:
    """Write one tick per book whose top ``depth`` levels changed since its last stored tick, with COPY.

    Runs inside the caller's transaction: a pass's ticks land together or not at all. ``venue``: whose
    pass this is (the change digests are kept per venue).
    """
    token_ids = [b.token_id for b in books]
    previous = previous_digests(conn, token_ids, venue)
    current = array("q", bytes(8 * len(books)))
    ts_text = ts.isoformat()
    unknown = unchanged = written = 0
    chunk: list[str] = []
    with conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
        for i, book in enumerate(books):
            market_id = market_of.get(book.token_id)
            if market_id is None:
                unknown += 1
                continue
            digest, levels = format_levels(book, depth)
            current[i] = digest
            if previous[i] == digest:
                unchanged += 1
                continue
            chunk.append(
                f"{ts_text}\t{_text(book.token_id)}\t{_text(market_id)}\t{_num(book.last_trade)}\t{levels}\t{digest}\n"
            )
            written += 1
            if len(chunk) >= _CHUNK_ROWS:
                copy.write("".join(chunk))
                chunk.clear()
        if chunk:
            copy.write("".join(chunk))
    save_digests(conn, ts, token_ids, current, venue)
    return WriteResult(written, unchanged, unknown)


def _levels(px: Sequence[Decimal] | None, sz: Sequence[Decimal] | None) -> tuple[Level, ...]:
    if not px or not sz:
        return ()
    return tuple(Level(p, s) for p, s in zip(px, sz, strict=False))


def books_as_of(conn: psycopg.Connection, as_of: datetime, token_ids: Sequence[str] | None = None) -> dict[str, Book]:
    """Each token's latest stored book at or before ``as_of``."""
    sql = """SELECT o.token_id, t.ts, t.last_trade, t.bid_px, t.bid_sz, t.ask_px, t.ask_sz
             FROM {src} AS o(token_id)
             CROSS JOIN LATERAL (SELECT ts, last_trade, bid_px, bid_sz, ask_px, ask_sz FROM tick
                                 WHERE tick.token_id = o.token_id AND tick.ts <= %(as_of)s
                                 ORDER BY ts DESC LIMIT 1) t"""
    if token_ids is None:
        rows = conn.execute(sql.format(src="(SELECT token_id FROM outcome)"), {"as_of": as_of})
    else:
        rows = conn.execute(sql.format(src="unnest(%(tokens)s::text[])"),
                            {"as_of": as_of, "tokens": list(token_ids)})
    return {
        token: Book(token, _levels(bpx, bsz), _levels(apx, asz), ts, last)
        for token, ts, last, bpx, bsz, apx, asz in rows
    }


def price_history(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, list[PricePoint]]:
    """Mid-price points per token: the one **in force at** ``start`` (the token's last tick at or
    before it — an unchanged book writes no tick, so a quiet token's price is that old tick's, not
    missing), then every tick with ``start < ts <= end``; ascending. One-sided books have no mid
    and are skipped (the last two-sided mid stands)."""
    out: dict[str, list[PricePoint]] = {}
    for token, ts, price in conn.execute(
        """SELECT o.token_id, t.ts, t.price FROM outcome o
           CROSS JOIN LATERAL (SELECT ts, price FROM tick WHERE tick.token_id = o.token_id AND tick.ts <= %(start)s
                               AND price IS NOT NULL ORDER BY ts DESC LIMIT 1) t
           ORDER BY t.ts""",
        {"start": start},
    ):
        out[token] = [PricePoint(ts, price)]
    for token, ts, price in conn.execute(
        """SELECT token_id, ts, price FROM tick WHERE ts > %s AND ts <= %s AND price IS NOT NULL
           ORDER BY ts""",
        (start, end),
    ):
        out.setdefault(token, []).append(PricePoint(ts, price))
    return out


def ticks_at(conn: psycopg.Connection, ts_from: datetime, ts_to: datetime) -> Iterator[tuple[datetime, str, str, Book]]:
    """Every tick with ``ts_from < ts <= ts_to`` as (ts, token, market, book), in time order."""
    for ts, token, market, last, bpx, bsz, apx, asz in conn.execute(
        """SELECT ts, token_id, market_id, last_trade, bid_px, bid_sz, ask_px, ask_sz FROM tick
           WHERE ts > %s AND ts <= %s ORDER BY ts, token_id""",
        (ts_from, ts_to),
    ):
        yield ts, token, market, Book(token, _levels(bpx, bsz), _levels(apx, asz), ts, last)


TICKS_TOTAL_KEY = "ingest:ticks_total"
"""The ``job_state`` counter of ticks ever written, kept by ingest in the transaction of each pass."""


def written_total(conn: psycopg.Connection) -> int:
    """Ticks written since the database was created: a counter, so it never falls when old ticks go
    (TimescaleDB's retention drops whole chunks; ``count(*)`` would fall with them)."""
    return int(state.get_state(conn, TICKS_TOTAL_KEY) or 0)


def record_pass(
    conn: psycopg.Connection, ts: datetime, source: str, books: int, written: int, missing: Sequence[str],
    venue: str = "polymarket",
) -> None:
    conn.execute(
        "INSERT INTO ingest_pass (ts, source, books, written, missing, venue) VALUES (%s, %s, %s, %s, %s, %s)",
        (ts, source, books, written, list(missing), venue),
    )


def passes_after(conn: psycopg.Connection, after: datetime | None, limit: int
                 ) -> list[tuple[datetime, list[str], str]]:
    """Ingest passes after ``after`` (oldest first, at most ``limit``) with their missing tokens and
    venue."""
    rows = conn.execute(
        """SELECT ts, missing, venue FROM ingest_pass WHERE %(after)s::timestamptz IS NULL OR ts > %(after)s
           ORDER BY ts LIMIT %(limit)s""",
        {"after": after, "limit": limit},
    ).fetchall()
    return [(r[0], list(r[1]), r[2]) for r in rows]


def last_passes(conn: psycopg.Connection) -> dict[str, tuple[datetime, frozenset[str]]]:
    """Each venue's latest ingest pass: venue → (time, the tokens it missed)."""
    rows = conn.execute(  # one index probe per venue (ingest_pass_venue_ts)
        """SELECT v.venue, p.ts, p.missing FROM (SELECT DISTINCT venue FROM market) v
           CROSS JOIN LATERAL (SELECT ts, missing FROM ingest_pass WHERE venue = v.venue ORDER BY ts DESC LIMIT 1) p
        """).fetchall()
    return {r[0]: (r[1], frozenset(r[2])) for r in rows}


def last_pass(conn: psycopg.Connection) -> datetime | None:
    row = conn.execute("SELECT max(ts) FROM ingest_pass").fetchone()
    return row[0] if row else None


def last_pass_of(conn: psycopg.Connection, source: str) -> datetime | None:
    """The newest pass a source stored (``stream`` for ``mpx stream``); None: it never stored one."""
    # newest first along the ts index: a running stream's passes are at the top
    row = conn.execute("SELECT ts FROM ingest_pass WHERE source = %s ORDER BY ts DESC LIMIT 1", (source,)).fetchone()
    return row[0] if row else None
