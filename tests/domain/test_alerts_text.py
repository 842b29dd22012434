"""Alert text: HTML escaped, batched within Telegram's 4,096 characters, in order."""

from __future__ import annotations

from decimal import Decimal as D

from mpx.domain.alerts import TELEGRAM_LIMIT, at_least, batch, format_alert, message_text


def signal(message: str, **kw: object) -> dict[str, object]:
    return {"level": "P1", "rule_type": "SUM_LT_1", "finding_class": "arbitrage", "message": message,
            "estimated_edge_bps": D("526.31"), "executable_shares": D("100.00"), "executable_notional": D("95"),
            "payload": {}, **kw}


def test_format_escapes_the_market_text_and_shows_edge_and_size() -> None:
    text = format_alert(signal("Will <Lab> & co ship?"))
    assert text == "<b>P1 ARBITRAGE SUM_LT_1</b> +526.31 bps net · 100 sh / $95.00\nWill &lt;Lab&gt; &amp; co ship?"


def test_an_indicator_shows_its_measure_and_never_an_edge() -> None:
    info = format_alert(signal("gap", finding_class="indicator", estimated_edge_bps=None, executable_shares=None,
                               executable_notional=None, level="P3", rule_type="SYNONYM_MISPRICE",
                               measure="gap_bps", measure_value=D("700"), payload={"alert": "improved"}))
    assert info == "<b>P3 indicator SYNONYM_MISPRICE</b> gap_bps 700.00 <i>(improved)</i>\ngap"
    spike = format_alert(signal("jump", finding_class="indicator", rule_type="SPIKE", measure="move_bps",
                                measure_value=D("1500")))  # an edge column left over is not shown
    assert spike.startswith("<b>P1 indicator SPIKE</b> move_bps 1500.00\n") and "bps net" not in spike


def test_a_huge_message_is_cut_before_escaping() -> None:
    text = format_alert(signal("&" * 10_000))
    assert len(text) < TELEGRAM_LIMIT and text.endswith("&amp;…")


def test_batches_fill_up_to_the_limit_in_order() -> None:
    blocks = ["x" * 1000] * 9
    groups = batch(blocks)
    # 4 blocks + 3 separators = 4006 ≤ 4096; a fifth would be 5008
    assert groups == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    assert all(len(message_text([blocks[i] for i in g])) <= TELEGRAM_LIMIT for g in groups)
    assert batch([]) == []


def test_levels_at_least() -> None:
    assert at_least("P1", "P2") and at_least("P2", "P2") and not at_least("P3", "P2")
