"""The retrospective page's tables, charts and sentences, from a built :class:`Retrospective`.

Each function takes the month's :class:`~salesplan.retro.month.Retrospective` and returns one
thing to show (a styled table, a figure, a sentence); the page is a sequence of these calls and
the prose between them. Nothing here computes a figure: the numbers come from the builder.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from IPython.display import Markdown
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from salesplan import cards
from salesplan.layout import details
from salesplan.plots import retro as retro_plots
from salesplan.retro import flags as retro_flags
from salesplan.retro import mom, report, variance
from salesplan.retro.month import Retrospective, VarianceSplit
from salesplan.settings import CommissionSettings
from salesplan.status import fmt_probability
from salesplan.tables import fmt_money, fmt_pct, rag_label, rag_style, style_table


def _period_name(retro: Retrospective, period: str) -> str:
    """ "year to date 2026" or "2026-10": the period as captions name it."""
    return f"year to date {retro.year}" if period == "ytd" else str(retro.month)


def _period_title(retro: Retrospective, period: str) -> str:
    """ "Year to date 2026" or "Month 2026-10": the period at the head of a caption."""
    return f"Year to date {retro.year}" if period == "ytd" else f"Month {retro.month}"


# ---------------------------------------------------------------------------- plan and flags


def revisions_text(revisions: pd.DataFrame) -> str:
    """How many approved revisions were compared and how many moved a quarter beyond the allowed share."""
    if not len(revisions):
        return "No revision of this year's plan has been approved."
    return f"{len(revisions)} revision(s) compared, {int(revisions['flagged'].sum())} flagged."


def counts_text(retro: Retrospective) -> str:
    """Flag counts per period, or that there is no plan to flag against."""
    return report.counts_text(retro.counts) if retro.has_plan else "No plan: no flags."


def action_items(retro: Retrospective, period: str, limit: int = 10) -> Styler:
    """The period's red and dark red items, the ``limit`` largest shortfalls."""
    return report.flag_table(
        retro.flags,
        period,
        report.flag_table_caption(
            f"{_period_title(retro, period)}: the {limit} items that need action "
            "(red and dark red) with the most money at stake",
            ranked=True,
        ),
        ("dark_red", "red"),
        retro.unit,
        limit=limit,
    )


def all_items(retro: Retrospective, period: str) -> Any:
    """Every item of the period in a collapsed section."""
    return details(
        report.flag_table(
            retro.flags,
            period,
            report.flag_table_caption(f"{_period_title(retro, period)}: all items", ranked=False),
            unit=retro.unit,
        ),
        f"Every item, {_period_name(retro, period)} (table; also in flags.csv and the Excel pack)",
    )


def deviation_heatmap(retro: Retrospective, period: str, legend: bool = False) -> Figure:
    """Deviation from plan by region x product line, coloured by the flags' status. The page
    carries one status legend (:func:`salesplan.cards.legend`), so the chart draws none unless
    ``legend``."""
    return retro_plots.deviation_heatmap(
        retro_flags.flag_matrix(retro.flags, period, "deviation"),
        retro_flags.flag_matrix(retro.flags, period, "status"),
        f"Deviation from plan by region and product line, {_period_name(retro, period)}",
        thresholds=retro.thresholds,
        legend=legend,
    )


# ---------------------------------------------------------------------------- actions

REVIEW_COLUMNS = ["action_id", "level", "item", "owner", "state", "months_open", "due_date", "next_step",
                  "flag_status", "deviation"]  # fmt: skip


def actions_text(retro: Retrospective) -> str:
    """How last month's register was reviewed and what this month's register holds."""
    from salesplan.retro import actions

    reviewed = (
        actions.review_text(retro.action_review, retro.previous_actions_source)
        if retro.has_plan
        else "No plan: no flags, no actions."
    )
    carried = int((retro.register["carry"] != "new").sum()) if len(retro.register) else 0
    return f"{reviewed}\nThis month's register: {len(retro.register)} action(s), {carried} carried over."


