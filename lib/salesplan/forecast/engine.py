"""The forecasting engine: any set of monthly series in long format (``unique_id, ds, y``).

Method, per series:

1. **Models.** AutoETS restricted to damped trends, AutoCES and DynamicOptimizedTheta
   (statsforecast) are fitted to the whole history. Damped rather than free ETS trends:
   extrapolating a trend for a year is what most often makes a year-end landing too
   optimistic, and damped trends are the robust default for business series (measured:
   benchmarks/README.md; adding an undamped ETS or the classic Theta method as a fourth
   member was measured too and not kept). Seasonal models are used when the series has at least
   ``2 * season_length + 2`` months, non-seasonal ones otherwise; a series too short or too
   flat for any of them falls back to a naive forecast (last value).
2. **Temporal views.** The same models are also fitted to the series summed over periods
   of ``k`` months (``k`` in 2, 3, 4, 6, 12: two-month, quarterly, four-month, half-year,
   year), each period ending at the last month, when the summed series has at least 24
   periods. A period's forecast is split over its months in the shape of the monthly
   forecast (proportionally; evenly where that shape has zeros or returns), so each view
   keeps its period totals exactly. Summing removes month-to-month noise, so the level and
   trend are estimated from a steadier series, while the monthly view gives the pattern
   within a period (temporal aggregation: Kourentzes et al. 2014, MAPA; Athanasopoulos et
   al. 2017, temporal hierarchies). The point forecast is the equal-weight mean of the
   views, as the models within each view are equally weighted (step 4). Measured with and
   without the views on M3, Tourism and M1 monthly data: benchmarks/README.md.
3. **Rolling-origin cross-validation.** Each fitted model is run forward from every origin
   ``t`` of the last ``max_origins`` months (keeping its estimated parameters, re-filtering
   the states on ``y[:t]``; a temporal view runs forward from the complete periods before
   ``t`` and counts the months of the current period already seen at their actual values
   when it splits the period). This gives the forecast that would have been made at ``t``,
   and the error ``e[t, k] = y[t + k] - yhat_t[k]`` for every horizon ``k`` that is
   observed. Errors are rescaled to today's level (``level_n / level_t``, level = mean
   absolute value of the last ``season_length`` months) so that a series that has grown is
   judged at its current size.
4. **Combination.** Within each view, the forecast is the equal-weight mean of the models
   that fitted. Combinations of ETS, CES and Theta are among the strongest classical results on the M3
   data, and equal weights are hard to beat: weighting by the cross-validation errors
   (``combination="inverse_mse"``, ``"trimmed_mean"``, ``"best"``) was measured and did
   worse out of sample (benchmarks/README.md), because the errors of models run forward
   with their full-history parameters flatter the more flexible models. One guard: a
   model whose cross-validation MSE is more than ``guard_ratio`` (10) times the best
   member's is left out for that series (it has failed there, or running it forward is
   numerically unstable, as happens with CES on some short histories).
5. **Calibrated error model.** The final forecast's cross-validation errors give the moments
   ``M[h, k] = mean(e_h * e_k)``. They are fitted (non-negative least squares) by

       Cov(e_h, e_k) = c + b * (min(h, k) - 1) + a * [h == k]

   i.e. a shared offset (``c``: the level is wrong for every future month alike), a random
   walk (``b``: shocks that persist and accumulate) and month noise (``a``). This one
   model gives both the interval width at every horizon, ``sd_h = sqrt(a + c + b (h - 1))``,
   widening monotonically, and the correlation between months used for sample paths.
   The intervals are therefore calibrated on the series' own out-of-sample errors, not on
   the models' textbook formulas, which are known to under-cover.
6. **Intervals.** The error distribution is a Student t around the forecast, its scale and
   tails read from the series' own errors. With ``z = e[t, k] / sd_k`` (the errors
   standardised by step 5's model) the wanted central quantiles are

       q_L = Q_L(|z|) * t_df0(0.5 + L/200) / Phi^-1(0.5 + L/200),      L = 80, 95

   the empirical quantile of the series' own errors (heavy tails show as a 95 % quantile
   far beyond the 80 % one), widened for the few independent error paths behind it:
   ``df0 = n_origins / 3 - 1``, because errors from consecutive origins overlap (they share
   most of their future months), so about one in three is independent evidence. The t's
   degrees of freedom solve ``t_df(0.975) / t_df(0.9) = q_95 / q_80`` (at least 3, normal
   beyond 200) and its scale is ``q_80 / t_df(0.9)``: the covariance of step 5 is multiplied
   by that scale squared. The models keep their full-history parameters when run forward,
   which makes the errors in-sample-like; Akaike's final prediction error corrects that:
   the covariance is further multiplied by ``(n + p) / (n - p)``, ``n`` the months fitted,
   ``p = 6`` the parameters carried into every origin. That gap can grow with the months
   ahead (a drift estimated with the future in view is off by more the further it is
   carried): month ``k``'s share is ``g_k = 1 + horizon_growth (k - 1) / n``, centred on the
   errors pooled above (``g``'s mean over them, each month weighted by its errors, is 1), and
   the covariance's entry ``(h, k)`` is multiplied by ``(n + p) / (n - p) * sqrt(g_h g_k)``,
   which tilts the band without moving its pooled calibration. ``horizon_growth = 1`` is the
   drift's own error; ``defaults.yaml`` keeps 0, the flat correction: 1 flattens the coverage
   over the months ahead on M3 and M1 but widens Tourism's band (benchmarks/README.md).
   Intervals: ``forecast ± t_df(0.5 + L/200) * sd_h``. A series with fewer than 20 errors
   keeps step 5's covariance and ``df0`` (measured on M3, M1 and Tourism: benchmarks/README.md).
7. **Sample paths.** Multivariate normal (same covariance, same t scale), so that a sum of
   months (a year-end landing) has the right, correlated, spread; the sum of a path's first
   ``r`` months is Student t, which :func:`salesplan.forecast.landing.landing_distribution`
   gives in closed form.
8. **Feasible bands** (``feasible=True``, the default). A series that has never been
   negative cannot go below zero: its forecast distribution is the Student t *censored* at 0
   (the mass the t puts below zero sits at zero), so every quantile, the point forecast (the
   median) and every interval bound is ``max(value, 0)``. A series that has had a negative
   month (net returns) keeps the uncensored t. Censoring only moves quantiles that lay below
   zero, so coverage of non-negative actuals is unchanged and every quantile loss can only
   fall (measured: benchmarks/README.md). A **short series** (fewer than
   ``2 * season_length + 2`` months, too few for seasonal models) gets at least the width its
   history supports: the variance at every horizon is raised, by scaling the covariance, to
   no less than that of the mean of its own months, ``s^2 (1 + 1/n)`` (``s^2`` the sample
   variance of its ``n`` months), and its degrees of freedom are at most ``n - 1`` (at least 3),
   the textbook prediction interval of a new month from ``n`` months known. A few rolling
   origins (9 for 17 months) cannot vouch for a narrower band.
9. **Global member** (``global_member=True`` or ``forecast.global_model.enabled``; off by
   default). A LightGBM model learned across all the series
   (:mod:`salesplan.forecast.global_model`) is blended into the point forecast with one
   weight; the covariance of steps 5-8 is scaled to the blend's own errors, measured with the
   member refitted at an earlier origin and run forward from a few origins of step 3
   (``forecast.global_model.calibrate``; :func:`salesplan.forecast.global_model.spread_factor`).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

if TYPE_CHECKING:
    from salesplan.settings import ForecastSettings

FORECAST_COLUMNS = ["unique_id", "ds", "forecast"]
# Effective number of rolling origins per independent error path (see step 6).
ORIGIN_OVERLAP = 3


class ForecastInputError(ValueError):
    """The series given to the forecaster break a rule of the input contract."""


# --------------------------------------------------------------------------------------
# Input validation


def _row_label(index_value: object, source: str | None) -> str:
    if source is None:
        return f"row {index_value}"
    # Line number as the user sees it in the file: header = line 1.
    return f"{source}, line {int(index_value) + 2}"  # type: ignore[call-overload]


def validate_series(df: pd.DataFrame, source: str | None = None, fill_gaps: float | None = None) -> pd.DataFrame:
    """Check and normalise a long table of monthly series.

    Rules: columns ``unique_id, ds, y`` present; ``ds`` a date; one row per
    ``unique_id`` and month (``ds`` on the first or last day of a month, consistently);
    ``y`` numeric and not missing; no month missing inside a series (unless ``fill_gaps``
    gives the value to fill, e.g. 0 for sales).

    Returns the frame with ``ds`` at the first of the month, ``y`` float, sorted.
    Raises :class:`ForecastInputError` naming the file, row and value that break a rule.
    """
    where = source or "input"
    missing = [c for c in ("unique_id", "ds", "y") if c not in df.columns]
    if missing:
        raise ForecastInputError(
            f"{where}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}. "
            "A forecast input needs columns unique_id, ds, y (one row per series and month)."
        )
    out = df[["unique_id", "ds", "y"]].copy()
    if out.empty:
        raise ForecastInputError(f"{where}: no rows")
    if out["unique_id"].isna().any():
        i = out.index[out["unique_id"].isna()][0]
        raise ForecastInputError(f"{_row_label(i, source)}: unique_id is empty")
    out["unique_id"] = out["unique_id"].astype(str)

    ds = pd.to_datetime(out["ds"], errors="coerce")
    bad = ds.isna()
    if bad.any():
        i = out.index[bad][0]
        raise ForecastInputError(
            f"{_row_label(i, source)}: ds value {out.loc[i, 'ds']!r} is not a date ({int(bad.sum())} such row(s))"
        )
    if (ds.dt.normalize() != ds).any():
        i = out.index[ds.dt.normalize() != ds][0]
        raise ForecastInputError(f"{_row_label(i, source)}: ds value {out.loc[i, 'ds']!r} has a time of day; use dates")
    month_start = ds.dt.is_month_start
    month_end = ds.dt.is_month_end
    if not (month_start.all() or month_end.all()):
        bad_rows = ~month_start if month_start.mean() >= month_end.mean() else ~month_end
        i = out.index[bad_rows][0]
        raise ForecastInputError(
            f"{_row_label(i, source)}: ds value {out.loc[i, 'ds']!r} is not monthly; ds must be the first "
            "(or consistently the last) day of each month"
        )
    out["ds"] = ds.dt.to_period("M").dt.to_timestamp()

    y = pd.to_numeric(out["y"], errors="coerce")
    bad = y.isna() | ~np.isfinite(y.astype(float))
    if bad.any():
        i = out.index[bad][0]
        raise ForecastInputError(
            f"{_row_label(i, source)}: y value {out.loc[i, 'y']!r} is not a number ({int(bad.sum())} such row(s))"
        )
    out["y"] = y.astype(float)

    dup = out.duplicated(["unique_id", "ds"], keep="first")
    if dup.any():
        i = out.index[dup][0]
        raise ForecastInputError(
            f"{_row_label(i, source)}: duplicate month {out.loc[i, 'ds']:%Y-%m} for unique_id "
            f"{out.loc[i, 'unique_id']!r} ({int(dup.sum())} duplicate row(s)); one row per series and month"
        )
    out = out.sort_values(["unique_id", "ds"]).reset_index(drop=True)

    # Gaps inside a series: a missing month is either an error or a stated fill value.
    month_no = out["ds"].dt.year * 12 + out["ds"].dt.month
    step = month_no.groupby(out["unique_id"]).diff().fillna(1)
    gaps = out.loc[step > 1, "unique_id"].unique()
    if len(gaps):
        if fill_gaps is None:
            uid = gaps[0]
            s = out.loc[out["unique_id"] == uid, "ds"].dt.to_period("M")
            full = pd.period_range(s.min(), s.max(), freq="M")
            holes = [str(p) for p in full.difference(pd.PeriodIndex(s))][:5]
            raise ForecastInputError(
                f"{where}: series {uid!r} has missing month(s) {', '.join(holes)}; every month between a "
                f"series' first and last must be present ({len(gaps)} series with gaps)"
            )
        filled = []
        for uid, g in out.groupby("unique_id", sort=False):
            full = pd.date_range(g["ds"].min(), g["ds"].max(), freq="MS")
            filled.append(g.set_index("ds").reindex(full).rename_axis("ds").reset_index().assign(unique_id=uid))
        out = pd.concat(filled, ignore_index=True)[["unique_id", "ds", "y"]]
        out["y"] = out["y"].fillna(fill_gaps)
    return out


# --------------------------------------------------------------------------------------
# Per-series model


@dataclass
class SeriesForecast:
    """One series' fitted forecaster: point forecast and calibrated error covariance."""

    unique_id: str
    last_ds: pd.Timestamp
    mean: np.ndarray
    cov: np.ndarray
    df: float
    weights: dict[str, float] = field(default_factory=dict)  # monthly view's members
    temporal_levels: tuple[int, ...] = (1,)  # views averaged: months per period
    n_origins: int = 0
    cv_errors: np.ndarray | None = None  # origins x horizon, scaled to today's level, NaN unobserved
    cv_origins: np.ndarray | None = None  # origin index t (forecast made with y[:t])
    y: np.ndarray | None = None
    # The lowest value a month can take: 0 for a series never negative (feasible bands, step 8),
    # -inf otherwise. Quantiles and bounds are censored there; ``mean`` and ``paths`` are not.
    lower: float = float("-inf")

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def quantile_scale(self, level: float) -> float:
        """Multiplier of ``sd`` for a central ``level`` % interval (Student t, ``df`` degrees)."""
        return float(stats.t.ppf(0.5 + level / 200.0, self.df))

    def quantiles(self, q: Sequence[float] | np.ndarray) -> np.ndarray:
        """``len(q) x horizon``: the forecast distribution's quantiles,
        ``max(mean + t_df(q) * sd, lower)`` (censored at ``lower``, step 8)."""
        z = stats.t.ppf(np.asarray(q, dtype=float), self.df)
        return np.maximum(self.mean[None, :] + z[:, None] * self.sd[None, :], self.lower)

    @property
    def median(self) -> np.ndarray:
        """The point forecast as pages show it: ``max(mean, lower)``, the censored median."""
        return np.maximum(self.mean, self.lower)

    def paths(self, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        """``n_paths x horizon`` sample paths: mean + t-scaled multivariate normal errors."""
        h = len(self.mean)
        chol = _safe_cholesky(self.cov)
        z = rng.standard_normal((n_paths, h)) @ chol.T
        # Student t scale mixture: same df as the intervals, so paths and bands agree.
        if np.isfinite(self.df):
            z = z * np.sqrt(self.df / rng.chisquare(self.df, size=(n_paths, 1)))
        return self.mean[None, :] + z


def _safe_cholesky(cov: np.ndarray) -> np.ndarray:
    jitter = 1e-10 * max(float(np.max(np.diag(cov))), 1e-12)
    for _ in range(6):
        try:
            return np.linalg.cholesky(cov + jitter * np.eye(len(cov)))
        except np.linalg.LinAlgError:
            jitter *= 100
    return np.diag(np.sqrt(np.clip(np.diag(cov), 0, None)))


def _level(y: np.ndarray, season_length: int) -> float:
    tail = np.abs(y[-season_length:])
    lv = float(tail.mean()) if len(tail) else 0.0
    return lv


def _fit_error_model(errors: np.ndarray, h: int) -> tuple[float, float, float]:
    """Fit ``Cov(e_h, e_k) = c + b (min(h,k) - 1) + a [h == k]`` to the error moments (NNLS)."""
    n_h = errors.shape[1]
    rows, rhs, wts = [], [], []
    obs = ~np.isnan(errors)
    e0 = np.nan_to_num(errors)
    for i in range(n_h):
        for j in range(i, n_h):
            both = obs[:, i] & obs[:, j]
            cnt = int(both.sum())
            if cnt < 2:
                continue
            rows.append([1.0 if i == j else 0.0, float(min(i, j)), 1.0])
            rhs.append(float((e0[both, i] * e0[both, j]).mean()))
            # Off-diagonal moments appear twice in the matrix; diagonal ones carry the width.
            wts.append(np.sqrt(cnt) * (2.0 if i == j else 1.0))
    if len(rows) < 3:
        raise ValueError("too few errors")
    w = np.asarray(wts)
    coef, _ = optimize.nnls(np.asarray(rows) * w[:, None], np.asarray(rhs) * w)
    return float(coef[0]), float(coef[1]), float(coef[2])


# The two central levels whose quantiles fix the shape of the error distribution (step 6),
# and the fewest standardised errors a series needs for its own shape to be read.
SHAPE_LEVELS = (80.0, 95.0)
SHAPE_MIN_ERRORS = 20
# Degrees of freedom above which the fitted shape is taken as normal, and the fewest allowed
# (3: the variance, and so the covariance behind the landing, stays finite and estimable).
SHAPE_DF_RANGE = (3.0, 200.0)


# Parameters each model carries from the full-history fit into every rolling origin (the
# smoothing and damping parameters and the starting level and trend: alpha, beta, gamma, phi,
# l0, b0 for a damped seasonal ETS); the states themselves are re-filtered at each origin.
CARRIED_PARAMETERS = 6


def _fpe(n: int, p: int = CARRIED_PARAMETERS) -> float:
    """Akaike's final-prediction-error ratio ``(n + p) / (n - p)``: how much larger the error
    variance is out of sample than with ``p`` parameters fitted to the same ``n`` months."""
    return float((n + p) / max(n - p, 1)) if n > 0 else 1.0


def _horizon_fpe(
    n: int, h: int, growth: float = 0.0, counts: np.ndarray | None = None, p: int = CARRIED_PARAMETERS
) -> np.ndarray:
    """Akaike's final-prediction-error ratio at each month ahead ``k = 1..h`` (step 6):

        g_k   = 1 + growth * (k - 1) / n
        fpe_k = (n + p) / (n - p) * g_k / sum_k(w_k g_k) * sum_k(w_k)

    with ``w_k`` the rolling-origin errors observed ``k`` months ahead (``counts``; equal
    weights without them). The errors come from parameters fitted to the whole series, the
    future of each origin included, and the trend is where that shows most: a drift estimated
    from ``n`` months is off by a shared amount of variance ``sigma^2 / n``, which adds
    ``k^2 sigma^2 / n`` to a random walk's ``k sigma^2`` at month ``k``, a ratio growing by
    ``1 / n`` per month (``growth = 1``). The errors of every month ahead were pooled to set the
    band's scale (step 6), so the profile is centred on them: it tilts the band, narrower in
    the first months and wider in the last, and leaves the pooled correction ``(n + p) / (n -
    p)`` whole. ``growth = 0`` is the flat correction; a long history (``n`` large) is
    barely tilted."""
    k = np.arange(h, dtype=float)
    g = 1.0 + max(float(growth), 0.0) * k / max(n, 1)
    w = np.asarray(counts, dtype=float)[:h] if counts is not None and len(counts) >= h else np.ones(h)
    w = w if float(w.sum()) > 0 else np.ones(h)
    return _fpe(n, p) * g / float(np.average(g, weights=w))


def _t_ratio(df: float) -> float:
    """``t_df(0.975) / t_df(0.9)``: how much wider the 95 % interval is than the 80 % one."""
    return float(stats.t.ppf(0.975, df) / stats.t.ppf(0.9, df))


def _empirical_shape(errors: np.ndarray, sd: np.ndarray, df0: float) -> tuple[float, float]:
    """Scale factor and degrees of freedom that make the Student t of step 6 hit the series'
    own error quantiles (module docstring, step 6).

    With ``z = e[t, k] / sd_k`` the rolling-origin errors standardised by the fitted error
    model, the wanted central quantiles are

        q_L = Q_L(|z|) * t_df0(0.5 + L/200) / Phi^-1(0.5 + L/200),     L = 80, 95

    (the empirical quantile of the series' own errors, widened by the same small-sample
    factor as the t intervals: ``df0`` independent error paths). ``df`` solves
    ``t_df(0.975) / t_df(0.9) = q_95 / q_80`` (heavier tails, fewer degrees of freedom;
    within ``SHAPE_DF_RANGE``, normal above it) and ``factor = q_80 / t_df(0.9)``. Returns
    ``(1, df0)`` when the series has fewer than ``SHAPE_MIN_ERRORS`` errors.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(errors / sd[None, : errors.shape[1]])
    z = z[np.isfinite(z)]
    if len(z) < SHAPE_MIN_ERRORS:
        return 1.0, df0
    p = 0.5 + np.asarray(SHAPE_LEVELS) / 200.0
    q80, q95 = np.quantile(z, np.asarray(SHAPE_LEVELS) / 100.0) * stats.t.ppf(p, df0) / stats.norm.ppf(p)
    if not (q80 > 0 and q95 > 0):
        return 1.0, df0
    lo, hi = SHAPE_DF_RANGE
    ratio = q95 / q80
    if ratio >= _t_ratio(lo):
        df = lo
    elif ratio <= _t_ratio(hi):
        # Tails no heavier than normal: a normal matching both quantiles on average (geometric mean).
        zq = stats.norm.ppf(p)
        return float(np.sqrt(q80 / zq[0] * q95 / zq[1])), float("inf")
    else:
        df = float(optimize.brentq(lambda d: _t_ratio(d) - ratio, lo, hi))
    return float(q80 / stats.t.ppf(p[0], df)), df


def _covariance(a: float, b: float, c: float, h: int) -> np.ndarray:
    idx = np.arange(h)
    return c + b * np.minimum.outer(idx, idx) + a * np.eye(h)


@functools.cache
def forecast_defaults() -> ForecastSettings:
    """The ``forecast`` section of the package's ``defaults.yaml``, validated: the one home of
    the engine's default numbers (a forecast of a file outside the workbook uses them too)."""
    from salesplan.config import default_settings

    return default_settings().forecast


DEFAULT_MODELS = ("ets_damped", "ces", "theta")
# Temporal views (module docstring, step 2): months per period, and the fewest
# periods an aggregated series needs to be used; their values are defaults.yaml's.
DEFAULT_TEMPORAL_LEVELS = tuple(forecast_defaults().temporal_levels)
DEFAULT_TEMPORAL_MIN_POINTS = forecast_defaults().temporal_min_points
# The signatures' defaults, read from defaults.yaml like every other number of the engine.
DEFAULT_SEASON_LENGTH = forecast_defaults().season_length
DEFAULT_MAX_ORIGINS = forecast_defaults().max_origins
DEFAULT_LEVELS = tuple(int(v) for v in forecast_defaults().levels)
# The band's growth with the months ahead (step 6, :func:`_horizon_fpe`).
DEFAULT_HORIZON_GROWTH = forecast_defaults().horizon_growth


def _make_models(season_length: int, n: int, models: Sequence[str]) -> list[tuple[str, object]]:
    from statsforecast.models import ARIMA, AutoCES, AutoETS, DynamicOptimizedTheta, Theta

    seasonal = season_length > 1 and n >= 2 * season_length + 2
    m = season_length if seasonal else 1
    makers = {
        "ets": lambda: AutoETS(season_length=m),
        # Trend models restricted to damped trends (a robust default for business series).
        "ets_damped": lambda: AutoETS(season_length=m, damped=True),
        "ces": lambda: AutoCES(season_length=m),
        "theta": lambda: DynamicOptimizedTheta(season_length=m),
        # The classic Theta method (SES with half the linear trend as drift).
        "theta_classic": lambda: Theta(season_length=m),
        # ETS restricted to undamped (or no) trends.
        "ets_undamped": lambda: AutoETS(season_length=m, damped=False),
        # The "airline" model: one regular and one seasonal difference with MA terms; a
        # robust general-purpose ARIMA at a fraction of an automatic order search's cost.
        "arima": lambda: (
            ARIMA(order=(0, 1, 1), seasonal_order=(0, 1, 1), season_length=m)
            if seasonal
            else ARIMA(order=(0, 1, 1), season_length=1, include_drift=False)
        ),
    }
    unknown = [k for k in models if k not in makers]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(makers)}")
    return [(k, makers[k]()) for k in models]


