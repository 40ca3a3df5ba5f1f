"""First screen, index-page figures, the year view, the recomputed previous month and the charts."""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from salesplan import plots  # noqa: E402
from salesplan.config import load_defaults, load_settings  # noqa: E402
from salesplan.plots import retro as retro_plots  # noqa: E402
from salesplan.publish import normalise_figures  # noqa: E402
from salesplan.retro.flags import deviation_flags, flag_matrix  # noqa: E402
from salesplan.retro.kpi import format_kpi_table, kpi_table  # noqa: E402
from salesplan.retro.landing import landing_comparison  # noqa: E402
from salesplan.retro.periods import window  # noqa: E402
from salesplan.retro.report import (  # noqa: E402
    first_screen_text,
    flag_counts_by_period,
    headline_figures,
    publish_figures,
    summary_for_month,
    year_review,
)
from salesplan.retro.variance import contribution_steps, price_volume_mix_vs_plan, pvm_steps, variance_by_dimension  # noqa: E402
from salesplan.targets.allocation import UNASSIGNED  # noqa: E402

CONFIG = load_defaults()
THRESHOLDS = CONFIG["retro"]["thresholds"]
BANDS = CONFIG["risk"]["probability"]


def _data():
    rows = []
    for year, scale in ((2025, 1.0), (2026, 1.1)):
        for m in range(1, 13):
            for region, rep in (("East", "R1"), ("West", "R2")):
                for line in ("Pumps", "阀门"):
                    rows.append(
                        {
                            "month": pd.Timestamp(year, m, 1),
                            "region": region,
                            "product_line": line,
                            "tier": "core" if line == "Pumps" else "emerging",
                            "rep_id": rep,
                            "customer_id": f"C{m % 3}",
                            "channel": "direct",
                            "net_amount": 1000.0 * scale * (1.2 if region == "East" else 0.8),
                            "cost_amount": 600.0,
                            "paid_amount": 900.0,
                            "quantity": 10,
                        }
                    )
    cube = pd.DataFrame(rows)
    plan = pd.DataFrame(
        [
            {"year": 2026, "month": m, "region": r, "product_line": pl, "rep_id": rep, "target_amount": 1050.0}
            for m in range(1, 13)
            for r, rep in (("East", "R1"), ("West", "R2"), ("West", UNASSIGNED))
            for pl in ("Pumps", "阀门")
            if rep != UNASSIGNED or m == 12
        ]
    )
    reps = pd.DataFrame(
        {"rep_id": ["R1", "R2"], "rep_name": ["王伟", "Li"], "region": ["East", "West"], "level": ["lead", "mid"]}
    )
    return cube, plan, reps


def test_headline_figures_and_first_screen():
    cube, plan, reps = _data()
    cube = cube[cube["month"] <= pd.Timestamp("2026-06-01")]
    fig = headline_figures(
        cube, plan, "2026-06", {"landing": 50_000.0, "low": 48_000.0, "high": 52_000.0, "level": 80, "p_hit": 0.4}
    )
    assert fig["month_actual"] == pytest.approx(4 * 1100.0)
    assert fig["month_target"] == 4 * 1050.0
    assert fig["ytd_gap"] == pytest.approx(6 * 4 * 50.0)
    assert fig["annual_target"] == 12 * 4 * 1050.0 + 2 * 1050.0  # the unassigned December rows count
    flags = deviation_flags(cube, plan, "2026-06", reps, THRESHOLDS)
    counts = flag_counts_by_period(flags)
    # Month and year-to-date items are counted apart, each period once per item.
    assert counts.loc["month"].sum() == (flags["period"] == "month").sum()
    assert counts.loc["ytd"].sum() == (flags["period"] == "ytd").sum()
    text = first_screen_text(fig, counts, "2026-06", THRESHOLDS, BANDS)
    assert "Retrospective 2026-06" in text and "P(hit annual target) 40 %" in text
    # 50,000 against 52,500: 4.8 % short (green by the gap) but a 40 % chance: yellow by P(hit).
    assert "[yellow]" in text.splitlines()[5]
    assert "Month: dark red" in text and "Year to date: dark red" in text
    published = normalise_figures(publish_figures(fig, counts, THRESHOLDS, BANDS))
    by_label = {f["label"]: f for f in published}
    assert by_label["Landing"]["status"] == by_label["P(hit annual target)"]["status"] == "yellow"
    # Every status apart: the index's "red" is the count of red items only, never red + dark red.
    m = counts.loc["month"]
    assert by_label["Flags, month"]["value"] == (
        f"{m['dark_red']} dark red / {m['red']} red / {m['yellow']} yellow / {m['green']} green / {m['ahead']} ahead"
    )
    no_landing = headline_figures(cube, plan, "2026-06")
    assert np.isnan(no_landing["landing"])
    assert "Landing        not available" in first_screen_text(no_landing, counts, "2026-06", THRESHOLDS, BANDS)
    assert all(f["label"] != "Landing" for f in publish_figures(no_landing, counts, THRESHOLDS, BANDS))


def test_a_landing_close_to_target_with_a_tiny_chance_is_red_everywhere():
    cube, plan, reps = _data()
    fig = headline_figures(
        cube, plan, "2026-09", {"landing": 50_000.0, "low": 49_900.0, "high": 50_100.0, "level": 80, "p_hit": 0.002}
    )
    counts = flag_counts_by_period(deviation_flags(cube, plan, "2026-09", reps, THRESHOLDS))
    published = {f["label"]: f for f in normalise_figures(publish_figures(fig, counts, THRESHOLDS, BANDS))}
    assert published["Landing"]["status"] == "red" and published["P(hit annual target)"]["value"] == "< 1 %"
    assert "[red]" in first_screen_text(fig, counts, "2026-09", THRESHOLDS, BANDS)


