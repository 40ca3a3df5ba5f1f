"""Allocation: month totals -> region x product line -> reps, in whole units that add up at every level."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesplan.targets.rounding import TargetInputError, controlled_round, largest_remainder

UNASSIGNED = "(unassigned)"
"""rep_id of a region's target for months in which the region has no rep on board."""

BASES = ("last_year", "trailing_12m", "potential", "capacity")

TOTALS = ("reconciled", "basis")
"""Where a level's annual totals come from (``targets.allocation.region_totals`` / ``rep_totals``)."""

NO_TIER = "(none)"
"""Tier label of a region or product line without a tier (weight 1.0)."""


def rep_availability(reps: pd.DataFrame, year: int, ramp: Sequence[float]) -> pd.DataFrame:
    """Each rep's share of a full quota in each month of ``year``.

    A rep's k-th month on board (the hire month is the 1st) gets ``ramp[k-1]`` (the last ramp value from
    then on, e.g. 25/50/75/100 %); months before the hire month and months starting after the leave date get 0.
    Returns ``rep_id, region, month, availability, status`` (status: ``before hire``, ``ramp``, ``full``, ``left``).
    """
    missing = sorted({"rep_id", "region", "hire_date"} - set(reps.columns))
    if missing:
        raise TargetInputError(f"reps: missing column(s) {', '.join(missing)}")
    ramp_arr = np.asarray([float(r) for r in ramp], dtype="float64")
    if ramp_arr.size == 0 or np.any((ramp_arr < 0) | (ramp_arr > 1)):
        raise TargetInputError(f"targets.ramp: expected shares within 0-1, got {list(ramp)!r}")
    months = pd.date_range(f"{int(year)}-01-01", periods=12, freq="MS")
    rows = []
    for rep in reps.itertuples(index=False):
        hire = pd.Timestamp(rep.hire_date)
        if pd.isna(hire):
            raise TargetInputError(f"reps: rep {rep.rep_id} has no hire_date")
        hire_m = hire.to_period("M")
        leave = getattr(rep, "leave_date", None)
        leave = pd.Timestamp(leave) if leave is not None and not pd.isna(leave) else None
        for m in months:
            k = (m.to_period("M") - hire_m).n
            if k < 0:
                a, status = 0.0, "before hire"
            elif leave is not None and m > leave:
                a, status = 0.0, "left"
            else:
                a = float(ramp_arr[min(k, ramp_arr.size - 1)])
                status = "full" if k >= ramp_arr.size - 1 else "ramp"
            rows.append((str(rep.rep_id), str(rep.region), m, a, status))
    return pd.DataFrame(rows, columns=["rep_id", "region", "month", "availability", "status"])


