"""The calendar month: one type, parsed in one place.

Every place that takes a month from a person or a file (the command line, the monthly run,
the month context, the plan versions' approval log) reads it with :meth:`Month.parse`, so the
rule and its error message are the same everywhere. Rule: ``YYYY-MM``, four-digit year, month
01-12, nothing else (surrounding spaces are ignored).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

MONTH_RULE = "YYYY-MM (e.g. 2026-10)"
_FORM = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


class MonthError(ValueError):
    """A text that is not a month of the form ``YYYY-MM``; the message names the value and the rule."""


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month; ``str(month)`` is its ``YYYY-MM`` form, the form parameters and folders use."""

    year: int
    number: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 12:
            raise MonthError(f"month number {self.number!r} is not 1-12")
        if not 1 <= self.year <= 9999:
            raise MonthError(f"year {self.year!r} is not 1-9999")

    @classmethod
    def parse(cls, text: object) -> Month:
        """``text`` as a month; :class:`MonthError` naming the value and the rule ``YYYY-MM`` otherwise.

        A :class:`Month` is returned as is; anything else is read as text (so a
        ``pandas.Period`` of monthly frequency, whose text is ``YYYY-MM``, is accepted)."""
        if isinstance(text, Month):
            return text
        match = None if text is None else _FORM.fullmatch(str(text).strip())
        if match is None:
            raise MonthError(f"month {text!r}: expected {MONTH_RULE}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def is_month(cls, text: object) -> bool:
        """Whether ``text`` parses as a month (:meth:`parse`)."""
        try:
            cls.parse(text)
        except MonthError:
            return False
        return True

    @property
    def first_day(self) -> date:
        return date(self.year, self.number, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.number, calendar.monthrange(self.year, self.number)[1])

    @property
    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.number == 1 else Month(self.year, self.number - 1)

    @property
    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.number == 12 else Month(self.year, self.number + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.number:02d}"
