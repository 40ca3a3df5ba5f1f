"""Tables for the annual review (``notebooks/01_review.ipynb``).

Each builder takes the tidy frames a workbook holds (the monthly cube, orders, targets,
reps) and the year under review, and returns a DataFrame of raw numbers; the formulas
themselves come from :mod:`salesplan.metrics`. Formatting for reading happens in the
notebook (``salesplan.tables``), except :func:`format_headline`, which gives the plain
text table nbval compares.

When the year under review is incomplete in the data (the current year), comparisons
with the year before use the same months of that year (year to date against year to
date), so growth is like for like.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from salesplan import metrics as m
from salesplan.dates import as_dates
from salesplan.seasonality import SeasonalityInputError, SeasonalityReview, seasonality_review
from salesplan.settings import CustomerTiers, KpiSettings
from salesplan.status import STATUS_ORDER, attainment_status, status_word
from salesplan.tables import fmt_int, fmt_money, fmt_pct, style_table
from salesplan.units import money_unit

DIMENSION_LABELS = {
    "region": "Region",
    "product_line": "Product line",
    "tier": "Product tier",
    "channel": "Channel",
    "rep_id": "Rep",
}


class ReviewInputError(ValueError):
    """The year or the data given to a review table cannot produce it (says which and why)."""


@cache
def _default_thresholds() -> tuple[tuple[str, float], ...]:
    from salesplan.config import load_settings

    return tuple(dict(load_settings().retro.thresholds).items())


def _thresholds(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    """The status thresholds given, else the method's defaults (``retro.thresholds``)."""
    return dict(_default_thresholds()) if thresholds is None else dict(thresholds)


# ------------------------------------------------------------------ the review period


def _stl_review(cube: pd.DataFrame, period: ReviewPeriod, alpha: float) -> SeasonalityReview | None:
    """The STL decomposition of monthly net sales up to the reviewed period's end
    (:func:`salesplan.seasonality.seasonality_review`); None when the history is too short for
    STL (two full seasons)."""
    try:
        return seasonality_review(cube, until=period.end, alpha=alpha)
    except (SeasonalityInputError, ValueError):
        return None


@dataclass(frozen=True)
class ReviewPeriod:
    """The year under review and the months of it the data covers (1..12 for a complete year)."""

    year: int
    months: tuple[int, ...]

    @property
    def previous(self) -> int:
        return self.year - 1

    @property
    def complete(self) -> bool:
        return self.months == tuple(range(1, 13))

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.year, 1, 1)

    @property
    def end(self) -> pd.Timestamp:
        """Last day of the last month covered."""
        return pd.Timestamp(self.year, self.months[-1], 1) + pd.offsets.MonthEnd(0)

    def label(self, year: int | None = None) -> str:
        """ "2025", or "2026 Jan-Nov" for a partial year (also used for the comparison year)."""
        y = self.year if year is None else year
        if self.complete:
            return str(y)
        first = pd.Timestamp(y, self.months[0], 1).strftime("%b")
        last = pd.Timestamp(y, self.months[-1], 1).strftime("%b")
        return f"{y} {first}-{last}"


def default_year(month: pd.Period | str) -> int:
    """The last complete calendar year at ``month`` (the month's year if it is December)."""
    period = pd.Period(month, freq="M")
    return period.year if period.month == 12 else period.year - 1


def review_period(cube: pd.DataFrame, year: int, last_month: pd.Period | str | None = None) -> ReviewPeriod:
    """The review period for ``year``: months 1..12, or 1..last month when the data (or
    ``last_month``, the workbook's reporting month) stops inside the year."""
    m._require_columns(cube, ["month"], "review_period")
    months = as_dates(cube["month"])
    if months.empty:
        raise ReviewInputError("review: the monthly facts are empty")
    first, last = months.min().to_period("M"), months.max().to_period("M")
    if last_month is not None:
        last = min(last, pd.Period(last_month, freq="M"))
    if not first.year <= int(year) <= last.year:
        raise ReviewInputError(f"review: year {year} is outside the data, which covers {first} to {last}")
    end_month = 12 if last.year > int(year) else last.month
    return ReviewPeriod(int(year), tuple(range(1, end_month + 1)))


def _in_period(frame: pd.DataFrame, period: ReviewPeriod, year: int, date: str = "month") -> pd.DataFrame:
    d = as_dates(frame[date])
    return frame[(d.dt.year == year) & d.dt.month.isin(period.months)]


def targets_for_year(
    targets: pd.DataFrame | None, period: ReviewPeriod, year: int | None = None
) -> pd.DataFrame | None:
    """Targets of ``year`` (default the review year) for the period's months, or None when
    there are none. If the table holds several versions of that year, the latest version
    (highest number in its name) is used, so targets are never double counted."""
    if targets is None or targets.empty:
        return None
    m._require_columns(targets, ["year", "month", "target_amount"], "targets")
    y = period.year if year is None else year
    t = targets[(pd.to_numeric(targets["year"]) == y) & pd.to_numeric(targets["month"]).isin(period.months)]
    if t.empty:
        return None
    if "version" in t.columns and t["version"].nunique() > 1:

        def order(v: Any) -> tuple[int, str]:
            digits = re.findall(r"\d+", str(v))
            return (int(digits[-1]) if digits else -1, str(v))

        latest = max(t["version"].dropna().unique(), key=order)
        t = t[t["version"] == latest]
    return t


# ------------------------------------------------------------------ headline


def _sum_where_present(frame: pd.DataFrame, column: str) -> tuple[float, float]:
    """(sum of column, sum of net_amount over the rows where the column is present)."""
    if column not in frame.columns:
        return np.nan, np.nan
    present = frame[column].notna()
    if not present.any():
        return np.nan, np.nan
    return float(frame.loc[present, column].sum()), float(frame.loc[present, "net_amount"].sum())


