"""The retrospective's first screen: headline figures, their plain-text form, the figures
published for the run's index page, and the same summary recomputed for an earlier month."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from salesplan.metrics import attainment, yoy
from salesplan.retro.export import build_summary
from salesplan.retro.flags import actual_vs_plan, classify_deviation, deviation_flags, flag_counts, plan_months
from salesplan.retro.periods import as_period, window
from salesplan.tables import fmt_money, fmt_pct

_PUBLISH_STATUS = {"ahead": "green", "green": "green", "yellow": "yellow", "red": "red", "dark_red": "dark_red"}


def headline_figures(
    cube: pd.DataFrame, plan: pd.DataFrame, month: str | pd.Period, landing: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Month and year-to-date actual vs target, attainment and gap, the annual target and the
    statistical landing (``landing``: a row of :func:`salesplan.retro.landing.statistical_landing`
    for the total, or None).

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
        "landing": float(land.get("landing", np.nan)),
        "landing_low": float(land.get("low", np.nan)),
        "landing_high": float(land.get("high", np.nan)),
        "landing_level": float(land.get("level", np.nan)),
        "p_hit": float(land.get("p_hit", np.nan)),
    }


def first_screen_text(
    figures: Mapping[str, Any],
    counts: pd.Series,
    month: str | pd.Period,
    thresholds: Mapping[str, float],
    unit: str = "M",
) -> str:
    """The first screen as plain, deterministic text: month and YTD actual vs target,
    attainment, gap and status; the landing with its interval and P(hit); and the flag counts."""
    p = as_period(month)
    lines = [f"Retrospective {p} (year to date: {p.year}-01 .. {p})", ""]
    for key, label in (("month", f"Month {p}"), ("ytd", "Year to date")):
        status = classify_deviation(figures[f"{key}_actual"], figures[f"{key}_target"], thresholds)[0]
        lines.append(
            f"{label:<14} actual {fmt_money(figures[f'{key}_actual'], unit):>10}  target "
            f"{fmt_money(figures[f'{key}_target'], unit):>10}  attainment {fmt_pct(figures[f'{key}_attainment']):>7}  "
            f"gap {fmt_money(figures[f'{key}_gap'], unit):>9}  [{status}]"
        )
    lines.append(f"{'Annual target':<14} {fmt_money(figures['annual_target'], unit)}")
    if p.month == 12:
        reached = "reached" if figures["ytd_actual"] >= figures["annual_target"] else "missed"
        lines.append(
            f"{'Landing':<14} year closed at {fmt_money(figures['ytd_actual'], unit)}: annual target {reached}"
        )
    elif np.isfinite(figures["landing"]):
        lines.append(
            f"{'Landing':<14} {fmt_money(figures['landing'], unit)} "
            f"({figures['landing_level']:.0f} % interval {fmt_money(figures['landing_low'], unit)} .. "
            f"{fmt_money(figures['landing_high'], unit)}), "
            f"{fmt_pct(attainment(figures['landing'], figures['annual_target']))} "
            f"of target; P(hit annual target) {fmt_pct(figures['p_hit'])}"
        )
    else:
        lines.append(f"{'Landing':<14} not available")
    lines.append("")
    lines.append(
        "Flags (month + YTD items): "
        + ", ".join(f"{status.replace('_', ' ')} {int(n)}" for status, n in counts.items())
    )
    return "\n".join(lines)


def publish_figures(
    figures: Mapping[str, Any], counts: pd.Series, thresholds: Mapping[str, float], unit: str = "M"
) -> list[dict[str, Any]]:
    """The first screen as figures for :func:`salesplan.publish.headline` (the run's index page)."""

    def status(actual: float, target: float) -> str | None:
        return _PUBLISH_STATUS.get(str(classify_deviation(actual, target, thresholds)[0]))

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
            "note": f"target {fmt_money(figures['ytd_target'], unit)}, gap {fmt_money(figures['ytd_gap'], unit)}",
            "status": status(figures["ytd_actual"], figures["ytd_target"]),
        },
        {
            "label": "YTD attainment",
            "value": fmt_pct(figures["ytd_attainment"]),
            "raw": figures["ytd_attainment"],
            "note": "",
            "status": status(figures["ytd_actual"], figures["ytd_target"]),
        },
    ]
    if np.isfinite(figures["landing"]):
        out += [
            {
                "label": "Landing",
                "value": fmt_money(figures["landing"], unit),
                "raw": figures["landing"],
                "note": f"{figures['landing_level']:.0f} % interval {fmt_money(figures['landing_low'], unit)} .. "
                f"{fmt_money(figures['landing_high'], unit)}; annual target {fmt_money(figures['annual_target'], unit)}",
                "status": status(figures["landing"], figures["annual_target"]),
            },
            {
                "label": "P(hit annual target)",
                "value": fmt_pct(figures["p_hit"]),
                "raw": figures["p_hit"],
                "note": "",
                "status": None,
            },
        ]
    out.append(
        {
            "label": "Flags red / yellow / green",
            "value": f"{int(counts.get('dark_red', 0) + counts.get('red', 0))} / {int(counts.get('yellow', 0))} / "
            f"{int(counts.get('green', 0) + counts.get('ahead', 0))}",
            "raw": None,
            "note": f"dark red {int(counts.get('dark_red', 0))}, ahead {int(counts.get('ahead', 0))}, "
            f"no target {int(counts.get('no_target', 0))}",
            "status": None,
        }
    )
    return out


def summary_for_month(
    cube: pd.DataFrame,
    plan: pd.DataFrame,
    month: str | pd.Period,
    reps: pd.DataFrame,
    config: Mapping[str, Any],
    landing_fn: Callable[[pd.DataFrame, pd.Period], tuple[Mapping[str, Any] | None, Mapping[str, float]]] | None = None,
    targets_source: str = "",
) -> dict[str, Any]:
    """The summary a report for ``month`` would have published, recomputed from the data cut at
    the end of that month (used when no earlier report exists). ``landing_fn(cube, month)``
    returns the total's landing row and the monthly forecasts; without it the summary has no landing."""
    p = as_period(month)
    cut = cube.loc[cube["month"] <= p.to_timestamp()]
    retro = config["retro"]
    flags = deviation_flags(cut, plan, p, reps, retro["thresholds"], retro["escalation"], retro.get("product_owners"))
    landing, forecast_months = landing_fn(cut, p) if landing_fn is not None else (None, {})
    figures = headline_figures(cut, plan, p, landing)
    figures["flag_counts"] = flag_counts(flags).to_dict()
    return build_summary(p, figures, flags, forecast_months, targets_source)


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
