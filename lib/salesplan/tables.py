"""Table presentation: number formats and pandas Styler helpers shared by every report.

Formatting is presentation only: functions here never change values, they return
strings or ``Styler`` objects for display.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd
from pandas.io.formats.style import Styler

from salesplan.plots.base import RAG, RAG_SYMBOL

_SCALE = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9}


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def fmt_money(value: float | None, unit: str = "", decimals: int | None = None, signed: bool = False) -> str:
    """Money with thousands separators, in ``unit`` (K, M, B); "–" for a missing value.
    ``signed``: always show the sign (gaps: negative = behind plan)."""
    if _missing(value):
        return "–"
    scale = _SCALE[unit]
    if decimals is None:
        decimals = 0 if unit == "" else 1
    return f"{float(value) / scale:{'+' if signed else ''},.{decimals}f}{(' ' + unit) if unit else ''}"


def fmt_pct(value: float | None, decimals: int = 1, signed: bool = False) -> str:
    """A fraction as a percentage (0.1234 -> "12.3%"); "–" for a missing value."""
    if _missing(value):
        return "–"
    return f"{float(value) * 100:{'+' if signed else ''},.{decimals}f}%"


def fmt_int(value: float | None) -> str:
    """A count with thousands separators."""
    return "–" if _missing(value) else f"{round(float(value)):,}"


def rag_label(status: str | None) -> str:
    """Status with its symbol, so colour is never the only signal ("▲ yellow")."""
    if _missing(status) or not status:
        return RAG_SYMBOL["none"]
    return f"{RAG_SYMBOL.get(str(status), '')} {status}".strip()


def style_table(
    frame: pd.DataFrame,
    money: Iterable[str] = (),
    pct: Iterable[str] = (),
    ints: Iterable[str] = (),
    signed_pct: Iterable[str] = (),
    unit: str = "",
    caption: str | None = None,
    hide_index: bool = False,
) -> Styler:
    """A Styler with money / percentage / count formats by column and a caption."""
    fmt: dict[str, object] = {}
    fmt.update({c: (lambda v, u=unit: fmt_money(v, u)) for c in money})
    fmt.update({c: fmt_pct for c in pct})
    fmt.update({c: (lambda v: fmt_pct(v, signed=True)) for c in signed_pct})
    fmt.update({c: fmt_int for c in ints})
    styler = frame.style.format(fmt, na_rep="–")
    if caption:
        styler = styler.set_caption(caption)
    if hide_index:
        styler = styler.hide(axis="index")
    return styler.set_table_styles(
        [
            {"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left;"},
            {"selector": "th", "props": "text-align: right;"},
        ]
    )


def rag_style(styler: Styler, column: str, palette: Mapping[str, str] | None = None) -> Styler:
    """Colour the cells of ``column`` (holding green / yellow / red / dark_red / ahead) by status."""
    colours = dict(palette or RAG)

    def colour(value: object) -> str:
        key = str(value).split()[-1] if isinstance(value, str) and value else ""
        c = colours.get(key)
        if not c:
            return ""
        text = "white" if key in ("red", "dark_red", "ahead", "green") else "black"
        return f"background-color: {c}; color: {text};"

    return styler.map(colour, subset=[column])


def gradient(
    styler: Styler, columns: Iterable[str], cmap: str = "RdYlGn", vmin: float = -0.2, vmax: float = 0.2
) -> Styler:
    """Diverging background colour for change columns (negative red, positive green)."""
    return styler.background_gradient(cmap=cmap, subset=list(columns), vmin=vmin, vmax=vmax)
