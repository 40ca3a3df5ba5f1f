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
from salesplan.dates import as_dates
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
    "due_date",
    "resources",
    "action_status",
]
FLAG_ACTION_EXPORT_COLUMNS = ["due_date", "resources", "action_status"]
"""Columns a flag takes from its action (:func:`salesplan.retro.actions.flags_with_actions`);
blank when the flags were not matched with the action register."""


def write_flags_csv(flags: pd.DataFrame, folder: str | os.PathLike[str]) -> Path:
    """Write the flag list to ``folder/flags.csv``: UTF-8 with a byte-order mark (Excel then
    reads Chinese names correctly), formula-like text neutralised, money to the cent, ratios to
    4 decimals and the action's due date as ``YYYY-MM-DD``. Returns the path."""
    missing = [c for c in FLAG_EXPORT_COLUMNS if c not in flags.columns and c not in FLAG_ACTION_EXPORT_COLUMNS]
    if missing:
        raise RetroInputError(f"flags: missing column(s) {', '.join(missing)} for {FLAGS_FILE}")
    out = flags.reindex(columns=FLAG_EXPORT_COLUMNS)
    out["due_date"] = pd.to_datetime(out["due_date"], errors="coerce").dt.strftime("%Y-%m-%d").fillna("")
    out[["resources", "action_status"]] = out[["resources", "action_status"]].astype(object).fillna("")
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
    *,
    commissions: pd.DataFrame | None = None,
    restatements: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The machine-readable summary of a month's retrospective.

    ``figures``: headline numbers (``month_actual``, ``month_target``, ``ytd_actual``,
    ``ytd_target``, ``annual_target``, ``landing``, ``landing_low``, ``landing_high``,
    ``landing_level``, ``p_hit``); ``forecast_months``: the statistical forecast of each
    remaining month of the year (``"YYYY-MM"`` -> amount), which next month's report compares
    its actual with. Flags keep only what the comparison needs.

    ``commissions``: the month's commission lines (the first frame
    :func:`salesplan.retro.pay.commission_report` returns); recorded per rep as
    :data:`COMMISSION_RECORD_COLUMNS`, the payouts as published, which a later restatement is
    compared with (:func:`published_commissions`). ``restatements``: the restatement table the
    pack shows (:func:`salesplan.retro.restatement.restatement_for`); recorded so that later
    packs know it has been shown. Each key is left out when not given (summaries of earlier
    releases have neither).
    """
    keep = ["period", "level", "key", "item", "status", "deviation", "actual", "target"]
    out: dict[str, Any] = {
        "schema": SUMMARY_SCHEMA,
        "month": str(as_period(month)),
        "targets_source": targets_source,
        "figures": dict(figures),
        "forecast_months": dict(forecast_months or {}),
        "flags": flags[keep].to_dict(orient="records"),
    }
    if commissions is not None:
        out["commissions"] = _commission_records(commissions)
    if restatements is not None:
        out["restatements"] = restatements.assign(month=restatements["month"].astype(str)).to_dict(orient="records")
    return _json_value(out)


COMMISSION_RECORD_COLUMNS = ["rep_id", "rep_name", "target", "actual", "attainment", "total_payout"]
"""What a summary records of each rep's month: the payout as published and what it was measured on."""


def _commission_records(lines: pd.DataFrame) -> list[dict[str, Any]]:
    missing = [c for c in COMMISSION_RECORD_COLUMNS if c not in lines.columns and c != "rep_name"]
    if missing:
        raise RetroInputError(f"commissions: missing column(s) {', '.join(missing)} for {SUMMARY_FILE}")
    # rep_name is there when commission_report was given the reps table; blank otherwise.
    frame = lines.assign(rep_name=lines.get("rep_name", ""))
    return (
        frame[COMMISSION_RECORD_COLUMNS]
        .assign(rep_id=lambda d: d["rep_id"].astype(str), rep_name=lambda d: d["rep_name"].fillna("").astype(str))
        .sort_values("rep_id", kind="mergesort")
        .to_dict(orient="records")
    )


def summary_commissions(summary: Mapping[str, Any]) -> pd.DataFrame | None:
    """The per-rep commission records of a summary (:data:`COMMISSION_RECORD_COLUMNS`), None when the
    summary has none (written without ``commissions`` or by an earlier release)."""
    records = summary.get("commissions")
    if records is None:
        return None
    frame = pd.DataFrame(list(records), columns=COMMISSION_RECORD_COLUMNS)
    numbers = ["target", "actual", "attainment", "total_payout"]
    # JSON null (a NaN attainment without target) back to NaN.
    return frame.assign(rep_id=frame["rep_id"].astype(str), **{c: pd.to_numeric(frame[c]) for c in numbers}).astype(
        {c: "float64" for c in numbers}
    )


def published_commissions(folder: str | os.PathLike[str], month: str | pd.Period) -> tuple[pd.DataFrame | None, str]:
    """Each rep's commission for ``month`` as the pack in ``folder`` (``reports/YYYY-MM``)
    published it, and where that came from: the summary's ``commissions`` records, else the
    lines of ``month`` in the Excel pack's Commissions sheet (``pack_YYYY-MM.xlsx``, the
    year-to-date statement; rep names where the pack has them), else ``(None, "not recorded")``.
    Columns :data:`COMMISSION_RECORD_COLUMNS`."""
    p = as_period(month)
    base = Path(folder)
    path = base / SUMMARY_FILE
    if path.exists():
        records = summary_commissions(read_summary(path))
        if records is not None:
            return records, f"{base.name}/{SUMMARY_FILE}"
    pack = base / f"pack_{p}.xlsx"
    if pack.exists():
        try:
            sheet = pd.read_excel(pack, sheet_name="Commissions")
        except (OSError, ValueError, KeyError) as exc:
            raise RetroInputError(f"{pack}: cannot read the Commissions sheet ({exc})") from None
        if {"rep_id", "month", "total_payout"} <= set(sheet.columns):
            lines = sheet.loc[as_dates(sheet["month"]).dt.to_period("M") == p]
            # Packs name each rep beside the id; earlier packs have no name.
            names = lines["rep_name"].fillna("").astype(str) if "rep_name" in lines else ""
            frame = lines.assign(rep_name=names).reindex(columns=COMMISSION_RECORD_COLUMNS)
            return summary_commissions({"commissions": frame.to_dict(orient="records")}), f"{base.name}/{pack.name}"
    return None, "not recorded"


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
