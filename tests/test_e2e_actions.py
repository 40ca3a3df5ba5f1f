"""End to end: two consecutive months close the loop. September publishes its action register;
filled in (one action done, one overdue) and put into the data folder, it is reviewed by
October's retrospective and in October's Excel pack."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import nbformat
import openpyxl
import pandas as pd
import pytest

from salesplan import cli
from salesplan.sample import write_sample

pytestmark = pytest.mark.slow  # two months of the pack run end to end: make test-all

FIRST, SECOND = "2026-09", "2026-10"


def _run(data: Path, reports: Path, month: str) -> Path:
    assert cli.main(["run", "--data", str(data), "--reports", str(reports), "--month", month, "--only", "04"]) == 0
    return reports / month


def _fill(register: Path, target: Path) -> tuple[str, str]:
    """The meeting's work: the first action done, the second in progress with a due date in
    October (overdue by October's end). Returns their action ids."""
    book = openpyxl.load_workbook(register)
    sheet = book["Actions"]
    col = {cell.value: cell.column for cell in sheet[1]}
    sheet.cell(row=2, column=col["action_status"]).value = "done"
    sheet.cell(row=2, column=col["cause_5why"]).value = "大客户转向竞争对手"
    sheet.cell(row=2, column=col["next_step"]).value = "Key-account plan agreed"
    sheet.cell(row=3, column=col["action_status"]).value = "in_progress"
    sheet.cell(row=3, column=col["next_step"]).value = "Weekly pipeline review"
    sheet.cell(row=3, column=col["due_date"]).value = dt.datetime(2026, 10, 15)
    ids = (sheet.cell(row=2, column=col["action_id"]).value, sheet.cell(row=3, column=col["action_id"]).value)
    book.save(target)
    return ids


@pytest.fixture(scope="module")
def two_months(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("loop")
    data, reports = root / "data", root / "reports"
    write_sample(data, scale=0.02)
    first = _run(data, reports, FIRST)
    register = first / f"actions_{FIRST}.xlsx"
    done_id, overdue_id = _fill(register, data / register.name)
    second = _run(data, reports, SECOND)
    return {"data": data, "first": first, "second": second, "done": done_id, "overdue": overdue_id}


def _stream(path: Path) -> str:
    """The text a page shows: printed text and the plain-text form of its cards and prose."""
    nb = nbformat.read(path, as_version=4)
    return "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.get("output_type") in ("stream", "display_data", "execute_result")
    )


def test_first_month_starts_fresh_and_publishes_its_register(two_months: dict) -> None:
    first = two_months["first"]
    assert "No actions file in the data folder: the register of 2026-09 starts fresh." in _stream(
        first / "04_retrospective.ipynb"
    )
    register = pd.read_excel(first / f"actions_{FIRST}.xlsx", sheet_name="Actions")
    csv = pd.read_csv(first / f"actions_{FIRST}.csv", encoding="utf-8-sig")
    assert len(register) == len(csv) > 2
    assert (register["action_status"] == "open").all() and (register["carry"] == "new").all()
    assert set(register["flag_status"]) <= {"yellow", "red", "dark_red"}
    assert register["owner"].notna().all()


def test_second_month_reviews_the_filled_register(two_months: dict) -> None:
    second = two_months["second"]
    text = _stream(second / "04_retrospective.ipynb")
    assert f"Actions register of {FIRST}:" in text
    assert "overdue 1," in text and "done 1," in text
    page = (second / "04_retrospective.html").read_text(encoding="utf-8")
    assert "Actions carried over" in page and "Weekly pipeline review" in page and "大客户转向竞争对手" in page


def test_second_months_pack_and_register_carry_the_actions(two_months: dict) -> None:
    second = two_months["second"]
    sheets = pd.read_excel(second / f"pack_{SECOND}.xlsx", sheet_name=None)
    assert {"Actions", "Risks", "Warnings", "KPIs"} <= set(sheets)
    review = sheets["Actions"].set_index("action_id")
    assert review.loc[two_months["done"], "state"] == "done"
    assert review.loc[two_months["overdue"], "state"] == "overdue"
    assert review.loc[two_months["overdue"], "next_step"] == "Weekly pipeline review"
    risks = sheets["Risks"]
    assert set(risks["level"]) <= {"region", "product_line", "rep"} and "rep" in set(risks["level"])
    assert set(risks["risk"]) <= {"high", "medium", "low"}
    kpis = sheets["KPIs"].set_index("kpi")
    for name in ("Customer acquisition cost", "LTV/CAC", "NPS", "Channel conversion rate", "New-customer share"):
        assert kpis.loc[name, "status"] != "no_data", name  # the sample carries spend, NPS and the pipeline
    register = pd.read_excel(second / f"actions_{SECOND}.xlsx", sheet_name="Actions").set_index("action_id")
    assert register.loc[two_months["overdue"], "carry"] == "overdue"
    assert register.loc[two_months["overdue"], "opened_month"] == pd.Timestamp(f"{FIRST}-01")
    # The done action is not carried; if its item is still behind plan it gets a new action.
    if two_months["done"] in register.index:
        assert register.loc[two_months["done"], "carry"] == "new"
        assert register.loc[two_months["done"], "action_status"] == "open"


def test_a_bad_register_stops_the_run_with_its_location(two_months: dict, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(two_months["data"], data)
    register = data / f"actions_{FIRST}.xlsx"
    book = openpyxl.load_workbook(register)
    sheet = book["Actions"]
    col = {cell.value: cell.column for cell in sheet[1]}
    sheet.cell(row=4, column=col["action_status"]).value = "finished"
    book.save(register)
    assert cli.main(["validate", "--data", str(data)]) == 2