def customer_sales(cube: pd.DataFrame, period: ReviewPeriod, year: int | None = None) -> pd.Series:
    """Net sales per customer in the period's months of ``year`` (default the review year)."""
    part = _in_period(cube, period, period.year if year is None else year)
    return part.groupby("customer_id", observed=True)["net_amount"].sum()


def _year_figures(
    cube: pd.DataFrame,
    orders: pd.DataFrame | None,
    targets: pd.DataFrame | None,
    period: ReviewPeriod,
    year: int,
    first_seen: pd.Series,
) -> dict[str, float]:
    part = _in_period(cube, period, year)
    if part.empty:  # a year before the data starts has no figures, not zeros
        return dict.fromkeys(HEADLINE_KINDS, np.nan)
    sales = float(part["net_amount"].sum())
    before = _in_period(cube, period, year - 1)
    cost, net_c = _sum_where_present(part, "cost_amount")
    paid, net_p = _sum_where_present(part, "paid_amount")
    tgt = targets_for_year(targets, period, year)
    target = float(tgt["target_amount"].sum()) if tgt is not None else np.nan
    per_customer = part.groupby("customer_id", observed=True)["net_amount"].sum()
    active = m.active_customers(per_customer)
    first_year = first_seen.reindex(active)
    new = int(((first_year.dt.year == year) & first_year.dt.month.isin(period.months)).sum())
    if orders is not None and not orders.empty:
        o = _in_period(orders, period, year, date="order_date")
        repeat = m.repeat_purchase_rate(o)
        n_orders = o.loc[o["net_amount"] > 0, "order_id"].nunique() if not o.empty else 0
        aov = sales / n_orders if n_orders else np.nan
    else:
        repeat = m.repeat_purchase_rate(part, occasion="month")
        aov = np.nan
    return {
        "Net sales": sales,
        "YoY growth": m.yoy(sales, float(before["net_amount"].sum())) if not before.empty else np.nan,
        "Gross margin": m.gross_margin(net_c, cost),
        "Collection rate": m.collection_rate(paid, net_p),
        "Target": target,
        "Attainment": m.attainment(sales, target),
        "Active customers": float(len(active)),
        "New customers": float(new),
        "New customers, share of active": m.safe_ratio(new, len(active)),
        "Repeat-purchase rate": repeat,
        "Average order value": aov,
    }


HEADLINE_KINDS = {
    "Net sales": "money",
    "YoY growth": "pct",
    "Gross margin": "pct",
    "Collection rate": "pct",
    "Target": "money",
    "Attainment": "pct",
    "Active customers": "count",
    "New customers": "count",
    "New customers, share of active": "pct",
    "Repeat-purchase rate": "pct",
    "Average order value": "money",
}


SMALL_AMOUNTS = frozenset({"Average order value"})


