"""Rolling-origin backtest on the user's own data, against the seasonal naive forecast.

For each origin (the last ``windows`` cut-offs, ``step`` months apart, each forecasting
``horizon`` months with the engine refitted on the data up to the cut-off) the engine and
statsforecast's ``SeasonalNaive`` (same month last year; ``Naive``, the last month, for a
history shorter than a season) forecast the months that followed. The scores are
``utilsforecast.losses``, the same code the public benchmarks (``benchmarks/m3_monthly.py``)
score with:

    MASE  = mean|y - f| / mean|y_t - y_{t-m}|      (``losses.mase`` per series and origin, the
                                                     scale from that origin's history, m = 12;
                                                     lag 1 when the history is no longer than m;
                                                     then averaged over the origins)
    WAPE  = sum|y - f| / sum|y|                     (``losses.wape``, all origins pooled)
    bias  = sum(f - y) / sum|y|                     (``losses.cfe`` over the same sum; > 0: too high)
    cover = share of actuals inside the 80 % interval   (``losses.coverage``)

``skill = 1 - MASE / MASE_naive`` (> 0: better than naive). Default windows, horizon, step,
history and engine options are the ``forecast`` section of ``defaults.yaml``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from utilsforecast import losses

from salesplan.forecast.engine import fit_series, fits_to_frame, forecast_defaults, validate_series

COLUMNS = [
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
MODELS = ["engine", "naive"]


def seasonal_naive(df: pd.DataFrame, horizon: int, season_length: int) -> pd.DataFrame:
    """statsforecast's ``SeasonalNaive`` for every series of ``unique_id, ds, y``; a series
    shorter than ``season_length`` gets ``Naive`` (its last month) instead. Columns
    ``unique_id, ds, naive``."""
    from statsforecast import StatsForecast
    from statsforecast.models import Naive, SeasonalNaive

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # short histories: NaN, replaced by Naive
        fc = StatsForecast(models=[SeasonalNaive(season_length=season_length), Naive()], freq="MS").forecast(
            df=df, h=horizon
        )
    return fc.assign(naive=fc["SeasonalNaive"].fillna(fc["Naive"]))[["unique_id", "ds", "naive"]]


def point_scores(df: pd.DataFrame, train: pd.DataFrame, season_length: int, model: str = "model") -> dict[str, float]:
    """sMAPE (%, ``200 x losses.smape``, as the forecasting competitions state it) and MASE
    (``losses.mase``, lag ``season_length``) of the ``model`` column of ``unique_id, ds, y,
    model``, each averaged over the series; ``train`` holds the series' histories."""
    return {
        "sMAPE": 200 * float(losses.smape(df, [model])[model].mean()),
        "MASE": float(losses.mase(df, [model], season_length, train)[model].mean()),
    }


def score_backtest(cases: pd.DataFrame, train: pd.DataFrame, season_length: int, level: int) -> pd.DataFrame:
    """Per-series scores (module docstring) of backtest cases ``unique_id, cutoff, ds, y, engine,
    naive, engine-lo-L, engine-hi-L`` (``cutoff``: the origin's last month, as statsforecast's
    ``cross_validation`` names it) against the series' months ``train`` (``unique_id, ds, y``):
    each MASE is scaled by the months up to its own cut-off."""
    train = train.sort_values(["unique_id", "ds"])
    scaled = losses.mase(cases, MODELS, season_length, train)
    # A history of at most one season has no seasonal difference: scale by month-to-month changes.
    short = (
        cases[["unique_id", "cutoff"]]
        .drop_duplicates()
        .merge(train, on="unique_id")
        .query("ds <= cutoff")
        .groupby(["unique_id", "cutoff"])
        .size()
        .le(season_length)
        .rename("short")
        .reset_index()
    )
    lag1 = losses.mase(cases, MODELS, 1, train)
    scaled = scaled.merge(short, on=["unique_id", "cutoff"]).merge(
        lag1, on=["unique_id", "cutoff"], suffixes=("", "_1")
    )
    for m in MODELS:
        scaled[m] = scaled[m].where(~scaled["short"], scaled[f"{m}_1"]).replace([np.inf, -np.inf], np.nan)
    pooled = cases.drop(columns="cutoff")
    size = pooled.groupby("unique_id")["y"].apply(lambda y: y.abs().sum()).rename("size")
    wape = losses.wape(pooled, MODELS).set_index("unique_id")
    bias = losses.cfe(pooled, MODELS).set_index("unique_id").div(size.where(size > 0), axis=0)
    cover = losses.coverage(pooled, ["engine"], level).set_index("unique_id")["engine"]
    mase = scaled.groupby("unique_id")[MODELS].mean()
    out = pd.DataFrame(
        {
            "origins": cases.groupby("unique_id")["cutoff"].nunique(),
            "months": cases.groupby("unique_id").size(),
            "mase": mase["engine"],
            "mase_naive": mase["naive"],
            "wape": wape["engine"].where(size > 0),
            "wape_naive": wape["naive"].where(size > 0),
            "bias": bias["engine"],
            "bias_naive": bias["naive"],
            "coverage": cover,
        }
    )
    return (
        out.assign(skill=lambda d: (1 - d["mase"] / d["mase_naive"]).where(d["mase_naive"] > 0))
        .rename_axis("unique_id")
        .reset_index()
        .astype({"origins": int, "months": int})[COLUMNS]
    )


