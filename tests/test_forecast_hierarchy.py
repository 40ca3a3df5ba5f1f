"""The company forecast: every level coherent, landing against targets, fan chart."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from salesplan.config import deep_merge, load_defaults
from salesplan.forecast import forecast_hierarchy, landing_table
from salesplan.plots.forecast import fan_chart, pipeline_view

REPS = pd.DataFrame({"rep_id": ["r1", "r2", "r3"], "region": ["N", "N", "S"]})
CONFIG = deep_merge(
    load_defaults()["forecast"],
    {
        "levels": [80, 95],
        "horizon": 4,
        "season_length": 12,
        "reconciliation": "mint_shrink",
        "max_origins": 12,
        "pipeline": {"stage_probability": {"proposal": 0.4}, "blend_weights": [0.5, 0.3], "min_closed": 10},
        # The recalibration has tests of its own (test_forecast_calibration); here the model's P(hit).
        "p_hit_calibration": {"method": "identity"},
    },
)


def _cube() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    months = pd.date_range("2023-01-01", "2025-09-01", freq="MS")
    rows = []
    for rep, region in zip(REPS["rep_id"], REPS["region"], strict=True):
        for line, size in (("P", 100.0), ("Q", 40.0)):
            t = np.arange(len(months))
            y = size * (1 + 0.01 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 0.05 * size, len(t))
            rows.append(
                pd.DataFrame({"month": months, "region": region, "product_line": line, "rep_id": rep, "net_amount": y})
            )
    return pd.concat(rows, ignore_index=True)


def _targets(scale: float) -> pd.DataFrame:
    cube = _cube()
    last = cube[cube["month"].dt.year == 2024]
    t = last.groupby([last["month"].dt.month.rename("month"), "region", "product_line", "rep_id"])["net_amount"].sum()
    return (t * scale).rename("target_amount").reset_index().assign(year=2025)


@pytest.fixture(scope="module")
def fc():
    pipe = pd.DataFrame(
        {
            "opportunity_id": ["o1", "o2"],
            "snapshot_date": ["2025-09-30", "2025-09-30"],
            "region": ["N", "S"],
            "product_line": ["P", "Q"],
            "rep_id": ["r1", "r3"],
            "stage": ["proposal", "proposal"],
            "amount": [200.0, 50.0],
            "expected_close_date": ["2025-10-15", "2025-11-15"],
            "status": ["open", "open"],
        }
    )
    return forecast_hierarchy(_cube(), "2025-09", CONFIG, pipeline=pipe, reps=REPS, n_jobs=1)


def test_every_level_adds_up_to_the_total(fc) -> None:
    f = fc.forecast
    assert f["ds"].min() == pd.Timestamp("2025-10-01")
    assert f.groupby("unique_id").size().min() == 4  # horizon reaches at least the year end
    total = f[f["unique_id"] == "total"].set_index("ds")
    for level in ("region", "product_line", "region|product_line", "rep_id"):
        for col in ("forecast", "blended"):
            s = f[f["level"] == level].groupby("ds")[col].sum()
            assert np.allclose(s, total[col]), (level, col)
    north = f[f["unique_id"].isin(["rep_id=r1", "rep_id=r2"])].groupby("ds")["blended"].sum()
    assert np.allclose(north, f[f["unique_id"] == "region=N"].set_index("ds")["blended"])
    # Bands are ordered around the final forecast.
    assert (
        (f["lo_95"] <= f["lo_80"]).all() and (f["lo_80"] <= f["blended"]).all() and (f["blended"] <= f["hi_80"]).all()
    )
    assert fc.pipeline is not None and fc.win_rates is not None


def test_landing_table_arithmetic_and_probability(fc) -> None:
    cube = _cube()
    easy = landing_table(cube, _targets(0.8), "2025-09", ["region"], CONFIG, fc=fc).set_index("unique_id")
    hard = landing_table(cube, _targets(1.5), "2025-09", ["region"], CONFIG, fc=fc).set_index("unique_id")
    assert list(easy.index) == ["total", "region=N", "region=S"]
    ytd = cube[(cube["month"] >= "2025-01-01") & (cube["month"] <= "2025-09-01")].groupby("region")["net_amount"].sum()
    assert easy.loc["region=N", "ytd"] == pytest.approx(ytd["N"])
    f = fc.forecast
    rest = f[(f["unique_id"] == "region=N") & (f["ds"] <= "2025-12-01")]["blended"].sum()
    assert easy.loc["region=N", "landing"] == pytest.approx(ytd["N"] + rest)
    assert easy.loc["region=N", "gap"] == pytest.approx(
        easy.loc["region=N", "landing"] - easy.loc["region=N", "target"]
    )
    assert easy.loc["region=N", "run_rate_needed"] == pytest.approx((easy.loc["region=N", "target"] - ytd["N"]) / 3)
    assert easy.loc["total", "target"] == pytest.approx(easy.loc[["region=N", "region=S"], "target"].sum())
    assert (easy["p_hit"] > 0.9).all() and (hard["p_hit"] < 0.1).all()


def test_fan_chart_draws(fc) -> None:
    h = fc.history[fc.history["unique_id"] == "total"]
    f = fc.forecast[fc.forecast["unique_id"] == "total"]
    ax = fan_chart(h, f, "Total", target=pd.DataFrame({"ds": f["ds"], "target_amount": 300.0}))
    assert ax.get_title() == "Total" and ax.get_ylabel().startswith("Net sales")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"Actual", "Forecast", "Target", "80 % interval", "95 % interval"} <= set(labels)
    assert pipeline_view(f, "Pipeline").get_xlabel() == "Month"


def test_summary_backtest_scores_the_total_regions_and_product_lines_only() -> None:
    from salesplan.config import default_settings
    from salesplan.forecast import HierarchyForecast, backtest, engine_options, summary_backtest

    rng = np.random.default_rng(3)
    ids = [
        "total",
        "region=North",
        "region=South",
        "product_line=Tools",
        "region=North|product_line=Tools",
        "rep_id=R1",
    ]
    ds = pd.date_range("2022-01-01", periods=40, freq="MS")
    history = pd.concat(
        [pd.DataFrame({"unique_id": u, "ds": ds, "y": 100 + 10 * rng.standard_normal(40)}) for u in ids],
        ignore_index=True,
    )
    fc = HierarchyForecast(
        month=pd.Period("2025-04", freq="M"),
        history=history,
        forecast=pd.DataFrame(),
        fits=dict.fromkeys(ids),
        levels=[80, 95],
        reconciliation="none",
        horizon=8,
        season_length=12,
    )
    settings = default_settings().forecast
    scores = summary_backtest(fc, settings)
    shown = ["total", "region=North", "region=South", "product_line=Tools"]
    assert sorted(scores["unique_id"]) == sorted(shown)
    assert set(scores["series"]) == {"total", "region North", "region South", "product line Tools"}
    direct = backtest(
        history[history["unique_id"].isin(shown)],
        horizon=settings.backtest_horizon,
        windows=settings.cv_windows,
        step=settings.backtest_step,
        min_history=settings.min_history_months,
        **engine_options(settings),
    )
    pd.testing.assert_frame_equal(scores.drop(columns="series"), direct)
