"""Charts of the annual review. Each function draws one titled figure with labelled,
unit-bearing axes and returns its ``Figure`` (the caller shows or closes it)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from salesplan.plots.base import PALETTE, bar_sorted, money_axis, pct_axis, waterfall
from salesplan.status import STATUS_COLOURS as RAG
from salesplan.units import fmt_pct

MONTH_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def monthly_by_year(monthly: pd.DataFrame, title: str, unit: str = "M") -> Figure:
    """One line per year over the months (``year, month_of_year, net_amount``), latest year bold."""
    fig, ax = plt.subplots(figsize=(9, 4))
    years = sorted(monthly["year"].unique())
    for i, year in enumerate(years):
        part = monthly[monthly["year"] == year].sort_values("month_of_year")
        latest = year == years[-1]
        ax.plot(
            part["month_of_year"],
            part["net_amount"],
            marker="o",
            markersize=3,
            linewidth=2.4 if latest else 1.2,
            color=PALETTE[i % len(PALETTE)],
            label=str(year),
        )
    ax.set_xticks(range(1, 13), MONTH_ABBR)
    ax.set_xlabel("Month")
    money_axis(ax, unit=unit, label="Net sales")
    ax.set_title(title)
    ax.legend(title="Year", ncols=len(years))
    ax.set_ylim(bottom=0)
    return fig


def seasonality(index: pd.DataFrame, title: str) -> Figure:
    """Seasonality index per month with +/- one standard deviation across years; 1 = an average month."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    colours = [RAG["green"] if v >= 1 else PALETTE[0] for v in index["index"]]
    ax.bar(index["month_of_year"], index["index"], yerr=index["std"], color=colours, capsize=3, width=0.7)
    ax.axhline(1.0, color="#4d4d4d", linewidth=1, linestyle="--")
    ax.set_xticks(range(1, 13), MONTH_ABBR)
    ax.set_xlabel("Month")
    ax.set_ylabel("Index (1 = average month)")
    ax.set_title(title)
    ax.grid(axis="x", visible=False)
    return fig


def breakdown_bars(table: pd.DataFrame, title: str, label: str, unit: str = "M") -> Figure:
    """Two panels for a review breakdown (without its Total row): sales, largest at the top,
    and YoY growth in the same order (green up, red down; hatched = new, no base)."""
    body = table.drop(index="Total", errors="ignore").sort_values("net_amount")
    names = [str(i) for i in body.index]
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(10, max(2.6, 0.34 * len(body) + 1.2)), sharey=True, gridspec_kw={"width_ratios": [3, 2]}
    )
    bar_sorted(body["net_amount"], title="Net sales", unit=unit, xlabel="Net sales", ax=ax1)
    growth = body["yoy"].to_numpy(dtype=float)
    shown = np.nan_to_num(growth, nan=0.0)
    colours = [RAG["none"] if np.isnan(g) else RAG["green"] if g >= 0 else RAG["red"] for g in growth]
    bars = ax2.barh(names, shown, color=colours)
    ax2.bar_label(
        bars, labels=["new" if np.isnan(g) else fmt_pct(g, signed=True) for g in growth], fontsize=8, padding=2
    )
    ax2.axvline(0, color="#4d4d4d", linewidth=0.8)
    pct_axis(ax2, axis="x", label="Growth vs year before (%)")
    ax2.set_title("YoY growth")
    ax2.grid(axis="y", visible=False)
    ax1.set_ylabel(label)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def contribution_waterfall(
    movers: pd.DataFrame, title: str, unit: str = "M", prev_label: str = "", cur_label: str = ""
) -> Figure:
    """Bridge from last year's to this year's sales through the biggest movers (rows of
    :func:`salesplan.review.movers`): start total, each change, all others, end total."""
    body = movers.drop(index="Total")
    start = f"{prev_label} sales".strip()
    end = f"{cur_label} sales".strip()
    steps = pd.concat(
        [
            pd.DataFrame({"label": [start], "value": [movers.loc["Total", "previous"]]}),
            pd.DataFrame({"label": [str(i) for i in body.index], "value": body["change"].to_numpy()}),
            pd.DataFrame({"label": [end], "value": [movers.loc["Total", "net_amount"]]}),
        ],
        ignore_index=True,
    )
    ax = waterfall(steps, title=title, unit=unit, start_label=start, end_label=end)
    _zoom(ax, steps["value"].to_numpy(dtype=float))
    return ax.figure


