"""Weighted pipeline: open opportunities x win probability, by expected close month.

* **Win rate by stage** (from history): among opportunities seen at a stage in any snapshot
  and later closed (won or lost in their last snapshot),

      win_rate(stage) = #won / (#won + #lost)        (each opportunity counted once per stage)

  used when at least ``min_closed`` such opportunities exist; otherwise the mean of the
  data's ``probability`` column at that stage, otherwise the configured stage probability.
* **Weighted pipeline** of month ``m`` = sum over open opportunities in the latest snapshot
  (on or before the as-of date) with expected close in ``m`` of ``amount x win_rate(stage)``.
  Opportunities already past their expected close date count in the first forecast month.
* **Coverage**: the pipeline rarely holds all of a month's sales (repeat orders, small
  deals). For lead ``k`` (months between snapshot and close month) and a series,

      coverage_k = sum(actual sales of month m) / sum(weighted pipeline for m seen k months before)

  over the past months with snapshots (at least 3; else the total's ratio; else 1), and
  the pipeline forecast is ``weighted pipeline x coverage_k``.
* **Blend**: for forecast month ``k`` (1 = next month) with pipeline weight ``w_k``: the
  weight the pipeline has earned by its past accuracy on the company total (inverse-MSE
  against the statistical forecast, :func:`earned_weights`), at most ``blend_weights``
  (default 0.5, 0.3, 0.1),

      blended_k = w_k x pipeline_forecast_k + (1 - w_k) x statistical_k ; statistical_k after

  The same weights at every level keep the blended forecasts coherent (a weighted sum of
  two coherent sets is coherent; the coverage ratios differ by series, so the pipeline
  forecasts are made coherent by the same reconciliation as the statistical ones).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from salesplan.dates import as_dates

PIPELINE_COLUMNS = ["opportunity_id", "snapshot_date", "stage", "amount", "expected_close_date", "status"]


def _check(pipeline: pd.DataFrame) -> None:
    missing = [c for c in PIPELINE_COLUMNS if c not in pipeline.columns]
    if missing:
        raise ValueError(f"pipeline table: missing column(s) {', '.join(missing)}")


def stage_win_rates(
    pipeline: pd.DataFrame,
    stage_probability: Mapping[str, float],
    min_closed: int = 10,
    as_of: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Win rate per stage: ``stage, closed, won, win_rate, probability_column, configured, used, source``.

    ``used`` is the historical win rate when ``closed >= min_closed``, else the mean of the
    ``probability`` column at the stage (when present), else the configured probability.
    Only snapshots on or before ``as_of`` are used (no peeking at the future).
    """
    _check(pipeline)
    p = pipeline.copy()
    p["snapshot_date"] = as_dates(p["snapshot_date"])
    if as_of is not None:
        p = p[p["snapshot_date"] <= as_of]
    final = p.sort_values("snapshot_date").groupby("opportunity_id")["status"].last()
    closed = final[final.isin(["won", "lost"])]
    seen = p[["opportunity_id", "stage"]].drop_duplicates()
    seen = seen[seen["opportunity_id"].isin(closed.index)].assign(
        won=lambda d: d["opportunity_id"].map(closed).eq("won")
    )
    hist = seen.groupby("stage").agg(closed=("won", "size"), won=("won", "sum")).reset_index()
    hist["win_rate"] = hist["won"] / hist["closed"]
    stages = list(dict.fromkeys([*stage_probability.keys(), *p["stage"].dropna().unique()]))
    out = pd.DataFrame({"stage": stages}).merge(hist, on="stage", how="left")
    out[["closed", "won"]] = out[["closed", "won"]].fillna(0).astype(int)
    if "probability" in p.columns:
        prob = pd.to_numeric(p["probability"], errors="coerce")
        prob = prob.where(prob <= 1, prob / 100)  # a percentage column
        out = out.merge(
            prob.groupby(p["stage"]).mean().rename("probability_column"), left_on="stage", right_index=True, how="left"
        )
    else:
        out["probability_column"] = np.nan
    out["configured"] = out["stage"].map(stage_probability).astype(float)
    use_hist = out["closed"] >= min_closed
    use_col = ~use_hist & out["probability_column"].notna()
    out["used"] = np.where(use_hist, out["win_rate"], np.where(use_col, out["probability_column"], out["configured"]))
    out["source"] = np.where(use_hist, "history", np.where(use_col, "probability column", "configured"))
    # A stage named nowhere in the config and without history: no basis, count it at 0.
    out["used"] = out["used"].fillna(0.0)
    return out


