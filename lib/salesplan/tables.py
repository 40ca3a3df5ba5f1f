"""Table presentation: number formats and pandas Styler helpers shared by every report.

Formatting is presentation only: functions here never change values, they return
strings or ``Styler`` objects for display.

Every text that comes from data (cell values, row and column labels, axis names, the
caption) is HTML-escaped on the way into a page: a rep or customer called
``<script>…</script>`` is shown as that text, never run as markup. :func:`escape_styler`
is the one place that does it; :func:`style_table` and :func:`rag_style` apply it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping

import pandas as pd
from pandas.io.formats.style import Styler

from salesplan.plots.base import RAG, RAG_SYMBOL, RAG_TEXT
from salesplan.status import STATUS_WORDS, fmt_probability, status_word

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


PROBABILITY_COLUMNS = frozenset({"p_hit", "p_miss", "p_hit_model"})
"""Columns that hold a probability of hitting (or missing) the plan: every table prints them
with :func:`salesplan.status.fmt_probability` ("< 1 %", "> 99 %" at the extremes), whatever
other format a caller names for them, so P(hit) reads the same on every page."""


def fmt_int(value: float | None) -> str:
    """A count with thousands separators."""
    return "–" if _missing(value) else f"{round(float(value)):,}"


def rag_label(status: str | None) -> str:
    """Status with its symbol and its page word, so colour is never the only signal and a word
    names one status only ("▲ yellow", "◆ dark red"; see :data:`salesplan.status.STATUS_WORDS`)."""
    if _missing(status) or not status:
        return RAG_SYMBOL["none"]
    return f"{RAG_SYMBOL.get(str(status), '')} {status_word(str(status))}".strip()


_WORD_STATUS = {word: status for status, word in STATUS_WORDS.items()}
_SYMBOLS = frozenset(RAG_SYMBOL.values())


def status_key(value: object) -> str:
    """The status a cell holds, from a bare status ("dark_red") or a :func:`rag_label`
    ("◆ dark red"); empty for anything else."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if text[:1] in _SYMBOLS:
        text = text[1:].strip()
    return _WORD_STATUS.get(text, text) if text in _WORD_STATUS or text in STATUS_WORDS else ""