def actions_table(retro: Retrospective, limit: int = 8) -> Any:
    """The most urgent ``limit`` actions in the review's order, or a sentence when there are none."""
    from salesplan.retro import actions

    review = retro.action_review
    if not len(review):
        return Markdown("No item needs an action and no earlier action is open.")
    top = review.head(limit)
    return rag_style(
        style_table(
            top.assign(flag_status=top["flag_status"].map(rag_label))[REVIEW_COLUMNS],
            signed_pct=["deviation"],
            caption=f"Actions reviewed in {retro.month}: the first {limit}, {actions.REVIEW_ORDER}",
            hide_index=True,
        ),
        "flag_status",
    )


def all_actions(retro: Retrospective) -> Any:
    """Every action reviewed, collapsed (None when the short table already holds them all)."""
    from salesplan.retro import actions

    review = retro.action_review
    if len(review) <= 8:
        return Markdown(f"All {len(review)} action(s) are in the table above.")
    return details(
        rag_style(
            style_table(
                review.assign(flag_status=review["flag_status"].map(rag_label)),
                signed_pct=["deviation"],
                money=[c for c in ("shortfall",) if c in review],
                unit=retro.unit,
                caption=f"Every action reviewed in {retro.month}, {actions.REVIEW_ORDER}",
                hide_index=True,
            ),
            "flag_status",
        ),
        f"Every action reviewed in {retro.month} (table; also in actions_{retro.month}.xlsx)",
    )


# ---------------------------------------------------------------------------- variance


def variance_text(retro: Retrospective) -> str:
    """Each window's variance and, per split, its sum of parts and whether it closes to the cent."""
    lines = []
    for split in retro.variance.values():
        lines.append(f"{split.label}: variance {fmt_money(split.variance, retro.unit, 2)}")
        for row in split.summary.itertuples():
            closes = "closes" if row.closes else "DOES NOT CLOSE"
            lines.append(
                f"  {row.split.replace('_', ' '):<24} sum of parts {fmt_money(row.sum_of_parts, '', 2):>16}  {closes}"
            )
    return "\n".join(lines)


def variance_chart(retro: Retrospective, split: VarianceSplit, max_items: int | None = None) -> Figure:
    """From plan to actual over one window: price / volume / mix and the gap per dimension."""
    steps = {"price / volume / mix": variance.pvm_steps(split.tables["price / volume / mix"])}
    steps.update(
        {
            f"by {dim.replace('_', ' ')}": variance.contribution_steps(t, dim, max_items=max_items)
            for dim, t in split.tables.items()
            if dim != "price / volume / mix"
        }
    )
    return retro_plots.variance_panels(steps, f"From plan to actual, {split.label}", unit=retro.unit)


def pvm_table(retro: Retrospective) -> Any:
    """Price / volume / mix by product line over the year to date, collapsed (the chart above
    shows the same split)."""
    pvm = retro.variance["ytd"].tables["price / volume / mix"]
    table = style_table(
        pvm[["product_line", "plan", "actual", "planned_price", "price_basis", "volume", "price", "mix", "variance"]],
        money=["plan", "actual", "volume", "price", "mix", "variance"],
        unit=retro.unit,
        caption=f"Price / volume / mix by product line, {retro.year} to date (planned price in currency units)",
        hide_index=True,
        formats={"planned_price": "{:,.2f}"},
    )
    return details(table, f"Price / volume / mix by product line, {retro.year} to date (table)")


# ---------------------------------------------------------------------------- landing


def landings_table(retro: Retrospective) -> Styler:
    """The four ways of projecting the year against the annual target."""
    return style_table(
        retro.landings.drop(columns="assumes"),
        money=["landing", "low", "high", "gap"],
        pct=["attainment"],
        unit=retro.unit,
        caption=f"Year-end landing {retro.year} vs annual target {fmt_money(retro.figures['annual_target'], retro.unit)}",
        hide_index=True,
    )


def landing_chart(retro: Retrospective) -> Figure:
    """The four landings against the annual target."""
    return retro_plots.landing_chart(
        retro.landings, retro.figures["annual_target"], f"Where {retro.year} lands, four ways", unit=retro.unit
    )


