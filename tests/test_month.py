"""One month type: parsed in one place, the same rule and message everywhere it is read."""

from __future__ import annotations

import argparse
from datetime import date

import pandas as pd
import pytest

from salesplan import cli
from salesplan.month import Month, MonthError
from salesplan.run import RunInputError, check_month
from salesplan.workbook import WorkbookError, resolve_month


@pytest.mark.parametrize(
    ("text", "year", "number"), [("2026-10", 2026, 10), (" 2025-01 ", 2025, 1), ("1999-12", 1999, 12)]
)
def test_parse_reads_year_and_month(text: str, year: int, number: int) -> None:
    month = Month.parse(text)
    assert (month.year, month.number) == (year, number)
    assert str(month) == text.strip()


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-1", "26-10", "October", "2026-10-01", "", None, "2026/10"]
)
def test_parse_refuses_naming_the_value_and_the_rule(text: object) -> None:
    with pytest.raises(MonthError) as info:
        Month.parse(text)
    assert repr(text) in str(info.value) and "YYYY-MM" in str(info.value)
    assert not Month.is_month(text)


def test_days_and_neighbours() -> None:
    leap = Month.parse("2024-02")
    assert (leap.first_day, leap.last_day) == (date(2024, 2, 1), date(2024, 2, 29))
    assert Month.parse("2025-02").last_day == date(2025, 2, 28)
    assert str(Month.parse("2026-01").previous) == "2025-12"
    assert str(Month.parse("2026-12").next) == "2027-01"
    assert Month.parse("2026-03").previous < Month.parse("2026-03") < Month.parse("2026-03").next


def test_a_period_and_a_month_parse_as_themselves() -> None:
    month = Month.parse("2026-10")
    assert Month.parse(month) is month
    assert Month.parse(pd.Period("2026-10", freq="M")) == month


def test_every_reader_uses_the_one_rule() -> None:
    # The command line, the run and the month context refuse the same text with the same rule.
    with pytest.raises(argparse.ArgumentTypeError, match=r"'2026-13': expected YYYY-MM"):
        cli._month("2026-13")
    assert cli._month(" 2026-10") == "2026-10"
    with pytest.raises(RunInputError, match=r"'2026-13': expected YYYY-MM"):
        check_month("2026-13")
    dates = pd.Series(pd.to_datetime(["2026-01-03", "2026-11-02"]))
    with pytest.raises(WorkbookError, match=r"'2026-13': expected YYYY-MM.*latest complete month is 2026-10"):
        resolve_month("2026-13", dates)
    assert resolve_month("2026-04", dates) == pd.Period("2026-04", freq="M")
    with pytest.raises(WorkbookError, match="outside the data's complete months"):
        resolve_month("2026-11", dates)