def weighted_pipeline(
    pipeline: pd.DataFrame,
    win_rates: pd.DataFrame,
    as_of: pd.Timestamp,
    by: Sequence[str] = (),
) -> pd.DataFrame:
    """Weighted open pipeline by expected close month from the latest snapshot on or before ``as_of``.

    Returns ``month, *by, open_amount, weighted_amount, opportunities``; ``month`` = first of
    the expected close month, past-due opportunities moved to the month after ``as_of``.
    """
    _check(pipeline)
    by = list(by)
    # cache=False: pandas' cache probe walks the column as Timestamps, seconds over the
    # snapshots pipeline_history asks for, and the dates are mostly already datetimes.
    dates = pd.to_datetime(pipeline["snapshot_date"], cache=False)
    dates = dates[dates <= as_of]
    cols = ["month", *by, "open_amount", "weighted_amount", "opportunities"]
    if dates.empty:
        return pd.DataFrame(columns=cols)
    snap = pipeline.loc[dates.index[dates == dates.max()]]
    snap = snap[snap["status"] == "open"].copy()
    first = (pd.Timestamp(as_of).to_period("M") + 1).to_timestamp()
    month = pd.to_datetime(snap["expected_close_date"], cache=False).dt.to_period("M").dt.to_timestamp()
    snap["month"] = month.where(month >= first, first)
    rate = win_rates.set_index("stage")["used"]
    snap["weighted_amount"] = snap["amount"].astype(float) * snap["stage"].map(rate).fillna(0.0)
    return (
        snap.groupby(["month", *by], observed=True)
        .agg(
            open_amount=("amount", "sum"),
            weighted_amount=("weighted_amount", "sum"),
            opportunities=("opportunity_id", "nunique"),
        )
        .reset_index()[cols]
    )


def _levels_in(pipeline: pd.DataFrame, levels: Sequence[Sequence[str]]) -> list[tuple[int, list[str]]]:
    """The levels (with their position in ``levels``) whose columns the pipeline has."""
    return [(i, list(by)) for i, by in enumerate(levels) if set(by) <= set(pipeline.columns)]


def _series_ids(frame: pd.DataFrame, by: Sequence[str]) -> pd.Series | str:
    """Each row's ``unique_id`` (:func:`salesplan.forecast.reconcile.series_id` of its ``by``
    values as text), built column by column: ``"total"`` for the top level."""
    if not by:
        return "total"
    ids = None
    for k in by:
        part = f"{k}=" + frame[k].astype(str)
        ids = part if ids is None else ids + "|" + part
    return ids


def weighted_pipeline_series(
    pipeline: pd.DataFrame,
    win_rates: pd.DataFrame,
    as_of: pd.Timestamp,
    levels: Sequence[Sequence[str]],
) -> pd.DataFrame:
    """:func:`weighted_pipeline` for every level of the hierarchy at once, as forecast series:
    ``unique_id, month, open_amount, weighted_amount, opportunities`` (``unique_id`` as in
    :func:`salesplan.forecast.reconcile.series_id`). Levels whose columns the pipeline lacks
    are skipped."""
    cols = ["unique_id", "month", "open_amount", "weighted_amount", "opportunities"]
    views = []
    for _, by in _levels_in(pipeline, levels):
        wp = weighted_pipeline(pipeline, win_rates, as_of, by)
        if wp.empty:
            continue
        views.append(wp.assign(unique_id=_series_ids(wp, by))[cols])
    return pd.concat(views, ignore_index=True) if views else pd.DataFrame(columns=cols)


