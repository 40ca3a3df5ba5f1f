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
    ARROW_STR,
    FILE_COL,
    REPORT_COLUMNS,
    CurrencySighting,
    DataValidationError,
    cap_report,
    check_currencies,
    check_keys,
    check_references,
    check_text,
    date_window,
    failures,
    format_report,
    normalise_report,
    parse_bools,
    parse_dates,
    parse_numbers,
    read_dates,
    read_numbers,
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


def test_a_partial_config_takes_the_window_from_the_defaults(config: dict) -> None:
    # No second copy of the defaults in code: what the config leaves out comes from defaults.yaml.
    assert date_window({}, TODAY) == date_window(config, TODAY)
    low, high = date_window({"validation": {"min_date": "2019-06-01"}}, TODAY)
    assert low == pd.Timestamp("2019-06-01")
    assert high == TODAY + pd.Timedelta(days=config["validation"]["max_days_after_today"])


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


def test_loop_tables_check_statuses_channels_scores_and_dates(config: dict) -> None:
    action = {
        "action_id": "rep:R1",
        "register_month": "2025-12-01",
        "opened_month": "2025-11-01",
        "level": "rep",
        "item": "R1",
        "owner": "Li",
        "action_status": "Done",  # case-insensitive match keeps the allowed label
        "escalation_level": "2",
        "due_date": "",
    }
    typed, report = validate_table(
        frame([action, action | {"action_status": "later", "escalation_level": "4"}]), "actions", config, "a.csv", TODAY
    )
    assert typed["action_status"].iloc[0] == "done"
    got = normalise_report(report)[["row", "column", "rule"]].values.tolist()
    assert [3, "action_status", "not one of: open, in_progress, done, cancelled"] in got
    assert [3, "escalation_level", "outside 1 .. 3"] in got and len(got) == 2
    spend = {"month": "2025-12-01", "category": "marketing", "amount": "¥1,000", "channel": "tv"}
    _, report = validate_table(frame([spend]), "spend", config, "s.csv", TODAY)
    assert normalise_report(report)[["row", "column"]].values.tolist() == [[2, "channel"]]
    _, report = validate_table(
        frame([{"survey_date": "2025-12-01", "customer_id": "C1", "score": "7.5"}]), "nps", config, "n.csv", TODAY
    )
    assert normalise_report(report)["rule"].tolist() == ["not a whole number"]
    _, report = validate_table(
        frame([{"activity_date": "1999-12-31", "rep_id": "R1", "customer_id": "C1", "activity_type": "visit"}]),
        "activities",
        config,
        "v.csv",
        TODAY,
    )
    assert normalise_report(report)["rule"].iloc[0].startswith("date outside 2000-01-01")


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


# --------------------------------------------------------------------------- reading rules


def rules_of(reading) -> list[tuple[list[int], str]]:
    return [(list(np.flatnonzero(mask)), rule) for mask, rule in reading.problems]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            ["2025-03-01", "2025/3/2", "2025年3月3日", "2025-03-04 10:30"],
            ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"],
        ),
        (["20250301", "20250302"], ["2025-03-01", "2025-03-02"]),
        (["13-03-2025", "01-10-2025"], ["2025-03-13", "2025-10-01"]),  # 13 settles: day-first
        (["03/13/2025", "01/10/2025"], ["2025-03-13", "2025-01-10"]),  # 13 settles: month-first
        (["05.05.2025", "07.07.2025"], ["2025-05-05", "2025-07-07"]),  # both readings agree
        (["２０２５-０３-０１"], ["2025-03-01"]),  # full-width digits
    ],
)
def test_read_dates_one_layout_per_column(values: list[str], expected: list[str]) -> None:
    reading = read_dates(pd.Series(values, dtype=ARROW_STR))
    assert not reading.problems
    assert list(reading.values.dt.strftime("%Y-%m-%d")) == expected


