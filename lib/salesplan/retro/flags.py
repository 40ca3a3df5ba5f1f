"""Deviation flags: actual against plan for every region, product line, region x product
line and rep, with the escalation level, the owner and blank meeting columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from salesplan.metrics import attainment
from salesplan.retro.periods import RetroInputError, Window, as_period, window
from salesplan.status import SEVERITY, STATUS_ORDER, check_thresholds, deviation  # noqa: F401  (re-exported)
from salesplan.status import deviation_status as classify_deviation
from salesplan.targets.allocation import UNASSIGNED

LEVELS: dict[str, list[str]] = {
    "region": ["region"],
    "product_line": ["product_line"],
    "region x product_line": ["region", "product_line"],
    "rep": ["rep_id"],
}
"""Flag levels and the dimension columns each is grouped by."""

FLAG_COLUMNS: list[str] = [
    "period",
    "period_label",
    "level",
    "key",
    "item",
    "region",
    "product_line",
    "rep_id",
    "actual",
    "target",
    "gap",
    "attainment",
    "deviation",
    "status",
    "escalation",
    "owner",
    "cause_5why",
    "next_step",
]


def empty_plan() -> pd.DataFrame:
    """A plan without rows in the tidy form (for a year without targets: every item reads "no target")."""
    return pd.DataFrame(
        {
            "year": pd.Series(dtype="int64"),
            "month": pd.Series(dtype="datetime64[ns]"),
            "region": pd.Series(dtype=object),
            "product_line": pd.Series(dtype=object),
            "rep_id": pd.Series(dtype=object),
            "target_amount": pd.Series(dtype="float64"),
        }
    )


def plan_months(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan (``year``, ``month`` 1-12, dimensions, ``target_amount``) with ``month`` as a
    first-of-month timestamp, the tidy form the cube uses."""
    need = ["year", "month", "region", "product_line", "rep_id", "target_amount"]
    missing = [c for c in need if c not in plan.columns]
    if missing:
        raise RetroInputError(f"plan: missing column(s) {', '.join(missing)}; need {', '.join(need)}")
    if (
        pd.api.types.is_datetime64_any_dtype(plan["month"])
        and pd.api.types.is_float_dtype(plan["target_amount"])
        and bool((plan["month"].dt.day == 1).all())
    ):
        return plan  # already in tidy form
    if pd.api.types.is_datetime64_any_dtype(plan["month"]):
        months = plan["month"].dt.to_period("M").dt.to_timestamp()
    else:
        bad = ~pd.to_numeric(plan["month"], errors="coerce").between(1, 12)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise RetroInputError(f"plan: column month must be 1-12; row index {row} has {plan['month'].iloc[row]}")
        months = pd.to_datetime(
            {"year": plan["year"].astype(int), "month": plan["month"].astype(int), "day": 1}
        ).astype("datetime64[ns]")
    target = pd.to_numeric(plan["target_amount"], errors="coerce")
    if target.isna().any():
        row = int(np.flatnonzero(target.isna())[0])
        raise RetroInputError(
            f"plan: target_amount must be a number; row index {row} has {plan['target_amount'].iloc[row]!r}"
        )
    return plan.assign(month=months, target_amount=target.astype(float))


