"""The workbook's forecast: every sales series of the company, coherent, blended with the
pipeline, and landed against the annual targets.

Series (``unique_id``): ``total``; ``region=..``; ``product_line=..``;
``region=..|product_line=..``; ``rep_id=..``. History runs up to the as-of month; the
horizon reaches the end of the year and at least ``horizon`` months ahead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from salesplan.config import as_section, default_settings
from salesplan.dates import as_dates
from salesplan.forecast.backends import fit_series_on
from salesplan.forecast.engine import SeriesForecast, engine_options, fits_to_frame
from salesplan.forecast.landing import (
    HitCalibration,
    fit_hit_calibration,
    hit_backtest,
    landing_distribution,
    landing_summary,
)
from salesplan.forecast.pipeline import (
    blend,
    earned_weights,
    pipeline_coverage,
    pipeline_history,
    stage_win_rates,
    weighted_pipeline_series,
)
from salesplan.forecast.reconcile import parse_id, reconcile, series_id
from salesplan.settings import ForecastSettings

LEVELS: tuple[tuple[str, ...], ...] = ((), ("region",), ("product_line",), ("region", "product_line"), ("rep_id",))


def _as_period(month: str | pd.Period | pd.Timestamp) -> pd.Period:
    return pd.Period(month, freq="M")


def hierarchy_series(
    cube: pd.DataFrame,
    month: str | pd.Period,
    levels: Sequence[Sequence[str]] = LEVELS,
    value: str = "net_amount",
) -> pd.DataFrame:
    """Long ``unique_id, level, ds, y`` frame: monthly ``value`` per series of every level, up to ``month``.

    Every series starts at its first non-zero month: a new rep, or a product line launched 17
    months ago, is a short series, not a run of zeros followed by a jump (which would read as
    an enormous error and give a band far wider on one side than the other). Missing months
    inside a series are zero sales.
    """
    end = _as_period(month).to_timestamp()
    c = cube[cube["month"] <= end]
    if c.empty:
        raise ValueError(f"no sales on or before {month}: nothing to forecast")
    months = pd.date_range(c["month"].min(), end, freq="MS")
    frames = []
    for by in levels:
        by = list(by)
        if by:
            sums = c.groupby(["month", *by], observed=True)[value].sum().reset_index()
            for keys, g in sums.groupby(by, observed=True):
                keys = keys if isinstance(keys, tuple) else (keys,)
                uid = series_id(dict(zip(by, map(str, keys), strict=True)))
                s = g.set_index("month")[value].reindex(months, fill_value=0.0)
                nz = np.flatnonzero(s.to_numpy() != 0)
                if not len(nz):
                    continue
                s = s.iloc[nz[0] :]
                frames.append(pd.DataFrame({"unique_id": uid, "level": "|".join(by), "ds": s.index, "y": s.to_numpy()}))
        else:
            s = c.groupby("month")[value].sum().reindex(months, fill_value=0.0)
            frames.append(pd.DataFrame({"unique_id": "total", "level": "total", "ds": s.index, "y": s.to_numpy()}))
    return pd.concat(frames, ignore_index=True)


@dataclass
class HierarchyForecast:
    """Everything the forecast notebook shows.

    ``history``: ``unique_id, level, ds, y``; ``forecast``: ``unique_id, level, ds,
    base_forecast, forecast (reconciled), pipeline, pipeline_weight, blended, lo_L, hi_L``
    (bands around ``blended``); ``fits``: engine fits per series; ``win_rates`` and
    ``pipeline`` (weighted pipeline by month and series) when a pipeline table was given;
    ``calibration``: the P(hit) recalibration learned from the company's own past
    (:func:`hit_calibration`), unless ``p_hit_calibration.method`` is ``identity``;
    ``blend_weights``: the pipeline's weight per lead and how it was earned
    (:func:`salesplan.forecast.pipeline.earned_weights`).
    """

    month: pd.Period
    history: pd.DataFrame
    forecast: pd.DataFrame
    fits: dict[str, SeriesForecast]
    levels: list[int]
    reconciliation: str
    horizon: int
    """Months forecast ahead: ``forecast.horizon``, or the months left in the year when more."""
    season_length: int
    win_rates: pd.DataFrame | None = None
    pipeline: pd.DataFrame | None = None
    calibration: HitCalibration | None = None
    blend_weights: pd.DataFrame | None = None

    def shift(self, uid: str) -> np.ndarray:
        """Blended minus the series' own (uncensored) forecast mean, per month: moves the
        series' sample paths and landing distribution onto the blended forecast."""
        f = self.forecast[self.forecast["unique_id"] == uid].sort_values("ds")
        fit = self.fits.get(uid)
        if fit is None or len(fit.mean) < len(f):
            return (f["blended"] - f["base_forecast"]).to_numpy()
        return f["blended"].to_numpy(float) - fit.mean[: len(f)]


