"""Charts of the monthly retrospective. Each function draws one titled figure with labelled,
unit-bearing axes and returns its ``Figure`` (the caller shows or closes it)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from salesplan.plots.base import PALETTE, RAG, RAG_SYMBOL, money_axis, pct_axis, waterfall

STATUS_COLOURS = {**RAG, "no_target": RAG["none"], "no_data": RAG["none"]}
# Symbols drawn in charts: the bundled CJK font lacks the heavy "x" of RAG_SYMBOL["dark_red"],
# so charts use a filled diamond for dark red (tables keep the shared symbols).
CHART_SYMBOL = {**RAG_SYMBOL, "dark_red": "◆"}


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
    fig, axes = plt.subplots(rows, cols, figsize=(11, 3.6 * rows), squeeze=False)
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


def deviation_heatmap(deviation: pd.DataFrame, status: pd.DataFrame, title: str, limit: float = 0.2) -> Figure:
    """Region x product line deviation from plan (fractions; negative = behind) on a diverging
    scale clipped at +/- ``limit``, each cell annotated with its percentage and the symbol of
    its ``status`` (same shape, from the flag table) so colour is not the only signal."""
    fig, ax = plt.subplots(figsize=(10, max(2.8, 0.6 * len(deviation) + 1.6)))
    data = deviation.to_numpy(dtype=float)
    im = ax.imshow(np.clip(data, -limit, limit), cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(deviation.shape[1]), [str(c) for c in deviation.columns], rotation=20, ha="right")
    ax.set_yticks(range(deviation.shape[0]), [str(i) for i in deviation.index])
    ax.grid(False)
    labels = status.reindex(index=deviation.index, columns=deviation.columns)
    for (i, j), v in np.ndenumerate(data):
        if np.isnan(v):
            ax.text(j, i, "no target", ha="center", va="center", fontsize=8, color="#4d4d4d")
            continue
        symbol = CHART_SYMBOL.get(str(labels.iat[i, j]), "")
        ax.text(j, i, f"{symbol} {v:+.1%}", ha="center", va="center", fontsize=9)
    cbar = fig.colorbar(im, ax=ax, format=lambda v, _p: f"{v:+.0%}")
    cbar.set_label("Deviation from plan (%)")
    ax.set_xlabel("Product line")
    ax.set_ylabel("Region")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def landing_chart(landings: pd.DataFrame, annual_target: float, title: str, unit: str = "M") -> Figure:
    """Each landing method as a bar (with its interval where it has one) against the annual
    target line."""
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(landings) + 1.8))
    y = np.arange(len(landings))
    values = landings["landing"].to_numpy(dtype=float)
    colours = [RAG["green"] if v >= annual_target else RAG["red"] for v in np.nan_to_num(values)]
    ax.barh(y, np.nan_to_num(values), color=colours, height=0.55)
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
    finite = values[np.isfinite(values)]
    lo = float(np.nanmin(np.r_[finite, low[has], annual_target]))
    hi = float(np.nanmax(np.r_[finite, high[has], annual_target]))
    ax.set_xlim(max(0.0, lo - 0.15 * (hi - lo) - 0.02 * hi), hi + 0.1 * (hi - lo) + 0.01 * hi)
    money_axis(ax, axis="x", unit=unit, label="Year-end net sales, axis cut")
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
        RAG["none"] if np.isnan(a) else RAG["green"] if a >= 1.0 else RAG["yellow"] if a >= 0.8 else RAG["red"]
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
