"""The month's pack as an Excel workbook, the file an analyst forwards.

:func:`month_pack_sheets` gathers the month's tables (summary, the plan in force at month x
region x product line x rep with each month's plan in the one provenance wording, flags with
owners and the meeting's action columns, commission statements with the plan and currency on
every line, landing and forecast by level, KPIs, and with the retrospective's review the
actions carried over, the risk matrix and the early warnings); :func:`write_workbook` writes
them with a number format on every numeric cell, styled frozen headers, filters and column
widths.

Number formats follow a column's meaning, decided in one place (:data:`COLUMN_KIND_RULES`,
:func:`column_kind`): rates, shares, attainments and deviations as percentages, P(hit) as a
percentage that reads "< 1 %" / "> 99 %" at the extremes, amounts (payouts included) stored
exactly in currency units and shown in the ``report.money_unit`` unit, counts with thousands
separators, years as years and dates as dates. A rep id is shown beside the rep's name.

Text from the data is written as text: a cell that a spreadsheet would run as a formula
(``= + - @``) is neutralised (:func:`salesplan.csvsafe.neutralise_formulas`), Chinese text
stays as it is.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from salesplan.csvsafe import neutralise_formulas
from salesplan.dates import as_dates
from salesplan.files import replace_atomically
from salesplan.status import P_FLOOR, PROBABILITY_NOTE, STATUS_ORDER, status_label
from salesplan.units import EXCEL_COUNT_FORMAT, excel_money_format, excel_percent_format, money_unit, scale

if TYPE_CHECKING:
    from salesplan.plans import PlanInForce


class PackContext(Protocol):
    """What the pack reads of the month context (:class:`salesplan.workbook.MonthContext` is one):
    the report month, the plan in force, the settings, and the landing and forecast it fitted."""

    month: Any
    plan: PlanInForce
    settings: Any

    def landing(self) -> pd.DataFrame: ...

    def forecast(self) -> Any: ...


DATE_FORMAT = "yyyy-mm-dd"
"""Dates as ISO dates, without a clock."""
YEAR_FORMAT = "0"
"""A year as written, "2026" (never "2,026")."""
MULTIPLE_FORMAT = '0.00"x"'
"""A ratio read as a multiple (LTV/CAC 3.00x, pipeline coverage)."""
NUMBER_FORMAT = "#,##0.00"
"""A number of no known kind: thousands separators and two decimals."""
MONEY_FORMAT = excel_money_format("")
PCT_FORMAT = excel_percent_format(1)
"""Whole currency units and percentages with one decimal (the formats without a money unit)."""

ACTION_COLUMNS = ["cause_5why", "next_step", "due_date", "resources", "action_status"]
"""The columns the meeting fills in for each flagged item."""


def probability_format(floor: float = P_FLOOR) -> str:
    """The Excel number format of P(hit): a whole percentage, and below ``floor`` / above
    ``1 - floor`` the words the pages print ("< 1 %", "> 99 %",
    :func:`salesplan.status.fmt_probability`). The cell keeps the probability as a number."""
    low, high = f"{floor * 100:g}", f"{(1 - floor) * 100:g}"
    return f'[<{floor:g}]"< {low} %";[>{1 - floor:g}]"> {high} %";{excel_percent_format(0)}'


def number_formats(money_unit: str = "") -> dict[str, str]:
    """Each kind of column -> its Excel number format; money is shown in ``money_unit`` (K, M, B;
    "" for whole currency units) while the cell keeps the exact amount
    (:func:`salesplan.units.excel_money_format`)."""
    return {
        "money": excel_money_format(money_unit),
        "pct": excel_percent_format(1),
        "probability": probability_format(),
        "count": EXCEL_COUNT_FORMAT,
        "year": YEAR_FORMAT,
        "date": DATE_FORMAT,
        "multiple": MULTIPLE_FORMAT,
        "number": NUMBER_FORMAT,
    }


COLUMN_KIND_RULES: tuple[tuple[str, str], ...] = (
    (r"^p_(hit|miss)(_|$)", "probability"),
    (r"attainment|deviation|share|_pct$|(^|_)rate$|^impact$|^yoy$|growth|conversion", "pct"),
    (r"^year$", "year"),
    (r"^(days|months_open|escalation_level|reps|count|items|orders|customers)$|^n_|_count$", "count"),
    (
        r"^(actual|target|gap|landing|ytd|forecast|amount|shortfall|commission|difference|run_rate_needed"
        r"|previous_year)$|_(actual|target|amount|payout|bonus|adjustment|published|restated)$|^(lo|hi)_\d+$"
        r"|payout",
        "money",
    ),
)
"""The one mapping from a column's name to the kind of its numbers, first match wins (so
``attainment_published`` is a percentage and ``payout_published`` an amount; ``run_rate_needed``
is an amount, ``collection_rate`` a rate)."""

KPI_UNIT_KINDS = {"pct": "pct", "money": "money", "x": "multiple"}
"""The KPI table's ``unit`` -> the kind of its goal and values (each KPI row has its own)."""