def _origins(n: int, season_length: int, max_origins: int, min_train: int | None) -> np.ndarray:
    if min_train is None:
        min_train = max(2 * season_length, 6) if n >= 2 * season_length + 2 + 6 else max(n // 2, 3)
    return np.arange(max(min_train, n - max_origins), n)


def _fit_members(
    y: np.ndarray, horizon: int, prefixes: Sequence[int], season_length: int, models: Sequence[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Fit each model to ``y``; forecast ``horizon`` steps from the end and from each prefix.

    Returns ``(means, runs)``: per model, the forecast (length ``horizon``) and the forecasts
    made from ``y[:p]`` for every ``p`` in ``prefixes`` (rows; NaN where running the model
    forward from that prefix failed). A model that cannot be fitted, or whose forecast is
    not finite, is left out.
    """
    n = len(y)
    means: dict[str, np.ndarray] = {}
    runs: dict[str, np.ndarray] = {}
    if n < 3 or np.nanstd(y) == 0:
        return means, runs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model in _make_models(season_length, n, models):
            try:
                fitted = model.fit(y)
                mean = np.asarray(fitted.predict(horizon)["mean"], dtype=float)
            except Exception:  # noqa: BLE001 - a model that cannot fit this series is skipped
                continue
            if not np.all(np.isfinite(mean)):
                continue
            out = np.full((len(prefixes), horizon), np.nan)
            for r, p in enumerate(prefixes):
                try:
                    f = np.asarray(fitted.forward(y[:p], h=horizon)["mean"], dtype=float)
                except Exception:  # noqa: BLE001 - e.g. CES cannot re-run on a very short prefix
                    continue
                if np.all(np.isfinite(f)):
                    out[r] = f
            means[name], runs[name] = mean, out
    return means, runs


MEMBER_SCALES = ("level", "log", "both")


def _fit_on_scale(
    y: np.ndarray,
    horizon: int,
    prefixes: Sequence[int],
    season_length: int,
    models: Sequence[str],
    scale: str = "level",
    log_members: Sequence[str] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """:func:`_fit_members` with the members in ``log_members`` (all by default) fitted to
    ``log y`` and their forecasts taken back by ``exp`` (the median on the original scale).

    ``scale``: ``level`` (every member on ``y``: the default), ``log`` (those members on
    ``log y`` instead of ``y``) or ``both`` (those members on both scales, ``log <name>``
    beside ``<name>``). A series with a zero or negative value stays on ``y``: the log is
    not defined there.
    """
    if scale not in MEMBER_SCALES:
        raise ValueError(f"unknown member scale {scale!r}: use {', '.join(MEMBER_SCALES)}")
    logged = [m for m in models if log_members is None or m in log_members]
    if scale == "level" or not logged or not np.all(np.asarray(y) > 0):
        return _fit_members(y, horizon, prefixes, season_length, models)
    plain = [m for m in models if scale == "both" or m not in logged]
    means, runs = _fit_members(y, horizon, prefixes, season_length, plain) if plain else ({}, {})
    log_means, log_runs = _fit_members(np.log(y), horizon, prefixes, season_length, logged)
    with np.errstate(over="ignore"):
        for name, mean in log_means.items():
            back, back_runs = np.exp(mean), np.exp(log_runs[name])
            if not np.all(np.isfinite(back)):
                continue  # an explosive trend on the log scale: leave this member out
            key = f"log {name}" if scale == "both" else name
            means[key], runs[key] = back, np.where(np.isfinite(back_runs), back_runs, np.nan)
    return means, runs


def _disaggregate(period_fc: np.ndarray, shape: np.ndarray, k: int) -> np.ndarray:
    """Split each period's forecast over its ``k`` months in proportion to ``shape``.

    ``shape`` holds one value per month of the periods (``len(period_fc) * k``): the monthly
    view's forecast, or the actual value for months already observed. Each period keeps its
    total exactly: ``month = period * shape / sum(shape in period)``. Where a period's shape
    is not all positive (zeros, returns), the difference is spread evenly instead:
    ``month = shape + (period - sum(shape in period)) / k``.
    """
    s = shape.reshape(-1, k)
    tot = s.sum(axis=1, keepdims=True)
    positive = np.all(s > 0, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        prop = np.where(positive, period_fc[:, None] * s / np.where(positive, tot, 1.0), 0.0)
    even = s + (period_fc[:, None] - tot) / k
    return np.where(positive, prop, even).ravel()


def _temporal_view(
    y: np.ndarray,
    k: int,
    horizon: int,
    origins: np.ndarray,
    monthly_mean: np.ndarray,
    monthly_runs: np.ndarray,
    season_length: int,
    models: Sequence[str],
    scale: str = "level",
    log_members: Sequence[str] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The models fitted to ``y`` summed over periods of ``k`` months, back on the monthly scale.

    Periods end at the last month (the first ``n mod k`` months are left out). The forecast
    from origin ``t`` uses the complete periods before ``t``; months of the current period
    already observed at ``t`` count at their actual values in the split (``_disaggregate``).
    ``monthly_mean`` / ``monthly_runs`` (the monthly view, at least ``horizon + k - 1``
    months long) give the within-period shape. Returns ``(means, runs)`` like
    ``_fit_members``, ``horizon`` months, on the monthly scale.
    """
    n = len(y)
    offset = n % k
    agg = y[offset:].reshape(-1, k).sum(axis=1)
    m = season_length // k if season_length % k == 0 else 1
    starts = offset + k * ((origins - offset) // k)  # first month of the period holding t
    prefixes = (starts - offset) // k
    usable = prefixes >= 4
    periods = -(-(horizon + k - 1) // k)
    p0 = -(-horizon // k)  # periods the final forecast needs
    # Origins inside the same period share its prefix: run each prefix forward once.
    distinct = sorted(set(prefixes[usable].tolist()))
    means_a, runs_a = _fit_on_scale(agg, periods, distinct, m, models, scale, log_members)
    pos = {p: i for i, p in enumerate(distinct)}
    means: dict[str, np.ndarray] = {}
    runs: dict[str, np.ndarray] = {}
    for name, a_mean in means_a.items():
        means[name] = _disaggregate(a_mean[:p0], monthly_mean[: p0 * k], k)[:horizon]
        out = np.full((len(origins), horizon), np.nan)
        for r, t in enumerate(origins):
            if not usable[r]:
                continue
            a = runs_a[name][pos[prefixes[r]]]
            seen = t - starts[r]  # months of the current period observed at t
            pr = -(-(seen + horizon) // k)
            shape = np.concatenate([y[starts[r] : t], monthly_runs[r, : pr * k - seen]])
            if np.isnan(a).any() or np.isnan(shape).any():
                continue
            out[r] = _disaggregate(a[:pr], shape, k)[seen : seen + horizon]
        runs[name] = out
    return means, runs


def _observed_after(y: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:
    """``origins x h``: the ``h`` values that followed each origin ``t`` (``y[t:t+h]``), NaN
    where not yet observed."""
    out = np.full((len(origins), h), np.nan)
    for r, t in enumerate(origins):
        k = min(h, len(y) - t)
        out[r, :k] = y[t : t + k]
    return out


def _mix_members(
    y: np.ndarray,
    means: dict[str, np.ndarray],
    runs: dict[str, np.ndarray],
    origins: np.ndarray,
    combination: str,
    drop_ratio: float,
    guard_ratio: float,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Combine one view's members (module docstring, step 4): ``(mean, runs, weights)``."""
    names = list(means)
    observed = _observed_after(y, origins, runs[names[0]].shape[1])
    mse = []
    for k in names:
        e = observed - runs[k]
        mse.append(np.nanmean(e**2) if np.isfinite(e).any() else np.inf)
    mse = np.asarray(mse)
    finite = np.isfinite(mse)
    best = np.nanmin(np.where(finite, mse, np.nan)) if finite.any() else np.inf
    # Sanity trim: a model whose out-of-sample errors are an order of magnitude above the
    # best member's has failed on this series (or its run-forward is numerically unstable).
    sane = finite & (mse <= guard_ratio * best) if np.isfinite(best) and best > 0 else np.ones(len(names), bool)
    if combination == "mean" or not finite.any():
        w = sane.astype(float)
    else:
        keep = mse <= drop_ratio * best if best > 0 else mse == best
        if combination == "best":
            w = (mse == best).astype(float)
        elif combination == "inverse_mse":
            w = np.where(keep, 1.0 / np.maximum(mse, 1e-300), 0.0) if best > 0 else keep.astype(float)
        elif combination == "trimmed_mean":
            w = keep.astype(float)
        elif combination == "median":
            w = sane.astype(float)
        else:
            raise ValueError(
                f"unknown combination {combination!r}: use mean, trimmed_mean, median, inverse_mse or best"
            )
    if w.sum() == 0:
        w = np.ones(len(names))
    w = w / w.sum()
    kept = [k for k, wi in zip(names, w, strict=True) if wi > 0]
    stack_runs = np.stack([runs[k] for k in kept])
    if combination == "median":
        mean = np.median(np.vstack([means[k] for k in kept]), axis=0)
        mixed = np.nanmedian(stack_runs, axis=0) if len(kept) > 1 else stack_runs[0]
    else:
        wk = np.array([wi for wi in w if wi > 0])
        mean = sum(wi * means[k] for wi, k in zip(wk, kept, strict=True))
        # A member that could not run forward from some origin leaves the others to speak there.
        avail = np.isfinite(stack_runs)
        ww = np.where(avail, wk[:, None, None], 0.0)
        tot = ww.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mixed = np.where(tot > 0, (ww * np.nan_to_num(stack_runs)).sum(axis=0) / tot, np.nan)
    return mean, mixed, {k: float(wi) for k, wi in zip(names, w, strict=True)}


def temporal_levels_for(
    n: int,
    season_length: int = DEFAULT_SEASON_LENGTH,
    levels: Sequence[int] = DEFAULT_TEMPORAL_LEVELS,
    min_points: int = DEFAULT_TEMPORAL_MIN_POINTS,
) -> list[int]:
    """The temporal views a series of ``n`` months gets: each ``k`` in ``levels`` that divides
    ``season_length`` and leaves at least ``min_points`` whole periods (``n // k``)."""
    if season_length <= 1:
        return []
    return [int(k) for k in levels if 1 < k <= season_length and season_length % k == 0 and n // k >= min_points]


def fit_one(
    y: np.ndarray,
    horizon: int,
    *,
    season_length: int = DEFAULT_SEASON_LENGTH,
    max_origins: int = DEFAULT_MAX_ORIGINS,
    min_train: int | None = None,
    models: Sequence[str] = DEFAULT_MODELS,
    combination: str = "mean",
    drop_ratio: float = 2.0,
    guard_ratio: float = 10.0,
    temporal_levels: Sequence[int] = DEFAULT_TEMPORAL_LEVELS,
    temporal_min_points: int = DEFAULT_TEMPORAL_MIN_POINTS,
    unique_id: str = "",
    last_ds: pd.Timestamp | None = None,
    keep_errors: bool = False,
    interval_shape: str = "empirical",
    member_scale: str = "level",
    log_members: Sequence[str] | None = None,
    feasible: bool = True,
    horizon_growth: float = DEFAULT_HORIZON_GROWTH,
) -> SeriesForecast:
    """Fit the engine to one series (see the module docstring for the method).
    ``member_scale`` / ``log_members``: the members fitted to ``log y`` (:func:`_fit_on_scale`;
    measured on M3, M1 and Tourism in ``benchmarks/README.md``, not the default).
    ``feasible``: bands censored at 0 for a never-negative series and the short-series
    width floor (step 8); ``False`` gives the bands before step 8 (for measurement).
    ``horizon_growth``: the band's tilt with the months ahead (step 6, :func:`_horizon_fpe`;
    0 the flat correction; default ``forecast.horizon_growth`` of ``defaults.yaml``)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    h = int(horizon)
    origins = _origins(n, season_length, max_origins, min_train)
    levels = temporal_levels_for(n, season_length, temporal_levels, temporal_min_points)
    # The monthly view runs a little past the horizon: its shape splits the last period.
    h_ext = h + max(levels, default=1) - 1

    means, runs = _fit_on_scale(y, h_ext, origins, season_length, models, member_scale, log_members)
    if not means:
        means, runs = {"naive": np.repeat(y[-1], h_ext)}, {"naive": np.repeat(y[origins - 1, None], h_ext, axis=1)}
        levels = []
    mean_m, runs_m, weights = _mix_members(y, means, runs, origins, combination, drop_ratio, guard_ratio)
    views_mean, views_runs, used = [mean_m[:h]], [runs_m[:, :h]], [1]
    for k in levels:
        vm, vr = _temporal_view(y, k, h, origins, mean_m, runs_m, season_length, models, member_scale, log_members)
        if not vm:
            continue
        mk, rk, _ = _mix_members(y, vm, vr, origins, combination, drop_ratio, guard_ratio)
        views_mean.append(mk)
        views_runs.append(rk)
        used.append(k)
    mean = np.mean(views_mean, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an origin where no temporal view ran
        at_origins = np.nanmean(np.stack(views_runs), axis=0)

    errs = _observed_after(y, origins, h) - at_origins
    return _calibrate(
        y,
        mean,
        errs,
        origins,
        season_length=season_length,
        unique_id=unique_id,
        last_ds=last_ds,
        keep_errors=keep_errors,
        weights=weights,
        temporal_levels=tuple(used),
        interval_shape=interval_shape,
        feasible=feasible,
        horizon_growth=horizon_growth,
    )


def origin_scale(y: np.ndarray, origins: np.ndarray, season_length: int = DEFAULT_SEASON_LENGTH) -> np.ndarray:
    """The factor that takes the errors of a forecast made at origin ``t`` (from ``y[:t]``) to
    today's level (module docstring, step 3): ``level_n / level_t``, the level being the mean
    absolute value of the last ``season_length`` months, clipped to 0.2-5 (1 where undefined),
    so that a series that has grown is judged at its current size."""
    y = np.asarray(y, dtype=float)
    lv_now = _level(y, season_length)
    scale = np.array([lv_now / max(_level(y[:t], season_length), 1e-12 * max(lv_now, 1.0)) for t in origins])
    return np.where(np.isfinite(scale) & (scale > 0), np.clip(scale, 0.2, 5.0), 1.0)


def _calibrate(
    y: np.ndarray,
    mean: np.ndarray,
    errs: np.ndarray,
    origins: np.ndarray,
    *,
    season_length: int,
    unique_id: str,
    last_ds: pd.Timestamp | None,
    keep_errors: bool,
    weights: dict[str, float],
    temporal_levels: tuple[int, ...],
    interval_shape: str = "empirical",
    feasible: bool = True,
    horizon_growth: float = 0.0,
) -> SeriesForecast:
    """The calibrated error model around the point forecast (module docstring, steps 5-8).
    ``horizon_growth``: the final prediction error's growth with the months ahead
    (:func:`_horizon_fpe`; 0, the flat correction)."""
    n = len(y)
    h = len(mean)
    errs_scaled = errs * origin_scale(y, origins, season_length)[:, None]

    n_orig = int((~np.isnan(errs_scaled[:, 0])).sum()) if len(origins) else 0
    try:
        a, b, c = _fit_error_model(errs_scaled, h)
        if a + b + c <= 0:
            raise ValueError("degenerate")
    except ValueError:
        # Too little history to learn from: a local-level guess from month-to-month changes.
        d = np.diff(y) if n > 1 else np.array([abs(y[0]) if n else 1.0])
        v = float(np.var(d)) if len(d) > 1 else float(d[0] ** 2)
        v = v if v > 0 else max(float(np.mean(np.abs(y))) ** 2 * 0.01, 1e-12)
        a, b, c = v / 2, v / 2, 0.0
    cov = _covariance(a, b, c, h)
    # Consecutive origins share most of their future months, so their errors are far from
    # independent: count about one independent error path per ORIGIN_OVERLAP origins.
    dof = float(max(n_orig / ORIGIN_OVERLAP - 1, 2))
    if interval_shape == "empirical":
        factor, dof = _empirical_shape(errs_scaled, np.sqrt(np.clip(np.diag(cov), 0.0, None)), dof)
        # The errors came from parameters fitted to the whole series, the future of each origin
        # included: Akaike's final prediction error turns such in-sample-like errors into
        # out-of-sample ones (module docstring, step 6).
        # Scaling by g_h g_k (a diagonal matrix on both sides) keeps the covariance positive
        # semi-definite and the correlation between months as step 5 fitted it.
        counts = (~np.isnan(errs_scaled)).sum(axis=0)
        g = np.sqrt(_horizon_fpe(n, h, horizon_growth, counts))
        cov = cov * factor**2 * np.outer(g, g)
    elif interval_shape != "t":
        raise ValueError(f"unknown interval_shape {interval_shape!r}: use empirical or t")
    lower = float("-inf")
    if feasible:
        cov, dof = short_series_floor(y, cov, dof, season_length)
        # A series that has never been negative cannot go below zero (step 8).
        lower = 0.0 if n and float(np.min(y)) >= 0 else lower
    return SeriesForecast(
        unique_id=unique_id,
        last_ds=last_ds if last_ds is not None else pd.Timestamp("NaT"),
        mean=mean,
        cov=cov,
        df=dof,
        weights=weights,
        temporal_levels=temporal_levels,
        n_origins=n_orig,
        cv_errors=errs_scaled if keep_errors else None,
        cv_origins=origins if keep_errors else None,
        y=y if keep_errors else None,
        lower=lower,
    )


def recalibrate(
    fit: SeriesForecast,
    *,
    horizon_growth: float = DEFAULT_HORIZON_GROWTH,
    season_length: int = DEFAULT_SEASON_LENGTH,
    interval_shape: str = "empirical",
    feasible: bool = True,
) -> SeriesForecast:
    """``fit``'s band rebuilt from its own rolling-origin errors (steps 5-8) with these band
    options; the point forecast is kept. ``fit`` must have kept its errors
    (``keep_errors=True``); the options must be those it was fitted with except the band's.
    Used to measure band variants without refitting the models."""
    if fit.cv_errors is None or fit.cv_origins is None or fit.y is None:
        raise ValueError(f"{fit.unique_id}: the fit kept no rolling-origin errors (fit with keep_errors=True)")
    # The kept errors are at today's level; _calibrate rescales raw errors itself.
    errs = fit.cv_errors / origin_scale(fit.y, fit.cv_origins, season_length)[:, None]
    return _calibrate(
        fit.y,
        fit.mean,
        errs,
        fit.cv_origins,
        season_length=season_length,
        unique_id=fit.unique_id,
        last_ds=fit.last_ds,
        keep_errors=True,
        weights=fit.weights,
        temporal_levels=fit.temporal_levels,
        interval_shape=interval_shape,
        feasible=feasible,
        horizon_growth=horizon_growth,
    )


def short_series_floor(
    y: np.ndarray, cov: np.ndarray, df: float, season_length: int = DEFAULT_SEASON_LENGTH
) -> tuple[np.ndarray, float]:
    """The width a short series' history supports (module docstring, step 8).

    A series of ``n < 2 * season_length + 2`` months (``n >= 3``) gets

        cov' = cov * max(1, s^2 (1 + 1/n) / min_h cov[h, h]),     df' = min(df, max(n - 1, 3))

    with ``s^2`` the sample variance of its months (``ddof = 1``): no horizon's variance is below
    that of forecasting a new month by the mean of the ``n`` known ones, and the tails are
    those of a t with the ``n - 1`` degrees of freedom that mean leaves. Scaling the whole
    covariance keeps the correlation between months (and so the landing's spread) in shape.
    Longer series, and series of fewer than 3 months, are returned unchanged.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 3 or n >= 2 * season_length + 2 or not len(cov):
        return cov, df
    need = float(np.var(y, ddof=1)) * (1.0 + 1.0 / n)
    have = float(np.min(np.diag(cov)))
    if need > 0 and have < need:
        # A degenerate covariance (no error at some horizon) cannot be scaled: add month noise.
        cov = cov * (need / have) if have > 0 else cov + need * np.eye(len(cov))
    return cov, float(min(df, max(n - 1, SHAPE_DF_RANGE[0])))


# --------------------------------------------------------------------------------------
# Many series


def _fit_chunk(args: tuple) -> list[SeriesForecast]:
    items, horizon, kwargs = args
    return [fit_one(y, horizon, unique_id=uid, last_ds=last, **kwargs) for uid, last, y in items]


def default_n_jobs() -> int:
    """Worker processes used for many series: the cores this process may run on (at least 1;
    fewer than the machine's under ``taskset`` or a container's CPU set)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(cores or 1, 1)


def engine_options(config: ForecastSettings | Mapping[str, Any] | None) -> dict[str, Any]:
    """The engine's settings from a ``forecast`` settings section (typed or as its dict), as
    ``fit_series`` keywords: ``season_length``, ``max_origins``, ``temporal_levels``,
    ``temporal_min_points``, ``horizon_growth`` and the global member (``global_member``,
    ``global_weight`` from ``global_model``), so a user's setting reaches every fit. Without a section (a file forecast outside the workbook), the
    ``forecast`` section of ``defaults.yaml``."""
    from salesplan.settings import ForecastSettings

    if config is None:
        config = forecast_defaults()
    if not isinstance(config, ForecastSettings):
        given = {k: config[k] for k in ENGINE_KEYS if k in config}
        config = ForecastSettings.model_validate({**forecast_defaults().model_dump(), **given})
    return {
        "season_length": int(config.season_length),
        "max_origins": int(config.max_origins),
        "temporal_levels": tuple(int(k) for k in config.temporal_levels or ()),
        "temporal_min_points": int(config.temporal_min_points),
        "horizon_growth": float(config.horizon_growth),
        "global_member": bool(config.global_model.enabled),
        "global_weight": float(config.global_model.weight),
    }


ENGINE_KEYS = (
    "season_length",
    "max_origins",
    "temporal_levels",
    "temporal_min_points",
    "horizon_growth",
    "global_model",
)


def fit_series(
    df: pd.DataFrame,
    horizon: int,
    *,
    season_length: int = DEFAULT_SEASON_LENGTH,
    max_origins: int = DEFAULT_MAX_ORIGINS,
    combination: str = "mean",
    drop_ratio: float = 2.0,
    n_jobs: int | None = None,
    keep_errors: bool = False,
    source: str | None = None,
    models: Sequence[str] = DEFAULT_MODELS,
    temporal_levels: Sequence[int] = DEFAULT_TEMPORAL_LEVELS,
    temporal_min_points: int = DEFAULT_TEMPORAL_MIN_POINTS,
    interval_shape: str = "empirical",
    member_scale: str = "level",
    log_members: Sequence[str] | None = None,
    feasible: bool = True,
    global_member: bool | None = None,
    global_weight: float | None = None,
    store: str | os.PathLike[str] | None = None,
    horizon_growth: float = DEFAULT_HORIZON_GROWTH,
) -> dict[str, SeriesForecast]:
    """Fit the engine to every series of a long ``unique_id, ds, y`` frame.

    Returns ``{unique_id: SeriesForecast}`` in ``unique_id`` order. Series are independent; with ``n_jobs > 1``
    they are split over worker processes (one chunk per worker, each compiles the models
    once). ``models``: the combination's members (names as in ``_make_models``);
    ``temporal_levels`` / ``temporal_min_points``: the temporal views (module docstring,
    step 2; ``()`` for the monthly view alone); ``interval_shape``: ``empirical`` (the
    series' own error quantiles, step 6) or ``t`` (the Student t of the error model alone);
    ``member_scale`` / ``log_members``: members fitted to ``log y`` (see :func:`fit_one`);
    ``feasible``: bands censored at 0 for never-negative series and short series' width
    floor (module docstring, step 8); ``horizon_growth``: the band's tilt with the months
    ahead (step 6, ``forecast.horizon_growth``); ``global_member`` / ``global_weight``: blend in the
    global LightGBM member (:mod:`salesplan.forecast.global_model`; ``None`` takes
    ``forecast.global_model`` of ``defaults.yaml``, off there). ``store``: a folder of fitted
    series (:mod:`salesplan.forecast.fitstore`); a series fitted before with the same values,
    horizon and options is read from it instead of fitted, and every new fit is added to it.
    The result is the same with or without it.
    """
    if int(horizon) < 1:
        raise ForecastInputError(f"horizon must be a positive number of months, got {horizon!r}")
    data = validate_series(df, source=source)
    items = series_items(data)
    use_global = forecast_defaults().global_model.enabled if global_member is None else global_member
    kwargs = dict(
        season_length=season_length,
        max_origins=max_origins,
        combination=combination,
        drop_ratio=drop_ratio,
        # The blend's band is calibrated on the local errors at a few origins (step 9).
        keep_errors=keep_errors or bool(use_global),
        models=tuple(models),
        temporal_levels=tuple(int(k) for k in temporal_levels),
        temporal_min_points=int(temporal_min_points),
        interval_shape=str(interval_shape),
        member_scale=str(member_scale),
        log_members=None if log_members is None else tuple(log_members),
        feasible=bool(feasible),
        horizon_growth=float(horizon_growth),
    )
    n_jobs = default_n_jobs() if n_jobs is None else max(int(n_jobs), 1)
    if store is None:
        fits = _fit_items(items, horizon, kwargs, n_jobs)
    else:
        from salesplan.forecast import fitstore

        fits = fitstore.fit_with_store(
            store, items, horizon, kwargs, SeriesForecast, lambda todo, opts: _fit_items(todo, horizon, opts, n_jobs)
        )
    # In unique_id order whatever the number of workers (or the cluster) that fitted them.
    fits = {f.unique_id: f for f in sorted(fits, key=lambda f: f.unique_id)}
    if use_global:
        from salesplan.forecast.global_model import with_global_member

        fits = with_global_member(
            fits, data, horizon, weight=global_weight, num_threads=n_jobs, season_length=season_length
        )
        if not keep_errors:
            fits = {uid: replace(f, cv_errors=None, cv_origins=None, y=None) for uid, f in fits.items()}
    return fits


def series_items(data: pd.DataFrame) -> list[tuple[str, pd.Timestamp, np.ndarray]]:
    """The series of a validated long frame as ``(unique_id, last_ds, y)`` items, in
    ``unique_id`` order: what ``fit_one`` and the fit store (:mod:`salesplan.forecast.fitstore`)
    take."""
    return [(str(uid), g["ds"].iloc[-1], g["y"].to_numpy()) for uid, g in data.groupby("unique_id", sort=True)]


def _fit_items(items: list, horizon: int, kwargs: dict[str, Any], n_jobs: int) -> list[SeriesForecast]:
    """``(unique_id, last_ds, y)`` items fitted with ``fit_one``, over ``n_jobs`` processes."""
    if not items:
        return []
    if n_jobs == 1 or len(items) < 8:
        return _fit_chunk((items, horizon, kwargs))
    import multiprocessing as mp

    # Interleave so that long and short series spread evenly over the workers.
    chunks = [items[i::n_jobs] for i in range(n_jobs)]
    ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
    with ctx.Pool(n_jobs) as pool:
        parts = pool.map(_fit_chunk, [(c, horizon, kwargs) for c in chunks])
    return [f for part in parts for f in part]


def fits_to_frame(
    fits: dict[str, SeriesForecast] | Iterable[SeriesForecast], levels: Sequence[int] = DEFAULT_LEVELS
) -> pd.DataFrame:
    """Point forecasts and interval bounds, one row per series and month.

    Columns ``unique_id, ds, forecast`` then ``lo_L, hi_L`` for each level L:
    ``forecast ± t_{df}(0.5 + L/200) * sd_h``, each censored at the series' ``lower`` bound
    (0 for a series never negative: module docstring, step 8).
    """
    levels = _check_levels(levels)
    values = fits.values() if isinstance(fits, dict) else fits
    frames = []
    for f in values:
        h = len(f.mean)
        frame = {
            "unique_id": f.unique_id,
            "ds": pd.date_range(f.last_ds + pd.offsets.MonthBegin(1), periods=h, freq="MS"),
            "forecast": f.median,
        }
        sd = f.sd
        for lv in levels:
            q = f.quantile_scale(lv)
            frame[f"lo_{lv}"] = np.maximum(f.mean - q * sd, f.lower)
            frame[f"hi_{lv}"] = np.maximum(f.mean + q * sd, f.lower)
        frames.append(pd.DataFrame(frame))
    cols = FORECAST_COLUMNS + [f"{side}_{lv}" for lv in levels for side in ("lo", "hi")]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def views_used(fits: dict[str, SeriesForecast] | Iterable[SeriesForecast]) -> pd.DataFrame:
    """How many series each combination of views was used for (module docstring, step 2).

    Returns ``views, series``: ``views`` is "monthly" or e.g. "monthly + 2, 3 months".
    """
    values = fits.values() if isinstance(fits, dict) else fits
    labels = [
        "monthly"
        + (" + " + ", ".join(str(k) for k in f.temporal_levels[1:]) + " months" if len(f.temporal_levels) > 1 else "")
        for f in values
    ]
    return (
        pd.Series(labels, dtype=object)
        .value_counts()
        .rename_axis("views")
        .reset_index(name="series")
        .sort_values(["series", "views"], ascending=[False, True], ignore_index=True)
    )


def _check_levels(levels: Sequence[int] | int) -> list[int]:
    if isinstance(levels, int | float):
        levels = [levels]
    out = []
    for lv in levels:
        try:
            val = float(lv)
        except (TypeError, ValueError):
            raise ForecastInputError(f"interval level {lv!r} is not a number; use e.g. 80 95") from None
        if not 0 < val < 100:
            raise ForecastInputError(f"interval level {lv!r} must be between 0 and 100 (a percentage)")
        out.append(int(val) if val == int(val) else val)
    return sorted(set(out))


def forecast_frame(
    df: pd.DataFrame,
    horizon: int,
    levels: Sequence[int] = DEFAULT_LEVELS,
    *,
    season_length: int = DEFAULT_SEASON_LENGTH,
    max_origins: int = DEFAULT_MAX_ORIGINS,
    combination: str = "mean",
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Forecast every monthly series of a long frame ``unique_id, ds, y``.

    Returns one row per series and future month with columns
    ``unique_id, ds, forecast, lo_80, hi_80, lo_95, hi_95`` (one ``lo_L, hi_L`` pair per
    level). ``ds`` is the first of the month. The method (model combination weighted by
    rolling-origin errors, intervals calibrated on those errors) is described in
    :mod:`salesplan.forecast.engine`.
    """
    levels = _check_levels(levels)
    fits = fit_series(
        df, horizon, season_length=season_length, max_origins=max_origins, combination=combination, n_jobs=n_jobs
    )
    return fits_to_frame(fits, levels)


def read_series_file(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV or Parquet file of monthly series (columns ``unique_id, ds, y``)."""
    p = Path(path)
    if not p.exists():
        raise ForecastInputError(f"{p}: file not found")
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
        if suffix in (".csv", ".txt", ".gz"):
            return pd.read_csv(p, dtype={"unique_id": str}, encoding="utf-8-sig")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ForecastInputError(f"{p}: cannot read ({exc})") from None
    raise ForecastInputError(f"{p}: unsupported file type {suffix!r}; use .csv or .parquet")


def forecast_file(
    input_path: str | os.PathLike[str],
    horizon: int,
    levels: Sequence[int] = DEFAULT_LEVELS,
    out_path: str | os.PathLike[str] | None = None,
    *,
    season_length: int = DEFAULT_SEASON_LENGTH,
    n_jobs: int | None = None,
    fitter: Callable[..., dict[str, SeriesForecast]] | None = None,
) -> pd.DataFrame:
    """Read ``input_path`` (CSV or Parquet: ``unique_id, ds, y``), forecast ``horizon`` months
    and, if ``out_path`` is given, write the result there (CSV or Parquet by extension).
    ``fitter(raw, horizon, season_length=, source=)`` fits the series elsewhere (a cluster,
    :mod:`salesplan.forecast.backends`); by default :func:`fit_series` on this machine.

    Returns the forecast frame (``unique_id, ds, forecast, lo_L, hi_L ...``). Input
    problems raise :class:`ForecastInputError` naming the file, line and value.
    """
    try:
        h = int(horizon)
    except (TypeError, ValueError):
        raise ForecastInputError(f"horizon {horizon!r} is not a whole number of months") from None
    if h < 1 or h != horizon:
        raise ForecastInputError(f"horizon must be a positive whole number of months, got {horizon!r}")
    levels = _check_levels(levels)
    if out_path is not None:
        out = Path(out_path)
        if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
            raise ForecastInputError(f"{out}: output must end in .csv or .parquet")
    raw = read_series_file(input_path)
    if fitter is None:
        fits = fit_series(raw, h, season_length=season_length, n_jobs=n_jobs, source=str(input_path))
    else:
        fits = fitter(raw, h, season_length=season_length, source=str(input_path))
    result = fits_to_frame(fits, levels)
    if out_path is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            result.assign(ds=result["ds"].dt.strftime("%Y-%m-%d")).to_csv(out, index=False)
        else:
            result.to_parquet(out, index=False)
    return result
