"""The STL decomposition of monthly net sales as one figure of four panels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from salesplan.plots.base import PAGE_WIDE, PALETTE, money_axis

PANELS = (
    ("observed", "Net sales"),
    ("trend", "Trend"),
    ("seasonal", "Seasonal"),
    ("remainder", "Remainder"),
)
"""The components of :func:`salesplan.seasonality.stl_components`, top to bottom, with their axis labels."""


def stl_decomposition(components: pd.DataFrame, title: str, unit: str = "M", currency: str = "") -> Figure:
    """Observed, trend, seasonal and remainder (``month`` and one column each, as
    :func:`salesplan.seasonality.stl_components` returns them) in four stacked panels on one
    month axis, every panel in money (``unit``, ``currency``; :func:`salesplan.units.axis_label`).
    The seasonal and remainder panels are drawn around a zero line: they add to the trend."""
    fig, axes = plt.subplots(
        len(PANELS), 1, sharex=True, figsize=(PAGE_WIDE[0], 8.0), gridspec_kw={"height_ratios": [2, 1, 1, 1]}
    )
    for i, (ax, (column, label)) in enumerate(zip(axes, PANELS, strict=True)):
        if column == "remainder":
            ax.bar(components["month"], components[column], width=20, color=PALETTE[i])
        else:
            ax.plot(components["month"], components[column], color=PALETTE[i], linewidth=1.6)
        if column in ("seasonal", "remainder"):
            ax.axhline(0.0, color="#4d4d4d", linewidth=0.8)
        money_axis(ax, unit=unit, label=label, currency=currency)
    axes[-1].set_xlabel("Month")
    fig.suptitle(title)
    fig.align_ylabels(axes)
    fig.tight_layout()
    return fig
