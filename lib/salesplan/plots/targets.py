"""Charts of the target-setting report. Each function draws one titled figure with labelled,
unit-bearing axes and returns its ``Figure`` (the caller shows or closes it)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from salesplan.plots.base import PALETTE, heatmap, money_axis, waterfall
from salesplan.status import STATUS_COLOURS
from salesplan.units import fmt_pct, scale

LEVEL_ORDER = ("junior", "mid", "senior", "lead")
MONTH_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
STEP_LABELS = {
    "last_year": "Last 12 months",
    "cagr_growth": "CAGR growth",
    "price_change": "Price",
    "new_products": "New products",
    "new_regions": "New regions",
}


def target_waterfall(baseline: pd.DataFrame, final: float, title: str, unit: str = "M") -> Figure:
    """From last year's sales through the baseline's increments to the reconciled target.

    ``baseline``: :func:`salesplan.targets.baseline` output; the last bar before the target is the
    reconciliation step (target minus baseline). The baseline is marked by a dashed line.
    """
    b = baseline.set_index("step")["amount"]
    steps = [(STEP_LABELS[s], float(b[s])) for s in STEP_LABELS if s == "last_year" or abs(float(b[s])) > 0]
    steps += [("Reconciliation", float(final) - float(b["baseline"])), ("Target", float(final))]
    frame = pd.DataFrame(steps, columns=["label", "value"])
    ax = waterfall(frame, title, unit=unit, ylabel="Net sales", start_label="Last 12 months", end_label="Target")
    ax.axhline(float(b["baseline"]), color=PALETTE[0], linestyle="--", linewidth=1)
    ax.annotate("baseline", (0.01, float(b["baseline"])), xycoords=("axes fraction", "data"), va="bottom", fontsize=8,
                color=PALETTE[0])  # fmt: skip
    ax.set_xlabel("Step")
    return ax.figure


def method_comparison(rows: pd.DataFrame, final: float, title: str, unit: str = "M") -> Figure:
    """The annual number by each method (``method, amount``) as a dot plot, the reconciled target as a line.

    Dots rather than bars: the methods differ by a few percent, so the axis does not start at zero.
    """
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.6))
    y = list(range(len(rows)))[::-1]
    amounts = rows["amount"].astype(float).to_numpy()
    divisor = scale(unit)
    ax.scatter(amounts, y, s=70, color=[PALETTE[i % len(PALETTE)] for i in range(len(rows))], zorder=3)
    for yi, v in zip(y, amounts, strict=True):
        ax.annotate(f"{v / divisor:,.1f}", (v, yi), xytext=(7, -3), textcoords="offset points", fontsize=8)
    ax.axvline(float(final), color=STATUS_COLOURS["dark_red"], linestyle="--", linewidth=1.2, label="reconciled target")
    ax.set_yticks(y, rows["method"].astype(str))
    span = max(amounts.max(), float(final)) - min(amounts.min(), float(final))
    ax.set_xlim(min(amounts.min(), float(final)) - 0.08 * span, max(amounts.max(), float(final)) + 0.15 * span)
    money_axis(ax, axis="x", unit=unit, label="Annual net sales")
    ax.set_ylabel("Method")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", visible=False)
    return fig


def phasing_vs_last_year(months: pd.DataFrame, last_year: pd.Series, title: str, unit: str = "M") -> Figure:
    """Monthly targets (``month_of_year, target_amount``) as bars against last year's monthly sales
    (Series indexed by month of year) as a line."""
    fig, ax = plt.subplots(figsize=(9, 4))
    x = months["month_of_year"].to_numpy()
    ax.bar(x, months["target_amount"].astype(float), color=PALETTE[0], width=0.65, label="Target")
    ly = last_year.reindex(range(1, 13)).astype(float)
    ax.plot(ly.index, ly.to_numpy(), color=PALETTE[1], marker="o", markersize=4, linewidth=2, label="Last year")
    ax.set_xticks(range(1, 13), MONTH_ABBR)
    ax.set_xlabel("Month")
    money_axis(ax, unit=unit, label="Net sales")
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="x", visible=False)
    return fig


def region_product_heatmap(plan: pd.DataFrame, title: str, unit: str = "M") -> Figure:
    """Annual target by region (rows) x product line (columns), with row and column totals outside."""
    matrix = plan.pivot_table(
        index="region", columns="product_line", values="target_amount", aggfunc="sum", fill_value=0
    )
    matrix.index.name, matrix.columns.name = "Region", "Product line"
    ax = heatmap(matrix.astype(float), title, unit=unit, cbar_label="Annual target")
    ax.tick_params(axis="x", labelrotation=20)
    return ax.figure


def quota_vs_last_year(reps: pd.DataFrame, title: str, unit: str = "M") -> Figure:
    """Each rep's annual quota against last year's sales (``label, last_year, quota, level``), with the
    no-growth diagonal; reps without last-year sales (new hires) sit on the left edge, circled."""
    fig, ax = plt.subplots(figsize=(9, 5.2))
    seen = list(dict.fromkeys(reps["level"].astype(str)))
    levels = [lv for lv in LEVEL_ORDER if lv in seen] + sorted(set(seen) - set(LEVEL_ORDER))
    for i, level in enumerate(levels):
        part = reps[reps["level"].astype(str) == level]
        ax.scatter(part["last_year"], part["quota"], s=36, color=PALETTE[i % len(PALETTE)], label=level, alpha=0.85)
    new = reps[reps["last_year"] <= 0]
    if len(new):
        ax.scatter(new["last_year"], new["quota"], s=110, facecolors="none", edgecolors="#4d4d4d", linewidths=1,
                   label="no last-year sales")  # fmt: skip
    top = float(max(reps["last_year"].max(), reps["quota"].max())) * 1.05
    ax.plot([0, top], [0, top], color="#4d4d4d", linestyle="--", linewidth=1, label="quota = last year")
    # Name the three largest quotas, offsets alternating so neighbouring names do not overlap.
    for row, offset in zip(reps.nlargest(3, "quota").itertuples(), [(6, -10), (6, 4), (-34, 6)], strict=False):
        ax.annotate(str(row.label), (row.last_year, row.quota), fontsize=8, xytext=offset, textcoords="offset points")
    money_axis(ax, axis="x", unit=unit, label="Last-year sales")
    money_axis(ax, axis="y", unit=unit, label="Annual quota")
    ax.set_xlim(left=-0.03 * top)
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.legend(title="Level", fontsize=8)
    return fig


def scenario_comparison(table: pd.DataFrame, title: str, unit: str = "M") -> Figure:
    """Annual target per scenario (``scenario, last_year, final, growth``) as dots, growth on the last
    12 months beside each, last year's sales as a reference line."""
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(table) + 1.8))
    y = list(range(len(table)))[::-1]
    finals = table["final"].astype(float).to_numpy()
    last = float(table["last_year"].iloc[0])
    ax.scatter(finals, y, s=80, color=PALETTE[: len(table)], zorder=3)
    divisor = scale(unit)
    for yi, v, g in zip(y, finals, table["growth"], strict=True):
        ax.annotate(
            f"{v / divisor:,.1f} ({fmt_pct(g, signed=True)})",
            (v, yi),
            xytext=(8, -3),
            textcoords="offset points",
            fontsize=9,
        )
    ax.axvline(last, color="#4d4d4d", linestyle="--", linewidth=1)
    ax.annotate("last 12 months", (last, 1.0), xycoords=("data", "axes fraction"), xytext=(4, -12),
                textcoords="offset points", fontsize=8, color="#4d4d4d")  # fmt: skip
    span = max(finals.max(), last) - min(finals.min(), last)
    ax.set_xlim(min(finals.min(), last) - 0.1 * span, max(finals.max(), last) + 0.35 * span)
    ax.set_yticks(y, table["scenario"].astype(str))
    money_axis(ax, axis="x", unit=unit, label="Annual target")
    ax.set_ylabel("Scenario")
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    return fig


def payout_distribution(
    draws: pd.Series, expected: float, low: float, high: float, title: str, unit: str = "K"
) -> Figure:
    """Histogram of simulated total commission payouts with the expected value and the range marked."""
    fig, ax = plt.subplots(figsize=(9, 3.6))
    divisor = scale(unit)
    ax.hist(draws.to_numpy() / divisor, bins=30, color=PALETTE[0], alpha=0.8)
    ax.axvline(expected / divisor, color=STATUS_COLOURS["dark_red"], linewidth=1.5, label="expected")
    ax.axvspan(low / divisor, high / divisor, color=PALETTE[1], alpha=0.15, label="range")
    ax.set_xlabel(f"Total commission payout for the year ({unit})")
    ax.set_ylabel("Simulated years")
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="x", visible=False)
    return fig
