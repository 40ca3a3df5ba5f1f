"""Reporting periods of the retrospective: month, quarter-, half- and year-to-date windows."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from salesplan.dates import as_dates


class RetroInputError(ValueError):
    """Input to the retrospective is unusable; the message names what, where and the rule."""


@dataclass(frozen=True)
class Window:
    """A closed range of months ``start..end`` (first-of-month timestamps) with a display name."""

    name: str
    label: str
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def months(self) -> int:
        """Number of calendar months in the window."""
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def contains(self, months: pd.Series) -> pd.Series:
        """Boolean mask of ``months`` (first-of-month timestamps) inside the window."""
        # pd.to_datetime costs ~20 ms even on datetime input; only convert when needed.
        m = months if pd.api.types.is_datetime64_any_dtype(months) else as_dates(months)
        return (m >= self.start) & (m <= self.end)


def as_period(month: str | pd.Period | pd.Timestamp) -> pd.Period:
    """A month given as ``"YYYY-MM"``, Period or Timestamp, as a monthly Period."""
    try:
        return pd.Period(month, freq="M")
    except (ValueError, TypeError):
        raise RetroInputError(f"month: {month!r} is not a month; expected 'YYYY-MM'") from None


def _start(period: pd.Period) -> pd.Timestamp:
    return period.to_timestamp(how="start")


def window(month: str | pd.Period, kind: str) -> Window:
    """The window of ``kind`` ending with ``month``.

    ``month``: that month only; ``qtd`` / ``htd`` / ``ytd``: from the first month of the
    quarter / half-year / year up to and including ``month``; ``quarter`` / ``half`` /
    ``year``: the whole calendar quarter / half / year containing ``month``.
    """
    p = as_period(month)
    first_q = pd.Period(year=p.year, month=3 * (p.quarter - 1) + 1, freq="M")
    first_h = pd.Period(year=p.year, month=1 if p.month <= 6 else 7, freq="M")
    first_y = pd.Period(year=p.year, month=1, freq="M")
    spans = {
        "month": (p, p, f"{p.strftime('%Y-%m')}"),
        "qtd": (first_q, p, f"Q{p.quarter} {p.year} to date"),
        "htd": (first_h, p, f"H{1 if p.month <= 6 else 2} {p.year} to date"),
        "ytd": (first_y, p, f"{p.year} to date"),
        "quarter": (first_q, first_q + 2, f"Q{p.quarter} {p.year}"),
        "half": (first_h, first_h + 5, f"H{1 if p.month <= 6 else 2} {p.year}"),
        "year": (first_y, first_y + 11, f"{p.year}"),
    }
    if kind not in spans:
        raise RetroInputError(f"window kind {kind!r} is not one of {', '.join(spans)}")
    start, end, label = spans[kind]
    return Window(kind, label, _start(start), _start(end))


def report_modes(month: str | pd.Period) -> list[str]:
    """Which views the month's report holds.

    Always ``month`` and ``ytd``; a quarter-end month (3, 6, 9, 12) adds ``quarter``; June
    and December add ``half``; December adds ``year`` (the view that feeds next year's review).
    """
    p = as_period(month)
    modes = ["month", "ytd"]
    if p.month % 3 == 0:
        modes.append("quarter")
    if p.month in (6, 12):
        modes.append("half")
    if p.month == 12:
        modes.append("year")
    return modes


def previous_month(month: str | pd.Period) -> pd.Period:
    """The month before ``month``."""
    return as_period(month) - 1
