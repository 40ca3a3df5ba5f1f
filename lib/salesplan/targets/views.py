"""Tables the targets page shows, built from a :class:`~salesplan.targets.TargetPlan`.

Each is a plain computation on the plan (no formatting): phasing under every method, the rep
quota table, the sign-off table, the commission simulation and the plan-year rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from salesplan.commission import attainment_history, high_margin_share, simulate_payout
from salesplan.targets import UNASSIGNED, TargetPlan, phasing_from_config, rep_month_targets


def plan_year(month: pd.Period, requested: int | None, draft_from_month: int) -> tuple[int, str]:
    """The year the targets page works on and what it does with it.

    ``requested`` (the notebook's ``plan_year``) wins. Otherwise: from ``draft_from_month`` on
    (the method's planning season, October by default) next year's plan is drafted; before it,
    the page shows the year's plan in force and how it was built. Returns ``(year, mode)`` with
    mode ``draft`` (a future year: the result is saved as a draft) or ``review`` (the report
    year: nothing is saved).
    """
    if requested is not None:
        year = int(requested)
        return year, ("draft" if year > month.year else "review")
    if month.month >= int(draft_from_month):
        return month.year + 1, "draft"
    return month.year, "review"


def phasing_alternatives(phasing: Mapping[str, Any], history: pd.DataFrame) -> pd.DataFrame:
    """Quarter shares under the seasonality index and under each quarterly template
    (rows: quarter 1-4; columns: ``seasonality``, ``template: <name>``)."""
    methods = {"seasonality": {"method": "seasonality"}}
    methods.update(
        {
            f"template: {name}": {"method": "quarterly_template", "template": name}
            for name in phasing["quarterly_templates"]
        }
    )
    months = pd.DataFrame({"month": range(1, 13)})
    for name, settings in methods.items():
        months[name] = phasing_from_config({**phasing, **settings}, history)["share"].to_numpy()
    quarters = months.groupby((months["month"] - 1) // 3 + 1).sum().drop(columns="month")
    quarters.index.name = "quarter"
    return quarters


def rep_changes(tp: TargetPlan, rep_names: pd.Series) -> pd.DataFrame:
    """Reps not available the whole year: ``rep_id, rep_name, region, status`` (before hire, ramp,
    left), number of months and the first and last such month."""
    changes = tp.availability[tp.availability["status"].isin(["before hire", "ramp", "left"])]
    moves = (
        changes.groupby(["rep_id", "status"])
        .agg(region=("region", "first"), months=("month", "size"), first=("month", "min"), last=("month", "max"))
        .reset_index()
        .assign(rep_name=lambda d: d["rep_id"].map(rep_names))
    )
    return moves[["rep_id", "rep_name", "region", "status", "months", "first", "last"]]


def rep_quotas(tp: TargetPlan, rep_names: pd.Series) -> pd.DataFrame:
    """One row per rep (the unassigned remainder left out): ``rep_id, label, region, level,
    last_year, target_amount, quota_amount, growth`` with ``growth = target / last year - 1``."""
    year_totals = tp.plan.groupby("rep_id")[["target_amount", "quota_amount"]].sum()
    table = (
        tp.bottom_up_reps.set_index("rep_id")[["region", "level", "last_year"]]
        .join(year_totals, how="outer")
        .fillna({"last_year": 0.0})
        .assign(growth=lambda d: d["target_amount"] / d["last_year"].where(d["last_year"] > 0) - 1)
        .drop(index=UNASSIGNED, errors="ignore")
        .reset_index()
    )
    return table.assign(label=table["rep_id"].map(rep_names).fillna(table["rep_id"]), quota=table["quota_amount"])


def sign_off(tp: TargetPlan) -> pd.DataFrame:
    """One line per region and a total for the planning meeting: ``last_year, target, growth,
    gross_margin_target, quota, reps`` and blank ``signed off by`` / ``date`` columns."""
    plan = tp.plan
    table = (
        plan.groupby("region")
        .agg(
            target=("target_amount", "sum"),
            quota=("quota_amount", "sum"),
            reps=("rep_id", lambda s: s[s != UNASSIGNED].nunique()),
        )
        .join(tp.result.groupby("region")[["last_year", "gross_margin_target"]].sum())
    )
    table.loc["Total"] = table.sum()
    table["reps"] = table["reps"].astype(int)
    table.loc["Total", "reps"] = plan.loc[plan["rep_id"] != UNASSIGNED, "rep_id"].nunique()
    table["growth"] = table["target"] / table["last_year"] - 1
    table["signed off by"] = ""
    table["date"] = ""
    return table[["last_year", "target", "growth", "gross_margin_target", "quota", "reps", "signed off by", "date"]]


def commission_simulation(
    tp: TargetPlan,
    history: pd.DataFrame,
    last_year_plan: pd.DataFrame | None,
    reps: pd.DataFrame,
    orders: pd.DataFrame,
    products: pd.DataFrame,
    rules: Mapping[str, Any],
    n_sims: int = 300,
) -> dict[str, Any]:
    """What the plan would pay: each rep's monthly quota with an attainment spread drawn from
    last year (actual against last year's plan in force where there is one, else each rep's
    months of the last complete calendar year against their own year total, phased like the
    plan), simulated ``n_sims`` times
    (:func:`salesplan.commission.simulate_payout`). Returns ``payout`` (the simulation),
    ``spread`` (rep-months of attainment), ``spread_source`` (a sentence) and ``quota_total``."""
    ly_start = tp.history_through - pd.DateOffset(months=11)
    actual = (
        history[history["month"] >= ly_start]
        .groupby(["rep_id", "month"], as_index=False)["net_amount"]
        .sum()
        .rename(columns={"net_amount": "actual"})
    )
    if last_year_plan is not None and len(last_year_plan):
        spread = attainment_history(actual, rep_month_targets(last_year_plan))
        source = f"actual against the {tp.year - 1} plan in force"
    else:
        # A phased plan of a rep's own year total needs a whole calendar year: the last complete one.
        through = tp.history_through
        full_year = through.year if through.month == 12 else through.year - 1
        in_year = history[history["month"].dt.year == full_year]
        actual = (
            in_year.groupby(["rep_id", "month"], as_index=False)["net_amount"]
            .sum()
            .rename(columns={"net_amount": "actual"})
        )
        spread = attainment_history(actual, month_shares=tp.phasing[["month_of_year", "share"]])
        source = f"each rep's months of {full_year} against their own year total, phased like the plan (no plan for {tp.year - 1})"
    quotas = rep_month_targets(tp.plan, amount="quota_amount")
    quotas = quotas[quotas["rep_id"] != UNASSIGNED]
    if "team" in reps:
        quotas = quotas.assign(team=quotas["rep_id"].map(reps.drop_duplicates("rep_id").set_index("rep_id")["team"]))
    share = high_margin_share(orders, products, ly_start, tp.history_through + pd.offsets.MonthEnd(0))
    quotas = quotas.merge(share, on="rep_id", how="left")
    payout = simulate_payout(quotas, spread, rules, n_sims=n_sims, seed=tp.year)
    return {"payout": payout, "spread": spread, "spread_source": source, "quota_total": float(quotas["target"].sum())}
