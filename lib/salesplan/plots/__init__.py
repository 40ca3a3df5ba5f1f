"""Charts: one theme (CJK-capable font, colour-blind-safe RAG palette, money axes) and
generic chart helpers. Area-specific charts live in submodules (``plots.review``,
``plots.targets``, ``plots.forecast``, ``plots.retro``)."""

from salesplan.plots.base import (
    PALETTE,
    RAG,
    RAG_SYMBOL,
    RAG_TEXT,
    apply_theme,
    bar_sorted,
    cjk_font_path,
    heatmap,
    line_by_group,
    money_axis,
    money_formatter,
    new_figure,
    pct_axis,
    show,
    waterfall,
)

__all__ = [
    "PALETTE",
    "RAG",
    "RAG_SYMBOL",
    "RAG_TEXT",
    "apply_theme",
    "bar_sorted",
    "cjk_font_path",
    "heatmap",
    "line_by_group",
    "money_axis",
    "money_formatter",
    "new_figure",
    "pct_axis",
    "show",
    "waterfall",
]