def landing_table(retro: Retrospective) -> Styler:
    """The statistical landing and P(hit) of the total, each region and each product line."""
    lv = int(retro.total_landing["level"])
    land = retro.landing
    shown = land.assign(status=land["status"].map(rag_label), p_hit=land["p_hit"].map(fmt_probability))[
        ["dimension", "item", "ytd", "target", "landing", f"lo_{lv}", f"hi_{lv}", "gap", "p_hit", "status"]
    ].rename(columns={f"lo_{lv}": "low", f"hi_{lv}": "high", "p_hit": "P(hit)"})
    return rag_style(
        style_table(
            shown,
            money=["ytd", "target", "landing", "low", "high", "gap"],
            unit=retro.unit,
            caption=f"Statistical landing and P(hit) by region and product line ({lv} % interval; gap = landing - target)",
            hide_index=True,
        ),
        "status",
    )


# ---------------------------------------------------------------------------- risks


def risk_counts_text(retro: Retrospective) -> str:
    """Items per cell of the risk matrix."""
    from salesplan.retro import risks

    if not len(retro.risk_table):
        return "No plan: no risk matrix."
    return (
        "Items per cell of the risk matrix (rows: probability of missing; columns: impact):\n"
        + risks.matrix_counts(retro.risk_table).to_string()
    )


def risk_items(retro: Retrospective) -> Any:
    """The items rated high or medium risk, collapsed."""
    from salesplan.retro import risks

    shown = retro.risk_table.loc[retro.risk_table["risk"] != "low"] if len(retro.risk_table) else retro.risk_table
    if not len(shown):
        return Markdown("No item is rated high or medium risk.")
    return details(
        style_table(
            shown,
            money=["target", "landing", "gap", "shortfall"],
            pct=["impact"],
            prob=["p_hit", "p_miss"],
            unit=retro.unit,
            caption=f"Risk matrix: items rated high or medium, {risks.RISK_ORDER} (all items are in the pack's "
            "Risks sheet)",
            hide_index=True,
        ),
        "Every item rated high or medium risk (table)",
    )


def warning_summary(retro: Retrospective) -> Any:
    """Early warnings per rule: how many, the money at stake, the largest and the oldest."""
    from salesplan.retro import risks

    summary = retro.warnings.summary
    if not len(summary) or not int(summary["items"].sum()):
        return Markdown("No early warning this month.")
    # The rule's wording is in the rules table below; the page keeps the figures.
    return style_table(
        summary.drop(columns=[c for c in ("rule", "shown") if c in summary]),
        money=["amount", "largest"],
        ints=["items", "oldest_days"],
        unit=retro.unit,
        caption=f"Early warnings {retro.month} per rule, {risks.WARNING_ORDER}",
        hide_index=True,
    )


def warning_items(retro: Retrospective) -> Any:
    """The largest early warnings of each rule, collapsed (every warning is in the pack)."""
    from salesplan.retro import risks

    largest = retro.warnings.largest
    if not len(largest):
        return Markdown("No early warning this month.")
    return details(
        style_table(
            largest,
            money=["amount"],
            ints=["days"],
            unit=retro.unit,
            caption=f"The largest early warnings of each rule, {risks.WARNING_ORDER} "
            f"({len(retro.warnings.table)} in all are in the pack's Warnings sheet)",
            hide_index=True,
        ),
        f"The largest early warnings of each rule ({len(largest)} of {len(retro.warnings.table)}; table)",
    )


def churn_table(retro: Retrospective) -> Any:
    """Churn per customer tier."""
    churn = retro.warnings.churn
    if not len(churn):
        return Markdown("Churn per tier needs 24 months of orders.")
    return details(
        style_table(
            churn,
            money=["lost_sales"],
            pct=["churn"],
            unit=retro.unit,
            caption="Churn per customer tier (tier by purchases a year ago)",
            hide_index=True,
        ),
        "Churn per customer tier (table)",
    )