def pipeline_history(
    pipeline: pd.DataFrame,
    win_rates: pd.DataFrame,
    actuals: pd.DataFrame,
    levels: Sequence[Sequence[str]],
    as_of: pd.Timestamp,
    max_lead: int = 3,
) -> pd.DataFrame:
    """What past snapshots expected against what was sold: one row per series, month and
    lead with ``unique_id, month, lead, weighted_amount, actual``, for closed months only.
    ``actuals``: ``unique_id, ds, y`` monthly sales.

    Every snapshot ``s`` on or before ``as_of`` is read as :func:`weighted_pipeline` reads the
    latest one (its open opportunities, past-due ones moved to the month after ``s``), all
    snapshots in one grouping; ``lead`` is the number of months from ``s`` to the close month,
    1 to ``max_lead``. Rows are in snapshot order, then level, then month and the level's keys."""
    _check(pipeline)
    cols = ["unique_id", "month", "lead", "weighted_amount", "actual"]
    snaps = pd.to_datetime(pipeline["snapshot_date"], cache=False)
    keep = (snaps <= as_of) & (pipeline["status"] == "open")
    if not keep.any():
        return pd.DataFrame(columns=cols)
    open_rows = pipeline.loc[keep]
    snap = snaps[keep]
    first = (snap.dt.to_period("M") + 1).dt.to_timestamp()
    month = pd.to_datetime(open_rows["expected_close_date"], cache=False).dt.to_period("M").dt.to_timestamp()
    month = month.where(month >= first, first)
    lead = (month.dt.year - snap.dt.year) * 12 + (month.dt.month - snap.dt.month)
    rate = win_rates.set_index("stage")["used"]
    work = open_rows.assign(
        _snapshot=snap,
        month=month,
        lead=lead.astype("int64"),
        weighted_amount=open_rows["amount"].astype(float) * open_rows["stage"].map(rate).fillna(0.0),
    )
    # The lead depends on the snapshot and the close month alone, both grouping keys: rows
    # outside 1..max_lead can go before grouping.
    work = work[(work["lead"] >= 1) & (work["lead"] <= max_lead)]
    views = []
    for number, by in _levels_in(pipeline, levels):
        g = work.groupby(["_snapshot", "month", *by], observed=True).agg(
            lead=("lead", "first"), weighted_amount=("weighted_amount", "sum")
        )
        g = g.reset_index()
        views.append(g.assign(unique_id=_series_ids(g, by), _level=number))
    if not views:
        return pd.DataFrame(columns=cols)
    w = pd.concat(views, ignore_index=True).sort_values(["_snapshot", "_level"], kind="stable")
    a = actuals.rename(columns={"ds": "month", "y": "actual"})[["unique_id", "month", "actual"]]
    # Only months already closed by the as-of date can be compared.
    j = w[["unique_id", "month", "lead", "weighted_amount"]].merge(a, on=["unique_id", "month"], how="inner")
    return j[j["month"] <= pd.Timestamp(as_of)][cols].reset_index(drop=True)


