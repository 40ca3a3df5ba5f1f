"""The chart theme and generic chart helpers every notebook shares."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from salesplan.status import STATUS_COLOURS, STATUS_SYMBOLS, STATUS_TEXT
from salesplan.units import axis_label, scale

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]

# The status style lives in salesplan.status (one home for pages, charts, the index and the
# workbook); these names stay for code that reads them from the chart theme.
RAG = STATUS_COLOURS
RAG_TEXT = STATUS_TEXT
RAG_SYMBOL = STATUS_SYMBOLS

PAGE_WIDE = (12.0, 4.8)
"""Size (inches) of a chart meant to fill a page's width: an A4-landscape page's text width
is about 10.5 inches, so a full-width chart prints at the page's width, never a quarter of it."""

CJK_FAMILY = "Noto Sans CJK SC"


@cache
def cjk_font_path() -> Path | None:
    """Path of the bundled CJK font (from the ``mplfonts`` package), or None if absent."""
    try:
        import mplfonts
    except ImportError:
        return None
    path = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
    return path if path.exists() else None


def apply_theme(dpi: int = 90) -> None:
    """Set the shared chart theme: CJK-capable font first (so Chinese names render,
    with DejaVu Sans as fallback for other glyphs), Okabe-Ito colours, light grid,
    modest DPI to keep committed notebooks small."""
    font = cjk_font_path()
    families = ["DejaVu Sans"]
    if font is not None:
        font_manager.fontManager.addfont(str(font))
        families = [CJK_FAMILY, "DejaVu Sans"]
    mpl.rcParams.update(
        {
            "font.family": "sans-serif",
            "font.sans-serif": families,
            "axes.unicode_minus": False,
            "figure.dpi": dpi,
            "savefig.dpi": dpi,
            "figure.figsize": (9, 4.2),
            "axes.titlesize": 13,
            "axes.titleweight": "normal",  # the bundled CJK font has one weight
            "axes.labelsize": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.prop_cycle": mpl.cycler(color=PALETTE),
            "legend.frameon": False,
        }
    )


def money_formatter(unit: str = "M", decimals: int = 0) -> FuncFormatter:
    """Tick formatter showing values in ``unit`` (K, M or B) with thousands separators."""
    divisor = scale(unit)

    def fmt(v: float, _pos: int) -> str:
        # Extra decimals only when the ticks need them (0.5 M must not print as "0").
        text = f"{v / divisor:,.{max(decimals, 2)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text

    return FuncFormatter(fmt)