# ---------------------------------------------------------------------------- process


def process_text(retro: Retrospective) -> str:
    """Where the process targets and the tracked counts come from."""
    p = retro.process
    return (
        f"Process targets {retro.year}: computed by the method from the plan in force ({retro.plan_statement}).\n"
        f"Leads and won deals: {p.funnel_source}\nVisits: {p.visits_note}\n{p.stage_note}"
    )


def funnel_table(retro: Retrospective) -> Any:
    """Leads, won deals and new customers against their targets."""
    funnel = retro.process.funnel
    if not len(funnel):
        return Markdown("No plan: no process targets.")
    return rag_style(
        style_table(
            funnel.assign(status=funnel["status"].map(rag_label)).round({"month_target": 1, "ytd_target": 1}),
            caption=f"Leads, won deals and new customers against the process targets, {retro.month} and {retro.year} to date",
            hide_index=True,
        ),
        "status",
    )


def stage_table(retro: Retrospective) -> Any:
    """Opportunities by stage against the numbers needed."""
    stages = retro.process.stages
    if stages is None:
        return Markdown(retro.process.stage_note)
    return details(
        rag_style(
            style_table(
                stages.assign(status=stages["status"].map(rag_label)),
                money=["open_amount"],
                pct=["conversion_ytd", "conversion_target"],
                unit=retro.unit,
                caption="Opportunities by stage: open now, reached against the number needed, conversion to the "
                "next stage",
                hide_index=True,
                formats={"needed_per_month": "{:,.1f}", "needed_ytd": "{:,.1f}"},
            ),
            "status",
        ),
        "Opportunities by stage against the numbers needed (table)",
    )


def visits_table(retro: Retrospective) -> Any:
    """Visits per rep against the target, collapsed."""
    from salesplan.retro import process as tracking

    visits = retro.process.visits
    if visits is None:
        return Markdown(
            f"Visits per rep: {tracking.needs('activities')} (activity_date, rep_id, customer_id, activity_type)."
        )
    return details(
        rag_style(
            style_table(
                visits.assign(status=visits["status"].map(rag_label)),
                caption=f"Visits per rep, {retro.month} and {retro.year} to date, against the target",
                hide_index=True,
                formats={"month_target": "{:,.1f}", "ytd_target": "{:,.1f}"},
            ),
            "status",
        ),
        f"Visits per rep, {retro.month} and {retro.year} to date (table)",
    )


# ---------------------------------------------------------------------------- KPIs


def kpi_table(retro: Retrospective) -> Styler:
    """The core KPIs and extras with their goals and statuses."""
    from salesplan.retro import kpi

    shown = kpi.format_kpi_table(retro.kpis)
    return rag_style(
        style_table(
            shown.drop(columns=[c for c in ("Definition", "Note") if c in shown]),
            caption=f"Core KPIs, {retro.month}",
            hide_index=True,
        ),
        "Status",
    )


def kpi_definitions(retro: Retrospective) -> Any:
    """Every KPI with its definition and notes, collapsed."""
    from salesplan.retro import kpi

    return details(
        style_table(kpi.format_kpi_table(retro.kpis), hide_index=True),
        "Every KPI with its definition and notes (table)",
    )


def kpi_chart(retro: Retrospective, months: int) -> Figure:
    """KPI trends over the last ``months`` months against their goals."""
    return retro_plots.kpi_trends(retro.kpi_trend, retro.kpis, f"KPI trends, last {months} months (dashed: goal)")


def collection_text(retro: Retrospective) -> str:
    """Signed vs collected by the month's end, company and regions."""
    table = retro.collection
    head = f"Collected cash: {retro.warnings.basis}."
    if not len(table):
        return head + "\nNo payment data: signed and collected cannot be told apart."
    return head + "\n" + table.loc[table["level"] != "rep"].to_string(index=False, float_format=lambda v: f"{v:,.2f}")


