"""The first card of the data-check, targets, forecast and commissions pages: their figures,
built from what the month context already holds (the retrospective's and the review's come
from :class:`salesplan.retro.month.Retrospective` and :class:`salesplan.review.Review`).

Each function returns the figures :func:`salesplan.cards.headline` shows and the run's index
publishes (``label``, ``value``, ``raw``, ``note``, ``status``), money in ``report.money_unit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from salesplan.cube import monthly_totals
from salesplan.status import fmt_probability
from salesplan.units import currency, fmt_int, fmt_money, fmt_pct, money_unit

if TYPE_CHECKING:
    from salesplan.targets import TargetPlan
    from salesplan.workbook import MonthContext

Figure = dict[str, Any]


def data_check(wb: MonthContext) -> list[Figure]:
    """The data check's answer: the month covered, its net sales beside the same month a year
    before, order lines loaded, the last order date, validation warnings and the plan used."""
    unit = money_unit(wb.settings)
    monthly = monthly_totals(wb.cube)
    month = wb.month.to_timestamp()
    sales = float(monthly.loc[monthly["month"] == month, "net_amount"].sum())
    year_ago = float(monthly.loc[monthly["month"] == month - pd.DateOffset(years=1), "net_amount"].sum())
    warnings = len(wb.data.warnings)
    return [
        {"label": "Month covered", "value": str(wb.month), "raw": None},
        {
            "label": f"Net sales {wb.month}",
            "value": fmt_money(sales, unit, 2),
            "raw": sales,
            "note": f"same month last year: {fmt_money(year_ago, unit, 2)}",
        },
        {"label": "Order lines loaded", "value": fmt_int(wb.agg.lines), "raw": int(wb.agg.lines)},
        {"label": "Last order date", "value": f"{wb.as_of:%Y-%m-%d}", "raw": None},
        {"label": "Validation warnings", "value": fmt_int(warnings), "raw": warnings},
        wb.plan.headline_figure(wb.month),
    ]


def forecast(wb: MonthContext) -> list[Figure]:
    """Where the year lands (:meth:`MonthContext.landing_total`): the landing with its first
    interval, P(hit) of the annual target and the gap (landing - target), each with the landing's
    status when a plan is in force, and the plan used."""
    unit = money_unit(wb.settings)
    total = wb.landing_total()
    status = total["status"] if wb.plan.has_plan else None
    interval = f"{fmt_money(total['low'], unit)} – {fmt_money(total['high'], unit)}"
    return [
        {
            "label": "Landing",
            "value": fmt_money(total["landing"], unit),
            "raw": total["landing"],
            "note": f"{total['level']:.0f} % interval {interval}",
            "status": status,
        },
        {
            "label": "P(hit annual target)",
            "value": fmt_probability(total["p_hit"]),
            "raw": total["p_hit"],
            "status": status,
        },
        {
            "label": "Gap to target",
            "value": fmt_money(total["gap"], unit, signed=True),
            "raw": total["gap"],
            "note": "landing - annual target (negative = short)",
        },
        wb.plan.headline_figure(wb.month),
    ]


def commissions(wb: MonthContext, lines: pd.DataFrame, plan_figure: Figure) -> list[Figure]:
    """The month's commissions (``lines``: one row per rep, ``total_payout``, ``qtd_payout``,
    ``ytd_payout``, ``rep_id``, ``rep_name``): payouts of the month, quarter and year to date in
    the data's currency (whole amounts, as paid), how many reps are paid and the largest payout,
    and ``plan_figure`` (the plan the attainment is measured against)."""
    money = currency(wb.settings)
    paid = int((lines["total_payout"] > 0).sum())
    top = lines.nlargest(1, "total_payout")
    largest = (
        f"largest: {top['rep_name'].iloc[0]} ({top['rep_id'].iloc[0]}), {fmt_money(top['total_payout'].iloc[0])} {money}"
        if len(top)
        else "no rep has a target"
    )
    figures = [
        {"label": f"{label} ({money})", "value": fmt_money(lines[column].sum()), "raw": float(lines[column].sum())}
        for label, column in (
            ("Payout this month", "total_payout"),
            ("Quarter to date", "qtd_payout"),
            ("Year to date", "ytd_payout"),
        )
    ]
    return [
        *figures,
        {"label": "Reps paid this month", "value": f"{paid} of {len(lines)}", "raw": paid, "note": largest},
        plan_figure,
    ]


def targets(
    tp: TargetPlan,
    reconciliation_note: str,
    standing: dict[str, Any] | None,
    plan_figure: Figure,
    unit: str,
) -> list[Figure]:
    """The targets page's answer: the method's annual target (its change on the last 12 months
    and whether it is saved, approved or in force: ``standing``), the gap between top-down and
    bottom-up with how it was closed (``reconciliation_note``), and ``plan_figure``."""
    steps = tp.baseline.set_index("step")["amount"]
    rec = tp.reconciliation
    return [
        {
            "label": f"Method's annual target ({tp.scenario})",
            "value": fmt_money(tp.total, unit),
            "raw": tp.total,
            "note": f"{fmt_pct(tp.total / steps['last_year'] - 1, signed=True)} on the last 12 months; "
            + (standing["text"] if standing is not None else "not saved (plan year in progress)"),
        },
        {
            "label": "Top-down vs bottom-up",
            "value": fmt_pct(rec["gap_pct"], signed=True),
            "raw": float(rec["gap_pct"]),
            "note": reconciliation_note,
        },
        plan_figure,
    ]
