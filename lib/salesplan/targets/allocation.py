"""Allocation: month totals -> region x product line -> reps, in whole units that add up at every level."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesplan.targets.rounding import TargetInputError, largest_remainder

UNASSIGNED = "(unassigned)"
"""rep_id of a region's target for months in which the region has no rep on board."""

BASES = ("last_year", "trailing_12m", "potential", "capacity")


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


def allocate(
    months: pd.DataFrame,
    cell_share: pd.DataFrame,
    rep_weights: pd.DataFrame,
    availability: pd.DataFrame,
    buffer: float = 0.0,
) -> dict[str, pd.DataFrame]:
    """Break the monthly totals down to month x region x product line x rep, exactly.

    1. ``cell_month`` = ``largest_remainder(cell share, month total)`` for each month (constant cell shares);
    2. ``rep`` rows = ``largest_remainder(weight_rep * availability_rep,month, cell_month)``; when no rep of
       the region is on board that month the cell's amount goes to rep ``(unassigned)``, so a leaver's share
       stays in their region;
    3. quotas with the over-assignment buffer: ``Q = round(year total * (1 + buffer))`` is split down the same
       tree (months by target, cells by target, reps by target), so quotas too add up at every level.

    ``months``: ``month, target_amount``; ``cell_share``: ``region, product_line, share``;
    ``rep_weights``: :func:`rep_cell_weights`; ``availability``: :func:`rep_availability`.
    Rep rows with neither target nor quota are left out of ``plan``.
    Returns the intermediate levels (``months``, ``cells``, ``plan``) so every level can be checked.
    """
    if buffer < 0:
        raise TargetInputError(f"targets.over_assignment_buffer must be >= 0, got {buffer!r}")
    cells = cell_share.reset_index(drop=True)
    rows = []
    for m in months.itertuples(index=False):
        amounts = largest_remainder(cells["share"].to_numpy(), int(m.target_amount))
        rows.append(cells[["region", "product_line"]].assign(month=m.month, target_amount=amounts))
    cell_month = pd.concat(rows, ignore_index=True)

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
    groups = rep_month.groupby(["month", "region", "product_line"], sort=False).indices
    w_all = rep_month["w"].to_numpy()
    target = np.zeros(len(rep_month), dtype="int64")
    quota = np.zeros(len(rep_month), dtype="int64")
    unassigned = []
    for c in cell_month.itertuples(index=False):
        idx = groups.get((c.month, c.region, c.product_line))
        if idx is None:
            unassigned.append(
                (c.month, c.region, c.product_line, UNASSIGNED, int(c.target_amount), int(c.quota_amount))
            )
            continue
        t = largest_remainder(w_all[idx], int(c.target_amount))
        target[idx] = t
        quota[idx] = largest_remainder(w_all[idx] if c.target_amount == 0 else t, int(c.quota_amount))
    parts = [
        rep_month[["month", "region", "product_line", "rep_id"]].assign(target_amount=target, quota_amount=quota),
        pd.DataFrame(
            unassigned, columns=["month", "region", "product_line", "rep_id", "target_amount", "quota_amount"]
        ).astype({"target_amount": "int64", "quota_amount": "int64"}),
    ]
    plan = pd.concat([p for p in parts if len(p)], ignore_index=True)
    # Rows carrying nothing are left out: the plan file lists only real numbers, and a product line or rep
    # without any amount does not change the saved plan.
    plan = plan[(plan["target_amount"] != 0) | (plan["quota_amount"] != 0)]
    return {"months": month_q, "cells": cell_month, "plan": plan.reset_index(drop=True)}
