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
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from pandas.io.formats.style import Styler

from salesplan.status import (
    STATUS_SYMBOLS,
    STATUS_WORDS,
    attainment_status,
    fmt_probability,
    status_label,
    thresholds_of,
)
from salesplan.status import status_css as _status_css
from salesplan.units import fmt_date, fmt_int, fmt_money, fmt_pct, fmt_year
from salesplan.units import is_missing as _missing

if TYPE_CHECKING:
    from salesplan.settings import Thresholds

__all__ = [
    "HEADER_WORDS",
    "PROBABILITY_COLUMNS",
    "escape_labels",
    "escape_styler",
    "fmt_date",
    "fmt_int",
    "fmt_money",
    "fmt_pct",
    "fmt_year",
    "gradient",
    "header_text",
    "rag_label",
    "rag_style",
    "status_css",
    "status_key",
    "style_table",
]


PROBABILITY_COLUMNS = frozenset({"p_hit", "p_miss", "p_hit_model"})
"""Columns that hold a probability of hitting (or missing) the plan: every table prints them
with :func:`salesplan.status.fmt_probability` ("< 1 %", "> 99 %" at the extremes), whatever
other format a caller names for them, so P(hit) reads the same on every page."""


def rag_label(status: str | None) -> str:
    """Status with its symbol and its page word, so colour is never the only signal and a word
    names one status only ("▲ yellow", "◆ dark red"; :func:`salesplan.status.status_label`)."""
    return status_label(None if _missing(status) else status)


_WORD_STATUS = {word: status for status, word in STATUS_WORDS.items()}
_SYMBOLS = frozenset(STATUS_SYMBOLS.values())


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
    if _is_year(series):
        return fmt_year
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
        return lambda v: fmt_date(v, monthly=bool(monthly))
    if _is_status(series):
        return lambda v: rag_label(v) if isinstance(v, str) and v in STATUS_WORDS else ("–" if _missing(v) else v)
    if series.dtype == object:
        # Mixed columns: timestamps without a clock, missing values as "–", never "<NA>" / "NaT".
        return lambda v: "–" if _missing(v) else fmt_date(v) if isinstance(v, pd.Timestamp) else v
    return None


def _is_year(series: pd.Series) -> bool:
    """A column of years ("year", "plan_year", ...): whole numbers written without separators."""
    name = str(series.name).lower()
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return numeric and (name == "year" or name.endswith("_year") or name.endswith(" year"))


def _is_status(series: pd.Series) -> bool:
    """A column holding statuses ("dark_red", "green", ...): shown as symbol and word."""
    name = str(series.name).lower()
    return series.dtype == object and (name == "status" or name.endswith("status"))


HEADER_WORDS: dict[str, str] = {
    "action_id": "Action ID",
    "cause_5why": "Cause (5 whys)",
    "rep_id": "Rep ID",
    "rep_name": "Rep",
    "customer_id": "Customer ID",
    "customer_name": "Customer",
    "product_line": "Product line",
    "net_amount": "Net sales",
    "target_amount": "Target",
    "p_hit": "P(hit)",
    "p_miss": "P(miss)",
    "p_hit_model": "P(hit), model",
    "yoy": "YoY",
    "ytd": "Year to date",
    "sku": "SKU",
    "kpi": "KPI",
    "id": "ID",
    "mase": "MASE",
    "mase_naive": "MASE, naive",
    "wape": "WAPE",
    "wape_naive": "WAPE, naive",
    "nrr": "Net revenue retention",
}
"""Column names as words on a page; any other snake_case name reads as its words
("first_date" -> "First date")."""

_SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$|^[a-z][a-z0-9]*$")


_SNAKE_LABEL = re.compile(r"^[a-z]+(_[a-z]+)+$")


def _label_words(label: object) -> object:
    """A snake_case row label as words ("long_tail" -> "long tail", "dark_red" -> "dark red")."""
    return label.replace("_", " ") if isinstance(label, str) and _SNAKE_LABEL.match(label) else label


def header_text(name: object) -> object:
    """A column or index name as a page header: :data:`HEADER_WORDS`, else a snake_case or
    lower-case name as capitalised words ("last_date" -> "Last date"); other names (already
    words, "2026", a rep's name) are kept."""
    if not isinstance(name, str):
        return name
    if name in HEADER_WORDS:
        return HEADER_WORDS[name]
    if _SNAKE.match(name):
        words = name.replace("_", " ")
        return words[:1].upper() + words[1:]
    return name


