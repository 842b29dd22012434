"""Benchmark: a full real-source fetch pass vs a naive baseline, through a local Polymarket
stand-in that adds DELAY ms to every response.

Ours: `PolymarketSource.fetch` — Gamma /events/keyset pages (one after another: each needs the
previous page's cursor) and CLOB
POST /books batches under the published rate limits. Baseline: the same events pages one at a
time, then one GET /book per token, one request at a time. Both fetch every book of the universe.

    python bench/real_source.py [--tokens 5000] [--delay-ms 50] [--concurrency 8] [--batch 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from mpx.adapters.sources.polymarket.client import PUBLISHED_LIMITS, WINDOW_SECONDS, ClientConfig  # noqa: E402
from mpx.adapters.sources.polymarket.source import PolymarketSource  # noqa: E402

from stubs.polymarket import PolymarketStandIn, make_universe  # noqa: E402


def naive(url: str, page_size: int) -> tuple[int, int]:
    """(requests, books) fetching pages one by one, then one book per request, one at a time."""
    requests = books = 0
    tokens: list[str] = []
    with httpx.Client(timeout=30) as client:
        offset = 0
        while True:
            page = client.get(f"{url}/events", params={"active": "true", "closed": "false",
                                                       "limit": page_size, "offset": offset}).json()
            requests += 1
            for ev in page:
                for m in ev.get("markets", []):
                    tokens.extend(json.loads(m["clobTokenIds"]))
            if len(page) < page_size:
                break
            offset += page_size
        for token in tokens:
            r = client.get(f"{url}/book", params={"token_id": token})
            requests += 1
            books += r.status_code == 200
    return requests, books


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=5000)
    ap.add_argument("--delay-ms", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--page-size", type=int, default=100)
    args = ap.parse_args()

    events = make_universe(args.tokens, seed=1)
    n_tokens = sum(2 * len(e["markets"]) for e in events)
    with PolymarketStandIn(events, delay_ms=args.delay_ms) as server:
        config = ClientConfig(gamma_url=server.url, clob_url=server.url, concurrency=args.concurrency,
                              batch_size=args.batch, page_size=args.page_size)
        source = PolymarketSource(config)
        n0 = len(server.requests)
        t0 = time.perf_counter()
        snap, _ = source.fetch(None)
        ours_s = time.perf_counter() - t0
        ours_req = len(server.requests) - n0
        by_endpoint = {ep: server.count(f"/{ep}") for ep in ("events", "books")}  # /events counts /events/keyset too
        print(f"universe: {len(events):,} events, {n_tokens:,} tokens; every response delayed {args.delay_ms} ms",
              file=sys.stderr)
        print(f"ours    : {ours_req:,} requests ({by_endpoint['events']} /events, {by_endpoint['books']} /books), "
              f"{len(snap.books):,} books in {ours_s:.2f} s")

        n1 = len(server.requests)
        t1 = time.perf_counter()
        base_req, base_books = naive(server.url, args.page_size)
        base_s = time.perf_counter() - t1
        print(f"baseline: {base_req:,} requests, {base_books:,} books in {base_s:.2f} s "
              f"(server saw {len(server.requests) - n1:,})")
    print(f"speed-up: {base_s / ours_s:.1f}x (goal >= 20x)")
    for ep, n in by_endpoint.items():
        if ours_s <= WINDOW_SECONDS:
            seen = f"{n:,} in the whole pass, so at most {n:,} in any 10 s window"
        else:
            seen = f"{n * WINDOW_SECONDS / ours_s:,.0f} per 10 s on average"
        print(f"rate    : {ep}: {seen} (published limit {PUBLISHED_LIMITS[ep]} per 10 s, which the client's "
              "leaky bucket also enforces)")


if __name__ == "__main__":
    main()
