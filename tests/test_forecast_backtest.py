"""Rolling-origin backtest against the seasonal naive."""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesplan.forecast.backtest import backtest


def test_backtest_scores_each_series_against_seasonal_naive() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(40)
    trend = 100 + 3 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, 40)
    noise = 50 + rng.normal(0, 5, 40)
    df = pd.concat(
        [
            pd.DataFrame({"unique_id": "trend", "ds": pd.date_range("2023-01-01", periods=40, freq="MS"), "y": trend}),
            pd.DataFrame({"unique_id": "noise", "ds": pd.date_range("2023-01-01", periods=40, freq="MS"), "y": noise}),
            pd.DataFrame({"unique_id": "short", "ds": pd.date_range("2025-09-01", periods=8, freq="MS"), "y": 5.0}),
        ],
        ignore_index=True,
    )
    out = backtest(df, horizon=3, windows=2, step=3, n_jobs=1).set_index("unique_id")
    assert set(out.index) == {"trend", "noise"}  # too short for any origin
    assert (out["origins"] == 2).all() and (out["months"] == 6).all()
    # A trending series: the seasonal naive lags a year behind, the engine does not.
    assert out.loc["trend", "mase"] < out.loc["trend", "mase_naive"]
    assert out.loc["trend", "skill"] > 0.3
    assert out.loc["trend", "bias_naive"] < 0  # naive under-forecasts growth
    assert ((out["coverage"] >= 0) & (out["coverage"] <= 1)).all()
    assert (out["wape"] > 0).all()


def test_scores_of_hand_built_cases() -> None:
    from salesplan.forecast.backtest import score_backtest

    ds_train = pd.date_range("2020-01-01", periods=24, freq="MS")
    # Seasonal differences of the history are all 12 (a straight line, +1 a month): MASE scale 12.
    train = pd.DataFrame({"unique_id": "a", "ds": ds_train, "y": np.arange(24.0)})
    future = pd.date_range("2022-01-01", periods=3, freq="MS")
    y = np.array([24.0, 25.0, 26.0])
    cases = pd.DataFrame(
        {
            "unique_id": "a",
            "cutoff": ds_train[-1],
            "ds": future,
            "y": y,
            "engine": y + 6.0,  # 6 too high every month
            "naive": y - 12.0,  # a year behind
            "engine-lo-80": y + 1.0,  # the band misses the first month only
            "engine-hi-80": y + 10.0,
        }
    )
    cases.loc[1:, "engine-lo-80"] = y[1:] - 1.0
    out = score_backtest(cases, train, season_length=12, level=80).iloc[0]
    assert out["mase"] == 0.5 and out["mase_naive"] == 1.0 and out["skill"] == 0.5
    assert np.isclose(out["wape"], 18 / 75) and np.isclose(out["bias"], 18 / 75)
    assert np.isclose(out["bias_naive"], -36 / 75)
    assert np.isclose(out["coverage"], 2 / 3)
    assert out["origins"] == 1 and out["months"] == 3


def test_backtest_defaults_come_from_the_settings() -> None:
    from salesplan.forecast.engine import forecast_defaults

    d = forecast_defaults()
    rng = np.random.default_rng(1)
    n = d.min_history_months + d.backtest_horizon + (d.cv_windows - 1) * d.backtest_step
    df = pd.DataFrame(
        {"unique_id": "s", "ds": pd.date_range("2021-01-01", periods=n, freq="MS"), "y": 100 + rng.normal(0, 5, n)}
    )
    out = backtest(df, n_jobs=1).iloc[0]
    assert out["origins"] == d.cv_windows and out["months"] == d.cv_windows * d.backtest_horizon
