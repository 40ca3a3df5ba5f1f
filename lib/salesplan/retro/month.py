"""The month's retrospective, built once in the library and written once.

:func:`build_retrospective` turns the month context (:func:`salesplan.workbook.open_workbook`)
into one typed :class:`Retrospective`: the headline figures, the deviation flags with their
owners, the actions reviewed and carried over, the variance splits, the landing views, the risks
and early warnings, process tracking, the KPIs, the commissions, the quarter/half/year views, the
month-over-month comparison, any restatement of closed months, and the summary next month reads.
:func:`write_retrospective` writes its files into the report folder. The retrospective page
narrates this object: it computes nothing itself.

Every figure is as of the report month's end: the month context reads the tables cut at that day,
and every rule here is a function of the context alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from salesplan.retro import actions, export, kpi, landing, mom, periods, report, restatement, risks, variance
from salesplan.retro import flags as retro_flags
from salesplan.retro import process as tracking
from salesplan.settings import Bands, Thresholds
from salesplan.status import fmt_probability
from salesplan.units import money_unit

if TYPE_CHECKING:
    from salesplan.workbook import MonthContext


@dataclass(frozen=True)
class VarianceSplit:
    """The gap between actual and plan over one window, split every way the method names.

    ``tables``: ``"price / volume / mix"`` (per product line,
    :func:`salesplan.retro.variance.price_volume_mix_vs_plan`) and one table per dimension of
    ``retro.variance_dimensions`` (:func:`salesplan.retro.variance.variance_by_dimension`);
    ``summary``: each split's sum of parts against the total variance
    (:func:`salesplan.retro.variance.variance_summary`), which closes to the cent."""

    window: periods.Window
    tables: dict[str, pd.DataFrame]
    summary: pd.DataFrame

    @property
    def label(self) -> str:
        return self.window.label

    @property
    def variance(self) -> float:
        """Actual − plan over the window."""
        return float(self.summary["variance"].iloc[0]) if len(self.summary) else 0.0


@dataclass(frozen=True)
class PeriodView:
    """A closing quarter or half-year: actual vs target over the window and its flags."""

    mode: str
    window: periods.Window
    actual: float
    target: float
    attainment: float
    counts: pd.DataFrame
    split: VarianceSplit


@dataclass(frozen=True)
class ProcessTracking:
    """Leads, won deals, new customers, stages and visits against the process targets of the
    plan in force (:mod:`salesplan.retro.process`), with a sentence per source."""

    targets: pd.DataFrame
    funnel: pd.DataFrame
    stages: pd.DataFrame | None
    stage_note: str
    visits: pd.DataFrame | None
    visits_note: str
    funnel_source: str


@dataclass(frozen=True)
class MonthOverMonth:
    """What changed since last month's report: the summary compared with (published, else
    recomputed), the flags whose status changed and the landing bridge."""

    previous_month: pd.Period
    source: str
    previous_plan: str
    changes: pd.DataFrame
    bridge: pd.DataFrame | None

    def change_counts(self) -> pd.Series:
        """Flags per kind of change (worse, better, new, gone), unchanged left out."""
        counts = self.changes["change"].value_counts() if len(self.changes) else pd.Series(dtype="int64")
        return counts.reindex(list(mom.CHANGE_ORDER), fill_value=0).drop("unchanged").astype(int)


@dataclass
class Retrospective:
    """One month's retrospective against the plan in force (module docstring).

    Tables keep the library's tidy column names; the page formats them. ``figures`` are the
    headline numbers (:func:`salesplan.retro.report.headline_figures`), ``counts`` the flags per
    status and period (:func:`salesplan.retro.report.flag_counts_by_period`)."""

    month: pd.Period
    unit: str
    has_plan: bool
    plan_statement: str
    thresholds: Thresholds
    probability_bands: Bands
    figures: dict[str, Any]
    counts: pd.DataFrame
    flags: pd.DataFrame
    flag_periods: list[str]
    previous_actions_source: str
    action_review: pd.DataFrame
    register: pd.DataFrame
    variance: dict[str, VarianceSplit]
    landings: pd.DataFrame
    landing: pd.DataFrame
    total_landing: dict[str, Any]
    risk_table: pd.DataFrame
    warnings: Any
    process: ProcessTracking
    kpis: pd.DataFrame
    kpi_trend: pd.DataFrame
    collection: pd.DataFrame
    commissions: pd.DataFrame
    statement: pd.DataFrame
    period_views: dict[str, PeriodView]
    year_view: pd.DataFrame | None
    month_over_month: MonthOverMonth
    restatement: pd.DataFrame
    summary: dict[str, Any] = field(repr=False)

    @property
    def year(self) -> int:
        return int(self.month.year)

    def first_screen(self) -> str:
        """The first screen as plain text (:func:`salesplan.retro.report.first_screen_text`)."""
        return report.first_screen_text(
            self.figures, self.counts, self.month, self.thresholds, self.probability_bands, self.unit
        )

    def headline_figures(self) -> list[dict[str, Any]]:
        """The first screen as figures for :func:`salesplan.publish.headline` and the index."""
        return report.publish_figures(self.figures, self.counts, self.thresholds, self.probability_bands, self.unit)

    def payout_totals(self) -> dict[str, float]:
        """Total payout of the month, the quarter to date and the year to date (currency units)."""
        lines = self.commissions
        return {
            "month": float(lines["total_payout"].sum()) if len(lines) else 0.0,
            "qtd": float(lines["qtd_payout"].sum()) if len(lines) else 0.0,
            "ytd": float(lines["ytd_payout"].sum()) if len(lines) else 0.0,
        }


def variance_split(cube: pd.DataFrame, plan: pd.DataFrame, win: periods.Window, dimensions: list[str]) -> VarianceSplit:
    """Price / volume / mix and the gap per dimension over ``win`` (:class:`VarianceSplit`)."""
    tables = {"price / volume / mix": variance.price_volume_mix_vs_plan(cube, plan, win)}
    tables.update({d: variance.variance_by_dimension(cube, plan, win, d) for d in dimensions})
    return VarianceSplit(win, tables, variance.variance_summary(tables))


def flag_periods(month: pd.Period) -> list[str]:
    """The periods flagged this month: the month and the year to date always, the quarter and the
    half-year when the month closes one (:func:`salesplan.retro.periods.report_modes`)."""
    modes = periods.report_modes(month)
    return ["month", "ytd"] + [m for m in ("quarter", "half") if m in modes]


def landing_views(
    cube: pd.DataFrame, plan: pd.DataFrame, month: pd.Period, total_landing: dict[str, Any]
) -> pd.DataFrame:
    """The four ways of projecting the year (:func:`salesplan.retro.landing.landing_comparison`),
    the statistical one being the forecast library's landing of the total."""
    return landing.landing_comparison(
        cube,
        plan,
        month,
        {
            "landing": total_landing["landing"],
            "low": total_landing["low"],
            "high": total_landing["high"],
            "assumes": "the forecast library's model of the remaining months, reconciled across regions and "
            "product lines and blended with the weighted pipeline for the next months; "
            f"{total_landing['level']:.0f} % interval; P(hit) {fmt_probability(total_landing['p_hit'])}",
        },
    )


