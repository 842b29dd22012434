"""Live venue: Polymarket's CLOB V2 through the official SDK ``py-clob-client-v2`` (pinned in
pyproject.toml): orders signed the V2 way (EIP-712 against the V2 exchange, the neg-risk one for a
negRisk market), L2 (HMAC) headers from API credentials derived with the wallet key (L1) when the
key file carries none.

* ``buy_fok``: a FOK limit BUY at the leg's limit for exactly its shares; the fills are read back
  from the trades the order matched (price, size, fee charged, transaction hash).
* ``sell``: a FAK limit SELL at the floor: what the bids at or above it take now, the rest cancelled.
* ``best_bid``: ``GET /book``.

Every order sent is appended to :attr:`LiveVenue.journal` (order id, type, status, fills, fees,
transaction hashes): the intent job writes it into the audit trail. An order whose answer never came
(a timeout after it may have been accepted) is journalled as ``unknown`` with the order id computed
from its signed hash, and the leg raises :class:`OrderUnknown`: no further leg is sent, and
``mpx intents reconcile`` asks the CLOB what became of it.

Credentials come from ``EXEC_KEY_FILE`` (YAML/JSON: ``private_key``, optional ``api_key`` /
``api_secret`` / ``api_passphrase``, ``funder``, ``signature_type``), which must be mode 0600 and owned
by the running user. The key and the API secrets are registered with the log redactor and never
appear in an exception message this module raises.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

from mpx.domain.execution import VenueFill, VenueRefused
from mpx.domain.models import ZERO, Book, Level, Market
from mpx.domain.money import taker_fee
from mpx.domain.risk import Funds
from mpx.errors import ConfigError
from mpx.log import get_logger, register_secret
from mpx.settings import Settings

USDC_UNITS = Decimal(10) ** 6
"""pUSD amounts on the wire are integers of 10⁻⁶ USDC."""

log = get_logger(__name__)


class OrderUnknown(Exception):
    """An order was posted and no answer came: it may have executed. Reconcile decides."""


@dataclass(frozen=True)
class Credentials:
    private_key: str
    api_key: str | None = None
    api_secret: str | None = None
    api_passphrase: str | None = None
    funder: str | None = None
    signature_type: int | None = None

    def __repr__(self) -> str:  # never print the key
        return f"Credentials(funder={self.funder!r}, api_key={'set' if self.api_key else 'derived'})"


def load_credentials(path: Path | None) -> Credentials:
    """Read ``EXEC_KEY_FILE``: exit 78 unless it exists, is mode 0600 (no group/other bits) and is owned
    by the running user, and holds a ``private_key``."""
    if path is None:
        raise ConfigError("EXEC_MODE=live needs EXEC_KEY_FILE: the file holding the wallet's private key",
                          hint="see README 'Going live': create it, then `chmod 600` it")
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigError(f"EXEC_KEY_FILE {path}: {exc.strerror}", hint="point EXEC_KEY_FILE at the key file") \
            from None
    if st.st_mode & 0o077:
        raise ConfigError(f"EXEC_KEY_FILE {path} is mode {stat.S_IMODE(st.st_mode):04o}: other users may read the "
                          "wallet key", hint=f"chmod 600 {path}")
    if st.st_uid != os.geteuid():
        raise ConfigError(f"EXEC_KEY_FILE {path} is owned by uid {st.st_uid}, not by the user running mpx "
                          f"(uid {os.geteuid()})", hint=f"chown $(id -un) {path} && chmod 600 {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        raise ConfigError(f"EXEC_KEY_FILE {path} is not a readable YAML/JSON mapping",
                          hint="private_key: 0x…  (optional: api_key, api_secret, api_passphrase, funder)") from None
    if not isinstance(data, dict) or not data.get("private_key"):
        raise ConfigError(f"EXEC_KEY_FILE {path} has no private_key", hint="private_key: 0x…")

    def opt(k: str) -> str | None:
        v = data.get(k)
        return None if v in (None, "") else str(v)

    creds = Credentials(str(data["private_key"]), opt("api_key"), opt("api_secret"), opt("api_passphrase"),
                        opt("funder"), None if data.get("signature_type") is None else int(data["signature_type"]))
    for secret in (creds.private_key, creds.private_key.removeprefix("0x"), creds.api_secret, creds.api_passphrase):
        register_secret(secret)
    if (creds.api_key is None) != (creds.api_secret is None) or (creds.api_key is None) != (
            creds.api_passphrase is None):
        raise ConfigError(f"EXEC_KEY_FILE {path}: api_key, api_secret and api_passphrase go together",
                          hint="give all three, or none (they are then derived with the wallet key)")
    return creds


def _d(v: Any) -> Decimal:
    return Decimal(str(v)) if v not in (None, "") else ZERO


def _error(exc: BaseException) -> str:
    """An SDK exception as text: its status and the server's message, nothing of the request."""
    status = getattr(exc, "status_code", None)
    msg = getattr(exc, "error_msg", None) or getattr(exc, "msg", None) or type(exc).__name__
    return f"CLOB {status or 'no answer'}: {msg}"


