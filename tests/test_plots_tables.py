import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

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
    assert tables.fmt_pct(0.1234) == "12.3%"
    assert tables.fmt_pct(-0.05, signed=True) == "-5.0%"
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
