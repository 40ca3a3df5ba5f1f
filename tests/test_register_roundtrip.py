"""The action register round trip keeps what people wrote: a register filled in the way Excel
users do (owner changed, a column added, a row deleted, a blank row, a formula, Chinese text) is
read back by the data contract and every one of those edits reaches the next months' registers,
the action review and the flags."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from salesplan import io
from salesplan.config import load_defaults
from salesplan.csvsafe import neutralise_formulas
from salesplan.retro import actions, export
from salesplan.schema import DataValidationError

DEFAULTS = load_defaults()
SETTINGS = DEFAULTS["retro"]["actions"]  # period ytd, statuses yellow/red/dark_red, escalate after 2 months
ESCALATION = DEFAULTS["retro"]["escalation"]
COMMENT = "备注 comment"
PRICE_STEP = "-5% 价格 price cut for 大客户"
ITEMS = [
    ("region", "East", "red", -0.12),
    ("region", "West", "yellow", -0.07),
    ("rep", "R1", "red", -0.14),
    ("product_line", "Pumps", "dark_red", -0.3),
]


def _flags(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """Year-to-date flags (level, key, status, deviation), each item owned by ``Owner <key>``."""
    return pd.DataFrame(
        {
            "period": "ytd",
            "level": [r[0] for r in rows],
            "key": [r[1] for r in rows],
            "item": [r[1] for r in rows],
            "owner": ["Owner " + r[1] for r in rows],
            "status": [r[2] for r in rows],
            "deviation": [r[3] for r in rows],
            "actual": [100.0 * (1 + r[3]) for r in rows],
            "target": 100.0,
            "gap": [r[3] * 100 for r in rows],
            "cause_5why": "",
            "next_step": "",
        }
    )


def _month(previous: pd.DataFrame | None, month: str, reports: Path) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """One month's review and register, published as the retrospective publishes them: the
    register file and the summary that records it. Returns review, register and the xlsx."""
    flags = _flags(ITEMS)
    issued = actions.published_register(reports, month)
    review = actions.review_actions(previous, flags, month, SETTINGS, ESCALATION, issued=issued)
    register = actions.next_register(review, flags, month, SETTINGS, ESCALATION)
    folder = reports / month
    summary = export.build_summary(month, {}, flags)
    summary["register"] = actions.register_record(register)
    export.write_summary(summary, folder)
    xlsx, _ = actions.write_register(register, folder, month)
    return review, register, xlsx


def _columns(sheet: openpyxl.worksheet.worksheet.Worksheet) -> dict[str, int]:
    return {cell.value: cell.column for cell in sheet[1] if cell.value is not None}


def _row_of(sheet: openpyxl.worksheet.worksheet.Worksheet, action_id: str) -> int:
    col = _columns(sheet)["action_id"]
    return next(r for r in range(2, sheet.max_row + 1) if sheet.cell(row=r, column=col).value == action_id)


def _save_formula_values(path: Path, values: dict[str, float]) -> None:
    """Store each formula's computed value beside it, as Excel does when it saves a file
    (openpyxl writes formulas without values)."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                for cell, value in values.items():
                    data = re.sub(
                        rb'(<c r="' + cell.encode() + rb'"[^>]*>)(<f>.*?</f>)(<v\s*/>|<v></v>)?',
                        lambda m, v=value: m.group(1) + m.group(2) + f"<v>{v:g}</v>".encode(),
                        data,
                    )
            out.writestr(item, data)
    tmp.replace(path)


def _fill_september(published: Path, target: Path, *, save_values: bool = True) -> str:
    """The September meeting in Excel: East's owner changed to 王经理, a comment column added,
    R1's row deleted, a blank row left between rows, West's due date typed as a formula, causes
    and next steps in Chinese. Returns the address of the formula cell."""
    shutil.copy(published, target)
    book = openpyxl.load_workbook(target)
    sheet = book["Actions"]
    col = _columns(sheet)
    comment_col = sheet.max_column + 1
    sheet.cell(row=1, column=comment_col).value = COMMENT
    for action_id in ("region:East", "region:West", "product_line:Pumps"):
        row = _row_of(sheet, action_id)
        sheet.cell(row=row, column=col["next_step"]).value = "每周复盘 weekly review"
        sheet.cell(row=row, column=col["action_status"]).value = "in_progress"
    sheet.cell(row=_row_of(sheet, "region:East"), column=col["owner"]).value = "王经理"
    # Text a spreadsheet would run as a formula: the register shows it quoted, and it stays as typed.
    sheet.cell(row=_row_of(sheet, "region:East"), column=col["next_step"]).value = PRICE_STEP
    sheet.cell(row=_row_of(sheet, "product_line:Pumps"), column=col["cause_5why"]).value = "大客户转向竞争对手"
    west = _row_of(sheet, "region:West")
    sheet.cell(row=west, column=comment_col).value = "客户预算推迟到11月"
    due = sheet.cell(row=west, column=col["due_date"])
    due.value = "=DATE(2026,10,20)"
    sheet.delete_rows(_row_of(sheet, "rep:R1"))
    sheet.insert_rows(3)  # a blank row between two actions
    address = sheet.cell(row=_row_of(sheet, "region:West"), column=col["due_date"]).coordinate
    book.save(target)
    if save_values:
        _save_formula_values(target, {address: (pd.Timestamp("2026-10-20") - pd.Timestamp("1899-12-30")).days})
    return address


