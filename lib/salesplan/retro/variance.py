"""Variance explanation: actual minus plan split by dimension and into price, volume and mix.

Every split is exact to the cent by construction: amounts are converted to whole cents,
each part except one is rounded to the cent and the last part is the remainder, so the
parts add up to the total variance with no residual (there is no "other" bucket).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from salesplan.dates import as_dates
from salesplan.metrics import customer_tiers, price_volume_mix
from salesplan.retro.flags import plan_months
from salesplan.retro.periods import RetroInputError, Window
from salesplan.targets.rounding import largest_remainder

NEW_CUSTOMER_TIER = "new"
"""Customer tier of a customer without purchases in the tier year (no tier yet)."""


def to_cents(values: pd.Series | np.ndarray | float) -> np.ndarray:
    """Amounts in currency units as whole cents (int64), rounded half away from zero."""
    arr = np.asarray(values, dtype="float64")
    return (np.sign(arr) * np.floor(np.abs(arr) * 100 + 0.5)).astype("int64")


def from_cents(cents: np.ndarray | pd.Series) -> np.ndarray:
    """Whole cents back to currency units."""
    return np.asarray(cents, dtype="int64") / 100.0


def add_customer_tier(
    cube: pd.DataFrame, tier_year: int, thresholds: Mapping[str, float], column: str = "customer_tier"
) -> pd.DataFrame:
    """The cube with ``column`` = each customer's tier (A-D, see
    :func:`salesplan.metrics.customer_tiers`) by net purchases in calendar year ``tier_year``;
    customers without rows in that year are :data:`NEW_CUSTOMER_TIER`."""
    year_sales = (
        cube.loc[as_dates(cube["month"]).dt.year == tier_year]
        .groupby(cube["customer_id"].astype(str))["net_amount"]
        .sum()
    )
    tiers = customer_tiers(year_sales, thresholds) if len(year_sales) else pd.Series(dtype=object)
    return cube.assign(**{column: cube["customer_id"].astype(str).map(tiers).fillna(NEW_CUSTOMER_TIER)})


def same_window_last_year(win: Window) -> Window:
    """``win`` shifted back twelve months."""
    return Window(
        win.name, f"{win.label} (prior year)", win.start - pd.DateOffset(years=1), win.end - pd.DateOffset(years=1)
    )


def apportion_plan(total: float, weights: pd.Series) -> pd.Series:
    """Split a plan total over the index of ``weights`` in proportion to them, exactly to the
    cent (largest remainder on whole cents, :func:`salesplan.targets.largest_remainder`).
    Zero or negative weights get nothing; all-zero weights split evenly."""
    total_c = int(to_cents(total))
    w = weights.astype(float).clip(lower=0.0).fillna(0.0)
    sign = -1 if total_c < 0 else 1
    parts = largest_remainder(w.to_numpy(), abs(total_c)) * sign
    return pd.Series(from_cents(parts), index=weights.index, name="plan")


def variance_by_dimension(
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    win: Window,
    dim: str,
    value: str = "net_amount",
) -> pd.DataFrame:
    """Contribution of each ``dim`` value to the variance (actual - plan) over ``win``.

    ``plan_i`` is the plan of the item where the plan has the dimension (region, product
    line, rep); otherwise (channel, customer tier, product tier) the plan total is
    apportioned by the item's share of actual sales in the same months a year earlier
    (:func:`apportion_plan`; items new since then get no plan). Then
    ``variance_i = actual_i - plan_i`` and ``sum(variance_i) = actual - plan`` exactly to
    the cent. Columns: ``dim``, ``actual``, ``plan``, ``variance``, ``plan_basis``; sorted by
    variance, largest shortfall first.
    """
    if dim not in cube.columns:
        raise RetroInputError(f"variance_by_dimension: the cube has no column {dim!r}")
    plan_m = plan_months(plan)
    in_win = cube.loc[win.contains(cube["month"])]
    actual = in_win.groupby(in_win[dim].astype(str))[value].sum()
    plan_win = plan_m.loc[win.contains(plan_m["month"])]
    plan_total = float(plan_win["target_amount"].sum())
    if dim in plan_m.columns:
        planned = plan_win.groupby(plan_win[dim].astype(str))["target_amount"].sum()
        basis = "plan"
    else:
        prior = same_window_last_year(win)
        hist = cube.loc[prior.contains(cube["month"])]
        weights = hist.groupby(hist[dim].astype(str))[value].sum()
        index = weights.index.union(actual.index)
        weights = weights.reindex(index, fill_value=0.0)
        if weights.clip(lower=0).sum() <= 0:
            # No prior-year sales to weight by: use the current mix, so the split shows no mix change.
            weights = actual.reindex(index, fill_value=0.0)
            basis = "plan apportioned by this period's mix (no prior-year sales)"
        else:
            basis = f"plan apportioned by {prior.start:%Y-%m}..{prior.end:%Y-%m} shares"
        planned = apportion_plan(plan_total, weights)
    index = actual.index.union(planned.index)
    act_c = to_cents(actual.reindex(index, fill_value=0.0))
    plan_c = to_cents(planned.reindex(index, fill_value=0.0))
    out = pd.DataFrame(
        {
            dim: index.astype(str),
            "actual": from_cents(act_c),
            "plan": from_cents(plan_c),
            "variance": from_cents(act_c - plan_c),
            "plan_basis": basis,
        }
    )
    return out.sort_values(["variance", dim], kind="stable").reset_index(drop=True)


def planned_prices(
    cube: pd.DataFrame, win: Window, key: str = "product_line", value: str = "net_amount"
) -> pd.DataFrame:
    """Planned price per ``key``: the plan has amounts but no quantities, so the price is
    taken from history.

    ``price = net / quantity`` over the same months a year earlier (basis ``last year``);
    where that quantity is not positive, over the twelve months before ``win`` (basis
    ``trailing 12 months``); else the period's own actual price (basis ``actual``: no price
    effect can be measured). Columns: ``key``, ``planned_price``, ``price_basis``.
    """
    prior = same_window_last_year(win)
    trailing = Window(
        "t12", "trailing 12 months", win.start - pd.DateOffset(months=12), win.start - pd.DateOffset(months=1)
    )

    def price(w: Window) -> pd.Series:
        part = cube.loc[w.contains(cube["month"])]
        g = part.groupby(part[key].astype(str))[[value, "quantity"]].sum()
        return (g[value] / g["quantity"]).where(g["quantity"] > 0).dropna()

    keys = pd.Index(sorted(cube[key].astype(str).unique()), name=key)
    out = pd.DataFrame(index=keys)
    out["planned_price"] = np.nan
    out["price_basis"] = ""
    for w, basis in ((prior, "last year"), (trailing, "trailing 12 months"), (win, "actual")):
        p = price(w).reindex(keys)
        fill = out["planned_price"].isna() & p.notna()
        out.loc[fill, "planned_price"] = p[fill]
        out.loc[fill, "price_basis"] = basis
    return out.reset_index()


def price_volume_mix_vs_plan(
    cube: pd.DataFrame, plan: pd.DataFrame, win: Window, key: str = "product_line", value: str = "net_amount"
) -> pd.DataFrame:
    """Variance against plan split into volume, price and mix per ``key`` (product line).

    The plan holds amounts only, so the planned volume is ``plan_amount / planned_price``
    (:func:`planned_prices`). Effects as in :func:`salesplan.metrics.price_volume_mix` with
    the plan as base and the actual as current; volume and price are rounded to the cent and
    mix is the remainder, so ``volume + price + mix = actual - plan`` exactly to the cent
    for every row and in total. Columns: ``key``, ``plan``, ``actual``, ``planned_price``,
    ``price_basis``, ``planned_quantity``, ``actual_quantity``, ``volume``, ``price``,
    ``mix``, ``variance``, ``status``.
    """
    plan_m = plan_months(plan)
    plan_win = plan_m.loc[win.contains(plan_m["month"])]
    planned = plan_win.groupby(plan_win[key].astype(str))["target_amount"].sum()
    in_win = cube.loc[win.contains(cube["month"])]
    actual = in_win.groupby(in_win[key].astype(str))[[value, "quantity"]].sum()
    prices = planned_prices(cube, win, key, value).set_index(key)
    index = planned.index.union(actual.index)
    plan_c = to_cents(planned.reindex(index, fill_value=0.0))
    act_c = to_cents(actual[value].reindex(index, fill_value=0.0))
    price_p = prices["planned_price"].reindex(index)
    base = pd.DataFrame(
        {
            key: index,
            "quantity": (from_cents(plan_c) / price_p).where(price_p > 0, 0.0).fillna(0.0).to_numpy(),
            value: from_cents(plan_c),
        }
    )
    current = pd.DataFrame(
        {
            key: index,
            "quantity": actual["quantity"].reindex(index, fill_value=0.0).astype(float).to_numpy(),
            value: from_cents(act_c),
        }
    )
    pvm = price_volume_mix(base, current, key=[key], quantity="quantity", amount=value).set_index(key).reindex(index)
    vol_c = to_cents(pvm["volume_effect"].fillna(0.0))
    price_c = to_cents(pvm["price_effect"].fillna(0.0))
    mix_c = (act_c - plan_c) - vol_c - price_c
    return pd.DataFrame(
        {
            key: index.astype(str),
            "plan": from_cents(plan_c),
            "actual": from_cents(act_c),
            "planned_price": price_p.to_numpy(),
            "price_basis": prices["price_basis"].reindex(index).fillna("none").to_numpy(),
            "planned_quantity": base["quantity"].to_numpy(),
            "actual_quantity": current["quantity"].to_numpy(),
            "volume": from_cents(vol_c),
            "price": from_cents(price_c),
            "mix": from_cents(mix_c),
            "variance": from_cents(act_c - plan_c),
            "status": pvm["status"].to_numpy(),
        }
    ).reset_index(drop=True)


def pvm_steps(pvm: pd.DataFrame, start_label: str = "Plan", end_label: str = "Actual") -> pd.DataFrame:
    """Waterfall steps of a :func:`price_volume_mix_vs_plan` result: plan, volume, price,
    mix, actual (totals summed in cents, so the steps close exactly)."""
    cents = {c: int(to_cents(pvm[c]).sum()) for c in ("plan", "volume", "price", "mix", "actual")}
    labels = [start_label, "Volume", "Price", "Mix", end_label]
    values = [cents["plan"], cents["volume"], cents["price"], cents["mix"], cents["actual"]]
    return pd.DataFrame({"label": labels, "value": from_cents(np.array(values))})


def contribution_steps(
    table: pd.DataFrame,
    dim: str,
    start_label: str = "Plan",
    end_label: str = "Actual",
    *,
    max_items: int | None,
) -> pd.DataFrame:
    """Waterfall steps of a :func:`variance_by_dimension` result: plan, one step per item
    (the largest ``max_items`` by absolute variance, the rest summed as "other"), actual.
    ``max_items``: ``retro.waterfall_items`` (None: every item its own step)."""
    t = table.assign(_abs=table["variance"].abs()).sort_values(["_abs", dim], ascending=[False, True], kind="stable")
    keep, rest = t.iloc[:max_items], t.iloc[max_items:]
    labels = keep[dim].astype(str).tolist()
    cents = to_cents(keep["variance"]).tolist()
    if len(rest):
        labels.append(f"other ({len(rest)})")
        cents.append(int(to_cents(rest["variance"]).sum()))
    plan_c = int(to_cents(table["plan"]).sum())
    actual_c = int(to_cents(table["actual"]).sum())
    return pd.DataFrame(
        {
            "label": [start_label, *labels, end_label],
            "value": from_cents(np.array([plan_c, *cents, actual_c], dtype="int64")),
        }
    )


def variance_summary(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per split (name -> :func:`variance_by_dimension` or PVM table) with the total
    actual, plan, variance and the sum of the parts in cents, to show that each split closes."""
    rows = []
    for name, t in tables.items():
        parts_c = (
            int(to_cents(t["variance"]).sum())
            if "volume" not in t
            else int((to_cents(t["volume"]) + to_cents(t["price"]) + to_cents(t["mix"])).sum())
        )
        total_c = int(to_cents(t["actual"]).sum() - to_cents(t["plan"]).sum())
        rows.append(
            {
                "split": name,
                "actual": from_cents(np.array([to_cents(t["actual"]).sum()]))[0],
                "plan": from_cents(np.array([to_cents(t["plan"]).sum()]))[0],
                "variance": total_c / 100.0,
                "sum_of_parts": parts_c / 100.0,
                "closes": parts_c == total_c,
            }
        )
    return pd.DataFrame(rows)
