"""Benchmark: building synonym groups and relations (`mpx.domain.synonyms.build`, what every
`mpx evaluate` pass runs when the markets changed) for a synthetic universe shaped like production.

The universe (MARKETS markets, default 20,000) mixes what Polymarket lists: "Bitcoin above ___ on
<date>?" events (threshold ladders), price-range negRisk events ("Will Bitcoin be between $80,000
and $82,000 on <date>?", "… less than $70,000 …"), "… by <date>?" events (date ladders), election
and award negRisk events with many outcomes, sports games whose outcomes are team names (not
Yes/No), one-off questions from a shared vocabulary (many sharing common words), and a few hundred
restated duplicates of one-off questions in other events ("BTC" for "Bitcoin", "$150k" for
"$150,000", an added word). No database: the build is pure.

    python bench/synonyms.py [--markets 20000] [--seed 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mpx.domain.models import Event, Market, Outcome  # noqa: E402
from mpx.domain.synonyms import SynonymsConfig, build, load_config, normalise  # noqa: E402

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
COINS = [("Bitcoin", 60_000, 2_000), ("Ethereum", 2_000, 100), ("Solana", 100, 10), ("XRP", 2.5, 0.25)]
NAMES = ["Alvarez", "Brooks", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
         "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Sato", "Tanaka"]
PLACES = ["Texas", "Ohio", "Georgia", "Arizona", "Nevada", "Michigan", "Florida", "Maine", "Alaska", "Iowa",
          "Quebec", "Bavaria", "Ontario", "Victoria", "Kerala", "Gauteng"]
TEAMS = ["Celtics", "Lakers", "Nuggets", "Knicks", "Thunder", "Bucks", "Warriors", "Heat", "Suns", "Cavaliers",
         "Arsenal", "Chelsea", "Liverpool", "Everton", "Yankees", "Dodgers", "Mets", "Cubs"]
SUBJECTS = ["Apple", "Tesla", "OpenAI", "Nvidia", "SpaceX", "Kraken", "Stripe", "Reddit", "Discord", "Shein",
            "Microsoft", "Amazon", "Netflix", "Spotify", "Airbnb", "Uber", "Coinbase", "Robinhood", "TikTok", "Meta"]
ACTIONS = ["announce a stock split", "IPO", "release a new flagship model", "be acquired", "lay off 10% of staff",
           "open a new headquarters", "launch a phone", "settle the antitrust case", "delist from the NYSE",
           "change its CEO", "buy Bitcoin", "report record revenue", "enter the index", "ban political ads"]
ANCHOR = datetime(2026, 3, 1, tzinfo=UTC)


class Universe:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.markets: dict[str, Market] = {}
        self.events: dict[str, Event] = {}
        self._n = 0

    def _id(self) -> str:
        self._n += 1
        return f"0x{self._n:064x}"

    def event(self, questions: list[str], *, neg_risk: bool = False, end: datetime | None = None,
              labels: tuple[str, str] = ("Yes", "No")) -> None:
        eid = str(100_000 + len(self.events))
        ids = []
        for q in questions:
            mid = self._id()
            ids.append(mid)
            status = "resolved" if self.rng.random() < 0.05 else "active"
            self.markets[mid] = Market(
                id=mid, question=q, event_id=eid, slug=f"m-{self._n}", neg_risk=neg_risk, status=status,  # type: ignore[arg-type]
                end_date=end or ANCHOR + timedelta(days=self.rng.randint(2, 400)),
                outcomes=(Outcome(f"{mid}-y", mid, labels[0], 0), Outcome(f"{mid}-n", mid, labels[1], 1)))
        self.events[eid] = Event(eid, questions[0], tuple(ids), neg_risk=neg_risk)


def date_text(d: datetime, year: bool) -> str:
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}" if year else f"{MONTHS[d.month - 1]} {d.day}"


def synthetic(n_markets: int, seed: int) -> Universe:
    rng = random.Random(seed)
    u = Universe(rng)
    one_offs: list[tuple[str, datetime]] = []
    while len(u.markets) < n_markets:
        kind = rng.random()
        day = ANCHOR + timedelta(days=rng.randint(1, 365))
        year = rng.random() < 0.5
        if kind < 0.20:  # "<coin> above ___ on <date>?": a threshold ladder
            coin, base, step = rng.choice(COINS)
            levels = sorted({base + step * rng.randint(-5, 30) for _ in range(rng.randint(4, 12))})
            u.event([f"Will the price of {coin} be above ${lv:,} on {date_text(day, year)}?" for lv in levels],
                    end=day)
        elif kind < 0.32:  # price ranges on a date: negRisk
            coin, base, step = rng.choice(COINS)
            edges = [base + step * k for k in range(0, rng.randint(4, 10))]
            qs = [f"Will the price of {coin} be less than ${edges[0]:,} on {date_text(day, year)}?"]
            qs += [f"Will the price of {coin} be between ${a:,} and ${b:,} on {date_text(day, year)}?"
                   for a, b in pairwise(edges)]
            qs.append(f"Will the price of {coin} be greater than ${edges[-1]:,} on {date_text(day, year)}?")
            u.event(qs, neg_risk=True, end=day)
        elif kind < 0.42:  # "… by ___?": a date ladder
            subject, action = rng.choice(SUBJECTS), rng.choice(ACTIONS)
            dates = sorted({ANCHOR + timedelta(days=30 * rng.randint(1, 20)) for _ in range(rng.randint(2, 5))})
            u.event([f"Will {subject} {action} by {date_text(d, True)}?" for d in dates])
        elif kind < 0.60:  # elections / awards: negRisk, many outcomes
            place, office = rng.choice(PLACES), rng.choice(["governor", "senate", "mayoral", "house"])
            names = rng.sample(NAMES, rng.randint(3, 12))
            u.event([f"Will {n} win the {place} {office} election in 2026?" for n in names], neg_risk=True)
        elif kind < 0.75:  # games: outcomes are team names
            a, b = rng.sample(TEAMS, 2)
            u.event([f"{a} vs. {b} on {date_text(day, False)}"], labels=(a, b), end=day)
        else:  # one-off questions
            subject, action = rng.choice(SUBJECTS), rng.choice(ACTIONS)
            q = f"Will {subject} {action} in {rng.choice(MONTHS)} {rng.choice([2026, 2027])}?"
            if rng.random() < 0.3:
                q = f"Will {subject} {action} before {rng.choice(PLACES)} does?"
            end = ANCHOR + timedelta(days=rng.randint(10, 500))
            u.event([q], end=end)
            one_offs.append((q, end))
            if rng.random() < 0.05:  # restated elsewhere: a true synonym
                restated = q.replace("Will ", "").replace("?", " (restated)?") if rng.random() < 0.5 else q
                restated = restated.replace("Bitcoin", "BTC")
                u.event([restated], end=end + timedelta(days=rng.randint(0, 3)))
    return u


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markets", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--config", type=Path, default=ROOT / "synonyms.yml")
    args = ap.parse_args()
    t = time.perf_counter()
    u = synthetic(args.markets, args.seed)
    made = time.perf_counter() - t
    config = load_config(args.config) if args.config.exists() else SynonymsConfig()
    print(f"universe: {len(u.markets):,} markets in {len(u.events):,} events "
          f"({sum(e.neg_risk for e in u.events.values()):,} negRisk), made in {made:.2f} s")
    t = time.perf_counter()
    for m in u.markets.values():
        normalise(m.question)
    print(f"normalise alone: {time.perf_counter() - t:.3f} s")
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        built = build(config, u.markets, u.events)
        times.append(time.perf_counter() - t)
    groups = Counter(g.source for g in built.groups)
    kinds = Counter(r.kind for r in built.relations)
    print(f"groups: {len(built.groups):,} {dict(groups)}; relations: {len(built.relations):,} {dict(kinds)}; "
          f"notes: {len(built.notes)}")
    for note in built.notes[:5]:
        print(f"  note: {note}")
    print(f"build: best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s over {args.repeat} run(s) "
          f"for {len(u.markets):,} markets")


if __name__ == "__main__":
    main()
