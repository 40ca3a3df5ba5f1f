"""Target charts: each draws a titled figure with labelled axes, Chinese names included."""

import warnings

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from salesplan import plots
from salesplan.plots import targets as tp_plots


@pytest.fixture(autouse=True)
def _theme():
    plots.apply_theme()
    yield
    plt.close("all")


def _check(fig, title_part):
    ax = fig.axes[0]
    assert title_part in ax.get_title()
    assert ax.get_xlabel() and ax.get_ylabel()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing CJK glyph warns
        fig.canvas.draw()


def test_waterfall_ends_at_the_target():
    baseline = pd.DataFrame(
        {"step": ["last_year", "cagr_growth", "price_change", "new_products", "new_regions", "baseline", "stretch"],
         "amount": [100e6, 8e6, 0.0, 2e6, 0.0, 110e6, 121e6], "kind": ["total"] + ["delta"] * 4 + ["total"] * 2}
    )  # fmt: skip
    fig = tp_plots.target_waterfall(baseline, 115e6, "Waterfall")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    # Zero increments are left out; the reconciliation step closes the gap from baseline to target.
    assert labels == ["Last 12 months", "CAGR growth", "New products", "Reconciliation", "Target"]
    _check(fig, "Waterfall")


def test_other_charts():
    methods = pd.DataFrame({"method": ["Top-down", "Bottom-up"], "amount": [110e6, 104e6]})
    _check(tp_plots.method_comparison(methods, 110e6, "Methods"), "Methods")
    months = pd.DataFrame({"month_of_year": range(1, 13), "target_amount": [10e6] * 12})
    _check(tp_plots.phasing_vs_last_year(months, pd.Series([9e6] * 12, index=range(1, 13)), "Phasing"), "Phasing")
    plan = pd.DataFrame(
        {"region": ["华东", "North"], "product_line": ["工业阀门", "Pumps"], "target_amount": [5e6, 7e6]}
    )  # fmt: skip
    _check(tp_plots.region_product_heatmap(plan, "Heat"), "Heat")
    reps = pd.DataFrame(
        {"label": ["王伟", "李娜", "New"], "last_year": [5e6, 8e6, 0.0], "quota": [5.5e6, 8.4e6, 2e6],
         "level": ["junior", "senior", "mid"]}
    )  # fmt: skip
    _check(tp_plots.quota_vs_last_year(reps, "Quota"), "Quota")
    table = pd.DataFrame(
        {"scenario": ["conservative", "base", "stretch"], "last_year": [100e6] * 3, "final": [108e6, 110e6, 112e6],
         "growth": [0.08, 0.10, 0.12]}
    )  # fmt: skip
    _check(tp_plots.scenario_comparison(table, "Scenarios"), "Scenarios")
    draws = pd.Series([1e5, 1.1e5, 1.2e5, 1.05e5])
    _check(tp_plots.payout_distribution(draws, 1.09e5, 1.02e5, 1.18e5, "Payout"), "Payout")
