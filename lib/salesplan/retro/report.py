"""The retrospective's first screen: headline figures, their plain-text form, the figures
published for the run's index page, and the same summary recomputed for an earlier month."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from salesplan.metrics import yoy
from salesplan.retro.export import build_summary
from salesplan.retro.flags import actual_vs_plan, deviation_flags, plan_months
from salesplan.retro.periods import as_period, window
from salesplan.settings import Bands, RetroSettings, Thresholds
from salesplan.status import STATUS_ORDER, deviation_status, fmt_probability, landing_status
from salesplan.status import counts_text as status_counts_text
from salesplan.tables import fmt_money, fmt_pct, rag_label, rag_style, style_table

_PUBLISH_STATUS = {"ahead": "green", "green": "green", "yellow": "yellow", "red": "red", "dark_red": "dark_red"}
"""Index badges: "ahead" shows as green there (the index has four colours); tables keep "ahead"."""

PERIOD_NAMES = {"month": "Month", "ytd": "Year to date", "quarter": "Quarter", "half": "Half-year"}

SHORTFALL_ORDER = "largest shortfall first (target - actual)"
"""The order of a ranked list of flags (:func:`rank_by_shortfall`), as its caption says it."""
SEVERITY_ORDER = "by level, most severe status first, then the largest shortfall (target - actual)"
"""The order of a full list of flags (:func:`salesplan.retro.flags.deviation_flags`)."""


def flag_counts_by_period(flags: pd.DataFrame, periods: tuple[str, ...] = ("month", "ytd")) -> pd.DataFrame:
    """Items per status for each period, counted apart (a month item and a year-to-date item are
    two items of two periods): rows ``periods``, columns :data:`~salesplan.status.STATUS_ORDER`."""
    part = flags.loc[flags["period"].isin(periods)]
    table = pd.crosstab(part["period"], part["status"]).reindex(index=list(periods), columns=list(STATUS_ORDER))
    return table.fillna(0).astype(int)


def counts_text(counts: pd.DataFrame) -> str:
    """Flag counts as one line per period: "Month: dark red 1, red 2, yellow 3, green 10, ahead 4"."""
    lines = []
    for period, row in counts.iterrows():
        shown = ", ".join(f"{status.replace('_', ' ')} {int(n)}" for status, n in row.items() if status != "no_target")
        extra = f", no target {int(row['no_target'])}" if row.get("no_target", 0) else ""
        lines.append(f"{PERIOD_NAMES.get(str(period), str(period))}: {shown}{extra}")
    return "\n".join(lines)


def headline_figures(
    cube: pd.DataFrame, plan: pd.DataFrame, month: str | pd.Period, landing: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Month and year-to-date actual vs target, attainment and gap, the annual target and the
    statistical landing (``landing``: the total's row of
    :meth:`salesplan.workbook.MonthContext.landing`, or None).

    ``gap = actual - target`` (negative = behind); attainment NaN without a target.
    """
    p = as_period(month)
    plan_m = plan_months(plan)
    mon = actual_vs_plan(cube, plan_m, window(p, "month"), []).iloc[0]
    ytd = actual_vs_plan(cube, plan_m, window(p, "ytd"), []).iloc[0]
    year = window(p, "year")
    annual = float(plan_m.loc[year.contains(plan_m["month"]), "target_amount"].sum())
    land = {} if landing is None else dict(landing)
    return {
        "month_actual": float(mon["actual"]),
        "month_target": float(mon["target"]),
        "month_attainment": float(mon["attainment"]),
        "month_gap": float(mon["gap"]),
        "ytd_actual": float(ytd["actual"]),
        "ytd_target": float(ytd["target"]),
        "ytd_attainment": float(ytd["attainment"]),
        "ytd_gap": float(ytd["gap"]),
        "annual_target": annual,
        "landing": float(land["landing"]) if land else np.nan,
        "landing_low": float(land["low"]) if land else np.nan,
        "landing_high": float(land["high"]) if land else np.nan,
        "landing_level": float(land["level"]) if land else np.nan,
        "p_hit": float(land["p_hit"]) if land else np.nan,
    }


def landing_figure_status(
    figures: Mapping[str, Any], thresholds: Thresholds | Mapping[str, float], bands: Bands | Mapping[str, float]
) -> str:
    """The landing's status by :func:`salesplan.status.landing_status` (P(hit) and the gap)."""
    return str(landing_status(figures["p_hit"], figures["landing"], figures["annual_target"], thresholds, bands)[0])


