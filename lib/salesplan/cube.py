"""Monthly facts: the one aggregation of order lines every report reads.

``build_cube`` sums the order lines per month and dimension combination once;
``monthly_totals`` rolls the cube up to any subset of dimensions as gap-free monthly
series; ``latest_complete_month`` says which month a report should close on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from salesplan.io import Dataset

DIMENSIONS: list[str] = ["region", "product_line", "tier", "rep_id", "customer_id", "channel"]
MEASURES: list[str] = [
    "net_amount",
    "cost_amount",
    "paid_amount",
    "quantity",
    "lines",
    "gross_amount",
    "return_amount",
]


def month_start(dates: pd.Series) -> pd.Series:
    """First day of each date's month, as ``datetime64[ns]``."""
    values = pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]")
    return pd.Series(values.astype("datetime64[M]").astype("datetime64[ns]"), index=dates.index, name="month")


def build_cube(data: Dataset) -> pd.DataFrame:
    """Aggregate order lines to one row per ``month, region, product_line, tier, rep_id,
    customer_id, channel``.

    Measures: sums of ``net_amount``, ``cost_amount``, ``paid_amount`` and ``quantity``;
    ``lines`` = number of order lines; ``gross_amount`` = sum of ``net_amount`` over lines
    with a positive amount (sales without returns); ``return_amount`` = sum over lines with
    a negative amount (returns, negative), so ``gross_amount + return_amount = net_amount``.
    ``cost_amount`` / ``paid_amount`` are NaN where the input has no values for them.
    ``product_line`` and ``tier`` come from the products table by ``sku``.
    """
    orders = data.orders
    n = len(orders)
    net = orders["net_amount"].to_numpy(dtype="float64")
    lookup = data.products.drop_duplicates("sku").set_index("sku")

    # Group on integer codes: one hash pass per dimension, then bincount sums. Much faster
    # and lighter than a groupby over seven text columns of millions of order lines.
    month_codes, months = pd.factorize(month_start(orders["order_date"]).to_numpy())
    sku_codes, skus = pd.factorize(orders["sku"], use_na_sentinel=False)
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    for dim in DIMENSIONS:
        if dim in ("product_line", "tier"):
            per_sku = lookup[dim].reindex(pd.Index(skus)).to_numpy(dtype=object)
            sku_level, labels[dim] = pd.factorize(per_sku, use_na_sentinel=False)
            codes[dim] = sku_level[sku_codes] if n else sku_codes
        else:
            codes[dim], labels[dim] = pd.factorize(orders[dim], use_na_sentinel=False)
    group = _combine([month_codes, *codes.values()], [len(months), *(len(labels[d]) for d in DIMENSIONS)])
    group, _ = pd.factorize(group)
    size = int(group.max()) + 1 if n else 0
    first = np.zeros(size, dtype=np.int64)
    first[group[::-1]] = np.arange(n, dtype=np.int64)[::-1]  # first line of each group

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=size)

    cube = pd.DataFrame({"month": pd.DatetimeIndex(months).take(month_codes[first]).astype("datetime64[ns]")})
    for dim in DIMENSIONS:
        cube[dim] = np.asarray(labels[dim], dtype=object).take(codes[dim][first]) if n else np.array([], dtype=object)
    cube["net_amount"] = total(net)
    for column in ("cost_amount", "paid_amount"):
        values = _optional(orders, column)
        present = ~np.isnan(values)
        sums = total(np.where(present, values, 0.0))
        # NaN (not 0) where a group has no cost / payment values at all.
        cube[column] = np.where(total(present.astype("float64")) > 0, sums, np.nan)
    cube["quantity"] = np.rint(total(orders["quantity"].to_numpy(dtype="float64"))).astype("int64")
    cube["lines"] = np.bincount(group, minlength=size).astype("int64")
    cube["gross_amount"] = total(np.where(net > 0, net, 0.0))
    cube["return_amount"] = total(np.where(net < 0, net, 0.0))
    keys = ["month", *DIMENSIONS]
    return cube.sort_values(keys, kind="stable").reset_index(drop=True)[keys + MEASURES]


def _combine(codes: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """One int64 key per row from several code arrays (mixed radix), re-compressing when
    the radix product would overflow."""
    key = np.zeros(len(codes[0]) if codes else 0, dtype=np.int64)
    span = 1
    for code, size in zip(codes, sizes, strict=True):
        size = max(size, 1)
        if span * size >= 2**62:
            key, uniques = pd.factorize(key)
            span = max(len(uniques), 1)
        key = key * size + code
        span *= size
    return key


def _optional(orders: pd.DataFrame, column: str) -> np.ndarray:
    if column in orders.columns:
        return orders[column].to_numpy(dtype="float64", na_value=np.nan)
    return np.full(len(orders), np.nan)


def latest_complete_month(orders: pd.DataFrame | pd.Series) -> pd.Period:
    """The last month whose last day is on or before the last order date.

    ``orders`` is the orders table (its ``order_date``) or a Series of dates. Data ending on
    2025-06-30 gives 2025-06; data ending on 2025-06-29 gives 2025-05.
    """
    dates = orders["order_date"] if isinstance(orders, pd.DataFrame) else orders
    last = pd.to_datetime(dates).max()
    if pd.isna(last):
        raise ValueError("no order dates: cannot tell the latest complete month")
    period = pd.Timestamp(last).to_period("M")
    return period if pd.Timestamp(last).normalize() >= period.end_time.normalize() else period - 1


def monthly_totals(
    cube: pd.DataFrame,
    by: Sequence[str] = (),
    value: str | Sequence[str] = "net_amount",
    span: Literal["overall", "group"] = "overall",
) -> pd.DataFrame:
    """Sum ``value`` per ``month`` and the ``by`` dimensions, with no gaps in the months.

    Months without rows get 0. With ``span="overall"`` every group runs from the cube's first
    to its last month (a rectangular grid, handy for pivots and aligned series); with
    ``span="group"`` each group runs from its own first to its own last month (no
    zeros before a product's launch). Columns: ``month, *by, *value``, sorted by ``by`` then
    ``month``.
    """
    by = list(by)
    values = [value] if isinstance(value, str) else list(value)
    unknown = [c for c in ["month", *by, *values] if c not in cube.columns]
    if unknown:
        raise KeyError(f"monthly_totals: cube has no column(s) {unknown}; it has {list(cube.columns)}")
    keys = ["month", *by]
    sums = cube.groupby(keys, observed=True, sort=False)[values].sum(min_count=1).reset_index()
    if sums.empty:
        return sums[keys + values]
    months = pd.DataFrame({"month": pd.date_range(sums["month"].min(), sums["month"].max(), freq="MS")})
    if by:
        groups = sums.groupby(by, observed=True, sort=False)["month"].agg(["min", "max"]).reset_index()
        grid = groups.merge(months, how="cross")
        if span == "group":
            grid = grid[grid["month"].between(grid["min"], grid["max"])]
        grid = grid.drop(columns=["min", "max"])
    else:
        grid = months
    out = grid.merge(sums, on=keys, how="left", indicator=True)
    filled = out["_merge"].eq("left_only")
    for column in values:
        out.loc[filled, column] = 0
    return out.drop(columns="_merge").sort_values([*by, "month"], kind="stable").reset_index(drop=True)[keys + values]
