"""Result targets (revenue, gross margin) and process targets (deals, leads, visits, new customers),
kept apart: results are what the plan must deliver, process targets what the funnel must do to get there.

Process targets follow the funnel, step by step, each step one function with its formula:

1. :func:`pipeline_share`: the part of revenue that flows through the pipeline,
   ``won deals' amount / net sales`` over the same months;
2. :func:`won_deals_needed`: ``ceil(revenue target x pipeline share / average won deal)``;
3. :func:`leads_needed`: ``ceil(won deals / win rate)`` (every opportunity enters as a lead);
4. :func:`visits_needed`: ``ceil(won deals x visits per won deal)``.

Every factor is measured by :func:`observed_funnel` over the months before the plan year that the
pipeline covers (at most :data:`RATE_MONTHS`, the year before the plan year the rest of the method
uses), per region where the region won enough deals (``process.min_won_deals``), else the company's.
:func:`process_targets` returns each region's derivation: every factor beside the result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesplan import metrics
from salesplan.dates import as_dates
from salesplan.settings import ProcessTargets
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


RATE_MONTHS = 12
"""The rates behind the process targets are measured over at most the 12 months before the plan year."""

CLOSED = ("won", "lost")

DERIVATION_COLUMNS = [
    "region", "revenue_target", "pipeline_share", "pipeline_revenue", "avg_deal", "win_rate", "won_deals",
    "leads", "leads_per_month", "visits_per_won", "visits", "rep_months", "visits_per_rep_month",
    "new_customer_share", "new_customers", "source", "visits_source", "rates_from", "rates_to",
]  # fmt: skip

OBSERVED_COLUMNS = [
    "region", "won", "lost", "won_amount", "net_sales", "pipeline_share", "avg_deal", "win_rate", "visits",
    "visits_per_won",
]  # fmt: skip


def closed_opportunities(
    pipeline: pd.DataFrame | None, before: pd.Timestamp, start: pd.Timestamp | None = None
) -> pd.DataFrame:
    """One row per opportunity closed in ``[start, before)``: ``opportunity_id, region, status`` (won / lost),
    ``amount`` and ``closed`` (the date of its first won or lost snapshot), from snapshots dated before
    ``before`` only. ``start`` None: every closing before ``before``. Empty without pipeline data."""
    cols = ["opportunity_id", "region", "status", "amount", "closed"]
    needed = {"opportunity_id", "snapshot_date", "region", "status", "amount"}
    if pipeline is None or pipeline.empty or needed - set(pipeline.columns):
        return pd.DataFrame(columns=cols)
    dates = as_dates(pipeline["snapshot_date"])
    first_closed = (
        pipeline.assign(snapshot_date=dates)
        .loc[lambda p: (p["snapshot_date"] < before) & p["status"].isin(CLOSED)]
        .sort_values(["opportunity_id", "snapshot_date"], kind="stable")
        .groupby("opportunity_id", as_index=False)
        .first()
        .rename(columns={"snapshot_date": "closed"})
    )
    if start is not None:
        first_closed = first_closed.loc[first_closed["closed"] >= start]
    return first_closed.assign(region=lambda f: f["region"].astype(str))[cols].reset_index(drop=True)


def rate_window(
    pipeline: pd.DataFrame | None, before: pd.Timestamp, months: int = RATE_MONTHS
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The months the process-target rates are measured over: ``[start, before)`` with
    ``start = max(before - months, first month of a pipeline snapshot)``, so sales, won deals and visits
    are compared over the same months. None when the pipeline has no snapshot before ``before``."""
    if pipeline is None or pipeline.empty or "snapshot_date" not in pipeline.columns:
        return None
    dates = as_dates(pipeline["snapshot_date"])
    dates = dates.loc[dates < before]
    if dates.empty:
        return None
    first_month = dates.min().to_period("M").to_timestamp()
    return max(pd.Timestamp(before) - pd.DateOffset(months=int(months)), first_month), pd.Timestamp(before)