def collection_by_rep(retro: Retrospective) -> Any:
    """Signed vs collected per rep, the largest gap first, collapsed."""
    table = retro.collection
    if not len(table):
        return Markdown("No payment data.")
    return details(
        style_table(
            table.loc[table["level"] == "rep"].sort_values("gap", ascending=False),
            money=["signed", "collected", "gap"],
            pct=["collection_rate"],
            unit=retro.unit,
            caption=f"Signed vs collected per rep, {retro.year} to date (collected by {retro.month}'s end; "
            "largest gap first)",
            hide_index=True,
        ),
        "Signed vs collected, every rep (table)",
    )


# ---------------------------------------------------------------------------- commissions

COMMISSION_COLUMNS = ["rep_id", "rep_name", "team", "actual", "target", "attainment", "tier", "rate", "commission",
                      "quarter_excess_bonus", "team_adjustment", "total_payout", "qtd_payout", "ytd_payout"]  # fmt: skip


def commission_table(retro: Retrospective) -> Any:
    """Every rep's commission this month, collapsed."""
    if not retro.has_plan:
        return Markdown("No plan: no commissions (commission is paid on attainment against a plan).")
    lines = retro.commissions
    return details(
        style_table(
            lines[[c for c in COMMISSION_COLUMNS if c in lines]],
            money=["actual", "target"],
            pct=["attainment", "rate"],
            ints=["commission", "quarter_excess_bonus", "team_adjustment", "total_payout", "qtd_payout", "ytd_payout"],
            unit=retro.unit,
            caption=f"Commission {retro.month} (payouts in currency units)",
            hide_index=True,
        ),
        f"Every rep's commission, {retro.month} (table; statements on the commissions page)",
    )


def payout_text(retro: Retrospective) -> str:
    """The month's, quarter's and year's total payout."""
    if not retro.has_plan:
        return "No plan: no payouts."
    t = retro.payout_totals()
    return (
        f"Total payout {retro.month}: {fmt_money(t['month'])}; quarter to date {fmt_money(t['qtd'])}; "
        f"year to date {fmt_money(t['ytd'])}"
    )


def commission_chart(retro: Retrospective, tiers: list[list[float]]) -> Any:
    """Rep attainment against the commission tiers, collapsed."""
    if not retro.has_plan:
        return Markdown("No plan: no attainment to chart.")
    return details(
        retro_plots.rep_attainment(
            retro.commissions, f"Rep attainment {retro.month} (dotted: commission tier bounds)", tiers
        ),
        f"Rep attainment {retro.month} (chart)",
    )


def restatement_table(retro: Retrospective) -> Any:
    """Closed months restated by an approval made with ``--restate``: published beside restated."""
    table = retro.restatement
    if not len(table):
        return Markdown("No closed month has been restated: every published attainment and payout stands.")
    money = [c for c in ("payout_published", "payout_restated", "difference") if c in table]
    pct = [c for c in ("attainment_published", "attainment_restated") if c in table]
    return style_table(
        table,
        ints=money,
        pct=pct,
        caption="Restated closed months: attainment and payout as published and as restated, and the difference "
        "to settle (restated − published; currency units), by month and rep",
        hide_index=True,
    )


# ---------------------------------------------------------------------------- period views


def period_text(retro: Retrospective, mode: str) -> str:
    """The closing quarter's or half-year's actual vs target and its flags, or why there is none."""
    view = retro.period_views.get(mode)
    if view is None:
        return f"{retro.month} does not close a {mode}: no {mode} view this month."
    return (
        f"{view.window.label}: actual {fmt_money(view.actual, retro.unit)} vs target "
        f"{fmt_money(view.target, retro.unit)} ({fmt_pct(view.attainment)})\n" + report.counts_text(view.counts)
    )


def period_items(retro: Retrospective, mode: str) -> Any:
    """The closing period's items behind plan."""
    view = retro.period_views.get(mode)
    if view is None:
        return Markdown(f"No {mode} view this month.")
    return report.flag_table(
        retro.flags,
        mode,
        f"{view.window.label}: items behind plan (all items are in flags.csv)",
        ("dark_red", "red", "yellow"),
        retro.unit,
    )


