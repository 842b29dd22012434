"""The one-tap buttons' callback data (#16): small, signed, dated, and refused when altered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mpx.domain.alerts import format_alert
from mpx.domain.telegram import MAX_CALLBACK_DATA, Tap, callback_data, key_from_token, parse_callback

KEY = key_from_token("123456:TEST-token-never-logged")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_callback_data_round_trips_and_stays_within_64_bytes() -> None:
    for action in ("create", "confirm", "cancel"):
        data = callback_data(KEY, action, 9_223_372_036_854_775_807, NOW)  # the largest bigint id
        assert len(data.encode()) <= MAX_CALLBACK_DATA
        assert parse_callback(KEY, data) == Tap(action, 9_223_372_036_854_775_807, NOW)


def test_altered_foreign_or_garbage_data_is_refused() -> None:
    data = callback_data(KEY, "cancel", 42, NOW)
    action, target, issued, mac = data.split(":")
    assert parse_callback(KEY, ":".join(("f", target, issued, mac))) is None  # cancel → confirm
    assert parse_callback(KEY, ":".join((action, "43", issued, mac))) is None  # another intent
    assert parse_callback(KEY, ":".join((action, target, "zzzzzz", mac))) is None  # made younger
    assert parse_callback(key_from_token("654321:other-bot"), data) is None  # another bot's key
    for junk in ("", "f:1", "f:x:1:abc", "q:1:1:abcdefghijklmnop"):
        assert parse_callback(KEY, junk) is None
    assert "TEST-token" not in data


def test_a_tap_expires_after_the_ttl() -> None:
    tap = Tap("confirm", 1, NOW)
    assert not tap.expired(NOW + timedelta(minutes=2), timedelta(minutes=2))
    assert tap.expired(NOW + timedelta(minutes=2, seconds=1), timedelta(minutes=2))


def test_an_alert_links_each_named_event_escaped_and_skips_events_without_a_slug() -> None:
    block = format_alert({"level": "P2", "rule_type": "SPIKE", "finding_class": "indicator", "message": "moved",
                          "links": [{"question": "Will A & B <win>?", "slug": "a-b-win"},
                                    {"question": "old", "slug": ""}]})
    assert block.endswith('\n🔗 <a href="https://polymarket.com/event/a-b-win">Will A &amp; B &lt;win&gt;?</a>')
    assert block.count("🔗") == 1