def pipeline_coverage(
    pipeline: pd.DataFrame,
    win_rates: pd.DataFrame,
    actuals: pd.DataFrame,
    levels: Sequence[Sequence[str]],
    as_of: pd.Timestamp,
    max_lead: int = 3,
    min_months: int = 3,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Coverage ratio per series and lead (module docstring): ``unique_id, lead, months,
    actual, weighted, coverage``. ``actuals``: ``unique_id, ds, y`` monthly sales;
    ``history``: a ready :func:`pipeline_history` table (computed when not given)."""
    j = (
        history
        if history is not None
        else pipeline_history(pipeline, win_rates, actuals, levels, as_of, max_lead=max_lead)
    )
    cols = ["unique_id", "lead", "months", "actual", "weighted", "coverage"]
    if j.empty:
        return pd.DataFrame(columns=cols)
    g = (
        j.groupby(["unique_id", "lead"])
        .agg(months=("month", "nunique"), actual=("actual", "sum"), weighted=("weighted_amount", "sum"))
        .reset_index()
    )
    ok = (g["months"] >= min_months) & (g["weighted"] > 0)
    g["coverage"] = np.where(ok, g["actual"] / g["weighted"].where(g["weighted"] > 0), np.nan)
    return g[cols]


def earned_weights(
    history: pd.DataFrame,
    coverage: pd.DataFrame,
    statistical_mse: Sequence[float],
    caps: Sequence[float],
    min_months: int = 3,
    unique_id: str = "total",
) -> pd.DataFrame:
    """The pipeline's blend weight per lead, earned by its past accuracy on ``unique_id``.

    For lead ``k``: ``mse_pipe_k`` = mean over past months of ``(actual - weighted x
    coverage_k)^2`` (:func:`pipeline_history`, :func:`pipeline_coverage`);
    ``mse_stat_k`` = the statistical forecast's mean squared cross-validation error at
    horizon ``k`` (``statistical_mse[k-1]``). The inverse-MSE weight of two forecasts is

        w_k = mse_stat_k / (mse_stat_k + mse_pipe_k),   used = min(cap_k, w_k)

    so the configured ``blend_weights`` are maxima, and a pipeline that has predicted
    worse than the statistical forecast gets less say. With fewer than ``min_months``
    past months (or no statistical error) the cap is used as configured. Returns ``lead,
    cap, months, mse_pipeline, mse_statistical, earned, weight``.
    """
    rows = []
    for k, cap in enumerate(caps, start=1):
        h = history[(history["unique_id"] == unique_id) & (history["lead"] == k)]
        c = coverage[(coverage["unique_id"] == unique_id) & (coverage["lead"] == k)]["coverage"]
        cov_k = float(c.iloc[0]) if len(c) and np.isfinite(c.iloc[0]) else 1.0
        months = int(h["month"].nunique())
        mse_pipe = float(np.mean((h["actual"] - h["weighted_amount"] * cov_k) ** 2)) if months else float("nan")
        mse_stat = float(statistical_mse[k - 1]) if k - 1 < len(statistical_mse) else float("nan")
        earned = float("nan")
        if months >= min_months and np.isfinite(mse_stat) and np.isfinite(mse_pipe) and mse_stat + mse_pipe > 0:
            earned = mse_stat / (mse_stat + mse_pipe)
        weight = float(cap) if not np.isfinite(earned) else min(float(cap), earned)
        rows.append(
            {
                "lead": k,
                "cap": float(cap),
                "months": months,
                "mse_pipeline": mse_pipe,
                "mse_statistical": mse_stat,
                "earned": earned,
                "weight": weight,
            }
        )
    return pd.DataFrame(rows)


def blend(
    statistical: pd.DataFrame,
    pipeline_view: pd.DataFrame,
    weights: Sequence[float],
    first_month: pd.Timestamp,
    coverage: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Blend the statistical and the pipeline forecast (module docstring).

    ``statistical``: ``unique_id, ds, forecast``; ``pipeline_view``: ``unique_id, ds,
    weighted_amount`` (missing = 0 pipeline); ``coverage``: from :func:`pipeline_coverage`
    (missing = the total's ratio for that lead, else 1). Returns ``statistical`` with
    columns ``pipeline`` (weighted), ``coverage``, ``pipeline_forecast``,
    ``pipeline_weight`` and ``blended``.
    """
    w = [float(x) for x in weights]
    if any(not 0 <= x <= 1 for x in w):
        raise ValueError(f"forecast.pipeline.blend_weights must lie between 0 and 1, got {w}")
    out = statistical.merge(
        pipeline_view[["unique_id", "ds", "weighted_amount"]].rename(columns={"weighted_amount": "pipeline"}),
        on=["unique_id", "ds"],
        how="left",
    )
    out["pipeline"] = out["pipeline"].fillna(0.0)
    k = (out["ds"].dt.to_period("M") - pd.Timestamp(first_month).to_period("M")).map(lambda d: d.n)
    out["lead"] = k + 1
    if coverage is not None and len(coverage):
        cov = coverage.dropna(subset=["coverage"])
        total = cov[cov["unique_id"] == "total"].set_index("lead")["coverage"]
        out = out.merge(cov[["unique_id", "lead", "coverage"]], on=["unique_id", "lead"], how="left")
        out["coverage"] = out["coverage"].fillna(out["lead"].map(total)).fillna(1.0)
    else:
        out["coverage"] = 1.0
    out["pipeline_forecast"] = out["pipeline"] * out["coverage"]
    out["pipeline_weight"] = [w[i] if 0 <= i < len(w) else 0.0 for i in k]
    out["blended"] = out["pipeline_weight"] * out["pipeline_forecast"] + (1 - out["pipeline_weight"]) * out["forecast"]
    return out.drop(columns="lead")