def column_kind(name: str) -> str | None:
    """The kind of the numbers in column ``name`` by :data:`COLUMN_KIND_RULES`: ``probability``,
    ``pct``, ``year``, ``count`` or ``money``; None for a name no rule knows."""
    for pattern, kind in COLUMN_KIND_RULES:
        if re.search(pattern, str(name)):
            return kind
    return None


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Each column of ``frame`` holding numbers or dates -> its kind: dates by their type, numbers
    by :func:`column_kind`, else ``count`` for whole numbers and ``number`` for the rest. Text
    and yes/no columns get none."""
    kinds: dict[str, str] = {}
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_datetime64_any_dtype(values):
            kinds[col] = "date"
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            fallback = "count" if pd.api.types.is_integer_dtype(values) else "number"
            kinds[col] = column_kind(col) or fallback
    return kinds


def pack_money_unit(settings: Any) -> str:
    """The money unit of the pack: ``report.money_unit`` (:func:`salesplan.units.money_unit`)."""
    return money_unit(settings)


UNIT_WORDS = {"": "currency units", "K": "thousands", "M": "millions", "B": "billions"}


def with_names(frame: pd.DataFrame, reps: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` with ``rep_name`` beside ``rep_id`` (from the reps table ``rep_id, rep_name``),
    when it has a rep id and no name yet; blank for an id the reps table lacks."""
    if reps is None or "rep_id" not in frame or "rep_name" in frame or "rep_name" not in reps:
        return frame
    names = dict(zip(reps["rep_id"].astype(str), reps["rep_name"].fillna(""), strict=True))
    shown = frame["rep_id"].map(lambda i: "" if pd.isna(i) else names.get(str(i), ""))
    out = frame.copy()
    out.insert(out.columns.get_loc("rep_id") + 1, "rep_name", shown.astype(object).to_numpy())
    return out


def period_words(period: str, month: pd.Period) -> str:
    """A flag period as the Summary names it: "month 2026-10", "quarter 2026Q3", "half-year
    2026H1", "year to date 2026"; another period by its name."""
    half = 1 if month.month <= 6 else 2
    return {
        "month": f"month {month}",
        "quarter": f"quarter {month.year}Q{month.quarter}",
        "half": f"half-year {month.year}H{half}",
        "ytd": f"year to date {month.year}",
    }.get(period, period)


def flag_count_rows(counts: pd.DataFrame, month: pd.Period) -> list[tuple[str, Any, str]]:
    """The Summary's flag counts: one row per period of ``counts`` (periods x statuses,
    :func:`salesplan.retro.report.flag_counts_by_period`) and status, most severe first, the
    status as symbol and word ("Flags, month 2026-10: ◆ dark red"); ``no target`` only when
    some item has none."""
    rows = []
    for period, line in counts.iterrows():
        words = period_words(str(period), month)
        for status in STATUS_ORDER:
            n = int(line.get(status, 0) or 0)
            if status != "no_target" or n:
                rows.append((f"Flags, {words}: {status_label(status)}", n, "count"))
    return rows


def commission_total_rows(
    payouts: Mapping[str, float] | None, month_lines: pd.DataFrame | None
) -> list[tuple[str, Any, str]]:
    """The Summary's commission totals: the month's, quarter's and year's payout (``payouts``:
    :meth:`salesplan.retro.month.Retrospective.payout_totals`), and of the month's lines the reps
    on the statement and the reps paid (a payout above zero)."""
    rows: list[tuple[str, Any, str]] = []
    if payouts is not None:
        rows += [
            ("Commission payout, month", payouts.get("month"), "money"),
            ("Commission payout, quarter to date", payouts.get("qtd"), "money"),
            ("Commission payout, year to date", payouts.get("ytd"), "money"),
        ]
    if month_lines is not None and "total_payout" in month_lines:
        paid = pd.to_numeric(month_lines["total_payout"], errors="coerce").fillna(0)
        rows += [
            ("Reps on the month's commission statement", int(len(month_lines)), "count"),
            ("Reps paid a commission this month", int((paid > 0).sum()), "count"),
        ]
    return rows