@pytest.fixture
def september(tmp_path: Path) -> dict:
    """August opens every action, the team fills August in (a next step each) and September
    carries them: September's register as published."""
    reports, data = tmp_path / "reports", tmp_path / "data"
    data.mkdir()
    _, _, august = _month(None, "2026-08", reports)
    book = openpyxl.load_workbook(august)
    sheet = book["Actions"]
    for row in range(2, sheet.max_row + 1):
        sheet.cell(row=row, column=_columns(sheet)["next_step"]).value = "call the customer"
    book.save(data / august.name)
    review, register, xlsx = _month(io.read_table(data / august.name, "actions"), "2026-09", reports)
    return {"reports": reports, "data": data, "register": register, "xlsx": xlsx}


def test_a_register_edited_in_excel_keeps_every_edit_over_two_months(september: dict) -> None:
    reports, data = september["reports"], september["data"]
    assert set(september["register"]["action_id"]) == {f"{lv}:{key}" for lv, key, _, _ in ITEMS}
    filled = data / september["xlsx"].name
    _fill_september(september["xlsx"], filled)
    previous, source = actions.previous_register(io.read_table(filled, "actions"), "2026-10")
    assert "2026-09: 3 action(s)" in source  # the blank row is no action

    review, register, october = _month(previous, "2026-10", reports)
    seen = review.set_index("action_id")
    kept = register.set_index("action_id")
    # The owner the team typed stays, in the review and in the next register.
    assert seen.loc["region:East", "owner"] == kept.loc["region:East", "owner"] == "王经理"
    # The added column is carried with what was written, blank on the other rows.
    assert COMMENT in review.columns and COMMENT in register.columns
    assert kept.loc["region:West", COMMENT] == "客户预算推迟到11月"
    assert kept.loc["region:East", COMMENT] == ""
    # The formula's saved value is the due date: 20 October is overdue by October's end.
    assert seen.loc["region:West", "due_date"] == pd.Timestamp("2026-10-20")
    assert seen.loc["region:West", "state"] == "overdue" and kept.loc["region:West", "carry"] == "overdue"
    assert kept.loc["product_line:Pumps", "cause_5why"] == "大客户转向竞争对手"
    assert kept.loc["region:East", "next_step"] == PRICE_STEP
    # The deleted row is reported as removed, and its item (still flagged) comes back with its
    # history: opened in August, two months on the clock, not a new action of October.
    assert seen.loc["rep:R1", "state"] == "removed"
    assert "removed from the register of 2026-09" in seen.loc["rep:R1", "note"]
    assert kept.loc["rep:R1", "carry"] == "restored"
    assert kept.loc["rep:R1", "opened_month"] == pd.Timestamp("2026-08-01")
    assert kept.loc["rep:R1", "months_open"] == 2
    assert actions.state_counts(review)["removed"] == 1 and actions.state_counts(review)["new"] == 0

    # October's register, untouched by the team, round-trips once more into November.
    shutil.copy(october, data / october.name)
    november, _ = actions.previous_register(io.read_table(data / october.name, "actions"), "2026-11")
    review11, register11, _ = _month(november, "2026-11", reports)
    later = register11.set_index("action_id")
    assert later.loc["region:East", "owner"] == "王经理"
    assert later.loc["region:West", COMMENT] == "客户预算推迟到11月"
    assert later.loc["product_line:Pumps", "cause_5why"] == "大客户转向竞争对手"
    assert later.loc["region:West", "due_date"] == pd.Timestamp("2026-10-20")
    assert later.loc["region:East", "next_step"] == PRICE_STEP
    # R1's clock runs from August: three months open in November, escalated past the limit.
    assert later.loc["rep:R1", "opened_month"] == pd.Timestamp("2026-08-01")
    assert later.loc["rep:R1", "months_open"] == 3 and later.loc["rep:R1", "carry"] == "escalated"
    assert (review11["state"] != "removed").all()  # nothing deleted this time: nothing reported


def test_a_formula_without_a_saved_value_is_refused_with_its_cell(september: dict) -> None:
    filled = september["data"] / september["xlsx"].name
    address = _fill_september(september["xlsx"], filled, save_values=False)
    with pytest.raises(DataValidationError) as err:
        io.read_table(filled, "actions")
    report = err.value.report
    hit = report.loc[report["rule"] == io.RULE_FORMULA_NO_VALUE]
    assert hit["column"].tolist() == ["due_date"]
    assert hit["value"].iloc[0] == f"{address}: =DATE(2026,10,20)"
    assert int(hit["row"].iloc[0]) == int(address.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def test_flags_show_their_action_as_the_review_has_it(september: dict, tmp_path: Path) -> None:
    filled = september["data"] / september["xlsx"].name
    _fill_september(september["xlsx"], filled)
    previous, _ = actions.previous_register(io.read_table(filled, "actions"), "2026-10")
    flags = _flags([*ITEMS, ("region", "South", "green", 0.01)]).assign(
        period_label="2026 YTD", region="", product_line="", rep_id="", attainment=0.9, escalation=""
    )
    review = actions.review_actions(previous, flags, "2026-10", SETTINGS, ESCALATION)
    shown = actions.flags_with_actions(flags, review, SETTINGS)
    path = export.write_flags_csv(shown, tmp_path)
    written = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False).set_index("item")
    # flags.csv shows text a spreadsheet would run as a formula behind a quote, as every export does.
    by_item = neutralise_formulas(review).set_index("item")
    for item in ("East", "West", "Pumps"):
        for col in ("owner", "next_step", "cause_5why", "action_status"):
            assert written.loc[item, col] == by_item.loc[item, col], (item, col)
    assert written.loc["West", "due_date"] == "2026-10-20"
    # An item without an action keeps its own owner and blank meeting columns.
    assert written.loc["South", "owner"] == "Owner South" and written.loc["South", "action_status"] == ""
