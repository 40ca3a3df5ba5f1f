"""Forecast charts: fan chart (actual, forecast, 80/95 % bands, target line) and the
pipeline-vs-statistical view."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from salesplan.forecast.engine import DEFAULT_LEVELS
from salesplan.plots.base import PAGE_WIDE, PALETTE, money_axis


def fan_chart(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    title: str,
    levels: Sequence[int] = DEFAULT_LEVELS,
    target: pd.DataFrame | None = None,
    months_shown: int = 36,
    value: str = "blended",
    unit: str = "M",
    ax: Axes | None = None,
) -> Axes:
    """One series: actual (``history``: ``ds, y``), forecast (``forecast``: ``ds, <value>,
    lo_L, hi_L``) with its bands (widest lightest), and the monthly target (``target``:
    ``ds, target_amount``) as a dashed step line."""
    if ax is None:
        _, ax = plt.subplots(figsize=PAGE_WIDE)
    h = history.sort_values("ds").tail(months_shown)
    f = forecast.sort_values("ds")
    ax.plot(h["ds"], h["y"], color=PALETTE[7], lw=1.6, label="Actual")
    for i, lv in enumerate(sorted(levels, reverse=True)):
        ax.fill_between(
            f["ds"],
            f[f"lo_{lv}"],
            f[f"hi_{lv}"],
            color=PALETTE[0],
            alpha=0.15 + 0.2 * i,
            lw=0,
            label=f"{lv} % interval",
        )
    # Join the forecast to the last actual so the eye follows one line.
    joined_x = pd.concat([h["ds"].tail(1), f["ds"]])
    joined_y = np.concatenate([h["y"].tail(1).to_numpy(), f[value].to_numpy()])
    ax.plot(joined_x, joined_y, color=PALETTE[0], lw=1.8, label="Forecast")
    if target is not None and len(target):
        t = target.sort_values("ds")
        t = t[t["ds"] >= h["ds"].min()]
        ax.step(t["ds"], t["target_amount"], where="mid", color=PALETTE[5], lw=1.2, ls="--", label="Target")
    ax.set_title(title)
    ax.set_xlabel("Month")
    money_axis(ax, unit=unit, label="Net sales")
    ax.legend(loc="upper left", fontsize="small", ncol=5, frameon=False)
    return ax


def fan_grid(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    ids: Sequence[str],
    titles: Sequence[str],
    targets: dict[str, pd.DataFrame] | None = None,
    levels: Sequence[int] = DEFAULT_LEVELS,
    ncols: int = 2,
    unit: str = "M",
) -> Figure:
    """Fan charts of several series (``unique_id`` in ``ids``) in a grid."""
    nrows = int(np.ceil(len(ids) / ncols))
    # The grid fills a page's width whatever the number of columns (see plots.base.PAGE_WIDE).
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(PAGE_WIDE[0], 3.4 * nrows), squeeze=False, sharex=True, layout="constrained"
    )
    for ax, uid, title in zip(axes.ravel(), ids, titles, strict=False):
        fan_chart(
            history[history["unique_id"] == uid],
            forecast[forecast["unique_id"] == uid],
            title,
            levels,
            (targets or {}).get(uid),
            unit=unit,
            ax=ax,
        )
        if ax is not axes.ravel()[0]:
            leg = ax.get_legend()
            if leg is not None:
                leg.remove()
    for ax in axes.ravel()[len(ids) :]:
        ax.set_visible(False)
    fig.autofmt_xdate()
    return fig


def pipeline_view(forecast: pd.DataFrame, title: str, unit: str = "M", months: int = 6) -> Axes:
    """Bars per forecast month: statistical, pipeline forecast (weighted pipeline x coverage)
    and blended, for one series (``forecast`` rows of one ``unique_id``)."""
    f = forecast.sort_values("ds").head(months)
    x = np.arange(len(f))
    _, ax = plt.subplots(figsize=(9, 3.4))
    w = 0.27
    ax.bar(x - w, f["forecast"], w, color=PALETTE[0], label="Statistical (reconciled)")
    ax.bar(x, f["pipeline_forecast"].fillna(0), w, color=PALETTE[1], label="Pipeline (weighted x coverage)")
    ax.bar(x + w, f["blended"], w, color=PALETTE[2], label="Blended")
    ax.set_xticks(x, [d.strftime("%Y-%m") for d in f["ds"]])
    ax.set_xlabel("Month")
    ax.set_title(title)
    money_axis(ax, unit=unit, label="Net sales")
    ax.legend(loc="upper right", fontsize="small", frameon=False)
    return ax


def landing_bars(landing: pd.DataFrame, title: str, level: int = 80, unit: str = "M") -> Axes:
    """Horizontal landing bars with the ``level`` % interval and a target tick, one row per item."""
    d = landing.iloc[::-1]
    y = np.arange(len(d))
    _, ax = plt.subplots(figsize=(PAGE_WIDE[0], 0.5 * len(d) + 1.2))
    err = np.vstack([d["landing"] - d[f"lo_{level}"], d[f"hi_{level}"] - d["landing"]])
    ax.barh(y, d["landing"], color=PALETTE[0], alpha=0.8, label="Landing")
    ax.errorbar(d["landing"], y, xerr=err, fmt="none", ecolor=PALETTE[7], capsize=3, label=f"{level} % interval")
    ax.scatter(d["target"], y, marker="|", s=400, color=PALETTE[5], zorder=3, label="Annual target")
    ax.set_yticks(y, d["item"])
    ax.set_xlim(left=0)  # bars from zero: their lengths compare honestly
    ax.set_title(title)
    money_axis(ax, axis="x", unit=unit, label="Year-end net sales")
    ax.legend(loc="lower right", fontsize="small", frameon=False)
    return ax
