"""Deviation flags: actual against plan for every region, product line, region x product
line and rep, with the escalation level, the owner and blank meeting columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesplan.metrics import attainment
from salesplan.retro.periods import RetroInputError, Window, as_period, window
from salesplan.status import SEVERITY, STATUS_ORDER, check_thresholds, deviation, thresholds_of  # noqa: F401  (re-exported)
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
    "left",
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


def has_left(leave_date: object, month: str | pd.Period | pd.Series | np.ndarray) -> np.ndarray:
    """Whether a rep has left as of ``month``: ``leave_date`` is before the month's first day, so
    they worked no day of it. The one rule every page uses (owners, actions, risks, warnings,
    payouts): a rep leaving during the month still counts for that month. Missing or unreadable
    dates: not left. ``month``: one month for every date, or one per date (dates within the
    month). Returns a boolean array (one value per date given)."""
    leave = pd.to_datetime(pd.Series(np.atleast_1d(np.asarray(leave_date, dtype=object))), errors="coerce")
    if isinstance(month, str | pd.Period) or np.ndim(month) == 0:
        start: Any = as_period(month).to_timestamp(how="start")
    else:
        start = pd.to_datetime(pd.Series(np.asarray(month))).dt.to_period("M").dt.to_timestamp().to_numpy()
    return (leave.notna() & (leave < start)).to_numpy(dtype=bool)


def leavers(reps: pd.DataFrame, month: str | pd.Period | None) -> pd.Series:
    """Leave date (timestamp) by ``rep_id`` (text) of every rep who has left as of ``month``
    (:func:`has_left`); empty without a month or a ``leave_date`` column."""
    if month is None or "leave_date" not in reps.columns or reps.empty:
        return pd.Series(dtype="datetime64[ns]", name="leave_date")
    table = reps.assign(rep_id=reps["rep_id"].astype(str)).drop_duplicates("rep_id").set_index("rep_id")
    gone = has_left(table["leave_date"].to_numpy(dtype=object), month)
    return pd.to_datetime(table.loc[gone, "leave_date"]).astype("datetime64[ns]").rename("leave_date")


def left_label(leave_date: object) -> str:
    """How an item of a rep who has left is marked: ``"left 2026-05-31"``."""
    return f"left {pd.Timestamp(leave_date):%Y-%m-%d}"


def handover_owner(successor: str, rep_name: str, leave_date: object) -> str:
    """The owner of a leaver's item, one form on every page (flags, action register, risks,
    warnings): ``"<region lead> (region lead; <rep> left <date>)"``."""
    return f"{successor} (region lead; {rep_name} {left_label(leave_date)})"


def region_leads(reps: pd.DataFrame, month: str | pd.Period | None = None) -> dict[str, str]:
    """Region -> name of its lead: the rep with level ``lead`` in that region, the lowest
    ``rep_id`` if several. With ``month``, a lead who has left as of that month
    (:func:`has_left`) leads nothing; a region whose leads have all left has none."""
    need = ["rep_id", "rep_name", "region", "level"]
    missing = [c for c in need if c not in reps.columns]
    if missing:
        raise RetroInputError(f"reps: missing column(s) {', '.join(missing)}")
    leads = reps.loc[reps["level"].astype(str) == "lead"]
    gone = leavers(leads, month)
    leads = leads.loc[~leads["rep_id"].astype(str).isin(gone.index)].sort_values("rep_id", kind="stable")
    return leads.groupby(leads["region"].astype(str), sort=False)["rep_name"].first().astype(str).to_dict()


def _region_heads(regions: pd.Series, reps: pd.DataFrame, month: str | pd.Period | None) -> pd.Series:
    """Each region's lead (:func:`region_leads`), else ``"Region head, <region>"``."""
    leads = region_leads(reps, month) if "level" in reps.columns else {}
    return regions.astype(str).map(leads).fillna("Region head, " + regions.astype(str))


def rep_owners(rep_ids: pd.Series, reps: pd.DataFrame, month: str | pd.Period | None = None) -> pd.Series:
    """Owner of items that belong to a rep (their flag, action, risk or warning).

    A rep still employed in ``month`` owns their items (their name; ``"Rep <id>"`` when unknown).
    A rep who has left as of ``month`` (:func:`has_left`) owns nothing: their region's lead does,
    written by :func:`handover_owner` (``"Region head, <region>"`` when the region has no lead
    still employed)."""
    table = _rep_table(reps)
    ids = rep_ids.astype(str)
    names = ids.map(table["rep_name"].astype(str))
    own = names.fillna("Rep " + ids)
    gone = leavers(reps, month)
    left = ids.isin(gone.index)
    if left.any():
        heads = _region_heads(ids[left].map(table["region"]), reps, month)
        own.loc[left] = [
            handover_owner(head, name, gone[rep]) for head, name, rep in zip(heads, own[left], ids[left], strict=True)
        ]
    return own


