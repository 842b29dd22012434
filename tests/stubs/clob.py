"""A local stand-in for Polymarket's CLOB V2 order API, for the live venue's tests.

It checks what the real CLOB checks before matching: the L2 headers (API key, passphrase, an
HMAC-SHA256 of timestamp + method + path + body under the API secret — the SDK's own
``build_hmac_signature``), and the order's EIP-712 signature, recovered with eth-account over the
SDK's V2 typed data (the V2 exchange, the neg-risk one for a negRisk token) and compared with the
configured address; the order type (FOK / FAK only: a taker adapter never rests an order); the
price on the token's tick grid and the size to 2 decimals. It then fills or kills the order against
the book it serves: FOK all or nothing, FAK what the book holds at or better than the price, each
level a trade charged ``fee_rate`` × size × p(1 − p) and given a transaction hash.

Also: ``GET /book``, ``/tick-size``, ``/neg-risk``, ``/version``, ``/data/order/{id}``,
``/data/trades`` (filtered by ``id``, ``maker_address``, ``market``, ``asset_id``, ``before``, ``after``
as the CLOB takes them; each trade with its ``match_time``), ``/balance-allowance``,
``POST /v1/heartbeats``, ``GET /auth/derive-api-key``.

Faults, consumed one order at a time: ``reject(msg)`` (400), ``timeout_after_accept(seconds)`` (the
order fills, the answer comes after the client gave up), ``thin_after(n, token, asks)`` (after the
``n``-th order the token's asks become ``asks``: a book that thins between two legs).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from eth_account import Account
from eth_account.messages import encode_typed_data
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderV2
from py_clob_client_v2.signing.hmac import build_hmac_signature

Side = list[tuple[Decimal, Decimal]]


class ClobV2StandIn:
    def __init__(self, address: str, *, api_key: str, api_secret: str, api_passphrase: str, chain_id: int = 137,
                 fee_rate: Decimal = Decimal(0)) -> None:
        self.address = address
        self.api_key, self.api_secret, self.api_passphrase = api_key, api_secret, api_passphrase
        self.chain_id = chain_id
        self.fee_rate = fee_rate
        self.asks: dict[str, Side] = {}
        self.bids: dict[str, Side] = {}
        self.ticks: dict[str, Decimal] = {}
        self.neg_risk: dict[str, bool] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.trade_queries: list[dict[str, str]] = []
        self.balance = Decimal(1000)
        self._faults: deque[tuple[str, Any]] = deque()
        self._thin: list[tuple[int, str, Side]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- set up -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ClobV2StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def set_book(self, token: str, asks: list[tuple[str, str]], bids: list[tuple[str, str]], *,
                 tick: str = "0.01", neg_risk: bool = False) -> None:
        self.asks[token] = sorted((Decimal(p), Decimal(s)) for p, s in asks)
        self.bids[token] = sorted(((Decimal(p), Decimal(s)) for p, s in bids), reverse=True)
        self.ticks[token] = Decimal(tick)
        self.neg_risk[token] = neg_risk

    def reject(self, message: str = "not enough balance / allowance") -> None:
        self._faults.append(("reject", message))

    def timeout_after_accept(self, seconds: float) -> None:
        self._faults.append(("timeout", seconds))

    def pass_(self) -> None:
        """The next order meets no fault (faults are consumed in order)."""
        self._faults.append(("pass", None))

    def thin_after(self, n: int, token: str, asks: list[tuple[str, str]]) -> None:
        self._thin.append((n, token, [(Decimal(p), Decimal(s)) for p, s in asks]))

    def trades_matching(self, q: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /data/trades`` filters, as the CLOB takes them: ``id``, ``maker_address``, ``market``
        (a condition id: the stand-in books by token, so it matches no trade), ``asset_id``, ``before``
        / ``after`` (unix seconds, on ``match_time``)."""
        rows = list(self.trades.values())
        if "id" in q:
            rows = [t for t in rows if t["id"] == q["id"]]
        if "maker_address" in q:
            rows = [t for t in rows if t["maker_address"].lower() == q["maker_address"].lower()]
        if "market" in q:
            rows = [t for t in rows if t.get("market") == q["market"]]
        if "asset_id" in q:
            rows = [t for t in rows if t["asset_id"] == q["asset_id"]]
        if "after" in q:
            rows = [t for t in rows if int(t["match_time"]) >= int(q["after"])]
        if "before" in q:
            rows = [t for t in rows if int(t["match_time"]) <= int(q["before"])]
        self.trade_queries.append(dict(q))
        return rows

    # --- matching -------------------------------------------------------------------------------

    def _verify(self, o: dict[str, Any]) -> tuple[str | None, str]:
        """(error, order hash): the signature recovered over the V2 typed data must be our address."""
        cfg = get_contract_config(self.chain_id)
        exchange = cfg.neg_risk_exchange_v2 if self.neg_risk.get(str(o["tokenId"])) else cfg.exchange_v2
        builder = ExchangeOrderBuilderV2(exchange, self.chain_id, signer=None)  # type: ignore[arg-type]
        order = OrderV2(salt=str(o["salt"]), maker=o["maker"], signer=o["signer"], tokenId=str(o["tokenId"]),
                        makerAmount=str(o["makerAmount"]), takerAmount=str(o["takerAmount"]),
                        side=0 if o["side"] == "BUY" else 1,  # type: ignore[arg-type]
                        signatureType=int(o["signatureType"]),  # type: ignore[arg-type]
                        timestamp=str(o["timestamp"]), metadata=o["metadata"], builder=o["builder"])
        typed = builder.build_order_typed_data(order)
        try:
            who = Account.recover_message(encode_typed_data(full_message=typed), signature=o["signature"])
        except Exception as exc:
            return f"invalid signature: {exc}", ""
        if who.lower() != self.address.lower() or o["signer"].lower() != self.address.lower():
            return f"invalid signature: signed by {who}, not the order's signer", ""
        return None, builder.build_order_hash(typed)

    def _match(self, oid: str, o: dict[str, Any], order_type: str) -> dict[str, Any]:
        token = str(o["tokenId"])
        buy = o["side"] == "BUY"
        maker, taker = Decimal(o["makerAmount"]) / 10**6, Decimal(o["takerAmount"]) / 10**6
        size = taker if buy else maker
        price = (maker / taker) if buy else (taker / maker)
        tick = self.ticks.get(token, Decimal("0.01"))
        if token not in self.asks:
            return {"error": f"no orderbook exists for the requested token id {token}", "http": 404}
        if price % tick != 0 or not (tick <= price <= 1 - tick):
            return {"error": f"invalid price {price}: not on the tick grid {tick}", "http": 400}
        if size != size.quantize(Decimal("0.01"), rounding=ROUND_DOWN) or size <= 0:
            return {"error": f"invalid size {size}", "http": 400}
        if order_type not in ("FOK", "FAK"):
            return {"error": f"order type {order_type} not accepted here", "http": 400}
        book = self.asks[token] if buy else self.bids[token]
        usable = [(p, s) for p, s in book if (p <= price if buy else p >= price)]
        available = sum((s for _, s in usable), Decimal(0))
        if order_type == "FOK" and available < size:
            self.orders[oid] = {"id": oid, "status": "CANCELED", "asset_id": token, "side": o["side"],
                                "original_size": str(size), "size_matched": "0", "price": str(price),
                                "order_type": order_type, "associate_trades": []}
            return {"success": False, "errorMsg": "order couldn't be fully filled. FOK orders are fully filled or "
                    "killed.", "orderID": oid, "status": "killed", "http": 400}
        left, trade_ids, hashes = size, [], []
        new_book = []
        for p, s in book:
            take = min(left, s) if (p <= price if buy else p >= price) and left > 0 else Decimal(0)
            if take > 0:
                tid = f"trade-{len(self.trades) + 1}"
                tx = "0x" + hashlib.sha256(f"{oid}{tid}".encode()).hexdigest()
                fee = (take * self.fee_rate * p * (1 - p)).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)
                self.trades[tid] = {"id": tid, "taker_order_id": oid, "asset_id": token, "side": o["side"],
                                    "price": str(p), "size": str(take), "fee": str(fee), "status": "CONFIRMED",
                                    "transaction_hash": tx, "trader_side": "TAKER",
                                    "maker_address": o["maker"], "match_time": str(int(time.time()))}
                trade_ids.append(tid)
                hashes.append(tx)
                left -= take
            if s - take > 0:
                new_book.append((p, s - take))
        if buy:
            self.asks[token] = new_book
        else:
            self.bids[token] = new_book
        matched = size - left
        self.orders[oid] = {"id": oid, "status": "MATCHED" if matched else "CANCELED", "asset_id": token,
                            "side": o["side"], "original_size": str(size), "size_matched": str(matched),
                            "price": str(price), "order_type": order_type, "associate_trades": trade_ids}
        return {"success": True, "errorMsg": "", "orderID": oid, "status": "matched" if matched else "unmatched",
                "tradeIDs": trade_ids, "transactionsHashes": hashes, "http": 200}

    # --- HTTP -------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout fault)

            def _l2_ok(self, method: str, path: str, body: str | None) -> bool:
                h = self.headers
                if h.get("POLY_API_KEY") != stand_in.api_key or h.get("POLY_PASSPHRASE") != stand_in.api_passphrase:
                    return False
                want = build_hmac_signature(stand_in.api_secret, h.get("POLY_TIMESTAMP", ""), method, path, body)
                return h.get("POLY_SIGNATURE") == want and (h.get("POLY_ADDRESS") or "").lower() == \
                    stand_in.address.lower()

            def do_GET(self) -> None:
                u = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                token = q.get("token_id", "")
                if u.path == "/version":
                    return self._send(200, {"version": 2})
                if u.path == "/tick-size":
                    return self._send(200, {"minimum_tick_size": float(stand_in.ticks.get(token, Decimal("0.01")))})
                if u.path == "/neg-risk":
                    return self._send(200, {"neg_risk": stand_in.neg_risk.get(token, False)})
                if u.path == "/book":
                    if token not in stand_in.asks:
                        return self._send(404, {"error": "No orderbook exists for the requested token id"})
                    return self._send(200, {
                        "asset_id": token,
                        "bids": [{"price": str(p), "size": str(s)} for p, s in sorted(stand_in.bids[token])],
                        "asks": [{"price": str(p), "size": str(s)}
                                 for p, s in sorted(stand_in.asks[token], reverse=True)]})
                if u.path == "/auth/derive-api-key":
                    return self._send(200, {"apiKey": stand_in.api_key, "secret": stand_in.api_secret,
                                            "passphrase": stand_in.api_passphrase})
                if not self._l2_ok("GET", u.path, None):
                    return self._send(401, {"error": "Unauthorized/Invalid api key"})
                if u.path.startswith("/data/order/"):
                    order = stand_in.orders.get(u.path.removeprefix("/data/order/"))
                    return self._send(200, order) if order else self._send(404, {"error": "order not found"})
                if u.path == "/data/trades":
                    rows = stand_in.trades_matching(q)
                    return self._send(200, {"data": rows, "next_cursor": "LTE=", "limit": 100, "count": len(rows)})
                if u.path == "/balance-allowance":
                    return self._send(200, {"balance": str(int(stand_in.balance * 10**6)),
                                            "allowances": {"exchange": "115792089237316195423570985008687907853"}})
                return self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                u = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if u.path == "/auth/api-key":
                    return self._send(200, {"apiKey": stand_in.api_key, "secret": stand_in.api_secret,
                                            "passphrase": stand_in.api_passphrase})
                if not self._l2_ok("POST", u.path, body or None):
                    return self._send(401, {"error": "Unauthorized/Invalid api key"})
                if u.path == "/v1/heartbeats":
                    stand_in.heartbeats += 1
                    return self._send(200, {"heartbeat_id": f"hb-{stand_in.heartbeats}"})
                if u.path != "/order":
                    return self._send(404, {"error": "not found"})
                payload = json.loads(body)
                o = payload["order"]
                with stand_in._lock:
                    stand_in.received.append(payload)
                    fault = stand_in._faults.popleft() if stand_in._faults else ("pass", None)
                    if fault[0] == "reject":
                        return self._send(400, {"error": fault[1]})
                    err, oid = stand_in._verify(o)
                    if err:
                        return self._send(400, {"error": err})
                    res = stand_in._match(oid, o, payload.get("orderType", ""))
                    n = len(stand_in.received)
                    for at, token, asks in stand_in._thin:
                        if at == n:
                            stand_in.asks[token] = sorted(asks)
                status = int(res.pop("http"))
                if fault[0] == "timeout":
                    time.sleep(float(fault[1]))
                if "error" in res:
                    return self._send(status, {"error": res["error"]})
                return self._send(status, res)

        return Handler