def test_read_dates_never_reads_one_column_two_ways() -> None:
    # The old reader took 13-03-2025 day-first and 01-10-2026 month-first in one column.
    reading = read_dates(pd.Series(["13-03-2025", "01-10-2026"], dtype=ARROW_STR))
    assert list(reading.values.dt.strftime("%Y-%m-%d")) == ["2025-03-13", "2026-10-01"]


def test_read_dates_refuses_an_ambiguous_column_at_its_first_example() -> None:
    series = pd.Series(["01-10-2026", "01-10-2026", "03-04-2026"], index=[2, 3, 4], dtype=ARROW_STR)
    reading = read_dates(series, setting="io.date_format.orders")
    [(cells, rule)] = rules_of(reading)
    assert cells == [0, 1]  # the cells holding the first example; 03-04-2026 is named in the rule
    assert "01-10-2026 (row 2: 1 Oct 2026 or 10 Jan 2026)" in rule and "03-04-2026 (row 4" in rule
    assert 'set io.date_format.orders: "%d-%m-%Y" or "%m-%d-%Y"' in rule


def test_read_dates_configured_format_and_serials() -> None:
    text = pd.Series(["01-10-2026", "45658", "2026-10-01"], dtype=ARROW_STR)
    reading = read_dates(text, date_format="%d-%m-%Y", text_serials=True, setting="io.date_format.x")
    assert list(reading.values.dt.strftime("%Y-%m-%d").fillna("")) == ["2026-10-01", "2025-01-01", ""]
    assert rules_of(reading) == [([2], "not a date in the format %d-%m-%Y (io.date_format.x)")]


def test_read_dates_typed_xlsx_cells() -> None:
    cells = pd.Series([pd.Timestamp("2025-01-02"), 45658, 45658.5, "2025-01-04", None, True], dtype=object)
    reading = read_dates(cells, excel_cells=True)
    assert list(reading.values.astype(str)) == [
        "2025-01-02 00:00:00",
        "2025-01-01 00:00:00",
        "2025-01-01 12:00:00",
        "2025-01-04 00:00:00",
        "NaT",
        "NaT",
    ]
    assert [rule for _, rule in rules_of(reading)] == [
        "not a date: unknown layout (read are e.g. 2025-03-31, 31-03-2025, 20250331; set io.date_format)"
    ]
    # Outside an XLSX sheet a number is no date.
    assert rules_of(read_dates(pd.Series([45658, None]))) == [([0], "not a date (a number)")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,234.50", 1234.5),
        ("(1,234)", -1234.0),
        ("-¥1,234.5", -1234.5),
        ("¥-5", -5.0),
        ("(¥5)", -5.0),
        ("￥１，２３４．５", 1234.5),
        ("CNY 100", 100.0),
        ("rmb100", 100.0),
        ("$7", 7.0),
        ("１２３", 123.0),
        ("1e5", 100000.0),
        (".5", 0.5),
    ],
)
def test_read_numbers_documented_forms(text: str, value: float) -> None:
    reading = read_numbers(pd.Series(["1", text], dtype=ARROW_STR), money=True)
    assert not reading.problems
    assert reading.values.tolist() == [1.0, value]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("inf", "not a finite number (inf / nan are refused)"),
        ("-Infinity", "not a finite number (inf / nan are refused)"),
        ("NaN", "not a finite number (inf / nan are refused)"),
        ("1e400", "not a finite number (inf / nan are refused)"),
        ("(-5)", "not a number"),
        ("(5", "not a number"),
        ("¥$5", "not a number"),
        ("1,23", "decimal comma is not read (export numbers with a decimal point)"),
        ("12 345", "not a number"),
        ("5元", "not a number"),
    ],
)
def test_read_numbers_refusals(text: str, rule: str) -> None:
    reading = read_numbers(pd.Series(["1", text], dtype=ARROW_STR), money=True)
    assert rules_of(reading) == [([1], rule)]
    assert reading.values.isna().tolist() == [False, True]