def first_screen_text(
    figures: Mapping[str, Any],
    counts: pd.DataFrame,
    month: str | pd.Period,
    thresholds: Thresholds | Mapping[str, float],
    bands: Bands | Mapping[str, float],
    unit: str = "M",
) -> str:
    """The first screen as plain, deterministic text: month and YTD actual vs target,
    attainment, gap and status; the landing with its interval, P(hit) and status; the flag
    counts per period (:func:`flag_counts_by_period`)."""
    p = as_period(month)
    lines = [f"Retrospective {p} (year to date: {p.year}-01 .. {p})", ""]
    if not np.isfinite(figures["annual_target"]) or figures["annual_target"] <= 0:
        lines.append(f"No plan for {p.year}: actuals only, no attainment, flags or commissions.")
    for key, label in (("month", f"Month {p}"), ("ytd", "Year to date")):
        status = deviation_status(figures[f"{key}_actual"], figures[f"{key}_target"], thresholds)[0]
        lines.append(
            f"{label:<14} actual {fmt_money(figures[f'{key}_actual'], unit):>10}  target "
            f"{fmt_money(figures[f'{key}_target'], unit):>10}  attainment {fmt_pct(figures[f'{key}_attainment']):>7}  "
            f"gap {fmt_money(figures[f'{key}_gap'], unit, signed=True):>9}  [{status}]"
        )
    lines.append(f"{'Annual target':<14} {fmt_money(figures['annual_target'], unit)}")
    if p.month == 12:
        reached = "reached" if figures["ytd_actual"] >= figures["annual_target"] else "missed"
        lines.append(
            f"{'Landing':<14} year closed at {fmt_money(figures['ytd_actual'], unit)}: annual target {reached}"
        )
    elif np.isfinite(figures["landing"]):
        gap = figures["landing"] - figures["annual_target"]
        lines.append(
            f"{'Landing':<14} {fmt_money(figures['landing'], unit)} "
            f"({figures['landing_level']:.0f} % interval {fmt_money(figures['landing_low'], unit)} .. "
            f"{fmt_money(figures['landing_high'], unit)}), gap {fmt_money(gap, unit, signed=True)}, "
            f"P(hit annual target) {fmt_probability(figures['p_hit'])}  "
            f"[{landing_figure_status(figures, thresholds, bands)}]"
        )
    else:
        lines.append(f"{'Landing':<14} not available")
    lines.append("")
    lines.append("Flags (items per period):")
    lines.append(counts_text(counts))
    return "\n".join(lines)


def publish_figures(
    figures: Mapping[str, Any],
    counts: pd.DataFrame,
    thresholds: Thresholds | Mapping[str, float],
    bands: Bands | Mapping[str, float],
    unit: str = "M",
) -> list[dict[str, Any]]:
    """The first screen as figures for :func:`salesplan.publish.headline` (the run's index page),
    with the same status rules as every page (:mod:`salesplan.status`). The flag counts give every
    status apart, most severe first ("32 dark red / 6 red / 3 yellow / 9 green / 22 ahead",
    :func:`salesplan.status.counts_text`), as :func:`counts_text` and :func:`flag_counts_by_period`
    do: no count adds two statuses."""

    def status(actual: float, target: float) -> str | None:
        return _PUBLISH_STATUS.get(str(deviation_status(actual, target, thresholds)[0]))

    out = [
        {
            "label": "Month actual",
            "value": fmt_money(figures["month_actual"], unit),
            "raw": figures["month_actual"],
            "note": f"target {fmt_money(figures['month_target'], unit)}, attainment {fmt_pct(figures['month_attainment'])}",
            "status": status(figures["month_actual"], figures["month_target"]),
        },
        {
            "label": "YTD actual",
            "value": fmt_money(figures["ytd_actual"], unit),
            "raw": figures["ytd_actual"],
            "note": f"target {fmt_money(figures['ytd_target'], unit)}, gap "
            f"{fmt_money(figures['ytd_gap'], unit, signed=True)}, attainment {fmt_pct(figures['ytd_attainment'])}",
            "status": status(figures["ytd_actual"], figures["ytd_target"]),
        },
    ]
    if np.isfinite(figures["landing"]):
        landing_state = _PUBLISH_STATUS.get(landing_figure_status(figures, thresholds, bands))
        gap = figures["landing"] - figures["annual_target"]
        out += [
            {
                "label": "Landing",
                "value": fmt_money(figures["landing"], unit),
                "raw": figures["landing"],
                "note": f"gap {fmt_money(gap, unit, signed=True)} to the annual target "
                f"{fmt_money(figures['annual_target'], unit)}; {figures['landing_level']:.0f} % interval "
                f"{fmt_money(figures['landing_low'], unit)} .. {fmt_money(figures['landing_high'], unit)}",
                "status": landing_state,
            },
            {
                "label": "P(hit annual target)",
                "value": fmt_probability(figures["p_hit"]),
                "raw": figures["p_hit"],
                "note": "the landing's status follows P(hit) and the gap",
                "status": landing_state,
            },
        ]
    for period in counts.index:
        row = counts.loc[period]
        # Every status counted apart, as on every page: "red" never includes "dark red".
        out.append(
            {
                "label": f"Flags, {PERIOD_NAMES.get(str(period), str(period)).lower()}",
                "value": status_counts_text(row.to_dict()),
                "raw": None,
                "note": "items per status",
                "status": None,
            }
        )
    return out