def month_pack_sheets(
    ctx: PackContext,
    *,
    figures: Mapping[str, Any],
    flags: pd.DataFrame,
    commissions: pd.DataFrame,
    kpis: pd.DataFrame,
    actions: pd.DataFrame | None = None,
    risks: pd.DataFrame | None = None,
    warnings: pd.DataFrame | None = None,
    restatement: pd.DataFrame | None = None,
    counts: pd.DataFrame | None = None,
    payouts: Mapping[str, float] | None = None,
    month_commissions: pd.DataFrame | None = None,
    reps: pd.DataFrame | None = None,
    money_unit: str | None = None,
) -> dict[str, tuple[pd.DataFrame, dict[str, Any]]]:
    """The pack's sheets: name -> (table, {column: kind}) from the month context and the
    retrospective's tables (``figures``: :func:`salesplan.retro.report.headline_figures`;
    ``flags``; ``commissions``: the year-to-date statement; ``kpis``: the KPI table; ``actions``:
    the action review, :func:`salesplan.retro.actions.review_actions`; ``risks``: the risk matrix,
    :func:`salesplan.retro.risks.risk_matrix`; ``warnings``: the early warnings; ``restatement``:
    closed months restated, :func:`salesplan.retro.restatement.restatement_for`). The Actions,
    Risks and Warnings sheets are added when given, the Restatement sheet when it has rows.

    The Summary adds, when given, the flag counts per period and status (``counts``), the
    commission totals (``payouts``, ``month_commissions``: the month's commission lines) and says
    the money unit (``money_unit``, default :func:`pack_money_unit`) and currency. ``reps``
    (``rep_id, rep_name``) names each rep beside the id. Kinds are those of :func:`column_kinds`;
    a kind may be a list, one per row (the KPIs sheet: each KPI's unit)."""
    from salesplan.targets.views import plan_words, plan_year_words

    month = str(ctx.month)
    plan = ctx.plan
    currency = ctx.settings.report.currency
    unit = pack_money_unit(ctx.settings) if money_unit is None else money_unit
    scale(unit)
    shown_in = f"{unit} {currency}".strip() if unit else currency
    rows: list[tuple[str, Any, str]] = [
        ("Month", month, ""),
        ("Plan", plan_words(plan.month(ctx.month)) if plan.has_plan else plan.describe(ctx.month), ""),
        ("Plan by months", plan_year_words(plan), ""),
        ("Currency", currency, ""),
        (
            "Amounts shown in",
            f"{shown_in}: {UNIT_WORDS[unit]} of {currency}; each cell holds the exact amount in {currency}",
            "",
        ),
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
        ("P(hit annual target)", _number(figures["p_hit"]), "probability"),
        ("P(hit) at the extremes", PROBABILITY_NOTE, ""),
    ]
    if counts is not None:
        rows += flag_count_rows(counts, pd.Period(month, freq="M"))
    rows += commission_total_rows(payouts, month_commissions)
    summary = pd.DataFrame(rows, columns=["figure", "value", "kind"])
    plan_rows = with_names(plan_in_force_rows(plan), reps)
    commissions = with_names(commission_rows(commissions, plan, currency), reps)
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
    flag_table = with_names(flag_table, reps)
    level = int(ctx.settings.forecast.levels[0])
    # P(hit) is a number with the probability format, which reads "< 1 %" as the pages do.
    landing = ctx.landing()
    forecast = ctx.forecast().forecast
    forecast = forecast.loc[forecast["level"].isin(["total", "region", "product_line"])]
    forecast = forecast[["unique_id", "level", "ds", "blended", f"lo_{level}", f"hi_{level}"]].rename(
        columns={"ds": "month", "blended": "forecast"}
    )
    tables: dict[str, pd.DataFrame] = {
        "Plan in force": plan_rows,
        "Flags": flag_table,
        "Commissions": commissions,
        "Landing": landing,
        "Forecast": forecast,
        "KPIs": kpis,
    }
    extra = {"Actions": actions, "Risks": risks, "Warnings": warnings}
    tables.update({name: with_names(table, reps) for name, table in extra.items() if table is not None})
    if restatement is not None and len(restatement):
        tables["Restatement"] = with_names(restatement, reps)
    sheets: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {"Summary": (summary, {})}
    for name, table in tables.items():
        shown = with_status_labels(table)
        sheets[name] = (shown, kpi_kinds(shown) if name == "KPIs" else column_kinds(shown))
    return sheets


STATUS_COLUMNS = ("status", "flag_status")
"""Columns holding a status, shown as symbol and word ("◆ dark red", :func:`salesplan.status.status_label`)."""


