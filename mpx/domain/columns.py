"""The top of every book and the recent mid prices as arrays — what lets a backtest screen a whole
pass with a few NumPy operations instead of a Python loop over its ticks.

* :class:`Tops` — each token's best bid, best ask (integer micro-units: 0.45 → 450,000; 0 = no
  price) and book time, indexed by a dense token number; a pass is filed with one scatter per
  array. The rules read a token's quote through :meth:`Tops.quote_at` / :meth:`Tops.ask_at` (exact
  ``Decimal`` values, converted once per distinct price), and the kinds' *screens* read the arrays.
* :class:`MidHistory` — the mid-price points of the priced tokens (two-sided ticks), one entry per
  pass, kept as far back as the rules look; for each lag the rules ask for (a SPIKE's window) the
  mid *in force* at ``as_of − lag`` of every token, kept by a cursor that trails the stream; each
  token's last two points (a TREND_BREAKOUT's previous price); and, for the rare token a screen
  lets through, its points as the :class:`~mpx.domain.models.PricePoint` list the rules read.

A screen is a superset filter: it drops only what the kind's exact ``Decimal`` code would drop
too, so the findings are the same with or without it (tests compare both). A price a micro-unit
cannot hold exactly (more than 6 decimals) switches the screens off for the run (``Tops.exact``).

Pure: no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import numpy as np

from mpx.domain.models import PricePoint

MICRO = 1_000_000
"""Micro-units per 1 (prices are probabilities in [0, 1])."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(ts: datetime) -> int:
    """A time as integer microseconds since the epoch (exact, no float)."""
    return span_us(ts - _EPOCH)