def test_read_numbers_currency_only_in_amounts_and_counted() -> None:
    quantity = read_numbers(pd.Series(["¥5", "6"], dtype=ARROW_STR))
    assert rules_of(quantity) == [([0], "currency marker in a column that is not an amount")]
    amount = read_numbers(pd.Series(["¥5", "6", "RMB 7", "$1"], dtype=ARROW_STR), money=True)
    assert amount.currencies == {"¥ (CNY)": (2, 0), "$": (1, 3)}


def test_read_numbers_limit_and_typed_infinity() -> None:
    reading = read_numbers(pd.Series([1.0, np.inf, 2e15]), limit=1e15)
    assert rules_of(reading) == [
        ([1], "not a finite number (inf / nan are refused)"),
        ([2], "implausibly large (beyond ±1e+15)"),
    ]


def test_orders_refuse_huge_quantity_and_non_finite_amount(config: dict) -> None:
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
            order | {"order_id": "SO-2", "quantity": "10000000000000"},
            order | {"order_id": "SO-3", "net_amount": "nan"},
        ]
    )
    _, report = validate_table(raw, "orders", config, "o.csv", TODAY)
    assert normalise_report(report)[["row", "column", "value", "rule"]].values.tolist() == [
        [3, "quantity", "10000000000000", "implausibly large (beyond ±1e+12)"],
        [4, "net_amount", "nan", "not a finite number (inf / nan are refused)"],
    ]


def test_long_contract_cell_is_refused(config: dict) -> None:
    raw = frame([products(), products(sku="P-2", product_line="x" * 1001)])
    _, report = validate_table(raw, "products", config, "p.csv", TODAY)
    assert report[["row", "column", "rule"]].values.tolist() == [
        [3, "product_line", "cell longer than 1000 characters"]
    ]


def test_check_text_names_the_character_offset() -> None:
    raw = frame([{"a": "ok", "b": "tab\tand\nnewline"}, {"a": "x\x1by", "b": "\x85"}])
    report = check_text(raw, "f.csv")
    assert report[["row", "column", "value", "rule"]].values.tolist() == [
        [3, "a", "x\\x1by", "control character U+001B at character 2"],
        [3, "b", "\\x85", "control character U+0085 at character 1"],
    ]


def test_check_currencies_keeps_the_most_used() -> None:
    seen = [
        CurrencySighting("a.csv", 2, "net_amount", "¥5", "¥ (CNY)", 10),
        CurrencySighting("b.csv", 7, "net_amount", "$5", "$", 3),
    ]
    assert check_currencies(seen).values.tolist() == [
        [
            "b.csv",
            7,
            "net_amount",
            "$5",
            "amounts in $ (3 cells) but in ¥ (CNY) elsewhere (e.g. a.csv row 2); one currency per data folder",
        ]
    ]
    assert check_currencies(seen[:1]).empty


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "object", "category"])
def test_reference_check_finds_unknown_ids_whatever_the_text_dtype(dtype: str) -> None:
    orders = pd.DataFrame({"order_id": pd.Series(["A1", "A2", "A3"], dtype=dtype)})
    receivables = pd.DataFrame({"order_id": pd.Series(["A2", None, "B9", "A1", "B9"], dtype=dtype)})
    report = check_references({"orders": orders, "receivables": receivables})
    assert report["value"].tolist() == ["B9", "B9"]
    assert report["rule"].eq("unknown order_id (not in orders)").all()


# --------------------------------------------------------------------------- optional tables


def rules(report: pd.DataFrame) -> list[list]:
    return normalise_report(report)[["row", "column", "value", "rule"]].values.tolist()


