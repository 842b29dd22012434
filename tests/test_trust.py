"""Trust: no signal and no intent that is not what it says.

Thirteen ways the product used to say more than it knew, each reproduced here as a careful trader
would, with the payout in every state written out. Every test failed before typed findings, proven
equivalence and all-or-nothing execution, and passes now:

 1. text similarity became executable arbitrage (album / gospel album at .60 / .30: P1 +3888.88);
 2. the shipped keyword group caught MicroStrategy's and the ETFs' "150k Bitcoin";
 3. a "not" before the comparator flipped a ladder;
 4. an unknown fee rate reached execution, priced as 0;
 5. legs executed independently (40 NO naked);
 6. ENDGAME became a "risk-free" intent;
 7. completeness counted the markets that parsed, not the ones the source lists;
 8. the minimum order size itself was never tried as a size;
 9. SPIKE ignored the price in force at the window's start (quiet books, reverted moves);
10. TREND_BREAKOUT could never fire at the crontab's cadence;
11. ``estimated_edge_bps`` meant three things, averaged together into the KPIs;
12. ``EXEC_MIN_EDGE_BPS`` defaulted to 0;
13. the backtest marked an arbitrage set to its legs' last mids (NO-DEPLOY for a risk-free +526 bp).

Finding 5 is pinned where execution lives: tests/domain/test_risk.py
(test_a_leg_whose_book_is_thin_at_its_limit_is_rejected_before_anything_is_sent: the 40-NO-naked
example, rejected by depth_at_limit; test_the_worst_case_edge_is_every_leg_at_its_limit_plus_fees),
tests/domain/test_execution.py (fill-or-kill, unwind within EXEC_MAX_UNWIND_LOSS) and
tests/jobs/test_intents.py (leg two killed after leg one filled: unwound, P1 alert, breaker open).
Findings 4 and 12 also have their confirm-side tests there (test_a_fee_that_became_unknown_is_refused_at_confirm,
test_a_one_bp_edge_is_refused_under_the_default_minimum).
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mpx.adapters.sources.mock import MockSource
from mpx.adapters.sources.polymarket.parse import ParseReport, parse_events
from mpx.domain.findings import Arbitrage, Leg
from mpx.domain.models import Book, FeeSchedule, Level, Market, Outcome
from mpx.domain.payout import StatePayout
from mpx.domain.risk import PlanError, Policy, plan_intent
from mpx.domain.rules.base import Signal, Universe
from mpx.domain.rules.dsl import load_rules
from mpx.domain.rules.engine import evaluate_rules
from mpx.domain.synonyms import build, load_config
from mpx.settings import Settings

from conftest import TestDb
from helpers import invoke_mpx

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "polymarket"
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
END = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
RULES = load_rules([REPO / "rules"])
CRYPTO_RULES = ('This market will resolve to "Yes" if Binance BTC/USDT trades at or above the price in the title '
                'at any time in the period the title gives. Otherwise, this market will resolve to "No".')


def binary(mid: str, question: str, *, description: str = "", end: datetime = END, **kw: Any) -> Market:
    return Market(id=mid, question=question, event_id=f"ev-{mid}", slug=f"slug-{mid}", end_date=end,
                  description=description, outcomes=(Outcome(f"{mid}-yes", mid, "Yes", 0),
                                                     Outcome(f"{mid}-no", mid, "No", 1)), **kw)


def quotes(market: Market, mid: str, size: str = "400") -> list[Book]:
    """A liquid YES book at mid ± 0.01 and the NO book that mirrors it."""
    m = D(mid)
    yes = Book(market.yes.token_id, (Level(m - D("0.01"), D(size)),), (Level(m + D("0.01"), D(size)),), T0)
    no = Book(market.outcomes[1].token_id, (Level(1 - m - D("0.01"), D(size)),), (Level(1 - m + D("0.01"), D(size)),),
              T0)
    return [yes, no]


def signals_on(markets: list[Market], mids: dict[str, str]) -> list[Signal]:
    """Every signal the shipped rules raise on these markets at these mids, with the groups and
    relations the shipped synonyms.yml and the matcher build for them."""
    books = [b for m in markets for b in quotes(m, mids[m.id])]
    built = build(load_config(REPO / "synonyms.yml"), {m.id: m for m in markets}, {})
    u = Universe(as_of=T0, markets={m.id: m for m in markets}, events={}, books={b.token_id: b for b in books},
                 groups=built.groups, relations=built.relations)
    return evaluate_rules(RULES, u)


def assert_no_money_claimed(sigs: list[Signal]) -> None:
    assert [s for s in sigs if s.level in ("P1", "P2")] == []
    assert [s for s in sigs if s.finding_class == "arbitrage"] == []


# ---------------------------------------------------------------------------------------- 1


def test_01_similar_text_is_at_most_a_p3_possible_relation_never_arbitrage() -> None:
    # "album" at .60, "gospel album" at .30. Buying YES "gospel" at .31 + NO "album" at .41 = .72 pays:
    #   both YES (a gospel album)         → 1 (YES gospel)
    #   album YES, gospel NO (another one) → 0   ← the state similar text cannot rule out
    #   neither                           → 1 (NO album)
    # So the set guarantees 0, not 1: the old P1 "+3888.88 bp" was a bet, not an edge.
    album = binary("A", "Will Kanye West release an album in 2026?")
    gospel = binary("G", "Will Kanye West release a gospel album in 2026?")
    sigs = signals_on([album, gospel], {"A": "0.60", "G": "0.30"})
    assert_no_money_claimed(sigs)
    # Named people with relatives, and a sub-action: no money claimed at any of these prices either
    for a, b in (("Will Donald Trump win the 2028 US Presidential Election?",
                  "Will Donald Trump Jr. win the 2028 US Presidential Election?"),
                 ("Will Elon Musk tweet about Dogecoin in June?",
                  "Will Elon Musk delete a tweet about Dogecoin in June?")):
        for pa, pb in (("0.60", "0.30"), ("0.30", "0.60"), ("0.90", "0.05")):
            assert_no_money_claimed(signals_on([binary("X", a), binary("Y", b)], {"X": pa, "Y": pb}))


# ---------------------------------------------------------------------------------------- 2


def test_02_the_shipped_keyword_group_catches_only_the_same_question() -> None:
    ms = [binary("R", "Will Bitcoin reach $150,000 in 2026?"),
          binary("B", "Bitcoin above $150k by December 31, 2026?"),
          binary("MSTR", "Will MicroStrategy hold more than 150k Bitcoin in 2026?"),
          binary("ETF", "Will Bitcoin ETFs hold over 150k BTC by December 31, 2026?")]
    built = build(load_config(REPO / "synonyms.yml"), {m.id: m for m in ms}, {})
    groups = {g.key: g for g in built.groups}
    assert groups["kw:bitcoin-150k-2026"].market_ids == ("B", "R")
    assert not groups["kw:bitcoin-150k-2026"].proven  # a keyword match is a candidate until confirmed
    assert all("MSTR" not in g.market_ids and "ETF" not in g.market_ids for g in built.groups)


# ---------------------------------------------------------------------------------------- 3


def test_03_a_negated_ladder_is_built_the_right_way_round() -> None:
    # "not reach $100k" ⇒ "not reach $150k" (staying under 100k means staying under 150k), so
    # P(not 100k) ≤ P(not 150k). At .40 / .70 the prices are consistent: nothing to trade. Built the
    # wrong way round, YES "not 100k" + NO "not 150k" would have looked like +3888.88 bp and paid 0
    # when Bitcoin ends between 100k and 150k.
    n150 = binary("N150", "Will Bitcoin not reach $150,000 in 2026?", description=CRYPTO_RULES)
    n100 = binary("N100", "Will Bitcoin not reach $100,000 in 2026?", description=CRYPTO_RULES)
    assert_no_money_claimed(signals_on([n150, n100], {"N150": "0.70", "N100": "0.40"}))
    built = build(load_config(REPO / "synonyms.yml"), {m.id: m for m in (n150, n100)}, {})
    assert all((r.narrower, r.wider) == ("N100", "N150") for r in built.relations)


# ---------------------------------------------------------------------------------------- 4 and 12


def _arb(fee: FeeSchedule = FeeSchedule()) -> tuple[Arbitrage, dict[str, Market]]:
    """YES 100 @ .45 + NO 100 @ .50 of one binary market: .95 for a set paying 1 in both states."""
    m = binary("M", "Will it rain?", fee=fee)
    legs = (Leg("M-yes", "M", "Yes", "BUY", D(100), D("0.45"), D(45), D(0), D("0.45")),
            Leg("M-no", "M", "No", "BUY", D(100), D("0.50"), D(50), D(0), D("0.50")))
    arb = Arbitrage(legs, D(100), (StatePayout("YES: Will it rain?", D(1)), StatePayout("every market NO", D(1))),
                    ("a binary market resolves to exactly one of YES and NO",), fee_unknown=not fee.known)
    return arb, {"M": m}


def test_04_an_unknown_fee_rate_never_becomes_an_order() -> None:
    arb, markets = _arb(FeeSchedule(True, None, 1))
    with pytest.raises(PlanError, match="unknown rate"):
        plan_intent(arb, markets, Policy())
    # a market whose fee became unknown after the signal (the arbitrage priced it as known) is refused too
    known, _ = _arb()
    with pytest.raises(PlanError, match="unknown rate"):
        plan_intent(known, {"M": replace(markets["M"], fee=FeeSchedule(True, None, 1))}, Policy())


def test_12_the_minimum_edge_defaults_to_a_positive_number() -> None:
    assert Settings().exec_min_edge_bps > 0


# ---------------------------------------------------------------------------------------- 7


def test_07_an_event_whose_listed_market_cannot_be_parsed_is_not_a_complete_set() -> None:
    # The recorded Fed event lists 4 markets; drop one market's clobTokenIds and the other 3 parse. At
    # YES asks summing to 0.90 the 3 would "cost 0.90 for a set paying 1" — but in the state where the
    # 4th market wins they pay 0. The event must be incomplete: no SUM_LT_1, no DUTCH_BOOK.
    raw = json.loads((FIXTURES / "gamma_events_fed_decision_march_2026.json").read_text())
    broken = copy.deepcopy(raw)
    del broken[0]["markets"][3]["clobTokenIds"]
    report = ParseReport()
    events, markets = parse_events(broken, report)
    [event] = events
    assert (event.listed_markets, len(event.market_ids)) == (4, 3)
    assert "clobTokenIds" in event.dropped[0]
    books = []
    for m in markets:
        books += [Book(m.yes.token_id, (Level(D("0.28"), D(500)),), (Level(D("0.30"), D(500)),), T0),
                  Book(m.outcomes[1].token_id, (Level(D("0.68"), D(500)),), (Level(D("0.70"), D(500)),), T0)]
    u = Universe(as_of=T0, markets={m.id: m for m in markets}, events={event.id: event},
                 books={b.token_id: b for b in books})
    sigs = evaluate_rules([r for r in RULES if r.type in ("SUM_LT_1", "DUTCH_BOOK_DETECT")], u)
    assert [s for s in sigs if s.payload.get("event_id") == event.id] == []
    # the whole recorded event, all 4 parsed, is complete and is priced (4 × 0.30 = 1.20 ≥ 1: no edge,
    # but the set is checked): the completeness rule refuses only what is really incomplete
    full_events, full_markets = parse_events(raw, ParseReport())
    assert full_events[0].complete_listing and len(full_markets) == 4


def test_07_markets_show_says_why_an_event_is_incomplete(db: TestDb) -> None:
    assert invoke_mpx("seed", "--seed", "42").code == 0
    planted = MockSource(seed=42).planted
    with psycopg.connect(db.url) as conn:  # the source listed a 4th market we could not parse
        conn.execute("UPDATE event SET listed_markets = 5, dropped = %s WHERE id = %s",
                     (["market 0xdead: clobTokenIds is not a list of decimal token ids"], planted["sum_lt_1_event"]))
        mid = conn.execute("SELECT id FROM market WHERE event_id = %s LIMIT 1",
                           (planted["sum_lt_1_event"],)).fetchone()[0]  # type: ignore[index]
    out = invoke_mpx("markets", "show", mid)
    assert out.code == 0, out.stderr
    assert "INCOMPLETE" in out.stdout and "the source lists 5 market(s), 4 parsed" in out.stdout
    assert "clobTokenIds" in out.stdout


# ---------------------------------------------------------------------------------------- 8


def test_08_the_minimum_order_size_is_tried_as_a_size() -> None:
    # YES asks 3 @ .40 then .50 × 100; NO asks .55 × 100; minimum order 5.
    #   5 sets: YES 3 × .40 + 2 × .50 = 2.20, NO 5 × .55 = 2.75 → 4.95 for a payout of 5 in both states
    #           → profit .05 → .05 / 4.95 × 10,000 = 101.0101… → +101.01 bp
    #   100 sets: YES 1.20 + 97 × .50 = 49.70, NO 55 → 104.70 > 100: a loss; the YES level boundary at
    #   3 sets is below the minimum order. Before, only those were tried: nothing was reported.
    m = binary("M", "Will it rain?")
    books = [Book("M-yes", (Level(D("0.39"), D(100)),), (Level(D("0.40"), D(3)), Level(D("0.50"), D(100))), T0),
             Book("M-no", (Level(D("0.45"), D(100)),), (Level(D("0.55"), D(100)),), T0)]
    u = Universe(as_of=T0, markets={"M": m}, events={}, books={b.token_id: b for b in books})
    [s] = evaluate_rules([r for r in RULES if r.type == "SUM_LT_1"], u)
    assert s.arbitrage is not None and s.arbitrage.shares == D(5)
    assert (s.arbitrage.cost, s.arbitrage.payout, s.estimated_edge_bps) == (D("4.95"), D(5), D("101.01"))
    assert [(st.state, st.payout) for st in s.arbitrage.states] == [("YES: Will it rain?", 1),
                                                                     ("every market NO", 1)]


# ---------------------------------------------------------------------------------------- 9 and 10
# Books written as ingest passes write them (a tick only when a book changed, a pass row every time),
# evaluated by `mpx evaluate` at the shipped cadences: systemd every 10 s, cron every 30 s.


def _write_pass(conn: psycopg.Connection, ts: datetime, changed: dict[str, tuple[str, str]]) -> None:
    """One ingest pass at ``ts``: the books in ``changed`` (token → (bid, ask), 400 a side) got new ticks."""
    for token, (bid, ask) in changed.items():
        conn.execute(
            """INSERT INTO tick (ts, token_id, market_id, bid_px, bid_sz, ask_px, ask_sz, book_digest)
               SELECT %s, %s, market_id, %s, %s, %s, %s, 0 FROM outcome WHERE token_id = %s""",
            (ts, token, [D(bid)], [D(400)], [D(ask)], [D(400)], token))
    conn.execute("INSERT INTO ingest_pass (ts, source, books, written, missing) VALUES (%s, 'test', 1, %s, '{}')",
                 (ts, len(changed)))


def _momentum_db(db: TestDb) -> tuple[str, str]:
    """One liquid binary market; its YES and NO tokens."""
    with psycopg.connect(db.url) as conn:
        conn.execute("INSERT INTO event (id, title) VALUES ('ev', 'Will it rain?')")
        conn.execute("""INSERT INTO market (id, event_id, question, tick_size, end_date)
                        VALUES ('M', 'ev', 'Will it rain?', 0.01, now() + interval '30 days')""")
        conn.execute("INSERT INTO outcome (token_id, market_id, label, idx) VALUES ('Y', 'M', 'Yes', 0), "
                     "('N', 'M', 'No', 1)")
    return "Y", "N"


def _evaluate_passes(db: TestDb, passes: list[tuple[datetime, dict[str, tuple[str, str]]]]) -> list[dict[str, Any]]:
    """Write the passes, running `mpx evaluate` after the first, before the last two and at the end:
    every pass is one step of the rules whichever evaluate picks it up (a timer batches them), so what
    the cadence changes is how far apart the passes are. The signals evaluate stored."""
    for i, (ts, changed) in enumerate(passes):
        with psycopg.connect(db.url) as conn:
            _write_pass(conn, ts, changed)
        if i in (0, len(passes) - 3):
            assert invoke_mpx("evaluate").code == 0
    assert invoke_mpx("evaluate").code == 0
    out = invoke_mpx("signals", "--format", "json", "--limit", "100")
    return list(json.loads(out.stdout))


@pytest.mark.parametrize("cadence", [10, 30])
def test_09_spike_sees_a_quiet_book_and_not_a_reverted_move(db: TestDb, cadence: int) -> None:
    yes, no = _momentum_db(db)
    start = datetime.now(UTC) - timedelta(minutes=70)
    step = timedelta(seconds=cadence)
    passes: list[tuple[datetime, dict[str, tuple[str, str]]]] = [(start, {yes: ("0.39", "0.41"), no: ("0.59", "0.61")})]
    t = start
    while t < start + timedelta(minutes=60):  # an hour of passes that see the same books: no ticks
        t += step
        passes.append((t, {}))
    t += step
    passes.append((t, {yes: ("0.54", "0.56"), no: ("0.44", "0.46")}))  # 0.40 → 0.55
    sigs = _evaluate_passes(db, passes)
    spikes = [s for s in sigs if s["rule_type"] == "SPIKE"]
    assert len(spikes) == 1 and spikes[0]["class"] == "indicator" and spikes[0]["net_edge_bps"] is None
    assert (spikes[0]["measure"], D(str(spikes[0]["measure_value"]))) == ("move_bps", D(1500))
    assert spikes[0]["payload"]["direction"] == "up"


@pytest.mark.parametrize("cadence", [10, 30])
def test_09_a_move_that_reverted_is_not_a_new_spike(db: TestDb, cadence: int) -> None:
    yes, no = _momentum_db(db)
    start = datetime.now(UTC) - timedelta(minutes=20)
    step = timedelta(seconds=cadence)
    passes = [(start, {yes: ("0.39", "0.41"), no: ("0.59", "0.61")})]
    passes += [(start + (i + 1) * step, {}) for i in range(int(600 / cadence))]  # 10 quiet minutes
    t = passes[-1][0]
    passes.append((t + step, {yes: ("0.54", "0.56"), no: ("0.44", "0.46")}))  # up 15 points…
    passes.append((t + 3 * step, {yes: ("0.39", "0.41"), no: ("0.59", "0.61")}))  # …and back within the window
    sigs = _evaluate_passes(db, passes)
    spikes = [s for s in sigs if s["rule_type"] == "SPIKE"]
    # the jump is a spike up; the way back is no move against the price in force (0.40): no "down" spike
    assert [s["payload"]["direction"] for s in spikes] == ["up"]


@pytest.mark.parametrize("cadence", [10, 30])
def test_10_trend_breakout_fires_from_a_flat_range_at_both_shipped_cadences(db: TestDb, cadence: int) -> None:
    # 0.60 for ten minutes (one tick, then nothing: the book never changed), then 0.67: the shipped
    # rule (5m window, margin 0.05) sees the range 0.60–0.60 broken by 0.07 → 700 bp of probability.
    yes, no = _momentum_db(db)
    start = datetime.now(UTC) - timedelta(minutes=15)
    step = timedelta(seconds=cadence)
    passes = [(start, {yes: ("0.59", "0.61"), no: ("0.39", "0.41")})]
    passes += [(start + (i + 1) * step, {}) for i in range(int(600 / cadence))]
    passes.append((passes[-1][0] + step, {yes: ("0.66", "0.68"), no: ("0.32", "0.34")}))
    sigs = _evaluate_passes(db, passes)
    trends = [s for s in sigs if s["rule_type"] == "TREND_BREAKOUT"]
    assert len(trends) == 1 and trends[0]["class"] == "indicator"
    assert (trends[0]["measure"], D(str(trends[0]["measure_value"]))) == ("break_bps", D(700))


# ---------------------------------------------------------------------------------------- 6, 11, 13 on the mock


@pytest.fixture
def demo(db: TestDb) -> TestDb:
    """The mock universe seeded, then three ingest → evaluate cycles (as `make demo` does; built once,
    copied per test)."""

    def build() -> None:
        assert invoke_mpx("seed", "--seed", "42", "--reset").code == 0
        for _ in range(3):
            assert invoke_mpx("ingest").code == 0
            assert invoke_mpx("evaluate").code == 0

    db.load("seed 42 --reset, 3 × ingest, evaluate", build)
    return db


def test_06_endgame_is_an_indicator_and_never_an_intent(demo: TestDb) -> None:
    # The planted endgame buys YES at 0.955: +4.5 per 95.5 if YES resolves, −95.5 if it does not.
    row = demo.scalar("SELECT row_to_json(s) FROM signal s WHERE rule_type = 'ENDGAME' LIMIT 1")
    assert isinstance(row, dict)
    assert (row["finding_class"], row["estimated_edge_bps"], row["measure"]) == ("indicator", None,
                                                                                 "return_if_right_bps")
    assert "risk" not in row["message"].lower() and "if Yes wins" in row["message"]
    res = invoke_mpx("intents", "create", "--signal", str(row["id"]))
    assert res.code == 1
    assert "is an indicator" in res.stderr and "guaranteed in every state" in res.stderr
    assert demo.scalar("SELECT count(*) FROM order_intent") == 0


def test_11_kpis_keep_the_classes_and_their_measures_apart(demo: TestDb) -> None:
    out = invoke_mpx("kpi", "--days", "1", "--format", "json")
    assert out.code == 0, out.stderr
    rows = json.loads(out.stdout)
    by = {(r["rule_id"], r["class"]): r for r in rows}
    # arbitrage rows: the average net edge of arbitrage signals only (the planted sets: 526.31 and 309.27)
    sum_lt_1 = by["sum-lt-1", "arbitrage"]
    assert sum_lt_1["measure"] == "net_edge_bps" and D(str(sum_lt_1["avg_edge_bps"])) == D("417.79")
    assert D(str(sum_lt_1["total_edge_usdc"])) > 0
    # indicator rows: their own measure, never an edge or a profit
    spike = by["spike", "indicator"]
    assert spike["measure"] == "move_bps" and spike["avg_edge_bps"] is None and spike["total_edge_usdc"] is None
    assert D(str(spike["avg_measure"])) == D(1500)
    endgame = by["endgame", "indicator"]
    assert endgame["measure"] == "return_if_right_bps" and endgame["avg_edge_bps"] is None
    # no rule mixes an indicator into an arbitrage average
    with psycopg.connect(demo.url) as conn:
        mixed = conn.execute("""SELECT count(*) FROM signal WHERE (finding_class = 'indicator') =
                                (estimated_edge_bps IS NOT NULL)""").fetchone()
    assert mixed == (0,)


def test_13_the_backtest_locks_an_arbitrage_in_at_entry(demo: TestDb) -> None:
    # The planted negRisk set: 4 YES asks .31 + .27 + .22 + .15 = .95 with 350 shares at each. Exactly
    # one of the 4 resolves YES, so a set pays 1 in every state and is worth 1 at any moment:
    #   size 50:  cost 47.50, payout 50  → +2.50
    #   size 100: cost 95.00, payout 100 → +5.00
    #   size 200: cost 190.00, payout 200 → +10.00
    # (the planted binary: YES .48 × 250 + NO .49 × 220: 50 → +1.50, 100 → +3.00, 200 → +6.00).
    # Marking the legs to their last mids instead made it −4.00 at 200 sets and NO-DEPLOY.
    out = invoke_mpx("backtest", "--rule", "SUM_LT_1", "--pnl", "--sweep", "size=50,100,200", "--format", "json")
    assert out.code == 0, out.stderr
    summary = {r["variant"]: r for r in json.loads(out.stdout)}
    expected = {"sum-lt-1 size=50": D("4.00"), "sum-lt-1 size=100": D("8.00"), "sum-lt-1 size=200": D("16.00")}
    for variant, total in expected.items():
        row = summary[variant]
        assert D(str(row["total_pnl"])) == total, row
        assert row["hit_rate"] is not None and D(str(row["hit_rate"])) == 1
        assert row["verdict"] == "DEPLOY"


def test_13_no_arbitrage_hit_of_a_backtest_lacks_a_guaranteed_payout(demo: TestDb, tmp_path: Path) -> None:
    # Every arbitrage-class hit over the stored window, whatever the rule: its payout table covers every
    # state its markets' true structure allows (checked against the mock's own ground truth, not the
    # rule's), and pays at least its stated payout per set in each.
    planted = MockSource(seed=42).planted
    for kind in ("SUM_LT_1", "DUTCH_BOOK_DETECT", "SYNONYM_MISPRICE", "CROSS_MARKET_MISPRICE"):
        csv = tmp_path / f"{kind}.csv"
        out = invoke_mpx("backtest", "--rule", kind, "--csv-out", str(csv), "--format", "json")
        assert out.code == 0, out.stderr
        import pandas as pd

        hits = pd.read_csv(csv)
        for _, hit in hits[hits["class"] == "arbitrage"].iterrows():
            sig = demo.scalar("SELECT payload->'arbitrage' FROM signal WHERE signature = %s LIMIT 1",
                              (hit["signature"],))
            assert isinstance(sig, dict), hit.to_dict()  # evaluate stored the same finding
            arb = Arbitrage.from_dict(sig)
            assert arb.payout_per_share >= 1 and arb.profit > 0
            markets = set(arb.market_ids)
            truth = {planted[k] for k in ("sum_lt_1_binary",)} | {planted["ladder_low"], planted["ladder_high"]}
            assert markets <= _event_markets(demo, planted["sum_lt_1_event"]) \
                or markets <= _event_markets(demo, planted["dutch_book_event"]) \
                or markets == {planted["sum_lt_1_binary"]} \
                or markets in ({planted["ladder_low"], planted["ladder_high"]},
                               {planted["date_early"], planted["date_late"]}), (kind, markets, truth)


def _event_markets(db: TestDb, event_id: str) -> set[str]:
    with psycopg.connect(db.url) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM market WHERE event_id = %s", (event_id,))}


def test_every_planted_arbitrage_is_still_found_with_its_hand_computed_edge(demo: TestDb) -> None:
    planted = MockSource(seed=42).planted
    # The planted synonym pair is a keyword match: a candidate, P3, until a person confirms it. Then the
    # next evaluate prices it (its books did not change): YES b at 0.56 + NO a at 1 − 0.61 = 0.39 →
    # 0.95 for a set paying 1 in both states the equivalence allows → 5 / 95 = +526.31 bp.
    cands = json.loads(invoke_mpx("synonyms", "candidates", "--format", "json").stdout)
    [pair] = [c for c in cands if {c["market_a"], c["market_b"]} == {planted["synonym_a"], planted["synonym_b"]}]
    assert pair["state"] == "open" and pair["proposed"] == "a ≡ b"
    confirmed = invoke_mpx("synonyms", "confirm", str(pair["id"]), "--note", "same resolution")
    assert confirmed.code == 0, confirmed.stderr
    assert invoke_mpx("ingest").code == 0 and invoke_mpx("evaluate").code == 0
    expected = {  # subject market → (rule type, net edge bp worked out in the mock's docstring)
        planted["sum_lt_1_binary"]: ("SUM_LT_1", D("309.27")),
        planted["synonym_b"]: ("SYNONYM_MISPRICE", D("526.31")),
        planted["ladder_high"]: ("CROSS_MARKET_MISPRICE", D("869.56")),
        planted["date_early"]: ("CROSS_MARKET_MISPRICE", D("869.56")),
    }
    rows = json.loads(invoke_mpx("signals", "--format", "json", "--limit", "500").stdout)
    arb = [r for r in rows if r["class"] == "arbitrage"]
    for market, (kind, edge) in expected.items():
        hit = [r for r in arb if r["rule_type"] == kind and market in json.dumps(r["payload"])]
        assert hit and D(str(hit[0]["net_edge_bps"])) == edge, (kind, market, hit)
    for event, kind, edge in ((planted["sum_lt_1_event"], "SUM_LT_1", D("526.31")),
                              (planted["dutch_book_event"], "DUTCH_BOOK_DETECT", D("256.41"))):
        hit = [r for r in arb if r["rule_type"] == kind and r["payload"].get("event_id") == event]
        assert hit and D(str(hit[0]["net_edge_bps"])) == edge, (kind, event)
