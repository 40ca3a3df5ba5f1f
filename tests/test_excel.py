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