def funnel_rates(
    pipeline: pd.DataFrame | None, before: pd.Timestamp, start: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Win rate and average won deal per region from the opportunities closed in ``[start, before)``
    (:func:`closed_opportunities`; ``start`` None: all before ``before``).

    ``win_rate = won / (won + lost)``, ``avg_deal = mean amount of won``. Company-wide rates sit in the row
    ``region = "(all)"``. Empty when there is no pipeline data.
    """
    cols = ["region", "won", "lost", "win_rate", "avg_deal"]
    closed = closed_opportunities(pipeline, before, start)
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


def pipeline_share(won_amount: float, net_sales: float) -> float:
    """The part of revenue that flows through the pipeline: ``won deals' amount / net sales`` of the same
    months; NaN when there were no net sales. (Orders that never were an opportunity, such as repeat
    orders, make the rest: dividing the whole revenue by the average deal would ask for deals nobody
    needs to win.)"""
    return float(metrics.safe_ratio(float(won_amount), float(net_sales)))


def _whole(value: float) -> int:
    """``ceil(value)``, 0 for a missing, infinite or non-positive value (a target is a whole count)."""
    return int(np.ceil(value)) if np.isfinite(value) and value > 0 else 0


def won_deals_needed(revenue_target: float, share: float, avg_deal: float) -> int:
    """Won deals the plan needs: ``ceil(revenue_target x pipeline share / average won deal)``
    (0 when a factor is missing or the average deal is not positive)."""
    if not (np.isfinite(avg_deal) and avg_deal > 0):
        return 0
    return _whole(float(revenue_target) * float(share) / float(avg_deal))


def leads_needed(won_deals: int, win_rate: float) -> int:
    """Leads the plan needs: ``ceil(won deals / win rate)``, the win rate being won / closed opportunities
    (every opportunity enters the funnel as a lead); 0 without a positive win rate."""
    if not (np.isfinite(win_rate) and win_rate > 0):
        return 0
    return _whole(float(won_deals) / float(win_rate))


def visits_needed(won_deals: int, visits_per_won: float) -> int:
    """Visits the plan needs: ``ceil(won deals x visits per won deal)``, the rate being the visits made
    per deal won over the same months (:func:`observed_funnel`)."""
    return _whole(float(won_deals) * float(visits_per_won))


def observed_funnel(
    history: pd.DataFrame,
    pipeline: pd.DataFrame | None,
    before: pd.Timestamp,
    *,
    activities: pd.DataFrame | None = None,
    reps: pd.DataFrame | None = None,
    visit_types: list[str] | tuple[str, ...] | None = None,
    months: int = RATE_MONTHS,
) -> pd.DataFrame:
    """The funnel as observed over :func:`rate_window`, per region and for the company (``"(all)"``).

    * ``won``, ``lost``, ``won_amount``: opportunities closed in the window (:func:`closed_opportunities`);
    * ``net_sales``: the monthly history's net sales of the window's months;
    * ``pipeline_share = won_amount / net_sales`` (:func:`pipeline_share`);
    * ``avg_deal = won_amount / won``; ``win_rate = won / (won + lost)``;
    * ``visits``: activities of ``visit_types`` dated in the window, in the region of the rep
      (``reps``: ``rep_id, region``); ``visits_per_won = visits / won`` (NaN without activities; the
      company row alone when reps are not given).

    ``window_start`` / ``window_end`` (exclusive) say which months. Empty without a pipeline.
    """
    win = rate_window(pipeline, before, months)
    if win is None:
        return pd.DataFrame(columns=[*OBSERVED_COLUMNS, "window_start", "window_end"])
    start, end = win
    closed = closed_opportunities(pipeline, end, start)
    won = closed.loc[closed["status"] == "won"]
    months_in = as_dates(history["month"])
    sales = history.loc[(months_in >= start) & (months_in < end)].assign(region=lambda h: h["region"].astype(str))
    counted = activities is not None and bool(visit_types)
    visits = pd.Series(dtype=float)
    if counted:
        dated = as_dates(activities["activity_date"])
        in_window = (dated >= start) & (dated < end) & activities["activity_type"].astype(str).isin(list(visit_types))
        rep_ids = activities.loc[in_window, "rep_id"].astype(str)
        if reps is not None:
            region_of = reps.assign(rep_id=reps["rep_id"].astype(str)).drop_duplicates("rep_id")
            region_of = region_of.set_index("rep_id")["region"].astype(str)
            visits = rep_ids.map(region_of).dropna().value_counts().astype(float)
        visits["(all)"] = float(len(rep_ids))
    counts = pd.DataFrame(
        {
            "won": won.groupby("region").size(),
            "lost": closed.loc[closed["status"] == "lost"].groupby("region").size(),
            "won_amount": won.groupby("region")["amount"].sum(),
            "net_sales": sales.groupby("region")["net_amount"].sum(),
        }
    )
    counts.loc["(all)"] = [
        len(won),
        int((closed["status"] == "lost").sum()),
        won["amount"].sum(),
        sales["net_amount"].sum(),
    ]
    counts = counts.fillna({"won": 0, "lost": 0, "won_amount": 0.0, "net_sales": 0.0})
    # A region whose reps made no visit made 0 visits; without reps the regions' visits are unknown.
    placed = visits.reindex(counts.index)
    counts["visits"] = (placed.fillna(0.0) if reps is not None else placed) if counted else np.nan
    return (
        counts.rename_axis("region")
        .reset_index()
        .astype({"won": "int64", "lost": "int64"})
        .assign(
            pipeline_share=lambda f: [
                pipeline_share(w, s) for w, s in zip(f["won_amount"], f["net_sales"], strict=True)
            ],
            avg_deal=lambda f: metrics.safe_ratio(f["won_amount"], f["won"].astype(float)),
            win_rate=lambda f: metrics.safe_ratio(f["won"].astype(float), (f["won"] + f["lost"]).astype(float)),
            visits_per_won=lambda f: metrics.safe_ratio(f["visits"], f["won"].astype(float)),
            window_start=start,
            window_end=end,
        )[[*OBSERVED_COLUMNS, "window_start", "window_end"]]
    )


def _usable(row: pd.Series) -> bool:
    """Rates that can carry a derivation: a positive pipeline share, average deal and win rate."""
    return all(np.isfinite(row[k]) and row[k] > 0 for k in ("pipeline_share", "avg_deal", "win_rate"))


def process_targets(
    plan: pd.DataFrame,
    history: pd.DataFrame,
    pipeline: pd.DataFrame | None,
    process: ProcessTargets,
    availability: pd.DataFrame | None = None,
    *,
    activities: pd.DataFrame | None = None,
    reps: pd.DataFrame | None = None,
    visit_types: list[str] | tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Process targets per region for the plan year, derived from the funnel (module docstring), with
    the derivation: every factor beside the result.

    * rates (:func:`observed_funnel`, over the months before the plan year the pipeline covers):
      the region's own once it won at least ``process.min_won_deals`` deals there, else the company's
      (``source`` says which); without pipeline data ``pipeline_share = 1``, ``avg_deal`` is the average
      monthly net sales per active customer and ``win_rate`` is ``process.fallback_win_rate``;
    * ``pipeline_revenue = revenue_target x pipeline_share``;
      ``won_deals = ceil(pipeline_revenue / avg_deal)`` (:func:`won_deals_needed`);
      ``leads = ceil(won_deals / win_rate)`` (:func:`leads_needed`);
    * ``visits = ceil(won_deals x visits_per_won)`` (:func:`visits_needed`) with the visits per won deal
      observed in ``activities`` (``visit_types``; the region's when ``reps`` place the visits, else the
      company's); without activities ``visits_per_won = process.visits_per_lead / win_rate``, i.e.
      ``visits = leads x visits_per_lead`` (``visits_source`` says which);
    * with ``availability`` (:func:`rep_availability`) ``rep_months`` = the region's rep-months on board
      (a rep-month counts by its availability: a new hire's first month at 25 % counts a quarter, months
      after a leave date nothing), ``visits_per_rep_month = visits / rep_months``;
      ``leads_per_month = leads / 12``;
    * ``new_customers = ceil(revenue_target x new_share / new_customer_revenue)`` with ``new_share`` the
      last 12 months' share of sales from first-time customers and ``new_customer_revenue`` their average
      sales in that period (0 when there were none).

    ``rates_from`` / ``rates_to`` give the first and last month the rates were measured over (NaT without
    a pipeline). Columns :data:`DERIVATION_COLUMNS`.
    """
    before = history["month"].max() + pd.DateOffset(months=1)
    revenue = plan.groupby("region")["target_amount"].sum()
    if reps is None and availability is not None and len(availability):
        reps = availability[["rep_id", "region"]]
    observed = observed_funnel(
        history, pipeline, before, activities=activities, reps=reps, visit_types=visit_types
    ).set_index("region")
    min_won = process.min_won_deals
    end = history["month"].max()
    start = end - pd.DateOffset(months=11)
    window = history[history["month"] >= start]
    per_customer_month = window.groupby(["customer_id", "month"])["net_amount"].sum()
    fallback_deal = float(per_customer_month[per_customer_month > 0].mean()) if len(per_customer_month) else np.nan
    company = observed.loc["(all)"] if "(all)" in observed.index else None
    rates_from = observed["window_start"].iloc[0] if len(observed) else pd.NaT
    rates_to = observed["window_end"].iloc[0] - pd.DateOffset(months=1) if len(observed) else pd.NaT
    rows = []
    for region, rev in revenue.items():
        own = observed.loc[region] if region in observed.index else None
        if own is not None and own["won"] >= min_won and _usable(own):
            used, source = own, "pipeline (region)"
        elif company is not None and _usable(company):
            used, source = company, "pipeline (company)"
        else:
            used, source = None, "no pipeline: fallback win rate, average customer-month"
        if used is None:
            share, deal, win = 1.0, fallback_deal, process.fallback_win_rate
        else:
            share, deal, win = float(used["pipeline_share"]), float(used["avg_deal"]), float(used["win_rate"])
        # Visits per won deal from the same rows as the other rates; the company's when the region's
        # visits cannot be placed; the configured visits per lead without any activities.
        rate = float(used["visits_per_won"]) if used is not None else np.nan
        visits_source = "activities (region)" if source == "pipeline (region)" else "activities (company)"
        if not np.isfinite(rate) and company is not None and np.isfinite(company["visits_per_won"]):
            rate, visits_source = float(company["visits_per_won"]), "activities (company)"
        if not np.isfinite(rate):
            rate = process.visits_per_lead / win if win > 0 else 0.0
            visits_source = "no activities: visits_per_lead x leads"
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
        won = won_deals_needed(rev, share, deal)
        leads = leads_needed(won, win)
        visits = visits_needed(won, rate)
        rep_months = float(availability.loc[availability["region"] == region, "availability"].sum()) if (
            availability is not None) else np.nan  # fmt: skip
        rows.append(
            {"region": region, "revenue_target": int(rev), "pipeline_share": share,
             "pipeline_revenue": float(rev) * share, "avg_deal": deal, "win_rate": win, "won_deals": won,
             "leads": leads, "leads_per_month": leads / 12, "visits_per_won": rate, "visits": visits,
             "rep_months": rep_months, "visits_per_rep_month": visits / rep_months if rep_months > 0 else np.nan,
             "new_customer_share": new_share,
             "new_customers": int(np.ceil(rev * new_share / new_avg)) if np.isfinite(new_avg) and new_avg > 0 else 0,
             "source": source, "visits_source": visits_source, "rates_from": rates_from, "rates_to": rates_to}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=DERIVATION_COLUMNS)
