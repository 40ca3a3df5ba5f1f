"""Year-end landing views side by side: run-rate, seasonal run-rate, rest-on-plan and the
statistical landing from the forecast library, each with what it assumes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from salesplan.dates import as_dates
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
    hist = cube.loc[as_dates(cube["month"]).dt.year < before_year, ["month", value]]
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

    Every method is YTD actual plus a projection of the remaining months. When no month of the
    history has been negative (sales net of returns), the remaining months cannot be either, so
    no landing, low or high lies below the YTD actual: a value handed in below it (a
    statistical interval from a model that ignores the sign) is raised to it.
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
    monthly = cube.loc[as_dates(cube["month"]) <= p.to_timestamp()].groupby("month")[value].sum()
    if len(monthly) and float(monthly.min()) >= 0:
        # Remaining months cannot be negative: nothing lands below what is already booked.
        out[["landing", "low", "high"]] = out[["landing", "low", "high"]].astype(float).clip(lower=ytd_actual)
    return out.assign(
        attainment=attainment(out["landing"], annual_target),
        gap=out["landing"] - annual_target,
    ).astype({"low": float, "high": float})