def test_spend_is_never_negative_and_a_credit_is_its_own_category(config: dict) -> None:
    rows = [
        {"month": "2025-10-01", "category": "marketing", "amount": "-345200"},
        {"month": "2025-10-01", "category": "marketing", "amount": "(1,000)"},
        {"month": "2025-10-01", "category": "marketing_credit", "amount": "1000"},
        {"month": "2025-10-01", "category": "channel", "amount": "0"},
    ]
    typed, report = validate_table(frame(rows), "spend", config, "spend.csv", TODAY)
    got = rules(report)
    assert [r[:3] for r in got] == [[2, "amount", "-345200"], [3, "amount", "-1000"]]
    assert all(r[3].startswith("negative spend") and "own category" in r[3] for r in got)
    assert typed["amount"].iloc[2:].tolist() == [1000.0, 0.0]


def test_nps_scores_are_whole_numbers_0_to_10(config: dict) -> None:
    scores = ["0", "10", "11", "-1", "7.5", "8"]
    rows = [{"survey_date": "2025-12-01", "customer_id": f"C{i}", "score": s} for i, s in enumerate(scores)]
    _, report = validate_table(frame(rows), "nps", config, "nps.csv", TODAY)
    assert [(r[0], r[3]) for r in rules(report)] == [
        (4, "outside 0 .. 10"),
        (5, "outside 0 .. 10"),
        (6, "not a whole number"),
    ]


@pytest.mark.parametrize(
    ("table", "row"),
    [
        ("activities", {"activity_date": "{}", "rep_id": "R1", "customer_id": "C1", "activity_type": "visit"}),
        ("spend", {"month": "{}", "category": "marketing", "amount": "10"}),
        ("nps", {"survey_date": "{}", "customer_id": "C1", "score": "9"}),
        ("receivables", {"order_id": "A1", "paid_date": "{}", "paid_amount": "10"}),
    ],
)
def test_optional_table_dates_in_the_plausible_window(table: str, row: dict, config: dict) -> None:
    low, high = date_window(config, TODAY)
    dates = ["1999-12-31", "2025-06-30", (high + pd.Timedelta(days=1)).strftime("%Y-%m-%d"), high.strftime("%Y-%m-%d")]
    rows = [{k: v.format(d) for k, v in row.items()} for d in dates]
    _, report = validate_table(frame(rows), table, config, f"{table}.csv", TODAY)
    got = rules(report)
    assert [r[0] for r in got] == [2, 4]
    assert all(r[3] == f"date outside {low:%Y-%m-%d} .. {high:%Y-%m-%d}" for r in got)


def test_exact_duplicate_rows_are_refused_with_their_lines() -> None:
    visit = {"activity_date": pd.Timestamp("2026-10-05"), "rep_id": "R1", "customer_id": "C1", "activity_type": "visit"}
    a = with_file(frame([visit, visit | {"activity_type": "call"}]), "activities_a.csv")
    b = with_file(frame([visit | {"customer_id": "C2"}, visit, visit]), "activities_b.csv")
    report = check_keys({"activities": pd.concat([a, b])})
    assert report[["file", "row", "column", "value"]].values.tolist() == [
        ["activities_b.csv", 3, "activity_date + rep_id + customer_id + activity_type", "2026-10-05 + R1 + C1 + visit"],
        ["activities_b.csv", 4, "activity_date + rep_id + customer_id + activity_type", "2026-10-05 + R1 + C1 + visit"],
    ]
    assert report["rule"].str.startswith("exact duplicate row, first at activities_a.csv row 2; ").all()


@pytest.mark.parametrize("table", ["spend", "nps", "receivables"])
def test_every_counted_optional_table_refuses_repeated_rows(table: str) -> None:
    row = {"x": "1", "y": 2.5}
    report = check_keys({table: with_file(frame([row, row | {"y": 3.0}, row]), f"{table}.csv")})
    assert report[["row", "value"]].values.tolist() == [[4, "1 + 2.5"]]
    assert report["rule"].item().startswith("exact duplicate row, first at")


