"""Units and number formats: the one home of money scales and of every ``fmt_*`` text format.

Pages, charts, statements and the Excel pack all read their unit scale and their number
formats from here, so a figure reads the same everywhere ("12.3 %" on a page, in a chart and
for P(hit), 12.3 % in the workbook; "1,019.0 M" in a table, "1,019 M" on an axis). Percentages
are written the method's way, number, space, "%". The money unit is the
``report.money_unit`` setting (K, M or B; "" for whole currency units).
"""

from __future__ import annotations

import math

import pandas as pd

SCALES: dict[str, float] = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9}
"""Divisor of each money unit: a value in currency units / SCALES[unit] = the value in unit."""


def scale(unit: str) -> float:
    """The divisor of money ``unit`` (one of "", K, M, B); an unknown unit is refused by name."""
    try:
        return SCALES[unit]
    except KeyError:
        raise ValueError(f"unknown money unit {unit!r}: use one of {', '.join(repr(u) for u in SCALES)}") from None


def is_missing(value: object) -> bool:
    """True for None, NaN and pandas' NA: the values every format prints as "–"."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def fmt_money(
    value: float | None, unit: str = "", decimals: int | None = None, signed: bool = False, suffix: bool = True
) -> str:
    """Money with thousands separators in ``unit`` (value / scale(unit), then " M"); "–" when missing.

    ``decimals`` defaults to 0 for whole currency units and 1 for K, M and B; ``signed`` always
    shows the sign (gaps: negative = behind plan); ``suffix=False`` leaves the unit out, for a
    column whose header names it ("Net sales (M)")."""
    if is_missing(value):
        return "–"
    if decimals is None:
        decimals = 0 if unit == "" else 1
    tail = f" {unit}" if unit and suffix else ""
    return f"{float(value) / scale(unit):{'+' if signed else ''},.{decimals}f}{tail}"


def fmt_pct(value: float | None, decimals: int = 1, signed: bool = False) -> str:
    """A fraction as a percentage, value × 100, a space and "%" (0.1234 -> "12.3 %"); "–" when missing."""
    if is_missing(value):
        return "–"
    return f"{float(value) * 100:{'+' if signed else ''},.{decimals}f} %"


def fmt_int(value: float | None) -> str:
    """A count, rounded, with thousands separators; "–" when missing."""
    return "–" if is_missing(value) else f"{round(float(value)):,}"


def fmt_year(value: float | None) -> str:
    """A year as written ("2027", never "2,027" or "2027.0"); "–" when missing."""
    return "–" if is_missing(value) else str(round(float(value)))


def fmt_date(value: object, monthly: bool = False) -> str:
    """A date without a clock: "2027-01-01", or "2027-01" when ``monthly`` (a month's first day
    stands for the month); "–" when missing."""
    if is_missing(value):
        return "–"
    return pd.Timestamp(value).strftime("%Y-%m" if monthly else "%Y-%m-%d")


def unit_label(unit: str, currency: str = "") -> str:
    """How a page names its money unit: "M CNY", "M" without a currency, "CNY" in whole units."""
    scale(unit)
    return " ".join(part for part in (unit, currency) if part)


def axis_label(label: str, unit: str, currency: str = "") -> str:
    """An axis or column title with its unit once: "Net sales (M CNY)"; a label that already
    ends with the unit in brackets is kept, so a chart never reads "(M) (M)"."""
    text = unit_label(unit, currency)
    if not text or label.rstrip().endswith(f"({text})") or label.rstrip().endswith(f"({unit})"):
        return label
    return f"{label} ({text})"


def excel_money_format(unit: str = "", decimals: int | None = None) -> str:
    """The Excel number format showing a value stored in currency units in ``unit``.

    Excel scales by 1,000 for each trailing comma, so the stored cell keeps the exact amount
    (sums and formulas stay right) while it reads as "1,019.0 M"."""
    scale(unit)
    if decimals is None:
        decimals = 0 if unit == "" else 1
    body = "#,##0" + ("." + "0" * decimals if decimals else "")
    commas = {"": "", "K": ",", "M": ",,", "B": ",,,"}[unit]
    suffix = f' "{unit}"' if unit else ""
    return f"{body}{commas}{suffix};-{body}{commas}{suffix}"


def excel_percent_format(decimals: int = 1) -> str:
    """The Excel number format of a fraction shown as a percentage (0.1234 -> 12.3%)."""
    return "0" + ("." + "0" * decimals if decimals else "") + "%"


EXCEL_COUNT_FORMAT = "#,##0"
"""The Excel number format of a count."""


def money_unit(settings: object) -> str:
    """The money unit every page, chart, statement and workbook of a run uses: the
    ``report.money_unit`` setting (``defaults.yaml`` holds the method's default)."""
    unit = str(settings.report.money_unit)  # type: ignore[attr-defined]
    scale(unit)
    return unit


def currency(settings: object) -> str:
    """The data's currency (``report.currency``, an ISO 4217 code such as CNY); "" when unset."""
    return str(getattr(getattr(settings, "report", None), "currency", "") or "")