def process_tracking(wb: MonthContext, cube: pd.DataFrame) -> ProcessTracking:
    """Process targets of the plan in force and the funnel, stages and visits against them."""
    settings = wb.settings
    thresholds = settings.retro.thresholds
    visit_types = list(settings.retro.process.visit_types)
    implausible_below = settings.retro.process.implausible_below
    targets = tracking.plan_process_targets(
        cube,
        wb.plan.frame,
        wb.data.pipeline,
        wb.data.reps,
        settings.targets,
        wb.month.year,
        activities=wb.data.activities,
        visit_types=visit_types,
    )
    stages = list(settings.forecast.pipeline.stage_probability)
    end = wb.month.to_timestamp(how="end").normalize()
    opportunities = (
        tracking.opportunity_history(wb.data.pipeline, end, stages) if wb.data.pipeline is not None else None
    )
    funnel = tracking.funnel_tracking(
        opportunities, cube, targets, wb.month, thresholds, implausible_below=implausible_below
    )
    visits, visits_note = tracking.visits_tracking(
        wb.data.activities,
        wb.data.reps,
        targets,
        wb.month,
        visit_types,
        settings.targets.ramp,
        thresholds,
        implausible_below=implausible_below,
    )
    if opportunities is not None and len(targets):
        stage_table, stage_note = tracking.stage_tracking(
            opportunities, wb.data.pipeline, wb.month, stages, float(targets["won_deals"].sum()) / 12, thresholds
        )
    else:
        stage_table, stage_note = None, tracking.needs("pipeline")
    source = "from the pipeline snapshots" if opportunities is not None else tracking.needs("pipeline")
    return ProcessTracking(targets, funnel, stage_table, stage_note, visits, visits_note, source)


