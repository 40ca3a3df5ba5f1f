"""Year-end landing views side by side: run-rate, seasonal run-rate, rest-on-plan and the
statistical landing from the forecast library, each with what it assumes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesplan.forecast.hierarchy import forecast_hierarchy, landing_table
from salesplan.metrics import MetricInputError, attainment, seasonality_index
from salesplan.retro.flags import plan_months
from salesplan.retro.periods import as_period, window

LANDING_COLUMNS = ["method", "landing", "low", "high", "attainment", "gap", "assumes"]


def run_rate_landing(ytd_actual: float, months_elapsed: int) -> float:
    """Run-rate landing: ``ytd_actual / months_elapsed * 12`` (every remaining month sells
    like the average month so far)."""
    if not 1 <= int(months_elapsed) <= 12:
        raise ValueError(f"months_elapsed must be 1-12, got {months_elapsed!r}")
    return float(ytd_actual) / int(months_elapsed) * 12.0


def seasonal_shares(cube: pd.DataFrame, before_year: int, value: str = "net_amount") -> pd.DataFrame:
    """Share of the year each calendar month carries, from complete years before ``before_year``:
    ``share_m = index_m / 12`` with ``index_m`` the seasonality index
    (:func:`salesplan.metrics.seasonality_index`; the indices average to 1, so shares sum to 1).
    Columns ``month_of_year``, ``index``, ``share``, ``years``. Empty when no complete year exists."""
    hist = cube.loc[pd.to_datetime(cube["month"]).dt.year < before_year, ["month", value]]
    try:
        idx = seasonality_index(hist, value=value)
    except MetricInputError:
        return pd.DataFrame(columns=["month_of_year", "index", "share", "years"])
    return idx.assign(share=idx["index"] / 12.0)[["month_of_year", "index", "share", "years"]]


def seasonal_run_rate_landing(ytd_actual: float, month: str | pd.Period, shares: pd.DataFrame) -> float:
    """Seasonal run-rate landing: ``ytd_actual / sum(share_1..share_m)``, the year-to-date
    scaled by the share of a typical year's sales that falls in months 1..m
    (:func:`seasonal_shares`). NaN when no seasonal pattern is available."""
    m = as_period(month).month
    if shares.empty:
        return float("nan")
    elapsed = float(shares.loc[shares["month_of_year"] <= m, "share"].sum())
    return float(ytd_actual) / elapsed if elapsed > 0 else float("nan")


def landing_comparison(
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    month: str | pd.Period,
    statistical: Mapping[str, Any] | None = None,
    value: str = "net_amount",
) -> pd.DataFrame:
    """Where the year lands by four methods, against the annual target.

    * run rate: :func:`run_rate_landing`
    * seasonal run rate: :func:`seasonal_run_rate_landing`
    * rest on plan: ``ytd_actual + plan of the remaining months``
    * statistical: from the forecast library, ``statistical = {"landing", "low", "high",
      "assumes"}`` (omitted when None)

    Per method: ``attainment = landing / annual target`` and ``gap = landing - annual target``.
    """
    p = as_period(month)
    ytd = window(p, "ytd")
    year = window(p, "year")
    plan_m = plan_months(plan)
    ytd_actual = float(cube.loc[ytd.contains(cube["month"]), value].sum())
    annual_target = float(plan_m.loc[year.contains(plan_m["month"]), "target_amount"].sum())
    rest_plan = float(plan_m.loc[year.contains(plan_m["month"]) & (plan_m["month"] > ytd.end), "target_amount"].sum())
    shares = seasonal_shares(cube, p.year, value)
    years = int(shares["years"].max()) if not shares.empty else 0
    rows = [
        {
            "method": "run rate",
            "landing": run_rate_landing(ytd_actual, p.month),
            "assumes": f"each of the remaining {12 - p.month} months sells like the average month so far",
        },
        {
            "method": "seasonal run rate",
            "landing": seasonal_run_rate_landing(ytd_actual, p, shares),
            "assumes": (
                f"the year keeps the seasonal pattern of the last {years} complete year(s): "
                f"months 1-{p.month} carry {shares.loc[shares['month_of_year'] <= p.month, 'share'].sum():.1%} "
                "of a year"
                if years
                else "no complete prior year: seasonal pattern unknown"
            ),
        },
        {
            "method": "rest on plan",
            "landing": ytd_actual + rest_plan,
            "assumes": "the remaining months hit their plan exactly; the gap so far is not made up",
        },
    ]
    if statistical is not None:
        rows.append(
            {
                "method": "statistical",
                "landing": float(statistical["landing"]),
                "low": float(statistical.get("low", np.nan)),
                "high": float(statistical.get("high", np.nan)),
                "assumes": str(statistical.get("assumes", "forecast model of the remaining months")),
            }
        )
    out = pd.DataFrame(rows).reindex(columns=LANDING_COLUMNS)
    return out.assign(
        attainment=attainment(out["landing"], annual_target),
        gap=out["landing"] - annual_target,
    ).astype({"low": float, "high": float})


def statistical_landing(
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    month: str | pd.Period,
    forecast_config: Mapping[str, Any],
    by: Sequence[str] = ("region", "product_line"),
    pipeline: pd.DataFrame | None = None,
    reps: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Statistical year-end landing, its interval and the probability of hitting the annual
    target for the total and each value of the ``by`` dimensions, from the forecast library
    (:func:`salesplan.forecast.hierarchy.forecast_hierarchy` over the forecast report's series,
    fitted once, and
    :func:`salesplan.forecast.hierarchy.landing_table`; formulas in :mod:`salesplan.forecast.landing`).

    Returns ``(table, forecast_months)``: table columns ``unique_id, dimension, item,
    ytd_actual, annual_target, landing, low, high, level, p_hit`` (interval at the first of
    the configured ``levels``); ``forecast_months`` maps each remaining month of the year
    (``"YYYY-MM"``) to the total's forecast, which next month's report compares its actual with.
    """
    p = as_period(month)
    level = int(list(forecast_config.get("levels", [80]))[0])
    dims = [str(d) for d in by]
    # The same series as the forecast report (all of its levels), so both show the same landing.
    fc = forecast_hierarchy(
        cube.loc[cube["month"] <= p.to_timestamp()], p, forecast_config, pipeline=pipeline, reps=reps
    )
    plan_m = plan_months(plan)
    parts = [landing_table(cube, plan_m, p, by=(d,), config=forecast_config, fc=fc) for d in dims] or [
        landing_table(cube, plan_m, p, by=(), config=forecast_config, fc=fc)
    ]
    table = pd.concat(parts, ignore_index=True).drop_duplicates("unique_id", keep="first")
    table = pd.DataFrame(
        {
            "unique_id": table["unique_id"],
            "dimension": table["dimension"],
            "item": table["item"],
            "ytd_actual": table["ytd"],
            "annual_target": table["target"],
            "landing": table["landing"],
            "low": table[f"lo_{level}"],
            "high": table[f"hi_{level}"],
            "level": float(level),
            "p_hit": table["p_hit"],
        }
    ).reset_index(drop=True)
    total = fc.forecast.loc[fc.forecast["unique_id"] == "total"].sort_values("ds")
    remaining = total.loc[(total["ds"] > p.to_timestamp()) & (total["ds"].dt.year == p.year)]
    forecast_months = {f"{ds:%Y-%m}": float(v) for ds, v in zip(remaining["ds"], remaining["blended"], strict=True)}
    return table, forecast_months
