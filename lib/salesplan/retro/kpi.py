"""The eight core KPIs of the monthly report, each with its goal, this month's and the
year-to-date value, a trend over the last months and a RAG status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesplan.forecast.pipeline import stage_win_rates, weighted_pipeline
from salesplan.metrics import (
    attainment,
    collection_rate,
    first_purchase,
    gross_margin,
    repeat_purchase_rate,
    safe_ratio,
)
from salesplan.retro.flags import classify_deviation, plan_months
from salesplan.retro.periods import RetroInputError, Window, as_period, window
from salesplan.tables import fmt_money, fmt_pct, rag_label

KPI_COLUMNS = ["kpi", "unit", "goal", "month_value", "ytd_value", "status", "trend", "definition", "note"]
SPARK_CHARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """Unicode sparkline of ``values`` scaled between their min and max (``▁`` .. ``█``);
    a missing value is a blank, a flat series is all ``▄``."""
    arr = np.asarray(values, dtype=float)
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return " " * len(arr)
    lo, hi = float(finite.min()), float(finite.max())
    chars = []
    for v in arr:
        if not np.isfinite(v):
            chars.append(" ")
        elif hi - lo <= 1e-12 * max(abs(hi), 1.0):
            chars.append(SPARK_CHARS[3])
        else:
            chars.append(SPARK_CHARS[int(round((v - lo) / (hi - lo) * (len(SPARK_CHARS) - 1)))])
    return "".join(chars)


def _in(frame: pd.DataFrame, win: Window, col: str = "month") -> pd.DataFrame:
    return frame.loc[win.contains(frame[col])]


def month_windows(month: str | pd.Period, n: int) -> list[Window]:
    """The ``n`` single-month windows ending with ``month``, oldest first."""
    p = as_period(month)
    return [window(p - k, "month") for k in range(n - 1, -1, -1)]


def trailing_window(month: str | pd.Period, months: int) -> Window:
    """The ``months`` months ending with ``month``."""
    p = as_period(month)
    return Window("trailing", f"{months} months to {p}", (p - months + 1).to_timestamp(), p.to_timestamp())


# --------------------------------------------------------------------------------------
# single KPIs over one window


def attainment_value(cube: pd.DataFrame, plan: pd.DataFrame, win: Window) -> float:
    """Attainment over ``win``: net sales / target (NaN for no target)."""
    plan_m = plan_months(plan)
    return attainment(float(_in(cube, win)["net_amount"].sum()), float(_in(plan_m, win)["target_amount"].sum()))


def gross_margin_value(cube: pd.DataFrame, win: Window) -> float:
    """Gross margin rate over ``win``: ``(net - cost) / net``; NaN when cost is not in the data."""
    part = _in(cube, win)
    if "cost_amount" not in part or part["cost_amount"].isna().all():
        return float("nan")
    return gross_margin(float(part["net_amount"].sum()), float(part["cost_amount"].sum()))


def collection_value(cube: pd.DataFrame, win: Window) -> float:
    """Collection rate over ``win``: cash received on the period's invoices / net invoiced."""
    part = _in(cube, win)
    if "paid_amount" not in part or part["paid_amount"].isna().all():
        return float("nan")
    return collection_rate(float(part["paid_amount"].sum()), float(part["net_amount"].sum()))


def customer_months(cube: pd.DataFrame) -> pd.DataFrame:
    """Net sales per customer and month (``customer_id, month, net_amount``): the cube reduced
    to what the customer KPIs need."""
    return cube.groupby(["customer_id", "month"], as_index=False, observed=True)["net_amount"].sum()


def new_customer_values(customers: pd.DataFrame, win: Window, first: pd.Series | None = None) -> tuple[float, int]:
    """New customers in ``win`` and their share of the period's net sales.

    New = the customer's first purchase (:func:`salesplan.metrics.first_purchase`: first
    month with positive net purchases, computed over ``customers`` up to ``win.end`` unless
    ``first`` is given) falls inside ``win``; ``share = new customers' net sales / all net
    sales`` of the period (NaN if those are <= 0); the count is of new customers with
    positive net purchases in the period. ``customers``: :func:`customer_months` or the cube.
    """
    if first is None:
        upto = customers.loc[customers["month"] <= win.end]
        if upto.empty:
            return float("nan"), 0
        first = first_purchase(upto, date="month")
    part = _in(customers, win)
    per_customer = part.groupby("customer_id")["net_amount"].sum()
    is_new = per_customer.index.map(first).to_series(index=per_customer.index).between(win.start, win.end)
    share = safe_ratio(float(per_customer[is_new].sum()), float(per_customer.sum()))
    return share, int(((per_customer > 0) & is_new).sum())


