"""A global member: one gradient-boosted model learned across all the series of a set.

The local members (``salesplan.forecast.engine``) fit each series alone. A global model is
trained on every series at once, so it learns regularities no single history shows: how
often a growth spurt lasts, how a season's shape varies with the level. It is LightGBM
through ``mlforecast``:

- **target**: ``log(1 + y)`` differenced once (``Differences([1])``), so the model learns
  month-over-month growth rates, comparable across series of any size;
- **features**: lags 1-6, 11-13 and 24 of that target, rolling means of the last 3, 6 and 12
  changes and of the 12 changes a year back, and the month of the year;
- **horizon**: recursive (each forecast month becomes the next month's lag), taken back to
  the original scale by ``mlforecast`` (cumulative sum, then ``exp(x) - 1``);
- **reproducible**: ``deterministic=True``, a fixed ``seed`` and a fixed ``num_threads``, so
  the same data give the same forecast on any machine with the same library versions.

The member is blended into the local ensemble's point forecast with one weight per set,
``mean' = (1 - w) mean_local + w mean_global``; the local forecast's calibrated error
covariance is kept around the new mean (:func:`blend`). Only series with at least
``min_months`` months and never negative get the blend (the log needs ``y > -1``; a few
months hold too few lags to learn from). The weight (``forecast.global_model.weight``, 0.3)
was chosen at a validation origin of M3 and M1 (the last ``h`` training months held out), the
out-of-sample optimum shrunk toward the equal weight of four members. Measured on M3, M1 and
Tourism (``benchmarks/README.md``): the point forecast improves on all three, but Tourism's
80 % band over-covers, so the member is off by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from salesplan.forecast.engine import SeriesForecast, forecast_defaults

LAGS = (1, 2, 3, 4, 5, 6, 11, 12, 13, 24)


def global_forecast(
    df: pd.DataFrame,
    horizon: int,
    *,
    n_estimators: int = 500,
    learning_rate: float = 0.03,
    num_leaves: int = 31,
    seed: int = 0,
    num_threads: int = 2,
) -> pd.DataFrame:
    """LightGBM trained on every series of ``unique_id, ds, y`` (monthly, ``ds`` the first of the
    month, never negative), forecasting ``horizon`` months recursively (module docstring).
    Returns ``unique_id, ds, global``."""
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.target_transforms import Differences, GlobalSklearnTransformer
    from sklearn.preprocessing import FunctionTransformer

    model = lgb.LGBMRegressor(
        n_estimators=n_estimators,
        learning_rate=learning_rate,
        num_leaves=num_leaves,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        deterministic=True,
        force_col_wise=True,
        seed=seed,
        num_threads=num_threads,
        verbosity=-1,
    )
    mlf = MLForecast(
        models={"global": model},
        freq="MS",
        lags=list(LAGS),
        lag_transforms={1: [RollingMean(3), RollingMean(6), RollingMean(12)], 12: [RollingMean(12)]},
        date_features=["month"],
        target_transforms=[GlobalSklearnTransformer(FunctionTransformer(np.log1p, np.expm1)), Differences([1])],
    )
    mlf.fit(df[["unique_id", "ds", "y"]], static_features=[])
    return mlf.predict(int(horizon))[["unique_id", "ds", "global"]]


def eligible(df: pd.DataFrame, min_months: int) -> pd.Index:
    """The series the global member serves: at least ``min_months`` months, never negative."""
    g = df.groupby("unique_id")["y"]
    ok = (g.size() >= min_months) & (g.min() >= 0)
    return ok[ok].index


def blend(fits: Mapping[str, SeriesForecast], global_fc: pd.DataFrame, weight: float) -> dict[str, SeriesForecast]:
    """Each fit whose series has a global forecast, with ``mean' = (1 - weight) mean + weight
    global`` (finite global months only); the covariance, degrees of freedom and lower bound
    stay those calibrated for the local ensemble. Fits without a global forecast are returned
    unchanged."""
    by_id = {uid: g["global"].to_numpy(dtype=float) for uid, g in global_fc.groupby("unique_id", sort=False)}
    out = {}
    for uid, f in fits.items():
        g = by_id.get(uid)
        if g is None or len(g) < len(f.mean) or weight <= 0:
            out[uid] = f
            continue
        g = g[: len(f.mean)]
        mean = np.where(np.isfinite(g), (1.0 - weight) * f.mean + weight * g, f.mean)
        out[uid] = replace(f, mean=mean)
    return out


def with_global_member(
    fits: Mapping[str, SeriesForecast],
    data: pd.DataFrame,
    horizon: int,
    *,
    weight: float | None = None,
    min_months: int | None = None,
    num_threads: int = 2,
) -> dict[str, SeriesForecast]:
    """The local fits of ``data`` (``unique_id, ds, y``, validated) with the global member blended
    in (:func:`blend`) for the series it serves (:func:`eligible`); a model needs at least two
    such series to learn across. ``weight`` / ``min_months``: ``None`` takes
    ``forecast.global_model`` of ``defaults.yaml``. Wherever the local fits were made (this
    machine or a cluster), the global model is one fit over all series, so it runs here."""
    settings = forecast_defaults().global_model
    weight = settings.weight if weight is None else float(weight)
    served = data[data["unique_id"].isin(eligible(data, settings.min_months if min_months is None else min_months))]
    if served["unique_id"].nunique() < 2 or weight <= 0:
        return dict(fits)
    return blend(fits, global_forecast(served, horizon, num_threads=num_threads), weight)