def escape_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its axis names HTML-escaped (pandas' Styler prints them verbatim;
    labels and values are escaped by :func:`escape_styler`). Values are not touched."""

    def clean(names: Iterable[object]) -> list[object]:
        return [html.escape(n) if isinstance(n, str) else n for n in names]

    return frame.rename_axis(index=clean(frame.index.names), columns=clean(frame.columns.names))


def escape_styler(styler: Styler, caption: str | None = None) -> Styler:
    """Escape the row and column labels of ``styler`` and set ``caption`` escaped.

    Cell values are escaped by ``Styler.format(..., escape="html")``, which every formatter
    in this module passes; this adds the labels (pandas leaves them raw by default) and the
    caption (written into the page as given).
    """
    styler = styler.format_index(escape="html", axis=0).format_index(escape="html", axis=1)
    if caption:
        styler = styler.set_caption(html.escape(caption))
    return styler


def _default_format(series: pd.Series) -> object:
    """The format of a column nobody named, by its type: whole numbers with separators, other
    numbers with two decimals, dates as YYYY-MM-DD (YYYY-MM for months), yes / no, text as is."""
    if pd.api.types.is_bool_dtype(series):
        return lambda v: "–" if _missing(v) else ("yes" if v else "no")
    if pd.api.types.is_integer_dtype(series):
        return fmt_int
    if pd.api.types.is_float_dtype(series):
        values = series.dropna()
        if len(values) and bool((values == values.round()).all()) and bool((values.abs() < 1e15).all()):
            return fmt_int
        return lambda v: "–" if _missing(v) else f"{float(v):,.2f}"
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.dropna()
        monthly = len(values) and bool((values.dt.day == 1).all() and (values.dt.normalize() == values).all())
        pattern = "%Y-%m" if monthly else "%Y-%m-%d"
        return lambda v: "–" if _missing(v) or v is pd.NaT else pd.Timestamp(v).strftime(pattern)
    return None


def _fmt_probability_cell(value: object) -> str:
    """A probability cell, as HTML text: "&lt; 1 %" for 0.001. Text a page formatted first
    ("< 1 %") passes as is: pandas has already escaped it before this function sees it."""
    if isinstance(value, str):
        return value
    return html.escape(fmt_probability(None if _missing(value) else value))


def style_table(
    frame: pd.DataFrame,
    money: Iterable[str] = (),
    pct: Iterable[str] = (),
    ints: Iterable[str] = (),
    signed_pct: Iterable[str] = (),
    unit: str = "",
    caption: str | None = None,
    hide_index: bool | None = None,
    formats: Mapping[str, object] | None = None,
    prob: Iterable[str] = (),
) -> Styler:
    """The one way a table reaches a page: money in ``unit`` (K, M, B, with the unit in the
    caption's reader's mind: pass one unit per page), percentages, signed percentages and
    counts for the columns named, every other column formatted by its type (no raw floats, no
    ``00:00:00``), ``formats`` for anything else (column -> callable or format string: pass
    them here rather than chaining ``.format``, which pandas applies unescaped). The index is
    hidden when it carries no meaning (an unnamed range) or when ``hide_index`` says so. Every
    value, label and the caption are HTML-escaped (text from data is shown, never interpreted).
    Probabilities (the columns in ``prob`` and every column named in :data:`PROBABILITY_COLUMNS`)
    are printed by :func:`salesplan.status.fmt_probability`, also when named in ``pct``."""
    fmt: dict[str, object] = {}
    for col in frame.columns:
        default = _default_format(frame[col])
        if default is not None:
            fmt[col] = default
    fmt.update({c: (lambda v, u=unit: fmt_money(v, u)) for c in money})
    fmt.update({c: fmt_pct for c in pct})
    fmt.update({c: (lambda v: fmt_pct(v, signed=True)) for c in signed_pct})
    fmt.update({c: fmt_int for c in ints})
    for col, spec in (formats or {}).items():
        fmt[col] = (lambda v, f=spec: "–" if _missing(v) else f.format(v)) if isinstance(spec, str) else spec
    # Last, so a probability never falls back to a plain percentage ("0.0 %" beside "< 1 %").
    fmt.update({c: _fmt_probability_cell for c in [*prob, *PROBABILITY_COLUMNS]})
    fmt = {c: f for c, f in fmt.items() if c in frame.columns}
    styler = escape_styler(escape_labels(frame).style.format(fmt, na_rep="–", escape="html"), caption)
    if hide_index is None:
        hide_index = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    if hide_index:
        styler = styler.hide(axis="index")
    return styler.set_table_styles(
        [
            {"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left;"},
            {"selector": "th", "props": "text-align: right;"},
        ]
    )


def rag_style(styler: Styler, column: str, palette: Mapping[str, str] | None = None) -> Styler:
    """Colour the cells of ``column`` (holding green / yellow / red / dark_red / ahead) by status.

    The status cells are (re-)formatted escaped, so a styler built elsewhere cannot put a raw
    status text into a page through this function either; the colours come from the palette,
    never from the data.
    """
    styler = styler.format(na_rep="–", escape="html", subset=[column])

    def colour(value: object) -> str:
        return status_css(status_key(value), palette)

    return styler.map(colour, subset=[column])


def status_css(status: str | None, palette: Mapping[str, str] | None = None) -> str:
    """The cell style of a status (green / yellow / red / dark_red / ahead): its background from
    the one status palette (:data:`salesplan.plots.base.RAG`) and the text colour that stays
    readable on it; empty for no status, so such a cell keeps the page's colours."""
    colours = dict(palette or RAG)
    key = "" if _missing(status) else str(status)
    if not key or key not in colours or key == "none":
        return ""
    return f"background-color: {colours[key]}; color: {RAG_TEXT.get(key, 'black')};"


def gradient(
    styler: Styler, columns: Iterable[str], cmap: str = "RdYlGn", vmin: float = -0.2, vmax: float = 0.2
) -> Styler:
    """Diverging background colour for change columns (negative red, positive green)."""
    return styler.background_gradient(cmap=cmap, subset=list(columns), vmin=vmin, vmax=vmax)