def money_axis(
    ax: Axes, axis: str = "y", unit: str = "M", label: str = "Net sales", decimals: int = 0, currency: str = ""
) -> Axes:
    """Format one axis as money in ``unit`` and label it "<label> (<unit> <currency>)", the unit
    once even when ``label`` already names it (:func:`salesplan.units.axis_label`)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(money_formatter(unit, decimals))
    (ax.set_ylabel if axis == "y" else ax.set_xlabel)(axis_label(label, unit, currency))
    return ax


def pct_axis(ax: Axes, axis: str = "y", label: str = "Share (%)", decimals: int = 0) -> Axes:
    """Format one axis as percentages of fractions (0.25 -> "25 %", the pages' percent style)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v * 100:.{decimals}f} %"))
    (ax.set_ylabel if axis == "y" else ax.set_xlabel)(label)
    return ax


def new_figure(title: str, figsize: tuple[float, float] | None = None) -> tuple[Figure, Axes]:
    """A figure with one titled axes."""
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_title(title)
    return fig, ax


def line_by_group(
    frame: pd.DataFrame,
    x: str,
    y: str,
    group: str | None,
    title: str,
    unit: str = "M",
    ylabel: str = "Net sales",
    xlabel: str = "Month",
    ax: Axes | None = None,
) -> Axes:
    """One line per group (sorted by the group's total, largest first) with a money y-axis."""
    if ax is None:
        _fig, ax = new_figure(title)
    else:
        ax.set_title(title)
    if group is None:
        ax.plot(frame[x], frame[y], marker=".", label=y)
    else:
        order = frame.groupby(group, observed=True)[y].sum().sort_values(ascending=False).index
        for name in order:
            part = frame[frame[group] == name].sort_values(x)
            ax.plot(part[x], part[y], marker=".", label=str(name))
        ax.legend(title=group, ncols=min(len(order), 4), fontsize=8)
    money_axis(ax, unit=unit, label=ylabel)
    ax.set_xlabel(xlabel)
    return ax


def bar_sorted(
    values: pd.Series,
    title: str,
    unit: str = "M",
    xlabel: str = "Net sales",
    colors: Sequence[str] | None = None,
    ax: Axes | None = None,
    annotate: bool = True,
) -> Axes:
    """Horizontal bars sorted largest at the top, values on a money axis, optional labels."""
    data = values.sort_values()
    if ax is None:
        _fig, ax = new_figure(title, figsize=(9, max(2.5, 0.32 * len(data) + 1)))
    else:
        ax.set_title(title)
    bars = ax.barh([str(i) for i in data.index], data.to_numpy(), color=colors or PALETTE[0])
    money_axis(ax, axis="x", unit=unit, label=xlabel)
    if annotate:
        divisor = scale(unit)
        ax.bar_label(bars, labels=[f"{v / divisor:,.1f}" for v in data.to_numpy()], fontsize=8, padding=2)
    ax.grid(axis="y", visible=False)
    return ax


def waterfall(
    steps: pd.DataFrame,
    title: str,
    label: str = "label",
    value: str = "value",
    unit: str = "M",
    ylabel: str = "Net sales",
    start_label: str | None = None,
    end_label: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Waterfall chart.

    ``steps`` holds, in order, the starting total (first row), the changes, and optionally
    the end total (last row) - mark totals by passing their labels as ``start_label`` /
    ``end_label``; totals are drawn from zero, changes float from the running sum
    (increases green, decreases red).
    """
    if ax is None:
        # Wide enough to fill an A4-landscape page's text width when printed.
        _fig, ax = new_figure(title, figsize=PAGE_WIDE)
    else:
        ax.set_title(title)
    labels = steps[label].astype(str).tolist()
    vals = steps[value].astype(float).to_numpy()
    running = 0.0
    bottoms, heights, colors = [], [], []
    for name, v in zip(labels, vals, strict=True):
        if name in (start_label, end_label):
            bottoms.append(0.0)
            heights.append(v)
            colors.append("#4d4d4d")
            running = v
        else:
            bottoms.append(running if v >= 0 else running + v)
            heights.append(abs(v))
            colors.append(RAG["green"] if v >= 0 else RAG["red"])
            running += v
    x = np.arange(len(labels))
    ax.bar(x, heights, bottom=bottoms, color=colors, width=0.6)
    divisor = scale(unit)
    for xi, b, h, v in zip(x, bottoms, heights, vals, strict=True):
        ax.text(
            xi,
            b + h,
            f"{v / divisor:+,.1f}" if labels[xi] not in (start_label, end_label) else f"{v / divisor:,.1f}",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(x, labels, rotation=30 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center")
    money_axis(ax, unit=unit, label=ylabel)
    ax.grid(axis="x", visible=False)
    return ax


def heatmap(
    matrix: pd.DataFrame,
    title: str,
    unit: str = "M",
    cbar_label: str = "Net sales",
    fmt_decimals: int = 1,
    cmap: str = "Blues",
    ax: Axes | None = None,
) -> Axes:
    """Annotated heat map of a 2-D table (index = rows, columns = columns) in ``unit``."""
    import seaborn as sns

    if ax is None:
        _fig, ax = new_figure(title, figsize=(9, max(3, 0.5 * len(matrix) + 1.5)))
    else:
        ax.set_title(title)
    sns.heatmap(
        matrix / scale(unit),
        annot=True,
        fmt=f",.{fmt_decimals}f",
        cmap=cmap,
        cbar_kws={"label": axis_label(cbar_label, unit)},
        ax=ax,
    )
    ax.set_xlabel(matrix.columns.name or "")
    ax.set_ylabel(matrix.index.name or "")
    return ax


def show(fig) -> None:
    """Display a finished figure in the notebook and release it (a cell can then show several)."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)
