"""The mock universe's planted situations, one :class:`Planted` each: the markets it adds and the books
it quotes frame by frame, side by side, with the figures a rule must find worked out in its
``what``. :class:`~mpx.adapters.sources.mock.MockSource` creates them in the order of ``SCENARIOS``
(the order fixes the seeded ids) and asks each for its books every frame. A new situation is one
entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from mpx.domain.models import Book, FeeSchedule, Level, Market

ONE = Decimal(1)
CENT = Decimal("0.01")
MILLI = Decimal("0.001")

Quotes = Sequence[tuple[str, str]]
"""(price, size) levels, best first."""


def fixed(m: Market, yes_bids: Quotes, yes_asks: Quotes) -> list[Book]:
    """A market's YES book as given, and the NO book that mirrors it (NO bid = 1 − YES ask)."""
    yb = tuple(Level(Decimal(p), Decimal(s)) for p, s in yes_bids)
    ya = tuple(Level(Decimal(p), Decimal(s)) for p, s in yes_asks)
    return [Book(m.yes.token_id, yb, ya, last_trade=ya[0].price if ya else None),
            Book(m.outcomes[1].token_id, tuple(Level(ONE - lv.price, lv.size) for lv in ya),
                 tuple(Level(ONE - lv.price, lv.size) for lv in yb), last_trade=None)]


def quoted_around(m: Market, mid: str | Decimal) -> list[Book]:
    """A liquid two-level book a cent either side of ``mid`` (400 then 600 a side)."""
    c = Decimal(mid)
    return fixed(m, [(str(c - CENT), "400"), (str(c - 2 * CENT), "600")],
                 [(str(c + CENT), "400"), (str(c + 2 * CENT), "600")])


BookFn = Callable[[list[Market], int], list[Book]]
"""The books of a situation's markets at frame ``n`` (its markets in creation order)."""


@dataclass(frozen=True, slots=True)
class Planted:
    """One planted situation (see the module docstring)."""

    key: str
    kind: Literal["event", "binary"]
    title: str
    """The event's title, or the binary market's question."""
    category: str
    end: timedelta
    books: BookFn
    what: str
    questions: tuple[str, ...] = ()
    """An event's markets' questions."""
    base: float = 0.5
    """A binary market's starting YES mid (its books are fixed anyway)."""
    tick: Decimal = CENT
    fee: FeeSchedule = field(default_factory=FeeSchedule)
    market_fields: Mapping[str, object] = field(default_factory=dict)
    """Binary market fields, e.g. a closed market."""
    augmented: bool = False
    closed_last: bool = False
    """An event whose last listed market is closed."""


def _sum_lt_1_event(ms: list[Market], frame: int) -> list[Book]:
    # Σ YES asks 0.95 from frame 1; 1.03 at frame 0 (same bids: the mids barely move)
    asks = ["0.31", "0.27", "0.22", "0.15"] if frame >= 1 else ["0.33", "0.29", "0.24", "0.17"]
    bids = ["0.31", "0.27", "0.22", "0.15"]
    return [book for m, a, b in zip(ms, asks, bids, strict=True) for book in fixed(
        m, [(str(Decimal(b) - CENT), "400"), (str(Decimal(b) - 2 * CENT), "900")],
        [(a, "350"), (str(Decimal(a) + CENT), "600"), (str(Decimal(a) + 2 * CENT), "800")])]


def _sum_lt_1_binary(ms: list[Market], frame: int) -> list[Book]:
    # from frame 1: YES ask 0.48 + NO ask 0.49 = 0.97 (the YES and NO books disagree); frame 0: 1.03
    [m] = ms
    yes_ask, no_ask = ("0.48", "0.49") if frame >= 1 else ("0.50", "0.53")
    yes = Book(m.yes.token_id, (Level(Decimal("0.47"), Decimal("300")),),
               (Level(Decimal(yes_ask), Decimal("250")), Level(Decimal("0.51"), Decimal("500"))))
    no = Book(m.outcomes[1].token_id, (Level(Decimal("0.46"), Decimal("300")),),
              (Level(Decimal(no_ask), Decimal("220")), Level(Decimal("0.54"), Decimal("500"))))
    return [yes, no]


def _spike(ms: list[Market], frame: int) -> list[Book]:
    [m] = ms
    mid = Decimal("0.40") if frame < 2 else Decimal("0.55")
    return fixed(m, [(str(mid - CENT), "400"), (str(mid - 2 * CENT), "700")],
                 [(str(mid + CENT), "380"), (str(mid + 2 * CENT), "650")])


def _endgame(ms: list[Market], frame: int) -> list[Book]:
    [m] = ms
    return fixed(m, [("0.945", "500"), ("0.944", "800")], [("0.955", "300"), ("0.956", "700")])


def _closed(ms: list[Market], frame: int) -> list[Book]:
    [m] = ms  # YES ask 0.40 + NO ask 0.50 = 0.90, but the market is closed
    return [Book(m.yes.token_id, (Level(Decimal("0.39"), Decimal("300")),), (Level(Decimal("0.40"), Decimal("300")),)),
            Book(m.outcomes[1].token_id, (Level(Decimal("0.48"), Decimal("300")),),
                 (Level(Decimal("0.50"), Decimal("300")),))]