def rep_left(rep_ids: pd.Series, reps: pd.DataFrame, month: str | pd.Period | None = None) -> pd.Series:
    """``"left <date>"`` (:func:`left_label`) for each rep who has left as of ``month``, else ``""``."""
    gone = leavers(reps, month)
    return rep_ids.astype(str).map(lambda r: left_label(gone[r]) if r in gone.index else "")


def owners(
    items: pd.DataFrame,
    level: str,
    reps: pd.DataFrame,
    product_owners: Mapping[str, str] | None = None,
    month: str | pd.Period | None = None,
) -> pd.Series:
    """Owner of each flagged item of ``level``.

    rep -> :func:`rep_owners` (the rep's name; for a rep who has left as of ``month``, the region
    lead in the form of :func:`handover_owner`); region and region x product line -> the region's
    lead (see :func:`region_leads`, else ``"Region head, <region>"``); product line ->
    ``product_owners[line]`` (config ``retro.product_owners``), else ``"Product manager, <line>"``.
    """
    if level == "rep":
        return rep_owners(items["rep_id"], reps, month)
    if level in ("region", "region x product_line"):
        return _region_heads(items["region"], reps, month)
    if level == "product_line":
        mapping = {str(k): str(v) for k, v in (product_owners or {}).items()}
        return items["product_line"].map(mapping).fillna("Product manager, " + items["product_line"].astype(str))
    raise RetroInputError(f"flag level {level!r} is not one of {', '.join(LEVELS)}")


def leaver_escalation(left: str) -> str:
    """The escalation of a leaver's item (``left``: :func:`left_label`): none. The year's figures
    stay on record, but no escalation clock runs against a person who has gone; the region lead
    takes the accounts over."""
    return f"No escalation (rep {left}): the region lead takes the accounts over"


def _item_label(items: pd.DataFrame, level: str, reps: pd.DataFrame, left: pd.Series | None = None) -> pd.Series:
    """``name (rep_id)`` for a rep (``name (rep_id, left <date>)`` once they have left), else the
    dimension values joined by `` / ``."""
    if level == "rep":
        names = _rep_table(reps)["rep_name"].astype(str)
        name = items["rep_id"].map(names)
        note = "" if left is None else (", " + left.astype(str)).where(left != "", "")
        return (name.fillna("?") + " (" + items["rep_id"] + note + ")").where(name.notna(), items["rep_id"])
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
    :func:`owners`), blank ``cause_5why`` / ``next_step`` columns for the meeting and ``left``.

    A rep who has left as of ``month`` (:func:`has_left`) keeps their rep item (the year's
    figures are real) but owns nothing: ``owner`` is the region lead (:func:`handover_owner`),
    ``left`` and the item's label say ``left <date>``, and an item that would be escalated gets
    :func:`leaver_escalation` instead of a level. ``left`` is blank for every other item.
    ``key`` identifies the item across months (dimension values joined by ``|``). A rep's
    ``region`` is taken from the reps table; plan rows of the unassigned rep
    (:data:`salesplan.targets.allocation.UNASSIGNED`) count in the totals but are not a rep
    item. Items ahead of plan are kept. Sorted by period, level, severity and gap (largest
    shortfall first).
    """
    t = thresholds_of(thresholds)
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
            left = rep_left(items["rep_id"], reps, month) if level == "rep" else pd.Series("", index=items.index)
            escalated = [
                leaver_escalation(lv) if lv and esc.get(s) else esc.get(s, "")
                for s, lv in zip(status, left, strict=True)
            ]
            parts.append(
                items.assign(
                    period=kind,
                    period_label=win.label,
                    level=level,
                    key=items[by].astype(str).agg("|".join, axis=1),
                    item=_item_label(items, level, reps, left),
                    status=status,
                    escalation=escalated,
                    owner=owners(items, level, reps, product_owners, month),
                    cause_5why="",
                    next_step="",
                    left=left.astype(str),
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