def leave_dates(reps: pd.DataFrame | None) -> dict[str, pd.Timestamp]:
    """The rep series' leave dates: ``{series id of the rep: leave_date}`` for every rep with one
    (none without a reps table or its ``leave_date`` column)."""
    if reps is None or not {"rep_id", "leave_date"} <= set(reps.columns):
        return {}
    dates = pd.to_datetime(reps["leave_date"], errors="coerce")
    known = dates.notna()
    return {
        series_id({"rep_id": str(rep)}): pd.Timestamp(d)
        for rep, d in zip(reps.loc[known, "rep_id"], dates[known], strict=True)
    }


def without_months_after(fit: SeriesForecast, leave_date: pd.Timestamp | None) -> SeriesForecast:
    """The forecast of a rep who leaves on ``leave_date``: nothing, with no uncertainty, in every
    month that starts after that day (``mean = 0``, the covariance's rows and columns 0, the
    lower bound 0); the months before are kept. ``fit`` unchanged without a leave date or when
    the rep is still there at the horizon's end."""
    if leave_date is None or pd.isna(leave_date):
        return fit
    months = pd.date_range(fit.last_ds + pd.DateOffset(months=1), periods=len(fit.mean), freq="MS")
    gone = np.asarray(months > pd.Timestamp(leave_date))
    if not gone.any():
        return fit
    mean = np.where(gone, 0.0, fit.mean)
    cov = fit.cov.copy()
    cov[gone, :] = 0.0
    cov[:, gone] = 0.0
    return replace(fit, mean=mean, cov=cov, lower=max(fit.lower, 0.0) if gone.all() else fit.lower)


def _forecast_section(config: ForecastSettings | Mapping[str, Any] | None) -> ForecastSettings:
    """The typed ``forecast`` section: as given, the defaults for None, a mapping validated over them."""
    return as_section(config, default_settings().forecast, "forecast")


def _after_leave(index: pd.MultiIndex, leave: Mapping[str, pd.Timestamp]) -> np.ndarray:
    """Rows (``unique_id, ds``) of a rep's series dated after the rep's leave date."""
    if not leave:
        return np.zeros(len(index), dtype=bool)
    dates = pd.Series(index.get_level_values("unique_id")).map(leave)
    return (as_dates(dates) < pd.Series(index.get_level_values("ds"))).fillna(False).to_numpy(bool)