def _around(mid: str) -> BookFn:
    def books(ms: list[Market], frame: int) -> list[Book]:
        [m] = ms
        return quoted_around(m, mid)
    return books


def _trend(ms: list[Market], frame: int) -> list[Book]:
    [m] = ms
    return quoted_around(m, Decimal("0.67") if frame >= 10 else ("0.60", "0.61", "0.62")[frame % 3])


def _augmented(ms: list[Market], frame: int) -> list[Book]:
    books: list[Book] = []
    for m in ms:
        if m.active and not m.neg_risk_other:
            books += fixed(m, [("0.43", "500")], [("0.45", "500"), ("0.46", "500")])
        elif m.neg_risk_other:
            books += fixed(m, [], [("0.02", "50")])
        else:
            books += [Book(m.yes.token_id), Book(m.outcomes[1].token_id)]
    return books


def _thin(ms: list[Market], frame: int) -> list[Book]:
    # 0.96 at 2 shares, ≥ 1.014 at 5+
    return [b for m in ms for b in fixed(m, [("0.30", "100")], [("0.32", "2"), ("0.35", "400"), ("0.36", "800")])]


def _fee(ms: list[Market], frame: int) -> list[Book]:
    # 0.99 before fees, ≈ 1.156 after a 0.25 fee rate
    return [b for m in ms for b in fixed(m, [("0.31", "400")], [("0.33", "500"), ("0.34", "800")])]


def _dutch(ms: list[Market], frame: int) -> list[Book]:
    bids = ["0.45", "0.35", "0.25"]  # Σ YES bids 1.05: sell a set (or buy every NO) above 1
    return [book for m, b in zip(ms, bids, strict=True) for book in fixed(
        m, [(b, "320"), (str(Decimal(b) - CENT), "500")], [(str(Decimal(b) + CENT), "300"),
                                                           (str(Decimal(b) + 2 * CENT), "500")])]


def _incomplete(ms: list[Market], frame: int) -> list[Book]:
    # the three open outcomes' YES asks sum to 0.90, but the event lists a fourth (closed) one
    return [b for m in ms for b in (fixed(m, [("0.28", "400")], [("0.30", "500")]) if m.tradable
                                    else [Book(m.yes.token_id), Book(m.outcomes[1].token_id)])]


def _stale(ms: list[Market], frame: int) -> list[Book]:
    # frame 0: YES asks 0.46 + 0.28 + 0.27 = 1.01. From frame 1 outcome A's books are no longer
    # delivered (its last book goes stale) while B and C ease to 0.26 and 0.25 (too small a move to
    # be a spike or a breakout): with A's stale 0.46 the set would "cost" 0.97.
    a, b, c = ms
    if frame == 0:
        return [bk for m, p in ((a, "0.46"), (b, "0.28"), (c, "0.27"))
                for bk in fixed(m, [(str(Decimal(p) - CENT), "400")], [(p, "500")])]
    return [bk for m, p in ((b, "0.26"), (c, "0.25"))
            for bk in fixed(m, [(str(Decimal(p) - CENT), "400")], [(p, "500")])]


def _binary(key: str, question: str, category: str, end: timedelta, base: float, books: BookFn, what: str,
            tick: Decimal = CENT, **market_fields: object) -> Planted:
    return Planted(key, "binary", question, category, end, books, what, base=base, tick=tick,
                   market_fields=market_fields)


def _event(key: str, title: str, category: str, questions: Sequence[str], end: timedelta, books: BookFn, what: str,
           **kw: object) -> Planted:
    return Planted(key, "event", title, category, end, books, what, questions=tuple(questions), **kw)  # type: ignore[arg-type]


