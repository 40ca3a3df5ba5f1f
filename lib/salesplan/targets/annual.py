"""The annual number three ways (historical baseline, top-down, bottom-up) and their reconciliation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from salesplan import metrics
from salesplan.dates import as_dates
from salesplan.settings import TopDown
from salesplan.targets.rounding import TargetInputError

LEVELS_KEY = "level_coefficient"


def history_before(cube: pd.DataFrame, plan_year: int, value: str = "net_amount") -> pd.DataFrame:
    """The rows of the monthly cube dated before 1 January of ``plan_year`` (the only history a plan may use,
    so re-running during the plan year sees the same inputs)."""
    missing = sorted({"month", value} - set(cube.columns))
    if missing:
        raise TargetInputError(f"history: the monthly cube lacks column(s) {', '.join(missing)}")
    months = as_dates(cube["month"])
    out = cube.loc[months < pd.Timestamp(int(plan_year), 1, 1)].copy()
    out["month"] = as_dates(out["month"]).dt.to_period("M").dt.to_timestamp()
    return out


def last_history_month(history: pd.DataFrame) -> pd.Timestamp:
    """The latest month in ``history`` (raises when there is none)."""
    if history.empty:
        raise TargetInputError("history: no sales before the plan year; a plan needs at least one month of history")
    return pd.Timestamp(history["month"].max())


def annual_periods(history: pd.DataFrame, value: str = "net_amount", years: int = 4) -> pd.DataFrame:
    """Sales per 12-month period ending at the last history month, newest first.

    ``period`` 0 is the last 12 months, 1 the 12 before, ... (calendar years when history ends in
    December). Columns: ``period, start, end, label, amount``; periods before the first month of
    history are left out, and a period only partly covered is marked ``complete = False``.
    """
    end = last_history_month(history)
    first = pd.Timestamp(history["month"].min())
    monthly = history.groupby("month")[value].sum()
    rows = []
    for k in range(years):
        p_end = end - pd.DateOffset(months=12 * k)
        p_start = p_end - pd.DateOffset(months=11)
        if p_end < first:
            break
        label = str(p_end.year) if p_end.month == 12 else f"12m to {p_end:%Y-%m}"
        amount = float(monthly[(monthly.index >= p_start) & (monthly.index <= p_end)].sum())
        rows.append((k, p_start, p_end, label, amount, p_start >= first))
    return pd.DataFrame(rows, columns=["period", "start", "end", "label", "amount", "complete"])


def baseline(periods: pd.DataFrame, cagr_years: int, increments: dict[str, float], stretch_pct: float) -> pd.DataFrame:
    """Historical baseline plus named increments, as waterfall steps.

    Formula, with ``LY`` the last 12 months and ``n = min(cagr_years, complete years of history - 1)``::

        CAGR      = (LY / sales n years earlier) ** (1 / n) - 1         (metrics.cagr; 0 when n = 0)
        organic   = LY * (1 + CAGR)
        price     = organic * price_change_pct
        baseline  = organic + price + new_products + new_regions
        stretch   = baseline * (1 + stretch_pct)                          ("base + elastic space")

    Returns ``step, amount, kind`` rows: ``last_year`` (total), ``cagr_growth``, ``price_change``,
    ``new_products``, ``new_regions`` (deltas), ``baseline`` (total), ``stretch`` (total), plus the
    rate used in ``attrs['cagr']`` and the years in ``attrs['cagr_years']``.
    """
    complete = periods[periods["complete"]].sort_values("period")
    if complete.empty:
        raise TargetInputError("baseline: history covers less than 12 months; the baseline needs one full year")
    last = float(complete["amount"].iloc[0])
    n = min(int(cagr_years), len(complete) - 1)
    rate = metrics.cagr(float(complete["amount"].iloc[n]), last, n) if n > 0 else 0.0
    if not np.isfinite(rate):
        rate = 0.0  # growth from a zero or negative base is undefined: the baseline stays at last year
    unknown = sorted(set(increments) - {"new_products", "new_regions", "price_change_pct"})
    if unknown:
        raise TargetInputError(
            f"targets.increments: unknown key(s) {', '.join(unknown)}; known: new_products, new_regions, price_change_pct"
        )
    organic = last * (1 + rate)
    price = organic * float(increments.get("price_change_pct", 0.0) or 0.0)
    new_products = float(increments.get("new_products", 0.0) or 0.0)
    new_regions = float(increments.get("new_regions", 0.0) or 0.0)
    base = organic + price + new_products + new_regions
    out = pd.DataFrame(
        [
            ("last_year", last, "total"),
            ("cagr_growth", organic - last, "delta"),
            ("price_change", price, "delta"),
            ("new_products", new_products, "delta"),
            ("new_regions", new_regions, "delta"),
            ("baseline", base, "total"),
            ("stretch", base * (1 + float(stretch_pct)), "total"),
        ],
        columns=["step", "amount", "kind"],
    )
    out.attrs.update(cagr=rate, cagr_years=n)
    return out


def top_down(last_year: float, settings: TopDown | Mapping[str, Any]) -> float:
    """HQ's number. ``industry_growth``: ``LY * (1 + industry_growth * multiplier)`` (multiplier 1.3-1.5,
    outgrowing the market); ``market_share``: ``market_size * market_share``.

    ``settings``: the ``targets.top_down`` section; a plain mapping (an exercise's own numbers)
    names the method and only the values that method uses."""
    s = settings if isinstance(settings, TopDown) else _top_down_of(settings)
    method = s.method
    if method == "industry_growth":
        return float(last_year) * (1 + float(s.industry_growth) * float(s.multiplier))
    if method == "market_share":
        size, share = s.market_size, s.market_share
        if size is None or share is None:
            raise TargetInputError(
                "targets.top_down: method market_share needs market_size and market_share set in config/salesplan.yaml"
            )
        if float(size) <= 0 or not 0 < float(share) <= 1:
            raise TargetInputError(
                f"targets.top_down: market_size must be > 0 and market_share in (0, 1], got {size!r} and {share!r}"
            )
        return float(size) * float(share)
    raise TargetInputError(f"targets.top_down.method: expected industry_growth or market_share, got {method!r}")


def _top_down_of(values: Mapping[str, Any]) -> TopDown:
    """A partial ``top_down`` mapping as the section, unchecked: values the method does not use
    stay unset (None), so :func:`top_down` says which one is missing."""
    unknown = sorted(set(values) - set(TopDown.model_fields))
    if unknown:
        raise TargetInputError(f"targets.top_down: unknown key(s) {', '.join(unknown)}")
    return TopDown.model_construct(**{name: values.get(name) for name in TopDown.model_fields})


def _window(history: pd.DataFrame, end: pd.Timestamp, months: int = 12) -> pd.DataFrame:
    start = end - pd.DateOffset(months=months - 1)
    return history[(history["month"] >= start) & (history["month"] <= end)]


def bottom_up_regions(
    history: pd.DataFrame,
    regions: list[str],
    cagr_years: int,
    resource_factor: dict[str, float],
    potential_index: dict[str, float],
    value: str = "net_amount",
    *,
    tier_factor: dict[str, float] | None = None,
    rep_bottom_up: pd.Series | None = None,
) -> pd.DataFrame:
    """Region level: ``bottom_up_r = LY_r * (1 + CAGR_r) * resource_factor_r * potential_index_r * tier_r``.

    ``LY_r`` = the region's last 12 months; ``CAGR_r`` over the same years as the company baseline. A
    region whose CAGR is undefined (too short or zero history) takes the company CAGR. A region with no
    sales takes the sum of its reps' bottom-up numbers (``rep_bottom_up``, region -> sum, e.g. a new region
    staffed for the plan year) in place of ``LY_r * (1 + CAGR_r)``, and 0 without reps (capacity-based
    allocation can still give it a target). Factors default to 1.0 for a region not listed; the method's
    range for the potential index is 0.8-1.2; ``tier_r`` is the weight of the region's tier
    (strategic / potential / opportunistic, ``targets.tier_factors.region``).
    Columns: ``region, last_year, cagr, resource_factor, potential_index, tier_factor, source, bottom_up``
    (``source``: ``history`` or ``reps`` for a region without sales).
    """
    end = last_history_month(history)
    flat = {"new_products": 0.0, "new_regions": 0.0, "price_change_pct": 0.0}
    company = baseline(annual_periods(history, value, int(cagr_years) + 1), cagr_years, flat, 0.0)
    n, company_rate = company.attrs["cagr_years"], company.attrs["cagr"]
    tiers = tier_factor or {}
    rows = []
    for region in regions:
        h = history[history["region"] == region]
        ly = float(_window(h, end)[value].sum())
        first = float(_window(h, end - pd.DateOffset(months=12 * n))[value].sum()) if n > 0 else np.nan
        rate = metrics.cagr(first, ly, n) if n > 0 else np.nan
        rate = company_rate if not np.isfinite(rate) else rate
        rf = float(resource_factor.get(region, 1.0))
        pi = float(potential_index.get(region, 1.0))
        tf = float(tiers.get(region, 1.0))
        if rf < 0 or pi < 0 or tf < 0:
            raise TargetInputError(
                f"targets.bottom_up: resource_factor, potential_index and tier factor of {region} must be >= 0"
            )
        grown, source = max(ly, 0.0) * (1 + rate), "history"
        if ly <= 0 and rep_bottom_up is not None and float(rep_bottom_up.get(region, 0.0)) > 0:
            grown, source = float(rep_bottom_up[region]), "reps"
        rows.append((region, ly, rate, rf, pi, tf, source, grown * rf * pi * tf))
    cols = ["region", "last_year", "cagr", "resource_factor", "potential_index", "tier_factor", "source", "bottom_up"]
    return pd.DataFrame(rows, columns=cols)


def bottom_up_reps(
    history: pd.DataFrame,
    reps: pd.DataFrame,
    availability: pd.DataFrame,
    personal_growth: float,
    level_coefficient: dict[str, float],
    value: str = "net_amount",
) -> pd.DataFrame:
    """Rep level: ``bottom_up = LY_annualised * (1 + personal_growth) * level_coefficient * availability``.

    ``LY_annualised`` = the rep's last-12-month sales scaled to a full year of employment
    (``LY * 12 / months employed``); a rep with no sales in that year (e.g. a new hire) takes the average
    annualised LY of the reps with history in their region (company average if none).
    ``availability`` = the rep's mean monthly availability in the plan year (ramp, leave date).
    Columns: ``rep_id, region, level, last_year, months_employed, annualised, level_coefficient,
    availability, bottom_up``.
    """
    end = last_history_month(history)
    start = end - pd.DateOffset(months=11)
    ly = _window(history, end).groupby("rep_id")[value].sum()
    months = pd.date_range(start, end, freq="MS")
    rows = []
    avail = availability.groupby("rep_id")["availability"].mean()
    for rep in reps.itertuples(index=False):
        level = str(rep.level)
        if level not in level_coefficient:
            raise TargetInputError(
                f"reps: rep {rep.rep_id} has level {level!r}; targets.bottom_up.level_coefficient knows "
                f"{', '.join(level_coefficient)}"
            )
        hire = pd.Timestamp(rep.hire_date).to_period("M").to_timestamp()
        leave = getattr(rep, "leave_date", None)
        leave = pd.Timestamp(leave) if leave is not None and not pd.isna(leave) else None
        employed = sum(1 for m in months if m >= hire and (leave is None or m <= leave))
        amount = float(ly.get(rep.rep_id, 0.0))
        annualised = amount * 12 / employed if employed and amount > 0 else np.nan
        rows.append(
            (rep.rep_id, rep.region, level, amount, employed, annualised, float(level_coefficient[level]),
             float(avail.get(rep.rep_id, 0.0)))
        )  # fmt: skip
    cols = [
        "rep_id",
        "region",
        "level",
        "last_year",
        "months_employed",
        "annualised",
        "level_coefficient",
        "availability",
    ]
    out = pd.DataFrame(rows, columns=cols)
    region_avg = out.groupby("region")["annualised"].mean()
    company_avg = out["annualised"].mean()
    fill = out["region"].map(region_avg).fillna(company_avg if np.isfinite(company_avg) else 0.0)
    out["annualised"] = out["annualised"].fillna(fill).clip(lower=0)
    out["bottom_up"] = out["annualised"] * (1 + float(personal_growth)) * out["level_coefficient"] * out["availability"]
    return out


def reconcile(
    top_down_total: float, bottom_up_total: float, rule: str, top_down_weight: float | None = None
) -> pd.Series:
    """Reconcile HQ's number with the sum of the parts by a stated rule.

    ``scale_to_top_down``: ``final = top_down`` (the bottom-up parts are scaled by ``top_down / bottom_up``);
    ``blend``: ``final = w * top_down + (1 - w) * bottom_up`` with ``w = top_down_weight``
    (``targets.reconcile.top_down_weight``, needed by this rule only).
    ``gap = top_down - bottom_up``, ``gap_pct = gap / bottom_up``. ``final`` is rounded half-up to whole
    currency units. Returns a Series ``top_down, bottom_up, gap, gap_pct, rule, weight, final``.
    """
    td, bu = float(top_down_total), float(bottom_up_total)
    if rule == "scale_to_top_down":
        w = 1.0
    elif rule == "blend":
        if top_down_weight is None:
            raise TargetInputError("targets.reconcile: the blend rule needs top_down_weight")
        w = float(top_down_weight)
        if not 0 <= w <= 1:
            raise TargetInputError(f"targets.reconcile.top_down_weight must be within 0-1, got {top_down_weight!r}")
    else:
        raise TargetInputError(f"targets.reconcile.rule: expected scale_to_top_down or blend, got {rule!r}")
    final = w * td + (1 - w) * bu
    return pd.Series(
        {
            "top_down": td,
            "bottom_up": bu,
            "gap": td - bu,
            "gap_pct": metrics.safe_ratio(td - bu, bu),
            "rule": rule,
            "weight": w,
            "final": int(np.floor(final + 0.5)),
        }
    )