def backtest(
    df: pd.DataFrame,
    horizon: int | None = None,
    windows: int | None = None,
    step: int | None = None,
    *,
    season_length: int | None = None,
    level: int = 80,
    min_history: int | None = None,
    n_jobs: int | None = None,
    max_origins: int | None = None,
    temporal_levels: Sequence[int] | None = None,
    temporal_min_points: int | None = None,
    horizon_growth: float | None = None,
    global_member: bool | None = None,
    global_weight: float | None = None,
    store: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Rolling-origin accuracy per series (see module docstring).

    Returns one row per series: ``unique_id, origins, months, mase, mase_naive, skill, wape,
    wape_naive, bias, bias_naive, coverage`` (coverage of the ``level`` % interval).
    An origin needs ``min_history`` months before its cut-off; series too short for any
    origin are left out. ``None`` takes the ``forecast`` section of ``defaults.yaml``
    (``backtest_horizon``, ``cv_windows``, ``backtest_step``, ``min_history_months`` and
    the engine's options). ``store``: a folder of fitted series
    (:mod:`salesplan.forecast.fitstore`), read before each origin's refit and added to after.
    """
    d = forecast_defaults()
    horizon = d.backtest_horizon if horizon is None else int(horizon)
    windows = d.cv_windows if windows is None else int(windows)
    step = d.backtest_step if step is None else int(step)
    season_length = d.season_length if season_length is None else int(season_length)
    min_history = d.min_history_months if min_history is None else int(min_history)
    options = {
        "max_origins": d.max_origins if max_origins is None else int(max_origins),
        "temporal_levels": d.temporal_levels if temporal_levels is None else list(temporal_levels),
        "temporal_min_points": d.temporal_min_points if temporal_min_points is None else int(temporal_min_points),
        "horizon_growth": d.horizon_growth if horizon_growth is None else float(horizon_growth),
        "global_member": global_member,
        "global_weight": global_weight,
    }
    data = validate_series(df)
    size = data.groupby("unique_id")["ds"].transform("size")
    pos = data.groupby("unique_id").cumcount()
    cases = []
    for w in range(windows, 0, -1):
        back = horizon + (w - 1) * step
        cut = data[(pos < size - back) & (size - back >= min_history)]
        if cut.empty:
            continue
        fits = fit_series(cut, horizon, season_length=season_length, n_jobs=n_jobs, store=store, **options)
        fc = (
            fits_to_frame(fits, [level])
            .rename(
                columns={"forecast": "engine", f"lo_{level}": f"engine-lo-{level}", f"hi_{level}": f"engine-hi-{level}"}
            )
            .merge(seasonal_naive(cut, horizon, season_length), on=["unique_id", "ds"])
            # Only origins whose every forecast month has been observed.
            .merge(data, on=["unique_id", "ds"])
            .merge(cut.groupby("unique_id")["ds"].max().rename("cutoff").reset_index(), on="unique_id")
        )
        whole = fc.groupby("unique_id")["ds"].transform("size") == horizon
        cases.append(fc[whole])
    if not cases or all(c.empty for c in cases):
        return pd.DataFrame(columns=COLUMNS)
    return score_backtest(pd.concat(cases, ignore_index=True), data, season_length, level)