def _fmt_probability_cell(value: object) -> str:
    """A probability cell, as HTML text: "&lt; 1 %" for 0.001. Text a page formatted first
    ("< 1 %") passes as is: pandas has already escaped it before this function sees it."""
    if isinstance(value, str):
        return value
    return html.escape(fmt_probability(None if _missing(value) else value))


class PageTable(Styler):
    """A styled table whose plain-text form is its formatted cells (what the page shows), not
    an object address: a notebook's text output and its comparison in tests read the table."""

    labels: dict[Any, Any] = {}
    """Each column's name in the frame -> its header on the page (set by :func:`style_table`)."""

    def __repr__(self) -> str:
        text = self.to_string(delimiter="  ")
        return html.unescape(text)


def shown_column(styler: Styler, column: str) -> Any:
    """The header a column of the frame is shown under in ``styler`` (its name when the table
    kept it), so code that names a frame's column finds it after :func:`style_table` renamed it."""
    if column in styler.data.columns:
        return column
    return getattr(styler, "labels", {}).get(column, header_text(column))


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
    *,
    points: Iterable[str] = (),
    rename: Mapping[str, str] | None = None,
    only_named: bool = False,
    attainment: Iterable[str] = (),
    growth: Iterable[str] = (),
    thresholds: Thresholds | Mapping[str, float] | None = None,
    status: Iterable[str] = (),
    money_header: bool = False,
    currency: str = "",
    words: bool = True,
) -> Styler:
    """The one way a table reaches a page.

    * money in ``unit`` (K, M, B) for the ``money`` columns, percentages for ``pct``, signed
      percentages for ``signed_pct``, signed percentage points ("+1.6 pts") for ``points``,
      counts for ``ints``; every other column formatted by its type: whole numbers with
      separators, years as "2027", dates as 2027-01 (month starts) or 2027-01-01 (never a
      clock), statuses as symbol and word ("◆ dark red"), missing values as "–";
    * ``formats`` for anything else (column or its shown header -> callable or format string:
      pass them here rather than chaining ``.format``, which pandas applies unescaped);
    * probabilities (``prob`` and :data:`PROBABILITY_COLUMNS`) by
      :func:`salesplan.status.fmt_probability`, also when named in ``pct``;
    * ``attainment`` columns coloured by their status (:func:`salesplan.status.attainment_status`
      with ``thresholds``, the ``retro.thresholds`` settings; the method's 5 / 10 / 15 % when
      None), ``status`` columns coloured by the status they hold, both in the status palette;
      ``growth`` columns shaded red (-25 %) to green (+25 %);
    * headers: ``rename`` (column -> header) first, then, with ``words``, snake_case names as
      words (:func:`header_text`); ``money_header`` adds the unit to money headers ("Net sales
      (M CNY)" with ``currency``); ``only_named`` keeps only the columns named in a group or in
      ``rename`` (in ``rename``'s order when given);
    * the index is hidden when it carries no meaning (an unnamed range) or ``hide_index`` says so.

    Every value, label and the caption are HTML-escaped (text from data is shown, never
    interpreted)."""
    money, pct, ints, signed_pct, prob = list(money), list(pct), list(ints), list(signed_pct), list(prob)
    points, attainment, growth, status = list(points), list(attainment), list(growth), list(status)
    headers = dict(rename or {})
    if only_named:
        named = {*money, *pct, *ints, *signed_pct, *prob, *points, *attainment, *growth, *status}
        cols = [c for c in headers if c in frame.columns] if headers else [c for c in frame.columns if c in named]
        frame = frame[cols]
    fmt: dict[str, object] = {}
    for col in frame.columns:
        default = _default_format(frame[col])
        if default is not None:
            fmt[col] = default
    # A header that names the unit ("Net sales (M)") leaves it out of every cell.
    fmt.update({c: (lambda v, u=unit, t=not money_header: fmt_money(v, u, suffix=t)) for c in money})
    fmt.update({c: fmt_pct for c in [*attainment, *pct]})
    fmt.update({c: (lambda v: fmt_pct(v, signed=True)) for c in signed_pct})
    fmt.update({c: (lambda v: "–" if _missing(v) else f"{float(v) * 100:+.1f} pts") for c in points})
    fmt.update({c: fmt_int for c in ints})
    by_header = {headers.get(c, c): c for c in frame.columns}
    for col, spec in (formats or {}).items():
        key = by_header.get(col, col)
        fmt[key] = (lambda v, f=spec: "–" if _missing(v) else f.format(v)) if isinstance(spec, str) else spec
    # Last, so a probability never falls back to a plain percentage ("0.0 %" beside "< 1 %").
    fmt.update({c: _fmt_probability_cell for c in [*prob, *PROBABILITY_COLUMNS]})

    label: dict[Any, Any] = {}
    for col in frame.columns:
        text = headers.get(col, header_text(col) if words else col)
        if money_header and col in money and (unit or currency):
            text = f"{text} ({' '.join(p for p in (unit, currency) if p)})"
        label[col] = text
    # Headers are relabelled for display only, so the styler's data keeps the frame's column
    # names (code that styles a column by name keeps working); a MultiIndex or duplicated
    # header is renamed in the data instead.
    relabel = (
        not isinstance(frame.columns, pd.MultiIndex)
        and frame.columns.is_unique
        and len(set(map(str, label.values()))) == len(label)
    )
    view = frame if relabel else frame.rename(columns=label)

    def key(col: Any) -> Any:
        return col if relabel else label[col]

    if isinstance(view.index, pd.DatetimeIndex):
        # Dates as row labels without a clock: 2027-01 for month starts, else 2027-01-03.
        monthly = bool(((view.index.day == 1) & (view.index.normalize() == view.index)).all())
        view = view.set_axis([fmt_date(v, monthly=monthly) for v in view.index], axis=0).rename_axis(view.index.name)
    if words:
        # Row labels the library writes in snake_case ("long_tail", "dark_red") read as words too;
        # names from data (regions, reps, customers) carry no underscores between lower-case words.
        view = view.rename(index=_label_words)
        view = view.rename_axis(
            index=[header_text(n) for n in view.index.names], columns=[header_text(n) for n in view.columns.names]
        )
    fmt = {key(c): f for c, f in fmt.items() if c in label}
    styler = escape_styler(PageTable(escape_labels(view)).format(fmt, na_rep="–", escape="html"), caption)
    if relabel and len(frame.columns):
        styler = styler.relabel_index(
            [html.escape(t) if isinstance(t, str) else t for t in (label[c] for c in frame.columns)], axis=1
        )
    styler.labels = dict(label)
    if hide_index is None:
        hide_index = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    if hide_index:
        styler = styler.hide(axis="index")
    grow = [key(c) for c in growth if c in label]
    if grow:
        styler = styler.background_gradient(cmap="RdYlGn", subset=grow, vmin=-0.25, vmax=0.25)
    limits = thresholds_of(thresholds) if thresholds is not None else _default_thresholds()

    def band_colour(v: object) -> str:
        return "" if _missing(v) else status_css(str(attainment_status(float(v), limits)[0]))

    att = [key(c) for c in attainment if c in label]
    if att:
        styler = styler.map(band_colour, subset=att)
    held = [key(c) for c in status if c in label]
    if held:
        styler = styler.map(lambda v: status_css(status_key(v)), subset=held)
    return styler.set_table_styles(
        [
            {"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left;"},
            {"selector": "th", "props": "text-align: right;"},
        ]
    )