def repeat_purchase_value(customers: pd.DataFrame, win: Window) -> float:
    """Repeat-purchase rate over ``win``: customers buying in two or more months of it /
    customers buying at all (:func:`salesplan.metrics.repeat_purchase_rate` with months as
    purchase occasions). ``customers``: :func:`customer_months` or the cube."""
    part = _in(customers, win)
    if part.empty:
        return float("nan")
    return repeat_purchase_rate(part, occasion="month")


def order_totals(orders: pd.DataFrame) -> pd.DataFrame:
    """Net value of each order with its month: ``order_id, month, net_amount`` (an order's
    month is that of its earliest line)."""
    need = {"order_id", "order_date", "net_amount"}
    missing = sorted(need - set(orders.columns))
    if missing:
        raise RetroInputError(f"orders: missing column(s) {', '.join(missing)}")
    dates = orders["order_date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates)
    month = dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[M]").astype("datetime64[ns]")
    frame = pd.DataFrame(
        {"order_id": orders["order_id"].to_numpy(), "month": month, "net_amount": orders["net_amount"].to_numpy()}
    )
    return (
        frame.groupby("order_id", sort=False)
        .agg(month=("month", "min"), net_amount=("net_amount", "sum"))
        .reset_index()
    )


def average_order_value(totals: pd.DataFrame, win: Window) -> float:
    """Average order value over ``win`` from :func:`order_totals`: net sales / number of
    orders with positive net value (returns lower the sales but are not orders)."""
    part = _in(totals, win)
    return safe_ratio(float(part["net_amount"].sum()), float((part["net_amount"] > 0).sum()))


def high_end_monthly(
    cube: pd.DataFrame, orders: pd.DataFrame | None = None, products: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, str]:
    """Monthly high-end sales per rep: ``month, rep_id, high_end_amount``, and the basis used.

    High end = products flagged ``high_margin`` when the products table has that column
    (joined to orders by ``sku``); otherwise the ``core`` product tier from the cube.
    """
    if (
        orders is not None
        and products is not None
        and "high_margin" in products.columns
        and {"sku", "order_date", "rep_id", "net_amount"} <= set(orders.columns)
    ):
        flag = products.drop_duplicates("sku").set_index("sku")["high_margin"]
        if flag.dtype == object:
            flag = flag.map(lambda v: str(v).strip().lower() in ("true", "1", "yes", "y"))
        hm = orders["sku"].map(flag.astype(bool)).fillna(False).astype(bool)
        part = orders.loc[hm]
        dates = part["order_date"].to_numpy(dtype="datetime64[ns]")
        month = pd.Series(dates.astype("datetime64[M]").astype("datetime64[ns]"), index=part.index, name="month")
        out = part.groupby([month, part["rep_id"].astype(str)])["net_amount"].sum()
        return out.rename("high_end_amount").reset_index(), "high-margin products"
    part = cube.loc[cube["tier"].astype(str) == "core"]
    out = part.groupby(["month", part["rep_id"].astype(str)])["net_amount"].sum()
    return out.rename("high_end_amount").reset_index(), "core product tier"


def high_end_share_value(cube: pd.DataFrame, high_end: pd.DataFrame, win: Window) -> float:
    """High-end share over ``win``: high-end net sales / all net sales."""
    return safe_ratio(float(_in(high_end, win)["high_end_amount"].sum()), float(_in(cube, win)["net_amount"].sum()))


def pipeline_coverage(
    pipeline: pd.DataFrame | None,
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    month: str | pd.Period,
    stage_probability: Mapping[str, float],
    min_closed: int = 10,
) -> dict[str, Any]:
    """Pipeline coverage of the remaining annual target at the end of ``month``.

    From the latest pipeline snapshot on or before the month's last day, with the forecast
    library's historical win rate per stage (:func:`salesplan.forecast.pipeline.stage_win_rates`;
    stages with fewer than ``min_closed`` closed opportunities fall back to the probability
    column or the configured stage probability) and its weighted pipeline by close month
    (:func:`salesplan.forecast.pipeline.weighted_pipeline`):

    * ``open_amount``: open opportunities expected to close after the month and within the year
    * ``expected_amount``: the same weighted by their stage's win rate
    * ``remaining_target`` = annual target - year-to-date net sales
    * ``coverage = open_amount / remaining_target``
    * ``required_coverage = open_amount / expected_amount`` = 1 / (the pipeline's historical
      win rate at its current stage mix): the coverage needed to close the remaining target
      at the historical win rates, instead of a fixed 3x. ``coverage >= required_coverage``
      exactly when ``expected_amount >= remaining_target``.
    * ``expected_coverage = expected_amount / remaining_target``

    Ratios are NaN where the base is not positive (e.g. the target is already reached) and in
    December (no month of the year is left to cover).
    """
    p = as_period(month)
    plan_m = plan_months(plan)
    ytd_actual = float(_in(cube, window(p, "ytd"))["net_amount"].sum())
    annual = float(_in(plan_m, window(p, "year"))["target_amount"].sum())
    remaining = annual - ytd_actual
    out: dict[str, Any] = dict.fromkeys(
        ["open_amount", "expected_amount", "coverage", "required_coverage", "expected_coverage"], float("nan")
    )
    out["remaining_target"] = remaining
    if pipeline is None or pipeline.empty or p.month == 12:
        return out
    month_end = p.to_timestamp(how="end").normalize()
    rates = stage_win_rates(pipeline, stage_probability, min_closed, as_of=month_end)
    by_month = weighted_pipeline(pipeline, rates, month_end)
    this_year = by_month.loc[pd.to_datetime(by_month["month"]).dt.year == p.year]
    out["open_amount"] = float(this_year["open_amount"].sum())
    out["expected_amount"] = float(this_year["weighted_amount"].sum())
    out["coverage"] = safe_ratio(out["open_amount"], remaining)
    out["required_coverage"] = safe_ratio(out["open_amount"], out["expected_amount"])
    out["expected_coverage"] = safe_ratio(out["expected_amount"], remaining)
    return out


# --------------------------------------------------------------------------------------
# the table


def kpi_table(
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    month: str | pd.Period,
    goals: Mapping[str, Any],
    thresholds: Mapping[str, float],
    orders: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
    pipeline: pd.DataFrame | None = None,
    stage_probability: Mapping[str, float] | None = None,
    min_closed: int = 10,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The eight core KPIs for ``month``: a table and the monthly trend values.

    ``goals`` is the ``kpi`` config section: ``attainment_goal``, ``gross_margin_goal``,
    ``collection_goal``, ``new_customer_sales_share_goal``, ``repeat_purchase_goal``,
    ``aov_growth_goal`` (vs the same months last year), ``high_end_share_goal``,
    ``trend_months`` and ``repeat_window_months``. Status compares the year-to-date value
    (pipeline: the month-end value) with the goal using the flag thresholds
    (:func:`salesplan.retro.flags.classify_deviation`: relative shortfall 5 / 10 / 15 %);
    higher is better for every KPI here.

    ``plan`` may also hold earlier years: they feed the attainment trend. A KPI whose value
    cannot be computed from the data (e.g. no cost column) has status ``no_data``.

    Returns ``(table, trend)``: table columns :data:`KPI_COLUMNS`; trend is long
    ``kpi, month, value`` over the last ``trend_months`` months.
    """
    p = as_period(month)
    n = int(goals["trend_months"])
    repeat_months = int(goals["repeat_window_months"])
    stage_probability = stage_probability or {}
    ytd, mon = window(p, "ytd"), window(p, "month")
    wins = month_windows(p, n)
    plan_m = plan_months(plan)
    high_end, high_end_basis = high_end_monthly(cube, orders, products)
    customers = customer_months(cube)
    # First purchases over all history up to the month: a later month cannot change them.
    first = first_purchase(customers.loc[customers["month"] <= mon.end], date="month")

    rows: list[dict[str, Any]] = []
    trend: list[pd.DataFrame] = []

    def add(kpi: str, unit: str, goal: float, mval: float, yval: float, series: list[float], definition: str, note=""):
        rows.append(
            {
                "kpi": kpi,
                "unit": unit,
                "goal": goal,
                "month_value": mval,
                "ytd_value": yval,
                "trend": sparkline(series),
                "definition": definition,
                "note": note,
            }
        )
        trend.append(pd.DataFrame({"kpi": kpi, "month": [w.start for w in wins], "value": series}))

    add(
        "Sales attainment",
        "pct",
        float(goals["attainment_goal"]),
        attainment_value(cube, plan_m, mon),
        attainment_value(cube, plan_m, ytd),
        [attainment_value(cube, plan_m, w) for w in wins],
        "net sales / target",
    )
    add(
        "Gross margin",
        "pct",
        float(goals["gross_margin_goal"]),
        gross_margin_value(cube, mon),
        gross_margin_value(cube, ytd),
        [gross_margin_value(cube, w) for w in wins],
        "(net sales - cost) / net sales",
    )
    add(
        "Collection rate",
        "pct",
        float(goals["collection_goal"]),
        collection_value(cube, mon),
        collection_value(cube, ytd),
        [collection_value(cube, w) for w in wins],
        "cash received on the period's invoices / net invoiced",
        "recent months are still being collected",
    )
    m_share, m_count = new_customer_values(customers, mon, first)
    y_share, y_count = new_customer_values(customers, ytd, first)
    add(
        "New-customer sales share",
        "pct",
        float(goals["new_customer_sales_share_goal"]),
        m_share,
        y_share,
        [new_customer_values(customers, w, first)[0] for w in wins],
        "net sales of customers whose first purchase falls in the period / net sales",
        f"{m_count} new customer(s) this month, {y_count} this year",
    )
    add(
        "Repeat-purchase rate",
        "pct",
        float(goals["repeat_purchase_goal"]),
        repeat_purchase_value(customers, trailing_window(p, repeat_months)),
        repeat_purchase_value(customers, ytd),
        [repeat_purchase_value(customers, trailing_window(w.start.to_period("M"), repeat_months)) for w in wins],
        f"customers buying in 2+ months / customers buying (month column and trend: last {repeat_months} months)",
    )
    cov = pipeline_coverage(pipeline, cube, plan_m, p, stage_probability, min_closed)
    cov_series = [
        pipeline_coverage(pipeline, cube, plan_m, w.start.to_period("M"), stage_probability, min_closed)["coverage"]
        for w in wins
    ]
    add(
        "Pipeline coverage",
        "x",
        cov["required_coverage"],
        cov["coverage"],
        cov["coverage"],
        cov_series,
        "open pipeline closing this year / remaining annual target; goal = 1 / historical win rate of that pipeline",
        (
            f"expected to close at historical stage win rates: {cov['expected_amount'] / 1e6:,.1f} M "
            f"= {cov['expected_coverage']:.0%} of the remaining target"
            if np.isfinite(cov["required_coverage"]) and np.isfinite(cov["expected_coverage"])
            else "no pipeline data, the target is already reached, or December"
        ),
    )
    if orders is not None and {"order_id", "order_date", "net_amount"} <= set(orders.columns):
        totals = order_totals(orders)
        last_year_ytd = Window("ly", "", ytd.start - pd.DateOffset(years=1), ytd.end - pd.DateOffset(years=1))
        aov_goal = average_order_value(totals, last_year_ytd) * (1.0 + float(goals["aov_growth_goal"]))
        add(
            "Average order value",
            "money",
            aov_goal,
            average_order_value(totals, mon),
            average_order_value(totals, ytd),
            [average_order_value(totals, w) for w in wins],
            "net sales / orders; goal = same months last year x (1 + aov_growth_goal)",
        )
    else:
        add("Average order value", "money", np.nan, np.nan, np.nan, [np.nan] * n, "needs the orders table")
    add(
        "High-end share",
        "pct",
        float(goals["high_end_share_goal"]),
        high_end_share_value(cube, high_end, mon),
        high_end_share_value(cube, high_end, ytd),
        [high_end_share_value(cube, high_end, w) for w in wins],
        f"net sales of {high_end_basis} / net sales",
    )
    table = pd.DataFrame(rows)
    table["status"] = classify_deviation(table["ytd_value"], table["goal"], thresholds)
    table.loc[table["ytd_value"].isna() & table["goal"].notna(), "status"] = "no_data"
    trend_frame = pd.concat(trend, ignore_index=True)
    return table[KPI_COLUMNS], trend_frame


def format_kpi_table(table: pd.DataFrame, unit: str = "K") -> pd.DataFrame:
    """The KPI table for display: goal and values formatted by each KPI's unit (percent,
    times, money in ``unit``), status with its symbol."""

    def fmt(value: float, kind: str) -> str:
        if kind == "pct":
            return fmt_pct(value)
        if kind == "money":
            return fmt_money(value, unit, decimals=1)
        return "–" if not np.isfinite(value) else f"{value:.2f}x"

    out = pd.DataFrame(
        {
            "KPI": table["kpi"],
            "Goal": [fmt(v, k) for v, k in zip(table["goal"], table["unit"], strict=True)],
            "This month": [fmt(v, k) for v, k in zip(table["month_value"], table["unit"], strict=True)],
            "Year to date": [fmt(v, k) for v, k in zip(table["ytd_value"], table["unit"], strict=True)],
            "Status": [rag_label(s) for s in table["status"]],
            "Trend": table["trend"],
            "Definition": table["definition"],
            "Note": table["note"],
        }
    )
    return out
