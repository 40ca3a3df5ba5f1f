"""Rolling-origin backtest on the user's own data, against the seasonal naive forecast.

For each origin (the last ``windows`` cut-offs, ``step`` months apart, each forecasting
``horizon`` months with the engine refitted on the data up to the cut-off):

    MASE  = mean|y - f| / mean|y_t - y_{t-m}|      (scale: in-sample seasonal naive, m = 12;
                                                     lag 1 when the history is shorter)
    WAPE  = sum|y - f| / sum|y|
    bias  = sum(f - y) / sum|y|                     (> 0: forecasts too high)
    cover = share of actuals inside the 80 % interval

computed for the engine and for the seasonal naive (same month last year) over all origins
and horizons of a series; ``skill = 1 - MASE / MASE_naive`` (> 0: better than naive).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesplan.forecast.engine import (
    DEFAULT_TEMPORAL_LEVELS,
    DEFAULT_TEMPORAL_MIN_POINTS,
    fit_series,
    fits_to_frame,
    validate_series,
)


def _scale(y: np.ndarray, m: int) -> float:
    lag = m if len(y) > m else 1
    d = np.abs(y[lag:] - y[:-lag]) if len(y) > lag else np.array([])
    s = float(d.mean()) if len(d) else float("nan")
    return s if s > 0 else float("nan")


def _snaive(y: np.ndarray, h: int, m: int) -> np.ndarray:
    if len(y) >= m:
        return np.array([y[len(y) - m + (k % m)] for k in range(h)])
    return np.repeat(y[-1], h)


def backtest(
    df: pd.DataFrame,
    horizon: int = 6,
    windows: int = 3,
    step: int = 3,
    *,
    season_length: int = 12,
    level: int = 80,
    min_history: int = 13,
    n_jobs: int | None = None,
    max_origins: int = 36,
    temporal_levels: Sequence[int] = DEFAULT_TEMPORAL_LEVELS,
    temporal_min_points: int = DEFAULT_TEMPORAL_MIN_POINTS,
) -> pd.DataFrame:
    """Rolling-origin accuracy per series (see module docstring).

    Returns one row per series: ``unique_id, origins, months, mase, mase_naive, skill, wape,
    wape_naive, bias, bias_naive, coverage`` (coverage of the ``level`` % interval).
    An origin needs ``min_history`` months before its cut-off; series too short for any
    origin are left out.
    """
    data = validate_series(df)
    end = data.groupby("unique_id")["ds"].max()
    records = []
    for w in range(windows, 0, -1):
        back = horizon + (w - 1) * step
        size = data.groupby("unique_id")["ds"].transform("size")
        pos = data.groupby("unique_id").cumcount()
        cut = data[(pos < size - back) & (size - back >= min_history)]
        if cut.empty:
            continue
        fits = fit_series(
            cut,
            horizon,
            season_length=season_length,
            n_jobs=n_jobs,
            max_origins=max_origins,
            temporal_levels=temporal_levels,
            temporal_min_points=temporal_min_points,
        )
        fc = fits_to_frame(fits, [level])
        for uid, g in fc.groupby("unique_id"):
            train = cut.loc[cut["unique_id"] == uid, "y"].to_numpy()
            actual = data[(data["unique_id"] == uid) & data["ds"].isin(g["ds"])].set_index("ds")["y"]
            g = g.set_index("ds").loc[actual.index]
            if g.empty or actual.index.max() > end[uid]:
                continue
            naive = _snaive(train, horizon, season_length)[: len(g)]
            records.append(
                pd.DataFrame(
                    {
                        "unique_id": uid,
                        "origin": w,
                        "y": actual.to_numpy(),
                        "f": g["forecast"].to_numpy(),
                        "naive": naive,
                        "inside": (actual.to_numpy() >= g[f"lo_{level}"].to_numpy())
                        & (actual.to_numpy() <= g[f"hi_{level}"].to_numpy()),
                        "scale": _scale(train, season_length),
                    }
                )
            )
    cols = [
        "unique_id",
        "origins",
        "months",
        "mase",
        "mase_naive",
        "skill",
        "wape",
        "wape_naive",
        "bias",
        "bias_naive",
        "coverage",
    ]
    if not records:
        return pd.DataFrame(columns=cols)
    e = pd.concat(records, ignore_index=True)
    e["ae"] = (e["y"] - e["f"]).abs() / e["scale"]
    e["ae_naive"] = (e["y"] - e["naive"]).abs() / e["scale"]

    def summary(g: pd.DataFrame) -> pd.Series:
        denom = g["y"].abs().sum()
        mase, mase_n = g["ae"].mean(), g["ae_naive"].mean()
        return pd.Series(
            {
                "origins": g["origin"].nunique(),
                "months": len(g),
                "mase": mase,
                "mase_naive": mase_n,
                "skill": 1 - mase / mase_n if mase_n > 0 else np.nan,
                "wape": (g["y"] - g["f"]).abs().sum() / denom if denom > 0 else np.nan,
                "wape_naive": (g["y"] - g["naive"]).abs().sum() / denom if denom > 0 else np.nan,
                "bias": (g["f"] - g["y"]).sum() / denom if denom > 0 else np.nan,
                "bias_naive": (g["naive"] - g["y"]).sum() / denom if denom > 0 else np.nan,
                "coverage": g["inside"].mean(),
            }
        )

    out = e.groupby("unique_id").apply(summary, include_groups=False).reset_index()
    return out.astype({"origins": int, "months": int})[cols]
