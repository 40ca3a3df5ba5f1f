"""The workbook's formulas, each in one place.

Every function is pure: DataFrames, Series or numbers in, the same out; no files, no
configuration (thresholds and settings come in as arguments). The review, targets,
forecast and retrospective notebooks all call these, so a figure means the same thing
wherever it appears.

Conventions shared by all functions:

* A ratio whose base is zero, negative or missing is NaN, never infinity: growth from
  nothing or attainment of a zero target is "not a number", and callers flag it.
* "Active" customer in a period = positive net purchases in that period (a customer whose
  returns exceed their purchases is not active).
* Inputs with missing columns raise :class:`MetricInputError` naming the function, the
  column and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesplan.dates import as_dates

TIERS: tuple[str, ...] = ("A", "B", "C", "D")
ATTAINMENT_BANDS: tuple[str, ...] = (">= 100 %", "80-100 %", "< 80 %", "no target")
RFM_SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Promising",
    "Needs attention",
    "At risk",
    "Hibernating",
)


class MetricInputError(ValueError):
    """Input to a metric is unusable: a column is missing or a value breaks the function's rule."""


# --------------------------------------------------------------------------------------
# helpers


def _require_columns(df: pd.DataFrame, columns: Iterable[str], where: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise MetricInputError(f"{where}: expected a DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MetricInputError(
            f"{where}: missing column(s) {', '.join(missing)}; available: {', '.join(map(str, df.columns))}"
        )


def _plain_index(obj: Any) -> Any:
    """The object with a categorical index turned into plain labels, so indexes from
    different frames (different category sets) union and reindex as labels do."""
    if isinstance(obj, pd.Series | pd.DataFrame):
        if isinstance(obj.index, pd.CategoricalIndex):
            obj = obj.set_axis(obj.index.astype(obj.index.categories.dtype))
        elif isinstance(obj.index, pd.MultiIndex) and any(
            isinstance(level, pd.CategoricalIndex) for level in obj.index.levels
        ):
            levels = [
                level.astype(level.categories.dtype) if isinstance(level, pd.CategoricalIndex) else level
                for level in obj.index.levels
            ]
            obj = obj.set_axis(obj.index.set_levels(levels))
    return obj


def _is_scalar(x: Any) -> bool:
    return np.ndim(x) == 0 and not isinstance(x, pd.Series | pd.DataFrame)


def safe_ratio(numerator: Any, denominator: Any) -> Any:
    """``numerator / denominator`` where the denominator is > 0; NaN where it is <= 0 or NaN.

    Works elementwise on scalars, numpy arrays and Series (Series align on their index).
    Scalars in give a float out.
    """
    if _is_scalar(numerator) and _is_scalar(denominator):
        num = np.nan if numerator is None else float(numerator)
        den = np.nan if denominator is None else float(denominator)
        if not den > 0:  # also catches NaN
            return np.nan
        return num / den
    if isinstance(denominator, pd.Series):
        den = denominator.astype(float).where(denominator.astype(float) > 0)
    else:
        den_arr = np.asarray(denominator, dtype=float)
        with np.errstate(invalid="ignore"):
            den = np.where(den_arr > 0, den_arr, np.nan)
        if den.ndim == 0:
            den = float(den)
    num = numerator.astype(float) if isinstance(numerator, pd.Series) else numerator
    return num / den


# --------------------------------------------------------------------------------------
# growth


def yoy(current: Any, previous: Any) -> Any:
    """Year-over-year growth: ``current / previous - 1``.

    Elementwise on scalars or Series (aligned on the index). NaN where ``previous`` is
    <= 0 or NaN: growth from a zero or negative base is undefined, not infinite.
    """
    return safe_ratio(current, previous) - 1


def cagr(first: float, last: float, years: float) -> float:
    """Compound annual growth rate: ``(last / first) ** (1 / years) - 1``.

    NaN if ``first`` <= 0, ``last`` < 0, ``years`` <= 0 or any input is NaN.
    ``years`` is the number of yearly steps (three annual values span two years).
    """
    values = [np.nan if v is None else float(v) for v in (first, last, years)]
    first_f, last_f, years_f = values
    if any(math.isnan(v) for v in values) or first_f <= 0 or last_f < 0 or years_f <= 0:
        return float("nan")
    return float((last_f / first_f) ** (1.0 / years_f) - 1.0)


def contribution_to_growth(current: pd.Series, previous: pd.Series) -> pd.DataFrame:
    """Each group's contribution to total growth.

    For group ``i`` (union of both indexes; a group missing in a year counts as 0):

    * ``change_i = current_i - previous_i``
    * ``yoy_i = current_i / previous_i - 1`` (NaN where previous_i <= 0)
    * ``contribution_i = change_i / sum(previous)``, so ``sum(contribution) =
      sum(current) / sum(previous) - 1`` = the total growth rate (NaN if the total base <= 0)
    * ``share_of_change_i = change_i / sum(change)`` (sums to 1; NaN if the total change is 0)
    * ``status``: ``new`` (only in current), ``lost`` (only in previous) or ``continuing``.

    Rows are sorted by change, largest increase first.
    """
    if not isinstance(current, pd.Series) or not isinstance(previous, pd.Series):
        raise MetricInputError("contribution_to_growth: current and previous must be Series indexed by the group key")
    # Repeated keys are summed, so a caller may pass unaggregated rows.
    cur = _plain_index(current).groupby(level=list(range(current.index.nlevels)), observed=True).sum()
    prev = _plain_index(previous).groupby(level=list(range(previous.index.nlevels)), observed=True).sum()
    index = cur.index.union(prev.index)
    status = pd.Series("continuing", index=index, dtype=object)
    status[~index.isin(prev.index)] = "new"
    status[~index.isin(cur.index)] = "lost"
    cur = cur.reindex(index).fillna(0.0).astype(float)
    prev = prev.reindex(index).fillna(0.0).astype(float)
    change = cur - prev
    total_prev = float(prev.sum())
    total_change = float(change.sum())
    out = pd.DataFrame(
        {
            "previous": prev,
            "current": cur,
            "change": change,
            "yoy": yoy(cur, prev),
            "contribution": change / total_prev if total_prev > 0 else np.nan,
            "share_of_change": change / total_change if total_change != 0 else np.nan,
            "status": status,
        },
        index=index,
    )
    return out.sort_values("change", ascending=False, kind="stable")


def share(values: pd.Series) -> pd.Series:
    """Share of total: ``value_i / sum(values)``; NaN everywhere if the total is <= 0."""
    total = float(values.sum())
    if not total > 0:
        return pd.Series(np.nan, index=values.index, dtype=float)
    return values.astype(float) / total


# --------------------------------------------------------------------------------------
# ratios against a base


def attainment(actual: Any, target: Any) -> Any:
    """Attainment: ``actual / target``, elementwise on scalars or Series.

    NaN where the target is 0, negative or NaN: there is nothing to attain, and the ratio
    must never be infinite. Use :func:`attainment_frame` to get the flag alongside.
    """
    return safe_ratio(actual, target)


def attainment_frame(df: pd.DataFrame, actual: str = "net_amount", target: str = "target_amount") -> pd.DataFrame:
    """``df`` with two columns added: ``attainment`` (= actual / target, see :func:`attainment`)
    and ``attainment_flag``: ``"no target"`` where the target is 0 or missing,
    ``"negative target"`` where it is below 0, ``"ok"`` otherwise.
    """
    _require_columns(df, [actual, target], "attainment_frame")
    tgt = pd.to_numeric(df[target], errors="coerce")
    flag = np.select([tgt.isna() | (tgt == 0), tgt < 0], ["no target", "negative target"], default="ok")
    return df.assign(attainment=attainment(pd.to_numeric(df[actual], errors="coerce"), tgt), attainment_flag=flag)


def attainment_band_labels(low: float = 0.8, high: float = 1.0) -> tuple[str, str, str, str]:
    """Labels of the attainment bands for the bounds ``low`` < ``high``, best first:
    (">= 100 %", "80-100 %", "< 80 %", "no target") for the defaults."""
    if not low < high:
        raise MetricInputError(f"attainment bands: the lower bound {low!r} must be below the upper bound {high!r}")
    lo, hi = f"{low * 100:g}", f"{high * 100:g}"
    return (f">= {hi} %", f"{lo}-{hi} %", f"< {lo} %", "no target")


def attainment_band(att: pd.Series, low: float = 0.8, high: float = 1.0) -> pd.Series:
    """Band of each attainment value: ``">= 100 %"`` (att >= high), ``"80-100 %"``
    (low <= att < high), ``"< 80 %"`` (att < low), ``"no target"`` (NaN); labels from
    :func:`attainment_band_labels` (:data:`ATTAINMENT_BANDS` for the default bounds).
    """
    names = attainment_band_labels(low, high)
    att = att.astype(float)
    labels = np.select(
        [att.isna(), att >= high, att >= low],
        [names[3], names[0], names[1]],
        default=names[2],
    )
    return pd.Series(labels, index=att.index, name="band")


def gross_margin(net: Any, cost: Any) -> Any:
    """Gross margin rate: ``(net - cost) / net``; NaN where net sales are <= 0 or cost is missing."""
    return safe_ratio(net - cost, net)


def collection_rate(paid: Any, invoiced: Any) -> Any:
    """Collection rate: ``paid / invoiced`` (cash received over net invoiced); NaN where invoiced <= 0."""
    return safe_ratio(paid, invoiced)


# --------------------------------------------------------------------------------------
# time


def seasonality_index(
    monthly: pd.DataFrame,
    value: str = "net_amount",
    month_col: str = "month",
    by: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Seasonality index per month of the year, with its stability across years.

    Only complete calendar years are used (January to December inside the data's span;
    a month without rows inside the span counts as 0). Rows for the same month are summed.
    For each complete year ``y`` with a positive monthly mean ``mean_y``:

        ratio[y, m] = value[y, m] / mean_y          (month value / that year's monthly mean)
        index[m]    = mean over years of ratio[y, m]
        std[m]      = standard deviation of ratio[y, m] across years (ddof=0)
        cv[m]       = std[m] / index[m]

    This is "month mean / overall mean" computed within each year, so growth between
    years does not leak into the index; the 12 indices average exactly to 1.
    ``years`` is the number of years used. With ``by`` the index is computed per group.

    Raises :class:`MetricInputError` when there is no complete year with positive sales.
    """
    by = list(by or [])
    _require_columns(monthly, [month_col, value, *by], "seasonality_index")
    if by:
        parts = []
        for key, group in monthly.groupby(by, sort=True, observed=True):
            key = key if isinstance(key, tuple) else (key,)
            idx = seasonality_index(group, value=value, month_col=month_col)
            parts.append(idx.assign(**dict(zip(by, key, strict=True)))[[*by, *idx.columns]])
        return pd.concat(parts, ignore_index=True)

    months = as_dates(monthly[month_col]).dt.to_period("M")
    series = pd.to_numeric(monthly[value], errors="coerce").fillna(0.0).groupby(months, observed=True).sum()
    if series.empty:
        raise MetricInputError("seasonality_index: no rows to compute a seasonality index from")
    full = series.reindex(pd.period_range(series.index.min(), series.index.max(), freq="M"), fill_value=0.0)
    frame = pd.DataFrame({"year": full.index.year, "month_of_year": full.index.month, "value": full.to_numpy()})
    counts = frame.groupby("year", observed=True)["month_of_year"].nunique()
    means = frame.groupby("year", observed=True)["value"].mean()
    years = counts.index[(counts == 12) & (means > 0)]
    if len(years) == 0:
        raise MetricInputError(
            f"seasonality_index: needs at least one complete calendar year (Jan-Dec) with positive {value}; "
            f"data covers {full.index.min()} to {full.index.max()}"
        )
    used = frame[frame["year"].isin(years)]
    ratio = used["value"] / used["year"].map(means)
    stats = ratio.groupby(used["month_of_year"], observed=True).agg(["mean", lambda s: s.std(ddof=0), "count"])
    stats.columns = ["index", "std", "years"]
    mean_value = used.groupby("month_of_year", observed=True)["value"].mean()
    return (
        stats.assign(cv=lambda d: safe_ratio(d["std"], d["index"]), mean_value=mean_value)
        .reset_index()[["month_of_year", "index", "std", "cv", "years", "mean_value"]]
        .astype({"years": int})
    )


def quarterly_shares(monthly: pd.DataFrame, value: str = "net_amount", month_col: str = "month") -> pd.DataFrame:
    """Share of each quarter in its year: ``sum(value in quarter) / sum(value in year)``.

    One row per year and quarter (columns ``year, quarter, value, share``); shares of a
    year sum to 1 (NaN if the year's total is <= 0). Partial years are kept; their shares
    describe the months present.
    """
    _require_columns(monthly, [month_col, value], "quarterly_shares")
    m = as_dates(monthly[month_col])
    q = (
        pd.DataFrame({"year": m.dt.year, "quarter": m.dt.quarter, "value": pd.to_numeric(monthly[value])})
        .groupby(["year", "quarter"], as_index=False, observed=True)["value"]
        .sum()
    )
    totals = q.groupby("year", observed=True)["value"].transform("sum")
    return q.assign(share=safe_ratio(q["value"], totals))


# --------------------------------------------------------------------------------------
# customers


def customer_tiers(annual_sales: pd.Series, thresholds: Mapping[str, float]) -> pd.Series:
    """Customer tier from a year's net purchases, with ``thresholds = {"A": a, "B": b, "C": c}``
    and a > b > c:

    * ``A``: sales > a
    * ``B``: b < sales <= a
    * ``C``: c < sales <= b
    * ``D``: sales <= c (including zero and negative net purchases)

    With the defaults (10 M / 5 M / 0.5 M) exactly 10 M is B and exactly 0.5 M is D.
    Returns a Series of strings named ``tier`` with the input's index.
    """
    missing = [k for k in ("A", "B", "C") if k not in thresholds]
    if missing:
        raise MetricInputError(f"customer_tiers: thresholds lack key(s) {', '.join(missing)}; expected A, B and C")
    try:
        a, b, c = (float(thresholds[k]) for k in ("A", "B", "C"))
    except (TypeError, ValueError):
        raise MetricInputError(f"customer_tiers: thresholds must be numbers, got {dict(thresholds)!r}") from None
    if not a > b > c:
        raise MetricInputError(f"customer_tiers: thresholds must satisfy A > B > C, got A={a:g}, B={b:g}, C={c:g}")
    sales = pd.to_numeric(annual_sales, errors="coerce")
    if sales.isna().any():
        bad = list(sales.index[sales.isna()][:5])
        raise MetricInputError(f"customer_tiers: annual sales missing or not numeric for {bad}")
    tiers = np.select([sales > a, sales > b, sales > c], ["A", "B", "C"], default="D")
    return pd.Series(tiers, index=annual_sales.index, name="tier", dtype=object)


def tier_summary(annual_sales: pd.Series, tiers: pd.Series) -> pd.DataFrame:
    """Per tier A-D (all four, even if empty): ``customers``, ``net_amount`` (sum), ``share``
    of total sales (sums to 1 when total > 0) and ``customer_share``."""
    frame = pd.DataFrame({"net_amount": annual_sales.astype(float), "tier": tiers})
    out = (
        frame.groupby("tier", observed=True)
        .agg(customers=("net_amount", "size"), net_amount=("net_amount", "sum"))
        .reindex(list(TIERS))
        .fillna({"customers": 0, "net_amount": 0.0})
        .astype({"customers": int})
    )
    return out.assign(share=share(out["net_amount"]), customer_share=share(out["customers"]))


def first_purchase(
    transactions: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "net_amount",
) -> pd.Series:
    """Date of each customer's first purchase: the earliest ``date`` whose summed ``amount``
    for that customer is positive (a return alone is not a purchase)."""
    _require_columns(transactions, [customer, date, amount], "first_purchase")
    per_date = transactions.groupby([customer, as_dates(transactions[date]).rename("_d")], observed=True)[amount].sum()
    positive = per_date[per_date > 0].reset_index()
    return _plain_index(positive.groupby(customer, observed=True)["_d"].min().rename("first_purchase"))


def new_vs_returning(
    transactions: pd.DataFrame,
    start: Any,
    end: Any,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "net_amount",
) -> pd.DataFrame:
    """Split the period ``start <= date <= end`` into new and returning customers.

    New = first purchase (see :func:`first_purchase`, over all of ``transactions``) falls
    inside the period; returning = bought before ``start``. Customers with no purchase in
    the data (only returns) count as returning. Rows ``new``, ``returning`` with
    ``customers`` (active in the period), ``net_amount`` and ``share`` of the period's sales.
    A customer first seen in December is new in that year.
    """
    _require_columns(transactions, [customer, date, amount], "new_vs_returning")
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    first = first_purchase(transactions, customer, date, amount)
    dates = as_dates(transactions[date])
    period = transactions[(dates >= start_ts) & (dates <= end_ts)]
    sales = period.groupby(customer, observed=True)[amount].sum()
    is_new = sales.index.map(first).to_series(index=sales.index).between(start_ts, end_ts)
    kind = np.where(is_new, "new", "returning")
    out = (
        pd.DataFrame({"net_amount": sales, "active": sales > 0, "kind": kind})
        .groupby("kind", observed=True)
        .agg(customers=("active", "sum"), net_amount=("net_amount", "sum"))
        .reindex(["new", "returning"])
        .fillna({"customers": 0, "net_amount": 0.0})
        .astype({"customers": int})
    )
    return out.assign(share=share(out["net_amount"]))


def active_customers(sales: pd.Series) -> pd.Index:
    """Customers (index labels) with positive net sales."""
    sales = _plain_index(sales)
    return sales.index[sales.astype(float) > 0]


def retention(previous: pd.Series, current: pd.Series) -> float:
    """Customer retention: ``|active(prev) & active(cur)| / |active(prev)|``.

    ``previous`` and ``current`` are net sales per customer in two periods; active means
    positive net sales. NaN when no customer was active in the previous period.
    """
    prev, cur = active_customers(previous), active_customers(current)
    if len(prev) == 0:
        return float("nan")
    return float(len(prev.intersection(cur)) / len(prev))


def churn(previous: pd.Series, current: pd.Series) -> float:
    """Customer churn: ``1 - retention`` = share of the previous period's active customers
    with no positive net purchases in the current period. NaN when there is no base."""
    return 1.0 - retention(previous, current)


def net_revenue_retention(previous: pd.Series, current: pd.Series) -> float:
    """Net revenue retention: ``sum(current sales of customers active in previous) /
    sum(previous sales of those customers)``.

    Includes expansion, contraction and churn of the existing base; excludes new
    customers. NaN when the base's previous sales are <= 0.
    """
    previous, current = _plain_index(previous), _plain_index(current)
    base = active_customers(previous)
    prev_total = float(previous.reindex(base).sum())
    cur_total = float(current.reindex(base).fillna(0.0).sum())
    return safe_ratio(cur_total, prev_total)


def retention_table(previous: pd.Series, current: pd.Series, groups: pd.Series | None = None) -> pd.DataFrame:
    """Retention, churn and net revenue retention per group of the previous period's customers.

    ``groups`` maps customer -> group (e.g. the previous year's tier); customers not in it
    fall in group ``"other"``. Per group: ``customers_previous`` (active in previous),
    ``retained``, ``churned``, ``retention``, ``churn``, ``previous_revenue``,
    ``retained_revenue`` (current sales of the group's previous customers) and ``nrr``
    (= retained_revenue / previous_revenue); formulas as in :func:`retention`,
    :func:`churn` and :func:`net_revenue_retention`. A ``total`` row is appended.
    """
    previous, current = _plain_index(previous), _plain_index(current)
    groups = _plain_index(groups)
    base = active_customers(previous)
    cur_active = set(active_customers(current))
    frame = pd.DataFrame(
        {
            "group": (groups.reindex(base).fillna("other") if groups is not None else pd.Series("all", index=base)),
            "retained": [c in cur_active for c in base],
            "previous_revenue": previous.reindex(base).astype(float).to_numpy(),
            "retained_revenue": current.reindex(base).fillna(0.0).astype(float).to_numpy(),
        },
        index=base,
    )

    def summarise(df: pd.DataFrame) -> dict[str, float]:
        n = len(df)
        kept = int(df["retained"].sum())
        return {
            "customers_previous": n,
            "retained": kept,
            "churned": n - kept,
            "retention": kept / n if n else np.nan,
            "churn": (n - kept) / n if n else np.nan,
            "previous_revenue": float(df["previous_revenue"].sum()),
            "retained_revenue": float(df["retained_revenue"].sum()),
            "nrr": safe_ratio(float(df["retained_revenue"].sum()), float(df["previous_revenue"].sum())),
        }

    rows = {g: summarise(df) for g, df in frame.groupby("group", sort=True, observed=True)}
    rows["total"] = summarise(frame)
    return pd.DataFrame.from_dict(rows, orient="index").astype(
        {"customers_previous": int, "retained": int, "churned": int}
    )


def repeat_purchase_rate(
    transactions: pd.DataFrame,
    customer: str = "customer_id",
    occasion: str = "order_id",
    amount: str = "net_amount",
) -> float:
    """Repeat-purchase rate: ``customers with >= 2 purchase occasions / customers with >= 1``.

    An occasion is a distinct value of ``occasion`` (an order, or a month when computed
    from monthly facts) whose summed ``amount`` for the customer is positive; returns are
    not purchases. The caller restricts ``transactions`` to the period. A customer first
    seen late in the period has less time to repeat, which pulls the rate down. NaN if
    nobody purchased.
    """
    _require_columns(transactions, [customer, occasion, amount], "repeat_purchase_rate")
    per = transactions.groupby([customer, occasion], observed=True)[amount].sum()
    counts = per[per > 0].groupby(level=0, observed=True).size()
    if counts.empty:
        return float("nan")
    return float((counts >= 2).sum() / len(counts))


def pareto_share(values: pd.Series, top_shares: Sequence[float] = (0.1, 0.2)) -> pd.Series:
    """Concentration: share of the total held by the top ``p`` of items (e.g. customers).

    For each ``p``: ``k = ceil(p * n)`` largest values, ``share = sum(top k) / sum(all)``.
    Indexed by ``p``. NaN when there are no values or the total is <= 0 (customers with
    net returns stay in the total, so shares can exceed 1 only if such customers exist).
    """
    v = pd.to_numeric(values, errors="coerce").dropna().sort_values(ascending=False).to_numpy()
    total = float(v.sum()) if len(v) else 0.0
    out = {}
    for p in top_shares:
        if not 0 < float(p) <= 1:
            raise MetricInputError(f"pareto_share: top share must be in (0, 1], got {p!r}")
        k = math.ceil(float(p) * len(v) - 1e-9)
        out[float(p)] = float(v[:k].sum() / total) if total > 0 else np.nan
    return pd.Series(out, name="share_of_total", dtype=float).rename_axis("top_share")


def pareto_curve(values: pd.Series) -> pd.DataFrame:
    """Cumulative concentration curve: items sorted by value, largest first, with
    ``item_share`` = rank / n and ``cum_share`` = running sum / total (NaN if total <= 0)."""
    v = pd.to_numeric(values, errors="coerce").dropna().sort_values(ascending=False, kind="stable")
    n = len(v)
    total = float(v.sum())
    return pd.DataFrame(
        {
            "item": v.index,
            "value": v.to_numpy(),
            "item_share": np.arange(1, n + 1) / n if n else [],
            "cum_share": v.cumsum().to_numpy() / total if total > 0 else np.nan,
        }
    )


def _score(values: pd.Series, bins: int, higher_is_better: bool = True) -> pd.Series:
    """Quantile score 1..bins: ``ceil(pct_rank * bins)`` (ties share the average rank)."""
    ranked = values.rank(method="average", pct=True, ascending=higher_is_better)
    return np.ceil(ranked * bins).clip(1, bins).fillna(1).astype(int)


def rfm(
    transactions: pd.DataFrame,
    as_of: Any,
    customer: str = "customer_id",
    date: str = "order_date",
    amount: str = "net_amount",
    occasion: str | None = "order_id",
    bins: int = 5,
) -> pd.DataFrame:
    """Recency, frequency and monetary scores per customer.

    Over the rows with ``date <= as_of`` (the caller chooses the window's start):

    * ``recency_days`` = days from the last purchase (positive net on that date) to ``as_of``;
      NaN for a customer with no purchase (only returns)
    * ``frequency`` = purchase occasions (distinct ``occasion`` values with positive net;
      distinct dates when ``occasion`` is None)
    * ``monetary`` = net amount (returns included)

    Scores 1..``bins`` by quantile rank, ``score = ceil(pct_rank * bins)``, higher = better
    (recent, frequent, big): ``r_score`` ranks recency reversed; customers without a
    purchase get 1. ``rfm`` is the three digits, e.g. ``"545"``. ``segment`` from R and
    FM = mean(F, M), with high = score > 0.6 * bins and low = score <= 0.4 * bins:

    * Champions: R high and FM high        * Loyal: R not low and FM high or mid-high
    * Promising: R high and FM not high    * At risk: R low and FM not low
    * Hibernating: R low and FM low        * Needs attention: everything else
    """
    if bins < 2:
        raise MetricInputError(f"rfm: bins must be at least 2, got {bins}")
    cols = [customer, date, amount] + ([occasion] if occasion else [])
    _require_columns(transactions, cols, "rfm")
    as_of_ts = pd.Timestamp(as_of)
    tx = transactions.assign(_d=as_dates(transactions[date]))
    tx = tx[tx["_d"] <= as_of_ts]
    if tx.empty:
        return pd.DataFrame(
            columns=["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm", "segment"]
        ).rename_axis(customer)
    occ = occasion or "_d"
    per = _plain_index(tx.groupby([customer, occ], observed=True).agg(net=(amount, "sum"), last=("_d", "max")))
    purchases = per[per["net"] > 0]
    monetary = _plain_index(tx.groupby(customer, observed=True)[amount].sum().astype(float))
    frequency = purchases.groupby(level=0, observed=True).size().reindex(monetary.index, fill_value=0)
    last = purchases.groupby(level=0, observed=True)["last"].max().reindex(monetary.index)
    recency = (as_of_ts - last).dt.days.astype(float)

    r = _score(recency, bins, higher_is_better=False)
    f = _score(frequency.astype(float).where(frequency > 0), bins)
    m = _score(monetary, bins)
    fm = (f + m) / 2
    high, low = 0.6 * bins, 0.4 * bins
    segment = np.select(
        [
            (r > high) & (fm > high),
            (r > low) & (fm > (high + low) / 2),
            (r > high),
            (r <= low) & (fm > low),
            (r <= low),
        ],
        ["Champions", "Loyal", "Promising", "At risk", "Hibernating"],
        default="Needs attention",
    )
    return pd.DataFrame(
        {
            "recency_days": recency,
            "frequency": frequency.astype(int),
            "monetary": monetary,
            "r_score": r,
            "f_score": f,
            "m_score": m,
            "rfm": r.astype(str) + f.astype(str) + m.astype(str),
            "segment": segment,
        },
        index=monetary.index,
    )


# --------------------------------------------------------------------------------------
# price-volume-mix


def price_volume_mix(
    base: pd.DataFrame,
    current: pd.DataFrame,
    key: list[str],
    quantity: str = "quantity",
    amount: str = "net_amount",
) -> pd.DataFrame:
    """Split the change in sales between two periods into volume, price and mix effects.

    Rows of each input are summed per ``key`` (e.g. ``["sku"]``). An item is *priced* in a
    period when its quantity there is > 0, with price ``P = amount / quantity``. Totals
    ``Q0``, ``Q1`` are the quantities of the items priced in the base / current period;
    ``s0_i = Q0_i / Q0`` and ``s1_i = Q1_i / Q1`` are the mix shares. ``P0_i`` is the base
    price; for an item new in the current period it is the current price (no price change
    can be measured). Per item:

        volume_i = (Q1 - Q0) * s0_i * P0_i      -> total (Q1 - Q0) * P0_avg at the base mix
        price_i  = (P1_i - P0_i) * Q1_i         (items priced in both periods, else 0)
        mix_i    = (A1_i - A0_i) - volume_i - price_i

    For items sold in both periods ``mix_i = Q1 * (s1_i - s0_i) * P0_i``; for new and lost
    items mix carries the item's whole arrival or departure beyond volume, and it also
    absorbs amounts booked without a positive quantity. So volume + price + mix equals
    ``current - base`` for every row and in total. Quantities must be in a common unit
    for the volume effect to mean something: use a fine key (SKU) for mixed products.

    Columns: ``key``, ``base_amount``, ``current_amount``, ``base_quantity``,
    ``current_quantity``, ``base_price``, ``current_price``, ``volume_effect``,
    ``price_effect``, ``mix_effect``, ``change``, ``status`` (continuing / new / lost / unpriced).
    """
    if isinstance(key, str):
        key = [key]
    for name, df in (("base", base), ("current", current)):
        _require_columns(df, [*key, quantity, amount], f"price_volume_mix ({name})")

    def agg(df: pd.DataFrame) -> pd.DataFrame:
        return _plain_index(df.groupby(key, dropna=False, observed=True)[[quantity, amount]].sum().astype(float))

    b, c = agg(base), agg(current)
    index = b.index.union(c.index)
    b, c = b.reindex(index, fill_value=0.0), c.reindex(index, fill_value=0.0)
    q0, a0, q1, a1 = b[quantity], b[amount], c[quantity], c[amount]
    priced0, priced1 = q0 > 0, q1 > 0
    p0_own = safe_ratio(a0, q0)
    p1 = safe_ratio(a1, q1)
    p0 = p0_own.where(priced0, p1)  # new item: valued at its own current price
    q0_tot = float(q0[priced0].sum())
    q1_tot = float(q1[priced1].sum())
    s0 = (q0 / q0_tot).where(priced0, 0.0) if q0_tot > 0 else pd.Series(0.0, index=index)

    volume = ((q1_tot - q0_tot) * s0 * p0).where(priced0, 0.0).fillna(0.0)
    price = ((p1 - p0_own) * q1).where(priced0 & priced1, 0.0).fillna(0.0)
    change = a1 - a0
    mix = change - volume - price
    status = np.select(
        [priced0 & priced1, ~priced0 & priced1, priced0 & ~priced1],
        ["continuing", "new", "lost"],
        default="unpriced",
    )
    return pd.DataFrame(
        {
            "base_amount": a0,
            "current_amount": a1,
            "base_quantity": q0,
            "current_quantity": q1,
            "base_price": p0_own,
            "current_price": p1,
            "volume_effect": volume,
            "price_effect": price,
            "mix_effect": mix,
            "change": change,
            "status": status,
        },
        index=index,
    ).reset_index()


def pvm_summary(pvm: pd.DataFrame) -> pd.Series:
    """Totals of a :func:`price_volume_mix` result: base, volume, price, mix, current and
    change (volume + price + mix = change = current - base)."""
    _require_columns(
        pvm, ["base_amount", "volume_effect", "price_effect", "mix_effect", "current_amount"], "pvm_summary"
    )
    s = pvm[["base_amount", "volume_effect", "price_effect", "mix_effect", "current_amount"]].sum()
    return pd.Series(
        {
            "base": s["base_amount"],
            "volume": s["volume_effect"],
            "price": s["price_effect"],
            "mix": s["mix_effect"],
            "current": s["current_amount"],
            "change": s["current_amount"] - s["base_amount"],
        },
        name="amount",
    )