def summary_for_month(
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    month: str | pd.Period,
    reps: pd.DataFrame,
    retro: RetroSettings,
    targets_source: str = "",
) -> dict[str, Any]:
    """The flags and actual-vs-plan figures a report for ``month`` would have published,
    recomputed from the data cut at the end of that month (used when no report of that month
    was published). It has no landing: a landing is only compared with a published one, so
    the forecast is fitted once per run. ``retro``: the ``retro`` settings (thresholds,
    escalation, product owners)."""
    p = as_period(month)
    cut = cube.loc[cube["month"] <= p.to_timestamp()]
    flags = deviation_flags(cut, plan, p, reps, retro.thresholds, dict(retro.escalation), retro.product_owners)
    figures = headline_figures(cut, plan, p, None)
    figures["flag_counts"] = flag_counts_by_period(flags).to_dict(orient="index")
    return build_summary(p, figures, flags, {}, targets_source)


def year_review(cube: pd.DataFrame, plan: pd.DataFrame, month: str | pd.Period) -> pd.DataFrame:
    """The year view (for December, the input to next year's review): per region, product
    line and rep the year's actual, target, attainment and gap, plus last year's actual and
    ``yoy = actual / previous - 1`` (NaN without a previous-year base). Columns ``level,
    item, actual, target, attainment, gap, previous_year, yoy``."""
    p = as_period(month)
    this_year = window(p, "ytd")
    last_year = window(p - 12, "ytd")
    parts = []
    for level, dim in (("total", None), ("region", "region"), ("product_line", "product_line"), ("rep", "rep_id")):
        by = [] if dim is None else [dim]
        cur = actual_vs_plan(cube, plan, this_year, by)
        prev = actual_vs_plan(cube, plan, last_year, by)
        if dim is None:
            cur = cur.assign(item="total")
            prev_actual = prev["actual"].to_numpy()
        else:
            cur = cur.rename(columns={dim: "item"})
            prev_actual = cur["item"].map(prev.set_index(dim)["actual"]).to_numpy(dtype=float)
        parts.append(
            cur.assign(level=level, previous_year=prev_actual).assign(
                yoy=lambda d: yoy(d["actual"], d["previous_year"])
            )[["level", "item", "actual", "target", "attainment", "gap", "previous_year", "yoy"]]
        )
    return pd.concat(parts, ignore_index=True)


def rank_by_shortfall(flags: pd.DataFrame) -> pd.DataFrame:
    """``flags`` with ``shortfall = target - actual`` (money at stake; negative when ahead),
    ranked by it, largest first (:data:`SHORTFALL_ORDER`); ties by ``key`` when present. A
    -34.5 M product line comes before a -0.7 M rep however far behind in % the rep is."""
    ranked = flags.assign(shortfall=flags["target"].astype(float) - flags["actual"].astype(float))
    by = ["shortfall", *(["key"] if "key" in ranked else [])]
    return ranked.sort_values(by, ascending=[False, *([True] * (len(by) - 1))], kind="stable")


def flag_table_caption(title: str, ranked: bool) -> str:
    """A caption that states the true order of :func:`flag_table`: ``"<title>, <order>"`` with
    :data:`SHORTFALL_ORDER` for a ranked (``limit``) table, else :data:`SEVERITY_ORDER`."""
    return f"{title}, {SHORTFALL_ORDER if ranked else SEVERITY_ORDER}"


def flag_table(
    flags: pd.DataFrame,
    period: str,
    caption: str,
    statuses: tuple[str, ...] | None = None,
    unit: str = "M",
    limit: int | None = None,
):
    """The flags of one period as a styled table (status with its symbol and colour): level,
    item, owner, actual, target, gap, attainment, deviation, status and escalation, in the flags'
    order (:data:`SEVERITY_ORDER`); ``statuses`` keeps only those; ``limit`` keeps the items with
    the most money at stake, up to that many (:func:`rank_by_shortfall`, :data:`SHORTFALL_ORDER`).
    :func:`flag_table_caption` writes a caption that states the order."""
    part = flags.loc[flags["period"] == period]
    if statuses:
        part = part.loc[part["status"].isin(statuses)]
    if limit is not None:
        part = rank_by_shortfall(part).head(limit)
    # The page shows who acts and how far behind; the meeting's columns (cause, next step) are
    # filled in the register and flags.csv, and the escalation's full wording is in the settings.
    table = part.assign(
        status=part["status"].map(rag_label),
        level=part["level"].str.replace("_", " "),
        escalation=part["escalation"].fillna("").astype(str).str.split(":").str[0],
    )[["level", "item", "owner", "actual", "target", "gap", "attainment", "deviation", "status", "escalation"]]
    styled = style_table(
        table,
        money=["actual", "target", "gap"],
        pct=["attainment"],
        signed_pct=["deviation"],
        unit=unit,
        caption=caption,
        hide_index=True,
    )
    return rag_style(styled, "status")
