"""Monthly facts: the one aggregation of order lines every report reads.

``build_cube`` (``cube_from_lines`` for bare frames) sums the order lines per month and
dimension combination once; :class:`Groups` is the integer-code group-by it shares with
:mod:`salesplan.aggregates` (which stores the cube and the other aggregates per input hash);
``monthly_totals`` rolls the cube up to any subset of dimensions as gap-free monthly
series; ``latest_complete_month`` says which month a report should close on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from salesplan.dates import as_dates

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
    values = as_dates(dates).to_numpy(dtype="datetime64[ns]")
    return pd.Series(values.astype("datetime64[M]").astype("datetime64[ns]"), index=dates.index, name="month")


def build_cube(data: Dataset) -> pd.DataFrame:
    """Aggregate order lines to one row per ``month, region, product_line, tier, rep_id,
    customer_id, channel`` (:func:`cube_from_lines` on the dataset's orders and products)."""
    return cube_from_lines(data.orders, data.products)


def cube_from_lines(orders: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Aggregate order lines to one row per ``month, region, product_line, tier, rep_id,
    customer_id, channel``.

    Measures: sums of ``net_amount``, ``cost_amount``, ``paid_amount`` and ``quantity``;
    ``lines`` = number of order lines; ``gross_amount`` = sum of ``net_amount`` over lines
    with a positive amount (sales without returns); ``return_amount`` = sum over lines with
    a negative amount (returns, negative), so ``gross_amount + return_amount = net_amount``.
    ``cost_amount`` / ``paid_amount`` are NaN where the input has no values for them.
    ``product_line`` and ``tier`` come from ``products`` by ``sku``. Rows are sorted by the
    keys (missing labels last). ``orders`` needs ``order_date``, ``sku``, ``quantity``,
    ``net_amount`` and the dimensions other than ``product_line`` and ``tier``.
    """
    n = len(orders)
    net = orders["net_amount"].to_numpy(dtype="float64")
    lookup = products.drop_duplicates("sku").set_index("sku")

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
    groups = Groups([month_codes, *codes.values()], [len(months), *(len(labels[d]) for d in DIMENSIONS)])

    cube = pd.DataFrame({"month": pd.DatetimeIndex(months).take(month_codes[groups.first]).astype("datetime64[ns]")})
    for dim in DIMENSIONS:
        cube[dim] = groups.labels(codes[dim], labels[dim])
    cube["net_amount"] = groups.sum(net)
    for column in ("cost_amount", "paid_amount"):
        cube[column] = groups.sum_present(_optional(orders, column))
    cube["quantity"] = np.rint(groups.sum(orders["quantity"].to_numpy(dtype="float64"))).astype("int64")
    cube["lines"] = groups.count()
    cube["gross_amount"] = groups.sum(np.where(net > 0, net, 0.0))
    cube["return_amount"] = groups.sum(np.where(net < 0, net, 0.0))
    keys = ["month", *DIMENSIONS]
    return cube.sort_values(keys, kind="stable").reset_index(drop=True)[keys + MEASURES]


class Groups:
    """Rows grouped by several integer code arrays (from ``pd.factorize``): the group of
    every row, the first row of every group, and sums per group by ``np.bincount``.

    The one group-by the aggregations share: hashing small integer codes once and summing
    with bincount is several times faster and lighter than ``DataFrame.groupby`` over text
    columns of millions of rows."""

    def __init__(self, codes: list[np.ndarray], sizes: list[int]) -> None:
        group, _ = pd.factorize(_combine(codes, sizes))
        self.group: np.ndarray = group
        n = len(group)
        self.size: int = int(group.max()) + 1 if n else 0
        first = np.zeros(self.size, dtype=np.int64)
        first[group[::-1]] = np.arange(n, dtype=np.int64)[::-1]  # first row of each group
        self.first: np.ndarray = first

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` (float) per group."""
        return np.bincount(self.group, weights=values, minlength=self.size)

    def sum_present(self, values: np.ndarray) -> np.ndarray:
        """Sum of the non-NaN ``values`` per group; NaN (not 0) where a group has none."""
        present = ~np.isnan(values)
        sums = self.sum(np.where(present, values, 0.0))
        return np.where(self.sum(present.astype("float64")) > 0, sums, np.nan)

    def count(self) -> np.ndarray:
        """Rows per group (int64)."""
        return np.bincount(self.group, minlength=self.size).astype("int64")

    def labels(self, codes: np.ndarray, uniques: np.ndarray | pd.Index) -> np.ndarray:
        """The label of each group (object array) from a key column's codes and uniques."""
        if not len(self.first):
            return np.array([], dtype=object)
        return np.asarray(uniques, dtype=object).take(codes[self.first])


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
    last = as_dates(dates).max()
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
