"""A global member: one gradient-boosted model learned across all the series of a set.

The local members (``salesplan.forecast.engine``) fit each series alone. A global model is
trained on every series at once, so it learns regularities no single history shows: how
often a growth spurt lasts, how a season's shape varies with the level. It is LightGBM
through ``mlforecast``:

- **target**: ``log(1 + y)`` differenced once (``Differences([1])``), so the model learns
  month-over-month growth rates, comparable across series of any size;
- **features**: lags 1-6, 11-13 and 24 of that target, rolling means of the last 3, 6 and 12
  changes and of the 12 changes a year back, and the month of the year;
- **loss**: absolute (``forecast.global_model.objective``, ``l1``): the trees learn the median
  month-over-month change, so a rare spike or collapse in some series' history does not become
  growth the recursion compounds (squared loss, ``l2``, learns the mean change; measured on M3,
  M1 and Tourism in ``benchmarks/README.md``, the absolute loss is better on all three);
- **horizon**: recursive (each forecast month becomes the next month's lag), taken back to
  the original scale by ``mlforecast`` (cumulative sum, then ``exp(x) - 1``);
- **reproducible**: ``deterministic=True``, a fixed ``seed`` and a fixed ``num_threads``, so
  the same data give the same forecast on any machine with the same library versions.

The member is blended into the local ensemble's point forecast with one weight per set,
``mean' = (1 - w) mean_local + w mean_global``, and the local forecast's calibrated error
covariance is scaled to the blend's own out-of-sample errors (:func:`blend`): the member is
refitted once on the months before an origin ``calibration_span`` (36) months before each
series' end and run forward from there and every ``calibration_step`` (6) months after
(:func:`global_backtest`); its errors are mixed with the local ensemble's rolling-origin errors
at the same origins (:func:`blend_errors`) and the ratio of the blend's squared errors to the
local band's, read at the 80 % and 95 % quantiles and shrunk toward 1 by how well the origins
agree, multiplies the covariance (:func:`spread_factor`). Only series with at least
``min_months`` months and never negative get the blend (the log needs ``y > -1``; a few
months hold too few lags to learn from). The weight (``forecast.global_model.weight``, 0.375)
was chosen at a validation origin of M3 and M1 (the last ``h`` training months held out): the
out-of-sample optimum (0.5) shrunk halfway toward the equal weight of four members (0.25).
Measured on M3, M1 and Tourism (``benchmarks/README.md``): the point forecast meets every
accuracy target on all three, but Tourism's 80 % band over-covers (83.4 %; the local band's own
width there, 83.1 %), so the member is off by default.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from salesplan.forecast.engine import (
    DEFAULT_SEASON_LENGTH,
    SeriesForecast,
    forecast_defaults,
    origin_scale,
    short_series_floor,
)

LAGS = (1, 2, 3, 4, 5, 6, 11, 12, 13, 24)
# A month is a training row once every feature exists: the longest lag of the differenced series.
WARM_UP = max(LAGS) + 1
# LightGBM's min_child_samples: fewer rows than this cannot make a single split.
MIN_TRAINING_ROWS = 20


def trainable(df: pd.DataFrame) -> bool:
    """Whether ``unique_id, ds, y`` gives the model anything to learn from: at least
    :data:`MIN_TRAINING_ROWS` months, over all series, with every feature present (each series
    contributes ``max(n - WARM_UP, 0)`` rows)."""
    sizes = df.groupby("unique_id").size()
    return int((sizes - WARM_UP).clip(lower=0).sum()) >= MIN_TRAINING_ROWS


# LightGBM's names for the objectives of ``forecast.global_model.objective``.
OBJECTIVES = {"l1": "regression_l1", "l2": "regression"}


def _objective(objective: str | None) -> str:
    """LightGBM's objective for ``objective`` (``None``: ``forecast.global_model.objective``)."""
    name = forecast_defaults().global_model.objective if objective is None else str(objective)
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r} for the global member: use {' or '.join(OBJECTIVES)}")
    return OBJECTIVES[name]