def test_unassigned_plan_counts_in_totals_but_is_not_a_rep():
    cube, plan, reps = _data()
    flags = deviation_flags(cube, plan, "2026-12", reps, THRESHOLDS)
    assert UNASSIGNED not in set(flags.loc[flags["level"] == "rep", "rep_id"])
    west = flags[(flags["period"] == "month") & (flags["level"] == "region") & (flags["key"] == "West")].iloc[0]
    assert west["target"] == 4 * 1050.0


def test_year_review_has_yoy_per_level():
    cube, plan, _ = _data()
    view = year_review(cube, plan, "2026-12")
    assert set(view["level"]) == {"total", "region", "product_line", "rep"}
    total = view[view["level"] == "total"].iloc[0]
    assert total["yoy"] == pytest.approx(0.1)
    assert total["actual"] == pytest.approx(view.loc[view["level"] == "region", "actual"].sum())


def test_summary_for_month_recomputes_from_the_cut():
    cube, plan, reps = _data()

    summary = summary_for_month(cube, plan, "2026-05", reps, load_settings().retro, "input")
    assert summary["month"] == "2026-05"
    assert summary["figures"]["ytd_actual"] == pytest.approx(5 * 4 * 1100.0)
    assert summary["figures"]["landing"] is None  # JSON has no NaN: no landing is null
    assert summary["forecast_months"] == {}
    assert {f["period"] for f in summary["flags"]} == {"month", "ytd"}


def test_charts_render_with_titles_and_chinese_names():
    plots.apply_theme()
    cube, plan, reps = _data()
    flags = deviation_flags(cube, plan, "2026-06", reps, THRESHOLDS)
    win = window("2026-06", "ytd")
    figs = [
        retro_plots.deviation_heatmap(
            flag_matrix(flags, "ytd", "deviation"), flag_matrix(flags, "ytd", "status"), "热图 deviation"
        ),
        retro_plots.variance_panels(
            {
                "pvm": pvm_steps(price_volume_mix_vs_plan(cube, plan, win)),
                "region": contribution_steps(
                    variance_by_dimension(cube, plan, win, "region"),
                    "region",
                    max_items=load_settings().retro.waterfall_items,
                ),
            },
            "variance",
        ),
        retro_plots.landing_chart(
            landing_comparison(cube, plan, "2026-06").fillna({"low": np.nan}), 50_000.0, "landing"
        ),
        retro_plots.bridge(pd.DataFrame({"label": ["a", "b", "c"], "value": [100.0, -5.0, 95.0]}), "bridge"),
    ]
    table, trend = kpi_table(cube, plan, "2026-06", load_settings().kpi, THRESHOLDS)
    figs.append(retro_plots.kpi_trends(trend, table, "kpi"))
    assert format_kpi_table(table)["Goal"].iloc[1] == "35.0 %"
    lines = pd.DataFrame({"rep_id": ["R1", "R2"], "rep_name": ["王伟", "Li"], "attainment": [1.1, np.nan]})
    figs.append(retro_plots.rep_attainment(lines, "reps", CONFIG["commission"]["tiers"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph is a warning
        for fig in figs:
            fig.canvas.draw()
            assert any(ax.get_title() for ax in fig.axes) or fig._suptitle is not None
    plt.close("all")


def test_december_first_screen_says_the_year_is_closed():
    cube, plan, reps = _data()
    fig = headline_figures(cube, plan, "2026-12", {"landing": 1.0, "low": 1.0, "high": 1.0, "level": 80, "p_hit": 0.0})
    counts = flag_counts_by_period(deviation_flags(cube, plan, "2026-12", reps, THRESHOLDS))
    text = first_screen_text(fig, counts, "2026-12", THRESHOLDS, BANDS)
    assert "year closed at" in text and "annual target reached" in text


def test_items_needing_action_are_ranked_by_money_not_by_percent():
    from salesplan.retro.report import SHORTFALL_ORDER, flag_table, flag_table_caption, rank_by_shortfall

    # A small rep far behind in % (-60 %, 0.6 short) and a large line a little behind (-11 %, 34.5 short).
    flags = pd.DataFrame(
        {
            "period": "ytd",
            "level": ["rep", "product_line", "region", "rep"],
            "key": ["R9", "Pumps", "West", "R1"],
            "item": ["small rep", "Pumps", "West", "ahead rep"],
            "owner": ["a", "b", "c", "d"],
            "actual": [0.4, 280.5, 144.0, 12.0],
            "target": [1.0, 315.0, 160.0, 10.0],
            "status": ["dark_red", "red", "red", "ahead"],
            "escalation": ["Level 3: x", "Level 2: y", "Level 2: y", ""],
        }
    ).assign(
        gap=lambda d: d["actual"] - d["target"],
        attainment=lambda d: d["actual"] / d["target"],
        deviation=lambda d: d["actual"] / d["target"] - 1,
    )
    ranked = rank_by_shortfall(flags)
    assert ranked["key"].tolist() == ["Pumps", "West", "R9", "R1"]
    assert ranked["shortfall"].tolist() == pytest.approx([34.5, 16.0, 0.6, -2.0])
    shown = flag_table(flags, "ytd", "x", ("dark_red", "red"), limit=2).data
    assert shown["item"].tolist() == ["Pumps", "West"]  # the -60 % rep is not among the two largest
    assert flag_table_caption("Year to date", ranked=True) == f"Year to date, {SHORTFALL_ORDER}"
    assert "target - actual" in SHORTFALL_ORDER
