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
