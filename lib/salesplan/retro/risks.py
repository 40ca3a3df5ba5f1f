"""Risks and early warnings: the probability x impact matrix of every region, product line and
rep, and the method's early-warning triggers that the data can show.

Risk matrix (the method's bands, ``risk.probability`` and ``risk.impact``):

* probability of missing the annual target ``p_miss = 1 - P(hit)`` (the forecast's landing,
  :meth:`salesplan.workbook.MonthContext.landing`; reps: :func:`rep_landing`);
* impact ``= max(0, target - landing) / target``, the shortfall as a share of the target;
* each is ``high`` above ``high`` (70 % / 30 %), ``medium`` from ``medium`` up to ``high``
  (30-70 % / 10-30 %), else ``low``;
* the cell's rating: with low = 0, medium = 1, high = 2, ``score = probability + impact``;
  ``high`` when score >= 3, ``medium`` when 2, else ``low`` (high x low is medium);
* ranked by money at stake within a rating: ``shortfall = max(0, target - landing)``, largest
  first (:data:`RISK_ORDER`);
* a rep who has left owns nothing: their row is owned by the region lead and marked ``left
  <date>`` (:func:`salesplan.retro.flags.rep_owners`).

Early warnings (``risk.warnings``), each naming the item, the rule and its owner:

* :func:`overdue_receivables`: unpaid more than ``receivable_overdue_days`` after falling due
  (``due = order date + payment_terms_days``), per customer; owner the rep;
* :func:`tier_churn`: the share of a customer tier's buyers of the 12 months a year ago who
  bought nothing in the last 12 months, above ``churn_rate``; owner ``director``;
* :func:`stale_opportunities`: open opportunities neither changed in the pipeline snapshots
  nor followed up (``activities``) for more than ``stale_days``; owner the rep;
* :func:`slipping_deals`: open opportunities at or above the ``large_deal_quantile`` of open
  amounts whose expected close date moved later since the previous month or has passed.

Warnings name a rep's items after :func:`salesplan.retro.flags.rep_owners` (a rep who has left
hands them to the region lead). A month can raise over a thousand of them, so
:func:`warning_summary` gives a page the count and amount at stake per rule and the largest
``largest_items`` per rule (:data:`WARNING_ORDER`); the full list goes to the Excel pack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from salesplan.dates import as_dates
from salesplan.metrics import customer_tiers, safe_ratio
from salesplan.retro.flags import owners, rep_left, rep_owners
from salesplan.retro.periods import as_period
from salesplan.settings import Bands, CustomerTiers, ForecastSettings, Thresholds, WarningSettings
from salesplan.status import landing_status

BANDS = ("low", "medium", "high")
RISK_COLUMNS = [
    "level",
    "item",
    "owner",
    "target",
    "landing",
    "gap",
    "shortfall",
    "p_hit",
    "p_miss",
    "impact",
    "probability_band",
    "impact_band",
    "risk",
]
WARNING_COLUMNS = ["trigger", "item", "detail", "amount", "days", "rule", "owner"]
SUMMARY_COLUMNS = ["trigger", "rule", "items", "amount", "largest", "oldest_days", "shown"]
RISK_ORDER = "highest rating first, then the largest shortfall of the landing to target (target - landing)"
"""The true sort order of :func:`risk_matrix`, for its caption."""
WARNING_ORDER = (
    "rules with the most money at stake first; within a rule the largest amount first "
    "(amount overdue, lost sales of the tier, opportunity or deal amount)"
)
"""The true sort order of the early warnings (:func:`warning_summary`), for their caption."""
LEVEL_NAMES = {"region": "region", "product_line": "product_line", "rep_id": "rep"}


def band(values: Any, bands: Bands) -> np.ndarray:
    """``high`` where value > ``bands.high``, ``medium`` where value >= ``bands.medium``,
    else ``low``; empty text where the value is missing."""
    v = np.atleast_1d(np.asarray(values, dtype=float))
    high, medium = bands.high, bands.medium
    return np.select([np.isnan(v), v > high, v >= medium], ["", "high", "medium"], default="low").astype(object)


def rating(probability_band: Sequence[str], impact_band: Sequence[str]) -> np.ndarray:
    """The matrix cell's rating from the two bands (module docstring); empty where either is."""
    rank = {b: i for i, b in enumerate(BANDS)}
    out = []
    for p, i in zip(probability_band, impact_band, strict=True):
        if p not in rank or i not in rank:
            out.append("")
            continue
        score = rank[p] + rank[i]
        out.append("high" if score >= 3 else "medium" if score == 2 else "low")
    return np.asarray(out, dtype=object)


