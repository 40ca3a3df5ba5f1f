"""The month's pack as an Excel workbook, the file an analyst forwards.

:func:`month_pack_sheets` gathers the month's tables (summary, the plan in force at month x
region x product line x rep with each month's plan in the one provenance wording, flags with
owners and the meeting's action columns, commission statements with the plan and currency on
every line, landing and forecast by level, KPIs, and with the retrospective's review the
actions carried over, the risk matrix and the early warnings); :func:`write_workbook` writes them with
number formats by column kind, frozen headers, filters and column widths. Text from the data
is written as text: a cell that a spreadsheet would run as a formula (``= + - @``) is
neutralised (:func:`salesplan.csvsafe.neutralise_formulas`), Chinese text stays as it is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from salesplan.csvsafe import neutralise_formulas
from salesplan.status import fmt_probability

if TYPE_CHECKING:
    from salesplan.plans import PlanInForce
    from salesplan.workbook import MonthContext

MONEY_FORMAT = "#,##0"
PCT_FORMAT = "0.0%"
DATE_FORMAT = "yyyy-mm-dd"
"""Excel number formats: whole currency units, percentages with one decimal, ISO dates."""

ACTION_COLUMNS = ["cause_5why", "next_step", "due_date", "resources", "action_status"]
"""The columns the meeting fills in for each flagged item."""


def _kinds(frame: pd.DataFrame, money: list[str], pct: list[str]) -> dict[str, str]:
    kinds = {c: "money" for c in money if c in frame}
    kinds.update({c: "pct" for c in pct if c in frame})
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            kinds[col] = "date"
    return kinds


def month_pack_sheets(
    ctx: MonthContext,
    *,
    figures: Mapping[str, Any],
    flags: pd.DataFrame,
    commissions: pd.DataFrame,
    kpis: pd.DataFrame,
    actions: pd.DataFrame | None = None,
    risks: pd.DataFrame | None = None,
    warnings: pd.DataFrame | None = None,
    restatement: pd.DataFrame | None = None,
) -> dict[str, tuple[pd.DataFrame, dict[str, str]]]:
    """The pack's sheets: name -> (table, {column: money | pct | date}) from the month context
    and the retrospective's tables (``figures``: :func:`salesplan.retro.report.headline_figures`;
    ``flags``; ``commissions``: the year-to-date statement; ``kpis``: the KPI table; ``actions``:
    the action review, :func:`salesplan.retro.actions.review_actions`; ``risks``: the risk matrix,
    :func:`salesplan.retro.risks.risk_matrix`; ``warnings``: the early warnings; ``restatement``:
    closed months restated, :func:`salesplan.retro.restatement.restatement_for`). The Actions,
    Risks and Warnings sheets are added when given, the Restatement sheet when it has rows."""
    from salesplan.targets.views import plan_words, plan_year_words

    month = str(ctx.month)
    plan = ctx.plan
    currency = ctx.settings.report.currency
    summary = pd.DataFrame(
        [
            ("Month", month, ""),
            ("Plan", plan_words(plan.month(ctx.month)) if plan.has_plan else plan.describe(ctx.month), ""),
            ("Plan by months", plan_year_words(plan), ""),
            ("Currency", currency, ""),
            ("Month actual", figures["month_actual"], "money"),
            ("Month target", figures["month_target"], "money"),
            ("Month attainment", figures["month_attainment"], "pct"),
            ("Month gap (actual - target)", figures["month_gap"], "money"),
            ("Year-to-date actual", figures["ytd_actual"], "money"),
            ("Year-to-date target", figures["ytd_target"], "money"),
            ("Year-to-date attainment", figures["ytd_attainment"], "pct"),
            ("Year-to-date gap (actual - target)", figures["ytd_gap"], "money"),
            ("Annual target", figures["annual_target"], "money"),
            ("Landing", figures["landing"], "money"),
            (f"Landing, low ({figures['landing_level']:.0f} % interval)", figures["landing_low"], "money"),
            (f"Landing, high ({figures['landing_level']:.0f} % interval)", figures["landing_high"], "money"),
            ("P(hit annual target)", fmt_probability(figures["p_hit"]), ""),
        ],
        columns=["figure", "value", "kind"],
    )
    plan_rows = plan_in_force_rows(plan)
    commissions = commission_rows(commissions, plan, currency)
    flag_cols = [
        "period", "period_label", "level", "item", "region", "product_line", "rep_id", "owner", "actual", "target",
        "gap", "attainment", "deviation", "status", "escalation",
    ]  # fmt: skip
    flag_table = flags[[c for c in flag_cols if c in flags]].copy()
    flag_table["cause_5why"] = flags.get("cause_5why", "")
    flag_table["next_step"] = flags.get("next_step", "")
    # The flags carry their action's meeting columns (the register and the flags agree).
    for col in ACTION_COLUMNS[2:]:
        flag_table[col] = flags.get(col, "")
    level = int(ctx.settings.forecast.levels[0])
    landing = ctx.landing().assign(p_hit_shown=lambda d: d["p_hit"].map(fmt_probability))
    forecast = ctx.forecast().forecast
    forecast = forecast.loc[forecast["level"].isin(["total", "region", "product_line"])]
    forecast = forecast[["unique_id", "level", "ds", "blended", f"lo_{level}", f"hi_{level}"]].rename(
        columns={"ds": "month", "blended": "forecast"}
    )
    money_landing = [
        "ytd",
        "landing",
        "target",
        "gap",
        "run_rate_needed",
        *[c for c in landing if c[:3] in ("lo_", "hi_")],
    ]
    money_forecast = ["forecast", f"lo_{level}", f"hi_{level}"]
    extra: dict[str, tuple[pd.DataFrame, dict[str, str]]] = {}
    if actions is not None:
        extra["Actions"] = (actions, _kinds(actions, ["shortfall"], ["deviation"]))
    if risks is not None:
        # P(hit) as every page shows it ("< 1 %"), beside the value a formula can use.
        risks = risks.assign(p_hit_shown=risks["p_hit"].map(fmt_probability)) if "p_hit" in risks else risks
        extra["Risks"] = (
            risks,
            _kinds(risks, ["target", "landing", "gap", "shortfall"], ["p_hit", "p_miss", "impact"]),
        )
    if warnings is not None:
        extra["Warnings"] = (warnings, _kinds(warnings, ["amount"], []))
    if restatement is not None and len(restatement):
        extra["Restatement"] = (
            restatement,
            _kinds(
                restatement,
                ["payout_published", "payout_restated", "difference"],
                ["attainment_published", "attainment_restated"],
            ),
        )
    return {
        "Summary": (summary, {}),
        "Plan in force": (plan_rows, _kinds(plan_rows, ["target_amount", "quota_amount"], [])),
        "Flags": (flag_table, _kinds(flag_table, ["actual", "target", "gap"], ["attainment", "deviation"])),
        "Commissions": (
            commissions,
            _kinds(
                commissions,
                [
                    "actual",
                    "target",
                    "base_amount",
                    "commission",
                    "quarter_excess_bonus",
                    "team_adjustment",
                    "total_payout",
                ],
                ["attainment", "rate"],
            ),
        ),
        "Landing": (landing, _kinds(landing, money_landing, ["p_hit", "p_hit_model"])),
        "Forecast": (forecast, _kinds(forecast, money_forecast, [])),
        "KPIs": (kpis, {}),
        **extra,
    }


def plan_in_force_rows(plan: PlanInForce) -> pd.DataFrame:
    """The Plan in force sheet: the plan's rows (``month`` as a date) with each month's
    ``version`` and ``plan`` as :attr:`PlanInForce.months` has them, in the one provenance wording
    (:func:`salesplan.targets.views.plan_words`). A supplied targets table's own version column
    is not the plan's version: its months read ``supplied``, as run.json and the index say."""
    from salesplan.targets.views import plan_month_words

    rows = plan.frame.copy()
    if not len(rows):
        return rows
    words = plan_month_words(plan).assign(month=lambda d: range(1, len(d) + 1)).set_index("month")
    number = rows["month"].astype(int)
    return rows.assign(
        month=pd.to_datetime({"year": rows["year"], "month": rows["month"], "day": 1}),
        version=number.map(words["version"]).to_numpy(),
        plan=number.map(words["plan"]).to_numpy(),
    )