def forecast_hierarchy(
    cube: pd.DataFrame,
    month: str | pd.Period,
    config: ForecastSettings | Mapping[str, Any] | None,
    pipeline: pd.DataFrame | None = None,
    reps: pd.DataFrame | None = None,
    levels: Sequence[Sequence[str]] = LEVELS,
    value: str = "net_amount",
    n_jobs: int | None = None,
    engine: str = "local",
    address: str | None = None,
    store: str | os.PathLike[str] | None = None,
) -> HierarchyForecast:
    """Fit, reconcile and blend the forecasts of every series (config = the ``forecast`` settings
    section, :class:`~salesplan.settings.ForecastSettings`; a mapping is validated over the
    defaults by :func:`salesplan.config.as_section`, None gives the defaults).

    ``engine`` and ``address``: where the series are fitted, this machine or a Dask, Spark or
    Ray cluster (:func:`salesplan.forecast.backends.fit_series_on`; the settings
    ``engine.forecast`` and ``engine.address``); the results are the same. ``store``: a
    folder of fitted series (:mod:`salesplan.forecast.fitstore`) read before fitting and
    added to after, for this forecast and its P(hit) backtest; the results are the same.

    Horizon = months to the end of the year, at least ``config.horizon``. Reconciliation:
    ``config.reconciliation`` (:mod:`salesplan.forecast.reconcile`). Blend with the
    weighted pipeline: ``config.pipeline`` (:mod:`salesplan.forecast.pipeline`).
    """
    config = _forecast_section(config)
    p = _as_period(month)
    horizon = max(int(config.horizon), 12 - p.month)
    lv = [int(x) for x in config.levels]
    season = int(config.season_length)
    history = hierarchy_series(cube, p, levels, value)
    fits = fit_series_on(
        history[["unique_id", "ds", "y"]],
        horizon,
        engine,
        address,
        n_jobs=n_jobs,
        keep_errors=True,
        store=store,
        **engine_options(config),
    )
    leave = leave_dates(reps)
    fits = {uid: without_months_after(f, leave.get(uid)) for uid, f in fits.items()}
    base = fits_to_frame(fits, lv)
    # One-month-ahead cross-validation errors, dated, for the MinT error covariance.
    err_rows = []
    for uid, f in fits.items():
        # A series without any observed error adds nothing to the covariance (and an all-NaN
        # frame would make the concatenation's dtypes depend on pandas' version).
        if f.cv_errors is None or f.y is None or not np.isfinite(f.cv_errors[:, 0]).any():
            continue
        # Origin t forecasts month t of the series (0-based), i.e. n - 1 - t months before the last.
        n = len(f.y)
        ds = [f.last_ds - pd.DateOffset(months=int(n - 1 - t)) for t in f.cv_origins]
        err_rows.append(pd.DataFrame({"unique_id": uid, "ds": ds, "error": f.cv_errors[:, 0]}))
    errors = pd.concat(err_rows, ignore_index=True) if err_rows else None
    reps_region = None
    if reps is not None and {"rep_id", "region"} <= set(reps.columns):
        reps_region = dict(zip(reps["rep_id"].astype(str), reps["region"].astype(str), strict=False))
    method = str(config.reconciliation)
    rec = reconcile(base[["unique_id", "ds", "forecast"]], method=method, errors=errors, reps_region=reps_region)

    first = (p + 1).to_timestamp()
    pcfg = config.pipeline
    win_rates = pipe = blend_weights = None
    if pipeline is not None and len(pipeline):
        as_of = (p + 1).to_timestamp() - pd.Timedelta(days=1)
        win_rates = stage_win_rates(pipeline, pcfg.stage_probability, int(pcfg.min_closed), as_of=as_of)
        pipe = weighted_pipeline_series(pipeline, win_rates, as_of, levels).rename(columns={"month": "ds"})
        caps = list(pcfg.blend_weights)
        past = pipeline_history(pipeline, win_rates, history, levels, as_of, max_lead=max(len(caps), 1))
        coverage = pipeline_coverage(pipeline, win_rates, history, levels, as_of, history=past)
        total_fit = fits.get("total")
        stat_mse = (
            np.nanmean(total_fit.cv_errors**2, axis=0)
            if total_fit is not None and total_fit.cv_errors is not None and total_fit.cv_errors.size
            else np.array([])
        )
        # One weight per lead for every series keeps the blend coherent across levels.
        blend_weights = earned_weights(past, coverage, stat_mse, caps)
        weights = blend_weights["weight"].tolist()
        blended = blend(rec, pipe, weights, first, coverage)
        # Coverage ratios differ by series: reconcile the blended figures once more so the
        # parts still add up to the whole.
        again = reconcile(
            blended[["unique_id", "ds", "blended"]].rename(columns={"blended": "forecast"}),
            method=method,
            errors=errors,
            reps_region=reps_region,
        )
        blended = blended.drop(columns="blended").merge(
            again[["unique_id", "ds", "forecast"]].rename(columns={"forecast": "blended"}), on=["unique_id", "ds"]
        )
    else:
        blended = rec.assign(
            pipeline=np.nan, coverage=np.nan, pipeline_forecast=np.nan, pipeline_weight=0.0, blended=rec["forecast"]
        )

    # Bands: the series' calibrated widths, centred on the final (reconciled, blended) forecast,
    # and censored at the series' lower bound like the point forecast (a series never negative
    # stays at or above 0 even where reconciliation or the pipeline pulled a month below it).
    out = blended.set_index(["unique_id", "ds"])
    width = _band_widths(fits, lv).reindex(out.index)
    lower = out.index.get_level_values("unique_id").map({u: f.lower for u, f in fits.items()}).to_numpy(float)
    out["blended"] = np.maximum(out["blended"].to_numpy(float), lower)
    for level in lv:
        for side, sign in (("lo", -1.0), ("hi", 1.0)):
            out[f"{side}_{level}"] = np.maximum(out["blended"] + sign * width[level], lower)
    # A rep who has left sells nothing after the leave date, whatever reconciliation spread onto her.
    gone = _after_leave(out.index, leave)
    out.loc[gone, ["blended", *[f"{side}_{level}" for level in lv for side in ("lo", "hi")]]] = 0.0
    out = out.reset_index()
    level_of = history.drop_duplicates("unique_id").set_index("unique_id")["level"]
    out.insert(1, "level", out["unique_id"].map(level_of))
    calibration = None
    if str(config.p_hit_calibration.method) != "identity":
        calibration = hit_calibration(cube, p, config, levels, value, engine=engine, address=address, store=store)
    return HierarchyForecast(
        month=p,
        history=history,
        forecast=out,
        fits=fits,
        levels=lv,
        reconciliation=method,
        horizon=horizon,
        season_length=season,
        win_rates=win_rates,
        pipeline=pipe,
        calibration=calibration,
        blend_weights=blend_weights,
    )