def rep_landing(
    cube: pd.DataFrame,
    plan: pd.DataFrame | None,
    month: str | pd.Period,
    forecast_config: ForecastSettings,
    fc: Any,
    thresholds: Thresholds,
    probability_bands: Bands,
) -> pd.DataFrame:
    """Year-end landing of every rep series of the forecast ``fc`` (level ``rep_id``) against the
    plan in force, in the form of :meth:`salesplan.workbook.MonthContext.landing` (total row
    dropped), with its status (:func:`salesplan.status.landing_status`)."""
    from salesplan.forecast import landing_table

    table = landing_table(cube, plan, month, ["rep_id"], forecast_config, fc=fc)
    table = table.loc[table["unique_id"] != "total"].reset_index(drop=True)
    table["status"] = landing_status(table["p_hit"], table["landing"], table["target"], thresholds, probability_bands)
    return table


def risk_matrix(
    landing: pd.DataFrame,
    reps: pd.DataFrame,
    probability_bands: Bands,
    impact_bands: Bands,
    product_owners: Mapping[str, str] | None = None,
    month: str | pd.Period | None = None,
) -> pd.DataFrame:
    """The probability x impact matrix of each landing row (regions, product lines, reps; the
    total and rows without a target are left out): ``p_miss = 1 - p_hit``,
    ``impact = max(0, -gap) / target``, ``shortfall = max(0, target - landing)``, their bands and
    the rating (module docstring), with the owner (:func:`salesplan.retro.flags.owners`: a rep
    who has left as of ``month`` hands theirs to the region lead, and their label says ``left
    <date>``). Sorted by :data:`RISK_ORDER`: rating, then shortfall, largest first."""
    parts = []
    for dim, level in LEVEL_NAMES.items():
        part = landing.loc[landing["dimension"] == dim]
        part = part.loc[part["target"].notna() & (part["target"] > 0)]
        if part.empty:
            continue
        items = pd.DataFrame({"region": "", "product_line": "", "rep_id": ""}, index=part.index)
        items[dim] = part["item"].astype(str)
        label = part["item"].astype(str)
        if level == "rep":
            left = rep_left(label, reps, month)
            note = (", " + left).where(left != "", "")
            label = _rep_names(reps).reindex(label.to_numpy()).fillna("?").to_numpy() + " (" + label + note + ")"
        parts.append(
            pd.DataFrame(
                {
                    "level": level,
                    "item": label,
                    "owner": owners(items, level, reps, product_owners, month),
                    "target": part["target"].astype(float),
                    "landing": part["landing"].astype(float),
                    "gap": part["gap"].astype(float),
                    "p_hit": part["p_hit"].astype(float),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=RISK_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out["p_miss"] = 1.0 - out["p_hit"]
    out["impact"] = np.maximum(0.0, -out["gap"]) / out["target"]
    out["shortfall"] = np.maximum(0.0, out["target"] - out["landing"])
    out["probability_band"] = band(out["p_miss"], probability_bands)
    out["impact_band"] = band(out["impact"], impact_bands)
    out["risk"] = rating(out["probability_band"], out["impact_band"])
    rank = out["risk"].map({"high": 0, "medium": 1, "low": 2, "": 3})
    return (
        out.assign(_r=rank)
        .sort_values(["_r", "shortfall", "p_miss"], ascending=[True, False, False], kind="stable")
        .drop(columns="_r")
        .reset_index(drop=True)[RISK_COLUMNS]
    )


def matrix_counts(matrix: pd.DataFrame) -> pd.DataFrame:
    """Items per cell: rows probability band, columns impact band (high first), zeros included."""
    order = list(reversed(BANDS))
    table = pd.crosstab(matrix["probability_band"], matrix["impact_band"])
    return (
        table.reindex(index=order, columns=order, fill_value=0)
        .astype(int)
        .rename_axis(index="probability of missing", columns="impact")
    )


# ----------------------------------------------------------------------------- early warnings


def _rep_names(reps: pd.DataFrame) -> pd.Series:
    return reps.assign(rep_id=reps["rep_id"].astype(str)).drop_duplicates("rep_id").set_index("rep_id")["rep_name"]


def _empty_warnings() -> pd.DataFrame:
    return pd.DataFrame(columns=WARNING_COLUMNS)


def receivables_position(
    orders: pd.DataFrame,
    receivables: pd.DataFrame | None,
    as_of: pd.Timestamp,
    collected: pd.Series | None = None,
) -> tuple[pd.DataFrame | None, str]:
    """Each order placed up to ``as_of`` with its signed value and the cash collected on it by
    ``as_of``: ``order_id, order_date, customer_id, rep_id, region, signed, collected``.
    ``orders``: the order lines, or their ``order_totals`` aggregate (the same result: it only
    sums net and paid amounts per order).

    Collected = the ``receivables`` payments dated up to ``as_of`` when that table exists;
    else the orders' ``paid_amount`` (undated: what had been paid when the data was exported).
    An order's customer, rep and region are those of its first line. Returns (None, what is
    missing) when neither exists, and a sentence on the basis used. ``collected``: those
    payments already summed per order id (:meth:`salesplan.workbook.MonthContext.collected_cash`,
    kept once per month), used instead of ``receivables``: the same result without reading
    millions of payments again."""
    within = orders["order_date"] <= as_of
    part = orders if within.all() else orders.loc[within]  # no copy of millions of rows when all are in
    # Integer codes per order (in order of first appearance) instead of a groupby on the ids:
    # millions of orders in a large export, and this is the month's largest table.
    codes, ids = pd.factorize(part["order_id"], sort=False)
    n = len(ids)
    first = np.unique(codes, return_index=True)[1] if n else np.array([], dtype=np.int64)

    def per_code(values: pd.Series) -> np.ndarray:
        return np.bincount(codes, weights=np.nan_to_num(values.to_numpy(dtype="float64")), minlength=n)

    per_order = pd.DataFrame(
        {
            "order_date": part["order_date"].groupby(codes).min().to_numpy(),
            **{c: part[c].to_numpy()[first] for c in ("customer_id", "rep_id", "region")},
            "signed": per_code(part["net_amount"]),
        },
        index=pd.Index(ids, name="order_id"),
    )
    if collected is not None:
        cash = collected if collected.index.is_unique else collected.groupby(level=0).sum()
        per_order["collected"] = cash.reindex(pd.Index(ids).astype(str)).fillna(0.0).to_numpy(dtype="float64")
        return per_order.reset_index(), f"payments in table receivables dated up to {as_of:%Y-%m-%d}"
    if receivables is not None and len(receivables):
        pay = receivables.loc[receivables["paid_date"] <= as_of]
        where = pd.Index(ids).get_indexer(pay["order_id"])
        known = where >= 0
        amounts = np.nan_to_num(pay["paid_amount"].to_numpy(dtype="float64"))[known]
        per_order["collected"] = np.bincount(where[known], weights=amounts, minlength=n)
        return per_order.reset_index(), f"payments in table receivables dated up to {as_of:%Y-%m-%d}"
    if "paid_amount" in part and part["paid_amount"].notna().any():
        per_order["collected"] = per_code(part["paid_amount"])
        return per_order.reset_index(), (
            "orders.paid_amount as exported (undated: payments received after the month are counted too; "
            "add table receivables with paid_date for the position at the month's end)"
        )
    return None, "needs table receivables (order_id, paid_date, paid_amount) or column orders.paid_amount"


def overdue_receivables(
    position: pd.DataFrame | None,
    month: str | pd.Period,
    reps: pd.DataFrame,
    customers: pd.DataFrame | None,
    warnings: WarningSettings,
) -> pd.DataFrame:
    """Customers with receivables overdue more than ``receivable_overdue_days`` at the month's end.

    Per order (:func:`receivables_position` at the month's end): ``outstanding = signed -
    collected`` (orders with positive signed value), ``due = order_date + payment_terms_days``,
    ``days = month end - due``; overdue when ``outstanding > 0.005`` and ``days >
    receivable_overdue_days``. Summed per customer (``amount``, ``days`` = the oldest); owner
    the rep of the customer's largest overdue order. Largest amount first."""
    if position is None:
        return _empty_warnings()
    end = as_period(month).to_timestamp(how="end").normalize()
    terms, limit = warnings.payment_terms_days, warnings.receivable_overdue_days
    pos = position.loc[(position["signed"] > 0) & (position["order_date"] <= end)]
    outstanding = pos["signed"] - pos["collected"]
    days = (end - (pos["order_date"] + pd.Timedelta(days=terms))).dt.days
    late = pos.assign(outstanding=outstanding, days=days).loc[(outstanding > 0.005) & (days > limit)]
    if late.empty:
        return _empty_warnings()
    late = late.sort_values(["outstanding", "order_id"], ascending=[False, True])
    per = late.groupby("customer_id", sort=False).agg(
        amount=("outstanding", "sum"), days=("days", "max"), orders=("order_id", "size"), rep_id=("rep_id", "first")
    )
    names = (
        customers.drop_duplicates("customer_id").set_index("customer_id")["customer_name"]
        if customers is not None and "customer_name" in customers
        else pd.Series(dtype=object)
    )
    item = per.index.map(lambda c: f"{names.get(c, c)} ({c})" if c in names.index else str(c))
    out = pd.DataFrame(
        {
            "trigger": "receivable overdue",
            "item": item,
            "detail": [
                f"{n} order(s) unpaid, the oldest {d} days past due"
                for n, d in zip(per["orders"], per["days"], strict=True)
            ],
            "amount": per["amount"].to_numpy(),
            "days": per["days"].to_numpy(),
            "rule": f"unpaid more than {limit} days after falling due (order date + {terms} days)",
            "owner": rep_owners(per["rep_id"], reps, month).to_numpy(),
        }
    )
    return out.sort_values("amount", ascending=False, kind="stable").reset_index(drop=True)[WARNING_COLUMNS]


def tier_churn(
    cube: pd.DataFrame, month: str | pd.Period, tiers: CustomerTiers, warnings: WarningSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Churn per customer tier and the tiers above ``churn_rate``.

    Base: net purchases per customer in the 12 months a year before (``month - 23 .. month -
    12``); customers with positive purchases there are tiered A-D
    (:func:`salesplan.metrics.customer_tiers`). ``churn = lost / base`` with lost = base
    customers with no positive purchases in the last 12 months (``month - 11 .. month``).
    Returns (``tier, base, lost, churn, lost_sales`` for every tier with a base, warnings);
    both empty when the data does not reach 24 months back."""
    p = as_period(month)
    base_start, base_end = (p - 23).to_timestamp(), (p - 12).to_timestamp()
    now_start, now_end = (p - 11).to_timestamp(), p.to_timestamp()
    columns = ["tier", "base", "lost", "churn", "lost_sales"]
    if cube.empty or cube["month"].min() > base_start:
        return pd.DataFrame(columns=columns), _empty_warnings()
    per = cube.groupby(["customer_id", "month"], observed=True)["net_amount"].sum().reset_index()
    before = per.loc[per["month"].between(base_start, base_end)].groupby("customer_id")["net_amount"].sum()
    before = before[before > 0]
    now = per.loc[per["month"].between(now_start, now_end)].groupby("customer_id")["net_amount"].sum()
    active_now = set(now.index[now > 0])
    tier = customer_tiers(before, dict(tiers))
    lost = ~before.index.isin(list(active_now))
    frame = pd.DataFrame({"tier": tier, "lost": lost, "lost_sales": np.where(lost, before, 0.0)})
    table = frame.groupby("tier").agg(base=("lost", "size"), lost=("lost", "sum"), lost_sales=("lost_sales", "sum"))
    table = table.reset_index()
    table["churn"] = safe_ratio(table["lost"].astype(float), table["base"].astype(float))
    table = table[columns]
    limit = warnings.churn_rate
    hot = table.loc[table["churn"] > limit]
    out = pd.DataFrame(
        {
            "trigger": "customer churn",
            "item": "tier " + hot["tier"].astype(str),
            "detail": [
                f"{int(lost)} of {int(base)} customers buying in {base_start:%Y-%m}..{base_end:%Y-%m} bought nothing "
                f"in {now_start:%Y-%m}..{now_end:%Y-%m} (churn {c:.1%})"
                for lost, base, c in zip(hot["lost"], hot["base"], hot["churn"], strict=True)
            ],
            "amount": hot["lost_sales"].astype(float).to_numpy(),
            "days": np.nan,
            "rule": f"churn above {limit:.0%} in a customer tier",
            "owner": warnings.director,
        }
    )
    return table.reset_index(drop=True), out.reset_index(drop=True)[WARNING_COLUMNS]


def _snapshots(pipeline: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    return pipeline.loc[pipeline["snapshot_date"] <= as_of].sort_values(["opportunity_id", "snapshot_date"])


def stale_opportunities(
    pipeline: pd.DataFrame | None,
    activities: pd.DataFrame | None,
    month: str | pd.Period,
    reps: pd.DataFrame,
    warnings: WarningSettings,
) -> pd.DataFrame:
    """Open opportunities not updated for more than ``stale_days`` at the month's end.

    Per opportunity in the latest snapshot on or before the month's end (status open): the last
    change = the first snapshot of the final run of snapshots with the same stage, amount,
    expected close date and status; the last touch = the later of that and the latest activity
    (any type) of its rep with its customer up to the month's end (when ``activities`` exist).
    Stale when ``month end - last touch > stale_days``. Largest amount first."""
    if pipeline is None or pipeline.empty:
        return _empty_warnings()
    end = as_period(month).to_timestamp(how="end").normalize()
    snaps = _snapshots(pipeline, end)
    if snaps.empty:
        return _empty_warnings()
    state = snaps[["stage", "amount", "expected_close_date", "status"]].astype(str).agg("|".join, axis=1)
    changed = (state != state.groupby(snaps["opportunity_id"]).shift()).to_numpy()
    snaps = snaps.assign(_changed=np.where(changed, snaps["snapshot_date"], pd.NaT))
    snaps["_changed"] = as_dates(snaps["_changed"]).groupby(snaps["opportunity_id"]).ffill()
    latest_date = snaps["snapshot_date"].max()
    last = snaps.groupby("opportunity_id").tail(1)
    last = last.loc[(last["snapshot_date"] == latest_date) & (last["status"] == "open")]
    touch = last["_changed"]
    if activities is not None and len(activities):
        acts = activities.loc[activities["activity_date"] <= end]
        latest_act = acts.groupby(["rep_id", "customer_id"])["activity_date"].max()
        keys = pd.MultiIndex.from_frame(last[["rep_id", "customer_id"]].astype(str))
        act = pd.Series(latest_act.reindex(keys).to_numpy(), index=last.index)
        touch = pd.concat([touch, act], axis=1).max(axis=1)
    days = (end - as_dates(touch)).dt.days
    limit = warnings.stale_days
    stale = (
        last.assign(days=days, touch=touch)
        .loc[days > limit]
        .sort_values(["amount", "opportunity_id"], ascending=[False, True])
    )
    basis = "pipeline snapshots and activities" if activities is not None and len(activities) else "pipeline snapshots"
    out = pd.DataFrame(
        {
            "trigger": "opportunity not followed up",
            "item": stale["opportunity_id"].astype(str) + " (" + stale["customer_id"].astype(str) + ")",
            "detail": [
                f"{stage}, last change or contact {t:%Y-%m-%d}"
                for stage, t in zip(stale["stage"], stale["touch"], strict=True)
            ],
            "amount": stale["amount"].astype(float).to_numpy(),
            "days": stale["days"].to_numpy(),
            "rule": f"open opportunity not updated for more than {limit} days ({basis})",
            "owner": rep_owners(stale["rep_id"], reps, month).to_numpy(),
        }
    )
    return out.reset_index(drop=True)[WARNING_COLUMNS]


def slipping_deals(
    pipeline: pd.DataFrame | None, month: str | pd.Period, reps: pd.DataFrame, warnings: WarningSettings
) -> pd.DataFrame:
    """Large open deals slipping their close date at the month's end.

    Large: ``amount >=`` the ``large_deal_quantile`` of the open amounts in the latest snapshot
    on or before the month's end. Slipping: its expected close date is later than in the latest
    snapshot on or before the previous month's end, or is before the month's end while the deal
    is still open. ``days`` = how far the date moved (or how long ago it passed)."""
    if pipeline is None or pipeline.empty:
        return _empty_warnings()
    p = as_period(month)
    end = p.to_timestamp(how="end").normalize()
    prev_end = (p - 1).to_timestamp(how="end").normalize()
    snaps = _snapshots(pipeline, end)
    if snaps.empty:
        return _empty_warnings()
    latest_date = snaps["snapshot_date"].max()
    now = snaps.loc[(snaps["snapshot_date"] == latest_date) & (snaps["status"] == "open")]
    if now.empty:
        return _empty_warnings()
    q = warnings.large_deal_quantile
    threshold = float(now["amount"].quantile(q))
    large = now.loc[now["amount"] >= threshold].set_index("opportunity_id")
    before = snaps.loc[snaps["snapshot_date"] <= prev_end].groupby("opportunity_id").tail(1).set_index("opportunity_id")
    was = before["expected_close_date"].reindex(large.index)
    moved = (large["expected_close_date"] - was).dt.days
    passed = (end - large["expected_close_date"]).dt.days
    slip = (moved > 0) | (passed > 0)
    hit = large.loc[slip.to_numpy()]
    moved, passed, was = moved[slip], passed[slip], was[slip]
    detail = [
        f"close date moved from {w:%Y-%m-%d} to {c:%Y-%m-%d}"
        if m > 0
        else f"expected to close {c:%Y-%m-%d}, still open"
        for w, c, m in zip(was, hit["expected_close_date"], moved.fillna(0), strict=True)
    ]
    out = pd.DataFrame(
        {
            "trigger": "large deal slipping",
            "item": hit.index.astype(str) + " (" + hit["customer_id"].astype(str) + ")",
            "detail": detail,
            "amount": hit["amount"].astype(float).to_numpy(),
            "days": np.where(moved.fillna(0) > 0, moved.fillna(0), passed).astype(int),
            "rule": f"open deal of at least {threshold:,.0f} (the {q:.0%} quantile of open amounts) whose close date "
            "moved later or passed",
            "owner": rep_owners(hit["rep_id"], reps, month).to_numpy(),
        }
    )
    return out.sort_values("amount", ascending=False, kind="stable").reset_index(drop=True)[WARNING_COLUMNS]


def warning_rules(
    warnings: WarningSettings,
    counts: Mapping[str, int],
    available: Mapping[str, str | None],
) -> pd.DataFrame:
    """The method's early-warning triggers, each with its rule, how many items it raised this
    month and, where the data cannot show it, the table it needs. ``counts``: trigger -> items;
    ``available``: trigger -> None when shown, else what is missing."""
    rules = [
        ("customer churn", f"churn above {warnings.churn_rate:.0%} in a customer tier (12 months on 12)"),
        (
            "receivable overdue",
            f"unpaid more than {warnings.receivable_overdue_days} days after falling due "
            f"(order date + {warnings.payment_terms_days} days)",
        ),
        (
            "opportunity not followed up",
            f"open opportunity not updated for more than {warnings.stale_days} days",
        ),
        (
            "large deal slipping",
            f"open deal in the top {1 - warnings.large_deal_quantile:.0%} by amount whose close date moved later or passed",
        ),
        ("task behind schedule", "more than 10 % behind plan: the deviation flags and the action register"),
        ("order delivery delayed", "delivery more than 72 hours late"),
    ]
    rows = []
    for trigger, rule in rules:
        missing = available.get(trigger, "needs delivery dates (not in the data contract)")
        rows.append(
            {
                "trigger": trigger,
                "rule": rule,
                "items": int(counts[trigger]) if missing is None and trigger in counts else np.nan,
                "shown": "yes" if missing is None else f"no: {missing}",
            }
        )
    return pd.DataFrame(rows)


def warning_summary(table: pd.DataFrame, rules: pd.DataFrame, largest: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a page shows of the early warnings instead of every row: per rule the count and the
    money at stake, and the largest items.

    ``summary`` (:data:`SUMMARY_COLUMNS`): one row per rule of ``rules`` (:func:`warning_rules`;
    rules the data cannot show, or shown elsewhere, have no count), ``items`` = warnings raised, ``amount``
    = their summed amount at stake, ``largest`` = the largest single amount, ``oldest_days`` =
    the most days (overdue, stale, slipped); rules with the most money at stake first, then the
    most items. ``largest_items``: the ``largest`` warnings of each rule by amount (ties: the
    most days), rules in the summary's order (:data:`WARNING_ORDER`)."""
    per = (
        table.assign(amount=pd.to_numeric(table["amount"], errors="coerce"), days=pd.to_numeric(table["days"]))
        .groupby("trigger", sort=False)
        .agg(items=("item", "size"), amount=("amount", "sum"), largest=("amount", "max"), oldest_days=("days", "max"))
    )
    summary = rules[["trigger", "rule", "items", "shown"]].merge(
        per.drop(columns="items"), left_on="trigger", right_index=True, how="left"
    )
    # Rules counted here get zeros; rules shown elsewhere or not at all keep a blank.
    counted = summary["items"].notna()
    summary = summary.assign(
        amount=summary["amount"].where(~counted, summary["amount"].fillna(0.0)).astype(float),
        largest=summary["largest"].astype(float),
        oldest_days=summary["oldest_days"].astype(float),
    )
    summary = summary.sort_values(
        ["amount", "items"], ascending=[False, False], na_position="last", kind="stable"
    ).reset_index(drop=True)[SUMMARY_COLUMNS]
    rank = {t: i for i, t in enumerate(summary["trigger"])}
    top = (
        table.assign(_r=table["trigger"].map(rank), _d=pd.to_numeric(table["days"]))
        .sort_values(["_r", "amount", "_d"], ascending=[True, False, False], na_position="last", kind="stable")
        .groupby("trigger", sort=False)
        .head(int(largest))
        .drop(columns=["_r", "_d"])
        .reset_index(drop=True)
    )
    return summary, top.reindex(columns=WARNING_COLUMNS)


@dataclass
class EarlyWarnings:
    """The month's early warnings: ``table`` (:data:`WARNING_COLUMNS`, every trigger, for the
    pack; ordered as :data:`WARNING_ORDER`), ``rules`` (:func:`warning_rules`), ``churn`` (per
    tier, :func:`tier_churn`), ``position`` (orders with signed and collected value,
    :func:`receivables_position`; None without payment data), ``basis`` (how collected cash was
    read), and what a page shows (:func:`warning_summary`): ``summary`` (count and amount at
    stake per rule) and ``largest`` (the largest ``largest_items`` per rule)."""

    table: pd.DataFrame
    rules: pd.DataFrame
    churn: pd.DataFrame
    position: pd.DataFrame | None
    basis: str
    summary: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SUMMARY_COLUMNS))
    largest: pd.DataFrame = field(default_factory=_empty_warnings)


def early_warnings(
    data: Any,
    cube: pd.DataFrame,
    month: str | pd.Period,
    tiers: CustomerTiers,
    warnings: WarningSettings,
    orders: pd.DataFrame | None = None,
    receivables: pd.DataFrame | None = None,
    collected: pd.Series | None = None,
) -> EarlyWarnings:
    """Every early-warning trigger of the month from the loaded data (``data``: a
    :class:`salesplan.io.Dataset`): overdue receivables, churn per customer tier, opportunities
    not followed up and large deals slipping (module docstring), the rules table saying which
    triggers the data can show, and the count, amount at stake and largest items per rule
    (:func:`warning_summary`, ``largest_items`` of ``warnings``). ``orders``: the order lines or their ``order_totals``
    aggregate (:mod:`salesplan.aggregates`), default ``data.orders``; ``receivables``: the
    payments (those up to the month's end are enough), default ``data.receivables``;
    ``collected``: the month's payments summed per order, read instead of them
    (:func:`receivables_position`)."""
    end = as_period(month).to_timestamp(how="end").normalize()
    position, basis = receivables_position(
        data.orders if orders is None else orders,
        data.receivables if receivables is None else receivables,
        end,
        collected,
    )
    churn, churn_warnings = tier_churn(cube, month, tiers, warnings)
    parts = {
        "receivable overdue": overdue_receivables(position, month, data.reps, data.customers, warnings),
        "customer churn": churn_warnings,
        "opportunity not followed up": stale_opportunities(data.pipeline, data.activities, month, data.reps, warnings),
        "large deal slipping": slipping_deals(data.pipeline, month, data.reps, warnings),
    }
    no_pipeline = None if data.pipeline is not None and len(data.pipeline) else "needs table pipeline"
    available = {
        "customer churn": None if len(churn) else "needs 24 months of orders",
        "receivable overdue": None if position is not None else basis,
        "opportunity not followed up": no_pipeline,
        "large deal slipping": no_pipeline,
        "task behind schedule": None,
    }
    counts = {k: len(v) for k, v in parts.items()}
    shown = [v for v in parts.values() if len(v)]
    table = pd.concat(shown, ignore_index=True) if shown else _empty_warnings()
    rules = warning_rules(warnings, counts, available)
    summary, largest = warning_summary(table, rules, warnings.largest_items)
    # The pack's full list in the page's order: the rule with most at stake first, largest first.
    table = warning_summary(table, rules, max(len(table), 1))[1]
    return EarlyWarnings(table, rules, churn, position, basis, summary, largest)