def _model(
    n_estimators: int, learning_rate: float, num_leaves: int, seed: int, num_threads: int, objective: str | None = None
) -> object:
    """The ``MLForecast`` of the module docstring (LightGBM on ``log(1 + y)`` differenced once)."""
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.target_transforms import Differences, GlobalSklearnTransformer
    from sklearn.preprocessing import FunctionTransformer

    model = lgb.LGBMRegressor(
        objective=_objective(objective),
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
    return MLForecast(
        models={"global": model},
        freq="MS",
        lags=list(LAGS),
        lag_transforms={1: [RollingMean(3), RollingMean(6), RollingMean(12)], 12: [RollingMean(12)]},
        date_features=["month"],
        target_transforms=[GlobalSklearnTransformer(FunctionTransformer(np.log1p, np.expm1)), Differences([1])],
    )


def global_forecast(
    df: pd.DataFrame,
    horizon: int,
    *,
    n_estimators: int = 500,
    learning_rate: float = 0.03,
    num_leaves: int = 31,
    seed: int = 0,
    num_threads: int = 2,
    objective: str | None = None,
) -> pd.DataFrame:
    """LightGBM trained on every series of ``unique_id, ds, y`` (monthly, ``ds`` the first of the
    month, never negative), forecasting ``horizon`` months recursively (module docstring).
    ``objective``: ``l1`` or ``l2`` (``None``: ``forecast.global_model.objective``).
    Returns ``unique_id, ds, global``."""
    mlf = _model(n_estimators, learning_rate, num_leaves, seed, num_threads, objective)
    with _short_series_expected():
        mlf.fit(df[["unique_id", "ds", "y"]], static_features=[])
        return mlf.predict(int(horizon))[["unique_id", "ds", "global"]]


@contextlib.contextmanager
def _short_series_expected() -> Iterator[None]:
    """Series too short for the longest lag train nothing and are forecast with missing lags
    (LightGBM's own handling): expected, so mlforecast's notices about them stay off the page."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The following series were dropped", category=UserWarning)
        warnings.filterwarnings("ignore", message="Found null values", category=UserWarning)
        yield


def calibration_origins(horizon: int, span: int, step: int) -> int:
    """How many origins the blend's errors are measured at: ``step`` months apart, the first
    ``span`` months before each series' end and the last ``horizon`` months before it (so every
    origin's whole horizon is observed), ``(span - horizon) // step + 1``; 0 when the horizon is
    longer than the span (the local band is then kept)."""
    return max((int(span) - int(horizon)) // max(int(step), 1) + 1, 0)


def global_backtest(
    df: pd.DataFrame,
    horizon: int,
    *,
    span: int | None = None,
    step: int | None = None,
    min_months: int | None = None,
    n_estimators: int = 500,
    learning_rate: float = 0.03,
    num_leaves: int = 31,
    seed: int = 0,
    num_threads: int = 2,
    objective: str | None = None,
) -> pd.DataFrame:
    """The global member's out-of-sample forecasts at earlier origins, for the blend's intervals.

    The model is trained once, on each series cut ``span`` months before its end (the first
    origin); it then forecasts ``horizon`` months recursively from that origin and from every
    ``step`` months after it up to ``horizon`` months before the end
    (:func:`calibration_origins`), each forecast from the months before its own origin only
    (``mlforecast``'s ``cross_validation`` with ``refit=False``): no month after an origin
    reaches its features, and no month after the first origin reaches the model. Series with
    fewer than ``min_months`` months at the first origin are left out. Returns
    ``unique_id, ds, cutoff, y, global`` (``cutoff`` the origin's last month), empty when the
    horizon is longer than the span or no series is long enough.
    """
    cols = ["unique_id", "ds", "cutoff", "y", "global"]
    settings = forecast_defaults().global_model  # None: defaults.yaml's forecast.global_model
    span = settings.calibration_span if span is None else int(span)
    step = settings.calibration_step if step is None else int(step)
    min_months = settings.min_months if min_months is None else int(min_months)
    windows = calibration_origins(horizon, span, step)
    first = int(horizon) + int(step) * (windows - 1)  # months from the first origin to the end
    sizes = df.groupby("unique_id")["unique_id"].transform("size")
    keep = sizes >= first + int(min_months)
    data = df.loc[keep, ["unique_id", "ds", "y"]]
    # The months before the first origin (series in date order, as validated): what the model learns.
    at_first_origin = data.loc[data.groupby("unique_id").cumcount() < sizes[keep] - first]
    if windows < 1 or data["unique_id"].nunique() < 2 or not trainable(at_first_origin):
        return pd.DataFrame(columns=cols)
    mlf = _model(n_estimators, learning_rate, num_leaves, seed, num_threads, objective)
    with _short_series_expected():
        cv = mlf.cross_validation(
            data, n_windows=windows, h=int(horizon), step_size=int(step), refit=False, static_features=[]
        )
    return cv[cols].sort_values(["unique_id", "cutoff", "ds"], ignore_index=True)


def eligible(df: pd.DataFrame, min_months: int) -> pd.Index:
    """The series the global member serves: at least ``min_months`` months, never negative."""
    g = df.groupby("unique_id")["y"]
    ok = (g.size() >= min_months) & (g.min() >= 0)
    return ok[ok].index


def blend(
    fits: Mapping[str, SeriesForecast],
    global_fc: pd.DataFrame,
    weight: float | Mapping[str, float],
    factor: float = 1.0,
) -> dict[str, SeriesForecast]:
    """Each fit whose series has a global forecast, with ``mean' = (1 - weight) mean + weight
    global`` (finite global months only; ``weight`` one for all series or one per series, 0 where
    a mapping leaves a series out) and ``cov' = factor * cov``, the local ensemble's
    calibrated covariance scaled to the blend's own errors (:func:`spread_factor`; 1 keeps the
    local band). Degrees of freedom and the lower bound stay the local fit's; a series never
    negative and short keeps at least the width its history supports
    (:func:`~salesplan.forecast.engine.short_series_floor`). Fits without a global forecast are
    returned unchanged."""
    by_id = {uid: g["global"].to_numpy(dtype=float) for uid, g in global_fc.groupby("unique_id", sort=False)}
    out = {}
    for uid, f in fits.items():
        g = by_id.get(uid)
        w = float(weight.get(uid, 0.0)) if isinstance(weight, Mapping) else float(weight)
        if g is None or len(g) < len(f.mean) or w <= 0:
            out[uid] = f
            continue
        g = g[: len(f.mean)]
        mean = np.where(np.isfinite(g), (1.0 - w) * f.mean + w * g, f.mean)
        cov, dof = f.cov * float(factor), f.df
        if factor < 1 and f.y is not None and f.lower == 0:
            # Feasible bands (engine step 8): a narrower band never goes below a short history's floor.
            cov, dof = short_series_floor(f.y, cov, dof)
        out[uid] = replace(f, mean=mean, cov=cov, df=dof)
    return out


def blend_errors(
    fits: Mapping[str, SeriesForecast], backtest: pd.DataFrame, season_length: int = DEFAULT_SEASON_LENGTH
) -> pd.DataFrame:
    """The local ensemble's and the global member's errors at the origins of ``backtest``
    (:func:`global_backtest`), standardised alike.

    At an origin ``t`` (forecast from ``y[:t]``) and step ``k``: ``local`` is the local
    ensemble's rolling-origin error (``SeriesForecast.cv_errors``, already at today's level)
    and ``member`` the global member's, ``(y[t + k] - g) * s_t`` (``g`` its forecast from the
    same origin, ``s_t`` the same rescaling to today's level:
    :func:`~salesplan.forecast.engine.origin_scale`), both divided by the local band's ``sd_k``
    so that series of any size count alike; ``df`` is the local band's degrees of freedom. Only
    fits that kept their errors (``keep_errors=True``) and origins where both forecasts exist
    count. Returns ``unique_id, origin, step, df, local, member`` (``origin``: months before the
    series' end).
    """
    cols = ["unique_id", "origin", "step", "df", "local", "member"]
    frames = []
    for uid, g in backtest.groupby("unique_id", sort=False):
        f = fits.get(uid)
        if f is None or f.cv_errors is None or f.cv_origins is None or f.y is None:
            continue
        n, h = len(f.y), f.cv_errors.shape[1]
        row_of = {int(t): r for r, t in enumerate(f.cv_origins)}
        sd = f.sd
        for cutoff, w in g.groupby("cutoff", sort=True):
            back = (f.last_ds.year - cutoff.year) * 12 + f.last_ds.month - cutoff.month
            t = n - back
            r = row_of.get(t)
            k = min(len(w), h, n - t)
            if r is None or k < 1:
                continue
            glob = w["global"].to_numpy(dtype=float)[:k]
            local = f.cv_errors[r, :k]
            member = (f.y[t : t + k] - glob) * origin_scale(f.y, np.array([t]), season_length)[0]
            ok = np.isfinite(local) & np.isfinite(member) & (sd[:k] > 0)
            if not ok.any():
                continue
            step = np.arange(k)[ok]
            frames.append(
                pd.DataFrame(
                    {
                        "unique_id": uid,
                        "origin": back,
                        "step": step,
                        "df": f.df,
                        "local": local[ok] / sd[step],
                        "member": member[ok] / sd[step],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


@dataclass(frozen=True)
class SpreadCalibration:
    """The blend's interval calibration (:func:`spread_factor`): ``factor`` multiplies the local
    covariance; ``ratio`` is the pooled ratio before shrinkage, ``per_origin`` the ratio at each
    origin (nearest the end first), ``shrinkage`` the share of ``log ratio`` kept, ``errors`` the
    errors compared."""

    factor: float
    ratio: float
    per_origin: tuple[float, ...]
    shrinkage: float
    errors: int


SPREAD_LEVELS = (80.0, 95.0)


def _blend_ratio(errors: pd.DataFrame, weight: float | Mapping[str, float], levels: Sequence[float]) -> float:
    """The variance ratio of the blend to the local band over ``errors`` (:func:`spread_factor`)."""
    if isinstance(weight, Mapping):
        weight = errors["unique_id"].map(weight).fillna(0.0).to_numpy(float)
    local = errors["local"].to_numpy(float)
    member = errors["member"].to_numpy(float)
    df = errors["df"].to_numpy(float)
    logs = []
    for lv in levels:
        p = 0.5 + float(lv) / 200.0
        t = np.where(np.isfinite(df), stats.t.ppf(p, np.where(np.isfinite(df), df, 1.0)), stats.norm.ppf(p))
        q_local = float(np.quantile(np.abs(local) / t, lv / 100.0))
        if not q_local > 0:
            return float("nan")
        blended = (1.0 - weight) * local + weight * member * q_local
        q_blend = float(np.quantile(np.abs(blended) / t, lv / 100.0))
        if not q_blend > 0:
            return float("nan")
        logs.append(2.0 * np.log(q_blend / q_local))
    return float(np.exp(np.mean(logs)))


def spread_factor(
    errors: pd.DataFrame, weight: float | Mapping[str, float], levels: Sequence[float] = SPREAD_LEVELS
) -> SpreadCalibration:
    """How much the local band's covariance must be scaled for the blend
    ``(1 - w) local + w member``, from :func:`blend_errors` (errors at a few origins, in units
    of the local band's ``sd``).

    The local errors come from the local models run forward with parameters fitted to the whole
    series (engine step 3): they are narrower than the errors the local band is calibrated for
    (step 6 widens them by the error quantiles' small-sample factor and the final prediction
    error). The member's errors are truly out of sample (:func:`global_backtest`). So they are
    put on the local errors' footing before the two are mixed: at each level ``L`` (80, 95: the
    central quantiles of step 6), with ``t_L`` the band's own quantile (Student t, the fit's
    degrees of freedom) and ``Q_L`` the empirical ``L`` % quantile,

        q_L = Q_L(|e_L| / t_L)                     (1 for errors as wide as the band claims)
        e_B = (1 - w) e_L + w q_L e_G              (the member's errors narrowed alike)
        r   = prod_L [ Q_L(|e_B| / t_L) / q_L ] ^ (2 / #L)

    ``r`` is the ratio of the blend's squared errors to the local ones at the interval
    quantiles, pooled over every series, origin and step; ``r_o`` is the same at each origin
    ``o`` alone (``w`` one weight, or each series' own). With ``k`` origins the log ratio is shrunk toward 0 (a factor of 1, the local
    band) by how well the origins agree (positive-part James-Stein):

        lambda = max(0, 1 - se^2 / (log r)^2),   se^2 = var_o(log r_o) / k,
        factor = exp(lambda log r) = r ^ lambda,

    so a ratio the origins confirm is kept whole, one they disagree on is pulled to 1, and a
    single origin (no spread to judge it by) keeps the local band. A covariance scaled by
    ``factor`` scales every interval's width by ``sqrt(factor)``."""
    if errors.empty:
        return SpreadCalibration(1.0, 1.0, (), 0.0, 0)
    ratio = _blend_ratio(errors, weight, levels)
    per_origin = tuple(_blend_ratio(g, weight, levels) for _, g in errors.groupby("origin", sort=True))
    logs = np.log(np.asarray([r for r in per_origin if np.isfinite(r)]))
    if not np.isfinite(ratio) or len(logs) < 2 or np.log(ratio) == 0:
        return SpreadCalibration(1.0, ratio, per_origin, 0.0, len(errors))
    se2 = float(np.var(logs, ddof=1)) / len(logs)
    shrink = max(0.0, 1.0 - se2 / float(np.log(ratio)) ** 2)
    return SpreadCalibration(float(ratio**shrink), ratio, per_origin, shrink, len(errors))


def calibrate_blend(
    fits: Mapping[str, SeriesForecast],
    data: pd.DataFrame,
    horizon: int,
    weight: float | Mapping[str, float],
    *,
    span: int | None = None,
    step: int | None = None,
    min_months: int | None = None,
    season_length: int = DEFAULT_SEASON_LENGTH,
    num_threads: int = 2,
    backtest: pd.DataFrame | None = None,
) -> SpreadCalibration:
    """The blend's interval calibration for ``fits`` (kept with their errors) of ``data``: the
    global member refitted at an earlier origin (:func:`global_backtest`), the blended and
    local errors compared at ``span / step`` origins (:func:`blend_errors`) and turned into a
    covariance factor (:func:`spread_factor`). ``span`` / ``step`` / ``min_months``: ``None``
    takes ``forecast.global_model`` of ``defaults.yaml``; ``backtest``: the member's forecasts
    at those origins when already computed."""
    settings = forecast_defaults().global_model
    if backtest is None:
        backtest = global_backtest(
            data,
            horizon,
            span=settings.calibration_span if span is None else span,
            step=settings.calibration_step if step is None else step,
            min_months=settings.min_months if min_months is None else min_months,
            num_threads=num_threads,
        )
    return spread_factor(blend_errors(fits, backtest, season_length), weight)


def with_global_member(
    fits: Mapping[str, SeriesForecast],
    data: pd.DataFrame,
    horizon: int,
    *,
    weight: float | None = None,
    min_months: int | None = None,
    num_threads: int = 2,
    calibrate: bool | None = None,
    season_length: int = DEFAULT_SEASON_LENGTH,
) -> dict[str, SeriesForecast]:
    """The local fits of ``data`` (``unique_id, ds, y``, validated) with the global member blended
    in (:func:`blend`) for the series it serves (:func:`eligible`); a model needs at least two
    such series to learn across. ``calibrate``: scale the band to the blend's own errors
    (:func:`calibrate_blend`; needs fits kept with their errors, others keep the local band).
    ``weight`` / ``min_months`` / ``calibrate``: ``None`` takes ``forecast.global_model`` of
    ``defaults.yaml``. Wherever the local fits were made (this machine or a cluster), the
    global model is one fit over all series, so it runs here."""
    settings = forecast_defaults().global_model
    weight = settings.weight if weight is None else float(weight)
    min_months = settings.min_months if min_months is None else int(min_months)
    served = data[data["unique_id"].isin(eligible(data, min_months))]
    if served["unique_id"].nunique() < 2 or weight <= 0 or not trainable(served):
        return dict(fits)
    factor = 1.0
    kept_errors = any(f.cv_errors is not None for f in fits.values())
    if (settings.calibrate if calibrate is None else calibrate) and kept_errors:
        factor = calibrate_blend(
            fits, served, horizon, weight, min_months=min_months, season_length=season_length, num_threads=num_threads
        ).factor
    return blend(fits, global_forecast(served, horizon, num_threads=num_threads), weight, factor)
