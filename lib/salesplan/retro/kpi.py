"""The core KPIs the method names, each with its goal, this month's and the year-to-date
value, a trend over the last months and a RAG status, plus two extra KPIs (pipeline coverage,
average order value) kept apart as extras.

Core: sales attainment, gross margin, collection rate, customer acquisition cost (CAC),
LTV/CAC, repeat-purchase rate, channel conversion rate, new-customer share (by count),
new-customer sales share, high-end product share and NPS. A KPI whose data is missing shows
which table would provide it (status ``no_data``). Status is
:func:`salesplan.status.deviation_status` of the year-to-date value against the goal, the flags'
5 / 10 / 15 % bands; for CAC, where lower is better, the ratio is inverted (``goal / value``).

:func:`signed_vs_collected` keeps contract (signed) value and cash collected apart per region
and rep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesplan.dates import as_dates
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
from salesplan.retro.process import needs
from salesplan.settings import KpiSettings, PipelineSettings
from salesplan.tables import fmt_money, fmt_pct, rag_label
from salesplan.units import is_missing

KPI_COLUMNS = [
    "kpi",
    "group",
    "unit",
    "better",
    "goal",
    "month_value",
    "ytd_value",
    "status",
    "trend",
    "definition",
    "note",
]
"""``group``: core (the method's KPIs) or extra; ``better``: higher or lower."""
PROMOTER_MIN, DETRACTOR_MAX = 9, 6
"""NPS answers 9-10 are promoters, 0-6 detractors."""
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


COLLECTION_COLUMNS = ["signed", "collected", "collection_rate"]
UNDATED_BASIS = "orders.paid_amount as exported, not dated"
"""What collected cash is read from when no dated payments are given."""


def collection_position(frame: pd.DataFrame) -> pd.DataFrame:
    """What :func:`collection` reads: ``frame`` itself when it is a receivables position
    (:func:`salesplan.retro.risks.receivables_position`: ``order_date, signed, collected`` per
    order), else a cube (``month, net_amount, paid_amount``) read as one position row per cube
    row: ``order_date = month``, ``signed = net_amount``, ``collected = paid_amount``."""
    if "signed" in frame.columns:
        return frame
    out = frame.rename(columns={"month": "order_date", "net_amount": "signed", "paid_amount": "collected"})
    return out if "collected" in out.columns else out.assign(collected=np.nan)


def collection(position: pd.DataFrame, win: Window, by: str | None = None) -> pd.DataFrame:
    """Signed and collected value of the invoices of ``win``, and the collection rate.

    The one definition of collection rate: over the orders placed in the period (``order_date``
    from the first day of ``win.start`` to the last day of ``win.end``; an invoice of an earlier
    period is not counted), ``signed = sum(net value)``, ``collected = sum(cash received on them
    by the position's date)`` (a payment after it is not in the position) and
    ``collection_rate = collected / signed`` (NaN when signed <= 0, or when no row has a
    collected value). ``position``: :func:`collection_position`. One row, or one per value of
    ``by``; columns ``[by], signed, collected, collection_rate``."""
    pos = collection_position(position)
    end = win.end + pd.offsets.MonthEnd(0) + pd.Timedelta(days=1)
    dates = (
        pos["order_date"] if pd.api.types.is_datetime64_any_dtype(pos["order_date"]) else as_dates(pos["order_date"])
    )
    part = pos.loc[(dates >= win.start) & (dates < end)]
    if by is None:
        collected = part["collected"].sum(min_count=1) if len(part) else np.nan
        out = pd.DataFrame({"signed": [float(part["signed"].sum())], "collected": [float(collected)]})
    else:
        keys = part[by].astype(str)
        out = (
            part.groupby(keys)
            .agg(signed=("signed", "sum"), collected=("collected", lambda c: c.sum(min_count=1)))
            .reset_index()
        )
    return out.assign(collection_rate=collection_rate(out["collected"], out["signed"]))


def collection_value(position: pd.DataFrame, win: Window) -> float:
    """Collection rate over ``win``: cash received by the position's date on the period's
    invoices / their net value (:func:`collection`). ``position``: a receivables position, or
    the cube (its ``paid_amount``: cash as the cube carries it)."""
    return float(collection(position, win)["collection_rate"].iloc[0])


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
        dates = as_dates(dates)
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


def new_customer_count_share(customers: pd.DataFrame, win: Window, first: pd.Series | None = None) -> float:
    """New-customer share by count over ``win``: customers whose first purchase falls in the
    period (:func:`new_customer_values`) / customers with positive net purchases in the period."""
    part = _in(customers, win).groupby("customer_id")["net_amount"].sum()
    active = int((part > 0).sum())
    return safe_ratio(float(new_customer_values(customers, win, first)[1]), float(active))


def _spend_months(spend: pd.DataFrame) -> pd.DataFrame:
    return spend.assign(month=as_dates(spend["month"]).dt.to_period("M").dt.to_timestamp())


def acquisition_spend(spend: pd.DataFrame, win: Window, categories: Sequence[str]) -> float:
    """Spend of ``categories`` (``spend.category``) in the months of ``win``."""
    part = _in(_spend_months(spend), win)
    return float(part.loc[part["category"].astype(str).isin(list(categories)), "amount"].sum())


def acquisition_cost(
    spend: pd.DataFrame, customers: pd.DataFrame, win: Window, categories: Sequence[str], first: pd.Series | None = None
) -> float:
    """Customer acquisition cost over ``win``: acquisition spend (:func:`acquisition_spend`) / new
    customers (:func:`new_customer_values`); NaN without a new customer."""
    return safe_ratio(acquisition_spend(spend, win, categories), float(new_customer_values(customers, win, first)[1]))


def lifetime_value(cube: pd.DataFrame, month: str | pd.Period) -> float:
    """Customer lifetime value at ``month``: gross margin per active customer over the last 12
    months / the annual churn rate (expected lifetime = 1 / churn years).

    ``margin = sum(net - cost)`` over months ``m-11 .. m``; active = customers with positive
    net purchases in those months; ``churn = 1 - retention`` of the customers active in months
    ``m-23 .. m-12`` (:func:`salesplan.metrics.churn`). NaN without cost data, without a year
    before, or with no churn (lifetime unbounded)."""
    from salesplan.metrics import churn

    p = as_period(month)
    now = trailing_window(p, 12)
    before = trailing_window(p - 12, 12)
    part = _in(cube, now)
    if "cost_amount" not in part or part["cost_amount"].isna().all() or cube["month"].min() > before.start:
        return float("nan")
    per_now = part.groupby("customer_id", observed=True)["net_amount"].sum()
    per_before = _in(cube, before).groupby("customer_id", observed=True)["net_amount"].sum()
    rate = churn(per_before, per_now)
    active = int((per_now > 0).sum())
    margin = float(part["net_amount"].sum() - part["cost_amount"].sum())
    if not np.isfinite(rate) or rate <= 0 or active == 0:
        return float("nan")
    return margin / active / rate


def ltv_cac(
    cube: pd.DataFrame, spend: pd.DataFrame, customers: pd.DataFrame, month: str | pd.Period, categories: Sequence[str]
) -> float:
    """LTV/CAC at ``month``: :func:`lifetime_value` / the acquisition cost of the last 12 months
    (:func:`acquisition_cost` over months ``m-11 .. m``)."""
    p = as_period(month)
    return safe_ratio(lifetime_value(cube, p), acquisition_cost(spend, customers, trailing_window(p, 12), categories))


def closed_opportunities(pipeline: pd.DataFrame) -> pd.DataFrame:
    """Each closed opportunity once: its first won or lost snapshot (``opportunity_id, month`` of
    that snapshot, ``status``, and ``channel`` when the pipeline carries one)."""
    closed = pipeline.loc[pipeline["status"].isin(["won", "lost"])].sort_values("snapshot_date")
    first = closed.groupby("opportunity_id", sort=False).head(1)
    return first.assign(month=first["snapshot_date"].dt.to_period("M").dt.to_timestamp())


def channel_conversion(closed: pd.DataFrame, win: Window) -> float:
    """Channel conversion rate over ``win``: won / (won + lost) opportunities closed in the period
    (:func:`closed_opportunities`)."""
    part = _in(closed, win)
    return safe_ratio(float((part["status"] == "won").sum()), float(len(part)))


def nps_value(nps: pd.DataFrame, win: Window) -> float:
    """Net Promoter Score over ``win`` as a fraction: ``(promoters - detractors) / answers`` with
    promoters scoring 9-10 and detractors 0-6 (0.30 = NPS +30); NaN without answers."""
    part = nps.loc[win.contains(as_dates(nps["survey_date"]).dt.to_period("M").dt.to_timestamp())]
    scores = pd.to_numeric(part["score"])
    return safe_ratio(float((scores >= PROMOTER_MIN).sum() - (scores <= DETRACTOR_MAX).sum()), float(len(scores)))


def signed_vs_collected(position: pd.DataFrame | None, month: str | pd.Period, reps: pd.DataFrame) -> pd.DataFrame:
    """Contract (signed) value and cash collected on the year's orders to date, per region and rep.

    ``position``: :func:`salesplan.retro.risks.receivables_position` at the month's end.
    Each row is :func:`collection` over the year to date: ``signed`` = net value of the orders
    placed in the year to date; ``collected`` = cash received on them by the month's end;
    ``collection_rate = collected / signed`` (the KPI table's year-to-date collection rate is
    the total row's); ``gap = signed - collected``. Columns ``level, item, signed, collected,
    gap, collection_rate`` (level total, region, rep); empty when the data has no payments."""
    columns = ["level", "item", "signed", "collected", "gap", "collection_rate"]
    if position is None:
        return pd.DataFrame(columns=columns)
    ytd = window(as_period(month), "ytd")
    names = reps.assign(rep_id=reps["rep_id"].astype(str)).drop_duplicates("rep_id").set_index("rep_id")["rep_name"]
    region = collection(position, ytd, "region")
    rep = collection(position, ytd, "rep_id")
    out = pd.concat(
        [
            collection(position, ytd).assign(level="total", item="total"),
            region.assign(level="region", item=region["region"]),
            rep.assign(level="rep", item=rep["rep_id"].map(names).fillna("?") + " (" + rep["rep_id"] + ")"),
        ],
        ignore_index=True,
    ).assign(collected=lambda d: d["collected"].fillna(0.0))
    return out.assign(gap=out["signed"] - out["collected"])[columns]


def pipeline_coverage(
    pipeline: pd.DataFrame | None,
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    month: str | pd.Period,
    settings: PipelineSettings | None,
) -> dict[str, Any]:
    """Pipeline coverage of the remaining annual target at the end of ``month``.

    From the latest pipeline snapshot on or before the month's last day, with the forecast
    library's historical win rate per stage (:func:`salesplan.forecast.pipeline.stage_win_rates`;
    stages with fewer than ``settings.min_closed`` closed opportunities fall back to the probability
    column or the configured ``settings.stage_probability``; ``settings``: ``forecast.pipeline``,
    needed when there is a pipeline) and its weighted pipeline by close month
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
    if settings is None:
        raise ValueError("pipeline coverage: a pipeline needs the forecast.pipeline settings")
    month_end = p.to_timestamp(how="end").normalize()
    rates = stage_win_rates(pipeline, settings.stage_probability, settings.min_closed, as_of=month_end)
    by_month = weighted_pipeline(pipeline, rates, month_end)
    this_year = by_month.loc[as_dates(by_month["month"]).dt.year == p.year]
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
    goals: KpiSettings,
    thresholds: Mapping[str, float],
    orders: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
    pipeline: pd.DataFrame | None = None,
    pipeline_settings: PipelineSettings | None = None,
    *,
    spend: pd.DataFrame | None = None,
    nps: pd.DataFrame | None = None,
    win_rate_goal: float | None = None,
    sku_sales: pd.DataFrame | None = None,
    position: pd.DataFrame | None = None,
    collection_basis: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The method's core KPIs and two extras for ``month``: a table and the monthly trend values.

    ``goals`` is the ``kpi`` settings section: ``attainment_goal``, ``gross_margin_goal``,
    ``collection_goal``, ``cac_goal`` (None: the same months last year),
    ``acquisition_spend_categories``, ``ltv_cac_goal``, ``repeat_purchase_goal``,
    ``channel_conversion_goal`` (None: ``win_rate_goal``, the win rate behind the plan year's
    process targets), ``new_customer_count_share_goal``, ``new_customer_sales_share_goal``,
    ``high_end_share_goal``, ``nps_goal``, ``aov_growth_goal`` (vs the same months last year),
    ``trend_months`` and ``repeat_window_months``. Status compares the year-to-date value
    (pipeline coverage and LTV/CAC: the month-end value) with the goal using the flag thresholds
    (:func:`salesplan.retro.flags.classify_deviation`: relative shortfall 5 / 10 / 15 %); for
    CAC (lower is better) ``goal / value`` is compared instead.

    ``pipeline_settings`` (``forecast.pipeline``: stage probabilities, ``min_closed``) is needed
    with a ``pipeline``, for its coverage.

    Optional data: ``orders`` (average order value, high-margin products: the order lines, or
    the ``order_totals`` aggregate for the first with ``sku_sales``, the aggregates'
    :meth:`~salesplan.aggregates.Aggregates.sku_lines`, for the second), ``pipeline`` (channel
    conversion, coverage), ``spend`` (CAC, LTV/CAC), ``nps``. A KPI whose value cannot be
    computed has status ``no_data`` and its note names the table that would provide it.

    ``plan`` may also hold earlier years: they feed the attainment trend.

    Collection rate is :func:`collection` (``collected / signed`` on the invoices of the month,
    of the year to date and of each trend month, cash received by the end of ``month``) over
    ``position``, the receivables position at the month's end
    (:func:`salesplan.retro.risks.receivables_position`, the one :func:`signed_vs_collected`
    reads, so the two agree), its basis stated by ``collection_basis``; without ``position``,
    over the cube's ``paid_amount``, said in the note to be as exported, not dated (unless the
    cube's ``attrs["paid_basis"]`` states its basis, as the month context's does).

    Returns ``(table, trend)``: table columns :data:`KPI_COLUMNS`; trend is long
    ``kpi, month, value`` over the last ``trend_months`` months.
    """
    p = as_period(month)
    n = goals.trend_months
    repeat_months = goals.repeat_window_months
    categories = list(goals.acquisition_spend_categories)
    ytd, mon = window(p, "ytd"), window(p, "month")
    last_year_ytd = Window("ly", "", ytd.start - pd.DateOffset(years=1), ytd.end - pd.DateOffset(years=1))
    wins = month_windows(p, n)
    plan_m = plan_months(plan)
    high_end, high_end_basis = high_end_monthly(cube, orders if sku_sales is None else sku_sales, products)
    customers = customer_months(cube)
    # First purchases over all history up to the month: a later month cannot change them.
    first = first_purchase(customers.loc[customers["month"] <= mon.end], date="month")

    rows: list[dict[str, Any]] = []
    trend: list[pd.DataFrame] = []

    def add(kpi, unit, goal, mval, yval, series, definition, note="", group="core", better="higher"):
        rows.append(
            {
                "kpi": kpi,
                "group": group,
                "unit": unit,
                "better": better,
                "goal": float(goal) if goal is not None else np.nan,
                "month_value": mval,
                "ytd_value": yval,
                "trend": sparkline(series),
                "definition": definition,
                "note": note,
            }
        )
        trend.append(pd.DataFrame({"kpi": kpi, "month": [w.start for w in wins], "value": series}))

    def over(measure):
        """A measure over this month, the year to date and each month of the trend."""
        return measure(mon), measure(ytd), [measure(w) for w in wins]

    nan_series = [np.nan] * n
    add(
        "Sales attainment",
        "pct",
        goals.attainment_goal,
        *over(lambda w: attainment_value(cube, plan_m, w)),
        "net sales / target",
    )
    add(
        "Gross margin",
        "pct",
        goals.gross_margin_goal,
        *over(lambda w: gross_margin_value(cube, w)),
        "(net sales - cost) / net sales",
        "" if np.isfinite(gross_margin_value(cube, ytd)) else "needs column orders.cost_amount",
    )
    if position is None:
        cash, basis = cube, cube.attrs.get("paid_basis", UNDATED_BASIS)
    else:
        cash, basis = position, collection_basis or f"payments dated up to {mon.end + pd.offsets.MonthEnd(0):%Y-%m-%d}"
    add(
        "Collection rate",
        "pct",
        goals.collection_goal,
        *over(lambda w: collection_value(cash, w)),
        f"cash received by {p}'s end on the period's invoices / their net value",
        f"collected: {basis}; recent months are still being collected"
        if np.isfinite(collection_value(cash, ytd))
        else "needs table receivables (order_id, paid_date, paid_amount) or column orders.paid_amount",
    )
    if spend is not None and len(spend):
        cac_goal = goals.cac_goal
        goal_note = "goal: kpi.cac_goal"
        if cac_goal is None:
            cac_goal = acquisition_cost(spend, customers, last_year_ytd, categories)
            goal_note = "goal: the same months last year"
        add(
            "Customer acquisition cost",
            "money",
            cac_goal,
            *over(lambda w: acquisition_cost(spend, customers, w, categories, first)),
            f"spend on {', '.join(categories)} / new customers",
            goal_note,
            better="lower",
        )
        add(
            "LTV/CAC",
            "x",
            goals.ltv_cac_goal,
            ltv_cac(cube, spend, customers, p, categories),
            ltv_cac(cube, spend, customers, p, categories),
            [ltv_cac(cube, spend, customers, w.start.to_period("M"), categories) for w in wins],
            "LTV (12-month gross margin per active customer / annual churn) / CAC of the last 12 months",
            "month-end value, 12 months on 12"
            if np.isfinite(lifetime_value(cube, p))
            else "needs 24 months of orders with column orders.cost_amount",
        )
    else:
        add("Customer acquisition cost", "money", goals.cac_goal, np.nan, np.nan, nan_series,
            "acquisition spend / new customers", needs("spend"), better="lower")  # fmt: skip
        add("LTV/CAC", "x", goals.ltv_cac_goal, np.nan, np.nan, nan_series,
            "customer lifetime value / acquisition cost", needs("spend"))  # fmt: skip
    add(
        "Repeat-purchase rate",
        "pct",
        goals.repeat_purchase_goal,
        repeat_purchase_value(customers, trailing_window(p, repeat_months)),
        repeat_purchase_value(customers, ytd),
        [repeat_purchase_value(customers, trailing_window(w.start.to_period("M"), repeat_months)) for w in wins],
        f"customers buying in 2+ months / customers buying (month column and trend: last {repeat_months} months)",
    )
    conversion_goal = goals.channel_conversion_goal
    if conversion_goal is None:
        conversion_goal = win_rate_goal
    if pipeline is not None and len(pipeline):
        closed = closed_opportunities(pipeline)
        by_channel = ""
        if "channel" in closed.columns:
            part = _in(closed, ytd)
            rates = part.groupby(part["channel"].astype(str))["status"].apply(lambda s: float((s == "won").mean()))
            by_channel = "; by channel: " + ", ".join(f"{c} {r:.0%}" for c, r in rates.items())
        add(
            "Channel conversion rate",
            "pct",
            conversion_goal,
            *over(lambda w: channel_conversion(closed, w)),
            "won / closed opportunities (won + lost)",
            ("goal: kpi.channel_conversion_goal" if goals.channel_conversion_goal is not None
             else "goal: the win rate behind the plan year's process targets") + by_channel,
        )  # fmt: skip
    else:
        add("Channel conversion rate", "pct", conversion_goal, np.nan, np.nan, nan_series,
            "won / closed opportunities", needs("pipeline"))  # fmt: skip
    m_share, m_count = new_customer_values(customers, mon, first)
    y_share, y_count = new_customer_values(customers, ytd, first)
    add(
        "New-customer share",
        "pct",
        goals.new_customer_count_share_goal,
        *over(lambda w: new_customer_count_share(customers, w, first)),
        "customers whose first purchase falls in the period / customers buying in the period (by count)",
        f"{m_count} new customer(s) this month, {y_count} this year",
    )
    add(
        "New-customer sales share",
        "pct",
        goals.new_customer_sales_share_goal,
        m_share,
        y_share,
        [new_customer_values(customers, w, first)[0] for w in wins],
        "net sales of customers whose first purchase falls in the period / net sales",
    )
    add(
        "High-end share",
        "pct",
        goals.high_end_share_goal,
        *over(lambda w: high_end_share_value(cube, high_end, w)),
        f"net sales of {high_end_basis} / net sales",
    )
    if nps is not None and len(nps):
        add(
            "NPS",
            "pct",
            goals.nps_goal,
            *over(lambda w: nps_value(nps, w)),
            "% promoters (9-10) - % detractors (0-6) of the survey answers, in points (30 % = +30)",
            f"{int(_in(nps.assign(month=as_dates(nps['survey_date']).dt.to_period('M').dt.to_timestamp()), ytd).shape[0])} answer(s) this year",
        )
    else:
        add("NPS", "pct", goals.nps_goal, np.nan, np.nan, nan_series,
            "% promoters - % detractors", needs("nps"))  # fmt: skip
    cov = pipeline_coverage(pipeline, cube, plan_m, p, pipeline_settings)
    cov_series = [
        pipeline_coverage(pipeline, cube, plan_m, w.start.to_period("M"), pipeline_settings)["coverage"] for w in wins
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
            f"expected to close at historical stage win rates: {fmt_money(cov['expected_amount'], 'M')} "
            f"= {fmt_pct(cov['expected_coverage'], 0)} of the remaining target"
            if np.isfinite(cov["required_coverage"]) and np.isfinite(cov["expected_coverage"])
            else "no pipeline data, the target is already reached, or December"
        ),
        group="extra",
    )
    if orders is not None and {"order_id", "order_date", "net_amount"} <= set(orders.columns):
        totals = order_totals(orders)
        aov_goal = average_order_value(totals, last_year_ytd) * (1.0 + goals.aov_growth_goal)
        add(
            "Average order value",
            "money",
            aov_goal,
            *over(lambda w: average_order_value(totals, w)),
            "net sales / orders; goal = same months last year x (1 + aov_growth_goal)",
            group="extra",
        )
    else:
        add("Average order value", "money", np.nan, np.nan, np.nan, nan_series, "net sales / orders",
            needs("orders"), group="extra")  # fmt: skip
    table = pd.DataFrame(rows)
    lower = table["better"] == "lower"
    actual = table["ytd_value"].where(~lower, table["goal"])
    target = table["goal"].where(~lower, table["ytd_value"])
    table["status"] = classify_deviation(actual, target, thresholds)
    table.loc[table["ytd_value"].isna() & table["goal"].notna(), "status"] = "no_data"
    table.loc[table["note"].str.startswith("needs "), "status"] = "no_data"
    trend_frame = pd.concat(trend, ignore_index=True)
    return table[KPI_COLUMNS], trend_frame


def format_kpi_table(table: pd.DataFrame, unit: str = "K") -> pd.DataFrame:
    """The KPI table for display: goal and values formatted by each KPI's unit (percent,
    times, money in ``unit``), status with its symbol; extras are marked "(extra)"."""

    def fmt(value: float, kind: str) -> str:
        if kind == "pct":
            return fmt_pct(value)
        if kind == "money":
            return fmt_money(value, unit, decimals=1)
        return "–" if is_missing(value) or not np.isfinite(value) else f"{value:.2f}x"

    out = pd.DataFrame(
        {
            "KPI": table["kpi"] + np.where(table["group"] == "extra", " (extra)", ""),
            "Better": table["better"],
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