def period_view(cube: pd.DataFrame, plan: pd.DataFrame, month: pd.Period, mode: str, flags: pd.DataFrame) -> PeriodView:
    """Actual vs target, flag counts and the variance split of the quarter or half-year ``mode``
    that ``month`` closes."""
    win = periods.window(month, mode)
    row = retro_flags.actual_vs_plan(cube, plan, win, []).iloc[0]
    return PeriodView(
        mode,
        win,
        float(row["actual"]),
        float(row["target"]),
        float(row["attainment"]),
        report.flag_counts_by_period(flags, (mode,)),
        variance_split(cube, plan, win, ["region"]),
    )


def month_over_month(wb: MonthContext, flags: pd.DataFrame, figures: dict[str, Any]) -> MonthOverMonth:
    """Flags that changed since the previous month's summary and the landing bridge."""
    previous, source = wb.previous_summary()
    return MonthOverMonth(
        periods.previous_month(wb.month),
        source,
        str(previous.get("targets_source", "")),
        mom.flag_changes(flags, previous["flags"]),
        mom.landing_bridge(previous, figures, wb.month),
    )


def build_retrospective(wb: MonthContext) -> Retrospective:
    """The month's retrospective against the plan in force, as of the report month's end.

    One call builds every table the retrospective page, the Excel pack, ``flags.csv`` and
    ``retro_summary.json`` show, from the month context alone, so every page and file reads the
    same figures and each rule can be tested on its own."""
    settings = wb.settings
    retro_settings = settings.retro
    thresholds = retro_settings.thresholds
    month = wb.month
    year = month.year
    plan = wb.plan_rows()
    cube = variance.add_customer_tier(wb.cube, year - 1, dict(settings.customer_tiers))

    chosen_periods = flag_periods(month)
    flags = retro_flags.deviation_flags(
        cube,
        plan,
        month,
        wb.data.reps,
        thresholds,
        dict(retro_settings.escalation),
        retro_settings.product_owners,
        chosen_periods,
    )
    total_landing = wb.landing_total()
    figures = report.headline_figures(cube, plan, month, total_landing)
    counts = report.flag_counts_by_period(flags)

    previous_actions, actions_source = actions.previous_register(wb.data.actions, month)
    # The register as published last month tells which rows the team deleted from it.
    action_review = actions.review_actions(
        previous_actions,
        flags,
        month,
        retro_settings.actions,
        retro_settings.escalation,
        issued=actions.published_register(wb.reports_root, month),
    )
    register = actions.next_register(action_review, flags, month, retro_settings.actions, retro_settings.escalation)
    # Every export shows a flag with its action's owner and meeting columns.
    flags = actions.flags_with_actions(flags, action_review, retro_settings.actions)

    splits = {
        name: variance_split(cube, plan, periods.window(month, name), list(retro_settings.variance_dimensions))
        for name in ("month", "ytd")
    }

    land = wb.landing()
    rep_land = risks.rep_landing(
        cube,
        wb.plan.frame if wb.plan.has_plan else None,
        month,
        settings.forecast,
        wb.forecast(),
        retro_settings.thresholds,
        settings.risk.probability,
    )
    risk_table = risks.risk_matrix(
        pd.concat([land, rep_land], ignore_index=True),
        wb.data.reps,
        settings.risk.probability,
        settings.risk.impact,
        retro_settings.product_owners,
        month,
    )
    # The month's payments summed per order once (kept with the restatement), else read here.
    collected = wb.collected_cash()
    early = risks.early_warnings(
        wb.data,
        cube,
        month,
        settings.customer_tiers,
        settings.risk.warnings,
        orders=wb.order_totals(),
        collected=collected,
        receivables=wb.payments() if collected is None else None,
    )

    process = process_tracking(wb, cube)
    kpi_values, kpi_trend = kpi.kpi_table(
        cube,
        wb.plan_rows(year - 1, year),
        month,
        settings.kpi,
        thresholds,
        wb.order_totals(),
        wb.data.products,
        wb.data.pipeline,
        settings.forecast.pipeline,
        spend=wb.data.spend,
        nps=wb.data.nps,
        win_rate_goal=tracking.planned_win_rate(process.targets),
        sku_sales=wb.sku_sales(),
        position=early.position,
        collection_basis=early.basis,
    )
    collection = kpi.signed_vs_collected(early.position, month, wb.data.reps)
    pay_lines, pay_statement = wb.commissions()

    modes = periods.report_modes(month)
    views = {m: period_view(cube, plan, month, m, flags) for m in ("quarter", "half") if m in modes}
    year_view = report.year_review(cube, plan, month) if "year" in modes else None
    mom_view = month_over_month(wb, flags, figures)
    restated = restatement.restatement_for(wb)
    plan_statement = wb.plan.describe(month)

    summary = export.build_summary(
        month,
        figures | {"flag_counts": counts.to_dict(orient="index")},
        flags,
        wb.forecast_months(),
        plan_statement,
        commissions=pay_lines,
        restatements=restated,
    )
    # Next month reads back the register as published, to find the rows the team deleted.
    summary["register"] = actions.register_record(register)
    return Retrospective(
        month=month,
        unit=money_unit(wb.settings),
        has_plan=bool(wb.plan.has_plan),
        plan_statement=plan_statement,
        thresholds=thresholds,
        probability_bands=settings.risk.probability,
        figures=figures,
        counts=counts,
        flags=flags,
        flag_periods=chosen_periods,
        previous_actions_source=actions_source,
        action_review=action_review,
        register=register,
        variance=splits,
        landings=landing_views(cube, plan, month, total_landing),
        landing=land,
        total_landing=total_landing,
        risk_table=risk_table,
        warnings=early,
        process=process,
        kpis=kpi_values,
        kpi_trend=kpi_trend,
        collection=collection,
        commissions=pay_lines,
        statement=pay_statement,
        period_views=views,
        year_view=year_view,
        month_over_month=mom_view,
        restatement=restated,
        summary=summary,
    )


