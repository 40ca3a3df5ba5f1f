"""Files the retrospective publishes into the month's report folder: the flag list as a
CSV that Excel opens cleanly, and a small JSON summary that next month's report reads."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesplan.csvsafe import write_spreadsheet_csv
from salesplan.retro.periods import RetroInputError, as_period

FLAGS_FILE = "flags.csv"
SUMMARY_FILE = "retro_summary.json"
YEAR_REVIEW_FILE = "year_review.csv"
SUMMARY_SCHEMA = 1

FLAG_EXPORT_COLUMNS = [
    "period",
    "period_label",
    "level",
    "item",
    "region",
    "product_line",
    "rep_id",
    "owner",
    "actual",
    "target",
    "gap",
    "attainment",
    "deviation",
    "status",
    "escalation",
    "cause_5why",
    "next_step",
]


def write_flags_csv(flags: pd.DataFrame, folder: str | os.PathLike[str]) -> Path:
    """Write the flag list to ``folder/flags.csv``: UTF-8 with a byte-order mark (Excel then
    reads Chinese names correctly), formula-like text neutralised, money to the cent and
    ratios to 4 decimals. Returns the path."""
    missing = [c for c in FLAG_EXPORT_COLUMNS if c not in flags.columns]
    if missing:
        raise RetroInputError(f"flags: missing column(s) {', '.join(missing)} for {FLAGS_FILE}")
    out = flags[FLAG_EXPORT_COLUMNS].copy()
    out[["actual", "target", "gap"]] = out[["actual", "target", "gap"]].round(2)
    out[["attainment", "deviation"]] = out[["attainment", "deviation"]].round(4)
    return write_spreadsheet_csv(out, Path(folder) / FLAGS_FILE)


def write_year_review(view: pd.DataFrame, folder: str | os.PathLike[str]) -> Path:
    """Write the December year view (:func:`salesplan.retro.report.year_review`) to
    ``folder/year_review.csv`` like :func:`write_flags_csv`: UTF-8 with BOM, formula-like text
    neutralised, money to the cent, ratios to 4 decimals. Returns the path."""
    out = view.copy()
    money = [c for c in ("actual", "target", "gap", "previous_year") if c in out]
    ratios = [c for c in ("attainment", "yoy") if c in out]
    out[money] = out[money].round(2)
    out[ratios] = out[ratios].round(4)
    return write_spreadsheet_csv(out, Path(folder) / YEAR_REVIEW_FILE)


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return value


def build_summary(
    month: str | pd.Period,
    figures: Mapping[str, Any],
    flags: pd.DataFrame,
    forecast_months: Mapping[str, float] | None = None,
    targets_source: str = "",
) -> dict[str, Any]:
    """The machine-readable summary of a month's retrospective.

    ``figures``: headline numbers (``month_actual``, ``month_target``, ``ytd_actual``,
    ``ytd_target``, ``annual_target``, ``landing``, ``landing_low``, ``landing_high``,
    ``landing_level``, ``p_hit``); ``forecast_months``: the statistical forecast of each
    remaining month of the year (``"YYYY-MM"`` -> amount), which next month's report compares
    its actual with. Flags keep only what the comparison needs.
    """
    keep = ["period", "level", "key", "item", "status", "deviation", "actual", "target"]
    return _json_value(
        {
            "schema": SUMMARY_SCHEMA,
            "month": str(as_period(month)),
            "targets_source": targets_source,
            "figures": dict(figures),
            "forecast_months": dict(forecast_months or {}),
            "flags": flags[keep].to_dict(orient="records"),
        }
    )


def write_summary(summary: Mapping[str, Any], folder: str | os.PathLike[str]) -> Path:
    """Write ``summary`` as ``folder/retro_summary.json`` (UTF-8, no NaN). Returns the path."""
    path = Path(folder) / SUMMARY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_value(dict(summary)), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def read_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``retro_summary.json``; a damaged or foreign file raises :class:`RetroInputError`
    naming the file and the problem."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RetroInputError(f"{p}: cannot read the retrospective summary ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SUMMARY_SCHEMA:
        raise RetroInputError(f"{p}: not a retrospective summary of schema {SUMMARY_SCHEMA}")
    for key in ("month", "figures", "flags"):
        if key not in data:
            raise RetroInputError(f"{p}: retrospective summary lacks {key!r}")
    return data