def year_table(retro: Retrospective) -> Any:
    """December's year view, the input to next year's review."""
    if retro.year_view is None:
        return Markdown(f"{retro.month} is not December: the year view comes with the December report.")
    return style_table(
        retro.year_view,
        money=["actual", "target", "gap", "previous_year"],
        pct=["attainment"],
        signed_pct=["yoy"],
        unit=retro.unit,
        caption=f"Year {retro.year}: the input to next year's review",
        hide_index=True,
    )


# ---------------------------------------------------------------------------- month over month


def month_over_month_text(retro: Retrospective) -> str:
    """What the month is compared with, the flag changes by kind and the landing bridge."""
    m = retro.month_over_month
    return "\n".join(
        [
            f"Previous month {m.previous_month}: compared with {m.source}.",
            f"Plan then: {m.previous_plan}",
            m.change_counts().to_string(),
            mom.bridge_text(m.bridge, partial(fmt_money, unit=retro.unit)),
        ]
    )


def flag_changes_table(retro: Retrospective) -> Any:
    """The flags whose status changed since last month, collapsed."""
    m = retro.month_over_month
    changes = m.changes
    if not len(changes):
        return Markdown("No flag changed status.")
    return details(
        style_table(
            changes.assign(
                previous_status=changes["previous_status"].map(rag_label), status=changes["status"].map(rag_label)
            ),
            signed_pct=["previous_deviation", "deviation"],
            caption=f"Flags that changed since {m.previous_month}",
            hide_index=True,
        ),
        f"Every flag that changed since {m.previous_month} (table)",
    )


def bridge_chart(retro: Retrospective) -> Any:
    """The landing estimate's bridge from last month's to this month's, when both exist."""
    m = retro.month_over_month
    if m.bridge is None:
        return Markdown(f"No published landing of {m.previous_month} to bridge from.")
    steps = m.bridge.rename(columns={"step": "label", "amount": "value"})
    return retro_plots.bridge(steps, f"Landing estimate {m.previous_month} to {retro.month}", unit=retro.unit)


def written_text(written: list[Path]) -> str:
    """Which files the retrospective wrote to the report folder."""
    if not written:
        return "output_dir is None: nothing written to reports/ (the monthly run sets output_dir to the report folder)."
    return "Written to the report folder: " + ", ".join(p.name for p in written)


# ---------------------------------------------------------------------------- approvals


def approval_log(retro: Retrospective, approvals: pd.DataFrame) -> Any:
    """The year's approval log (append-only), or a sentence when nothing was approved."""
    if not len(approvals):
        return Markdown(f"No approval recorded for {retro.year}: the plan in force is the one stated above.")
    return style_table(
        approvals.drop(columns=[c for c in ("year",) if c in approvals]),
        caption=f"Approval log {retro.year} (append-only: who approved which version, from which month, when)",
        hide_index=True,
    )


def revisions_table(retro: Retrospective, revisions: pd.DataFrame) -> Any:
    """Approved revisions by quarter touched, flagged beyond the allowed share."""
    if not len(revisions):
        return Markdown("No approved revision moves a quarter of this year's plan.")
    return style_table(
        revisions,
        money=["before", "after"],
        signed_pct=["change"],
        unit=retro.unit,
        caption="Approved revisions by quarter touched (flagged: beyond the allowed share)",
        hide_index=True,
    )


def commission_rules_text(rules: CommissionSettings) -> str:
    """The team rules of the commission scheme, one per line."""
    from salesplan.retro.pay import team_rules_text

    return "\n".join(f"- {rule}" for rule in team_rules_text(rules))


# ---------------------------------------------------------------------------- page components
# Cards, prose and tables for the blocks the page once printed as text: a page is built from
# components (salesplan.cards), never from stdout.


def first_screen(retro: Retrospective) -> Any:
    """The first screen's figures as plain text, collapsed under the headline card (the card is
    the answer; the text is the same figures in one block, for a reader who wants them together)."""
    return cards.log(retro.first_screen(), f"The first screen of {retro.month} as text")


