"""Tables the targets page shows, built from a :class:`~salesplan.targets.TargetPlan`.

Each is a plain computation on the plan (no formatting): phasing under every method, the rep
quota table, the sign-off table, the commission simulation and the plan-year rule.

Also the one wording of a plan's provenance (:func:`plan_words` and the functions built on it):
the plan-in-force sheet, ``run.json``, the index, the targets page and every commission
statement name a month's plan in these words, so what people check reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from salesplan.commission import attainment_history, high_margin_share, simulate_payout
from salesplan.settings import CommissionSettings, Phasing
from salesplan.targets import UNASSIGNED, TargetPlan, phasing_from_config, rep_month_targets
from salesplan.units import fmt_pct

if TYPE_CHECKING:
    from salesplan.plans import PlanInForce


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


def phasing_alternatives(phasing: Phasing, history: pd.DataFrame) -> pd.DataFrame:
    """Quarter shares under the seasonality index and under each quarterly template
    (rows: quarter Q1-Q4; columns: ``seasonality``, ``template: <name>``); ``phasing``: the
    ``targets.phasing`` settings."""
    methods: dict[str, dict[str, Any]] = {"seasonality": {"method": "seasonality"}}
    methods.update(
        {
            f"template: {name}": {"method": "quarterly_template", "template": name}
            for name in phasing.quarterly_templates
        }
    )
    months = pd.DataFrame({"month": range(1, 13)})
    for name, method in methods.items():
        months[name] = phasing_from_config(phasing.model_copy(update=method), history)["share"].to_numpy()
    quarters = months.groupby((months["month"] - 1) // 3 + 1).sum().drop(columns="month")
    # Quarters named as a reader says them ("Q1"), never a bare 1-4 that reads as a row number.
    return quarters.rename(index=lambda q: f"Q{q}").rename_axis("quarter")


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
    rules: CommissionSettings,
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


# --------------------------------------------------------------------------- provenance in words


def plan_words(row: Mapping[str, Any]) -> str:
    """One month's plan in the words every page uses, from a row of :attr:`PlanInForce.months`
    (or :meth:`PlanInForce.month`).

    Rules: a supplied table is ``supplied targets (<file>)`` whatever version column the table
    carries (it is the data's table, not a saved version); an approved version is ``approved
    version <vN> on <YYYY-MM-DD> by <who>`` (``date not recorded`` / ``approver not recorded`` for
    approvals of earlier releases); a requested one is ``requested version <vN> (<file>), not
    necessarily approved``; no plan is ``no plan``.
    """
    source = row.get("source")
    if source == "supplied":
        return f"supplied targets ({row.get('file') or 'targets table'})"
    if source == "approved":
        when = str(row.get("approved_at") or "")[:10] or "date not recorded"
        who = row.get("approved_by") or "approver not recorded"
        return f"approved version {row.get('version')} on {when} by {who}"
    if source == "requested":
        return f"requested version {row.get('version')} ({row.get('file')}), not necessarily approved"
    return "no plan"


def plan_month_words(plan: PlanInForce) -> pd.DataFrame:
    """Every month of the plan's year in words: ``month`` ("YYYY-MM"), ``source``, ``version``
    and ``plan`` (:func:`plan_words`), one row per month 1-12."""
    rows = plan.months.to_dict(orient="records")
    return pd.DataFrame(
        {
            "month": [f"{plan.year}-{int(r['month']):02d}" for r in rows],
            "source": [r["source"] for r in rows],
            "version": [r["version"] if r["source"] != "none" else None for r in rows],
            "plan": [plan_words(r) for r in rows],
        }
    )


def plan_segment_words(plan: PlanInForce, through: int | None = None) -> list[str]:
    """Consecutive months with the same words as ``"YYYY-MM .. YYYY-MM: <words>"`` (one month
    alone as ``"YYYY-MM: <words>"``), in month order; ``through``: only months 1 to ``through``."""
    months = plan_month_words(plan)
    if through is not None:
        months = months.iloc[: int(through)]
    run = (months["plan"] != months["plan"].shift()).cumsum()
    out = []
    for _, part in months.groupby(run, sort=True):
        first, last = part["month"].iloc[0], part["month"].iloc[-1]
        out.append(f"{first}{'' if first == last else f' .. {last}'}: {part['plan'].iloc[0]}")
    return out


def plan_year_words(plan: PlanInForce) -> str:
    """The year's plan, every segment: ``Plan 2027: 2027-01 .. 2027-06: supplied targets
    (targets.csv); 2027-07 .. 2027-12: approved version v2 on 2026-12-03 by CFO``. Without any
    plan, the plan's own explanation (:meth:`PlanInForce.describe`)."""
    if not plan.has_plan:
        return plan.describe()
    return f"Plan {plan.year}: " + "; ".join(plan_segment_words(plan))


def plan_text(plan: PlanInForce, month: int | str | pd.Period) -> str:
    """The plan of one month and, when the year has more than one, every segment of the year:
    ``Plan for 2027-03: supplied targets (targets.csv). Plan 2027: ...``."""
    if not plan.has_plan:
        return plan.describe()
    m = pd.Period(f"{plan.year}-{month:02d}" if isinstance(month, int) else str(month), freq="M").month
    lead = f"Plan for {plan.year}-{m:02d}: {plan_words(plan.month(m))}"
    segments = plan_segment_words(plan)
    return lead if len(segments) == 1 else f"{lead}. {plan_year_words(plan)}"


def plan_headline_figure(plan: PlanInForce, month: int | str | pd.Period) -> dict[str, Any]:
    """The plan used as a headline figure: the month's version as the value, every segment of
    the year (:func:`plan_year_words`) as the note."""
    return {**plan.headline_figure(month), "note": plan_year_words(plan)}


def version_standing(plan: PlanInForce, version: str) -> dict[str, Any]:
    """Where a saved ``version`` of the plan's year stands, for the targets page.

    Rules: a version approved and in force for some months reads ``<words> (in force from
    YYYY-MM)`` (``from YYYY-MM to YYYY-MM`` when a later approval takes over before December),
    with the words of :func:`plan_words`; approved but replaced in every month by a later
    approval, ``<words> (not in force: a later approval replaced it)``; never approved,
    ``saved as draft <vN>, not in force until approved``. Returns ``text`` and ``approved``
    (only a version that is not approved needs the approve command).
    """
    months = plan.months
    mine = months.loc[(months["source"] == "approved") & (months["version"] == version)]
    if len(mine):
        first, last = int(mine["month"].min()), int(mine["month"].max())
        span = f"from {plan.year}-{first:02d}" + ("" if last == 12 else f" to {plan.year}-{last:02d}")
        words = plan_words(mine.iloc[0].to_dict())
        return {"text": f"{words} (in force {span})", "approved": True}
    log = plan.approvals
    if len(log) and (log["version"] == version).any():
        a = log.loc[log["version"] == version].iloc[-1]
        row = {"source": "approved", "version": version, "approved_at": a["approved_at"], "approved_by": a["by"]}
        return {"text": f"{plan_words(row)} (not in force: a later approval replaced it)", "approved": True}
    return {"text": f"saved as draft {version}, not in force until approved", "approved": False}


def plan_card(plan: PlanInForce, month: int | str | pd.Period, title: str = "Plan measured against") -> Any:
    """The plan used, as a page card (:mod:`salesplan.cards`): the month's version as the value,
    :func:`plan_text` (the month's plan and the year's other segments) as the note."""
    from salesplan import cards

    return cards.card(title, [{**plan.headline_figure(month), "note": plan_text(plan, month)}])


def reconciliation_words(rec: Mapping[str, Any]) -> str:
    """How the gap between top-down and bottom-up was closed, in words for a page: the
    ``scale_to_top_down`` rule keeps the top-down total and scales the bottom-up parts to it;
    ``blend`` takes ``w x top-down + (1 - w) x bottom-up`` with the top-down weight ``w``."""
    if rec["rule"] == "scale_to_top_down":
        return "closed at the top-down number, the bottom-up parts scaled to it"
    w = float(rec["weight"])
    return f"closed by a blend: {fmt_pct(w, 0)} top-down, {fmt_pct(1 - w, 0)} bottom-up"


def saved_versions(versions: pd.DataFrame, year: int) -> pd.DataFrame:
    """The saved versions of ``year`` for a page (:func:`salesplan.targets.versions.list_versions`):
    one row per version, oldest first, ``version, created, scenario, total, note, status`` with
    the creation time read as "2026-12-07 15:01 UTC" (the file keeps the ISO time) and no hash."""
    created = pd.to_datetime(versions["created"], utc=True, errors="coerce").dt.strftime("%Y-%m-%d %H:%M UTC")
    return (
        versions.assign(created=created)
        .loc[lambda d: d["year"] == year, ["version", "created", "scenario", "total", "note", "status"]]
        .reset_index(drop=True)
    )