def _dims_as_str(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    return frame.assign(**{c: frame[c].astype(object).where(frame[c].notna(), None) for c in by}).astype(
        {c: str for c in by}
    )


def actual_vs_plan(
    cube: pd.DataFrame, plan: pd.DataFrame, win: Window, by: Sequence[str], value: str = "net_amount"
) -> pd.DataFrame:
    """Actual (sum of ``value`` in the cube) against target (sum of ``target_amount``) over the
    months of ``win``, per ``by`` group (``by=[]`` gives one total row).

    Groups present on either side are kept (missing side = 0). Columns: ``by``, ``actual``,
    ``target``, ``gap`` (= actual - target), ``attainment`` (= actual / target, NaN for no
    target) and ``deviation`` (= attainment - 1).
    """
    by = list(by)
    plan_m = plan if pd.api.types.is_datetime64_any_dtype(plan["month"]) else plan_months(plan)
    act = cube.loc[win.contains(cube["month"]), [*by, value]]
    tgt = plan_m.loc[win.contains(plan_m["month"]), [*by, "target_amount"]]
    if by:
        # Plan rows without this dimension (e.g. no rep) do not belong to any item of the level.
        tgt = tgt.dropna(subset=by)
        a = _dims_as_str(act, by).groupby(by)[value].sum().rename("actual")
        t = _dims_as_str(tgt, by).groupby(by)["target_amount"].sum().rename("target")
        out = pd.concat([a, t], axis=1).fillna(0.0).reset_index()
    else:
        out = pd.DataFrame({"actual": [float(act[value].sum())], "target": [float(tgt["target_amount"].sum())]})
    return out.assign(
        actual=lambda d: d["actual"].astype(float),
        target=lambda d: d["target"].astype(float),
        gap=lambda d: d["actual"] - d["target"],
        attainment=lambda d: attainment(d["actual"], d["target"]),
        deviation=lambda d: deviation(d["actual"], d["target"]),
    )


def _rep_table(reps: pd.DataFrame) -> pd.DataFrame:
    """The reps table indexed by ``rep_id`` as text, one row per rep (first row of a duplicate)."""
    missing = [c for c in ("rep_id", "rep_name", "region") if c not in reps.columns]
    if missing:
        raise RetroInputError(f"reps: missing column(s) {', '.join(missing)}; need rep_id, rep_name, region")
    return reps.assign(rep_id=reps["rep_id"].astype(str)).drop_duplicates("rep_id").set_index("rep_id")


def region_leads(reps: pd.DataFrame, month: str | pd.Period | None = None) -> dict[str, str]:
    """Region -> name of its lead (the rep with level ``lead`` in that region; if several,
    the one still employed at ``month``, then the lowest ``rep_id``)."""
    need = ["rep_id", "rep_name", "region", "level"]
    missing = [c for c in need if c not in reps.columns]
    if missing:
        raise RetroInputError(f"reps: missing column(s) {', '.join(missing)}")
    leads = reps[reps["level"].astype(str) == "lead"].copy()
    if month is not None and "leave_date" in leads.columns:
        start = as_period(month).to_timestamp(how="start")
        leave = pd.to_datetime(leads["leave_date"], errors="coerce")
        leads = leads.assign(_left=leave.notna() & (leave < start))
    else:
        leads = leads.assign(_left=False)
    leads = leads.sort_values(["_left", "rep_id"], kind="stable")
    return leads.groupby(leads["region"].astype(str), sort=False)["rep_name"].first().astype(str).to_dict()


def owners(
    items: pd.DataFrame,
    level: str,
    reps: pd.DataFrame,
    product_owners: Mapping[str, str] | None = None,
    month: str | pd.Period | None = None,
) -> pd.Series:
    """Owner of each flagged item of ``level``.

    rep -> the rep's name; region and region x product line -> the region's lead (see
    :func:`region_leads`, else ``"Region head, <region>"``); product line ->
    ``product_owners[line]`` (config ``retro.product_owners``), else ``"Product manager, <line>"``.
    """
    if level == "rep":
        names = _rep_table(reps)["rep_name"].astype(str)
        return items["rep_id"].map(names).fillna("Rep " + items["rep_id"].astype(str))
    if level in ("region", "region x product_line"):
        leads = region_leads(reps, month)
        return items["region"].map(leads).fillna("Region head, " + items["region"].astype(str))
    if level == "product_line":
        mapping = {str(k): str(v) for k, v in (product_owners or {}).items()}
        return items["product_line"].map(mapping).fillna("Product manager, " + items["product_line"].astype(str))
    raise RetroInputError(f"flag level {level!r} is not one of {', '.join(LEVELS)}")


def _item_label(items: pd.DataFrame, level: str, reps: pd.DataFrame) -> pd.Series:
    if level == "rep":
        names = _rep_table(reps)["rep_name"].astype(str)
        name = items["rep_id"].map(names)
        return (name.fillna("?") + " (" + items["rep_id"] + ")").where(name.notna(), items["rep_id"])
    return items[LEVELS[level]].astype(str).agg(" / ".join, axis=1)


def deviation_flags(
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    month: str | pd.Period,
    reps: pd.DataFrame,
    thresholds: Mapping[str, float],
    escalation: Mapping[str, str] | None = None,
    product_owners: Mapping[str, str] | None = None,
    periods: Sequence[str] = ("month", "ytd"),
    levels: Sequence[str] = tuple(LEVELS),
) -> pd.DataFrame:
    """Flag table: one row per period (``month``, ``ytd``, ``quarter`` ...), level and item.

    Each row: ``actual``, ``target``, ``gap``, ``attainment``, ``deviation`` (see
    :func:`actual_vs_plan`), ``status`` (see :func:`classify_deviation`), ``escalation``
    (the configured response for yellow / red / dark red, else blank), ``owner`` (see
    :func:`owners`) and blank ``cause_5why`` / ``next_step`` columns for the meeting.
    ``key`` identifies the item across months (dimension values joined by ``|``). A rep's
    ``region`` is taken from the reps table; plan rows of the unassigned rep
    (:data:`salesplan.targets.allocation.UNASSIGNED`) count in the totals but are not a rep
    item. Items ahead of plan are kept. Sorted by period, level, severity and gap (largest
    shortfall first).
    """
    t = check_thresholds(thresholds)
    esc = {str(k): str(v) for k, v in (escalation or {}).items()}
    rep_region = _rep_table(reps)["region"].astype(str)
    plan_m = plan_months(plan)
    parts = []
    for kind in periods:
        win = window(month, kind)
        for level in levels:
            if level not in LEVELS:
                raise RetroInputError(f"flag level {level!r} is not one of {', '.join(LEVELS)}")
            by = LEVELS[level]
            items = actual_vs_plan(cube, plan_m, win, by)
            if level == "rep":
                # A region's target for months without a rep on board has no rep to flag; it
                # stays in the region and product line totals.
                items = items.loc[items["rep_id"] != UNASSIGNED].copy()
            for col in ("region", "product_line", "rep_id"):
                if col not in items.columns:
                    items[col] = items["rep_id"].map(rep_region) if col == "region" and level == "rep" else ""
            items = items.fillna({"region": ""})
            status = classify_deviation(items["actual"], items["target"], t)
            parts.append(
                items.assign(
                    period=kind,
                    period_label=win.label,
                    level=level,
                    key=items[by].astype(str).agg("|".join, axis=1),
                    item=_item_label(items, level, reps),
                    status=status,
                    escalation=[esc.get(s, "") for s in status],
                    owner=owners(items, level, reps, product_owners, month),
                    cause_5why="",
                    next_step="",
                )
            )
    if not parts:
        return pd.DataFrame(columns=FLAG_COLUMNS)
    flags = pd.concat(parts, ignore_index=True)[FLAG_COLUMNS]
    rank = flags["status"].map({s: i for i, s in enumerate(STATUS_ORDER)})
    period_rank = flags["period"].map({p: i for i, p in enumerate(periods)})
    level_rank = flags["level"].map({lv: i for i, lv in enumerate(levels)})
    return (
        flags.assign(_p=period_rank, _l=level_rank, _s=rank)
        .sort_values(["_p", "_l", "_s", "gap", "key"], kind="stable")
        .drop(columns=["_p", "_l", "_s"])
        .reset_index(drop=True)
    )


def flag_counts(flags: pd.DataFrame, period: str | None = None) -> pd.Series:
    """Number of items per status (all of :data:`STATUS_ORDER`, zeros included), optionally
    for one ``period`` only."""
    part = flags if period is None else flags[flags["period"] == period]
    return part["status"].value_counts().reindex(list(STATUS_ORDER), fill_value=0).astype(int).rename("items")


def flag_matrix(flags: pd.DataFrame, period: str = "ytd", value: str = "deviation") -> pd.DataFrame:
    """Region x product line table of ``value`` for one period (rows: regions, columns: product lines)."""
    part = flags[(flags["period"] == period) & (flags["level"] == "region x product_line")]
    return part.pivot(index="region", columns="product_line", values=value)
