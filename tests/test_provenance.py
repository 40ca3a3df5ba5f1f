"""Provenance in words people check: the plan-in-force sheet, run.json, the index, the targets
page and every commission statement name the same source and version for each month, and the
statements carry the currency on every amount."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from salesplan import run as runner
from salesplan.config import ConfigError, load_defaults, load_settings
from salesplan.excel import commission_rows, plan_in_force_rows, write_workbook
from salesplan.plans import plan_folder, resolve_plan
from salesplan.retro.pay import statement_text, write_statement_files
from salesplan.targets import approve_version, read_approvals, save_plan
from salesplan.targets.views import plan_words, version_standing

YEAR = 2027
SOURCES = pd.DataFrame({"table": ["targets"], "file": ["targets.csv"], "sha256": ["cd" * 32]})
RULES = load_defaults()["commission"]


def _plan(per_month: int, version: str | None = None) -> pd.DataFrame:
    rows = [(YEAR, m, "North", "A", "R1", per_month) for m in range(1, 13)]
    frame = pd.DataFrame(rows, columns=["year", "month", "region", "product_line", "rep_id", "target_amount"])
    return frame if version is None else frame.assign(version=version)


@pytest.fixture
def setup(tmp_path: Path):
    """Supplied targets for the whole year (the table's own version column says "v1"), a draft
    v1 never approved and v2 approved by the CFO from July: Jan-Jun supplied, Jul-Dec v2."""
    raw = tmp_path / "raw"
    raw.mkdir()
    folder = plan_folder(raw)
    save_plan(_plan(900), {"draft": 1}, YEAR, folder)
    v2 = save_plan(_plan(1200), {"revision": 1}, YEAR, folder)
    assert v2.version == "v2"
    approve_version(YEAR, "v2", folder, by="CFO", note="revision", from_month=f"{YEAR}-07")
    plan = resolve_plan(YEAR, raw, supplied=_plan(1000, version="v1"), supplied_files=SOURCES)
    day = read_approvals(folder)[0].approved_at[:10]
    expected = {m: "supplied targets (targets.csv)" for m in range(1, 7)}
    expected |= {m: f"approved version v2 on {day} by CFO" for m in range(7, 13)}
    return plan, expected, folder


def _line(month: int) -> dict:
    return {
        "rep_id": "R1", "rep_name": "王芳", "team": "North", "month": pd.Timestamp(f"{YEAR}-{month:02d}-01"),
        "actual": 1234.5, "target": 1000.0, "attainment": 1.2345, "tier": ">=120%", "rate": 0.02,
        "high_margin_actual": 100.0, "base_amount": 1254.5, "commission": 25.09, "quarter_excess_bonus": 0.0,
        "team_adjustment": 0.0, "total_payout": 25.09, "qtd_payout": 25.09, "ytd_payout": 180.0,
    }  # fmt: skip


def _amounts_without_currency(text: str, currency: str) -> list[str]:
    """Amounts (two decimals, not a percentage) not followed by the currency code."""
    return [
        m.group(0)
        for m in re.finditer(r"\d[\d,]*\.\d{2}(?!\d| ?%)", text)
        if not text[m.end() :].startswith(f" {currency}")
    ]


def test_sheet_run_json_index_and_statements_say_the_same_words_per_month(setup, tmp_path: Path) -> None:
    plan, expected, _folder = setup

    # The plan-in-force sheet: every row carries its month's words; supplied months read "supplied".
    path = write_workbook(tmp_path / "pack.xlsx", {"Plan in force": (plan_in_force_rows(plan), {})})
    sheet = load_workbook(path)["Plan in force"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(rows) == 12
    assert {r["month"].month: r["plan"] for r in rows} == expected
    assert {r["month"].month: r["version"] for r in rows} == {m: ("supplied" if m <= 6 else "v2") for m in expected}

    # run.json's plan record: every month, the report month and each segment, in the same words.
    record = json.loads(json.dumps(runner.plan_record(plan, f"{YEAR}-08"), default=str))
    assert {int(r["month"][5:]): r["plan"] for r in record["months"]} == expected
    assert record["month"]["words"] == expected[8]
    assert [s["words"] for s in record["segments"]] == [expected[1], expected[7]]

    # The index lists every segment of the year, not only the report month's.
    run_info = {"month": f"{YEAR}-03", "finished": "2027-04-02T08:00:00", "duration_s": 1.0, "git": None}
    run_info["plan"] = runner.plan_record(plan, f"{YEAR}-03")
    page = html.unescape(runner.write_month_index(tmp_path, run_info, [], []).read_text(encoding="utf-8"))
    assert f"Plan for {YEAR}-03: {expected[3]}" in page
    assert f"{YEAR}-01 .. {YEAR}-06: {expected[1]}" in page
    assert f"{YEAR}-07 .. {YEAR}-12: {expected[7]}" in page
    assert "v1" not in page  # neither the draft nor the supplied table's own version column

    # A statement names its month's plan, and the year's other plan when the year to date spans both.
    for month in (3, 8):
        text = statement_text(_line(month), RULES, "CNY", plan=plan)
        assert f"plan            = {expected[month]}" in text
        assert ("plan to date" in text) == (month > 6)
    assert f"{YEAR}-01 .. {YEAR}-06: {expected[1]}; {YEAR}-07 .. {YEAR}-08: {expected[7]}" in statement_text(
        _line(8), RULES, "CNY", plan=plan
    )

    # The Commissions sheet: each line's plan by its month, and the currency.
    statement = pd.DataFrame([_line(m) for m in range(1, 9)])
    sheet_rows = commission_rows(statement, plan, "CNY")
    assert dict(zip(sheet_rows["month"].dt.month, sheet_rows["plan"], strict=True)) == {
        m: expected[m] for m in range(1, 9)
    }
    assert set(sheet_rows["currency"]) == {"CNY"}


def test_every_statement_file_names_the_plan_and_the_currency_on_each_amount(setup, tmp_path: Path) -> None:
    plan, expected, _folder = setup
    lines = pd.DataFrame([_line(8), {**_line(8), "rep_id": "R2", "rep_name": "李明", "total_payout": 0.0}])
    files = write_statement_files(lines, RULES, tmp_path, f"{YEAR}-08", currency="CNY", plan=plan)
    assert len(files) == 2
    for file in files:
        text = html.unescape(re.sub(r"<[^>]+>", " ", file.read_text(encoding="utf-8")))
        assert expected[8] in text and expected[1] in text
        assert text.count(" CNY") >= 8
        assert _amounts_without_currency(text, "CNY") == []
    # Without a currency the amounts stand bare (the check above can fail).
    assert _amounts_without_currency(statement_text(_line(8), RULES), "CNY")


def test_targets_page_says_approved_and_in_force_not_draft(setup) -> None:
    plan, expected, folder = setup
    v2 = version_standing(plan, "v2")
    assert v2 == {"text": f"{expected[7]} (in force from {YEAR}-07)", "approved": True}
    v1 = version_standing(plan, "v1")
    assert v1 == {"text": "saved as draft v1, not in force until approved", "approved": False}

    # v1 approved for the year: in force until the July revision takes over.
    approve_version(YEAR, "v1", folder, by="CEO", note="budget")
    plan = resolve_plan(YEAR, folder.parent / "raw", supplied=_plan(1000, version="v1"), supplied_files=SOURCES)
    v1 = version_standing(plan, "v1")
    assert v1["approved"] and v1["text"].endswith(f"(in force from {YEAR}-01 to {YEAR}-06)")
    assert v1["text"].startswith(plan_words(plan.month(1)))
    assert "by CEO" in v1["text"]

    # A later approval from the same month replaces v2 everywhere: approved, but in force nowhere.
    v3 = save_plan(_plan(1300), {"revision": 2}, YEAR, folder)
    approve_version(YEAR, v3.version, folder, by="CFO", from_month=f"{YEAR}-07")
    plan = resolve_plan(YEAR, folder.parent / "raw", supplied=_plan(1000, version="v1"), supplied_files=SOURCES)
    v2 = version_standing(plan, "v2")
    assert v2["approved"] and "not in force" in v2["text"] and "draft" not in v2["text"]


def test_report_currency_is_a_validated_setting(tmp_path: Path) -> None:
    assert load_settings(None).report.currency == "CNY"  # the sample company's money
    assert load_settings(None, {"report": {"currency": "EUR"}}).report.currency == "EUR"
    for bad in ("yuan", "¥", "", "cny"):
        with pytest.raises(ConfigError, match=r"report\.currency"):
            load_settings(None, {"report": {"currency": bad}})
