"""Result targets (revenue, gross margin) and process targets (deals, leads, visits, new customers),
kept apart: results are what the plan must deliver, process targets what the funnel must do to get there."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from salesplan import metrics
from salesplan.targets.rounding import largest_remainder


def result_targets(plan: pd.DataFrame, history: pd.DataFrame, gross_margin_goal: float) -> pd.DataFrame:
    """Annual result targets per region x product line.

    ``revenue_target`` = the plan's sum; ``gross_margin_target`` = ``round(total revenue * goal)`` split over
    cells in proportion to revenue by largest remainder (so it too adds up exactly); last 12 months' revenue
    and gross-margin rate (NaN without cost data) beside them, and ``growth = revenue_target / last_year - 1``.
    """
    cells = plan.groupby(["region", "product_line"], as_index=False)["target_amount"].sum()
    cells = cells.rename(columns={"target_amount": "revenue_target"})
    end = history["month"].max()
    ly = history[history["month"] > end - pd.DateOffset(months=12)]
    agg = {"last_year": ("net_amount", "sum")}
    if "cost_amount" in ly.columns:
        agg["cost"] = ("cost_amount", lambda s: s.sum(min_count=1))
    hist = ly.groupby(["region", "product_line"]).agg(**agg).reset_index()
    out = cells.merge(hist, on=["region", "product_line"], how="left").fillna({"last_year": 0.0})
    out["growth"] = metrics.yoy(out["revenue_target"], out["last_year"])
    out["last_year_gm_rate"] = metrics.gross_margin(out["last_year"], out["cost"]) if "cost" in out else np.nan
    total_gm = int(np.floor(out["revenue_target"].sum() * float(gross_margin_goal) + 0.5))
    out["gross_margin_target"] = largest_remainder(out["revenue_target"].clip(lower=0).to_numpy(), total_gm)
    out["gross_margin_rate"] = metrics.safe_ratio(out["gross_margin_target"], out["revenue_target"])
    return out[
        ["region", "product_line", "last_year", "revenue_target", "growth", "last_year_gm_rate",
         "gross_margin_target", "gross_margin_rate"]
    ]  # fmt: skip


def funnel_rates(pipeline: pd.DataFrame | None, before: pd.Timestamp) -> pd.DataFrame:
    """Win rate and average won deal per region from the pipeline's closed opportunities before ``before``.

    Each opportunity's latest snapshot counts. ``win_rate = won / (won + lost)``, ``avg_deal = mean amount of
    won``. Company-wide rates sit in the row ``region = "(all)"``. Empty when there is no pipeline data.
    """
    cols = ["region", "won", "lost", "win_rate", "avg_deal"]
    needed = {"opportunity_id", "snapshot_date", "region", "status", "amount"}
    if pipeline is None or pipeline.empty or needed - set(pipeline.columns):
        return pd.DataFrame(columns=cols)
    p = pipeline[pd.to_datetime(pipeline["snapshot_date"]) < before]
    latest = p.sort_values("snapshot_date").groupby("opportunity_id").tail(1)
    closed = latest[latest["status"].isin(["won", "lost"])]
    if closed.empty:
        return pd.DataFrame(columns=cols)

    def rates(g: pd.DataFrame) -> pd.Series:
        won, lost = int((g["status"] == "won").sum()), int((g["status"] == "lost").sum())
        return pd.Series(
            {"won": won, "lost": lost, "win_rate": metrics.safe_ratio(won, won + lost),
             "avg_deal": g.loc[g["status"] == "won", "amount"].mean()}
        )  # fmt: skip

    by_region = closed.groupby("region")[["status", "amount"]].apply(rates).reset_index()
    company = rates(closed).to_frame().T.assign(region="(all)")
    return pd.concat([by_region, company], ignore_index=True)[cols]


def process_targets(
    plan: pd.DataFrame,
    history: pd.DataFrame,
    pipeline: pd.DataFrame | None,
    process: dict[str, Any],
    availability: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Process targets per region for the plan year, derived from the funnel where the data has it.

    * ``won_deals = ceil(revenue_target / avg_deal)``; ``leads = ceil(won_deals / win_rate)``
      (every opportunity enters the funnel as a lead, and the win rate is won / closed opportunities)
      (region rates from :func:`funnel_rates`, company rates where the region has none; without pipeline
      data ``avg_deal`` is the average monthly net sales per active customer and ``win_rate`` is
      ``process.fallback_win_rate``);
    * ``visits = ceil(leads * process.visits_per_lead)``; with ``availability`` (:func:`rep_availability`)
      also ``leads_per_month = leads / 12`` and ``visits_per_rep_month = visits / rep-months on board``
      (a rep-month counts by its availability, so a new hire's first month at 25 % counts a quarter);
    * ``new_customers = ceil(revenue_target * new_share / new_customer_revenue)`` with ``new_share`` the
      last 12 months' share of sales from first-time customers and ``new_customer_revenue`` their average
      sales in that period (0 when there were none).

    ``source`` says where the rates came from.
    """
    before = history["month"].max() + pd.DateOffset(months=1)
    revenue = plan.groupby("region")["target_amount"].sum()
    rates = funnel_rates(pipeline, before).set_index("region")
    end = history["month"].max()
    start = end - pd.DateOffset(months=11)
    window = history[history["month"] >= start]
    per_customer_month = window.groupby(["customer_id", "month"])["net_amount"].sum()
    fallback_deal = float(per_customer_month[per_customer_month > 0].mean()) if len(per_customer_month) else np.nan
    rows = []
    for region, rev in revenue.items():
        if region in rates.index and np.isfinite(rates.loc[region, "win_rate"]) and rates.loc[region, "win_rate"] > 0:
            win, deal, source = rates.loc[region, "win_rate"], rates.loc[region, "avg_deal"], "pipeline (region)"
        elif "(all)" in rates.index and rates.loc["(all)", "win_rate"] > 0:
            win, deal, source = rates.loc["(all)", "win_rate"], rates.loc["(all)", "avg_deal"], "pipeline (company)"
        else:
            win, deal = float(process["fallback_win_rate"]), fallback_deal
            source = "no pipeline: fallback win rate, average customer-month"
        h = history[history["region"] == region]
        nvr = (
            metrics.new_vs_returning(h, start, end, date="month")
            if not h.empty
            else pd.DataFrame({"customers": [0, 0], "net_amount": [0.0, 0.0]}, index=["new", "returning"])
        )
        new_n, new_rev = int(nvr.loc["new", "customers"]), float(nvr.loc["new", "net_amount"])
        total = float(nvr["net_amount"].sum())
        new_share = new_rev / total if total > 0 else 0.0
        new_avg = new_rev / new_n if new_n > 0 else np.nan
        won = int(np.ceil(rev / deal)) if deal and np.isfinite(deal) and deal > 0 else 0
        leads = int(np.ceil(won / float(win))) if win > 0 else 0
        visits = int(np.ceil(leads * float(process["visits_per_lead"])))
        rep_months = float(availability.loc[availability["region"] == region, "availability"].sum()) if (
            availability is not None) else np.nan  # fmt: skip
        rows.append(
            {"region": region, "revenue_target": int(rev), "avg_deal": deal, "win_rate": float(win),
             "won_deals": won, "leads": leads, "leads_per_month": leads / 12, "visits": visits,
             "visits_per_rep_month": visits / rep_months if rep_months > 0 else np.nan,
             "new_customer_share": new_share,
             "new_customers": int(np.ceil(rev * new_share / new_avg)) if np.isfinite(new_avg) and new_avg > 0 else 0,
             "source": source}
        )  # fmt: skip
    return pd.DataFrame(rows)