def _default_thresholds() -> Thresholds:
    """The method's status thresholds (``retro.thresholds`` in defaults.yaml)."""
    from salesplan.config import default_settings  # settings are read only when a table needs them

    return default_settings().retro.thresholds


def rag_style(styler: Styler, column: str, palette: Mapping[str, str] | None = None) -> Styler:
    """Colour the cells of ``column`` (holding green / yellow / red / dark_red / ahead) by status.

    The status cells are (re-)formatted escaped, so a styler built elsewhere cannot put a raw
    status text into a page through this function either; the colours come from the palette,
    never from the data.
    """
    column = shown_column(styler, column)
    styler = styler.format(na_rep="–", escape="html", subset=[column])

    def colour(value: object) -> str:
        return status_css(status_key(value), palette)

    return styler.map(colour, subset=[column])


def status_css(status: str | None, palette: Mapping[str, str] | None = None) -> str:
    """The cell style of a status (green / yellow / red / dark_red / ahead): its background from
    the one status palette (:data:`salesplan.status.STATUS_COLOURS`, or ``palette``) and the text
    colour that stays readable on it; empty for no status, so such a cell keeps the page's colours."""
    key = "" if _missing(status) else str(status)
    if palette is None:
        return _status_css(key or None)
    if not key or key not in palette or key == "none":
        return ""
    from salesplan.status import STATUS_TEXT

    return f"background-color: {palette[key]}; color: {STATUS_TEXT.get(key, 'black')};"


def gradient(
    styler: Styler, columns: Iterable[str], cmap: str = "RdYlGn", vmin: float = -0.2, vmax: float = 0.2
) -> Styler:
    """Diverging background colour for change columns (negative red, positive green)."""
    return styler.background_gradient(cmap=cmap, subset=list(columns), vmin=vmin, vmax=vmax)