def _window(history: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    return history[(history["month"] > end - pd.DateOffset(months=12)) & (history["month"] <= end)]


def _normalise(s: pd.Series) -> pd.Series:
    s = s.clip(lower=0).fillna(0.0)
    total = s.sum()
    return s / total if total > 0 else s * 0.0


def cell_bases(
    history: pd.DataFrame,
    year: int,
    regions: Sequence[str],
    product_lines: Sequence[str],
    availability: pd.DataFrame,
    reps: pd.DataFrame,
    level_coefficient: dict[str, float],
    region_potential: pd.Series | None = None,
    blend_weights: dict[str, float] | None = None,
    value: str = "net_amount",
) -> pd.DataFrame:
    """Shares of each region x product line cell under every allocation basis (each column sums to 1).

    * ``last_year``: the cell's share of net sales in calendar year ``year - 1``;
    * ``trailing_12m``: share of the 12 months ending at the last history month;
    * ``potential``: the region's bottom-up potential (``region_potential``, e.g. ``bottom_up_regions``)
      split over product lines by the region's last-12-month product mix (company mix if it has none);
    * ``capacity``: the region's ``sum over reps of level_coefficient * mean availability in the year``,
      split by the same product mix;
    * ``blend``: ``sum_b w_b * share_b / sum_b w_b`` over the bases in ``blend_weights``.

    Negative sales (net returns) count as 0. Returns ``region, product_line`` and one column per basis.
    """
    cells = pd.MultiIndex.from_product([list(regions), list(product_lines)], names=["region", "product_line"])
    end = pd.Timestamp(history["month"].max()) if not history.empty else pd.Timestamp(int(year) - 1, 12, 1)
    ly = history[history["month"].dt.year == int(year) - 1].groupby(["region", "product_line"])[value].sum()
    t12 = _window(history, end).groupby(["region", "product_line"])[value].sum()
    out = pd.DataFrame(index=cells)
    out["last_year"] = _normalise(ly.reindex(cells))
    out["trailing_12m"] = _normalise(t12.reindex(cells))

    mix = t12.reindex(cells).fillna(0.0).clip(lower=0).unstack("product_line").reindex(columns=list(product_lines))
    company_mix = _normalise(mix.sum())
    if company_mix.sum() == 0:
        company_mix = (
            pd.Series(1 / len(product_lines), index=list(product_lines)) if len(product_lines) else company_mix
        )
    mix = mix.apply(lambda row: _normalise(row) if row.sum() > 0 else company_mix, axis=1)

    def by_region(region_weight: pd.Series) -> pd.Series:
        w = region_weight.reindex(list(regions)).fillna(0.0).clip(lower=0)
        return _normalise(mix.mul(w, axis=0).stack().reindex(cells))

    if region_potential is None:
        region_potential = t12.groupby(level="region").sum()
    out["potential"] = by_region(region_potential)
    rep_level = reps.set_index("rep_id")["level"].astype(str)
    unknown = sorted(set(rep_level) - set(level_coefficient))
    if unknown:
        raise TargetInputError(
            f"reps: level(s) {', '.join(unknown)} not in targets.bottom_up.level_coefficient ({', '.join(level_coefficient)})"
        )
    cap = availability.groupby("rep_id").agg(region=("region", "first"), availability=("availability", "mean"))
    cap["capacity"] = cap["availability"] * cap.index.map(rep_level).map(level_coefficient).astype(float)
    out["capacity"] = by_region(cap.groupby("region")["capacity"].sum())
    weights = {k: float(v) for k, v in (blend_weights or {}).items()}
    bad = sorted(set(weights) - set(BASES))
    if bad:
        raise TargetInputError(
            f"targets.allocation.blend_weights: unknown basis {', '.join(bad)}; known: {', '.join(BASES)}"
        )
    if weights and (min(weights.values()) < 0 or sum(weights.values()) <= 0):
        raise TargetInputError(f"targets.allocation.blend_weights must be >= 0 with a positive sum, got {weights}")
    out["blend"] = sum(out[b] * w for b, w in weights.items()) / sum(weights.values()) if weights else out["last_year"]
    return out.reset_index()


def rep_cell_weights(
    history: pd.DataFrame,
    reps: pd.DataFrame,
    product_lines: Sequence[str],
    basis: str,
    year: int,
    level_coefficient: dict[str, float],
    rep_potential: pd.Series | None = None,
    blend_weights: dict[str, float] | None = None,
    value: str = "net_amount",
) -> pd.DataFrame:
    """A full-year weight for each rep in each product line of their home region (before ramp and leave).

    * ``last_year`` / ``trailing_12m``: the rep's sales of the product line in that window;
    * ``potential``: the rep's bottom-up number (``rep_potential``) split by their own product mix;
    * ``capacity``: the rep's level coefficient;
    * ``blend``: the bases' within-cell shares blended with ``blend_weights``.

    A rep with no weight in a cell (new hire, no history) gets the capacity equivalent of the cell's
    reps with history: ``mean(weight / level_coefficient) * own level_coefficient``; the level
    coefficient itself when nobody in the cell has history. Returns ``rep_id, region, product_line, weight``.
    """
    lvl = reps.set_index("rep_id")["level"].astype(str).map(level_coefficient).astype(float)
    grid = pd.MultiIndex.from_product(
        [reps["rep_id"].astype(str), list(product_lines)], names=["rep_id", "product_line"]
    )
    end = pd.Timestamp(history["month"].max()) if not history.empty else pd.Timestamp(int(year) - 1, 12, 1)
    by_rep = {
        "last_year": history[history["month"].dt.year == int(year) - 1]
        .groupby(["rep_id", "product_line"])[value]
        .sum(),
        "trailing_12m": _window(history, end).groupby(["rep_id", "product_line"])[value].sum(),
    }
    t12 = by_rep["trailing_12m"].reindex(grid).fillna(0.0).clip(lower=0)
    own_mix = t12.groupby(level="rep_id").transform(lambda s: _normalise(s) if s.sum() > 0 else s * 0 + 1 / len(s))
    pot = rep_potential if rep_potential is not None else t12.groupby(level="rep_id").sum()
    by_rep["potential"] = own_mix * grid.get_level_values("rep_id").map(pot).fillna(0.0).to_numpy()
    by_rep["capacity"] = pd.Series(grid.get_level_values("rep_id").map(lvl).to_numpy(), index=grid)

    region = reps.set_index("rep_id")["region"].astype(str)
    frame = pd.DataFrame(index=grid).reset_index()
    frame["region"] = frame["rep_id"].map(region)

    def filled(raw: pd.Series) -> pd.Series:
        w = raw.reindex(grid).fillna(0.0).clip(lower=0).to_numpy()
        f = frame.assign(w=w, lvl=frame["rep_id"].map(lvl).to_numpy())
        per_cap = (f["w"] / f["lvl"]).where(f["w"] > 0)
        avg = per_cap.groupby([f["region"], f["product_line"]]).transform("mean")
        return pd.Series(np.where(f["w"] > 0, f["w"], avg.fillna(1.0) * f["lvl"]), index=f.index)

    if basis in BASES:
        frame["weight"] = filled(by_rep[basis])
    elif basis == "blend":
        weights = {k: float(v) for k, v in (blend_weights or {}).items()}
        if not weights or sum(weights.values()) <= 0:
            raise TargetInputError("targets.allocation.blend_weights: need at least one basis with a positive weight")
        total = pd.Series(0.0, index=frame.index)
        for b, w in weights.items():
            if b not in BASES:
                raise TargetInputError(
                    f"targets.allocation.blend_weights: unknown basis {b}; known: {', '.join(BASES)}"
                )
            part = filled(by_rep[b])
            total += w * part / part.groupby([frame["region"], frame["product_line"]]).transform("sum")
        frame["weight"] = total / sum(weights.values())
    else:
        raise TargetInputError(
            f"targets.allocation.basis: expected one of {', '.join((*BASES, 'blend'))}, got {basis!r}"
        )
    return frame[["rep_id", "region", "product_line", "weight"]]


def product_line_tiers(
    history: pd.DataFrame,
    product_lines: Sequence[str],
    tier_factor: dict[str, float],
    value: str = "net_amount",
) -> pd.DataFrame:
    """Each product line's tier and tier weight, from the tier of the SKUs it sold in the last 12 months.

    ``tier_factor_l = sum_t sales_(l,t) * factor_t / sum_t sales_(l,t)`` over the line's tiers ``t``
    (positive net sales of the 12 months ending at the last history month), so a line whose SKUs are all
    one tier takes that tier's weight. ``tier`` is the tier with the most sales. A line without sales or
    history without a ``tier`` column has no tier (:data:`NO_TIER`, weight 1.0).
    Returns ``product_line, tier, tier_factor``.
    """
    lines = list(product_lines)
    out = pd.DataFrame({"product_line": lines, "tier": NO_TIER, "tier_factor": 1.0})
    if "tier" not in history.columns or history.empty:
        return out
    end = pd.Timestamp(history["month"].max())
    sales = _window(history, end).groupby(["product_line", "tier"])[value].sum().clip(lower=0)
    sales = sales[sales > 0]
    unknown = sorted({str(t) for t in sales.index.get_level_values("tier")} - set(tier_factor))
    if unknown:
        raise TargetInputError(
            f"products: tier(s) {', '.join(unknown)} have no weight in targets.tier_factors.product_line "
            f"({', '.join(tier_factor)})"
        )
    for i, line in enumerate(lines):
        if line not in sales.index.get_level_values("product_line"):
            continue
        s = sales.xs(line, level="product_line")
        out.loc[i, "tier"] = str(s.idxmax())
        out.loc[i, "tier_factor"] = float(
            (s * s.index.map(lambda t: tier_factor[str(t)]).astype(float)).sum() / s.sum()
        )
    return out


def region_cell_shares(
    bases: pd.DataFrame,
    basis: str,
    region_factor: pd.Series,
    line_factor: pd.Series,
) -> pd.DataFrame:
    """Each region x product line cell's share of its region and of the company, with tier weights.

    With ``b`` the basis share of the cell (:func:`cell_bases`), ``f_l`` the product line's tier weight and
    ``g_r`` the region's::

        within_(r,l) = b_(r,l) * f_l / sum_l' b_(r,l') * f_l'                (sums to 1 in each region)
        share_(r,l)  = g_r * B_r * within_(r,l),   B_r = sum_l b_(r,l)      (the company split, normalised
                                                                             by the largest remainder)

    so product-line tiers move amounts between a region's lines only, and region tiers between regions.
    A region without any basis takes the company's line split of the basis (``sum_r b_(r,l) * f_l``), the
    tier weights alone if the basis is empty everywhere, even lines if those are all zero.
    With all weights 1.0, ``share`` is the basis share itself (``b * 1 * B_r / B_r``).
    Returns ``region, product_line, basis_share, within, share``.
    """
    cells = bases[["region", "product_line"]].copy()
    b = bases[basis].clip(lower=0).fillna(0.0).to_numpy(dtype="float64")
    f = cells["product_line"].map(line_factor).fillna(1.0).to_numpy(dtype="float64")
    g = cells["region"].map(region_factor).fillna(1.0).to_numpy(dtype="float64")
    weighted = pd.Series(b * f, index=cells.index)
    region_sum = weighted.groupby(cells["region"]).transform("sum")
    basis_sum = pd.Series(b, index=cells.index).groupby(cells["region"]).transform("sum")
    company = weighted.groupby(cells["product_line"]).sum()
    if company.sum() <= 0:
        company = pd.Series(line_factor, dtype="float64").reindex(company.index).fillna(1.0)
    if company.sum() <= 0:
        company = company * 0 + 1.0
    fallback = cells["product_line"].map(company / company.sum()).to_numpy(dtype="float64")
    within = np.where(region_sum > 0, weighted / region_sum.where(region_sum > 0, 1.0), fallback)
    ratio = (basis_sum / region_sum.where(region_sum > 0, 1.0)).to_numpy(dtype="float64")
    share = np.where(region_sum > 0, b * f * g * ratio, 0.0)
    return cells.assign(basis_share=b, within=within, share=share)


def fit_to_totals(
    seed: np.ndarray, row_totals: np.ndarray, col_totals: np.ndarray, tol: float, max_iter: int = 5000
) -> tuple[np.ndarray, bool]:
    """Iterative proportional fitting (RAS): scale ``seed`` so its rows sum to ``row_totals`` and its columns
    to ``col_totals``, keeping its zeros (a rep off board in a month stays at 0).

    Alternately ``y_pk *= R_p / sum_k y_pk`` (rows) and ``y_pk *= X_k / sum_p y_pk`` (columns) until every row
    is within ``tol`` of its total. The result always ends on a column step, so the columns add up exactly;
    when the zeros make the row totals impossible (e.g. a leaver whose months on board cannot carry their
    share) the rows end where the iteration stops moving them (the reps who can carry more take the rest)
    and ``converged`` is False. A column whose entries
    all went to zero while it still has an amount falls back to the seed's split of it.
    Returns ``(fitted table, converged)``.
    """
    y = np.asarray(seed, dtype="float64").copy()
    rows = np.asarray(row_totals, dtype="float64")
    cols = np.asarray(col_totals, dtype="float64")
    seed_cols = y.sum(axis=0)
    converged = False
    previous = np.full(rows.shape, np.inf)
    for _ in range(max_iter):
        r = y.sum(axis=1)
        y *= np.divide(rows, r, out=np.zeros_like(rows), where=r > 0)[:, None]
        c = y.sum(axis=0)
        empty = (c <= 0) & (cols > 0) & (seed_cols > 0)
        if empty.any():
            y[:, empty] = seed[:, empty]
            c = y.sum(axis=0)
        y *= np.divide(cols, c, out=np.zeros_like(cols), where=c > 0)[None, :]
        fitted = y.sum(axis=1)
        if np.max(np.abs(fitted - rows), initial=0.0) <= tol:
            converged = True
            break
        # Rows that no longer move cannot get closer: the zeros make their totals impossible.
        if np.max(np.abs(fitted - previous), initial=0.0) <= tol * 1e-3:
            break
        previous = fitted
    return y, converged


def _round_reps(y: np.ndarray, x: np.ndarray, wanted: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Whole units for a region's rep x cell-month table ``y``: columns add up to ``x`` exactly, and each rep's
    year is ``wanted`` rounded down or up where ``exact`` (the fit reached it), else its fitted total rounded."""
    fitted = y.sum(axis=1)
    aim = np.where(exact, wanted, fitted)
    slack = 1e-6 * max(1.0, float(x.sum()))
    for lo, hi in (
        (np.floor(aim), np.ceil(aim)),
        (np.floor(fitted), np.ceil(fitted)),
        (np.floor(fitted - slack), np.ceil(fitted + slack)),
    ):
        out = controlled_round(y, x, lo, hi)
        if out is not None:
            return out
    # Cannot happen for a table whose columns add up (the last bounds hold the table itself); kept so a
    # numerical corner degrades to exact columns with rep years within a unit per month.
    return np.column_stack([largest_remainder(y[:, k], int(x[k])) for k in range(y.shape[1])])


def allocate(
    months: pd.DataFrame,
    cell_share: pd.DataFrame,
    rep_weights: pd.DataFrame,
    availability: pd.DataFrame,
    buffer: float = 0.0,
    *,
    cell_totals: pd.DataFrame | None = None,
    rep_bottom_up: pd.Series | None = None,
    rep_totals: str = "basis",
    rep_top_down_weight: float = 0.0,
) -> dict[str, pd.DataFrame]:
    """Break the monthly totals down to month x region x product line x rep, exactly.

    1. Month x cell. Without ``cell_totals``: ``cell_month = largest_remainder(cell share, month total)`` for
       each month (constant cell shares; the cells' years follow from the months). With ``cell_totals``
       (``region, product_line, target_amount``: each cell's whole-unit year): the table
       ``x_(m,c) = M_m * C_c / total`` rounded by :func:`~salesplan.targets.rounding.controlled_round`, so
       every month adds up to its total ``M_m`` *and* every cell's year to ``C_c``.
    2. Reps. In a month in which no rep of the region is on board, the cell's amount goes to rep
       ``(unassigned)``, so a leaver's share stays in their region. The rest, ``A_r`` for region ``r``, goes
       to the reps with ``v_(p,m,l) = weight_(p,l) * availability_(p,m)``:

       * the basis view: ``basis_p = sum over cell-months k of x_k * v_(p,k) / sum_q v_(q,k)``;
       * the reconciled view (with ``rep_bottom_up``, ``bu_p``), by the top level's rule::

             reconciled_p = A_r * (w * basis_p / A_r + (1 - w) * bu_p / sum_q bu_q)

         ``w = rep_top_down_weight`` (0 under scale_to_top_down: the bottom-up shape scaled to the region's
         amount; the top-down weight under blend, the region's amount split by the basis being the
         top-down view of the team). Without any bottom-up in the region the basis view is used.
       * ``rep_totals = "basis"``: each cell-month split by ``largest_remainder(v, x_k)`` (the basis view in
         whole units); ``"reconciled"``: the basis split fitted by :func:`fit_to_totals` to rows
         ``reconciled_p`` and columns ``x_k``, then rounded by controlled rounding, so every rep's year is
         their reconciled number rounded down or up (when their months on board can carry it) and every
         cell-month adds up exactly.
    3. Quotas with the over-assignment buffer: ``Q = round(year total * (1 + buffer))`` is split down the same
       tree (months by target, cells by target, reps by target), so quotas too add up at every level.

    ``months``: ``month, target_amount``; ``cell_share``: ``region, product_line, share``;
    ``rep_weights``: :func:`rep_cell_weights`; ``availability``: :func:`rep_availability`.
    Rep rows with neither target nor quota are left out of ``plan``.
    Returns the intermediate levels (``months``, ``cells``, ``plan``) so every level can be checked, and
    ``reps``: ``rep_id, region, bottom_up, basis_view, reconciled, fitted, final, fit`` (one row per rep
    who can carry an amount, plus one :data:`UNASSIGNED` row per region holding one; ``fit``: ``exact``,
    ``dates`` when the months on board could not carry the reconciled number, ``basis``).
    """
    if buffer < 0:
        raise TargetInputError(f"targets.over_assignment_buffer must be >= 0, got {buffer!r}")
    if rep_totals not in TOTALS:
        raise TargetInputError(f"targets.allocation.rep_totals: expected reconciled or basis, got {rep_totals!r}")
    if rep_totals == "reconciled" and rep_bottom_up is None:
        raise TargetInputError("allocate: rep_totals 'reconciled' needs the reps' bottom-up numbers")
    cells = cell_share.reset_index(drop=True)
    if cell_totals is None:
        rows = []
        for m in months.itertuples(index=False):
            amounts = largest_remainder(cells["share"].to_numpy(), int(m.target_amount))
            rows.append(cells[["region", "product_line"]].assign(month=m.month, target_amount=amounts))
        cell_month = pd.concat(rows, ignore_index=True)
    else:
        cell_month = _months_by_cell(months, cells[["region", "product_line"]], cell_totals)

    total = int(months["target_amount"].sum())
    quota_total = int(np.floor(total * (1 + float(buffer)) + 0.5))
    month_q = months.assign(quota_amount=largest_remainder(months["target_amount"].to_numpy(), quota_total))
    cell_month["quota_amount"] = 0
    for m in month_q.itertuples(index=False):
        idx = np.flatnonzero((cell_month["month"] == m.month).to_numpy())
        cell_month.iloc[idx, cell_month.columns.get_loc("quota_amount")] = largest_remainder(
            cell_month["target_amount"].to_numpy()[idx], int(m.quota_amount)
        )

    rep_month = rep_weights.merge(availability[["rep_id", "month", "availability"]], on="rep_id", how="inner")
    rep_month["w"] = rep_month["weight"] * rep_month["availability"]
    rep_month = rep_month[rep_month["w"] > 0].sort_values(["month", "region", "product_line", "rep_id"])
    rep_month = rep_month.reset_index(drop=True)
    target, unassigned, reps = _split_to_reps(
        cell_month, rep_month, rep_bottom_up, rep_totals, float(rep_top_down_weight)
    )
    groups = rep_month.groupby(["month", "region", "product_line"], sort=False).indices
    w_all = rep_month["w"].to_numpy()
    quota = np.zeros(len(rep_month), dtype="int64")
    unassigned_quota = {}
    for c in cell_month.itertuples(index=False):
        idx = groups.get((c.month, c.region, c.product_line))
        if idx is None:
            unassigned_quota[(c.month, c.region, c.product_line)] = int(c.quota_amount)
            continue
        t = target[idx]
        quota[idx] = largest_remainder(w_all[idx] if c.target_amount == 0 else t, int(c.quota_amount))
    unassigned_rows = [(*key, UNASSIGNED, amount, unassigned_quota[key]) for key, amount in unassigned.items()]
    parts = [
        rep_month[["month", "region", "product_line", "rep_id"]].assign(target_amount=target, quota_amount=quota),
        pd.DataFrame(
            unassigned_rows, columns=["month", "region", "product_line", "rep_id", "target_amount", "quota_amount"]
        ).astype({"target_amount": "int64", "quota_amount": "int64"}),
    ]
    plan = pd.concat([p for p in parts if len(p)], ignore_index=True)
    # Rows carrying nothing are left out: the plan file lists only real numbers, and a product line or rep
    # without any amount does not change the saved plan.
    plan = plan[(plan["target_amount"] != 0) | (plan["quota_amount"] != 0)]
    return {"months": month_q, "cells": cell_month, "plan": plan.reset_index(drop=True), "reps": reps}


def _months_by_cell(months: pd.DataFrame, cells: pd.DataFrame, cell_totals: pd.DataFrame) -> pd.DataFrame:
    """Month x cell whole units adding up both ways: to each month's total and to each cell's year."""
    years = cells.merge(cell_totals, on=["region", "product_line"], how="left")["target_amount"]
    years = years.fillna(0).astype("int64").to_numpy()
    month_totals = months["target_amount"].astype("int64").to_numpy()
    total = int(month_totals.sum())
    if int(years.sum()) != total:
        raise TargetInputError(
            f"allocate: the cells' years sum to {int(years.sum())}, the months to {total}; they must be equal"
        )
    table = np.outer(month_totals, years) / total if total > 0 else np.zeros((len(month_totals), len(years)))
    amounts = controlled_round(table, years, month_totals, month_totals)
    if amounts is None:  # pragma: no cover - the product table has exactly these margins, so a rounding exists
        raise TargetInputError("allocate: could not round the month x cell table to whole units")
    rows = [cells.assign(month=m, target_amount=amounts[i]) for i, m in enumerate(months["month"])]
    return pd.concat(rows, ignore_index=True)


def _split_to_reps(
    cell_month: pd.DataFrame,
    rep_month: pd.DataFrame,
    rep_bottom_up: pd.Series | None,
    rep_totals: str,
    w_td: float,
) -> tuple[np.ndarray, dict[tuple, int], pd.DataFrame]:
    """Targets of ``rep_month``'s rows (in its order), the unassigned cell-months, and the rep view table."""
    target = np.zeros(len(rep_month), dtype="int64")
    unassigned: dict[tuple, int] = {}
    trace = []
    keys = ["month", "region", "product_line"]
    position = {k: i for i, k in enumerate(zip(*(rep_month[c] for c in keys), rep_month["rep_id"], strict=True))}
    for region, cm in cell_month.groupby("region", sort=True):
        rm = rep_month[rep_month["region"] == region]
        reps = sorted(rm["rep_id"].unique())
        col_keys = list(zip(cm["month"], cm["region"], cm["product_line"], strict=True))
        x = cm["target_amount"].to_numpy(dtype="int64")
        v = np.zeros((len(reps), len(col_keys)))
        col_of = {k: j for j, k in enumerate(col_keys)}
        row_of = {r: i for i, r in enumerate(reps)}
        for r in rm.itertuples(index=False):
            v[row_of[r.rep_id], col_of[(r.month, r.region, r.product_line)]] = r.w
        carried = v.sum(axis=0) > 0
        for j in np.flatnonzero(~carried):
            unassigned[col_keys[j]] = int(x[j])
        lost = int(x[~carried].sum())
        if lost:
            trace.append((UNASSIGNED, region, np.nan, np.nan, float(lost), float(lost), lost, "unassigned"))
        if not reps:
            continue
        vk, xk = v[:, carried], x[carried]
        amount = int(xk.sum())
        basis_view = (vk * (xk / vk.sum(axis=0))[None, :]) if vk.size else vk
        basis_total = basis_view.sum(axis=1)
        bu = (
            rep_bottom_up.reindex(reps).fillna(0.0).clip(lower=0).to_numpy(dtype="float64")
            if rep_bottom_up is not None
            else np.full(len(reps), np.nan)
        )
        if rep_bottom_up is not None and bu.sum() > 0 and amount > 0:
            wanted = amount * (w_td * basis_total / amount + (1 - w_td) * bu / bu.sum())
        else:
            wanted = basis_total.copy()
        if rep_totals == "reconciled":
            # Fit to a ten-thousandth of a unit (or float precision on large amounts); a rep still a hundredth
            # of a unit off their number cannot reach it within their months on board.
            tol = max(1e-4, 1e-12 * float(amount))
            fitted_table, _ = fit_to_totals(basis_view, wanted, xk.astype("float64"), tol)
            fitted = fitted_table.sum(axis=1)
            exact = np.abs(fitted - wanted) <= max(1e-2, 10 * tol)
            whole = _round_reps(fitted_table, xk, wanted, exact)
            fit = np.where(exact, "exact", "dates")
        else:
            fitted = basis_total
            whole = np.column_stack(
                [largest_remainder(vk[:, j], int(xk[j])) for j in range(vk.shape[1])]
            ) if vk.size else np.zeros_like(vk, dtype="int64")  # fmt: skip
            fit = np.full(len(reps), "basis")
        carried_keys = [k for k, c in zip(col_keys, carried, strict=True) if c]
        for i, rep in enumerate(reps):
            for j, k in enumerate(carried_keys):
                if vk[i, j] > 0:
                    target[position[(*k, rep)]] = whole[i, j]
                elif whole[i, j]:  # pragma: no cover - rounding never moves units onto a structural zero
                    raise TargetInputError(f"allocate: {rep} would carry an amount in a month off board")
            trace.append((rep, region, bu[i], basis_total[i], wanted[i], fitted[i], int(whole[i].sum()), str(fit[i])))
    cols = ["rep_id", "region", "bottom_up", "basis_view", "reconciled", "fitted", "final", "fit"]
    return target, unassigned, pd.DataFrame(trace, columns=cols)
