"""``mpx telegram poll``: one tap in Telegram (#16) — answer the buttons under the alerts.

One pass reads the pending updates (``getUpdates`` with ``timeout=0``; ``--for`` long-polls until
the duration is over) from the offset stored in PostgreSQL (``job_state``), and for each tapped
button (a callback query):

1. **claims** it: a ``telegram_action`` row keyed by the callback query's id, committed before
   anything is done — an update delivered twice (a pass that died before storing its offset) is
   acted on once, at most: a trading action is never repeated behind the trader's back, who can
   tap again;
2. **refuses** it when the user is not in TELEGRAM_ALLOWED_USERS ("not allowed"), the data is not
   one mpx signed (:mod:`mpx.domain.telegram`), or the button is older than EXEC_CONFIRM_TTL
   ("expired") — each recorded in the row;
3. **acts** through the same job functions as the command line — *Create intent*
   (:func:`mpx.jobs.intents.create`; the intent's own message comes back with *Confirm* and
   *Cancel*), *Confirm* (:func:`mpx.jobs.intents.confirm`: every check of ``mpx intents confirm``,
   then paper/live execution; the message is edited with the verdict and its numbers), *Cancel*
   (:func:`mpx.jobs.intents.cancel`). Those functions already act once: a second *Confirm* of the
   same intent — tapped twice, or by two people — finds it executed and says so;
4. answers the query (the toast in the trader's client) and stores the offset past the update.

The pass runs under the job contract with its own advisory lock (two polls never run at once: the
second exits 75). Telegram unreachable → 75; a bad token → 78.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mpx.adapters.db import intents as intents_db
from mpx.adapters.db import telegram as db
from mpx.adapters.notify import Button, Keyboard
from mpx.adapters.notify.telegram import BotApi, BotApiError
from mpx.domain.durations import format_duration
from mpx.domain.telegram import LABELS, Tap, callback_data, intent_text, key_from_token, parse_callback, verdict_text
from mpx.errors import ConfigError, MpxError, TempFailError
from mpx.jobs import intents
from mpx.jobs.contract import Context, JobResult
from mpx.log import get_logger

log = get_logger(__name__)
LONG_POLL = 25
"""Seconds one getUpdates waits at most in ``--for`` mode."""


@dataclass
class PollResult(JobResult):
    updates: int = 0
    acted: int = 0
    refused: int = 0


Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def run_poll(ctx: Context[PollResult], *, for_: timedelta | None = None, clock: Clock = _now,
             api: BotApi | None = None) -> PollResult:
    s = ctx.settings
    token = s.telegram_bot_token.get_secret_value() if s.telegram_bot_token else ""
    if not token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set: there is no bot to poll",
                          hint="set TELEGRAM_BOT_TOKEN (and TELEGRAM_ALLOWED_USERS) in .env")
    bot = api or BotApi.from_settings(s)
    res = PollResult()
    if not s.allowed_telegram_users:
        res.warnings.append("TELEGRAM_ALLOWED_USERS is empty: every tap is refused")
    poller = _Poller(ctx, bot, key_from_token(token), clock, res)
    deadline = None if for_ is None else time.monotonic() + for_.total_seconds()
    try:
        offset = db.get_offset(ctx.conn)
        ctx.conn.commit()
        while True:
            wait = 0 if deadline is None else max(0, min(LONG_POLL, int(deadline - time.monotonic())))
            try:
                updates = bot.get_updates(offset, wait)
            except BotApiError as exc:
                if exc.status in (401, 404):
                    raise ConfigError(f"Telegram refused the bot token: {exc}", hint="check TELEGRAM_BOT_TOKEN") \
                        from None
                raise TempFailError(f"Telegram unavailable: {exc}", hint="the next pass retries") from None
            for update in updates:
                res.updates += 1
                poller.handle(update)
                offset = int(update["update_id"]) + 1
                db.set_offset(ctx.conn, offset)
                ctx.conn.commit()
            if deadline is None or time.monotonic() >= deadline:
                break
    finally:
        if api is None:
            bot.close()
    taps = ctx.metrics.gauge("mpx_telegram_taps", "Button taps this pass acted on or refused", ("outcome",))
    taps.labels("acted").set(res.acted)
    taps.labels("refused").set(res.refused)
    res.rows = res.updates
    res.details = {"updates": res.updates, "acted": res.acted, "refused": res.refused}
    return res


class _Poller:
    def __init__(self, ctx: Context[Any], bot: BotApi, key: bytes, clock: Clock, res: PollResult) -> None:
        self.ctx, self.bot, self.key, self.clock, self.res = ctx, bot, key, clock, res

    def handle(self, update: dict[str, Any]) -> None:
        cq = update.get("callback_query")
        if not isinstance(cq, dict):
            return  # only callback queries are asked for; anything else is skipped
        conn, s = self.ctx.conn, self.ctx.settings
        user = cq.get("from") or {}
        uid = user.get("id")
        who = f"telegram:{uid}" + (f" (@{user['username']})" if user.get("username") else "")
        msg = cq.get("message") or {}
        chat_id, message_id = (msg.get("chat") or {}).get("id"), msg.get("message_id")
        tap = parse_callback(self.key, str(cq.get("data") or ""))
        action_id = db.claim(conn, str(cq["id"]), int(update["update_id"]), uid, user.get("username"),
                             tap.action if tap else None, tap.target if tap else None)
        conn.commit()
        if action_id is None:
            log.info("callback query already handled", extra={"job": "telegram", "update": update["update_id"]})
            return
        if uid not in s.allowed_telegram_users:
            self._refuse(action_id, cq, "refused", f"{who} is not in TELEGRAM_ALLOWED_USERS",
                         f"Not allowed: your Telegram user id {uid} is not in TELEGRAM_ALLOWED_USERS.")
            return
        if tap is None:
            self._refuse(action_id, cq, "forged", f"{who}: callback data not signed by this bot",
                         "This button was not issued by mpx: ignored.")
            return
        now = self.clock()
        ttl = s.exec_confirm_ttl
        if tap.expired(now, ttl):
            age = format_duration(now - tap.issued)
            what = f"signal {tap.target}" if tap.action == "create" else f"intent {tap.target}"
            self._refuse(action_id, cq, "expired", f"{who}: {tap.action} {what} button {age} old (EXEC_CONFIRM_TTL "
                         f"{format_duration(ttl)})",
                         f"Expired: this button is {age} old; buttons last {format_duration(ttl)} "
                         f"(EXEC_CONFIRM_TTL). Nothing was done — look again: `mpx intents` or a newer alert.")
            return
        try:
            outcome, detail, toast = self._act(tap, who, chat_id, message_id, now)
        except MpxError as exc:
            if exc.exit_code == 75:
                raise
            outcome, detail, toast = "error", exc.message, exc.message
        db.finish(conn, action_id, outcome, detail)
        conn.commit()
        self.res.acted += 1
        log.info("telegram tap", extra={"job": "telegram", "user": uid, "action": tap.action,
                                        "target": tap.target, "outcome": outcome})
        self._answer(cq, toast, alert=outcome in ("error", "rejected", "failed", "unwound", "unwinding"))

    def _refuse(self, action_id: int, cq: dict[str, Any], outcome: str, detail: str, toast: str) -> None:
        db.finish(self.ctx.conn, action_id, outcome, detail)
        self.ctx.conn.commit()
        self.res.refused += 1
        log.warning(f"telegram tap {outcome}: {detail}", extra={"job": "telegram"})
        self._answer(cq, toast, alert=True)

    def _answer(self, cq: dict[str, Any], text: str, *, alert: bool) -> None:
        try:
            self.bot.answer_callback(str(cq["id"]), text, alert=alert)
        except BotApiError as exc:  # the action stands (recorded); only the toast is lost
            log.warning(f"answerCallbackQuery failed: {exc}", extra={"job": "telegram"})

    def _edit(self, chat_id: Any, message_id: Any, text: str, keyboard: Keyboard = ()) -> None:
        if chat_id is None or message_id is None:
            return
        try:
            self.bot.edit_message(chat_id, int(message_id), text, keyboard)
        except BotApiError as exc:
            log.warning(f"editMessageText failed: {exc}", extra={"job": "telegram"})

    def intent_buttons(self, intent_id: int, issued: datetime) -> Keyboard:
        return [[Button(LABELS["confirm"], callback_data(self.key, "confirm", intent_id, issued)),
                 Button(LABELS["cancel"], callback_data(self.key, "cancel", intent_id, issued))]]

    def _act(self, tap: Tap, who: str, chat_id: Any, message_id: Any, now: datetime) -> tuple[str, str, str]:
        """(outcome, detail for the audit row, the trader's toast)."""
        ctx = self.ctx
        if tap.action == "create":
            res = intents.create(ctx, tap.target)
            intent = res.intent
            links = db.market_links(ctx.conn, intent.get("market_ids") or [])
            ctx.conn.commit()
            text = intent_text(intent, links) + f"\n<i>created by {who}</i>"
            try:
                if chat_id is not None:
                    self.bot.send_message(chat_id, text, self.intent_buttons(int(intent["id"]), now),
                                          reply_to=message_id)
            except BotApiError as exc:
                log.warning(f"sendMessage failed: {exc}", extra={"job": "telegram"})
            return ("created", f"intent {intent['id']} from signal {tap.target}",
                    f"Intent {intent['id']} created ({intent['notional']} USDC): Confirm or Cancel it below.")
        if tap.action == "confirm":
            res = intents.confirm(ctx, tap.target)
            intent = intents_db.get_intent(ctx.conn, tap.target) or res.intent
            links = db.market_links(ctx.conn, intent.get("market_ids") or [])
            ctx.conn.commit()
            if res.outcome == "already":
                return ("already", f"intent {tap.target} already {intent['status']}",
                        f"Intent {tap.target} is already {intent['status']}: not executed again.")
            checks = [c.line for c in res.verdict.checks] if res.verdict else []
            self._edit(chat_id, message_id, verdict_text(intent, res.outcome, checks, who, now, links))
            return (res.outcome, str(intent.get("reason") or ""), f"Intent {tap.target}: {res.outcome}.")
        res = intents.cancel(ctx, tap.target, f"cancelled in Telegram by {who}")
        intent = intents_db.get_intent(ctx.conn, tap.target) or res.intent
        ctx.conn.commit()
        self._edit(chat_id, message_id, verdict_text(intent, "cancelled", [], who, now))
        return "cancelled", f"intent {tap.target} cancelled", f"Intent {tap.target} cancelled."