def headline_table(
    cube: pd.DataFrame,
    period: ReviewPeriod,
    orders: pd.DataFrame | None = None,
    targets: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The headline figures of the review year beside the year before.

    Rows (``metric``): net sales; YoY growth; gross margin = (net - cost) / net over rows with
    a cost; collection rate = paid / net over rows with ``paid_amount``; target and
    attainment = net / target (where targets exist); active customers (positive net in
    the period); new customers (first purchase in the period; in the first year of data
    every customer is new); new-customer share = new / active; repeat-purchase rate
    (customers with >= 2 orders / customers with >= 1, from orders, else from months);
    average order value = net / orders with positive net.
    Columns: ``metric``, ``kind`` (money / pct / count), ``previous``, ``current``,
    ``change`` (relative for money and counts, difference in points for rates).
    """
    m._require_columns(cube, ["month", "customer_id", "net_amount"], "headline_table")
    first_seen = m.first_purchase(cube, date="month")
    cur = _year_figures(cube, orders, targets, period, period.year, first_seen)
    prev = _year_figures(cube, orders, targets, period, period.previous, first_seen)
    rows = []
    for metric, kind in HEADLINE_KINDS.items():
        p, c = prev[metric], cur[metric]
        change = c - p if kind == "pct" else m.yoy(c, p)
        rows.append({"metric": metric, "kind": kind, "previous": p, "current": c, "change": change})
    return pd.DataFrame(rows)


def format_value(value: float, kind: str, unit: str = "M") -> str:
    """One figure as text: money in ``unit`` with separators, rates as %, counts as integers."""
    if kind == "money":
        return fmt_money(value, unit, decimals=2 if unit else 0)
    if kind == "pct":
        return fmt_pct(value)
    return fmt_int(value)


def format_headline(table: pd.DataFrame, period: ReviewPeriod, unit: str = "M") -> pd.DataFrame:
    """The headline table as text, columns named by the compared periods; change shown
    as a signed % (money, counts) or signed points (rates). Rows with no value in either
    year are dropped (e.g. collection when the data has no payments)."""
    keep = table[table[["previous", "current"]].notna().any(axis=1)]
    # Per-order amounts are far below a million: show them in plain currency units.
    units = [("" if r.metric in SMALL_AMOUNTS else unit) for r in keep.itertuples()]
    out = pd.DataFrame(
        {
            "Metric": keep["metric"].to_list(),
            period.label(period.previous): [
                format_value(r.previous, r.kind, u) for r, u in zip(keep.itertuples(), units, strict=True)
            ],
            period.label(): [format_value(r.current, r.kind, u) for r, u in zip(keep.itertuples(), units, strict=True)],
            "Change": [
                "–"
                if pd.isna(r.change)
                # + 0.0 turns a rounded -0.0 into 0.0, so no change never prints as "-0.0".
                else (
                    f"{round(r.change * 100, 1) + 0.0:+.1f} pts"
                    if r.kind == "pct"
                    else fmt_pct(round(r.change, 3) + 0.0, signed=True)
                )
                for r in keep.itertuples()
            ],
        }
    )
    return out.set_index("Metric")


# ------------------------------------------------------------------ breakdowns


def breakdown(
    cube: pd.DataFrame,
    period: ReviewPeriod,
    dim: str,
    targets: pd.DataFrame | None = None,
    total: bool = True,
) -> pd.DataFrame:
    """Per value of ``dim``: ``net_amount``, ``previous``, ``change``, ``yoy``, ``share`` of
    the period's total, ``contribution`` to total growth (sums to the total YoY),
    ``gross_margin`` and, when the targets carry ``dim``, ``target_amount`` and
    ``attainment``. Sorted by sales, largest first; with ``total`` a ``Total`` row
    computed from the sums (so group sales add up to it by construction)."""
    m._require_columns(cube, ["month", dim, "net_amount"], "breakdown")
    cur = _in_period(cube, period, period.year)
    prev = _in_period(cube, period, period.previous)
    contrib = m.contribution_to_growth(
        cur.groupby(dim, observed=True)["net_amount"].sum(), prev.groupby(dim, observed=True)["net_amount"].sum()
    ).rename(columns={"current": "net_amount"})
    out = contrib[["net_amount", "previous", "change", "yoy", "contribution"]].assign(
        share=lambda d: m.share(d["net_amount"])
    )
    has_cost = "cost_amount" in cur.columns and cur["cost_amount"].notna().any()
    if has_cost:
        c = cur[cur["cost_amount"].notna()].groupby(dim, observed=True)[["net_amount", "cost_amount"]].sum()
        out["gross_margin"] = m.gross_margin(c["net_amount"], c["cost_amount"]).reindex(out.index)
    tgt = targets_for_year(targets, period)
    if tgt is not None and dim in tgt.columns:
        out["target_amount"] = tgt.groupby(dim, observed=True)["target_amount"].sum().reindex(out.index)
        out["attainment"] = m.attainment(out["net_amount"], out["target_amount"])
    out = out.sort_values("net_amount", ascending=False, kind="stable")
    out.index.name = dim
    if total:
        tot = {
            "net_amount": out["net_amount"].sum(),
            "previous": out["previous"].sum(),
            "change": out["change"].sum(),
            "contribution": out["contribution"].sum(),
            "share": out["share"].sum(),
        }
        tot["yoy"] = m.yoy(tot["net_amount"], tot["previous"])
        if has_cost:
            c = cur[cur["cost_amount"].notna()]
            tot["gross_margin"] = m.gross_margin(c["net_amount"].sum(), c["cost_amount"].sum())
        if "target_amount" in out.columns:
            tot["target_amount"] = out["target_amount"].sum(min_count=1)
            tot["attainment"] = m.attainment(tot["net_amount"], tot["target_amount"])
        out = pd.concat([out, pd.DataFrame([tot], index=pd.Index(["Total"], name=dim))])
    return out


def movers(breakdown_table: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` (``review.top_movers``) largest increases and ``n`` largest decreases of a :func:`breakdown`
    (without its Total row), plus an ``all others`` row and a ``Total`` row, so the
    shown changes and contributions add up to the total change and total growth."""
    body = breakdown_table.drop(index="Total", errors="ignore")
    up = body[body["change"] > 0].nlargest(n, "change")
    down = body[body["change"] < 0].nsmallest(n, "change")
    shown = pd.concat([up.assign(direction="up"), down.assign(direction="down")])
    rest = body.drop(index=shown.index)
    cols = ["previous", "net_amount", "change", "contribution"]
    others = pd.DataFrame([rest[cols].sum()], index=[f"all others ({len(rest)})"]).assign(direction="")
    total = pd.DataFrame([body[cols].sum()], index=["Total"]).assign(direction="")
    out = pd.concat([shown[[*cols, "yoy", "direction"]], others, total])
    out.loc[[others.index[0], "Total"], "yoy"] = [
        m.yoy(others["net_amount"].iloc[0], others["previous"].iloc[0]),
        m.yoy(total["net_amount"].iloc[0], total["previous"].iloc[0]),
    ]
    out.index.name = breakdown_table.index.name
    return out


# ------------------------------------------------------------------ time


def monthly_sales(cube: pd.DataFrame, last_year: int, years: int = 3) -> pd.DataFrame:
    """Net sales per month for ``last_year`` and the ``years - 1`` before it: columns
    ``month``, ``year``, ``month_of_year``, ``net_amount``."""
    monthly = cube.groupby("month", as_index=False, observed=True)["net_amount"].sum()
    d = as_dates(monthly["month"])
    keep = d.dt.year.between(last_year - years + 1, last_year)
    return monthly[keep].assign(year=d[keep].dt.year, month_of_year=d[keep].dt.month).reset_index(drop=True)


# ------------------------------------------------------------------ customers


def customer_tier_tables(
    cube: pd.DataFrame, period: ReviewPeriod, tiers: CustomerTiers
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tier summary of the review period, retention by the previous period's tier).

    Tiers from each customer's net purchases in the period (:func:`metrics.customer_tiers`);
    retention, churn and net revenue retention of the previous period's active customers,
    grouped by their tier then (:func:`metrics.retention_table`)."""
    cur, prev = customer_sales(cube, period), customer_sales(cube, period, period.previous)
    cur_active = cur[cur > 0]
    bounds = dict(tiers)  # the metric takes the A/B/C lower bounds as a plain mapping
    summary = m.tier_summary(cur_active, m.customer_tiers(cur_active, bounds))
    retention = m.retention_table(prev, cur, m.customer_tiers(prev, bounds))
    return summary, retention


def rfm_segments(rfm_table: pd.DataFrame) -> pd.DataFrame:
    """Customers and net sales per RFM segment (all segments, in :data:`metrics.RFM_SEGMENTS`
    order), with ``share`` of sales and of customers."""
    out = (
        rfm_table.groupby("segment", observed=True)
        .agg(customers=("monetary", "size"), net_amount=("monetary", "sum"))
        .reindex(list(m.RFM_SEGMENTS))
        .fillna({"customers": 0, "net_amount": 0.0})
        .astype({"customers": int})
    )
    return out.assign(customer_share=m.share(out["customers"]), share=m.share(out["net_amount"]))


# ------------------------------------------------------------------ reps


def rep_results(
    cube: pd.DataFrame,
    period: ReviewPeriod,
    reps: pd.DataFrame,
    targets: pd.DataFrame | None = None,
    bands: Sequence[float] = (0.8, 1.0),
    thresholds: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Per rep with sales or a target in the period: name, region, level, tenure in years
    at the period's end ((end - hire_date) / 365.25 days), net sales, YoY, target,
    attainment, band (:func:`metrics.attainment_band`) and ``status``: the attainment's status
    by the retrospective's bands (:func:`salesplan.status.attainment_status`; ``thresholds``:
    the ``retro.thresholds`` settings, the method's defaults when None)."""
    m._require_columns(reps, ["rep_id", "hire_date"], "reps")
    cur = _in_period(cube, period, period.year).groupby("rep_id", observed=True)["net_amount"].sum()
    prev = _in_period(cube, period, period.previous).groupby("rep_id", observed=True)["net_amount"].sum()
    tgt = targets_for_year(targets, period)
    target = (
        tgt.groupby("rep_id", observed=True)["target_amount"].sum()
        if tgt is not None and "rep_id" in tgt.columns
        else pd.Series(dtype=float)
    )
    ids = cur.index.union(target.index)
    info = reps.drop_duplicates("rep_id").set_index("rep_id")
    out = pd.DataFrame(index=pd.Index(ids, name="rep_id"))
    for col in ("rep_name", "region", "level"):
        if col in info.columns:
            out[col] = info[col].reindex(ids)
    hire = as_dates(info["hire_date"]).reindex(ids)
    out["tenure_years"] = (period.end - hire).dt.days / 365.25
    out["net_amount"] = cur.reindex(ids).fillna(0.0)
    out["previous"] = prev.reindex(ids)
    out["yoy"] = m.yoy(out["net_amount"], out["previous"])
    out["target_amount"] = target.reindex(ids)
    out["attainment"] = m.attainment(out["net_amount"], out["target_amount"])
    out["band"] = m.attainment_band(out["attainment"], low=bands[0], high=bands[1])
    out["status"] = attainment_status(out["attainment"], _thresholds(thresholds))
    return out.sort_values("net_amount", ascending=False, kind="stable")


def status_distribution(results: pd.DataFrame) -> pd.DataFrame:
    """Reps per status of their attainment (every status, most severe first, as set by
    :func:`rep_results`), with the page word (``label``) and their share of the reps with a
    target (reps without one are counted on their own row and take no share)."""
    counts = results["status"].value_counts().reindex(list(STATUS_ORDER), fill_value=0).astype(int)
    with_target = counts.drop(index="no_target")
    return (
        pd.DataFrame({"reps": counts})
        .assign(
            label=[status_word(s) for s in counts.index],
            share=m.share(with_target).reindex(counts.index),
        )
        .rename_axis("status")
    )


def attainment_distribution(results: pd.DataFrame, bands: Sequence[float] = (0.8, 1.0)) -> pd.DataFrame:
    """Reps per attainment band (all bands, best first, as labelled by :func:`rep_results`
    with the same ``bands``) with their share of reps."""
    labels = list(m.attainment_band_labels(bands[0], bands[1]))
    counts = results["band"].value_counts().reindex(labels, fill_value=0)
    return pd.DataFrame({"reps": counts.astype(int), "share": m.share(counts)}).rename_axis("band")


# ------------------------------------------------------------------ price-volume-mix


def pvm_by_sku(orders: pd.DataFrame, period: ReviewPeriod) -> pd.DataFrame:
    """Price-volume-mix of the period against the same months of the year before, by SKU
    (quantities of one SKU share a unit), from :func:`metrics.price_volume_mix`."""
    m._require_columns(orders, ["order_date", "sku", "quantity", "net_amount"], "orders")
    return m.price_volume_mix(
        _in_period(orders, period, period.previous, date="order_date"),
        _in_period(orders, period, period.year, date="order_date"),
        key=["sku"],
    )


# ------------------------------------------------------------------ what happened


def findings(
    period: ReviewPeriod,
    headline: pd.DataFrame,
    breakdowns: Mapping[str, pd.DataFrame],
    pvm: pd.Series | None = None,
    pareto: pd.Series | None = None,
    seasonality: pd.DataFrame | None = None,
    retention: pd.DataFrame | None = None,
    rep_bands: pd.DataFrame | None = None,
    goals: KpiSettings | None = None,
    unit: str = "M",
    bands: Sequence[float] = (0.8, 1.0),
) -> pd.DataFrame:
    """Top findings as plain sentences, each with the figure it rests on, written from the
    tables above (``finding``, ``figure``). Only statements the data supports appear: a
    finding whose inputs are missing or undefined is left out. ``goals``: the ``kpi`` settings
    (collection, margin, new customers, churn and A-tier retention goals); None: no goal is
    compared."""
    goal_of = dict(goals) if goals is not None else {}
    h = headline.set_index("metric")
    rows: list[tuple[str, str]] = []
    cur_label, prev_label = period.label(), period.label(period.previous)

    def money(v: float) -> str:
        return fmt_money(v, unit, decimals=1)

    sales, growth = h.loc["Net sales", "current"], h.loc["Net sales", "change"]
    if pd.notna(growth):
        verb = "grew" if growth > 0 else "fell" if growth < 0 else "were flat"
        rows.append(
            (
                f"Net sales {verb} {fmt_pct(abs(growth))} to {money(sales)} in {cur_label} "
                f"(from {money(h.loc['Net sales', 'previous'])} in {prev_label}).",
                fmt_pct(growth, signed=True),
            )
        )
    elif pd.notna(sales):
        rows.append((f"Net sales were {money(sales)} in {cur_label}.", money(sales)))

    att = h.loc["Attainment", "current"]
    if pd.notna(att):
        gap = h.loc["Net sales", "current"] - h.loc["Target", "current"]
        rows.append(
            (
                f"The year reached {fmt_pct(att)} of its target "
                f"({money(abs(gap))} {'above' if gap >= 0 else 'short of'} {money(h.loc['Target', 'current'])}).",
                fmt_pct(att),
            )
        )

    for dim, table in breakdowns.items():
        body = table.drop(index="Total", errors="ignore")
        total_change = body["change"].sum()
        if body.empty or len(body) < 2 or body["change"].abs().sum() == 0:
            continue
        label = DIMENSION_LABELS.get(dim, dim).lower()
        top = body["change"].idxmax() if total_change >= 0 else body["change"].idxmin()
        row = body.loc[top]
        direction = "growth" if total_change >= 0 else "decline"
        if pd.notna(row["contribution"]):
            rows.append(
                (
                    f"By {label}, {top} drove most of the {direction}: {money(row['change'])} "
                    f"({row['contribution'] * 100:+.1f} pts of the total {body['contribution'].sum() * 100:+.1f} %).",
                    f"{row['contribution'] * 100:+.1f} pts",
                )
            )
        worst = body["change"].idxmin() if total_change >= 0 else body["change"].idxmax()
        if worst != top and np.sign(body.loc[worst, "change"]) != np.sign(total_change) and body.loc[worst, "change"]:
            rows.append(
                (
                    f"Against the trend, {label} {worst} moved {money(body.loc[worst, 'change'])} "
                    f"({fmt_pct(body.loc[worst, 'yoy'], signed=True)}).",
                    money(body.loc[worst, "change"]),
                )
            )

    if pvm is not None and pd.notna(pvm.get("change")) and pvm["change"] != 0 and pvm["base"] > 0:
        parts = {"volume": pvm["volume"], "price": pvm["price"], "mix": pvm["mix"]}
        main = max(parts, key=lambda k: abs(parts[k]))
        rows.append(
            (
                f"Of the {money(pvm['change'])} change, volume gave {money(pvm['volume'])}, price "
                f"{money(pvm['price'])} and mix {money(pvm['mix'])}; {main} was the largest part.",
                money(parts[main]),
            )
        )

    if pareto is not None and not pareto.dropna().empty:
        p, s = pareto.dropna().index[0], pareto.dropna().iloc[0]
        rows.append((f"The top {p * 100:.0f} % of customers made {fmt_pct(s)} of sales.", fmt_pct(s)))

    if seasonality is not None and not seasonality.empty:
        peak = seasonality.loc[seasonality["index"].idxmax()]
        low = seasonality.loc[seasonality["index"].idxmin()]
        month_name = lambda k: pd.Timestamp(2000, int(k), 1).strftime("%B")  # noqa: E731
        rows.append(
            (
                f"{month_name(peak['month_of_year'])} is the strongest month (index {peak['index']:.2f}, "
                f"{int(peak['years'])} year{'s' if int(peak['years']) != 1 else ''}), "
                f"{month_name(low['month_of_year'])} the weakest ({low['index']:.2f}).",
                f"{peak['index']:.2f}",
            )
        )

    for metric, goal_key, higher_is_better in (
        ("Collection rate", "collection_goal", True),
        ("Gross margin", "gross_margin_goal", True),
        ("New customers, share of active", "new_customer_count_share_goal", True),
    ):
        value = h.loc[metric, "current"] if metric in h.index else np.nan
        goal = goal_of.get(goal_key)
        if pd.notna(value) and goal is not None:
            met = value >= goal if higher_is_better else value <= goal
            rows.append(
                (
                    f"{metric} was {fmt_pct(value)}, {'meeting' if met else 'missing'} the goal of {fmt_pct(goal)}.",
                    fmt_pct(value),
                )
            )

    if retention is not None and "total" in retention.index:
        churn_value = retention.loc["total", "churn"]
        goal = goal_of.get("churn_goal")
        if pd.notna(churn_value):
            verdict = (
                ""
                if goal is None
                else (" (within" if churn_value <= goal else " (above") + f" the {fmt_pct(goal)} limit)"
            )
            rows.append(
                (
                    f"{fmt_pct(churn_value)} of {prev_label}'s customers did not buy again in {cur_label}{verdict}; "
                    f"the retained base spent {fmt_pct(retention.loc['total', 'nrr'])} of what it spent before.",
                    fmt_pct(churn_value),
                )
            )
        if "A" in retention.index and goals is not None:
            ra, goal = retention.loc["A", "retention"], goals.retention_goal_A
            if pd.notna(ra):
                rows.append(
                    (
                        f"A-tier retention was {fmt_pct(ra)} against a goal of {fmt_pct(goal)}.",
                        fmt_pct(ra),
                    )
                )

    if rep_bands is not None and rep_bands["reps"].sum() > 0:
        with_target = rep_bands.drop(index="no target", errors="ignore")
        if with_target["reps"].sum() > 0:
            labels = m.attainment_band_labels(bands[0], bands[1])
            at = int(with_target.loc[labels[0], "reps"])
            n = int(with_target["reps"].sum())
            below = int(with_target.loc[labels[2], "reps"])
            rows.append(
                (
                    f"{at} of {n} reps with a target reached it; {below} {'was' if below == 1 else 'were'} "
                    f"below {fmt_pct(bands[0], decimals=0)}.",
                    f"{at}/{n}",
                )
            )
    return pd.DataFrame(rows, columns=["finding", "figure"])


# ------------------------------------------------------------------ presentation


def style_review_table(
    frame: pd.DataFrame,
    money: Sequence[str] = (),
    pct: Sequence[str] = (),
    signed_pct: Sequence[str] = (),
    points: Sequence[str] = (),
    ints: Sequence[str] = (),
    unit: str = "M",
    caption: str | None = None,
    growth: Sequence[str] = (),
    attainment: Sequence[str] = (),
    bands: Sequence[float] = (0.8, 1.0),
    rename: Mapping[str, str] | None = None,
    formats: Mapping[str, Any] | None = None,
    thresholds: Mapping[str, float] | None = None,
    currency: str = "",
) -> Any:
    """A review table through the one table builder (:func:`salesplan.tables.style_table`):
    money in ``unit`` with the unit in the header ("Net sales (M)"), rates as %, ``points`` as
    signed percentage points, ``growth`` columns shaded red to green, ``attainment`` columns
    coloured by their status (:func:`salesplan.status.attainment_status` with ``thresholds``, the
    ``retro.thresholds`` settings, the method's defaults when None), as every page colours an
    attainment (``bands`` is accepted for compatibility and no longer colours). Only columns
    named in one of the groups are shown, in the order given by ``rename`` or the groups.
    ``formats`` (column or its shown label -> format string or callable) formats other columns."""
    return style_table(
        frame,
        money=money,
        pct=pct,
        signed_pct=signed_pct,
        points=points,
        ints=ints,
        unit=unit,
        caption=caption,
        growth=growth,
        attainment=attainment,
        rename=rename,
        formats=formats,
        thresholds=_thresholds(thresholds),
        only_named=True,
        money_header=True,
        currency=currency,
    )


BREAKDOWN_COLUMNS = {
    "net_amount": "Net sales",
    "previous": "Year before",
    "change": "Change",
    "yoy": "YoY",
    "share": "Share",
    "contribution": "Contribution to growth",
    "gross_margin": "Gross margin",
    "target_amount": "Target",
    "attainment": "Attainment",
}


def style_breakdown(
    table: pd.DataFrame,
    caption: str,
    unit: str = "M",
    bands: Sequence[float] = (0.8, 1.0),
    thresholds: Mapping[str, float] | None = None,
) -> Any:
    """A :func:`breakdown` (or :func:`movers`) table styled for reading: money in ``unit``,
    YoY shaded, contribution in points of total growth, attainment coloured by its status
    (:func:`salesplan.status.attainment_status`)."""
    rename = {k: v for k, v in BREAKDOWN_COLUMNS.items() if k in table.columns}
    extra = {c: c.replace("_", " ").capitalize() for c in table.columns if table[c].dtype == object}
    return style_review_table(
        table,
        money=["net_amount", "previous", "change", "target_amount"],
        pct=["share", "gross_margin", "attainment"],
        signed_pct=["yoy"],
        points=["contribution"],
        unit=unit,
        caption=caption,
        growth=["yoy"],
        attainment=["attainment"],
        bands=bands,
        rename={**extra, **rename},
        thresholds=thresholds,
    )


# ------------------------------------------------------------------ the review in one call

MONEY_TOLERANCE = 0.01
"""Sums of money agree when they differ by less than a cent."""
RATIO_TOLERANCE = 1e-9
"""Shares, growth rates and indices agree when they differ by less than this."""
PVM_TOLERANCE = 1e-6
"""Price + volume + mix agree with the change when they differ by less than this (float sums of many SKUs)."""

TOP_SKUS = 8
"""SKUs shown in the table of the largest changes."""


def consistency_checks(
    headline: pd.DataFrame,
    breakdowns: Mapping[str, pd.DataFrame],
    tier_summary: pd.DataFrame,
    active_sales: pd.Series,
    pvm_total: pd.Series,
    seasonality: pd.DataFrame,
) -> pd.DataFrame:
    """The review's figures checked against each other, one row per rule (``check``, ``ok``,
    ``difference``: the left side minus the right side of the rule):

    * for every breakdown: its Total row and the sum of its groups equal the headline's net
      sales (each within a cent; the larger of the two differences is reported);
    * region shares add up to 100 % (within :data:`RATIO_TOLERANCE`);
    * region contributions add up to the headline's YoY growth (only when there is a year
      before in the data: without one there is no growth to split);
    * customer-tier shares add up to 100 %, and tier sales to the sales of the active
      customers (``active_sales``: net sales per customer with positive net);
    * price + volume + mix = the PVM change (within :data:`PVM_TOLERANCE`), and the PVM change
      = net sales minus the year before's (within a cent);
    * the seasonality indices average 1.
    """
    h = headline.set_index("metric")
    total, growth = float(h.loc["Net sales", "current"]), h.loc["Net sales", "change"]
    rows: list[tuple[str, float, float]] = []
    for dim, table in breakdowns.items():
        body = table.drop(index="Total")
        diff = max(
            abs(float(table.loc["Total", "net_amount"]) - total), abs(float(body["net_amount"].sum()) - total), key=abs
        )
        rows.append((f"{dim} sales add up to the total", diff, MONEY_TOLERANCE))
    regions = breakdowns["region"].drop(index="Total")
    rows.append(("region shares add up to 100 %", float(regions["share"].sum()) - 1, RATIO_TOLERANCE))
    if pd.notna(growth):
        rows.append(
            (
                "region contributions add up to total growth",
                float(regions["contribution"].sum()) - float(growth),
                RATIO_TOLERANCE,
            )
        )
    rows += [
        ("customer tier shares add up to 100 %", float(tier_summary["share"].sum()) - 1, RATIO_TOLERANCE),
        (
            "customer tier sales add up to active customers' sales",
            float(tier_summary["net_amount"].sum()) - float(active_sales.sum()),
            MONEY_TOLERANCE,
        ),
        (
            "price + volume + mix = change",
            float(pvm_total[["volume", "price", "mix"]].sum()) - float(pvm_total["change"]),
            PVM_TOLERANCE,
        ),
        (
            "PVM change = change in net sales",
            float(pvm_total["change"]) - (total - float(breakdowns["region"].loc["Total", "previous"])),
            MONEY_TOLERANCE,
        ),
        ("seasonality indices average 1", float(seasonality["index"].mean()) - 1, RATIO_TOLERANCE),
    ]
    return pd.DataFrame([{"check": name, "ok": bool(abs(diff) < tol), "difference": diff} for name, diff, tol in rows])


def checks_text(checks: pd.DataFrame) -> str:
    """The checks as plain lines: "ok   <check>" or "FAIL <check>"."""
    return "\n".join(
        f"{'ok  ' if ok else 'FAIL'} {name}" for name, ok in zip(checks["check"], checks["ok"], strict=True)
    )


def headline_figures(
    headline: pd.DataFrame, period: ReviewPeriod, unit: str = "M", thresholds: Mapping[str, float] | None = None
) -> list[dict[str, Any]]:
    """The review's first-screen figures (:func:`salesplan.publish.headline`): net sales with its
    change against the year before; attainment with its target (status by
    :func:`salesplan.status.attainment_status`, as every page colours attainment; none without
    a target); gross margin with its change in points; active customers with the new ones."""
    h = headline.set_index("metric")

    def cur(metric: str) -> float:
        return float(h.loc[metric, "current"])

    target = cur("Target")
    status = str(attainment_status(cur("Attainment"), _thresholds(thresholds))[0])
    return [
        {
            "label": f"Net sales {period.label()}",
            "value": fmt_money(cur("Net sales"), unit),
            "raw": cur("Net sales"),
            "note": f"{fmt_pct(h.loc['Net sales', 'change'], signed=True)} vs {period.label(period.previous)}",
        },
        {
            "label": "Attainment",
            "value": fmt_pct(cur("Attainment")),
            "raw": cur("Attainment"),
            "note": f"target {fmt_money(target, unit)}" if pd.notna(target) else "no target for the year",
            "status": None if status == "no_target" else status,
        },
        {
            "label": "Gross margin",
            "value": fmt_pct(cur("Gross margin")),
            "raw": cur("Gross margin"),
            "note": "–"
            if pd.isna(h.loc["Gross margin", "change"])
            else f"{h.loc['Gross margin', 'change'] * 100:+.1f} pts",
        },
        {
            "label": "Active customers",
            "value": fmt_int(cur("Active customers")),
            "raw": cur("Active customers"),
            "note": f"{fmt_int(cur('New customers'))} new",
        },
    ]


def pareto_text(pareto: pd.Series) -> str:
    """Concentration in one line: "top 10% of customers: 45.2% of sales, top 20% …"."""
    return ", ".join(f"top {p:.0%} of customers: {s:.1%} of sales" for p, s in pareto.items())


def findings_text(findings_table: pd.DataFrame) -> str:
    """The findings as a bulleted list, one line each."""
    return "\n".join(f"- {f}" for f in findings_table["finding"])


def _named(table: pd.DataFrame, names: pd.Series, with_id: bool = False) -> pd.DataFrame:
    """``table`` with its index shown by name ("name (id)" with ``with_id``); unknown ids stay."""
    if with_id:
        return table.rename(index=lambda k: f"{names.get(k, k)} ({k})" if k in names.index else k)
    return table.rename(index=lambda k: names.get(k, k))


@dataclass(frozen=True)
class Review:
    """The annual review of one year, every table ``01_review`` shows, built by :func:`build_review`.

    ``headline`` (:func:`headline_table`) and ``headline_text`` (:func:`format_headline`);
    ``figures``: the first screen (:func:`headline_figures`); ``plan``: the plan in force for the
    year (:meth:`salesplan.workbook.MonthContext.plan_for`), whose ``headline_figure`` at
    :attr:`plan_month` and ``describe()`` state the plan the page measured against;
    ``breakdowns``: dimension -> :func:`breakdown`; ``rep_movers`` and ``customer_movers``
    (:func:`movers`, by name); ``monthly``, ``seasonality`` and ``quarters`` (the shares of each
    quarter in its year, quarters as columns); ``active_sales`` (net per customer with positive
    net), ``tier_summary``, ``retention``, ``new_vs_returning``, ``rfm_segments``, ``pareto``;
    ``reps`` (:func:`rep_results`), ``rep_bands`` (:func:`attainment_distribution`),
    ``rep_status`` (:func:`status_distribution`); ``pvm`` (by SKU), ``pvm_total`` and
    ``sku_effects`` (the :data:`TOP_SKUS` largest changes); ``findings``; ``checks``
    (:func:`consistency_checks`)."""

    period: ReviewPeriod
    unit: str
    bands: tuple[float, float]
    thresholds: dict[str, float]
    headline: pd.DataFrame
    headline_text: pd.DataFrame
    figures: list[dict[str, Any]]
    plan: Any
    breakdowns: dict[str, pd.DataFrame]
    rep_movers: pd.DataFrame
    customer_movers: pd.DataFrame
    monthly: pd.DataFrame
    seasonality: pd.DataFrame
    quarters: pd.DataFrame
    stl: SeasonalityReview | None
    active_sales: pd.Series
    tier_summary: pd.DataFrame
    retention: pd.DataFrame
    new_vs_returning: pd.DataFrame
    rfm_segments: pd.DataFrame
    rfm_end: pd.Timestamp
    pareto: pd.Series
    reps: pd.DataFrame
    rep_bands: pd.DataFrame
    rep_status: pd.DataFrame
    pvm: pd.DataFrame
    pvm_total: pd.Series
    sku_effects: pd.DataFrame
    findings: pd.DataFrame
    checks: pd.DataFrame

    @property
    def label(self) -> str:
        """The period under review ("2025", or "2026 Jan-Sep")."""
        return self.period.label()

    @property
    def previous_label(self) -> str:
        """The period compared with (the same months of the year before)."""
        return self.period.label(self.period.previous)

    @property
    def plan_month(self) -> int:
        """The last month of the year the review covers (12 for a complete year)."""
        return self.period.months[-1]

    @property
    def title(self) -> str:
        return f"Annual review {self.label}"

    @property
    def all_ok(self) -> bool:
        """Whether every consistency check holds."""
        return bool(self.checks["ok"].all())


REVIEW_DIMENSIONS = ("region", "product_line", "tier", "channel", "rep_id")
"""The breakdowns a review builds, in page order."""
FINDING_DIMENSIONS = ("region", "product_line", "channel")
"""The breakdowns the findings are written from."""


def build_review(wb: Any, year: int | None = None) -> Review:
    """The annual review of ``year`` (None: :func:`default_year` of the report month) from a month
    context ``wb`` (:func:`salesplan.workbook.open_workbook`), as one :class:`Review`.

    Reads only what was known at the report month's end (``wb.closed_cube``, the orders and SKU
    lines up to it), measures against the plans in force for the year and the year before
    (``wb.plans_table``), colours attainment by ``retro.thresholds``, and uses the ``review``,
    ``customer_tiers`` and ``kpi`` settings. The seasonality index needs complete years: for a
    partial review year it is computed over the three years before it.
    """
    settings = wb.settings
    cfg, goals = settings.review, settings.kpi
    unit = money_unit(settings)  # report.money_unit: one unit on every page of a run
    bands = (float(cfg.attainment_bands[0]), float(cfg.attainment_bands[1]))
    thresholds = _thresholds(dict(settings.retro.thresholds))
    cube, orders, reps = wb.closed_cube, wb.order_totals(), wb.data.reps
    period = review_period(cube, default_year(wb.month) if year is None else int(year), last_month=wb.month)
    targets = wb.plans_table(period.year - 1, period.year)

    head = headline_table(cube, period, orders=orders, targets=targets)
    plan = wb.plan_for(period.year)
    figures = headline_figures(head, period, unit, thresholds)
    breakdowns = {dim: breakdown(cube, period, dim, targets=targets) for dim in REVIEW_DIMENSIONS}
    rep_names = reps.drop_duplicates("rep_id").set_index("rep_id")["rep_name"]
    customer_names = wb.data.customers.drop_duplicates("customer_id").set_index("customer_id")["customer_name"]

    monthly = monthly_sales(cube, period.year, years=3)
    season = m.seasonality_index(monthly_sales(cube, period.year if period.complete else period.previous, years=3))
    quarters = (
        m.quarterly_shares(monthly)
        .pivot(index="year", columns="quarter", values="share")
        .rename(columns=lambda q: f"Q{q}")
    )

    customers_now = customer_sales(cube, period)
    active = customers_now[customers_now > 0]
    tiers, retention = customer_tier_tables(cube, period, settings.customer_tiers)
    rfm_start = period.end - pd.DateOffset(months=cfg.rfm_window_months)
    segments = rfm_segments(m.rfm(orders[orders["order_date"] > rfm_start], as_of=period.end, bins=cfg.rfm_bins))
    pareto = m.pareto_share(active, cfg.pareto_shares)
    year_ago = pd.DateOffset(years=1)
    new_returning = pd.concat(
        {
            period.label(period.previous): m.new_vs_returning(orders, period.start - year_ago, period.end - year_ago),
            period.label(): m.new_vs_returning(orders, period.start, period.end),
        },
        names=["period", "customers"],
    )

    rep_table = rep_results(cube, period, reps, targets, bands=bands, thresholds=thresholds)
    rep_bands = attainment_distribution(rep_table, bands=bands)
    pvm = pvm_by_sku(wb.sku_sales(), period)
    pvm_total = m.pvm_summary(pvm)

    found = findings(
        period,
        head,
        {dim: breakdowns[dim] for dim in FINDING_DIMENSIONS},
        pvm=pvm_total,
        pareto=pareto,
        seasonality=season,
        retention=retention,
        rep_bands=rep_bands,
        goals=goals,
        unit=unit,
        bands=bands,
    )
    n_movers = cfg.top_movers
    return Review(
        period=period,
        unit=unit,
        bands=bands,
        thresholds=thresholds,
        headline=head,
        headline_text=format_headline(head, period, unit=unit),
        figures=figures,
        plan=plan,
        breakdowns=breakdowns,
        rep_movers=_named(movers(breakdowns["rep_id"], n=n_movers), rep_names),
        customer_movers=_named(movers(breakdown(cube, period, "customer_id"), n=n_movers), customer_names, True),
        monthly=monthly,
        seasonality=season,
        quarters=quarters,
        stl=_stl_review(cube, period, cfg.seasonality_alpha),
        active_sales=active,
        tier_summary=tiers,
        retention=retention,
        new_vs_returning=new_returning,
        rfm_segments=segments,
        rfm_end=period.end,
        pareto=pareto,
        reps=rep_table,
        rep_bands=rep_bands,
        rep_status=status_distribution(rep_table),
        pvm=pvm,
        pvm_total=pvm_total,
        sku_effects=pvm.set_index("sku").sort_values("change", key=abs, ascending=False).head(TOP_SKUS),
        findings=found,
        checks=consistency_checks(head, breakdowns, tiers, active, pvm_total, season),
    )
