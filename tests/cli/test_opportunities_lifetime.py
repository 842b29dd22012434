"""`mpx opportunities` shows how long an episode really lived: stream passes are sub-second apart."""

from __future__ import annotations

from datetime import timedelta

from mpx.cli.opportunities import lived
from mpx.domain.durations import parse_duration


def test_sub_minute_lifetimes_keep_their_milliseconds_and_read_back() -> None:
    assert lived(timedelta(milliseconds=350)) == "0.35s"
    assert lived(timedelta(seconds=12, milliseconds=4)) == "12.004s"
    assert lived(timedelta(seconds=3)) == "3s"
    assert lived(timedelta(0)) == "0s"
    assert lived(timedelta(minutes=5, seconds=12, milliseconds=700)) == "5m12s"
    for td in (timedelta(milliseconds=350), timedelta(seconds=12, milliseconds=4)):
        assert parse_duration(lived(td)) == td
