"""The mock source: a deterministic simulated Polymarket universe, for the demo and the tests.

From a seed it builds binary markets and negRisk events of 3–12 outcomes, each market with its
own fee schedule, tick size, minimum order size and end date, and order books 6–8 levels deep on
each side. Prices random-walk from frame to frame; about 30% of markets change per frame and the
rest keep exactly the same books. Frame ``n`` depends only on ``(seed, n)``.

Ordinary markets carry no arbitrage (YES ask + NO ask ≥ 1.01; the YES asks of an event sum to
≥ 1.01 and its YES bids to ≤ 0.99). Planted situations (ids in :attr:`MockSource.planted`):

- ``sum_lt_1_event``: a 4-outcome negRisk event whose YES asks sum to 0.95 with 300+ shares at
  each best ask, from frame 1;
- ``sum_lt_1_binary``: a binary market whose YES ask + NO ask = 0.97 with 200+ shares, from frame 1;
- ``spike_market``: a liquid binary market whose mid jumps +0.15 at frame 2 and stays there;
- ``endgame_market``: a binary market ending 6 h after the anchor, YES mid 0.95 (ask 0.955);
- ``dutch_book_event``: a 3-outcome negRisk event whose YES bids sum to 1.05 (300+ shares each);
- ``synonym_a`` / ``synonym_b``: two differently worded questions about the same outcome, YES mids
  0.62 and 0.55 (a 7-point gap; YES ask of b + NO ask of a = 0.56 + 0.39 = 0.95);
- ``ladder_low`` / ``ladder_high``: "above $70,000" at 0.50 and "above $80,000" at 0.60 (the
  narrower outcome priced higher; its bid 0.59 exceeds the wider one's ask 0.51);
  ``date_early`` / ``date_late``: "by March 31" at 0.45 and "by June 30" at 0.35;
- ``trend_market``: a liquid market ranging 0.60–0.62 for frames 0–9, breaking out to 0.67 from
  frame 10 (below the SPIKE threshold);
- decoys that must not become signals: ``decoy_augmented_event`` (augmented negRisk event with
  placeholders and "Other"; its active YES asks sum to 0.90), ``decoy_closed_market`` (closed, YES +
  NO asks 0.90), ``decoy_thin_event`` (YES asks sum to 0.96 but only 2 shares there; 1.05 at
  5+ shares), ``decoy_fee_event`` (asks sum to 0.99, above 1 after a 0.25 fee rate),
  ``decoy_far_endgame`` (YES at 0.95, ending in 200 days), ``decoy_incomplete_event`` (4 listed
  outcomes, one closed; the 3 open YES asks sum to 0.90), ``decoy_stale_event`` (from frame 1 one
  outcome's books stop arriving; with its stale ask the YES asks would sum to 0.97).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np

from mpx.adapters.sources.base import Cursor
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
        slug = "-".join("".join(ch for ch in w.lower() if ch.isalnum()) for w in question.split()[:8])
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

        def binary(question: str, category: str, end: timedelta, base: float, **kw: object) -> _MarketSpec:
            event_id = self._event_id()
            market = self._new_market(question, event_id=event_id, category=category, end=end, **kw)
            self._event_meta[event_id] = {"title": question, "category": category, "neg_risk": False,
                                          "augmented": False, "end": end, "markets": [market.id]}
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

        # ---- planted situations
        ev = self._add_event("Which lab ships AGI first (planted)?", "Culture",
                             [f"Will Lab {c} ship first?" for c in "ABCD"], end=timedelta(days=40),
                             fee=FeeSchedule(), tick_size=CENT, min_order_size=Decimal(5))
        self.planted["sum_lt_1_event"] = ev
        planted_binary: tuple[tuple[str, str, str, timedelta, float, Decimal, dict[str, object]], ...] = (
            ("sum_lt_1_binary", "Will the planted binary market resolve YES?", "Politics", timedelta(days=30), 0.5,
             CENT, {}),
            ("spike_market", "Will the planted spike market jump?", "Sports", timedelta(days=20), 0.4, CENT, {}),
            ("endgame_market", "Will the planted endgame market resolve YES today?", "Politics",
             timedelta(hours=6), 0.95, MILLI, {}),
            ("decoy_far_endgame", "Will the planted far-future market resolve YES?", "Politics",
             timedelta(days=200), 0.95, MILLI, {}),
            ("decoy_closed_market", "Will the planted closed market resolve YES?", "Politics", timedelta(days=10),
             0.5, CENT, {"status": "closed", "accepting_orders": False}),
            ("synonym_a", "Will Bitcoin reach $150,000 in 2026?", "Crypto", timedelta(days=120), 0.62, CENT, {}),
            ("synonym_b", "Bitcoin above $150k by December 31, 2026?", "Crypto", timedelta(days=120), 0.55, CENT,
             {}),
            ("ladder_low", "Will Bitcoin be above $70,000 on December 31, 2026?", "Crypto", timedelta(days=120),
             0.5, CENT, {}),
            ("ladder_high", "Will Bitcoin be above $80,000 on December 31, 2026?", "Crypto", timedelta(days=120),
             0.6, CENT, {}),
            ("date_early", "Will the ceasefire hold by March 31, 2027?", "Politics", timedelta(days=120), 0.45,
             CENT, {}),
            ("date_late", "Will the ceasefire hold by June 30, 2027?", "Politics", timedelta(days=120), 0.35,
             CENT, {}),
            ("trend_market", "Will the planted trend market break out?", "Sports", timedelta(days=120), 0.61,
             CENT, {}),
        )
        for key, question, category, end, base, tick, extra in planted_binary:
            spec = binary(question, category, end, base, fee=FeeSchedule(), tick_size=tick,
                          min_order_size=Decimal(5), **extra)
            self._binary.append(spec)
            self.planted[key] = spec.market.id
        self.planted["decoy_augmented_event"] = self._add_event(
            "Which party wins the planted Senate seat?", "Politics",
            ["Will the Democratic Party win the planted seat?", "Will the Republican Party win the planted seat?",
             "Will Party A win the planted seat?", "Will Party B win the planted seat?",
             "Will another party win the planted seat?"],
            end=timedelta(days=300), augmented=True, fee=FeeSchedule(), tick_size=CENT, min_order_size=Decimal(5))
        self.planted["decoy_thin_event"] = self._add_event(
            "Which planted thin outcome wins?", "Culture", [f"Will thin outcome {c} win?" for c in "ABC"],
            end=timedelta(days=50), fee=FeeSchedule(), tick_size=CENT, min_order_size=Decimal(5))
        self.planted["decoy_fee_event"] = self._add_event(
            "Which planted fee outcome wins?", "Crypto", [f"Will fee outcome {c} win?" for c in "ABC"],
            end=timedelta(days=50), fee=FeeSchedule(True, Decimal("0.25"), 1), tick_size=CENT,
            min_order_size=Decimal(5))

        self.planted["dutch_book_event"] = self._add_event(
            "Which planted Dutch-book outcome wins?", "Sports", [f"Will team {c} win the planted cup?" for c in "XYZ"],
            end=timedelta(days=60), fee=FeeSchedule(), tick_size=CENT, min_order_size=Decimal(5))

        self.planted["decoy_incomplete_event"] = self._add_event(
            "Which planted incomplete outcome wins?", "Culture", [f"Will incomplete outcome {c} win?" for c in "ABCD"],
            end=timedelta(days=45), fee=FeeSchedule(), tick_size=CENT, min_order_size=Decimal(5),
            closed_last=True)
        self.planted["decoy_stale_event"] = self._add_event(
            "Which planted stale outcome wins?", "Culture", [f"Will stale outcome {c} win?" for c in "ABC"],
            end=timedelta(days=45), fee=FeeSchedule(), tick_size=CENT, min_order_size=Decimal(5))

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
                                   neg_risk_augmented=augmented, category=category, listed_markets=len(specs)),
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
    def _fixed(m: Market, yes_bids: list[tuple[str, str]], yes_asks: list[tuple[str, str]]) -> list[Book]:
        """Books given explicitly (planted situations); NO mirrors YES."""
        yb = tuple(Level(Decimal(p), Decimal(s)) for p, s in yes_bids)
        ya = tuple(Level(Decimal(p), Decimal(s)) for p, s in yes_asks)
        return [Book(m.yes.token_id, yb, ya, last_trade=ya[0].price if ya else None),
                Book(m.outcomes[1].token_id, tuple(Level(ONE - lv.price, lv.size) for lv in ya),
                     tuple(Level(ONE - lv.price, lv.size) for lv in yb), last_trade=None)]

    def _planted_books(self, key: str, markets: list[Market], frame: int) -> list[Book] | None:
        if key == "sum_lt_1_event":
            # Σ YES asks 0.95 from frame 1; 1.03 at frame 0 (same bids: the mids barely move)
            asks = ["0.31", "0.27", "0.22", "0.15"] if frame >= 1 else ["0.33", "0.29", "0.24", "0.17"]
            bids = ["0.31", "0.27", "0.22", "0.15"]
            return [book for m, a, b in zip(markets, asks, bids, strict=True) for book in self._fixed(
                m, [(str(Decimal(b) - CENT), "400"), (str(Decimal(b) - 2 * CENT), "900")],
                [(a, "350"), (str(Decimal(a) + CENT), "600"), (str(Decimal(a) + 2 * CENT), "800")])]
        if key == "sum_lt_1_binary":
            # from frame 1: YES ask 0.48 + NO ask 0.49 = 0.97 (the YES and NO books disagree);
            # frame 0: 0.50 + 0.53 = 1.03
            [m] = markets
            yes_ask, no_ask = ("0.48", "0.49") if frame >= 1 else ("0.50", "0.53")
            yes = Book(m.yes.token_id, (Level(Decimal("0.47"), Decimal("300")),),
                       (Level(Decimal(yes_ask), Decimal("250")), Level(Decimal("0.51"), Decimal("500"))))
            no = Book(m.outcomes[1].token_id, (Level(Decimal("0.46"), Decimal("300")),),
                      (Level(Decimal(no_ask), Decimal("220")), Level(Decimal("0.54"), Decimal("500"))))
            return [yes, no]
        if key == "spike_market":
            [m] = markets
            mid = Decimal("0.40") if frame < 2 else Decimal("0.55")
            return self._fixed(m, [(str(mid - CENT), "400"), (str(mid - 2 * CENT), "700")],
                               [(str(mid + CENT), "380"), (str(mid + 2 * CENT), "650")])
        if key in ("endgame_market", "decoy_far_endgame"):
            [m] = markets
            return self._fixed(m, [("0.945", "500"), ("0.944", "800")], [("0.955", "300"), ("0.956", "700")])
        if key == "decoy_closed_market":
            [m] = markets  # YES ask 0.40 + NO ask 0.50 = 0.90, but the market is closed
            return [Book(m.yes.token_id, (Level(Decimal("0.39"), Decimal("300")),),
                         (Level(Decimal("0.40"), Decimal("300")),)),
                    Book(m.outcomes[1].token_id, (Level(Decimal("0.48"), Decimal("300")),),
                         (Level(Decimal("0.50"), Decimal("300")),))]
        if key == "decoy_augmented_event":
            books = []
            for m in markets:
                if m.active and not m.neg_risk_other:
                    books += self._fixed(m, [("0.43", "500")], [("0.45", "500"), ("0.46", "500")])
                else:
                    books += self._fixed(m, [], [("0.02", "50")]) if m.neg_risk_other else [
                        Book(m.yes.token_id), Book(m.outcomes[1].token_id)]
            return books
        if key == "dutch_book_event":
            bids = ["0.45", "0.35", "0.25"]  # Σ YES bids 1.05: sell a set (or buy every NO) above 1
            return [book for m, b in zip(markets, bids, strict=True) for book in self._fixed(
                m, [(b, "320"), (str(Decimal(b) - CENT), "500")],
                [(str(Decimal(b) + CENT), "300"), (str(Decimal(b) + 2 * CENT), "500")])]
        if key in ("synonym_a", "synonym_b", "ladder_low", "ladder_high", "date_early", "date_late"):
            [m] = markets
            mid = {"synonym_a": "0.62", "synonym_b": "0.55", "ladder_low": "0.50", "ladder_high": "0.60",
                   "date_early": "0.45", "date_late": "0.35"}[key]
            c = Decimal(mid)
            return self._fixed(m, [(str(c - CENT), "400"), (str(c - 2 * CENT), "600")],
                               [(str(c + CENT), "400"), (str(c + 2 * CENT), "600")])
        if key == "trend_market":
            [m] = markets
            c = Decimal("0.67") if frame >= 10 else (Decimal("0.60"), Decimal("0.61"), Decimal("0.62"))[frame % 3]
            return self._fixed(m, [(str(c - CENT), "400"), (str(c - 2 * CENT), "600")],
                               [(str(c + CENT), "400"), (str(c + 2 * CENT), "600")])
        if key == "decoy_thin_event":
            return [b for m in markets for b in self._fixed(
                m, [("0.30", "100")], [("0.32", "2"), ("0.35", "400"), ("0.36", "800")])]  # 0.96 at 2, ≥1.014 at 5+
        if key == "decoy_incomplete_event":
            # the three open outcomes' YES asks sum to 0.90, but the event lists a fourth (closed) one
            return [b for m in markets for b in (
                self._fixed(m, [("0.28", "400")], [("0.30", "500")]) if m.tradable
                else [Book(m.yes.token_id), Book(m.outcomes[1].token_id)])]
        if key == "decoy_stale_event":
            # frame 0: YES asks 0.46 + 0.28 + 0.27 = 1.01. From frame 1 outcome A's books are no
            # longer delivered (its last book goes stale) while B and C ease to 0.26 and 0.25 (moves
            # too small to be a spike or a breakout): with A's stale 0.46 the set would "cost" 0.97.
            a, b, c = markets
            if frame == 0:
                return [bk for m, p in ((a, "0.46"), (b, "0.28"), (c, "0.27"))
                        for bk in self._fixed(m, [(str(Decimal(p) - CENT), "400")], [(p, "500")])]
            return [bk for m, p in ((b, "0.26"), (c, "0.25"))
                    for bk in self._fixed(m, [(str(Decimal(p) - CENT), "400")], [(p, "500")])]
        if key == "decoy_fee_event":
            return [b for m in markets for b in self._fixed(
                m, [("0.31", "400")], [("0.33", "500"), ("0.34", "800")])]  # 0.99 before fees, ≈1.156 after
        return None

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
                                end_date=m.end_date, listed_markets=1))
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