def write_retrospective(retro: Retrospective, wb: MonthContext, folder: str | os.PathLike[str] | None) -> list[Path]:
    """Write the retrospective's files into the report folder ``folder``: ``flags.csv``,
    ``retro_summary.json``, ``pack_YYYY-MM.xlsx``, the action register (``actions_YYYY-MM.xlsx``
    and ``.csv``) and, in December, ``year_review.csv``. Nothing is written when ``folder`` is
    None (a notebook run by hand). Returns the paths written."""
    if folder is None:
        return []
    from salesplan import excel

    pack = excel.month_pack_sheets(
        wb,
        figures=retro.figures,
        flags=retro.flags,
        commissions=retro.statement,
        kpis=retro.kpis,
        actions=retro.action_review,
        risks=retro.risk_table,
        warnings=retro.warnings.table,
        restatement=retro.restatement,
        counts=retro.counts,
        payouts=retro.payout_totals(),
        month_commissions=retro.commissions,
        reps=wb.data.reps,
    )
    unit = excel.pack_money_unit(wb.settings)
    written = [
        export.write_flags_csv(retro.flags, folder),
        export.write_summary(retro.summary, folder),
        excel.write_workbook(Path(folder) / f"pack_{retro.month}.xlsx", pack, money_unit=unit),
        *actions.write_register(retro.register, folder, retro.month),
    ]
    if retro.year_view is not None:
        written.append(export.write_year_review(retro.year_view, folder))
    return written