def _band_widths(fits: Mapping[str, SeriesForecast], levels: Sequence[int]) -> pd.DataFrame:
    """Half-width ``t_df(0.5 + L/200) * sd_h`` of each series' uncensored band, indexed by
    ``unique_id, ds``, one column per level ``L``."""
    frames = []
    for uid, f in fits.items():
        ds = pd.date_range(f.last_ds + pd.offsets.MonthBegin(1), periods=len(f.mean), freq="MS")
        cols = {lv: f.quantile_scale(lv) * f.sd for lv in levels}
        frames.append(pd.DataFrame({"unique_id": uid, "ds": ds, **cols}))
    return pd.concat(frames, ignore_index=True).set_index(["unique_id", "ds"])


def annual_targets(targets: pd.DataFrame, year: int, by: Sequence[str] = ()) -> pd.DataFrame:
    """Annual target per group: sum of ``target_amount`` over the year's rows (``*by, target``)."""
    t = targets[targets["year"].astype(int) == int(year)]
    by = list(by)
    if not by:
        return pd.DataFrame({"target": [float(t["target_amount"].sum())]})
    return t.groupby(by, observed=True)["target_amount"].sum().rename("target").reset_index()


def summary_backtest(
    fc: HierarchyForecast,
    config: ForecastSettings | Mapping[str, Any] | None = None,
    *,
    store: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Rolling-origin accuracy (:func:`salesplan.forecast.backtest.backtest`) of the series a
    reader looks at first: the total, each region and each product line of ``fc``, with the
    ``forecast`` settings' backtest horizon, origins, step, minimum history and engine options.
    The rows of :func:`~salesplan.forecast.backtest.backtest` plus ``series``, the series in
    words ("region North", "product line Tools")."""
    from salesplan.forecast.backtest import backtest

    config = _forecast_section(config)
    regions = sorted(u for u in fc.fits if u.startswith("region=") and "|" not in u)
    ids = ["total", *regions, *sorted(u for u in fc.fits if u.startswith("product_line="))]
    history = fc.history
    scores = backtest(
        history.loc[history["unique_id"].isin(ids), ["unique_id", "ds", "y"]],
        horizon=int(config.backtest_horizon),
        windows=int(config.cv_windows),
        step=int(config.backtest_step),
        min_history=int(config.min_history_months),
        store=store,
        **engine_options(config),
    )
    return scores.assign(
        series=scores["unique_id"].str.replace("product_line=", "product line ").str.replace("region=", "region ")
    )


def landing_table(
    cube: pd.DataFrame,
    targets: pd.DataFrame | None,
    month: str | pd.Period,
    by: Sequence[str] = ("region",),
    config: ForecastSettings | Mapping[str, Any] | None = None,
    fc: HierarchyForecast | None = None,
    value: str = "net_amount",
    calibration: HitCalibration | None = None,
) -> pd.DataFrame:
    """Year-end landing per group of ``by`` (and the total): one row per series with
    ``unique_id, dimension, item, ytd, landing, lo_L, hi_L, target, p_hit, gap,
    run_rate_needed`` (formulas in :mod:`salesplan.forecast.landing`).

    ``landing = YTD actual (Jan..month) + blended forecast of the remaining months``; the
    interval and ``p_hit`` come from the distribution of the sum of the remaining months
    (months correlated; :func:`salesplan.forecast.landing.landing_distribution`).
    ``targets``: the ``targets`` table (``year, month, region, product_line, rep_id,
    target_amount``) or a saved plan with the same columns; without it target, p_hit, gap
    and run rate are NaN. ``config``: the ``forecast`` settings section. Pass ``fc`` (from
    :func:`forecast_hierarchy`) to reuse fitted forecasts. ``calibration`` (from
    :func:`hit_calibration`; default: the one ``fc`` carries) maps the model's ``p_hit``
    to the hit rate the company's own backtests showed for such predictions; the
    uncalibrated value is kept as ``p_hit_model``.

    Feasibility (:mod:`salesplan.forecast.landing`): for a series never negative the landing
    and its interval are not below ``ytd``, and ``p_hit = 1`` once ``ytd >= target``. The
    recalibration applies only where the target is still open and to a series with at least
    ``calibration.min_months`` months of history (:meth:`HitCalibration.applies_to`); a
    shorter series keeps ``p_hit = p_hit_model``.
    """
    cfg = _forecast_section(config)
    p = _as_period(month)
    if fc is None:
        fc = forecast_hierarchy(
            cube, p, cfg, levels=((), *(((b,),) if isinstance(b, str) else (tuple(b),) for b in by))
        )
    lv = fc.levels
    remaining = 12 - p.month
    year_start = pd.Timestamp(year=p.year, month=1, day=1)
    end = p.to_timestamp()
    by = [by] if isinstance(by, str) else list(by)
    wanted = ["total"] + [u for u in fc.fits if set(parse_id(u)) == set(by) and u != "total"] if by else ["total"]
    rows = []
    for uid in wanted:
        if uid not in fc.fits:
            continue
        keys = parse_id(uid)
        h = fc.history[fc.history["unique_id"] == uid]
        ytd = float(h.loc[(h["ds"] >= year_start) & (h["ds"] <= end), "y"].sum())
        f = fc.forecast[fc.forecast["unique_id"] == uid].sort_values("ds")
        point = ytd + float(f["blended"].iloc[:remaining].sum())
        dist = landing_distribution(fc.fits[uid], ytd, remaining, shift=fc.shift(uid))
        target = float("nan")
        if targets is not None and len(targets):
            t = targets[targets["year"].astype(int) == p.year]
            for k, v in keys.items():
                t = t[t[k].astype(str) == v]
            target = float(t["target_amount"].sum()) if len(t) else float("nan")
        row = {"unique_id": uid, "dimension": "|".join(keys) or "total", "item": "|".join(keys.values()) or "total"}
        row.update(landing_summary(dist, point, ytd, target, remaining, lv))
        row["p_hit_model"] = row["p_hit"]
        cal = calibration if calibration is not None else fc.calibration
        still_open = np.isfinite(row["p_hit"]) and target > dist.floor
        if cal is not None and still_open and cal.applies_to(len(h)):
            row["p_hit"] = float(cal(row["p_hit"]))
        rows.append(row)
    return pd.DataFrame(rows)


def hit_calibration(
    cube: pd.DataFrame,
    month: str | pd.Period,
    config: ForecastSettings | Mapping[str, Any] | None = None,
    levels: Sequence[Sequence[str]] = LEVELS,
    value: str = "net_amount",
    *,
    engine: str = "local",
    address: str | None = None,
    store: str | os.PathLike[str] | None = None,
) -> HitCalibration:
    """Recalibration of P(hit) learned from the company's own history up to ``month``.

    Every series of ``levels`` is backtested by :func:`salesplan.forecast.landing.hit_backtest`
    (engine refitted ``back`` months before ``month``, plans = previous calendar year x
    ``plan_factors``) and the pairs are fitted by
    :func:`salesplan.forecast.landing.fit_hit_calibration`. ``config``: the ``forecast``
    settings section (the defaults when None); its ``p_hit_calibration`` (``method, back,
    plan_factors, prior_cases, min_cases``) sets the backtest and the fit. Too little history gives the identity map. The map's
    ``min_months`` is the shortest history a backtest case was fitted on. ``store``: see
    :func:`salesplan.forecast.landing.backtest_cuts`.
    """
    cfg = _forecast_section(config)
    cal = cfg.p_hit_calibration
    history = hierarchy_series(cube, month, levels, value)[["unique_id", "ds", "y"]]
    pairs = hit_backtest(
        history,
        back=tuple(int(b) for b in cal.back),
        factors=tuple(float(f) for f in cal.plan_factors),
        engine=engine,
        address=address,
        store=store,
        **engine_options(cfg),
    )
    return fit_hit_calibration(
        pairs["p_hit"].to_numpy(),
        pairs["hit"].to_numpy(dtype=float),
        method=str(cal.method),
        prior_cases=float(cal.prior_cases),
        min_cases=int(cal.min_cases),
        # The map speaks only for series at least as long as the shortest one it learned from.
        min_months=int(pairs["months"].min()) if len(pairs) else 0,
    )


def target_series(plan: pd.DataFrame | None, uids: Sequence[str]) -> dict[str, pd.DataFrame | None]:
    """The monthly target of each series id (``total``, ``region=East``, ...) from a plan in
    contract form: ``{uid: DataFrame(ds, target_amount)}``, None for every id without a plan."""
    out: dict[str, pd.DataFrame | None] = {}
    for uid in uids:
        if plan is None or not len(plan):
            out[uid] = None
            continue
        t = plan
        for key, value in parse_id(uid).items():
            t = t[t[key].astype(str) == value]
        g = t.groupby(["year", "month"])["target_amount"].sum().reset_index()
        g["ds"] = pd.to_datetime({"year": g["year"], "month": g["month"], "day": 1})
        out[uid] = g[["ds", "target_amount"]]
    return out
