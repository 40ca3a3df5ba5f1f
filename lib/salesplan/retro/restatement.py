"""Closed months and restatements: published payouts change only through an explicit
restatement, which the next pack shows, published beside restated.

- A month is **closed** once its retrospective is published: its report folder
  ``reports/YYYY-MM/`` holds ``retro_summary.json`` (the run swaps a finished folder in whole,
  so a half-built run never closes a month). Its attainment and commissions have been paid on.
- ``salesplan targets approve`` refuses an approval whose first month is on or before a closed
  month of its year (:func:`salesplan.targets.versions.approve_version`), unless it is a
  restatement (``--restate``): then the log line says ``"restate": true`` and which closed
  months it restates (``restated_months``).
- **Which pack shows a restatement** (:func:`pending_restatements`): every pack of a month later
  than all the months it restates, until a pack of such a month has been published showing it
  (its summary records the table under ``restatements``). Normally that is the first pack
  published after the approval; re-running that pack shows it again, and later packs do not.
- **The table** (:func:`restatement_table`): per restated month and rep, attainment and payout
  as published and as restated, and ``difference = payout_restated - payout_published``, the
  amount to settle. "As published" is the latest figure a pack published for that month: the
  ``payout_restated`` of an earlier restatement of it when one has been shown, else the month's
  own pack (its summary's commission records, else its Excel Commissions sheet, else "not
  recorded"). "As restated" is the month's commission recomputed under the plan now in force.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salesplan.retro import export
from salesplan.retro.periods import RetroInputError, as_period
from salesplan.targets.versions import Approval, read_approvals

if TYPE_CHECKING:
    from salesplan.workbook import MonthContext

RESTATEMENT_COLUMNS = [
    "month",
    "rep_id",
    "rep_name",
    "attainment_published",
    "attainment_restated",
    "payout_published",
    "payout_restated",
    "difference",
    "published_source",
    "version",
    "approved_by",
    "approved_at",
]
"""Columns of the restatement table (``month`` as ``"YYYY-MM"``)."""

_MONTH_DIR = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_NUMBERS = ["attainment_published", "attainment_restated", "payout_published", "payout_restated", "difference"]


def empty_restatement() -> pd.DataFrame:
    """The restatement table with no rows (nothing restated), typed like a full one."""
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in _NUMBERS else "object") for c in RESTATEMENT_COLUMNS})


def closed_months(year: int | None, reports_dir: str | os.PathLike[str]) -> list[str]:
    """The closed months ("YYYY-MM", oldest first) of ``year`` (every year when None): those whose
    folder ``reports_dir/YYYY-MM/`` holds a published ``retro_summary.json``. Build folders
    (``.tmp-*``), backups (``.old-*``) and failed runs (``YYYY-MM.failed``) close nothing."""
    folder = Path(reports_dir)
    if not folder.is_dir():
        return []
    months = [
        p.name
        for p in folder.iterdir()
        if _MONTH_DIR.match(p.name) and (p / export.SUMMARY_FILE).is_file()
        if year is None or int(p.name[:4]) == int(year)
    ]
    return sorted(months)


def _published_summaries(reports_dir: Path, after: pd.Period, before: pd.Period) -> list[tuple[str, dict[str, Any]]]:
    """Published summaries of the months strictly between ``after`` and ``before``, oldest first
    (an unreadable one is skipped: it cannot show anything)."""
    out = []
    for month in closed_months(None, reports_dir):
        if after < pd.Period(month, freq="M") < before:
            try:
                out.append((month, export.read_summary(reports_dir / month / export.SUMMARY_FILE)))
            except RetroInputError:
                continue
    return out


def _shown(summary: Mapping[str, Any], approval: Approval) -> list[dict[str, Any]]:
    """The rows of ``approval``'s restatement a published summary records."""
    return [
        row
        for row in summary.get("restatements") or []
        if row.get("version") == approval.version and row.get("approved_at") == approval.approved_at
    ]


def pending_restatements(
    approvals: Sequence[Approval], month: str | pd.Period, reports_dir: str | os.PathLike[str]
) -> list[Approval]:
    """The restating approvals the pack of ``month`` shows (oldest first), by the rule in the
    module docstring: restating, ``month`` later than every month it restates, and no pack of a
    month between those and ``month`` published showing it."""
    p = as_period(month)
    folder = Path(reports_dir)
    out = []
    for a in approvals:
        if not (a.restate and a.restated_months):
            continue
        last = pd.Period(max(a.restated_months), freq="M")
        if p <= last:
            continue
        if any(_shown(summary, a) for _, summary in _published_summaries(folder, last, p)):
            continue
        out.append(a)
    return out


