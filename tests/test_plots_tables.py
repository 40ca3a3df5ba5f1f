import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from salesplan import plots, tables  # noqa: E402


def test_chinese_labels_render_without_missing_glyphs():
    plots.apply_theme()
    assert plots.cjk_font_path() is not None
    ax = plots.bar_sorted(
        pd.Series({"华东精密机械有限公司": 3e6, "王伟": 1e6, "North": 2e6}), "客户销售 Sales by customer"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        ax.figure.canvas.draw()
    plt.close(ax.figure)


def test_money_ticks_keep_needed_decimals():
    f = plots.money_formatter("M")
    assert f(500_000, 0) == "0.5"
    assert f(2_000_000, 0) == "2"
    assert f(1_234_000_000, 0) == "1,234"


def test_waterfall_ends_where_the_steps_lead():
    steps = pd.DataFrame({"label": ["2025", "price", "volume", "2026"], "value": [100.0, 5.0, -3.0, 102.0]})
    ax = plots.waterfall(steps, "w", unit="", start_label="2025", end_label="2026")
    patches = ax.patches
    # the volume bar floats from 105 down to 102
    assert patches[2].get_y() == 102.0 and patches[2].get_height() == 3.0
    plt.close(ax.figure)


def test_formats():
    assert tables.fmt_money(1_234_567.8) == "1,234,568"
    assert tables.fmt_money(1_234_567.8, "M") == "1.2 M"
    assert tables.fmt_pct(0.1234) == "12.3 %"
    assert tables.fmt_pct(-0.05, signed=True) == "-5.0 %"
    assert tables.fmt_pct(float("nan")) == "–"
    assert tables.rag_label("red").startswith("■")


def test_rag_style_colours_status_cells():
    df = pd.DataFrame({"x": [1.0, 2.0], "status": ["green", "dark_red"]})
    html = tables.rag_style(tables.style_table(df, money=["x"]), "status").to_html()
    assert plots.RAG["dark_red"] in html and plots.RAG["green"] in html


def test_every_status_symbol_renders_in_the_chart_font():
    plots.apply_theme()
    fig, ax = plt.subplots()
    ax.set_title(" ".join(plots.RAG_SYMBOL.values()) + " 状态")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    plt.close(fig)


def test_status_cells_take_the_chart_palette_and_a_readable_text_colour():
    for status in ("green", "yellow", "red", "dark_red", "ahead"):
        css = tables.status_css(status)
        assert plots.RAG[status] in css and f"color: {plots.base.RAG_TEXT[status]}" in css
    assert tables.status_css("no_target") == "" and tables.status_css(None) == ""
    assert tables.rag_label("dark_red") == f"{plots.RAG_SYMBOL['dark_red']} dark red"


def test_rep_attainment_chart_colours_each_rep_by_its_status() -> None:
    """98.8 % is green in the retrospective's bands, so it is green in the review's chart too."""
    from matplotlib.colors import to_hex

    from salesplan.plots import review as review_plots
    from salesplan.plots.base import RAG

    results = pd.DataFrame(
        {
            "rep_name": ["A", "B", "C"],
            "attainment": [0.988, 0.80, 1.10],
            "tenure_years": [1.0, 2.0, 3.0],
            "status": ["green", "dark_red", "ahead"],
        }
    )
    fig = review_plots.rep_attainment(results, "reps")
    colours = {p.get_width(): to_hex(p.get_facecolor()) for p in fig.axes[0].patches}
    assert colours[0.988] == RAG["green"].lower()
    assert colours[0.80] == RAG["dark_red"].lower()
    assert colours[1.10] == RAG["ahead"].lower()


def test_units_format_every_figure_one_way():
    from salesplan import units

    assert units.fmt_money(1_019_025_417.70, "M") == "1,019.0 M"
    assert units.fmt_money(-9_284_312.16, "M", signed=True) == "-9.3 M"
    assert units.fmt_money(1_500, "K", 0) == "2 K"
    assert units.fmt_pct(0.77) == "77.0 %" and units.fmt_pct(0.023, 1, signed=True) == "+2.3 %"
    assert units.fmt_year(2027) == "2027" and units.fmt_year(2027.0) == "2027"
    assert units.fmt_date(pd.Timestamp("2027-01-01"), monthly=True) == "2027-01"
    assert units.fmt_date(pd.Timestamp("2027-01-01 00:00:00")) == "2027-01-01"
    for missing in (None, float("nan"), pd.NA, pd.NaT):
        assert units.fmt_money(missing, "M") == units.fmt_pct(missing) == units.fmt_int(missing) == "–"
    assert units.axis_label("Year-end net sales (M)", "M") == "Year-end net sales (M)"
    assert units.axis_label("Net sales", "M", "CNY") == "Net sales (M CNY)"
    with pytest.raises(ValueError, match="'X'"):
        units.fmt_money(1.0, "X")


def test_the_money_unit_is_the_report_setting():
    from salesplan import units
    from salesplan.config import load_settings

    assert units.money_unit(load_settings()) == "M"  # the method's default, defaults.yaml
    settings = load_settings(overrides={"report": {"money_unit": "K", "currency": "EUR"}})
    assert units.money_unit(settings) == "K" and units.currency(settings) == "EUR"
    with pytest.raises(Exception, match="money_unit"):
        load_settings(overrides={"report": {"money_unit": "X"}})


def test_a_table_shows_words_years_dates_and_dashes_never_raw_values():
    frame = pd.DataFrame(
        {
            "rep_id": ["R1", "R2"],
            "plan_year": [2027, 2027],
            "month": pd.to_datetime(["2027-01-01", "2027-02-01"]),
            "first_date": pd.to_datetime(["2027-01-03", None]),
            "row": pd.array([None, 1448], dtype="Int64"),
            "score": [1448.0, float("nan")],
            "flag_status": ["dark_red", "green"],
            "note": [None, "x"],
        }
    )
    html = tables.style_table(frame).to_html()
    for raw in ("rep_id", "first_date", "flag_status", "NaN", "&lt;NA&gt;", "<NA>", "None", "NaT", "1448.0",
                "2,027", "00:00:00", "dark_red", ">0<"):  # fmt: skip
        assert raw not in html, raw
    for shown in ("Rep ID", "Plan year", "First date", "Flag status", ">2027<", ">2027-01<", ">2027-01-03<",
                  ">1,448<", "◆ dark red", ">–<"):  # fmt: skip
        assert shown in html, shown


def test_a_review_table_is_the_one_table_builder_with_attainment_colours():
    from salesplan import review, status

    frame = pd.DataFrame(
        {"net_amount": [2e6, 1e6], "attainment": [0.80, 1.10]}, index=pd.Index(["N", "S"], name="region")
    )
    styled = review.style_review_table(
        frame,
        money=["net_amount"],
        attainment=["attainment"],
        rename={"net_amount": "Net sales", "attainment": "Attainment"},
    )
    assert isinstance(styled, tables.PageTable)
    html = styled.to_html()
    assert "Net sales (M)" in html and "80.0 %" in html
    assert status.STATUS_COLOURS["dark_red"] in html and status.STATUS_COLOURS["ahead"] in html
    assert "2.0 M" not in repr(styled) and "2.0" in repr(styled)


def test_charts_name_the_unit_once_and_fill_the_page_width():
    from salesplan.plots import forecast as fc_plots
    from salesplan.plots.base import PAGE_WIDE

    landing = pd.DataFrame({"item": ["North"], "landing": [5e6], "lo_80": [4e6], "hi_80": [6e6], "target": [5.5e6]})
    ax = fc_plots.landing_bars(landing, "Landing", 80, "M")
    assert ax.get_xlabel().count("(M)") == 1
    plt.close(ax.figure)
    ax = plots.waterfall(pd.DataFrame({"label": ["a", "b", "c"], "value": [1.0, 0.5, 1.5]}), "w", unit="")
    assert ax.figure.get_size_inches()[0] >= PAGE_WIDE[0] >= 10.5
    plt.close(ax.figure)


def test_dates_as_row_labels_carry_no_clock():
    frame = pd.DataFrame({"actual": [1.0, 2.0]}, index=pd.DatetimeIndex(["2027-01-01", "2027-02-01"], name="month"))
    html = tables.style_table(frame, ints=["actual"]).to_html()
    assert "00:00:00" not in html and ">2027-01<" in html and ">Month<" in html