def flags_card(retro: Retrospective) -> Any:
    """Items per status for each flagged period, most severe first, as a card."""
    if not retro.has_plan:
        return cards.prose("No plan: no flags.")
    counts = {str(p): row.to_dict() for p, row in retro.counts.iterrows()}
    return cards.card(
        f"Flags {retro.month}: items per status",
        cards.counts_figures(counts, report.PERIOD_NAMES),
        note="Every status counted apart: red never includes dark red, green never includes ahead.",
    )


def variance_card(retro: Retrospective) -> Any:
    """Each window's variance from plan (actual - plan, negative = behind) and whether every way
    of splitting it (price / volume / mix, region, product line, ...) adds back up to it to the
    cent, as a card."""
    figures = []
    for split in retro.variance.values():
        splits = [str(s).replace("_", " ") for s in split.summary["split"]]
        summary = split.summary
        open_ = [str(s).replace("_", " ") for s in summary.loc[~summary["closes"].astype(bool), "split"]]
        note = (
            f"each split adds up to it to the cent: {', '.join(splits)}"
            if not open_
            else f"does not add up to the cent: {', '.join(open_)}"
        )
        figures.append(
            {
                "label": f"{split.label}: actual - plan",
                "value": fmt_money(split.variance, retro.unit, signed=True),
                "note": note,
            }
        )
    return cards.card("Variance from plan", figures)


def risk_matrix_table(retro: Retrospective) -> Any:
    """Items per cell of the risk matrix (rows: probability of missing, columns: impact)."""
    from salesplan.retro import risks

    if not len(retro.risk_table):
        return cards.prose("No plan: no risk matrix.")
    counts = risks.matrix_counts(retro.risk_table)
    return style_table(
        counts,
        ints=list(counts.columns),
        caption="Items per cell of the risk matrix (rows: probability of missing; columns: impact)",
    )


def collection_table(retro: Retrospective) -> Any:
    """Signed vs collected by the month's end for the company and the regions, in the page's unit."""
    table = retro.collection
    if not len(table):
        return cards.prose(
            f"Collected cash: {retro.warnings.basis}. No payment data: signed and collected cannot be told apart."
        )
    return style_table(
        table.loc[table["level"] != "rep"],
        money=["signed", "collected", "gap"],
        pct=["collection_rate"],
        unit=retro.unit,
        money_header=True,
        rename={"level": "Level", "item": "Item", "collection_rate": "Collection rate"},
        caption=f"Signed vs collected, {retro.year} to date (collected cash: {retro.warnings.basis})",
        hide_index=True,
    )


def payout_card(retro: Retrospective, currency: str = "") -> Any:
    """The month's, the quarter's and the year's total commission payout, in currency units."""
    if not retro.has_plan:
        return cards.prose("No plan: no payouts.")
    t = retro.payout_totals()
    suffix = f" ({currency})" if currency else ""
    return cards.card(
        f"Commission payout {retro.month}",
        [
            {"label": f"This month{suffix}", "value": fmt_money(t["month"])},
            {"label": f"Quarter to date{suffix}", "value": fmt_money(t["qtd"])},
            {"label": f"Year to date{suffix}", "value": fmt_money(t["ytd"])},
        ],
    )


def month_over_month(retro: Retrospective) -> Any:
    """What the month is compared with, the flag changes by kind and the landing's move, as a card."""
    m = retro.month_over_month
    changes = m.change_counts()
    figures = [{"label": f"Flags {str(kind)}", "value": f"{int(n):,}"} for kind, n in changes.items()]
    figures.append(
        {
            "label": "Landing estimate",
            "value": "moved" if m.bridge is not None else "–",
            "note": mom.bridge_text(m.bridge, partial(fmt_money, unit=retro.unit)),
        }  # fmt: skip
    )
    return cards.card(
        f"Compared with {m.previous_month}",
        figures,
        note=f"Compared with {m.source}. Plan then: {m.previous_plan}",
    )
