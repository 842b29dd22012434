"""Alert text: one HTML block per signal (everything from the market escaped), batched into
messages within Telegram's 4,096-character limit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape
from typing import Any
from urllib.parse import quote

TELEGRAM_LIMIT = 4096
SEPARATOR = "\n\n"
LEVELS = ("P1", "P2", "P3")
MAX_MESSAGE = 3000
"""Longest escaped signal message put in an alert (the block stays well under the limit)."""


def at_least(level: str, minimum: str) -> bool:
    """``level`` is ``minimum`` or higher (P1 is the highest)."""
    return LEVELS.index(level) <= LEVELS.index(minimum)


def format_alert(signal: Mapping[str, Any]) -> str:
    """One signal as Telegram HTML: level, class, rule, then the net edge and size of an arbitrage or
    the named measure of an indicator, in bold; the message escaped. An indicator never shows an
    edge: a spike's move or an endgame's return if right is not money the book guarantees."""
    cls = str(signal.get("finding_class") or "indicator")
    head = f"<b>{escape(str(signal['level']))} {'ARBITRAGE' if cls == 'arbitrage' else 'indicator'} " \
           f"{escape(str(signal['rule_type']))}</b>"
    if cls == "arbitrage":
        edge = signal.get("estimated_edge_bps")
        if edge is not None:
            head += f" {Decimal(str(edge)):+.2f} bps net"
        size = signal.get("executable_shares")
        notional = signal.get("executable_notional")
        if size is not None and notional is not None:
            head += f" · {Decimal(str(size)).normalize():f} sh / ${Decimal(str(notional)):.2f}"
    elif signal.get("measure") is not None and signal.get("measure_value") is not None:
        head += f" {escape(str(signal['measure']))} {Decimal(str(signal['measure_value'])):.2f}"
    reason = (signal.get("payload") or {}).get("alert")
    if reason == "improved":
        head += " <i>(improved)</i>"
    body = escape(str(signal["message"]))
    if len(body) > MAX_MESSAGE:
        body = body[: MAX_MESSAGE - 1]
        amp = body.rfind("&")
        if amp != -1 and ";" not in body[amp:]:
            body = body[:amp]  # never leave half an entity (&am…)
        body += "…"
    block = f"{head}\n{body}"
    for line in venue_links(signal.get("links") or ()):
        if len(block) + 1 + len(line) > TELEGRAM_LIMIT - 96:  # room left for the batch separators
            break
        block += "\n" + line
    return block


MAX_LINKS = 10
MAX_LINK_LABEL = 80


def venue_links(links: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per market the alert names, linked to its page on the venue (Polymarket:
    ``https://polymarket.com/event/<event slug>``) so the trader can look before tapping; markets
    of one event share its page. At most :data:`MAX_LINKS` lines (the block stays within a message)."""
    lines: list[str] = []
    for link in links:
        slug = str(link.get("slug") or "")
        if not slug:
            continue
        label = str(link.get("question") or slug)
        if len(label) > MAX_LINK_LABEL:
            label = label[: MAX_LINK_LABEL - 1] + "…"
        url = "https://polymarket.com/event/" + quote(slug, safe="-_.~")
        lines.append(f'🔗 <a href="{escape(url)}">{escape(label)}</a>')
        if len(lines) == MAX_LINKS:
            break
    return lines


def format_execution_alert(row: Mapping[str, Any]) -> str:
    """An execution alert (an outbox row without a signal: a leg killed after others filled) as
    Telegram HTML: the level and the first line in bold, the rest escaped."""
    head, _, body = str(row["text"]).partition("\n")
    if len(body) > MAX_MESSAGE:
        body = body[: MAX_MESSAGE - 1] + "…"
    return f"<b>{escape(str(row['level']))} EXECUTION {escape(head)}</b>" + (f"\n{escape(body)}" if body else "")


def batch(blocks: Sequence[str], limit: int = TELEGRAM_LIMIT) -> list[list[int]]:
    """Indexes of ``blocks`` grouped into messages of at most ``limit`` characters (joined by a blank
    line), in order."""
    out: list[list[int]] = []
    size = 0
    for i, block in enumerate(blocks):
        if out and size + len(SEPARATOR) + len(block) <= limit:
            out[-1].append(i)
            size += len(SEPARATOR) + len(block)
        else:
            out.append([i])
            size = len(block)
    return out


def message_text(blocks: Sequence[str]) -> str:
    return SEPARATOR.join(blocks)