def test_two_equal_instalments_are_told_apart_by_a_payment_id() -> None:
    instalment = {"order_id": "A1", "paid_date": pd.Timestamp("2026-10-05"), "paid_amount": 500.0}
    told_apart = frame([instalment | {"payment_id": "P1"}, instalment | {"payment_id": "P2"}])
    assert check_keys({"receivables": with_file(told_apart, "r.csv")}).empty
    same = check_keys({"receivables": with_file(frame([instalment, instalment]), "r.csv")})
    assert same["row"].tolist() == [3] and "payment_id" in same["rule"].item()


def test_problem_counts_group_repeats_whatever_their_first_line() -> None:
    row = {"order_id": "A1", "paid_date": pd.Timestamp("2026-10-05"), "paid_amount": 5.0}
    other = row | {"order_id": "A2"}
    report = check_keys({"receivables": with_file(frame([row, other, row, other]), "r.csv")})
    assert report["rule"].nunique() == 2
    assert str(DataValidationError(report)).startswith("2 data problems in 1 file: 2 x exact duplicate row; ")
    early = pd.DataFrame(
        [["r.csv", r, "paid_date", "", f"payment dated before its order (order_date 2026-10-0{r}, o.csv row {r})"]
         for r in (2, 3)],
        columns=REPORT_COLUMNS,
    )  # fmt: skip
    assert str(DataValidationError(early)) == "2 data problems in 1 file: 2 x payment dated before its order"


def payments_case(dtype: str) -> dict[str, pd.DataFrame]:
    text = {"order_id": dtype}
    orders = with_file(
        frame(
            [
                {"order_id": "S1", "order_date": "2026-10-10", "net_amount": 100.0},
                {"order_id": "S1", "order_date": "2026-10-03", "net_amount": 50.0},  # the order's first line
                {"order_id": "R1", "order_date": "2026-10-12", "net_amount": -80.0},  # a return
            ]
        ).astype(text | {"net_amount": "float64"}),
        "orders.csv",
    ).assign(order_date=lambda d: pd.to_datetime(d["order_date"]))
    pays = with_file(
        frame(
            [
                {"order_id": "S1", "paid_date": "2026-10-03", "paid_amount": 150.0},  # same day: fine
                {"order_id": "S1", "paid_date": "2026-10-02", "paid_amount": 10.0},  # before the order
                {"order_id": "S1", "paid_date": "2026-10-20", "paid_amount": -5.0},  # negative on a sale
                {"order_id": "R1", "paid_date": "2026-10-13", "paid_amount": -80.0},  # refund on the return
                {"order_id": "R1", "paid_date": "2026-10-14", "paid_amount": 80.0},  # cash "received" on a return
                {"order_id": "X9", "paid_date": "2020-01-01", "paid_amount": -1.0},  # unknown: its own rule
                {"order_id": None, "paid_date": "2020-01-01", "paid_amount": 1.0},
            ]
        ).astype(text | {"paid_amount": "float64"}),
        "receivables.csv",
    ).assign(paid_date=lambda d: pd.to_datetime(d["paid_date"]))
    return {"orders": orders, "receivables": pays}


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "object", "category"])
def test_a_payment_neither_precedes_its_order_nor_has_the_wrong_sign(dtype: str) -> None:
    from salesplan.schema import RULE_NEGATIVE_PAYMENT, RULE_PAYMENT_ON_RETURN, check_payments

    report = check_payments(payments_case(dtype))
    assert rules(report) == [
        [3, "paid_date", "2026-10-02", "payment dated before its order (order_date 2026-10-03, orders.csv row 3)"],
        [4, "paid_amount", "-5", RULE_NEGATIVE_PAYMENT],
        [6, "paid_amount", "80", RULE_PAYMENT_ON_RETURN],
    ]
    # The default reference check runs the payment rules beside the unknown ids.
    both = rules(check_references(payments_case(dtype)))
    assert [r[0] for r in both] == [3, 4, 6, 7] and both[-1][3] == "unknown order_id (not in orders)"
