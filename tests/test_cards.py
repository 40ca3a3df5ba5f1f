"""Page components: cards carry the chip's symbol and word, escape every text from data, and
read as plain text where a notebook compares its output."""

from __future__ import annotations

import pandas as pd
import pytest

from salesplan import cards
from salesplan.status import STATUS_COLOURS, STATUS_SYMBOLS, STATUS_TEXT, STATUS_WORDS

HOSTILE = '<script>alert("x")</script> & <b>'


@pytest.mark.parametrize("status", ["ahead", "green", "yellow", "red", "dark_red"])
def test_a_chip_carries_its_symbol_word_and_colours(status: str) -> None:
    html = cards.chip(status)
    assert f"{STATUS_SYMBOLS[status]} {STATUS_WORDS[status]}" in html
    assert STATUS_COLOURS[status] in html and f"color: {STATUS_TEXT[status]}" in html
    assert f'class="chip chip-{status.replace("_", "-")}"' in html
    assert "_" not in html.split(">", 1)[1], "the word is written, never the key (dark red, not dark_red)"


def test_no_status_has_no_chip_and_an_unknown_one_is_refused() -> None:
    assert cards.chip(None) == "" and cards.chip(float("nan")) == ""
    with pytest.raises(cards.CardError, match="purple"):
        cards.chip("purple")


def test_a_card_escapes_title_label_value_and_note() -> None:
    c = cards.card(HOSTILE, [{"label": HOSTILE, "value": HOSTILE, "note": HOSTILE, "status": "red"}], primary=True)
    html = c.html()
    assert "<script>" not in html and "<b>" not in html
    assert html.count("&lt;script&gt;") == 4
    assert html.startswith('<section class="card primary">')
    assert '<td class="value">' in html and '<div class="note">' in html and "■ red" in html


def test_a_card_takes_the_headline_figures_the_pages_already_build() -> None:
    figures = [
        {"label": "Month 2026-10", "value": "105.4 M", "raw": 105.4e6, "status": "yellow", "note": "target 114.7 M"},
        {"label": "Plan 2026", "value": "supplied targets table", "raw": None, "note": "targets.csv"},
    ]
    c = cards.card("Retrospective 2026-10", figures)
    assert [f.label for f in c.figures] == ["Month 2026-10", "Plan 2026"]
    text = repr(c)
    assert "Month 2026-10: 105.4 M [▲ yellow] (target 114.7 M)" in text
    assert "105400000" not in text and "raw" not in text


def test_a_figure_without_value_or_with_an_unknown_status_is_refused_by_name() -> None:
    with pytest.raises(cards.CardError, match="'value'"):
        cards.card("t", [{"label": "Landing"}])
    with pytest.raises(cards.CardError, match="Landing.*orange"):
        cards.card("t", [{"label": "Landing", "value": "1 M", "status": "orange"}])


def test_missing_values_show_a_dash_never_nan() -> None:
    c = cards.card("t", [{"label": "P(hit)", "value": float("nan")}, {"label": "x", "value": pd.NA}])
    assert "nan" not in c.html().lower() and "&lt;NA&gt;" not in c.html() and c.html().count(">–<") == 2


def test_prose_is_paragraphs_and_lists_escaped_and_never_preformatted() -> None:
    p = cards.prose(["A sentence about <North>.", "- first point", "- second & last"], title="Findings")
    html = p.html()
    assert "<pre" not in html
    assert "<p>A sentence about &lt;North&gt;.</p>" in html
    assert "<ul><li>first point</li><li>second &amp; last</li></ul>" in html
    assert repr(p).startswith("Findings\nA sentence")


def test_a_log_stays_closed_inside_details() -> None:
    html = cards.log("raw <text>", "Log of the run").html()
    assert html.startswith('<details class="log"><summary>Log of the run</summary>')
    assert "open" not in html.split(">", 1)[0] and "raw &lt;text&gt;" in html


def test_the_legend_names_every_status_once_with_its_band() -> None:
    legend = cards.legend({"yellow": 0.05, "red": 0.10, "dark_red": 0.15, "ahead": 0.05})
    html = legend.html()
    for status in ("ahead", "green", "yellow", "red", "dark_red"):
        assert html.count(f'chip-{status.replace("_", "-")}"') == 1
    assert "10-15 % behind" in html and "more than 15 % behind" in html


def test_a_settings_table_becomes_a_card_of_setting_value_and_key() -> None:
    table = pd.DataFrame(
        {"setting": ["Team penalty below"], "key": ["commission.team_penalty_below"], "value": ["0.8"]}
    )
    c = cards.settings_card(table, "Commission settings")
    assert c.figures[0].label == "Team penalty below" and c.figures[0].value == "0.8"
    assert c.figures[0].note == "key commission.team_penalty_below"


def test_the_headline_shows_a_card_and_publishes_the_index_payload(monkeypatch) -> None:
    from salesplan.publish import HEADLINE_MIME

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    cards.headline("Forecast 2026", [{"label": "Landing", "value": "1,254.0 M", "raw": 1.254e9, "status": "red"}])
    (bundle,) = shown
    assert '<section class="card">' in bundle["text/html"] and "■ red" in bundle["text/html"]
    assert bundle[HEADLINE_MIME]["figures"][0]["raw"] == 1.254e9
