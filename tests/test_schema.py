"""Parsing, per-table checks, cross-table rules and the error report."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesplan.config import load_defaults
from salesplan.schema import (
    FILE_COL,
    REPORT_COLUMNS,
    DataValidationError,
    cap_report,
    check_keys,
    check_references,
    date_window,
    failures,
    format_report,
    normalise_report,
    parse_bools,
    parse_dates,
    parse_numbers,
    validate_table,
)

TODAY = pd.Timestamp("2026-01-15")


@pytest.fixture
def config() -> dict:
    return load_defaults()


def frame(rows: list[dict], start: int = 2) -> pd.DataFrame:
    """A raw text frame numbered like a CSV (first data row = line 2)."""
    out = pd.DataFrame(rows, dtype=object)
    out.index = pd.RangeIndex(start, start + len(out))
    return out


def products(**overrides) -> dict:
    return {"sku": "P-1", "product_line": "Pumps", "tier": "core", "high_margin": "yes"} | overrides


# --------------------------------------------------------------------------- parsing


def test_parse_dates_accepts_common_layouts() -> None:
    text = pd.Series(["2024-01-31", " 2024/2/5 ", "2024年3月7日", "2024-04-01 00:00:00", None, "31.02.2024", "soon"])
    parsed = parse_dates(text)
    assert parsed.dtype == "datetime64[ns]"
    assert list(parsed[:4].dt.strftime("%Y-%m-%d")) == ["2024-01-31", "2024-02-05", "2024-03-07", "2024-04-01"]
    assert parsed[4:].isna().all()


def test_parse_dates_keeps_datetimes() -> None:
    dates = pd.Series(pd.to_datetime(["2024-01-31", "2024-02-29"]).astype("datetime64[us]"))
    assert parse_dates(dates).dtype == "datetime64[ns]"


def test_parse_numbers_handles_separators_and_bad_text() -> None:
    parsed = parse_numbers(pd.Series(["1,234.50", "-7", " 3.25 ", "", None, "abc", "1,2"]))
    assert parsed.dtype == "float64"
    assert parsed[:3].tolist() == [1234.5, -7.0, 3.25]
    assert parsed[3:].isna().all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=20))
def test_parse_numbers_round_trips_text(values: list[float]) -> None:
    parsed = parse_numbers(pd.Series([repr(v) for v in values], dtype=object))
    np.testing.assert_array_equal(parsed.to_numpy(), np.array(values))


def test_parse_bools_tokens() -> None:
    parsed = parse_bools(
        pd.Series(["是", "否", "YES", "no", "1", "0", "True", None, "maybe"]),
        ["true", "yes", "1", "是"],
        ["false", "no", "0", "否"],
    )
    assert parsed[:7].tolist() == [True, False, True, False, True, False, True]
    assert pd.isna(parsed[7]) and parsed[8] == "maybe"


# --------------------------------------------------------------------------- per-table checks


def test_valid_table_has_no_failures(config: dict) -> None:
    typed, report = validate_table(
        frame([products(), products(sku="P-2", high_margin="否")]), "products", config, "p.csv", TODAY
    )
    assert report.empty
    assert typed["high_margin"].tolist() == [True, False]


def test_missing_required_column_is_one_row(config: dict) -> None:
    raw = frame([{"sku": "P-1", "tier": "core"}, {"sku": "P-2", "tier": "core"}])
    _, report = validate_table(raw, "products", config, "p.csv", TODAY)
    assert report[["column", "rule"]].values.tolist() == [["product_line", "required column missing"]]
    assert report["row"].isna().all()


def test_missing_optional_column_is_fine(config: dict) -> None:
    raw = frame([{"sku": "P-1", "product_line": "Pumps", "tier": "core"}])
    _, report = validate_table(raw, "products", config, "p.csv", TODAY)
    assert report.empty


def test_null_and_disallowed_values(config: dict) -> None:
    raw = frame([products(), products(sku=" ", tier="gold"), products(sku="P-3", high_margin="maybe")])
    _, report = validate_table(raw, "products", config, "p.csv", TODAY)
    got = normalise_report(report)[["row", "column", "value", "rule"]].values.tolist()
    assert got == [
        [3, "sku", "", "missing value"],
        [3, "tier", "gold", "not one of: core, emerging, long_tail"],
        [4, "high_margin", "maybe", "not a yes/no value"],
    ]


def test_unparseable_cell_reported_once_with_its_text(config: dict) -> None:
    order = {
        "order_date": "2025-01-03",
        "order_id": "SO-1",
        "customer_id": "C1",
        "rep_id": "R1",
        "region": "North",
        "sku": "P-1",
        "channel": "direct",
        "quantity": "2",
        "net_amount": "100",
    }
    raw = frame(
        [
            order,
            order | {"order_id": "SO-2", "net_amount": "abc", "order_date": "1999-12-31"},
            order | {"order_id": "SO-3", "quantity": "2.5"},
        ]
    )
    _, report = validate_table(raw, "orders", config, "o.csv", TODAY)
    got = normalise_report(report)[["row", "column", "value", "rule"]].values.tolist()
    low, high = date_window(config, TODAY)
    assert got == [
        [3, "net_amount", "abc", "not a number"],
        [3, "order_date", "1999-12-31", f"date outside {low:%Y-%m-%d} .. {high:%Y-%m-%d}"],
        [4, "quantity", "2.5", "not a whole number"],
    ]


def test_date_window_follows_config(config: dict) -> None:
    config["validation"]["max_days_after_today"] = 10
    assert date_window(config, TODAY) == (pd.Timestamp("2000-01-01"), pd.Timestamp("2026-01-25"))


def test_targets_month_bounds_and_nullable_rep(config: dict) -> None:
    row = {
        "year": "2025",
        "month": "1",
        "region": "North",
        "product_line": "Pumps",
        "rep_id": None,
        "target_amount": "10",
    }
    _, report = validate_table(frame([row, row | {"month": "13"}]), "targets", config, "t.csv", TODAY)
    assert normalise_report(report)[["row", "column", "rule"]].values.tolist() == [[3, "month", "outside 1 .. 12"]]


# --------------------------------------------------------------------------- cross-table


def with_file(df: pd.DataFrame, name: str) -> pd.DataFrame:
    return df.assign(**{FILE_COL: name})


def test_duplicate_keys_name_the_first_occurrence() -> None:
    a = with_file(frame([{"sku": "P-1"}, {"sku": "P-2"}]), "a.csv")
    b = with_file(frame([{"sku": "P-3"}, {"sku": "P-1"}, {"sku": "P-1"}]), "b.csv")
    report = check_keys({"products": pd.concat([a, b])})
    assert report[["file", "row", "value", "rule"]].values.tolist() == [
        ["b.csv", 3, "P-1", "duplicate key, first at a.csv row 2"],
        ["b.csv", 4, "P-1", "duplicate key, first at a.csv row 2"],
    ]


def test_references_report_unknown_ids_only() -> None:
    orders = with_file(
        frame(
            [{"rep_id": "R1", "sku": "P-1", "customer_id": "C1"}, {"rep_id": "R9", "sku": "P-1", "customer_id": None}]
        ),
        "o.csv",
    )
    tables = {
        "orders": orders,
        "reps": frame([{"rep_id": "R1"}]),
        "products": frame([{"sku": "P-1"}]),
        "customers": frame([{"customer_id": "C1"}]),
    }
    report = check_references(tables)
    assert report[["file", "row", "column", "value", "rule"]].values.tolist() == [
        ["o.csv", 3, "rep_id", "R9", "unknown rep_id (not in reps)"]
    ]


# --------------------------------------------------------------------------- the report


def sample_report(n: int) -> pd.DataFrame:
    return failures("orders_2025.csv", range(2, 2 + n), "net_amount", [f"bad{i}" for i in range(n)], "not a number")


def test_cap_report_summarises_the_rest() -> None:
    capped = cap_report(sample_report(5), 2)
    assert capped["value"].tolist() == ["bad0", "bad1", "... and 3 more"]
    assert capped["row"].isna().tolist() == [False, False, True]


def test_error_message_and_report_table(tmp_path: Path) -> None:
    report = pd.concat([sample_report(3), failures("reps.csv", [7], "level", ["boss"], "not one of: junior, mid")])
    err = DataValidationError(report)
    assert str(err) == "4 data problems in 2 files: 3 x not a number, 1 x not one of: junior, mid"
    assert list(err.report.columns) == REPORT_COLUMNS and str(err.report["row"].dtype) == "Int64"
    text = err.format_report()
    lines = text.splitlines()
    assert lines[0] == str(err)
    header, rule = lines[1], lines[2]
    assert header.split() == REPORT_COLUMNS and set(rule.replace(" ", "")) == {"-"}
    # Aligned: every value starts under its header.
    start = header.index("value")
    assert all(line[start : start + 4] in {"bad0", "bad1", "bad2", "boss"} for line in lines[3:])
    path = err.write_csv(tmp_path / "problems.csv")
    again = pd.read_csv(path, encoding="utf-8-sig")
    assert again["value"].tolist() == err.report["value"].tolist()


def test_format_report_limits_rows() -> None:
    text = format_report(sample_report(60), max_rows=50, csv_path="reports/problems.csv")
    lines = text.splitlines()
    assert len(lines) == 2 + 50 + 2
    assert lines[-2] == "... and 10 more" and lines[-1] == "Full list: reports/problems.csv"


def test_format_report_aligns_chinese_text() -> None:
    report = pd.concat(
        [
            failures("客户.csv", [2], "region", ["华东区"], "not one of: North, South"),
            failures("customers.csv", [3], "region", ["X"], "not one of: North, South"),
        ]
    )
    lines = format_report(report).splitlines()

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    starts = {width(line[: line.index("not one of")]) for line in lines[2:]}
    assert len(starts) == 1