DAYS = timedelta(days=1)
SCENARIOS: tuple[Planted, ...] = (
    _event("sum_lt_1_event", "Which lab ships AGI first (planted)?", "Culture",
           [f"Will Lab {c} ship first?" for c in "ABCD"], 40 * DAYS, _sum_lt_1_event,
           "SUM_LT_1: four YES asks 0.31 + 0.27 + 0.22 + 0.15 = 0.95 (350 at each) from frame 1; exactly one "
           "resolves YES, so a set pays 1 in each of the 4 states: 5 / 95 = +526.31 bp"),
    _binary("sum_lt_1_binary", "Will the planted binary market resolve YES?", "Politics", 30 * DAYS, 0.5,
            _sum_lt_1_binary, "SUM_LT_1: YES 0.48 × 250 + NO 0.49 × 220 = 0.97 from frame 1: 3 / 97 = +309.27 bp"),
    _binary("spike_market", "Will the planted spike market jump?", "Sports", 20 * DAYS, 0.4, _spike,
            "SPIKE (and TREND_BREAKOUT): a liquid mid 0.40 → 0.55 at frame 2, and it stays: move_bps 1500"),
    _binary("endgame_market", "Will the planted endgame market resolve YES today?", "Politics", timedelta(hours=6),
            0.95, _endgame, "ENDGAME: ends in 6 h, YES mid 0.95, ask 0.955: +4.5 / 95.5 = 471.20 bp if YES wins",
            tick=MILLI),
    _binary("decoy_far_endgame", "Will the planted far-future market resolve YES?", "Politics", 200 * DAYS, 0.95,
            _endgame, "decoy: the endgame's books, but it ends in 200 days", tick=MILLI),
    _binary("decoy_closed_market", "Will the planted closed market resolve YES?", "Politics", 10 * DAYS, 0.5,
            _closed, "decoy: YES + NO asks 0.90 on a closed market", status="closed", accepting_orders=False),
    _binary("synonym_a", "Will Bitcoin reach $150,000 in 2026?", "Crypto", 120 * DAYS, 0.62, _around("0.62"),
            "SYNONYM_MISPRICE with synonym_b: mids 0.62 vs 0.55, a keyword candidate (P3, gap 700) until a person "
            "confirms it; then YES b 0.56 + NO a 0.39 = 0.95: +526.31 bp"),
    _binary("synonym_b", "Bitcoin above $150k by December 31, 2026?", "Crypto", 120 * DAYS, 0.55, _around("0.55"),
            "the other half of synonym_a"),
    _binary("ladder_low", "Will Bitcoin be above $70,000 on December 31, 2026?", "Crypto", 120 * DAYS, 0.5,
            _around("0.50"), "CROSS_MARKET_MISPRICE with ladder_high: the wider market of a proven threshold ladder"),
    _binary("ladder_high", "Will Bitcoin be above $80,000 on December 31, 2026?", "Crypto", 120 * DAYS, 0.6,
            _around("0.60"), "the narrower one priced higher: its bid 0.59 > the wider ask 0.51: YES 70k 0.51 + NO "
            "80k 0.41 = 0.92: +869.56 bp"),
    _binary("date_early", "Will the ceasefire hold by March 31, 2027?", "Politics", 120 * DAYS, 0.45,
            _around("0.45"), "CROSS_MARKET_MISPRICE: a proven date ladder, 'by March 31' 0.45 above 'by June 30' "
                             "0.35: 0.36 + 0.56 = 0.92: +869.56 bp"),
    _binary("date_late", "Will the ceasefire hold by June 30, 2027?", "Politics", 120 * DAYS, 0.35, _around("0.35"),
            "the wider half of date_early"),
    _binary("trend_market", "Will the planted trend market break out?", "Sports", 120 * DAYS, 0.61, _trend,
            "TREND_BREAKOUT: a 0.60–0.62 range for frames 0–9, 0.67 from frame 10 (below SPIKE's move): break_bps 500"),
    _event("decoy_augmented_event", "Which party wins the planted Senate seat?", "Politics",
           ["Will the Democratic Party win the planted seat?", "Will the Republican Party win the planted seat?",
            "Will Party A win the planted seat?", "Will Party B win the planted seat?",
            "Will another party win the planted seat?"], 300 * DAYS, _augmented,
           "decoy: an augmented negRisk event with placeholders and 'Other'; its active YES asks sum to 0.90",
           augmented=True),
    _event("decoy_thin_event", "Which planted thin outcome wins?", "Culture",
           [f"Will thin outcome {c} win?" for c in "ABC"], 50 * DAYS, _thin,
           "decoy: YES asks sum to 0.96 but only 2 shares there (1.05 at 5+, the minimum order)"),
    _event("decoy_fee_event", "Which planted fee outcome wins?", "Crypto",
           [f"Will fee outcome {c} win?" for c in "ABC"], 50 * DAYS, _fee,
           "decoy: asks sum to 0.99, above 1 after a 0.25 fee rate", fee=FeeSchedule(True, Decimal("0.25"), 1)),
    _event("dutch_book_event", "Which planted Dutch-book outcome wins?", "Sports",
           [f"Will team {c} win the planted cup?" for c in "XYZ"], 60 * DAYS, _dutch,
           "DUTCH_BOOK_DETECT: YES bids sum to 1.05: NO asks 0.55 + 0.65 + 0.75 = 1.95 for a set paying 2 in each "
           "of the 3 states: 5 / 195 = +256.41 bp"),
    _event("decoy_incomplete_event", "Which planted incomplete outcome wins?", "Culture",
           [f"Will incomplete outcome {c} win?" for c in "ABCD"], 45 * DAYS, _incomplete,
           "decoy: 4 listed outcomes, one closed; the 3 open YES asks sum to 0.90", closed_last=True),
    _event("decoy_stale_event", "Which planted stale outcome wins?", "Culture",
           [f"Will stale outcome {c} win?" for c in "ABC"], 45 * DAYS, _stale,
           "decoy: from frame 1 one outcome's books stop arriving; with its stale ask the YES asks sum to 0.97"),
)
BY_KEY: dict[str, Planted] = {p.key: p for p in SCENARIOS}
