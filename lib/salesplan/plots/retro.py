"""Charts of the monthly retrospective. Each function draws one titled figure with labelled,
unit-bearing axes and returns its ``Figure`` (the caller shows or closes it)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from salesplan.plots.base import PAGE_WIDE, PALETTE, money_axis, pct_axis, waterfall
from salesplan.settings import Thresholds
from salesplan.status import STATUS_COLOURS as _COLOURS
from salesplan.status import STATUS_MEANINGS, STATUS_SYMBOLS, STATUS_TEXT, legend_handles
from salesplan.units import fmt_pct, scale

STATUS_COLOURS = {**_COLOURS, "no_data": _COLOURS["none"]}
"""The status colours of :mod:`salesplan.status`, plus "no data" drawn as no status."""
CHART_SYMBOL = STATUS_SYMBOLS


def _zoom(ax: Axes, values: np.ndarray) -> None:
    """Start a bridge's value axis near its lowest level so the steps are visible; the axis
    label says the axis is cut."""
    running = np.cumsum(np.r_[values[0], values[1:-1]])
    low = float(min(running.min(), values[-1], values[0]))
    high = float(max(running.max(), values[-1], values[0]))
    if low > 0 and (high - low) < 0.5 * high:
        ax.set_ylim(bottom=max(0.0, low - 0.6 * (high - low) - 0.02 * high), top=high * 1.04)
        ax.set_ylabel(ax.get_ylabel() + ", axis cut")


def bridge(steps: pd.DataFrame, title: str, unit: str = "M", ylabel: str = "Net sales") -> Figure:
    """Waterfall from the first row (a total) through the changes to the last row (a total),
    with the value axis cut near the lowest level so that small steps stay visible."""
    start, end = str(steps["label"].iloc[0]), str(steps["label"].iloc[-1])
    ax = waterfall(steps, title=title, unit=unit, ylabel=ylabel, start_label=start, end_label=end)
    _zoom(ax, steps["value"].to_numpy(dtype=float))
    ax.set_xticks(ax.get_xticks(), [str(x) for x in steps["label"]], rotation=20, ha="right")
    ax.figure.tight_layout()
    return ax.figure


def variance_panels(steps: dict[str, pd.DataFrame], title: str, unit: str = "M", ylabel: str = "Net sales") -> Figure:
    """One waterfall per explanation (e.g. price / volume / mix, by region, by channel) side by
    side on a shared value axis; every panel starts at plan and ends at actual."""
    n = len(steps)
    cols = min(n, 2)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(PAGE_WIDE[0], 3.8 * rows), squeeze=False)
    for ax, (name, s) in zip(axes.ravel(), steps.items(), strict=False):
        start, end = str(s["label"].iloc[0]), str(s["label"].iloc[-1])
        waterfall(s, title=name, unit=unit, ylabel=ylabel, start_label=start, end_label=end, ax=ax)
        _zoom(ax, s["value"].to_numpy(dtype=float))
        for label in ax.get_xticklabels():
            label.set_rotation(30)
            label.set_ha("right")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


STATUS_LEGEND = STATUS_MEANINGS


def deviation_heatmap(
    deviation: pd.DataFrame,
    status: pd.DataFrame,
    title: str,
    limit: float = 0.2,
    thresholds: Thresholds | Mapping[str, float] | None = None,
    legend: bool = True,
) -> Figure:
    """Region x product line status against plan: each cell coloured by its status from the flag
    table (the same colours and bands as every table), annotated with its symbol and deviation
    (actual / target - 1), with a legend of the statuses and their bands (``thresholds``: the
    ``retro.thresholds`` settings, for the legend's text). ``limit`` is kept for callers and unused."""
    from matplotlib.colors import to_rgb

    fig, ax = plt.subplots(figsize=(PAGE_WIDE[0], max(2.8, 0.6 * len(deviation) + 1.6)))
    data = deviation.to_numpy(dtype=float)
    labels = status.reindex(index=deviation.index, columns=deviation.columns)
    colours = np.array(
        [[to_rgb(STATUS_COLOURS.get(str(labels.iat[i, j]), STATUS_COLOURS["none"])) for j in range(data.shape[1])]
         for i in range(data.shape[0])]
    ).reshape(data.shape[0], data.shape[1], 3)  # fmt: skip
    ax.imshow(colours, aspect="auto")
    ax.set_xticks(range(deviation.shape[1]), [str(c) for c in deviation.columns], rotation=20, ha="right")
    ax.set_yticks(range(deviation.shape[0]), [str(i) for i in deviation.index])
    ax.grid(False)
    for (i, j), v in np.ndenumerate(data):
        key = str(labels.iat[i, j])
        text_colour = STATUS_TEXT.get(key if key in STATUS_TEXT else "none", "black")
        if np.isnan(v):
            ax.text(j, i, "– no target", ha="center", va="center", fontsize=8, color="black")
            continue
        ax.text(
            j,
            i,
            f"{CHART_SYMBOL.get(key, '')} {fmt_pct(v, signed=True)}",
            ha="center",
            va="center",
            fontsize=9,
            color=text_colour,
        )
    # Beside the grid, not under it: below, the legend covered the "Product line" label. A page
    # that shows its one status legend (salesplan.cards.legend) passes legend=False.
    if legend:
        ax.legend(
            handles=legend_handles(thresholds),
            loc="center left",
            bbox_to_anchor=(1.01, 0.5),
            fontsize="small",
            frameon=False,
            title="Status",
        )
    ax.set_xlabel("Product line")
    ax.set_ylabel("Region")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def landing_chart(landings: pd.DataFrame, annual_target: float, title: str, unit: str = "M") -> Figure:
    """Each landing method as a bar (with its interval where it has one) against the annual
    target line."""
    fig, ax = plt.subplots(figsize=(PAGE_WIDE[0], 0.55 * len(landings) + 1.8))
    y = np.arange(len(landings))
    values = landings["landing"].to_numpy(dtype=float)
    ax.barh(y, np.nan_to_num(values), color=PALETTE[0], alpha=0.85, height=0.55, label="landing")
    low = landings["low"].to_numpy(dtype=float)
    high = landings["high"].to_numpy(dtype=float)
    has = ~np.isnan(low) & ~np.isnan(high)
    if has.any():
        ax.errorbar(
            values[has],
            y[has],
            xerr=[values[has] - low[has], high[has] - values[has]],
            fmt="none",
            ecolor="#222222",
            capsize=4,
            label="interval",
        )
    ax.axvline(annual_target, color="#222222", linestyle="--", linewidth=1.2, label="annual target")
    ax.set_yticks(y, landings["method"].astype(str))
    # Bars start at zero so their lengths compare honestly; the labels carry the gap to target.
    divisor = scale(unit)
    for yi, v in zip(y, values, strict=True):
        if np.isfinite(v):
            gap = (v - annual_target) / divisor
            ax.text(v, yi, f"  {v / divisor:,.1f} {unit} ({gap:+,.1f})", va="center", fontsize=8)
    finite = values[np.isfinite(values)]
    hi = float(np.nanmax(np.r_[finite, high[has], annual_target]))
    ax.set_xlim(0.0, hi * 1.3)
    money_axis(ax, axis="x", unit=unit, label="Year-end net sales")
    ax.set_ylabel("Method")
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2)
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def kpi_trends(trend: pd.DataFrame, table: pd.DataFrame, title: str) -> Figure:
    """Small multiples: each KPI's monthly values with its goal as a dashed line and the
    panel titled with the KPI and its status."""
    kpis = list(table["kpi"])
    cols = 4
    rows = int(np.ceil(len(kpis) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.5 * rows), squeeze=False)
    info = table.set_index("kpi")
    for ax, kpi in zip(axes.ravel(), kpis, strict=False):
        part = trend[trend["kpi"] == kpi]
        unit = info.loc[kpi, "unit"]
        status = str(info.loc[kpi, "status"])
        ax.plot(part["month"], part["value"], marker=".", color=PALETTE[0])
        goal = info.loc[kpi, "goal"]
        if pd.notna(goal):
            ax.axhline(float(goal), color=STATUS_COLOURS.get(status, "#4d4d4d"), linestyle="--", linewidth=1)
        ax.set_title(f"{kpi} {CHART_SYMBOL.get(status, '')}", fontsize=10)
        if unit == "pct":
            pct_axis(ax, label="%")
        elif unit == "money":
            money_axis(ax, unit="K", label="Amount")
        else:
            ax.set_ylabel("Times")
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.xaxis.set_major_formatter(plt.matplotlib.dates.DateFormatter("%y-%m"))
    for ax in axes.ravel()[len(kpis) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def rep_attainment(lines: pd.DataFrame, title: str, tiers: list[list[float]]) -> Figure:
    """Each rep's month attainment, sorted, with the commission tier bounds as lines."""
    data = lines.assign(label=lines.get("rep_name", lines["rep_id"]).astype(str) + " " + lines["rep_id"].astype(str))
    data = data.sort_values("attainment", na_position="first")
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.22 * len(data) + 1.2)))
    colours = [
        STATUS_COLOURS["none"]
        if np.isnan(a)
        else STATUS_COLOURS["green"]
        if a >= 1.0
        else STATUS_COLOURS["yellow"]
        if a >= 0.8
        else STATUS_COLOURS["red"]
        for a in data["attainment"].to_numpy(dtype=float)
    ]
    ax.barh(data["label"], np.nan_to_num(data["attainment"].to_numpy(dtype=float)), color=colours)
    for lower, _rate in tiers[1:]:
        ax.axvline(float(lower), color="#4d4d4d", linestyle=":", linewidth=1)
    pct_axis(ax, axis="x", label="Month attainment (%)")
    ax.set_ylabel("Rep")
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    return fig
