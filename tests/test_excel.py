"""The Excel pack: formats by column kind, frozen headers, filters, text kept as text."""

from __future__ import annotations

import pandas as pd
from openpyxl import load_workbook

from salesplan.excel import (
    column_kind,
    column_kinds,
    number_formats,
    pack_money_unit,
    probability_format,
    with_names,
    with_status_labels,
    write_workbook,
)
from salesplan.status import status_label
from salesplan.units import EXCEL_COUNT_FORMAT, excel_money_format, excel_percent_format


def test_workbook_formats_freezes_filters_and_neutralises_formulas(tmp_path) -> None:
    flags = pd.DataFrame(
        {
            "item": ["华东 East", '=HYPERLINK("http://x","click")', "@SUM(A1)"],
            "actual": [1_234_567.4, 2.0, 3.0],
            "attainment": [0.954, 1.1, 0.0],
            "month": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
        }
    )
    summary = pd.DataFrame(
        {"figure": ["Annual target", "Attainment"], "value": [1_000.0, 0.5], "kind": ["money", "pct"]}
    )
    path = write_workbook(
        tmp_path / "pack.xlsx",
        {"Summary": (summary, {}), "Flags": (flags, {"actual": "money", "attainment": "pct", "month": "date"})},
    )
    book = load_workbook(path)
    assert book.sheetnames == ["Summary", "Flags"]
    sheet = book["Flags"]
    assert [c.value for c in sheet[1]] == ["item", "actual", "attainment", "month"]
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:D4"
    assert sheet["A2"].value == "华东 East"
    # Formula-like text from the data stays text: never a live formula.
    assert sheet["A3"].value.startswith("'=") and sheet["A3"].data_type == "s"
    assert sheet["A4"].value == "'@SUM(A1)"
    whole = excel_money_format("")
    assert sheet["B2"].value == 1_234_567.4 and sheet["B2"].number_format == whole
    assert sheet["C2"].number_format == excel_percent_format(1) and sheet["D2"].number_format == "yyyy-mm-dd"
    top = book["Summary"]
    assert [c.value for c in top[1]] == ["figure", "value"]  # the kind column sets formats, it is not shown
    assert top["B2"].number_format == whole and top["B3"].number_format == excel_percent_format(1)
    assert not list(tmp_path.glob(".*.tmp"))


def test_pack_names_each_months_plan_and_the_currency_of_commissions(tmp_path) -> None:
    """Summary, Plan in force and Commissions name the plan in the one provenance wording, per
    month; the Commissions sheet says its currency; a supplied table's own version column is not
    shown as the plan's version."""
    from types import SimpleNamespace

    from salesplan.config import load_settings
    from salesplan.excel import month_pack_sheets
    from salesplan.plans import resolve_plan
    from salesplan.targets.views import plan_words

    rows = [(2026, m, "North", "A", "R1", 100, "v1") for m in range(1, 13)]
    supplied = pd.DataFrame(
        rows, columns=["year", "month", "region", "product_line", "rep_id", "target_amount", "version"]
    )
    sources = pd.DataFrame({"table": ["targets"], "file": ["targets.csv"], "sha256": ["ef" * 32]})
    raw = tmp_path / "raw"
    raw.mkdir()
    plan = resolve_plan(2026, raw, supplied=supplied, supplied_files=sources)
    settings = load_settings(None, {"report": {"currency": "EUR"}})
    forecast = pd.DataFrame(
        {"unique_id": ["total"], "level": ["total"], "ds": [pd.Timestamp("2026-11-01")], "blended": [1.0]}
    ).assign(lo_80=0.5, hi_80=1.5)
    ctx = SimpleNamespace(
        month=pd.Period("2026-10", freq="M"),
        plan=plan,
        settings=settings,
        landing=lambda: pd.DataFrame({"unique_id": ["total"], "p_hit": [0.5]}),
        forecast=lambda: SimpleNamespace(forecast=forecast),
    )
    figures = dict.fromkeys(
        ["month_actual", "month_target", "month_attainment", "month_gap", "ytd_actual", "ytd_target"], 1.0
    ) | dict.fromkeys(["ytd_attainment", "ytd_gap", "annual_target", "landing", "landing_low", "landing_high"], 1.0)
    commissions = pd.DataFrame(
        {"rep_id": ["R1", "R1"], "month": pd.to_datetime(["2026-09-01", "2026-10-01"]), "total_payout": [1.0, 2.0]}
    )
    sheets = month_pack_sheets(
        ctx,
        figures=figures | {"landing_level": 80, "p_hit": 0.5},
        flags=pd.DataFrame({"item": ["x"]}),
        commissions=commissions,
        kpis=pd.DataFrame(),
    )
    words = plan_words(plan.month(10))
    assert words == "supplied targets (targets.csv)"
    summary = sheets["Summary"][0].set_index("figure")["value"]
    assert summary["Plan"] == words and summary["Currency"] == "EUR"
    assert f"2026-01 .. 2026-12: {words}" in summary["Plan by months"]
    plan_sheet = sheets["Plan in force"][0]
    assert set(plan_sheet["version"]) == {"supplied"} and set(plan_sheet["plan"]) == {words}
    assert list(plan_sheet.columns[:6]) == ["year", "month", "region", "product_line", "rep_id", "target_amount"]
    pay = sheets["Commissions"][0]
    assert list(pay["currency"]) == ["EUR", "EUR"] and list(pay["plan"]) == [words, words]
    assert sheets["Commissions"][1]["total_payout"] == "money"


