"""The global LightGBM member and its blend into the local ensemble."""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesplan.forecast.engine import fit_series
from salesplan.forecast.global_model import blend, eligible, global_forecast


def _panel(n_series: int = 6, months: int = 48, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    rows = []
    for i in range(n_series):
        level = 100 * (i + 1)
        y = level * (1 + 0.01 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, level * 0.02, months)
        rows.append(
            pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2020-01-01", periods=months, freq="MS"), "y": y})
        )
    return pd.concat(rows, ignore_index=True)


def test_global_forecast_is_reproducible_and_follows_the_season() -> None:
    df = _panel()
    a = global_forecast(df, 12, n_estimators=50, num_threads=1)
    b = global_forecast(df, 12, n_estimators=50, num_threads=1)
    assert len(a) == 6 * 12 and np.isfinite(a["global"]).all()
    pd.testing.assert_frame_equal(a, b)  # deterministic: same data, same forecast
    # The season peaks in April and troughs in October for every series: the model learned it.
    s0 = a[a["unique_id"] == "s0"].set_index(a[a["unique_id"] == "s0"]["ds"].dt.month)["global"]
    assert s0.loc[4] > s0.loc[10]


def test_eligible_leaves_out_short_and_negative_series() -> None:
    df = pd.concat(
        [
            _panel(2),
            pd.DataFrame({"unique_id": "short", "ds": pd.date_range("2023-01-01", periods=10, freq="MS"), "y": 5.0}),
            pd.DataFrame(
                {
                    "unique_id": "returns",
                    "ds": pd.date_range("2020-01-01", periods=48, freq="MS"),
                    "y": np.r_[-1.0, np.ones(47)],
                }
            ),
        ]
    )
    assert list(eligible(df, 24)) == ["s0", "s1"]


def test_blend_moves_the_mean_and_keeps_the_calibrated_spread() -> None:
    df = _panel(8)
    local = fit_series(df, 6, n_jobs=1, temporal_levels=(), global_member=False)
    glob = global_forecast(df, 6, n_estimators=50, num_threads=1)
    same = blend(local, glob, 0.0)
    full = blend(local, glob, 1.0)
    half = blend(local, glob, 0.5)
    for uid, f in local.items():
        g = glob.loc[glob["unique_id"] == uid, "global"].to_numpy()
        np.testing.assert_allclose(same[uid].mean, f.mean)
        np.testing.assert_allclose(full[uid].mean, g)
        np.testing.assert_allclose(half[uid].mean, (f.mean + g) / 2)
        np.testing.assert_allclose(half[uid].cov, f.cov)
        assert half[uid].df == f.df


def test_fit_series_blends_only_the_series_the_global_member_serves() -> None:
    short = pd.DataFrame(
        {"unique_id": "zz_short", "ds": pd.date_range("2022-06-01", periods=18, freq="MS"), "y": 50.0 + np.arange(18)}
    )
    df = pd.concat([_panel(8), short], ignore_index=True)
    off = fit_series(df, 6, n_jobs=1, temporal_levels=(), global_member=False)
    on = fit_series(df, 6, n_jobs=1, temporal_levels=(), global_member=True, global_weight=0.5)
    np.testing.assert_allclose(on["zz_short"].mean, off["zz_short"].mean)
    assert any(not np.allclose(on[u].mean, off[u].mean) for u in off if u != "zz_short")