class LiveVenue:
    name = "live"

    def __init__(self, markets: Mapping[str, Market], settings: Settings) -> None:
        from py_clob_client_v2 import ClobClient
        from py_clob_client_v2.clob_types import ApiCreds
        from py_clob_client_v2.http_helpers import helpers

        self.markets = markets
        self.journal: list[dict[str, Any]] = []
        creds = load_credentials(settings.exec_key_file)
        # The SDK sends every request through one module-level httpx client without a timeout of ours:
        # give it MPX_HTTP_TIMEOUT (a leg that hangs must end) and plain HTTP/1.1.
        helpers._http_client = httpx.Client(timeout=settings.mpx_http_timeout)
        try:
            self.client = ClobClient(settings.mpx_clob_url, chain_id=settings.exec_chain_id, key=creds.private_key,
                                     signature_type=creds.signature_type, funder=creds.funder)
        except Exception:
            raise ConfigError("EXEC_KEY_FILE: private_key is not a valid wallet key",
                              hint="a 32-byte hex key, 0x-prefixed") from None
        if creds.api_key and creds.api_secret and creds.api_passphrase:
            self.client.set_api_creds(ApiCreds(creds.api_key, creds.api_secret, creds.api_passphrase))
        else:
            try:
                derived = self.client.create_or_derive_api_key()
            except Exception as exc:
                raise ConfigError(f"could not derive CLOB API credentials: {_error(exc)}",
                                  hint="check MPX_CLOB_URL and the wallet") from None
            register_secret(derived.api_secret)
            register_secret(derived.api_passphrase)
            self.client.set_api_creds(derived)
        self.address: str = self.client.get_address()

    # --- the Venue protocol ---------------------------------------------------------------

    def _market(self, market_id: str) -> Market:
        m = self.markets.get(market_id)
        if m is None:
            raise VenueRefused(f"market {market_id} is not stored")
        return m

    def buy_fok(self, token_id: str, market_id: str, shares: Decimal, limit: Decimal) -> VenueFill:
        return self._order("BUY", "FOK", token_id, self._market(market_id), shares, limit)

    def sell(self, token_id: str, market_id: str, shares: Decimal, floor: Decimal) -> VenueFill:
        return self._order("SELL", "FAK", token_id, self._market(market_id), shares, floor)

    def best_bid(self, token_id: str) -> Level | None:
        try:
            book = self.client.get_order_book(token_id)
        except Exception as exc:
            raise VenueRefused(f"book unavailable: {_error(exc)}") from None
        bids = [Level(_d(b["price"]), _d(b["size"])) for b in (book or {}).get("bids") or []]
        bids = [b for b in bids if b.size > 0]
        return max(bids, key=lambda b: b.price) if bids else None

    # --- beyond the protocol --------------------------------------------------------------

    def balance(self) -> dict[str, Any]:
        """``GET /balance-allowance`` for the collateral (pUSD)."""
        from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams

        return dict(self.client.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)))

    def collateral(self) -> Funds:
        """The account-level risk check's funds (:class:`mpx.domain.execution.ReportsFunds`): pUSD
        balance and the smallest allowance of the exchange contracts, both in 6-decimal base units on
        the wire. Raises when the CLOB cannot tell (the confirm is then rejected, nothing sent)."""
        answer = self.balance()
        balance = Decimal(str(answer["balance"])) / USDC_UNITS
        allowances = [Decimal(str(a)) for a in (answer.get("allowances") or {}).values()]
        if "allowance" in answer:  # the older single-allowance answer
            allowances.append(Decimal(str(answer["allowance"])))
        return Funds(balance, min(allowances) / USDC_UNITS if allowances else None, source="clob")

    def heartbeat(self) -> dict[str, Any]:
        """``POST /v1/heartbeats``: the dead-man switch (the CLOB cancels our orders if they stop)."""
        return dict(self.client.post_heartbeat())

    def order_status(self, order_id: str) -> dict[str, Any] | None:
        """The CLOB's record of an order (``None``: it has none), and the trades it matched."""
        from py_clob_client_v2.clob_types import TradeParams

        try:
            order = self.client.get_order(order_id)
        except Exception as exc:
            if getattr(exc, "status_code", None) == 404:
                return None
            raise
        if not order:
            return None
        trades = []
        for tid in order.get("associate_trades") or []:
            trades += [t for t in self.client.get_trades(TradeParams(id=tid), only_first_page=True)
                       if t.get("id") == tid]
        return {**order, "trades": trades}

    def trades_since(self, token_id: str, after: datetime) -> list[dict[str, Any]]:
        """Our taker BUY trades on ``token_id`` matched at or after ``after`` (``GET /data/trades``
        with ``asset_id`` and ``after``, every page): what a confirm that died before recording its
        orders may have bought. Failed trades are left out."""
        from py_clob_client_v2.clob_types import TradeParams

        trades = self.client.get_trades(TradeParams(asset_id=token_id, after=int(after.timestamp())))
        return [t for t in trades or [] if t.get("asset_id", token_id) == token_id
                and str(t.get("side", "")).upper() == "BUY"
                and str(t.get("trader_side") or "TAKER").upper() == "TAKER"
                and str(t.get("status", "")).upper() != "FAILED"]

    # --- one order --------------------------------------------------------------------------

    def _order(self, side: str, order_type: str, token_id: str, m: Market, shares: Decimal,
               price: Decimal) -> VenueFill:
        from py_clob_client_v2.clob_types import OrderArgsV2, PartialCreateOrderOptions

        entry: dict[str, Any] = {"token_id": token_id, "market_id": m.id, "side": side, "type": order_type,
                                 "shares": str(shares), "price": str(price)}
        try:
            order = self.client.create_order(
                OrderArgsV2(token_id=token_id, price=float(price), size=float(shares), side=side),
                PartialCreateOrderOptions(tick_size=format(m.tick_size.normalize(), "f"), neg_risk=m.neg_risk))
        except Exception as exc:
            raise VenueRefused(f"order not built: {_error(exc)}") from None
        entry["order_id"] = self._order_hash(order, m)
        try:
            res = self.client.post_order(order, order_type)
        except Exception as exc:
            if getattr(exc, "status_code", None) is None:  # no answer: it may have been accepted
                entry.update(status="unknown", error=_error(exc))
                self.journal.append(entry)
                log.warning("order answer lost", extra={"order_id": entry["order_id"], "token": token_id})
                raise OrderUnknown(f"{side} {order_type} {entry['order_id']}: no answer ({_error(exc)}); "
                                   "`mpx intents reconcile` asks the CLOB what became of it") from None
            if "killed" in str(getattr(exc, "error_msg", "")):  # FOK/FAK not filled: nothing executed
                entry.update(status="killed", filled="0", error=_error(exc))
                self.journal.append(entry)
                return VenueFill()
            entry.update(status="rejected", error=_error(exc))
            self.journal.append(entry)
            raise VenueRefused(f"{side} {order_type} rejected: {_error(exc)}") from None
        if not isinstance(res, dict) or not res.get("success", True) or res.get("errorMsg"):
            err = res.get("errorMsg") if isinstance(res, dict) else str(res)
            entry.update(status="rejected", error=str(err))
            self.journal.append(entry)
            raise VenueRefused(f"{side} {order_type} rejected: {err}")
        entry["order_id"] = res.get("orderID") or entry["order_id"]
        entry["status"] = str(res.get("status", "")).lower()
        entry["transaction_hashes"] = list(res.get("transactionsHashes") or [])
        entry["trade_ids"] = list(res.get("tradeIDs") or [])
        fill = self._fill_of(entry["trade_ids"], m, side)
        entry.update(filled=str(fill.shares), cost=str(fill.cost), fee=str(fill.fee),
                     levels=[[str(lv.price), str(lv.size)] for lv in fill.levels])
        self.journal.append(entry)
        return fill

    def _fill_of(self, trade_ids: list[str], m: Market, side: str) -> VenueFill:
        from py_clob_client_v2.clob_types import TradeParams

        trades: list[dict[str, Any]] = []
        for tid in trade_ids:
            try:
                trades += [t for t in self.client.get_trades(TradeParams(id=tid), only_first_page=True)
                           if t.get("id") == tid]
            except Exception as exc:  # the order filled; its trades could not be read now
                log.warning("trade unreadable", extra={"trade": tid, "error": _error(exc)})
        return fill_from_trades(trades, m)

    def _order_hash(self, order: Any, m: Market) -> str:
        """The order id the CLOB gives it: the EIP-712 hash of the signed order."""
        try:
            from py_clob_client_v2.config import get_contract_config
            from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2

            cfg = get_contract_config(self.client.chain_id)
            exchange = cfg.neg_risk_exchange_v2 if m.neg_risk else cfg.exchange_v2
            b = ExchangeOrderBuilderV2(exchange, self.client.chain_id, self.client.signer)
            return str(b.build_order_hash(b.build_order_typed_data(order)))
        except Exception:
            return "?"


def fill_from_trades(trades: list[dict[str, Any]], m: Market) -> VenueFill:
    """A fill from the CLOB's trade records: Σ price × size, the fee each trade says it charged (the
    market's taker fee when a trade carries none), levels by price."""
    shares = cost = fee = ZERO
    by_price: dict[Decimal, Decimal] = {}
    for t in trades:
        if str(t.get("status", "")).upper() == "FAILED":
            continue
        p, s = _d(t.get("price")), _d(t.get("size"))
        shares += s
        cost += p * s
        fee += _d(t["fee"]) if t.get("fee") not in (None, "") else taker_fee(s, p, m.fee)
        by_price[p] = by_price.get(p, ZERO) + s
    return VenueFill(shares, cost, fee, tuple(Level(p, s) for p, s in sorted(by_price.items())))


def live_factory(settings: Settings) -> Callable[[Mapping[str, Market], Callable[[str], Book | None]], LiveVenue]:
    def make(markets: Mapping[str, Market], _books: Callable[[str], Book | None]) -> LiveVenue:
        return LiveVenue(markets, settings)

    return make