def test_column_meaning_decides_the_kind() -> None:
    expected = {
        "attainment": "pct",
        "attainment_published": "pct",
        "team_adjustment_pct": "pct",
        "rate": "pct",
        "collection_rate": "pct",
        "deviation": "pct",
        "impact": "pct",
        "p_hit": "probability",
        "p_hit_model": "probability",
        "p_miss": "probability",
        "run_rate_needed": "money",
        "payout_published": "money",
        "total_payout": "money",
        "team_adjustment": "money",
        "quarter_excess_bonus": "money",
        "high_margin_actual": "money",
        "target_amount": "money",
        "lo_80": "money",
        "year": "year",
        "days": "count",
        "months_open": "count",
        "rep_id": None,
    }
    assert {name: column_kind(name) for name in expected} == expected
    frame = pd.DataFrame(
        {
            "rep_id": ["R1"],
            "score": [2.5],
            "visits": [3],
            "active": [True],
            "month": pd.to_datetime(["2026-01-01"]),
            "total_payout": [1.0],
        }
    )
    # Unknown numbers still get a format (whole: count; else a plain number); text and yes/no none.
    assert column_kinds(frame) == {"score": "number", "visits": "count", "month": "date", "total_payout": "money"}


def test_money_follows_the_unit_and_every_number_gets_a_format(tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "rep_id": ["R1", "R2"],
            "total_payout": [1_234_567.0, 2_000.5],
            "p_hit": [0.004, 0.5],
            "score": [1.25, 2.0],
            "visits": [3, 4],
            "year": [2026, 2026],
        }
    )
    for unit in ("K", "M"):
        book = load_workbook(write_workbook(tmp_path / f"{unit}.xlsx", {"Pay": (frame, {})}, money_unit=unit))
        sheet = book["Pay"]
        assert sheet["B2"].value == 1_234_567.0  # the exact amount, shown in the unit
        assert sheet["B2"].number_format == excel_money_format(unit) == number_formats(unit)["money"]
        assert sheet["C2"].value == 0.004 and sheet["C2"].number_format == probability_format()
        assert sheet["D2"].number_format != "General" and sheet["E2"].number_format == EXCEL_COUNT_FORMAT
        assert sheet["F2"].number_format == "0"
    assert excel_money_format("K") != excel_money_format("M")
    assert probability_format(0.01) == '[<0.01]"< 1 %";[>0.99]"> 99 %";' + excel_percent_format(0)


def test_pack_money_unit_reads_the_report_setting() -> None:
    from salesplan.config import load_settings

    assert pack_money_unit(load_settings()) == "M"  # the method's default
    assert pack_money_unit(load_settings(overrides={"report": {"money_unit": "K"}})) == "K"


def test_kpi_rows_take_their_own_unit_and_statuses_read_as_words(tmp_path) -> None:
    from salesplan.excel import kpi_kinds

    kpis = pd.DataFrame(
        {"kpi": ["Margin", "CAC", "LTV/CAC"], "unit": ["pct", "money", "x"], "goal": [0.35, 90_000.0, 3.0]}
    ).assign(status=["dark_red", "green", "no_target"])
    shown = with_status_labels(kpis)
    assert list(shown["status"]) == [status_label(s) for s in kpis["status"]]
    assert "dark red" in shown["status"].iloc[0] and "dark_red" not in set(shown["status"])
    book = load_workbook(write_workbook(tmp_path / "k.xlsx", {"KPIs": (shown, kpi_kinds(shown))}, money_unit="M"))
    goal = [c.number_format for (c,) in book["KPIs"].iter_rows(min_row=2, min_col=3, max_col=3)]
    assert goal == [excel_percent_format(1), excel_money_format("M"), number_formats()["multiple"]]


def test_names_go_beside_ids() -> None:
    reps = pd.DataFrame({"rep_id": ["R1", "R2"], "rep_name": ["李明", "王芳"]})
    lines = pd.DataFrame({"rep_id": ["R2", "R9", None], "total_payout": [1.0, 2.0, 3.0]})
    named = with_names(lines, reps)
    assert list(named.columns) == ["rep_id", "rep_name", "total_payout"]
    assert list(named["rep_name"]) == ["王芳", "", ""]
    # A table that names its reps already, or has no rep id, is kept as it is.
    assert with_names(named, reps) is named
    assert with_names(pd.DataFrame({"x": [1]}), reps).columns.tolist() == ["x"]