def with_status_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each status column's statuses as symbol and word, so no "dark_red" reaches a
    reader; other values (a risk band, a blank) are kept."""
    known = set(STATUS_ORDER)
    labelled = {
        col: frame[col].map(lambda s: status_label(s) if s in known else s)
        for col in STATUS_COLUMNS
        if col in frame and len(frame)
    }
    return frame.assign(**labelled) if labelled else frame


def kpi_kinds(kpis: pd.DataFrame) -> dict[str, Any]:
    """The KPIs sheet's kinds: goal and values by each row's ``unit`` (:data:`KPI_UNIT_KINDS`,
    ``number`` for another unit), the other columns by :func:`column_kinds`."""
    kinds: dict[str, Any] = column_kinds(kpis)
    if "unit" in kpis:
        per_row = [KPI_UNIT_KINDS.get(str(u), "number") for u in kpis["unit"]]
        kinds.update({c: per_row for c in ("goal", "month_value", "ytd_value") if c in kpis})
    return kinds


def _number(value: Any) -> float | None:
    """A figure as a float, None when missing (an empty cell, never the text "nan")."""
    if value is None:
        return None
    number = float(value)
    return None if pd.isna(number) else number


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
    number = as_dates(commissions["month"]).dt.month
    by_month = {m: plan_words(plan.month(m)) for m in range(1, 13)}
    return commissions.assign(plan=number.map(by_month).to_numpy(), currency=currency)


def write_workbook(
    path: str | os.PathLike[str],
    sheets: Mapping[str, tuple[pd.DataFrame, Mapping[str, Any]]],
    *,
    money_unit: str = "",
) -> Path:
    """Write ``sheets`` (name -> (table, column kinds)) to ``path``: one sheet each, a styled
    frozen header row, a filter over the table, column widths from the content, and a number
    format on every numeric and date cell (:func:`number_formats`, money shown in ``money_unit``).

    A cell's kind is, in order: its column's kind in the sheet's kinds (one kind, or a list with
    one per row), the Summary sheet's ``kind`` column (per row; the column is not shown), the
    column's meaning (:func:`column_kinds`); a number still without one is a ``count`` when
    whole and a ``number`` otherwise, a date a ``date``. Written beside the target and renamed
    into place, so a reader never sees half a file."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    formats = number_formats(money_unit)
    header_fill = PatternFill("solid", fgColor="E8ECF1")
    header_border = Border(bottom=Side(style="thin", color="7F8C9A"))
    book = Workbook()
    book.remove(book.active)
    for name, (frame, given) in sheets.items():
        sheet = book.create_sheet(title=name[:31])
        table = neutralise_formulas(frame.reset_index(drop=True))
        kinds: dict[str, Any] = {**column_kinds(table), **dict(given)}
        if name == "Summary" and "kind" in table:
            kinds["value"] = list(table.pop("kind"))
        sheet.append([str(c) for c in table.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = header_fill
            cell.border = header_border
            cell.alignment = Alignment(vertical="top", wrap_text=True)
        for i, values in enumerate(table.itertuples(index=False)):
            row = [None if _missing(v) else _plain(v) for v in values]
            sheet.append(row)
            for j, (col, value) in enumerate(zip(table.columns, row, strict=True), start=1):
                fmt = _cell_format(value, kinds.get(col), i, formats)
                if fmt is not None:
                    sheet.cell(row=i + 2, column=j).number_format = fmt
        for j, col in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(j)].width = _width(col, table[col])
        sheet.freeze_panes = "A2"
        if len(table.columns):
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{max(len(table) + 1, 1)}"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Staged beside the target and moved into place whole: a reader never opens half a workbook.
    with replace_atomically(target) as staged:
        book.save(staged)
    return target


def _cell_format(value: Any, kind: Any, row: int, formats: Mapping[str, str]) -> str | None:
    """The number format of one written cell (:func:`write_workbook`); None for text."""
    if isinstance(kind, Sequence) and not isinstance(kind, str):
        kind = kind[row] if row < len(kind) else None
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, dt.date | dt.datetime):
        return formats["date"]
    if not isinstance(value, int | float):
        return None
    if kind in formats and kind != "date":
        return formats[kind]
    return formats["count"] if isinstance(value, int) or float(value).is_integer() else formats["number"]


def _width(header: Any, values: pd.Series) -> float:
    """A column's width in characters: its longest header or text (a CJK character counts two),
    numbers and dates at 14, between 8 and 60."""

    def chars(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    sample = values.head(200)
    texts = [chars(v) for v in sample if isinstance(v, str)]
    numeric = len(texts) < sample.notna().sum()
    width = max([chars(str(header)), *texts, 14 if numeric else 0]) + 2
    return float(min(max(width, 8), 60))


def _missing(value: Any) -> bool:
    """NaN, NaT, None and pandas' NA: written as an empty cell."""
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and pd.isna(value)


def _plain(value: Any) -> Any:
    """A cell value openpyxl writes as itself: numpy scalars as Python numbers, timestamps as datetimes."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value