def commission_rows(commissions: pd.DataFrame, plan: PlanInForce, currency: str) -> pd.DataFrame:
    """The Commissions sheet: the year-to-date statement with, on every line, the ``plan`` its
    month was measured against (:func:`salesplan.targets.views.plan_words`) and the ``currency``
    of its amounts (``report.currency``)."""
    from salesplan.targets.views import plan_words

    if "month" not in commissions or not len(commissions):
        return commissions.assign(plan=pd.Series(dtype=object), currency=pd.Series(dtype=object))
    number = pd.to_datetime(commissions["month"]).dt.month
    by_month = {m: plan_words(plan.month(m)) for m in range(1, 13)}
    return commissions.assign(plan=number.map(by_month).to_numpy(), currency=currency)


def write_workbook(path: str | os.PathLike[str], sheets: Mapping[str, tuple[pd.DataFrame, Mapping[str, str]]]) -> Path:
    """Write ``sheets`` (name -> (table, column kinds)) to ``path``: one sheet each, bold frozen
    header row, a filter over the table, number formats by kind (``money``, ``pct``, ``date``;
    the Summary sheet's ``kind`` column sets each row's format), column widths from the content.
    Written beside the target and renamed into place, so a reader never sees half a file."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    formats = {"money": MONEY_FORMAT, "pct": PCT_FORMAT, "date": DATE_FORMAT}
    book = Workbook()
    book.remove(book.active)
    for name, (frame, kinds) in sheets.items():
        sheet = book.create_sheet(title=name[:31])
        table = neutralise_formulas(frame.reset_index(drop=True))
        row_kind = table.pop("kind") if name == "Summary" and "kind" in table else None
        sheet.append([str(c) for c in table.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for values in table.itertuples(index=False):
            sheet.append([None if (isinstance(v, float) and pd.isna(v)) or v is pd.NaT else _plain(v) for v in values])
        for j, col in enumerate(table.columns, start=1):
            kind = kinds.get(col)
            letter = get_column_letter(j)
            if kind:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = formats[kind]
            width = max([len(str(col))] + [len(str(v)) for v in table[col].head(200)]) + 2
            sheet.column_dimensions[letter].width = min(max(width, 8), 60)
        if row_kind is not None:
            for i, kind in enumerate(row_kind, start=2):
                if kind in formats:
                    sheet.cell(row=i, column=2).number_format = formats[kind]
        sheet.freeze_panes = "A2"
        if len(table.columns):
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{max(len(table) + 1, 1)}"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    book.save(tmp)
    os.replace(tmp, target)
    return target


def _plain(value: Any) -> Any:
    """A cell value openpyxl writes as itself: numpy scalars as Python numbers, timestamps as datetimes."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value
