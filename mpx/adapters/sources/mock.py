"""The mock source: a deterministic simulated Polymarket universe, for the demo and the tests.

From a seed it builds binary markets and negRisk events of 3–12 outcomes, each market with its
own fee schedule, tick size, minimum order size and end date, and order books 6–8 levels deep on
each side. Prices random-walk from frame to frame; about 30% of markets change per frame and the
rest keep exactly the same books. Frame ``n`` depends only on ``(seed, n)``.

Ordinary markets carry no arbitrage (YES ask + NO ask ≥ 1.01; the YES asks of an event sum to
≥ 1.01 and its YES bids to ≤ 0.99). The planted situations — one per rule kind, and decoys that must
stay silent — are declared once each in :mod:`mpx.adapters.sources.mock_scenarios` (their markets,
their books frame by frame, and the figure a rule must find); their ids are in
:attr:`MockSource.planted` by key. One Economics binary market has fees on at an unknown rate.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import numpy as np

from mpx.adapters.sources.base import Cursor
from mpx.adapters.sources.mock_scenarios import BY_KEY, SCENARIOS
from mpx.domain.models import Book, Event, FeeSchedule, Level, Market, Outcome, Snapshot

ONE = Decimal(1)
CENT = Decimal("0.01")
MILLI = Decimal("0.001")
CHANGE_SHARE = 0.3

_NAMES = ["Alvarez", "Brooks", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
          "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Sato", "Tanaka"]
_TEAMS = ["Celtics", "Lakers", "Nuggets", "Knicks", "Thunder", "Bucks", "Warriors", "Heat", "Suns", "Cavaliers",
          "Mavericks", "Timberwolves"]
_COINS = [("Bitcoin", 60_000, 140_000, 5_000), ("Ethereum", 2_000, 6_000, 250), ("Solana", 100, 400, 20)]
_REGIONS = ["US", "UK", "Euro area", "Japan", "Canada", "Australia", "Brazil", "India"]
_RUNS = ["opening weekend", "in its second weekend", "in its first week", "in its first month"]
_RESOLUTION_SOURCES = {"Crypto": "Binance spot prices (1-minute candles)", "Politics": "official results",
                       "Sports": "the league's official results", "Economics": "the official statistics release",
                       "Culture": "Box Office Mojo and official announcements"}
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]


@dataclass(frozen=True, slots=True)
class _MarketSpec:
    market: Market
    base: float  # starting YES probability (binary) or weight (event outcome)
    levels: int
    half_spread: int  # in ticks


def _token(rng: random.Random) -> str:
    return str(rng.randrange(10**76, 10**77))


def _condition_id(rng: random.Random) -> str:
    return f"0x{rng.getrandbits(256):064x}"


def _on_tick(value: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    return (value / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR) * tick


class MockSource:
    """See the module docstring. ``fetch`` returns the frame after the cursor's."""

    name = "mock"
    venue = "polymarket"  # the mock universe stands in for Polymarket

    def __init__(
        self,
        seed: int = 42,
        latency_ms: int = 0,
        now: Callable[[], datetime] | None = None,
        n_binary: int = 140,
        n_events: int = 24,
    ) -> None:
        self.seed = seed
        self.latency_ms = latency_ms
        self._now = now or (lambda: datetime.now(UTC))
        self._rng = random.Random(f"mpx-mock:{seed}")
        self.planted: dict[str, str] = {}
        self._coin_dates: set[tuple[object, ...]] = set()
        """Subjects already given a threshold question (coin+date, region+month, film+run)."""
        self._binary: list[_MarketSpec] = []
        self._events: list[tuple[Event, list[_MarketSpec], float]] = []  # event, markets, sum of YES mids
        self._event_meta: dict[str, dict[str, object]] = {}
        self._ends: dict[str, timedelta] = {}
        self._build(n_binary, n_events)
        self._walk_cache: tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ the universe (static)
    def _new_market(self, question: str, *, event_id: str, category: str, end: timedelta,
                    neg_risk: bool = False, **kw: object) -> Market:
        rng = self._rng
        mid = _condition_id(rng)
        roll = rng.random()
        if "fee" in kw:
            fee = kw.pop("fee")
        elif category == "Crypto" and roll < 0.4:
            fee = FeeSchedule(True, Decimal("0.25"), 2)
        elif roll < 0.15:
            fee = FeeSchedule(True, Decimal("0.02"), 1)
        else:
            fee = FeeSchedule()
        tick = kw.pop("tick_size", MILLI if rng.random() < 0.2 else CENT)
        min_size = kw.pop("min_order_size", Decimal(rng.choice([5, 5, 5, 5, 5, 5, 5, 5, 1, 15])))
        slug = _slugify(question)
        self._ends[mid] = end
        source = _RESOLUTION_SOURCES.get(category, "a consensus of credible reporting")
        return Market(
            id=mid, question=question, event_id=event_id, slug=f"{slug}-{mid[2:8]}",
            description=(f'This market will resolve to "Yes" if what the title asks happens as stated, by the time '
                         f'and date the title gives (11:59 PM ET when it names a day). Otherwise, this market will '
                         f'resolve to "No". The resolution source is {source}.'),
            outcomes=(Outcome(_token(rng), mid, "Yes", 0), Outcome(_token(rng), mid, "No", 1)),
            fee=fee, tick_size=tick, min_order_size=min_size,  # type: ignore[arg-type]
            category=category, neg_risk=neg_risk, liquidity=Decimal(rng.randrange(2_000, 900_000)),
            **kw,  # type: ignore[arg-type]
        )

    def _event_id(self) -> str:
        return str(self._rng.randrange(10**5, 10**6))

    def _binary_question(self, i: int) -> tuple[str, str]:
        rng = self._rng
        kind = i % 5
        month = rng.choice(_MONTHS)
        if kind == 0:
            # one threshold per coin and date: two thresholds on one date would be a ladder whose
            # random-walk prices contradict each other (ladders are planted, see ladder_low/high)
            while True:
                coin, lo, hi, step = rng.choice(_COINS)
                level, day = rng.randrange(lo, hi, step), rng.randint(1, 28)
                if (coin, month, day) not in self._coin_dates:
                    self._coin_dates.add((coin, month, day))
                    return f"Will {coin} close above ${level:,} on {month} {day}?", "Crypto"
                month = rng.choice(_MONTHS)
        if kind == 1:
            return (f"Will {rng.choice(_NAMES)} win the 2026 {rng.choice(['Senate', 'governor', 'mayoral'])} race "
                    f"in district {rng.randint(1, 40)}?"), "Politics"
        if kind == 2:
            return f"Will the {rng.choice(_TEAMS)} beat the {rng.choice(_TEAMS)} on {month} {rng.randint(1, 28)}?", \
                "Sports"
        if kind == 3:
            while True:  # one threshold per region and month (no accidental ladders, as above)
                region = rng.choice(_REGIONS)
                if (region, month) not in self._coin_dates:
                    self._coin_dates.add((region, month))
                    return f"Will {region} CPI YoY exceed {rng.randint(20, 45) / 10:.1f}% in {month}?", "Economics"
                month = rng.choice(_MONTHS)
        while True:
            name, run = rng.choice(_NAMES), rng.choice(_RUNS)
            if (name, run) not in self._coin_dates:
                self._coin_dates.add((name, run))
                return f"Will '{name}: The Movie' gross over ${rng.randint(20, 300)}M {run}?", "Culture"

    def _build(self, n_binary: int, n_events: int) -> None:
        rng = self._rng

        def binary(question: str, category: str, end: timedelta, base: float, **kw: Any) -> _MarketSpec:
            event_id = self._event_id()
            market = self._new_market(question, event_id=event_id, category=category, end=end, **kw)
            self._event_meta[event_id] = {"title": question, "category": category, "neg_risk": False,
                                          "augmented": False, "end": end, "markets": [market.id],
                                          "slug": market.slug}
            return _MarketSpec(market, base, 6 + rng.randrange(3), 1 + rng.randrange(3))

        for i in range(n_binary):
            question, category = self._binary_question(i)
            end = timedelta(hours=rng.randint(48, 24 * 200))
            spec = binary(question, category, end, rng.uniform(0.06, 0.94))
            # keep ordinary markets' spreads at least 0.01 wide (no YES + NO arbitrage)
            if spec.market.tick_size == MILLI:
                spec = replace(spec, half_spread=max(spec.half_spread, 5) + rng.randrange(5))
            self._binary.append(spec)

        event_titles = [
            ("Who will win the 2026 NBA Finals?", "Sports", [f"the {t}" for t in _TEAMS],
             "Will {o} win the 2026 NBA Finals?"),
            ("Fed decision in {m}?", "Economics",
             ["No change", "25 bps decrease", "50+ bps decrease", "25+ bps increase"], "Fed: {o} in {m}?"),
            ("Which party wins the {m} special election?", "Politics", [f"{n} Party" for n in _NAMES[:8]],
             "Will the {o} win the {m} special election?"),
            ("Highest-grossing film of {m}?", "Culture", [f"Film {n}" for n in _NAMES[8:20]],
             "Will {o} be the highest-grossing film of {m}?"),
            ("Bitcoin price range on {m} 30?", "Crypto", ["<$80k", "$80k-$90k", "$90k-$100k", "$100k-$110k", ">$110k"],
             "Will Bitcoin be {o} on {m} 30?"),
        ]
        for j in range(n_events):
            title, category, pool, template = event_titles[j % len(event_titles)]
            month = _MONTHS[(j * 5) % 12]
            k = rng.randint(3, min(12, len(pool)))
            outcomes = rng.sample(pool, k)
            self._add_event(title.format(m=month), category, [template.format(o=o, m=month) for o in outcomes],
                            end=timedelta(hours=rng.randint(72, 24 * 180)))

        # ---- planted situations, in the order that fixes their seeded ids
        for sc in SCENARIOS:
            common: dict[str, object] = {"fee": sc.fee, "tick_size": sc.tick, "min_order_size": Decimal(5)}
            if sc.kind == "event":
                self.planted[sc.key] = self._add_event(sc.title, sc.category, list(sc.questions), end=sc.end,
                                                       augmented=sc.augmented, closed_last=sc.closed_last, **common)
            else:
                spec = binary(sc.title, sc.category, sc.end, sc.base, **common, **sc.market_fields)
                self._binary.append(spec)
                self.planted[sc.key] = spec.market.id

        # exactly one market with fees on at an unknown rate
        for n, spec in enumerate(self._binary):
            if spec.market.category == "Economics" and spec.market.id not in self.planted.values():
                self._binary[n] = replace(spec, market=replace(spec.market, fee=FeeSchedule(True, None, 1)))
                break

    def _add_event(self, title: str, category: str, questions: list[str], *, end: timedelta,
                   augmented: bool = False, closed_last: bool = False, **kw: object) -> str:
        rng = self._rng
        event_id = self._event_id()
        specs = []
        weights = [rng.uniform(0.3, 3.0) for _ in questions]
        for q, w in zip(questions, weights, strict=True):
            extra = dict(kw)
            if augmented and ("Party A" in q or "Party B" in q):
                extra["active"] = False
            if augmented and "another" in q:
                extra["neg_risk_other"] = True
            if closed_last and q == questions[-1]:
                extra.update(status="closed", accepting_orders=False)
            market = self._new_market(q, event_id=event_id, category=category, end=end, neg_risk=True, **extra)
            specs.append(_MarketSpec(market, w, 6 + rng.randrange(3), 1 + rng.randrange(2)))
        total_mid = rng.uniform(1.0, 1.015)
        self._events.append((Event(event_id, title, tuple(s.market.id for s in specs), neg_risk=True,
                                   neg_risk_augmented=augmented, category=category, listed_markets=len(specs),
                                   slug=f"{_slugify(title)}-{event_id}"),
                             specs, total_mid))
        return event_id

    # ------------------------------------------------------------------ the random walk
    def _walk(self, frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(binary mids, binary last-change frame, event weights, event last-change frame) at ``frame``."""
        n_b = len(self._binary)
        n_e = len(self._events)
        if self._walk_cache is not None and self._walk_cache[0] <= frame:
            f0, mids, changed_b, weights, changed_e = self._walk_cache
            mids, changed_b, weights, changed_e = mids.copy(), changed_b.copy(), weights.copy(), changed_e.copy()
        else:
            f0 = 0
            mids = np.array([s.base for s in self._binary])
            changed_b = np.zeros(n_b, dtype=np.int64)
            weights = np.array([[s.base for s in specs] + [0.0] * (12 - len(specs)) for _, specs, _ in self._events])
            changed_e = np.zeros(n_e, dtype=np.int64)
        for f in range(f0 + 1, frame + 1):
            rng = np.random.default_rng([self.seed, f])
            move = rng.random(n_b) < CHANGE_SHARE
            mids = np.where(move, np.clip(mids + rng.normal(0, 0.012, n_b), 0.04, 0.96), mids)
            changed_b[move] = f
            move_e = rng.random(n_e) < CHANGE_SHARE
            weights = np.where(move_e[:, None], weights * np.exp(rng.normal(0, 0.04, weights.shape)), weights)
            changed_e[move_e] = f
        self._walk_cache = (frame, mids, changed_b, weights, changed_e)
        return mids, changed_b, weights, changed_e

    # ------------------------------------------------------------------ books
    @staticmethod
    def _ladder(best_bid: Decimal, best_ask: Decimal, tick: Decimal, levels: int, rng: random.Random,
                min_size: int = 20) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        def size() -> Decimal:
            whole = rng.randint(min_size, 2_500)
            return Decimal(whole) if rng.random() < 0.8 else Decimal(whole) + Decimal(rng.randint(1, 99)) / 100

        bids = tuple(Level(best_bid - k * tick, size()) for k in range(levels) if best_bid - k * tick > 0)
        asks = tuple(Level(best_ask + k * tick, size()) for k in range(levels) if best_ask + k * tick < ONE)
        return bids, asks

    def _binary_books(self, spec: _MarketSpec, mid: float, version: int) -> tuple[Book, Book]:
        m = spec.market
        tick = m.tick_size
        rng = random.Random(f"{self.seed}:{m.id}:{version}")
        center = Decimal(repr(round(mid, 4)))
        half = spec.half_spread * tick
        bid = _on_tick(center - half, tick, up=False)
        ask = _on_tick(center + half, tick, up=True)
        if ask - bid < CENT:
            ask = bid + max(CENT, tick)
        bid = max(bid, tick)
        ask = min(ask, ONE - tick)
        yes_bids, yes_asks = self._ladder(bid, ask, tick, spec.levels, rng)
        # the NO book mirrors YES: NO bid = 1 − YES ask, NO ask = 1 − YES bid
        no_bids = tuple(Level(ONE - lv.price, lv.size) for lv in yes_asks)
        no_asks = tuple(Level(ONE - lv.price, lv.size) for lv in yes_bids)
        last = rng.choice([bid, ask])
        return (Book(m.yes.token_id, yes_bids, yes_asks, last_trade=last),
                Book(m.outcomes[1].token_id, no_bids, no_asks, last_trade=ONE - last))

    def _event_books(self, specs: list[_MarketSpec], mids: list[float], version: int) -> list[Book]:
        books: list[Book] = []
        for spec, mid in zip(specs, mids, strict=True):
            books.extend(self._binary_books(replace(spec, half_spread=max(spec.half_spread, 1)), mid, version)
                         if spec.market.tick_size == CENT else
                         self._binary_books(replace(spec, half_spread=max(spec.half_spread, 10)), mid, version))
        return books

    @staticmethod
    def _planted_books(key: str, markets: list[Market], frame: int) -> list[Book] | None:
        scenario = BY_KEY.get(key)
        return None if scenario is None else scenario.books(markets, frame)

    def frame(self, n: int, anchor: datetime) -> Snapshot:
        """The universe at frame ``n`` (end dates relative to ``anchor``)."""
        mids, changed_b, weights, changed_e = self._walk(n)
        planted_by_market = {v: k for k, v in self.planted.items()}
        markets: list[Market] = []
        events: list[Event] = []
        books: list[Book] = []
        for i, spec in enumerate(self._binary):
            m = replace(spec.market, end_date=anchor + self._ends[spec.market.id])
            markets.append(m)
            meta = self._event_meta[m.event_id or ""]
            events.append(Event(m.event_id or "", str(meta["title"]), (m.id,), category=m.category,
                                end_date=m.end_date, listed_markets=1, slug=str(meta.get("slug") or "")))
            key = planted_by_market.get(m.id)
            fixed = self._planted_books(key, [m], n) if key else None
            books.extend(fixed if fixed is not None else self._binary_books(spec, float(mids[i]), int(changed_b[i])))
        for j, (event, specs, total_mid) in enumerate(self._events):
            ms = [replace(s.market, end_date=anchor + self._ends[s.market.id]) for s in specs]
            markets.extend(ms)
            events.append(replace(event, end_date=ms[0].end_date))
            key = planted_by_market.get(event.id)
            fixed = self._planted_books(key, ms, n) if key else None
            if fixed is None:
                w = weights[j, : len(specs)]
                probs = (w / w.sum() * total_mid).tolist()
                fixed = self._event_books(specs, probs, int(changed_e[j]))
            books.extend(fixed)
        ts = self._now()
        books = [replace(b, ts=ts) for b in books]
        return Snapshot(ts=ts, books=books, events=events, markets=markets)

    def fetch(self, cursor: Cursor | None, known_tokens: Callable[[], list[str]] | None = None
              ) -> tuple[Snapshot, Cursor]:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        seeded = cursor.get("seed") if cursor else None
        if isinstance(seeded, int) and seeded != self.seed:
            # continue the universe that `mpx seed --seed N` started, whatever MPX_MOCK_SEED says
            return MockSource(seed=seeded, now=self._now).fetch(cursor)
        if cursor and "frame" in cursor and "anchor" in cursor:
            frame = int(cursor["frame"]) + 1
            anchor = datetime.fromisoformat(str(cursor["anchor"]))
        else:
            frame = 0
            anchor = self._now()
        return self.frame(frame, anchor), {"frame": frame, "anchor": anchor.isoformat(), "seed": self.seed}


def _slugify(text: str) -> str:
    """A venue-like slug: the first eight words, lower case, alphanumerics only, joined by hyphens."""
    return "-".join("".join(ch for ch in w.lower() if ch.isalnum()) for w in text.split()[:8])