def span_us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def canonical(value: Decimal) -> Decimal:
    """``0.4500000000`` → ``0.45``, ``100.0000000000`` → ``100`` (never ``1E+2``)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def floor_micro(value: Decimal) -> int:
    """The largest micro-unit count ≤ ``value`` (a screen's lower bound: never drops an exact hit)."""
    return int((value * MICRO).to_integral_value(rounding=ROUND_FLOOR))


def ceil_micro(value: Decimal) -> int:
    """The smallest micro-unit count ≥ ``value`` (a screen's upper bound)."""
    return int((value * MICRO).to_integral_value(rounding=ROUND_CEILING))


def _grow(a: np.ndarray, n: int, fill: Any) -> np.ndarray:
    return np.concatenate([a, np.full(n - len(a), fill, a.dtype)]) if len(a) < n else a


class Tops:
    """Best bid, best ask and book time of every token, as arrays over a dense token number.

    ``bid``/``ask`` hold micro-units (``0``: no price on that side; a negative number refers to an
    odd price kept exactly in a side table, and clears :attr:`exact`); ``ts`` the book's time in
    epoch microseconds (``-1``: none); ``has`` whether the token has a book at all. Tokens outside
    the universe get numbers as they appear (their ``market`` is −1)."""

    def __init__(self, tokens: Sequence[str], market_of: Sequence[int], markets: Sequence[str]) -> None:
        self.tokens: list[str] = list(tokens)
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}
        self.markets: list[str] = list(markets)
        """Market ids by market number (the universe's market order)."""
        self.market_index: dict[str, int] = {m: i for i, m in enumerate(self.markets)}
        self._market_names = np.array([*self.markets, ""], dtype=object)
        n = max(len(self.tokens), 1)
        self.market = np.full(n, -1, np.int64)
        self.market[:len(market_of)] = np.asarray(market_of, np.int64)
        self.bid = np.zeros(n, np.int64)
        self.ask = np.zeros(n, np.int64)
        self.ts = np.full(n, -1, np.int64)
        self.has = np.zeros(n, bool)
        self.exact = True
        """False once a price with more than 6 decimals was filed: the screens stand aside."""
        self._odd: list[Decimal] = []
        self._prices: dict[int, Decimal | None] = {0: None}
        self._times: dict[int, datetime | None] = {-1: None}
        self.last_pass: np.ndarray = np.zeros(0, np.int64)
        """The token numbers filed by the latest :meth:`put` (each once)."""
        self.changed: frozenset[str] | None = None
        """The market ids of the latest pass (what :meth:`changed_markets` last returned)."""
        self._changed_idx: np.ndarray = np.zeros(0, np.int64)

    # -- tokens -----------------------------------------------------------------------------------
    def number(self, token: str) -> int:
        """The token's number, giving it one (and room in the arrays) when it is new."""
        found = self.index.get(token)
        if found is not None:
            return found
        i = len(self.tokens)
        self.tokens.append(token)
        self.index[token] = i
        if i >= len(self.bid):
            n = 2 * len(self.bid) + 16
            self.market, self.bid, self.ask = _grow(self.market, n, -1), _grow(self.bid, n, 0), _grow(self.ask, n, 0)
            self.ts, self.has = _grow(self.ts, n, -1), _grow(self.has, n, False)
        return i

    def numbers(self, tokens: Iterable[str]) -> np.ndarray:
        """The numbers of ``tokens`` (new ones numbered as they come)."""
        get = self.index.get
        return np.fromiter((n if (n := get(t)) is not None else self.number(t) for t in tokens), np.int64)

    # -- prices and times ---------------------------------------------------------------------------
    def micro(self, price: Decimal | None) -> int:
        """A price as micro-units (0: none); an odd price gets a negative code (exact, screens off)."""
        if price is None:
            return 0
        scaled = price.scaleb(6)
        if scaled == scaled.to_integral_value() and scaled > 0:
            return int(scaled)
        self.exact = False
        self._odd.append(price)
        return -len(self._odd)

    def price(self, code: int) -> Decimal | None:
        """Micro-units (or an odd price's code) → the exact ``Decimal`` (converted once per price)."""
        try:
            return self._prices[code]
        except KeyError:
            if len(self._prices) > 200_000:
                self._prices = {0: None}
            found = self._prices[code] = (canonical(Decimal(code).scaleb(-6)) if code > 0 else self._odd[-code - 1])
            return found

    def time(self, us: int) -> datetime | None:
        try:
            return self._times[us]
        except KeyError:
            found = self._times[us] = _EPOCH + timedelta(microseconds=us)
            return found

    def stamp(self, ts: datetime | None) -> int:
        """A book time as epoch microseconds, remembered so :meth:`time` gives the same object back."""
        if ts is None:
            return -1
        us = micros(ts)
        self._times.setdefault(us, ts)
        return us

    # -- filing ---------------------------------------------------------------------------------------
    def put(self, ts: datetime, idx: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> np.ndarray | None:
        """File one pass (aligned arrays; a token listed twice: its last tick wins). Returns the
        positions kept when a token was listed twice (``None``: all of them)."""
        keep = last_of_each(idx)
        if keep is not None:
            idx, bid, ask = idx[keep], bid[keep], ask[keep]
        self.bid[idx] = bid
        self.ask[idx] = ask
        self.ts[idx] = self.stamp(ts)
        self.has[idx] = True
        self.last_pass = idx
        return keep

    def put_one(self, token: str, ts: datetime | None, bid: Decimal | None, ask: Decimal | None) -> int:
        """File one token's top (a book from before the window); its number."""
        i = self.number(token)
        self.bid[i], self.ask[i], self.ts[i], self.has[i] = self.micro(bid), self.micro(ask), self.stamp(ts), True
        return i

    def changed_markets(self) -> frozenset[str]:
        """The market ids with a tick in the latest pass — the set the rules read, kept as
        :attr:`changed` so a screen can tell it is this pass's and use the numbers instead."""
        seen = np.zeros(len(self.markets) + 1, bool)  # the last slot: tokens outside the universe
        seen[self.market[self.last_pass]] = True
        m = np.flatnonzero(seen[:-1])
        self._changed_idx = m
        self.changed = frozenset(self._market_names[m].tolist())
        return self.changed

    def changed_mask(self, changed: frozenset[str] | None) -> np.ndarray | None:
        """The markets in ``changed`` as a mask over market numbers (``None``: every market)."""
        if changed is None:
            return None
        mask = np.zeros(len(self.markets), bool)
        if changed is self.changed:
            mask[self._changed_idx] = True
        else:
            index = self.market_index
            mask[[index[m] for m in changed if m in index]] = True
        return mask

    # -- the rules' view --------------------------------------------------------------------------------
    def quote_at(self, token: str) -> tuple[datetime | None, Decimal | None, Decimal | None] | None:
        """(book time, best bid, best ask) of a token (``None``: no book)."""
        i = self.index.get(token)
        if i is None or not self.has.item(i):
            return None
        return self.time(self.ts.item(i)), self.price(self.bid.item(i)), self.price(self.ask.item(i))

    def ask_at(self, token: str) -> tuple[datetime | None, Decimal | None] | None:
        """(book time, best ask) of a token (``None``: no book) — the rules' hottest call."""
        i = self.index.get(token)
        if i is None or not self.has.item(i):
            return None
        return self.time(self.ts.item(i)), self.price(self.ask.item(i))


def last_of_each(idx: np.ndarray) -> np.ndarray | None:
    """Positions of the last occurrence of each number in ``idx``, in order; ``None`` when every
    number occurs once (the common case: told by counting, without sorting)."""
    if len(idx) < 2 or np.bincount(idx).max() < 2:
        return None
    _, first_rev = np.unique(idx[::-1], return_index=True)
    return np.sort(len(idx) - 1 - first_rev)


def segments(groups: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Non-empty groups as (flat values, start of each group) for ``np.ufunc.reduceat``."""
    flat = np.fromiter((v for g in groups for v in g), np.int64)
    starts = np.zeros(len(groups), np.int64)
    if len(groups) > 1:
        starts[1:] = np.cumsum([len(g) for g in groups])[:-1]
    return flat, starts


class SetScreen:
    """Which sets of legs may cost less than their payout at the best asks: Σ best ask < payout with
    every leg holding an ask — and had a market change this step. The exact check (fresh books,
    ``Decimal``) runs on what passes; nothing it would keep is dropped here."""

    def __init__(self, tops: Tops, tokens: Sequence[Sequence[str]], markets: Sequence[Sequence[str]],
                 payouts: Sequence[Decimal]) -> None:
        self.tops = tops
        self.legs, self.leg_starts = segments([[tops.number(t) for t in g] for g in tokens])
        index = tops.market_index
        self.mkts, self.mkt_starts = segments([[index.get(m, len(tops.markets)) for m in g] for g in markets])
        self.payout = np.fromiter((ceil_micro(p) for p in payouts), np.int64, len(payouts))
        self.n = len(payouts)

    def candidates(self, changed: frozenset[str] | None) -> list[int]:
        """The sets (by position) worth the exact check this step, in order."""
        if not self.n:
            return []
        asks = self.tops.ask[self.legs]
        total = np.add.reduceat(asks, self.leg_starts)
        empty = np.add.reduceat(asks <= 0, self.leg_starts)  # no ask (0) or an odd price (exact: off)
        ok = (total < self.payout) & (empty == 0)
        mask = self.tops.changed_mask(changed)
        if mask is not None:
            mask = np.append(mask, False)  # markets outside the universe never change
            ok &= np.logical_or.reduceat(mask[self.mkts], self.mkt_starts)
        return np.flatnonzero(ok).tolist()


class InForce:
    """Every token's mid in force at ``as_of − lag`` (its last point at or before then): ``mid2``
    (twice the mid in micro-units: exact) and ``ts`` (epoch µs, −1: none yet)."""

    __slots__ = ("lag", "mid2", "seq", "ts")

    def __init__(self, lag: timedelta, n: int) -> None:
        self.lag = lag
        self.mid2 = np.zeros(n, np.int64)
        self.ts = np.full(n, -1, np.int64)
        self.seq = 0
        """The entries applied so far (the next sequence number to apply)."""

    def grow(self, n: int) -> None:
        self.mid2, self.ts = _grow(self.mid2, n, 0), _grow(self.ts, n, -1)

    def apply(self, e: _Entry) -> None:
        self.mid2[e.idx] = e.mid2
        self.ts[e.idx] = e.us
        self.seq = e.seq + 1


class _Entry:
    """The priced tokens' two-sided points at one time (a pass, or a time of the initial history),
    sorted by token number."""

    __slots__ = ("ask", "bid", "idx", "mid2", "prices", "seq", "ts", "us")

    def __init__(self, seq: int, ts: datetime, idx: np.ndarray, mid2: np.ndarray, bid: np.ndarray | None,
                 ask: np.ndarray | None, prices: list[Decimal] | None) -> None:
        self.seq, self.ts, self.us = seq, ts, micros(ts)
        if len(idx) > 1 and not (idx[1:] > idx[:-1]).all():
            order = np.argsort(idx, kind="stable")
            idx, mid2 = idx[order], mid2[order]
            bid = None if bid is None else bid[order]
            ask = None if ask is None else ask[order]
            prices = None if prices is None else [prices[j] for j in order.tolist()]
        self.idx, self.mid2, self.bid, self.ask, self.prices = idx, mid2, bid, ask, prices


class MidHistory(Mapping[str, Sequence[PricePoint]]):
    """The priced tokens' mid-price points as arrays (see the module docstring). As a mapping it is
    what the rules read as ``universe.history``: token → its points, oldest first — at least the
    one in force at the horizon (``as_of − lookback``) and every one after it."""

    def __init__(self, tops: Tops, lookback: timedelta, lags: Iterable[timedelta] = ()) -> None:
        self.tops = tops
        self.lookback = lookback
        self.entries: deque[_Entry] = deque()
        self._seq = 0
        n = len(tops.bid)
        self.in_force: dict[timedelta, InForce] = {lag: InForce(lag, n) for lag in set(lags) if lag <= lookback}
        """The lags the rules asked for (their windows), each with its cursor."""
        self.base_seq = np.full(n, -1, np.int64)
        """Each token's last point that left the window: its entry's sequence number (−1: none) and row."""
        self.base_row = np.zeros(n, np.int64)
        self._dropped: dict[int, _Entry] = {}
        self.first_ts = np.full(n, -1, np.int64)
        """Each token's first point: its time (−1: none yet) and twice its mid."""
        self.first2 = np.zeros(n, np.int64)
        self.last_ts = np.full(n, -1, np.int64)
        """Each token's latest point, and the one before it (``prev``; −1: none)."""
        self.last2 = np.zeros(n, np.int64)
        self.prev_ts = np.full(n, -1, np.int64)
        self.prev2 = np.zeros(n, np.int64)
        self._mids: dict[tuple[int, int], Decimal] = {}

    def _room(self) -> None:
        n = len(self.tops.bid)
        if len(self.first_ts) >= n:
            return
        for f in self.in_force.values():
            f.grow(n)
        self.base_seq, self.base_row = _grow(self.base_seq, n, -1), _grow(self.base_row, n, 0)
        self.first_ts, self.first2 = _grow(self.first_ts, n, -1), _grow(self.first2, n, 0)
        self.last_ts, self.last2 = _grow(self.last_ts, n, -1), _grow(self.last2, n, 0)
        self.prev_ts, self.prev2 = _grow(self.prev_ts, n, -1), _grow(self.prev2, n, 0)

    def load(self, points: Mapping[str, Sequence[PricePoint]]) -> None:
        """The initial history (token → ascending points, as the stores give it), filed by time."""
        by_time: dict[datetime, list[tuple[int, Decimal]]] = {}
        for token, pts in points.items():
            i = self.tops.number(token)
            for p in pts:
                by_time.setdefault(p.ts, []).append((i, p.price))
        self._room()
        for ts in sorted(by_time):
            rows = by_time[ts]
            idx = np.fromiter((i for i, _ in rows), np.int64, len(rows))
            mid2 = np.empty(len(rows), np.int64)
            for j, (_, price) in enumerate(rows):
                scaled = (price * 2).scaleb(6)
                if scaled != scaled.to_integral_value():
                    self.tops.exact = False  # the screens stand aside; the points stay exact
                    scaled = scaled.to_integral_value()
                mid2[j] = int(scaled)
            self._append(_Entry(self._seq, ts, idx, mid2, None, None, [p for _, p in rows]))

    def put(self, ts: datetime, idx: np.ndarray, bid: np.ndarray, ask: np.ndarray, priced: np.ndarray) -> None:
        """One pass: the two-sided ticks of priced tokens become points at ``ts`` (the pass time).
        ``priced``: a mask over token numbers."""
        self._room()
        keep = (idx < len(priced)) & (bid > 0) & (ask > 0)
        keep[keep] = priced[idx[keep]]
        if not keep.all():
            idx, bid, ask = idx[keep], bid[keep], ask[keep]
        if len(idx):
            self._append(_Entry(self._seq, ts, idx, bid + ask, bid, ask, None))

    def _append(self, e: _Entry) -> None:
        self._seq += 1
        self.entries.append(e)
        i, mid2 = e.idx, e.mid2
        newer = e.us > self.last_ts[i]
        if not newer.all():
            i, mid2 = i[newer], mid2[newer]
        self.prev_ts[i], self.prev2[i] = self.last_ts[i], self.last2[i]
        self.last_ts[i], self.last2[i] = e.us, mid2
        fresh = self.first_ts[i] < 0
        if fresh.any():
            self.first_ts[i[fresh]], self.first2[i[fresh]] = e.us, mid2[fresh]

    def advance(self, as_of: datetime) -> None:
        """Move to ``as_of``: each lag's cursor up to ``as_of − lag``, and the oldest entries out of
        the window into the base."""
        now = micros(as_of)
        for f in self.in_force.values():
            cut = now - span_us(f.lag)
            for e in self.entries:
                if e.seq < f.seq:
                    continue
                if e.us > cut:
                    break
                f.apply(e)
        horizon = now - span_us(self.lookback)
        while len(self.entries) > 1 and self.entries[1].us <= horizon:
            # the next entry is at or before the horizon too: the oldest one's points are older than
            # the one in force there, or their token's last point there — the base keeps those
            e = self.entries.popleft()
            self.base_seq[e.idx] = e.seq
            self.base_row[e.idx] = np.arange(len(e.idx))
            self._dropped[e.seq] = e
            if len(self._dropped) > 2 * len(self.entries) + 64:
                live = set(np.unique(self.base_seq[self.base_seq >= 0]).tolist())
                self._dropped = {seq: d for seq, d in self._dropped.items() if seq in live}

    # -- the rules' view ----------------------------------------------------------------------------------
    def _point(self, e: _Entry, j: int) -> PricePoint:
        if e.prices is not None:
            return PricePoint(e.ts, e.prices[j])
        assert e.bid is not None and e.ask is not None
        key = (e.bid.item(j), e.ask.item(j))
        mid = self._mids.get(key)
        if mid is None:
            if len(self._mids) > 200_000:
                self._mids.clear()
            price = self.tops.price
            mid = self._mids[key] = (price(key[0]) + price(key[1])) / 2  # type: ignore[operator]
        return PricePoint(e.ts, mid)

    def points(self, token: str) -> list[PricePoint]:
        """The token's points, oldest first (built on demand: only for what a screen let through)."""
        i = self.tops.index.get(token)
        if i is None or i >= len(self.first_ts) or self.first_ts.item(i) < 0:
            return []
        out = []
        seq = self.base_seq.item(i)
        if seq >= 0:
            out.append(self._point(self._dropped[seq], self.base_row.item(i)))
        for e in self.entries:
            j = int(np.searchsorted(e.idx, i))
            if j < len(e.idx) and e.idx.item(j) == i:
                out.append(self._point(e, j))
        return out

    def get(self, token: str, default: Any = None) -> Any:
        return self.points(token) or default

    def __getitem__(self, token: str) -> Sequence[PricePoint]:
        pts = self.points(token)
        if not pts:
            raise KeyError(token)
        return pts

    def __iter__(self) -> Iterator[str]:
        return (self.tops.tokens[i] for i in np.flatnonzero(self.first_ts >= 0).tolist())

    def __len__(self) -> int:
        return int((self.first_ts >= 0).sum())


class MarketColumns:
    """A rule's markets (tradable, in scope, in the universe's order) as arrays: their YES token
    numbers and market numbers — what the per-market kinds screen a step with."""

    def __init__(self, tops: Tops, markets: Sequence[Any]) -> None:
        self.tops = tops
        self.markets = list(markets)
        self.yes = np.fromiter((tops.number(m.yes.token_id) for m in self.markets), np.int64, len(self.markets))
        index = tops.market_index
        self.number = np.fromiter((index.get(m.id, -1) for m in self.markets), np.int64, len(self.markets))

    def changed(self, changed: frozenset[str] | None) -> np.ndarray:
        """Positions of the markets that changed this step (all of them for ``None``)."""
        mask = self.tops.changed_mask(changed)
        if mask is None:
            return np.arange(len(self.markets))
        return np.flatnonzero((self.number >= 0) & mask[self.number])

    def two_sided_quotes(self, at: np.ndarray, max_spread: Decimal, as_of: datetime
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Of the markets at positions ``at``: those whose YES quote is two-sided and no wider than
        ``max_spread`` — (their positions, YES token numbers, twice their mid in micro-units, their
        book time in epoch µs, ``as_of`` for a book without one)."""
        tops = self.tops
        yes = self.yes[at]
        bid, ask = tops.bid[yes], tops.ask[yes]
        ok = (bid > 0) & (ask > 0) & (ask - bid <= ceil_micro(max_spread))
        at, yes = at[ok], yes[ok]
        now = tops.ts[yes]
        now = np.where(now >= 0, now, micros(as_of))
        return at, yes, bid[ok] + ask[ok], now