def _zoom(ax: Axes, values: np.ndarray) -> None:
    """Start a bridge's value axis near its lowest level so the changes are visible; the
    axis label says the axis is cut."""
    running = np.cumsum(np.r_[values[0], values[1:-1]])
    low, high = float(min(running.min(), values[-1])), float(max(running.max(), values[-1]))
    if low > 0 and (high - low) < 0.5 * high:
        ax.set_ylim(bottom=max(0.0, low - 0.6 * (high - low) - 0.02 * high), top=high * 1.04)
        ax.set_ylabel(ax.get_ylabel() + ", axis cut")


def tier_shares(summary: pd.DataFrame, title: str) -> Figure:
    """Share of customers against share of sales per customer tier A-D."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = np.arange(len(summary))
    ax.bar(x - 0.2, summary["customer_share"].fillna(0), width=0.4, label="Share of customers", color=PALETTE[4])
    ax.bar(x + 0.2, summary["share"].fillna(0), width=0.4, label="Share of sales", color=PALETTE[0])
    ax.set_xticks(x, [f"Tier {t}" for t in summary.index])
    ax.set_xlabel("Customer tier")
    pct_axis(ax, label="Share (%)")
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="x", visible=False)
    return fig


def pareto(curve: pd.DataFrame, shares: pd.Series, title: str) -> Figure:
    """Cumulative share of sales against the share of customers (largest first), with the
    top-share points marked."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.r_[0, curve["item_share"]], np.r_[0, curve["cum_share"]], color=PALETTE[0], linewidth=2)
    ax.plot([0, 1], [0, 1], color="#9e9e9e", linestyle=":", linewidth=1, label="Equal shares")
    for p, s in shares.dropna().items():
        ax.plot([p], [s], "o", color=PALETTE[5])
        ax.annotate(
            f"top {fmt_pct(p, 0)}: {fmt_pct(s, 0)} of sales",
            (p, s),
            textcoords="offset points",
            xytext=(8, -12),
            fontsize=9,
        )
    pct_axis(ax, axis="x", label="Share of customers, largest first (%)")
    pct_axis(ax, axis="y", label="Cumulative share of sales (%)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, max(1.0, float(np.nanmax(curve["cum_share"])) if len(curve) else 1.0))
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig


def rep_attainment(results: pd.DataFrame, title: str, low: float = 0.8, high: float = 1.0) -> Figure:
    """Left: reps' attainment sorted, coloured by its status; right: tenure against attainment.

    The colour is the ``status`` column (:func:`salesplan.review.rep_results`, the retrospective's
    bands, so a rep is coloured alike on every page); without it, by the ``low``/``high`` bounds."""
    data = results.dropna(subset=["attainment"]).sort_values("attainment")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, max(4.2, 0.2 * len(data) + 1.5)))
    if "status" in data.columns:
        colours = [RAG.get(str(s), RAG["none"]) for s in data["status"]]
    else:
        colours = [RAG["green"] if a >= high else RAG["yellow"] if a >= low else RAG["red"] for a in data["attainment"]]
    names = data["rep_name"] if "rep_name" in data.columns else data.index
    ax1.barh([str(n) for n in names], data["attainment"], color=colours)
    for bound in (low, high):
        ax1.axvline(bound, color="#4d4d4d", linestyle="--", linewidth=0.8)
    pct_axis(ax1, axis="x", label="Attainment (%)")
    ax1.tick_params(axis="y", labelsize=7)
    ax1.set_title("Attainment by rep")
    ax1.grid(axis="y", visible=False)
    ax2.scatter(data["tenure_years"], data["attainment"], c=colours, s=28)
    ax2.axhline(high, color="#4d4d4d", linestyle="--", linewidth=0.8)
    ax2.set_xlabel("Tenure at year end (years)")
    pct_axis(ax2, axis="y", label="Attainment (%)")
    ax2.set_title("Tenure vs attainment")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def pvm_bridge(summary: pd.Series, title: str, prev_label: str, cur_label: str, unit: str = "M") -> Figure:
    """Waterfall: base-year sales, volume, price and mix effects, current-year sales."""
    start, end = f"{prev_label} sales", f"{cur_label} sales"
    steps = pd.DataFrame(
        {
            "label": [start, "Volume", "Price", "Mix", end],
            "value": [summary["base"], summary["volume"], summary["price"], summary["mix"], summary["current"]],
        }
    )
    ax = waterfall(steps, title=title, unit=unit, start_label=start, end_label=end)
    _zoom(ax, steps["value"].to_numpy(dtype=float))
    return ax.figure
