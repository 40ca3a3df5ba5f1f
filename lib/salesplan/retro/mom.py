"""Month over month: which flags turned since the previous report and why the landing
estimate moved."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesplan.retro.export import SUMMARY_FILE
from salesplan.retro.periods import as_period, previous_month
from salesplan.status import SEVERITY

CHANGE_ORDER = ("worse", "better", "new", "gone", "unchanged")


def previous_summary_path(reports_dir: str | os.PathLike[str], month: str | pd.Period) -> Path:
    """Where the previous month's published summary lives: ``reports/<YYYY-MM>/retro_summary.json``."""
    return Path(reports_dir) / str(previous_month(month)) / SUMMARY_FILE


def _change(prev: Any, cur: Any) -> str:
    if pd.isna(prev):
        return "new"
    if pd.isna(cur):
        return "gone"
    if prev == cur:
        return "unchanged"
    if prev in SEVERITY and cur in SEVERITY:
        return "worse" if SEVERITY[cur] > SEVERITY[prev] else "better"
    # From or to "no target": the plan changed, not the performance.
    return "better" if cur == "no_target" and prev in ("yellow", "red", "dark_red") else "worse"


def flag_changes(
    current: pd.DataFrame,
    previous: pd.DataFrame | Sequence[Mapping[str, Any]],
    periods: Sequence[str] = ("ytd", "month"),
    only_changed: bool = True,
) -> pd.DataFrame:
    """Compare this report's flags with the previous report's, item by item.

    Items match on ``period``, ``level`` and ``key``. ``change``: ``worse`` / ``better``
    (severity ahead < green < yellow < red < dark red; moving into "no target" from a
    behind status counts as better, other moves involving "no target" as worse), ``new``
    (not in the previous report), ``gone`` (no longer in this one) or ``unchanged``.
    Note that the month period compares two different months. Columns ``period, level,
    key, item, previous_status, status, change, previous_deviation, deviation``; sorted
    worse first.
    """
    prev = pd.DataFrame(list(previous)) if not isinstance(previous, pd.DataFrame) else previous
    keys = ["period", "level", "key"]
    cols = ["item", "status", "deviation"]
    if prev.empty:
        prev = pd.DataFrame(columns=keys + cols)
    cur = current.loc[current["period"].isin(periods), keys + cols]
    prev = prev.loc[prev["period"].isin(periods), keys + cols]
    merged = cur.merge(prev, on=keys, how="outer", suffixes=("", "_prev"))
    out = pd.DataFrame(
        {
            "period": merged["period"],
            "level": merged["level"],
            "key": merged["key"],
            "item": merged["item"].fillna(merged["item_prev"]),
            "previous_status": merged["status_prev"],
            "status": merged["status"],
            "change": [_change(p, c) for p, c in zip(merged["status_prev"], merged["status"], strict=True)],
            "previous_deviation": pd.to_numeric(merged["deviation_prev"], errors="coerce"),
            "deviation": pd.to_numeric(merged["deviation"], errors="coerce"),
        }
    )
    if only_changed:
        out = out.loc[out["change"] != "unchanged"]
    order = out["change"].map({c: i for i, c in enumerate(CHANGE_ORDER)})
    period_rank = out["period"].map({p: i for i, p in enumerate(periods)})
    return (
        out.assign(_c=order, _p=period_rank)
        .sort_values(["_p", "_c", "level", "key"], kind="stable")
        .drop(columns=["_c", "_p"])
        .reset_index(drop=True)
    )


def landing_bridge(
    previous: Mapping[str, Any],
    current_figures: Mapping[str, Any],
    month: str | pd.Period,
) -> pd.DataFrame | None:
    """Why the landing moved since the previous report, in steps that add up exactly:

    * ``previous landing`` (the previous report's statistical landing)
    * ``revisions to earlier months`` = (ytd_now - actual_m) - ytd_prev: late orders,
      returns or corrections booked into months the previous report had already closed
    * ``this month vs forecast`` = actual_m - the previous report's forecast for month m
    * ``outlook for the remaining months`` = the rest of the change: the forecast of the
      months after m was revised
    * ``current landing``

    ``previous`` is a summary (see :func:`salesplan.retro.export.build_summary`);
    ``current_figures`` needs ``ytd_actual``, ``month_actual`` and ``landing``. Returns
    None when the previous report's landing is for another year (January) or is missing.
    Columns ``step``, ``amount``.
    """
    p = as_period(month)
    prev_month = as_period(previous["month"])
    fig = previous.get("figures", {})
    prev_landing = fig.get("landing")
    if prev_month.year != p.year or prev_landing is None or current_figures.get("landing") is None:
        return None
    cur_landing = float(current_figures["landing"])
    month_actual = float(current_figures["month_actual"])
    revisions = float(current_figures["ytd_actual"]) - month_actual - float(fig["ytd_actual"])
    forecast_m = (previous.get("forecast_months") or {}).get(str(p))
    surprise = month_actual - float(forecast_m) if forecast_m is not None else np.nan
    total = cur_landing - float(prev_landing)
    if np.isfinite(surprise):
        steps = [
            ("previous landing", float(prev_landing)),
            ("revisions to earlier months", revisions),
            ("this month vs forecast", surprise),
            ("outlook for the remaining months", total - revisions - surprise),
            ("current landing", cur_landing),
        ]
    else:
        steps = [
            ("previous landing", float(prev_landing)),
            ("revisions to earlier months", revisions),
            ("this month and outlook (no monthly forecast kept)", total - revisions),
            ("current landing", cur_landing),
        ]
    return pd.DataFrame(steps, columns=["step", "amount"])


def bridge_text(bridge: pd.DataFrame | None, fmt: Any = "{:,.0f}".format) -> str:
    """One or two sentences saying how much the landing moved and why (largest driver first)."""
    if bridge is None:
        return "No comparable previous landing (new year or no previous estimate)."
    start, end = float(bridge["amount"].iloc[0]), float(bridge["amount"].iloc[-1])
    parts = bridge.iloc[1:-1]
    parts = parts.assign(_abs=parts["amount"].abs()).sort_values("_abs", ascending=False)
    move = end - start
    direction = "up" if move > 0 else "down" if move < 0 else "unchanged"
    lines = [f"The landing estimate moved {direction} by {fmt(abs(move))} (from {fmt(start)} to {fmt(end)})."]
    drivers = [f"{row.step}: {'+' if row.amount >= 0 else '-'}{fmt(abs(row.amount))}" for row in parts.itertuples()]
    if drivers:
        lines.append("Drivers, largest first: " + "; ".join(drivers) + ".")
    return " ".join(lines)