def restatement_table(
    month: str | pd.Period,
    published: pd.DataFrame | None,
    restated: pd.DataFrame,
    approval: Approval,
    published_source: str = "",
) -> pd.DataFrame:
    """One restated month, per rep: attainment and payout as published and as restated, and
    ``difference = payout_restated - payout_published`` (what is still to be paid, negative:
    paid too much), with the restating approval's ``version``, ``approved_by``, ``approved_at``.

    ``published``: the records as published (:data:`salesplan.retro.export.COMMISSION_RECORD_COLUMNS`),
    None when not recorded (then the published columns and the difference are blank and
    ``published_source`` says "not recorded"). ``restated``: the month's commission lines under
    the plan now in force (:func:`salesplan.retro.pay.commission_report`). A rep on one side
    only was paid nothing on the other: payout 0, attainment blank. Columns
    :data:`RESTATEMENT_COLUMNS`, sorted by rep.
    """
    p = as_period(month)
    new = _records(restated).rename(
        columns={"attainment": "attainment_restated", "total_payout": "payout_restated", "rep_name": "name_restated"}
    )
    if published is None:
        old = pd.DataFrame({"rep_id": pd.Series(dtype=str)})
        recorded = False
    else:
        old = _records(published).rename(
            columns={"attainment": "attainment_published", "total_payout": "payout_published", "rep_name": "name_pub"}
        )
        recorded = True
    both = old.merge(new, on="rep_id", how="outer")
    if both.empty:
        return empty_restatement()
    names = both.get("name_restated", pd.Series("", index=both.index)).fillna("")
    if "name_pub" in both:
        names = names.where(names != "", both["name_pub"].fillna(""))
    out = both.assign(
        month=str(p),
        rep_name=names,
        payout_restated=both["payout_restated"].fillna(0.0),
        published_source=published_source or ("not recorded" if not recorded else ""),
        version=approval.version,
        approved_by=approval.by,
        approved_at=approval.approved_at,
    )
    if recorded:
        out = out.assign(payout_published=out["payout_published"].fillna(0.0))
    else:
        out = out.assign(attainment_published=np.nan, payout_published=np.nan)
    out = out.assign(difference=out["payout_restated"] - out["payout_published"])
    return (
        out[RESTATEMENT_COLUMNS]
        .astype({c: "float64" for c in _NUMBERS})
        .sort_values("rep_id", kind="mergesort", ignore_index=True)
    )


def _records(lines: pd.DataFrame) -> pd.DataFrame:
    """``rep_id, rep_name, attainment, total_payout`` of commission lines or published records."""
    return lines.assign(
        rep_id=lines["rep_id"].astype(str),
        rep_name=(lines["rep_name"] if "rep_name" in lines else pd.Series("", index=lines.index))
        .fillna("")
        .astype(str),
    )[["rep_id", "rep_name", "attainment", "total_payout"]]


def latest_published(
    reports_dir: str | os.PathLike[str], month: str | pd.Period, before: str | pd.Period
) -> tuple[pd.DataFrame | None, str]:
    """The latest figures published for ``month`` by packs before ``before``: the restated
    figures of the newest pack that showed a restatement of it, else the month's own pack
    (:func:`salesplan.retro.export.published_commissions`). Returns the records
    (:data:`salesplan.retro.export.COMMISSION_RECORD_COLUMNS`) or None, and where they came from."""
    p, folder = as_period(month), Path(reports_dir)
    for shown_in, summary in reversed(_published_summaries(folder, p, as_period(before))):
        rows = [r for r in summary.get("restatements") or [] if r.get("month") == str(p)]
        if rows:
            frame = pd.DataFrame(rows)
            records = pd.DataFrame(
                {
                    "rep_id": frame["rep_id"].astype(str),
                    "rep_name": frame["rep_name"].fillna("").astype(str),
                    "target": np.nan,
                    "actual": np.nan,
                    "attainment": pd.to_numeric(frame["attainment_restated"]).astype("float64"),
                    "total_payout": pd.to_numeric(frame["payout_restated"]).astype("float64"),
                }
            )
            return records, f"{shown_in}/{export.SUMMARY_FILE} (restated)"
    return export.published_commissions(folder / str(p), p)


def restatement_for(wb: MonthContext) -> pd.DataFrame:
    """The restatement table the pack of ``wb.month`` shows (module docstring): for each restating
    approval pending (:func:`pending_restatements`, approvals in the plan folder of ``wb.data_dir``,
    packs in ``wb.reports_root``) and each month it restates, :func:`restatement_table` with the
    figures as published (:func:`latest_published`) against the month's commission recomputed
    under the plan now in force (``wb.plan_rows(year)``, data up to that month's end, the commission
    rules of ``wb.settings``). A month restated by several pending approvals is shown once, under
    the latest. Empty (:func:`empty_restatement`) when nothing is to be shown."""
    from salesplan.plans import plan_folder
    from salesplan.retro import kpi, pay

    pending = pending_restatements(read_approvals(plan_folder(wb.data_dir)), wb.month, wb.reports_root)
    latest: dict[str, Approval] = {}
    for a in pending:  # oldest first: a later approval takes the month over
        latest.update({m: a for m in a.restated_months})
    if not latest:
        return empty_restatement()
    high_end, basis = kpi.high_end_monthly(wb.cube, wb.sku_sales(), wb.data.products)
    parts = []
    for month in sorted(latest):
        p = pd.Period(month, freq="M")
        lines, _statement = pay.commission_report(
            wb.closed_cube,
            wb.plan_rows(p.year),
            p,
            wb.settings.commission,
            wb.data.reps,
            high_end if basis == "high-margin products" else None,
        )
        published, source = latest_published(wb.reports_root, p, wb.month)
        parts.append(restatement_table(p, published, lines, latest[month], source))
    return pd.concat(parts, ignore_index=True)
