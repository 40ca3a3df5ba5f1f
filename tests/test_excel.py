"""The Excel pack: formats by column kind, frozen headers, filters, text kept as text."""

from __future__ import annotations

import pandas as pd
from openpyxl import load_workbook

from salesplan.excel import write_workbook


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
    assert sheet["B2"].value == 1_234_567.4 and sheet["B2"].number_format == "#,##0"
    assert sheet["C2"].number_format == "0.0%" and sheet["D2"].number_format == "yyyy-mm-dd"
    top = book["Summary"]
    assert [c.value for c in top[1]] == ["figure", "value"]  # the kind column sets formats, it is not shown
    assert top["B2"].number_format == "#,##0" and top["B3"].number_format == "0.0%"
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
