"""Reading number and amount columns, and the one-currency rule for amounts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesplan.schema.report import REPORT_COLUMNS
from salesplan.schema.text import Reading, as_text, normalise_width, per_cell, text_codes

# Technical plausibility limits, not business assumptions: sums of up to a million lines of
# such values stay exact in int64 (quantities) and finite in float64 (amounts).
MAX_ABS_WHOLE = 1e12
MAX_ABS_AMOUNT = 1e15
RULE_NOT_NUMBER = "not a number"
RULE_NOT_FINITE = "not a finite number (inf / nan are refused)"
_CURRENCY = r"[¥$€£]|(?:CNY|RMB)\s*"
_NUMBER = re.compile(
    rf"(?P<c1>{_CURRENCY})?(?P<sign>[+-])?(?P<c2>{_CURRENCY})?(?P<open>\()?(?P<c3>{_CURRENCY})?"
    r"(?P<body>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"(?P<close>\))?",
    re.IGNORECASE,
)
_NON_FINITE = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"[+-]?\d+(?:\.\d{3})*,\d+")
CURRENCY_NAMES = {"¥": "¥ (CNY)", "CNY": "¥ (CNY)", "RMB": "¥ (CNY)", "$": "$", "€": "€", "£": "£"}


def _read_number_text(text: str) -> tuple[float, str | None, str | None, bool]:
    """Value, currency, rule (None = read) and whether the value could also be read with a
    decimal comma (``1,234``: a thousands separator and no decimal point)."""
    if _NON_FINITE.fullmatch(text):
        return np.nan, None, RULE_NOT_FINITE, False
    m = _NUMBER.fullmatch(text)
    if m is None or bool(m["open"]) != bool(m["close"]) or (m["open"] and m["sign"]):
        return np.nan, None, RULE_NOT_NUMBER, False
    marks = [c for c in (m["c1"], m["c2"], m["c3"]) if c]
    if len(marks) > 1:
        return np.nan, None, RULE_NOT_NUMBER, False
    value = float(m["body"].replace(",", ""))
    if not np.isfinite(value):
        return np.nan, None, RULE_NOT_FINITE, False
    negative = m["sign"] == "-" or bool(m["open"])
    currency = CURRENCY_NAMES[marks[0].strip().upper()] if marks else None
    return (-value if negative else value), currency, None, "," in m["body"] and "." not in m["body"]


def read_numbers(series: pd.Series, *, money: bool = False, limit: float | None = None) -> Reading:
    """Read a number column to float64.

    Rules: plain decimals with a point (``1234.5``, ``-7``, ``1e5``) are read as they are.
    Also read, because they have one meaning only: a thousands separator ``,`` between
    groups of three digits (``1,234.50``), an accounting negative in parentheses
    (``(1,234)`` = -1234), full-width characters (``１２３``, NFKC), and in amount columns
    (``money``) one currency marker before the number (``¥ ￥ $ € £``, ``CNY``/``RMB``
    prefixes), whose currency is counted in ``Reading.currencies`` so the caller can
    require one currency. Refused: ``inf``/``nan`` (and numbers too large for float64),
    decimal commas (``12,5``), and, in a column that has any decimal comma, grouped values
    like ``1,234`` (they could mean 1.234); currency markers outside amount columns; values
    beyond ±``limit`` when given.
    """
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        reading = Reading(series.astype("float64"))
        vals = reading.values.to_numpy()
        reading.refuse(np.isinf(vals), RULE_NOT_FINITE)
        _refuse_beyond(reading, limit)
        return reading
    text = as_text(series)
    try:
        # Fast path: Arrow's cast reads a clean column in one pass and fails on any bad cell.
        values = text.array._pa_array.cast("float64").to_numpy(zero_copy_only=False)
        reading = Reading(pd.Series(values, index=series.index, name=series.name))
        # Arrow reads "inf" and "nan" too; a present cell must come out finite.
        reading.refuse(~np.isfinite(values) & text.notna().to_numpy(), RULE_NOT_FINITE)
    except Exception:  # noqa: BLE001 - any cast failure means "some cells need the full rules"
        reading = _read_numbers_slowly(text, money)
    _refuse_beyond(reading, limit)
    return reading


def _refuse_beyond(reading: Reading, limit: float | None) -> None:
    if limit is not None:
        values = reading.values.to_numpy(dtype="float64", na_value=np.nan)
        reading.refuse(np.abs(np.nan_to_num(values)) > limit, f"implausibly large (beyond ±{limit:.0e})")


def _read_numbers_slowly(text: pd.Series, money: bool) -> Reading:
    codes, uniques, first = text_codes(text)
    k = len(uniques)
    plain = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").to_numpy(dtype="float64")
    values = plain.copy()
    rule = np.full(k, None, dtype=object)
    currency = np.full(k, None, dtype=object)
    grouped = np.zeros(k, dtype=bool)
    rule[np.isinf(plain)] = RULE_NOT_FINITE
    normalised = normalise_width(uniques)
    for i in np.flatnonzero(np.isnan(plain)):
        values[i], currency[i], rule[i], grouped[i] = _read_number_text(normalised[i])
    decimal_comma = np.array([bool(_DECIMAL_COMMA.fullmatch(v)) and not grouped[i] for i, v in enumerate(normalised)])
    if decimal_comma.any():
        example = int(np.flatnonzero(decimal_comma)[np.argmin(first[decimal_comma])])
        rule[decimal_comma] = "decimal comma is not read (export numbers with a decimal point)"
        rule[grouped & (rule == None)] = (  # noqa: E711 - elementwise comparison on an object array
            f"comma could be a thousands or a decimal separator: this column also has {uniques[example]}"
        )
    has_currency = currency != None  # noqa: E711 - elementwise comparison on an object array
    if not money:
        rule[has_currency & (rule == None)] = "currency marker in a column that is not an amount"  # noqa: E711
    cells = np.where(codes >= 0, values[np.maximum(codes, 0)] if k else np.nan, np.nan)
    reading = Reading(pd.Series(cells, index=text.index, name=text.name))
    for name in sorted({r for r in rule if r}):
        reading.refuse(per_cell(codes, rule == name), name)
    if money:
        ok = has_currency & (rule == None)  # noqa: E711
        cell_counts = np.bincount(codes[codes >= 0], minlength=k)
        for i in np.flatnonzero(ok)[np.argsort(first[ok], kind="stable")]:
            count, position = reading.currencies.get(currency[i], (0, int(first[i])))
            reading.currencies[currency[i]] = (count + int(cell_counts[i]), position)
    return reading


def parse_numbers(series: pd.Series) -> pd.Series:
    """Numbers of a column by the rules of :func:`read_numbers`; refused cells become NaN."""
    return read_numbers(series, money=True).values


@dataclass(frozen=True)
class CurrencySighting:
    """Where a currency marker was first seen in one amount column of one file."""

    file: str
    row: int
    column: str
    value: str
    currency: str
    cells: int


def check_currencies(sightings: Iterable[CurrencySighting]) -> pd.DataFrame:
    """Amounts are summed across files and tables, so the data must speak one currency: the
    markers found (:func:`read_numbers`) may name one currency only. The most used one is
    kept; every file and column using another is reported at its first such cell."""
    sightings = list(sightings)
    totals: dict[str, int] = {}
    for s in sightings:
        totals[s.currency] = totals.get(s.currency, 0) + s.cells
    if len(totals) < 2:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    main = max(totals, key=lambda c: totals[c])
    ref = next(s for s in sightings if s.currency == main)
    rows = [
        [
            s.file,
            s.row,
            s.column,
            s.value,
            f"amounts in {s.currency} ({s.cells} cell{'s' if s.cells != 1 else ''}) but in {main} elsewhere (e.g. {ref.file} row {ref.row}); "
            "one currency per data folder",
        ]
        for s in sightings
        if s.currency != main
    ]
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)
